//! Everything a door remembers, as one serde value so a lock (or the lock simulator) can persist
//! it and restart without forgetting its update seq, revocations or activity.

#[allow(unused_imports)]
use crate::prelude::*;

use super::activity::ActivityLog;
use super::keypad::AttemptLimiter;
use super::limits::DoorLimits;
use super::revocations::RevocationSet;
use crate::UnixTime;
use crate::codec::{self, DecodeError};
use crate::credential::{CardId, DoorId, PersonId, TrustAnchors, Validity};
use alloc::collections::BTreeMap;
use core::fmt;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const DOOR_STATE_VERSION: u8 = 1;
/// Upper bound on persisted state (full revocation set, tables and activity log fit well below).
pub const MAX_STATE_LEN: usize = 4 * 1024 * 1024;

/// 32 secret bytes (door signing key seed, doorcode secret); zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Secret32(pub(crate) [u8; 32]);

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(…)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorcodeSlot {
    pub person: PersonId,
    pub validity: Validity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keycard {
    pub card: CardId,
    pub person: PersonId,
    pub validity: Validity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorState {
    pub version: u8,
    pub door_id: DoorId,
    pub anchors: TrustAnchors,
    pub(crate) door_key: Secret32,
    pub(crate) doorcode_secret: Secret32,
    pub utc_offset_minutes: i16,
    /// Seq of the last door update consumed.
    pub update_seq: u64,
    /// Monotonic: the largest of every time passed in and every `SetClock`.
    pub clock: UnixTime,
    pub revocations: RevocationSet,
    pub doorcodes: BTreeMap<u32, DoorcodeSlot>,
    /// Sorted by card id, unique.
    pub keycards: Vec<Keycard>,
    pub activity: ActivityLog,
    pub keypad: AttemptLimiter,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DoorStateError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("door state is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl DoorState {
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DoorStateError> {
        let state: DoorState = codec::decode_versioned("door state", bytes, MAX_STATE_LEN, DOOR_STATE_VERSION)?;
        state.check(&DoorLimits::UNBOUNDED)?;
        Ok(state)
    }

    /// The invariants the engine relies on (checked again when state comes from storage).
    pub fn check(&self, limits: &DoorLimits) -> Result<(), DoorStateError> {
        if self.version != DOOR_STATE_VERSION {
            return Err(DoorStateError::Inconsistent("unknown version"));
        }
        if !self.activity.is_consistent(limits.activity) {
            return Err(DoorStateError::Inconsistent("activity log"));
        }
        if !self.keypad.is_consistent() {
            return Err(DoorStateError::Inconsistent("keypad limiter"));
        }
        if self.keycards.windows(2).any(|w| w[0].card >= w[1].card) || self.keycards.len() > limits.keycards {
            return Err(DoorStateError::Inconsistent("keycards"));
        }
        if self.doorcodes.len() > limits.doorcode_slots {
            return Err(DoorStateError::Inconsistent("doorcode slots"));
        }
        if self.revocations.len() > limits.revocations {
            return Err(DoorStateError::Inconsistent("revocations"));
        }
        Ok(())
    }
}
