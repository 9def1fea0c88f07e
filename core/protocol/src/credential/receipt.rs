//! What a door states about itself, signed with its door key: receipts and activity records.
//! The phone carries a receipt to the backend, which checks it against the door certificate,
//! marks door-update tasks delivered up to `applied_seq` and merges the activity.

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
    /// A signature in the chain (or the update batch) does not verify; also a guest key that
    /// names another parent ([`ChainError::ParentMismatch`]).
    BadSignature,
    /// Signed by an authority key this door does not trust.
    UnknownIssuer,
    /// The key does not name this door (or an update batch is for another door).
    WrongDoor,
    /// The key, doorcode or keycard is not valid yet by the door's clock.
    NotYetValid,
    /// The key, doorcode or keycard has expired by the door's clock.
    Expired,
    /// The presented key or its root key is revoked.
    RevokedKey,
    /// The person holding the key, doorcode or keycard is revoked.
    RevokedPerson,
    /// A guest key was shared from a key without the may-share flag.
    SharingNotAllowed,
    /// A guest key's doors or window reach beyond its parent's.
    GuestScopeWider,
    /// A guest key was shared again.
    ReSharingByGuest,
    /// The unlock proof did not verify (wrong device, wrong door, wrong nonce, wrong chain);
    /// for a secure keycard, its answer to the door's challenge was missing or wrong.
    BadProof,
    /// The request answered a challenge this door did not issue in this session; for a secure
    /// keycard, an answer to another challenge than the pending one, or after its time ran out.
    StaleChallenge,
    /// The chain, code or card could not be read or broke a structural rule (a typed code that
    /// is not 10 digits, a card id outside 4..=16 bytes); also every other refused update.
    Malformed,
    /// A chain, certificate or update batch of a format version this door does not read.
    UnsupportedVersion,
    /// A weak or small-order public key in the chain.
    WeakKey,
    /// Too many wrong keypad or keycard entries within the last minute; the attempt was not
    /// checked.
    RateLimited,
    /// Unknown keycard or doorcode.
    UnknownCredential,
    /// A door update could not be applied: the door's revocation, doorcode or keycard table
    /// is full.
    StoreFull,
    /// A door update's operation was unusable (a keycard id under 4 bytes, an empty validity
    /// window, a UTC offset beyond ±14 h).
    InvalidOperation,
    /// A door update would have moved the door's clock backwards.
    ClockBackwards,
    /// A batch started above the door's seq + 1: updates are missing in between.
    SeqGap,
    /// The key's certificate is no longer fresh: the holder's phone has not synced within the
    /// property's revalidation window (a guest's key lapses with its host's).
    NotRevalidated,
    /// The key was certified for a device that was removed (a lost phone), or is a guest key
    /// that device signed.
    RevokedDevice,
}

impl From<&ChainError> for DenialReason {
    fn from(e: &ChainError) -> Self {
        use super::error::RevokedWhat;
        match e {
            ChainError::BadSignature { .. } => DenialReason::BadSignature,
            ChainError::UnknownIssuer { .. } => DenialReason::UnknownIssuer,
            ChainError::WrongDoor { .. } => DenialReason::WrongDoor,
            ChainError::NotYetValid { .. } => DenialReason::NotYetValid,
            ChainError::Expired { .. } | ChainError::DoorCertificateExpired { .. } => DenialReason::Expired,
            ChainError::NotRevalidated { .. } => DenialReason::NotRevalidated,
            ChainError::Revoked(RevokedWhat::Key(_)) => DenialReason::RevokedKey,
            ChainError::Revoked(RevokedWhat::Person(_)) => DenialReason::RevokedPerson,
            ChainError::Revoked(RevokedWhat::Device(_)) => DenialReason::RevokedDevice,
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

/// What happened at a door, as recorded in its activity log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityEvent {
    /// The door opened for a phone.
    AppUnlock {
        /// The key presented (the guest key for a guest).
        key: KeyId,
        /// The person of the root key.
        person: PersonId,
        /// True if a guest key was presented.
        guest: bool,
    },
    /// The door refused a phone.
    AppDenied {
        /// The key presented; `None` if the chain could not be read or the challenge was stale.
        key: Option<KeyId>,
        /// The person of the root key; `None` in the same cases as `key`.
        person: Option<PersonId>,
        /// Why the door refused.
        reason: DenialReason,
    },
    /// The door opened for a doorcode typed on the keypad.
    DoorcodeEntry {
        /// The slot whose code matched.
        slot: u32,
        /// The person the slot belongs to.
        person: PersonId,
    },
    /// The door refused a typed code.
    DoorcodeDenied {
        /// Why the door refused.
        reason: DenialReason,
    },
    /// The door opened for a keycard by its UID alone: a card enrolled as UID-only (every
    /// keycard entry logged before cards had a kind was one). Weaker: a copy of the UID opens
    /// too. A secure card's entry is [`ActivityEvent::SecureKeycardEntry`].
    KeycardEntry {
        /// The card's keyed tag at this door (never its UID).
        card: CardId,
        /// The person the card belongs to.
        person: PersonId,
    },
    /// The door refused a keycard.
    KeycardDenied {
        /// The keyed tag of the card as read (empty when it could not be read): never its UID.
        card: CardId,
        /// Why the door refused.
        reason: DenialReason,
    },
    /// The door refused a door update (its seq is used up) or a whole batch.
    UpdateRejected {
        /// The refused update's seq; for a whole batch its `first_seq`, or 0 if the batch was
        /// refused before it could be read.
        seq: u64,
        /// Why the door refused.
        reason: DenialReason,
    },
    /// Signed time moved the door's clock by [`crate::door::CLOCK_RECORD_SECS`] or more.
    ClockSet {
        /// The door's time before.
        before: UnixTime,
        /// The door's time after (the signed time).
        after: UnixTime,
    },
    /// The door opened for a secure keycard, which answered the door's fresh challenge under
    /// its own key (see [`super::card`]).
    SecureKeycardEntry {
        /// The card's keyed tag at this door (never its UID).
        card: CardId,
        /// The person the card belongs to.
        person: PersonId,
    },
    /// The same refusal of a credential the door could not attribute to anyone, repeated:
    /// folded into one record (its `time` is the last attempt's), so a flood of strangers
    /// takes one slot, not the log.
    DeniedRepeatedly {
        /// Where the attempts were made.
        channel: EntryChannel,
        /// Why the door refused them.
        reason: DenialReason,
        /// How many attempts this record stands for (at least 2).
        count: u32,
        /// The door's clock at the first of them.
        first: UnixTime,
    },
    /// The door dropped `count` records before any receipt carried them (its ring was full,
    /// or refusals exceeded their share of it): the gap in the seqs before this record is
    /// accounted for, in the door's signed word.
    RecordsDropped {
        /// Records dropped since the previous receipt.
        count: u64,
    },
}

impl ActivityEvent {
    /// The channel and reason of a refusal that names no one (what folds into
    /// [`ActivityEvent::DeniedRepeatedly`]); `None` for anything else.
    pub fn unattributed_denial(&self) -> Option<(EntryChannel, DenialReason)> {
        match self {
            ActivityEvent::AppDenied { key: None, person: None, reason } => Some((EntryChannel::App, *reason)),
            ActivityEvent::DoorcodeDenied { reason } => Some((EntryChannel::Doorcode, *reason)),
            ActivityEvent::KeycardDenied { reason, .. } => Some((EntryChannel::Keycard, *reason)),
            ActivityEvent::DeniedRepeatedly { channel, reason, .. } => Some((*channel, *reason)),
            _ => None,
        }
    }

    /// True for a refusal of an entry (app, keypad, card), attributed or not: records that
    /// may hold at most a quarter of the door's ring.
    pub fn is_denial(&self) -> bool {
        matches!(
            self,
            ActivityEvent::AppDenied { .. }
                | ActivityEvent::DoorcodeDenied { .. }
                | ActivityEvent::KeycardDenied { .. }
                | ActivityEvent::DeniedRepeatedly { .. }
        )
    }
}

/// Where an entry was attempted: the phone link, the keypad or the card reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryChannel {
    /// A phone over BLE.
    App,
    /// A code typed on the keypad.
    Doorcode,
    /// A keycard at the reader.
    Keycard,
}

/// One entry of a door's activity log. `seq` is the door's own activity sequence (from 1,
/// no gaps), so the backend can tell when records are missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// The door's activity seq of this record (from 1, no gaps).
    pub seq: u64,
    /// The door's clock when the event happened.
    pub time: UnixTime,
    /// What happened.
    pub event: ActivityEvent,
}

/// Most activity records one receipt carries; the oldest go first and newer ones follow in
/// later unlocks.
pub const MAX_ACTIVITY_PER_RECEIPT: usize = 64;

/// What the door signs in a [`Receipt`] at the end of an unlock session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// Body format version ([`SignedBody::VERSION`], currently 1).
    pub version: u8,
    /// The door that signed this receipt.
    pub door_id: DoorId,
    /// Binds the receipt to one session: the phone's nonce from its request.
    pub phone_nonce: [u8; 16],
    /// The door's clock when it signed this receipt.
    pub door_time: UnixTime,
    /// The door's update seq after this session.
    pub applied_seq: u64,
    /// The door's newest activity seq (records above the last one carried are still on the door).
    pub activity_head: u64,
    /// Activity records after the phone's `activity_after`, oldest first, at most
    /// [`MAX_ACTIVITY_PER_RECEIPT`].
    pub activity: BoundedVec<ActivityRecord, MAX_ACTIVITY_PER_RECEIPT>,
}

impl SignedBody for ReceiptBody {
    const LABEL: &'static [u8] = label::RECEIPT;
    const WHAT: &'static str = "door receipt";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 8 * 1024;
}

/// A door-signed receipt: verify it against the door key from the door's certificate.
pub type Receipt = Signed<ReceiptBody>;
