//! What a door states about itself, signed with its door key: receipts and activity records.
//! The phone carries a receipt to the backend, which checks it against the door certificate,
//! marks door-update tasks delivered up to `applied_seq` and merges the activity.

#[allow(unused_imports)]
use crate::prelude::*;

use super::error::ChainError;
use super::ids::{CardId, DoorId, KeyId, PersonId};
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use crate::codec::BoundedVec;
use serde::{Deserialize, Serialize};

/// Why a door refused. Stable, compact, and shared by the door's log, the receipt, the
/// backend's activity history and the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DenialReason {
    BadSignature,
    UnknownIssuer,
    WrongDoor,
    NotYetValid,
    Expired,
    RevokedKey,
    RevokedPerson,
    SharingNotAllowed,
    GuestScopeWider,
    ReSharingByGuest,
    /// The unlock proof did not verify (wrong device, wrong door, wrong nonce, wrong chain).
    BadProof,
    /// The request answered a challenge this door did not issue in this session.
    StaleChallenge,
    Malformed,
    UnsupportedVersion,
    WeakKey,
    /// Too many failed attempts recently (keypad or app).
    RateLimited,
    /// Unknown keycard or doorcode.
    UnknownCredential,
}

impl From<&ChainError> for DenialReason {
    fn from(e: &ChainError) -> Self {
        use super::error::RevokedWhat;
        match e {
            ChainError::BadSignature { .. } => DenialReason::BadSignature,
            ChainError::UnknownIssuer { .. } => DenialReason::UnknownIssuer,
            ChainError::WrongDoor { .. } => DenialReason::WrongDoor,
            ChainError::NotYetValid { .. } => DenialReason::NotYetValid,
            ChainError::Expired { .. } => DenialReason::Expired,
            ChainError::Revoked(RevokedWhat::Key(_)) => DenialReason::RevokedKey,
            ChainError::Revoked(RevokedWhat::Person(_)) => DenialReason::RevokedPerson,
            ChainError::SharingNotAllowed { .. } => DenialReason::SharingNotAllowed,
            ChainError::GuestScopeWider { .. } => DenialReason::GuestScopeWider,
            ChainError::ReSharingByGuest => DenialReason::ReSharingByGuest,
            ChainError::ParentMismatch { .. } => DenialReason::BadSignature,
            ChainError::UnsupportedVersion { .. } => DenialReason::UnsupportedVersion,
            ChainError::Malformed { .. } => DenialReason::Malformed,
            ChainError::WeakKey { .. } => DenialReason::WeakKey,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityEvent {
    AppUnlock { key: KeyId, person: PersonId, guest: bool },
    AppDenied { key: Option<KeyId>, person: Option<PersonId>, reason: DenialReason },
    DoorcodeEntry { slot: u32, person: PersonId },
    DoorcodeDenied { reason: DenialReason },
    KeycardEntry { card: CardId, person: PersonId },
    KeycardDenied { card: CardId, reason: DenialReason },
    UpdateRejected { seq: u64, reason: DenialReason },
}

/// One entry of a door's activity log. `seq` is the door's own activity sequence (from 1,
/// no gaps), so the backend can tell when records are missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub seq: u64,
    pub time: UnixTime,
    pub event: ActivityEvent,
}

/// Most activity records one receipt carries; older ones follow in later unlocks.
pub const MAX_ACTIVITY_PER_RECEIPT: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    pub version: u8,
    pub door_id: DoorId,
    /// Binds the receipt to one session: the phone's nonce from its request.
    pub phone_nonce: [u8; 16],
    pub door_time: UnixTime,
    /// The door's update seq after this session.
    pub applied_seq: u64,
    /// The door's newest activity seq (records above the last one carried are still on the door).
    pub activity_head: u64,
    pub activity: BoundedVec<ActivityRecord, MAX_ACTIVITY_PER_RECEIPT>,
}

impl SignedBody for ReceiptBody {
    const LABEL: &'static [u8] = label::RECEIPT;
    const WHAT: &'static str = "door receipt";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 8 * 1024;
}

pub type Receipt = Signed<ReceiptBody>;
