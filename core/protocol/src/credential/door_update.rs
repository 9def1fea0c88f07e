//! Door updates: what an offline door cannot work out by itself (revocations before expiry,
//! doorcode slots, keycards, its clock), signed by the authority and carried by phones.
//!
//! Each manager action becomes one [`DoorUpdate`] with the next sequence number in that door's
//! log, and its content never changes once assigned. The backend signs a fresh
//! [`UpdateBatch`] of the pending tail whenever a phone syncs: one signature covers many
//! updates, and a door applies exactly those after its own seq. Because the content of each seq
//! is fixed, two phones carrying overlapping batches can never disagree.

#[allow(unused_imports)]
use crate::prelude::*;

use super::chain::TrustAnchors;
use super::error::ChainError;
use super::ids::{AuthorityKeyId, CardId, DoorId, KeyId, PersonId};
use super::key_cert::Validity;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use crate::codec::BoundedVec;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoorOp {
    /// Refuse this key (and every guest key under it) until `until`, the key's own expiry,
    /// after which the entry may be pruned.
    RevokeKey {
        key: KeyId,
        until: UnixTime,
    },
    /// Refuse every key of this person (and their guests) until `until`.
    RevokePerson {
        person: PersonId,
        until: UnixTime,
    },
    AddDoorcode {
        slot: u32,
        person: PersonId,
        validity: Validity,
    },
    RemoveDoorcode {
        slot: u32,
    },
    AddKeycard {
        card: CardId,
        person: PersonId,
        validity: Validity,
    },
    RemoveKeycard {
        card: CardId,
    },
    /// Move the door's clock forward (never backwards).
    SetClock {
        now: UnixTime,
    },
    /// Drop revocation entries whose `until` lies before `before`.
    PruneRevocations {
        before: UnixTime,
    },
    /// Minutes east of UTC used to decide which calendar day a doorcode belongs to.
    SetUtcOffset {
        minutes: i16,
    },
}

/// Most operations in one update (one manager action, e.g. Revoke All Keys of one person).
pub const MAX_OPS_PER_UPDATE: usize = 256;
/// Most updates one signed batch carries.
pub const MAX_UPDATES_PER_BATCH: usize = 4096;

/// One manager action's effect on one door.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorUpdate {
    pub ops: BoundedVec<DoorOp, MAX_OPS_PER_UPDATE>,
}

impl DoorUpdate {
    pub fn new(ops: Vec<DoorOp>) -> Option<Self> {
        Some(DoorUpdate { ops: BoundedVec::new(ops)? })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBatchBody {
    pub version: u8,
    pub door_id: DoorId,
    /// Seq of `updates[0]`; `updates[i]` has seq `first_seq + i`. Seqs start at 1.
    pub first_seq: u64,
    pub issued_at: UnixTime,
    pub issuer: AuthorityKeyId,
    pub updates: BoundedVec<DoorUpdate, MAX_UPDATES_PER_BATCH>,
}

impl SignedBody for UpdateBatchBody {
    const LABEL: &'static [u8] = label::UPDATE_BATCH;
    const WHAT: &'static str = "door update batch";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 128 * 1024;
}

pub type UpdateBatch = Signed<UpdateBatchBody>;

impl UpdateBatchBody {
    /// `None` past [`MAX_UPDATES_PER_BATCH`] updates, or when the signed batch would exceed
    /// the [`SignedBody::MAX_LEN`] a door decodes (the backend then splits the tail across
    /// batches; [`Self::fits_updates`] tells how many of a tail fit).
    pub fn new(
        door_id: DoorId,
        first_seq: u64,
        issued_at: UnixTime,
        issuer: AuthorityKeyId,
        updates: Vec<DoorUpdate>,
    ) -> Option<Self> {
        let body = UpdateBatchBody {
            version: Self::VERSION,
            door_id,
            first_seq,
            issued_at,
            issuer,
            updates: BoundedVec::new(updates)?,
        };
        (body.signed_len() <= Self::MAX_LEN).then_some(body)
    }

    /// Length of the signed batch's encoding (body and signature).
    pub fn signed_len(&self) -> usize {
        crate::codec::encode(self).len() + 64
    }

    /// How many of `updates`, taken from the front, fit in one batch with this header.
    pub fn fits_updates(
        door_id: DoorId,
        first_seq: u64,
        issued_at: UnixTime,
        issuer: AuthorityKeyId,
        updates: &[DoorUpdate],
    ) -> usize {
        let header = UpdateBatchBody {
            version: Self::VERSION,
            door_id,
            first_seq,
            issued_at,
            issuer,
            updates: BoundedVec::empty(),
        };
        // The header as encoded with an empty list, less its one-byte length prefix.
        let mut len = header.signed_len() - 1;
        let mut count = 0;
        for update in updates.iter().take(MAX_UPDATES_PER_BATCH) {
            let with_this = len + crate::codec::encode(update).len();
            if with_this + varint_len(count as u64 + 1) > Self::MAX_LEN {
                break;
            }
            len = with_this;
            count += 1;
        }
        count
    }

    /// Seq of the last update carried; `first_seq - 1` for an empty batch. Saturates for a
    /// batch whose seqs would run past `u64::MAX` (such a batch fails [`UpdateBatch::verify_for`]).
    pub fn last_seq(&self) -> u64 {
        self.first_seq.saturating_add(self.updates.len() as u64).saturating_sub(1)
    }

    /// The updates with their seqs (saturating, see [`Self::last_seq`]).
    pub fn numbered(&self) -> impl Iterator<Item = (u64, &DoorUpdate)> {
        self.updates.iter().enumerate().map(move |(i, u)| (self.first_seq.saturating_add(i as u64), u))
    }
}

impl UpdateBatch {
    /// Checks the authority signature and that the batch is for `door`.
    pub fn verify_for(&self, anchors: &TrustAnchors, door: DoorId) -> Result<(), ChainError> {
        if self.body.version != UpdateBatchBody::VERSION {
            return Err(ChainError::UnsupportedVersion { what: UpdateBatchBody::WHAT, found: self.body.version });
        }
        let authority =
            anchors.get(self.body.issuer).ok_or(ChainError::UnknownIssuer { what: UpdateBatchBody::WHAT })?;
        self.verify_signature(&authority)?;
        if self.body.door_id != door {
            return Err(ChainError::Malformed {
                what: UpdateBatchBody::WHAT,
                detail: format!("batch is for {}, not {door}", self.body.door_id),
            });
        }
        if self.body.first_seq == 0 {
            return Err(ChainError::Malformed { what: UpdateBatchBody::WHAT, detail: "seqs start at 1".into() });
        }
        if self.body.first_seq.checked_add(self.body.updates.len() as u64).is_none() {
            return Err(ChainError::Malformed { what: UpdateBatchBody::WHAT, detail: "seqs run out of range".into() });
        }
        Ok(())
    }
}

/// Bytes postcard uses for `n` as a varint.
fn varint_len(n: u64) -> usize {
    (64 - n.max(1).leading_zeros() as usize).div_ceil(7)
}
