//! The messages of an unlock: [`DoorChallenge`], [`UnlockRequest`] or [`ResumeRequest`],
//! [`ResultMessage`] (sealing a [`DoorResult`]).
//! Each is postcard-encoded through [`crate::codec`] (canonical, bounded) and begins with a
//! version byte, so an unknown version is reported by name.

use crate::prelude::*;

use super::seal::{PROOF_LEN, TAG_LEN};
use crate::UnixTime;
use crate::codec::{self, BoundedBytes, DecodeError};
use crate::credential::door_update::UpdateBatchBody;
use crate::credential::{DenialReason, DoorId, KeyChain, Receipt, ReceiptBody, Signed, SignedBody, label};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Format version of the unlock messages: the first byte of each; any other value is refused
/// as [`DecodeError::UnsupportedVersion`]. Version 1 (identities and activity in clear, a
/// signature per challenge) is refused by this build.
pub const PROTOCOL_VERSION: u8 = 2;

/// Longest key chain, in bytes, a request may carry: a root certificate and up to three guest
/// links ([`KeyChain::MAX_LEN`]).
pub const MAX_CHAIN_BYTES: usize = KeyChain::MAX_LEN;
/// Longest update batch, in bytes, a phone may send after its request (128 KiB, plus the
/// seal's tag on the wire); the door's reassembler refuses a longer one before buffering.
pub const MAX_BATCH_BYTES: usize = UpdateBatchBody::MAX_LEN + TAG_LEN;

// ---------------------------------------------------------------------------------------------
// Challenge

/// The door's key-agreement offer: a fresh X25519 key, signed with the door key under
/// [`label::DOOR_OFFER`]. Signed ahead of time (when the door is idle) and used by every
/// session until a holder the door admitted used it, or it is [`OFFER_LIFETIME_SECS`] old: a
/// phone's session costs the door no signature before the lock opens, and a stranger's none
/// at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferBody {
    /// Format version, 1.
    pub version: u8,
    /// The door's id.
    pub door_id: DoorId,
    /// The door's ephemeral X25519 public key.
    pub ephemeral: [u8; 32],
    /// The door's clock when it signed the offer.
    pub issued: UnixTime,
}

impl SignedBody for OfferBody {
    const LABEL: &'static [u8] = label::DOOR_OFFER;
    const WHAT: &'static str = "door offer";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 1 + 5 + 32 + 10 + 64;
}

/// [`OfferBody`] signed with the door key.
pub type DoorOffer = Signed<OfferBody>;

/// Longest an offer is used, in seconds of the door's clock, before the door signs another.
pub const OFFER_LIFETIME_SECS: u64 = 600;

/// The first message of a session, door → phone. Only the offer inside is signed: the rest is
/// authenticated by the key schedule (the transcript hash covers these exact bytes, so a phone
/// and a door that saw different challenges derive different keys and nothing opens).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorChallenge {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The signed offer (door id and ephemeral key).
    pub offer: DoorOffer,
    /// Fresh per session (from the door's counter, clock and randomness): every key of the
    /// session depends on it, so a recorded request answers no later challenge.
    pub nonce: [u8; 16],
    /// The door's update seq: the phone carries updates only if it has some above it.
    pub update_seq: u64,
    /// The door's monotonic clock when it issued the challenge.
    pub door_time: UnixTime,
    /// The door's newest activity seq.
    pub activity_head: u64,
}

impl DoorChallenge {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "door challenge";
    /// Largest encoded challenge (159 bytes).
    pub const MAX_LEN: usize = 1 + OfferBody::MAX_LEN + 16 + 10 + 10 + 10;

    /// The door id, as the signed offer states it.
    pub fn door_id(&self) -> DoorId {
        self.offer.body.door_id
    }

    /// The canonical encoding sent as a [`super::frame::MessageKind::Challenge`] message.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded, canonical decoding; an unknown version of the challenge or its offer is
    /// reported as such. The offer's signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let c: DoorChallenge = codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)?;
        if c.offer.body.version != OfferBody::VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: OfferBody::WHAT,
                found: c.offer.body.version,
                supported: OfferBody::VERSION,
            });
        }
        Ok(c)
    }
}

// ---------------------------------------------------------------------------------------------
// Request

/// What a full request says, sealed: only the door that made the offer reads it.
///
/// The update batch does not travel inside the request: the request names the batch by its
/// SHA-256 and the batch follows as its own (sealed) message (kind
/// [`super::frame::MessageKind::Batch`]). The door therefore decides, and the lock actuates, as
/// soon as the request is in, however large the batch; and a batch that fails to arrive, to
/// match or to verify never turns a valid unlock into a denial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestBody {
    /// Fresh per session; the receipt is bound to it.
    pub phone_nonce: [u8; 16],
    /// The highest activity seq the backend already holds for this door; the receipt carries
    /// the records after it.
    pub activity_after: u64,
    /// [`KeyChain::to_bytes`], carried as bytes so a chain in an unknown format is a clean
    /// denial rather than an unreadable request.
    pub chain: BoundedBytes<MAX_CHAIN_BYTES>,
    /// SHA-256 of the [`crate::credential::UpdateBatch`] bytes that follow, if they do.
    pub batch_digest: Option<[u8; 32]>,
}

impl RequestBody {
    /// Name of this body in decoding errors.
    pub const WHAT: &'static str = "unlock request body";
    /// Largest encoded body.
    pub const MAX_LEN: usize = 16 + 10 + 3 + MAX_CHAIN_BYTES + 33;

    /// The carried chain, with its own version check.
    pub fn key_chain(&self) -> Result<KeyChain, DecodeError> {
        KeyChain::from_bytes(&self.chain)
    }
}

/// Longest sealed request body.
pub const MAX_SEALED_REQUEST: usize = RequestBody::MAX_LEN + TAG_LEN;

/// A full request, phone → door (kind `Request`, or `Deliver` for a delivery session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockRequest {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The phone's ephemeral X25519 key for this session.
    pub ephemeral: [u8; 32],
    /// [`RequestBody`], sealed under the key of the ephemeral agreement (see [`super::seal`]).
    pub sealed: BoundedBytes<MAX_SEALED_REQUEST>,
    /// HMAC under the key of both agreements (ephemeral, and device key with the door's
    /// ephemeral) over `sealed`: only the device key's holder makes it.
    pub proof: [u8; PROOF_LEN],
}

impl UnlockRequest {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "unlock request";
    /// Largest encoded request, in bytes: the door's bound when reassembling one.
    pub const MAX_LEN: usize = 1 + 32 + 3 + MAX_SEALED_REQUEST + PROOF_LEN;

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded ([`Self::MAX_LEN`]), canonical decoding; an unknown version is reported as such.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)
    }
}

/// What a resumed request says, sealed under the ticket's secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeBody {
    /// Fresh per session; the receipt is bound to it.
    pub phone_nonce: [u8; 16],
    /// As in [`RequestBody`].
    pub activity_after: u64,
    /// As in [`RequestBody`].
    pub batch_digest: Option<[u8; 32]>,
}

impl ResumeBody {
    /// Name of this body in decoding errors.
    pub const WHAT: &'static str = "resume request body";
    /// Largest encoded body.
    pub const MAX_LEN: usize = 16 + 10 + 33;
}

/// A repeat unlock, phone → door (kind `Resume`): a one-time ticket the door handed out at the
/// end of an earlier session with this key, and the request sealed under its secret. The door
/// opens it with no public-key operation; an unknown ticket is answered with
/// [`ResultMessage::ResumeRefused`] and the phone sends a full request in the same session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRequest {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The ticket (random to anyone but the door: a listener cannot link two sessions by it).
    pub ticket: [u8; 16],
    /// [`ResumeBody`], sealed.
    pub sealed: BoundedBytes<{ ResumeBody::MAX_LEN + TAG_LEN }>,
}

impl ResumeRequest {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "resume request";
    /// Largest encoded resume request.
    pub const MAX_LEN: usize = 1 + 16 + 1 + ResumeBody::MAX_LEN + TAG_LEN;

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded, canonical decoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)
    }
}

/// SHA-256 over the carried batch bytes.
pub fn batch_digest(batch_bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(batch_bytes).into()
}

// ---------------------------------------------------------------------------------------------
// Result

/// The door's access decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// The chain and proof were accepted; the lock actuates.
    Granted,
    /// The door refused, for the reason it also logs in its activity.
    Denied(DenialReason),
}

impl Access {
    /// True for [`Access::Granted`].
    pub fn is_granted(self) -> bool {
        matches!(self, Access::Granted)
    }

    /// The reason of a denial; `None` when access was granted.
    pub fn denial(self) -> Option<DenialReason> {
        match self {
            Access::Granted => None,
            Access::Denied(r) => Some(r),
        }
    }
}

/// Why a door refused a batch or one update in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateRejection {
    /// The batch bytes do not decode (bounded, canonical), or its seqs do not start at 1.
    Malformed,
    /// The batch that arrived is not the one the request's proof names.
    DigestMismatch,
    /// The batch's format version is not one this door reads.
    UnsupportedVersion,
    /// Signed by an authority key this door does not trust.
    UnknownIssuer,
    /// The authority signature does not verify (or the authority key is weak).
    BadSignature,
    /// The batch names another door.
    WrongDoor {
        /// The door the batch is signed for.
        batch_door: DoorId,
    },
    /// The batch starts above the door's seq + 1: updates are missing in between.
    Gap {
        /// The door's update seq.
        door_seq: u64,
        /// The seq of the batch's first update.
        first_seq: u64,
    },
    /// A `SetClock` would move the door's clock backwards.
    ClockBackwards {
        /// The door's clock when the update was checked.
        door_time: UnixTime,
        /// The time the `SetClock` asked for.
        requested: UnixTime,
    },
    /// An operation's content is unusable (keycard id under 4 bytes, a validity window that
    /// does not start before it ends, UTC offset beyond ±14 h).
    InvalidOperation,
    /// The door's revocation, doorcode or keycard table is full.
    StoreFull,
}

impl UpdateRejection {
    /// The compact reason recorded in the door's activity log.
    pub fn denial_reason(&self) -> DenialReason {
        match self {
            UpdateRejection::UnknownIssuer => DenialReason::UnknownIssuer,
            UpdateRejection::BadSignature => DenialReason::BadSignature,
            UpdateRejection::WrongDoor { .. } => DenialReason::WrongDoor,
            UpdateRejection::UnsupportedVersion => DenialReason::UnsupportedVersion,
            UpdateRejection::Gap { .. } => DenialReason::SeqGap,
            UpdateRejection::ClockBackwards { .. } => DenialReason::ClockBackwards,
            UpdateRejection::InvalidOperation => DenialReason::InvalidOperation,
            UpdateRejection::StoreFull => DenialReason::StoreFull,
            UpdateRejection::Malformed | UpdateRejection::DigestMismatch => DenialReason::Malformed,
        }
    }
}

/// One update the door refused. Its seq is consumed (the content of a seq never changes, so
/// retrying could never succeed) and later updates still apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedUpdate {
    /// The refused update's seq.
    pub seq: u64,
    /// Why the door refused it.
    pub reason: UpdateRejection,
}

/// Most rejected updates one session processes; the rest of the batch waits for a later session.
pub const MAX_REJECTED_PER_SESSION: usize = 64;

/// What happened to the carried updates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// The door's update seq before this session; updates `seq_before+1 ..= seq_after` were
    /// consumed (applied, except those listed in `rejected_updates`).
    pub seq_before: u64,
    /// The door's update seq after this session; must equal the receipt's `applied_seq`.
    pub seq_after: u64,
    /// Set when the batch as a whole was refused (nothing consumed).
    pub batch_rejected: Option<UpdateRejection>,
    /// The consumed updates that failed their own checks, in seq order (at most
    /// [`MAX_REJECTED_PER_SESSION`]).
    pub rejected_updates: codec::BoundedVec<RejectedUpdate, MAX_REJECTED_PER_SESSION>,
}

impl UpdateReport {
    /// Seqs applied successfully in this session.
    pub fn applied_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        (self.seq_before + 1..=self.seq_after).filter(|s| !self.rejected_updates.iter().any(|r| r.seq == *s))
    }
}

/// The door's answer, sealed inside [`ResultMessage`]: decision, update report, the signed
/// receipt for a holder the door admitted, and the next ticket.
///
/// The receipt is what the backend trusts. `access` and `updates` are the door's word to the
/// phone, authenticated by the seal (only the door that made the offer derives its key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorResult {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The door's decision.
    pub access: Access,
    /// What happened to the carried batch (checked against the receipt's `applied_seq`).
    pub updates: UpdateReport,
    /// Signed with the door key and bound to the request's phone nonce, for a holder the door
    /// admitted (its device key proven, its key valid here): the phone uploads it. A refused
    /// presenter gets none: it costs the door no signature and tells it nothing of the log.
    pub receipt: Option<Receipt>,
    /// A one-time ticket for this key's next session at this door (see [`ResumeRequest`]);
    /// its secret the phone derives itself.
    pub ticket: Option<[u8; 16]>,
}

impl DoorResult {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "door result";
    /// Largest encoded result: version, access, the report's fixed part, the rejected updates,
    /// the receipt, the ticket.
    pub const MAX_LEN: usize = 1 + 2 + 48 + MAX_REJECTED_PER_SESSION * 32 + 1 + ReceiptBody::MAX_LEN + 17;

    /// The canonical encoding (sealed before it is sent).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded ([`Self::MAX_LEN`]), canonical decoding; an unknown version of the result or of
    /// the receipt inside is reported as [`DecodeError::UnsupportedVersion`]. The receipt's
    /// signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let result: DoorResult = codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)?;
        if let Some(receipt) = &result.receipt
            && receipt.body.version != ReceiptBody::VERSION
        {
            return Err(DecodeError::UnsupportedVersion {
                what: ReceiptBody::WHAT,
                found: receipt.body.version,
                supported: ReceiptBody::VERSION,
            });
        }
        Ok(result)
    }
}

/// The result message on the wire (kind `Result`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultMessage {
    /// [`DoorResult`], sealed under the session's result key.
    Sealed(BoundedBytes<{ DoorResult::MAX_LEN + TAG_LEN }>),
    /// The door does not hold the ticket of a [`ResumeRequest`] (it restarted, or evicted it):
    /// send a full request in this same session. Unauthenticated; it can only cost a full
    /// request.
    ResumeRefused,
}

impl ResultMessage {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "door result message";
    /// Largest encoded result message.
    pub const MAX_LEN: usize = 1 + 1 + 3 + DoorResult::MAX_LEN + TAG_LEN;

    /// The canonical encoding: the version byte, then the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(&(PROTOCOL_VERSION, self))
    }

    /// Bounded, canonical decoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (version, message): (u8, ResultMessage) =
            codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)?;
        debug_assert_eq!(version, PROTOCOL_VERSION);
        Ok(message)
    }
}
