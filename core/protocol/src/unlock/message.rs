//! The three messages of an unlock: [`DoorChallenge`], [`UnlockRequest`], [`DoorResult`].
//! Each is postcard-encoded through [`crate::codec`] (canonical, bounded) and begins with a
//! version byte, so an unknown version is reported by name.

use crate::prelude::*;

use crate::UnixTime;
use crate::codec::{self, BoundedBytes, Bytes64, DecodeError};
use crate::credential::door_update::UpdateBatchBody;
use crate::credential::{
    DenialReason, DoorId, KeyChain, KeyPair, PublicKey, Receipt, ReceiptBody, Signed, SignedBody, keys, label,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Format version of the three unlock messages: the first byte of each; any other value is
/// refused as [`DecodeError::UnsupportedVersion`].
pub const PROTOCOL_VERSION: u8 = 1;

/// Longest key chain, in bytes, a request may carry: a root certificate and up to three guest
/// links ([`KeyChain::MAX_LEN`]).
pub const MAX_CHAIN_BYTES: usize = KeyChain::MAX_LEN;
/// Longest update batch message, in bytes, a phone may send after its request (128 KiB); the
/// door's reassembler refuses a longer one before buffering.
pub const MAX_BATCH_BYTES: usize = UpdateBatchBody::MAX_LEN;

// ---------------------------------------------------------------------------------------------
// Challenge

/// What the door states when a phone connects, signed with the door key under
/// [`label::CHALLENGE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeBody {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The door's id; the phone checks it against the door certificate it holds.
    pub door_id: DoorId,
    /// Fresh per session; the phone's proof must cover it.
    pub nonce: [u8; 16],
    /// The door's update seq: the phone carries updates only if it has some above it.
    pub update_seq: u64,
    /// The door's monotonic clock when it issued the challenge.
    pub door_time: UnixTime,
    /// The door's newest activity seq; this session's own record is the first app record after
    /// it, which the phone looks for in the receipt.
    pub activity_head: u64,
}

impl SignedBody for ChallengeBody {
    const LABEL: &'static [u8] = label::CHALLENGE;
    const WHAT: &'static str = "door challenge";
    const VERSION: u8 = PROTOCOL_VERSION;
    const MAX_LEN: usize = 1 + 5 + 16 + 10 + 10 + 10 + 64;
}

/// The first message of an unlock, door → phone: [`ChallengeBody`] signed with the door key
/// (at most 116 bytes).
pub type DoorChallenge = Signed<ChallengeBody>;

// ---------------------------------------------------------------------------------------------
// Request

/// The phone's request to the door.
///
/// The update batch does not travel inside the request: the request names the batch by its
/// SHA-256 (covered by the proof) and the batch follows as its own message (kind
/// [`super::frame::MessageKind::Batch`]). The door therefore decides, and the lock actuates, as
/// soon as the few frames of the request are in, however large the batch; and a batch that fails
/// to arrive, to match or to verify never turns a valid unlock into a denial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockRequest {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// Echo of the challenge nonce this request answers (a mismatch is
    /// [`DenialReason::StaleChallenge`]: a recorded request replayed into a new session).
    pub door_nonce: [u8; 16],
    /// Fresh per session; the receipt is bound to it.
    pub phone_nonce: [u8; 16],
    /// The highest activity seq the backend already holds for this door; the receipt carries
    /// the records after it.
    pub activity_after: u64,
    /// [`KeyChain::to_bytes`], carried as bytes so a chain in an unknown format is a clean
    /// denial rather than an unreadable request.
    pub chain: BoundedBytes<MAX_CHAIN_BYTES>,
    /// SHA-256 of the [`crate::credential::UpdateBatch`] bytes that follows this request, if one does.
    pub batch_digest: Option<[u8; 32]>,
    /// Device-key signature under [`label::UNLOCK_PROOF`] over [`proof_message`] (Ed25519,
    /// 64 bytes); the door checks it against the chain's holder key.
    pub proof: Bytes64,
}

impl UnlockRequest {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "unlock request";
    /// Largest encoded request, in bytes (1,356): every field at its widest, the chain at
    /// [`MAX_CHAIN_BYTES`]. The door's bound when reassembling a request.
    pub const MAX_LEN: usize = 1 + 16 + 16 + 10 + 3 + MAX_CHAIN_BYTES + 33 + 64;

    /// Builds and signs a request with the holder's device key; `batch` is the encoded batch
    /// that will follow. `None` if the chain exceeds its bound.
    pub fn sign(
        door_id: DoorId,
        door_nonce: [u8; 16],
        phone_nonce: [u8; 16],
        activity_after: u64,
        chain: &KeyChain,
        batch: Option<&[u8]>,
        device_key: &KeyPair,
    ) -> Option<Self> {
        let chain = BoundedBytes::new(chain.to_bytes())?;
        let mut request = UnlockRequest {
            version: PROTOCOL_VERSION,
            door_nonce,
            phone_nonce,
            activity_after,
            chain,
            batch_digest: batch.map(batch_digest),
            proof: Bytes64([0; 64]),
        };
        request.proof = device_key.sign(label::UNLOCK_PROOF, &request.proof_message(door_id));
        Some(request)
    }

    /// [`UnlockRequest::sign`] for a delivery session: the proof is made under
    /// [`label::DELIVERY_PROOF`], so it never opens a door and no unlock proof passes for it.
    pub fn sign_delivery(
        door_id: DoorId,
        door_nonce: [u8; 16],
        phone_nonce: [u8; 16],
        activity_after: u64,
        chain: &KeyChain,
        batch: Option<&[u8]>,
        device_key: &KeyPair,
    ) -> Option<Self> {
        let mut request = Self::sign(door_id, door_nonce, phone_nonce, activity_after, chain, batch, device_key)?;
        request.proof = device_key.sign(label::DELIVERY_PROOF, &request.proof_message(door_id));
        Some(request)
    }

    /// Strict check of a delivery session's proof against the chain's holder key.
    pub fn verify_delivery_proof(&self, door_id: DoorId, holder: &PublicKey) -> bool {
        keys::verify(holder, label::DELIVERY_PROOF, &self.proof_message(door_id), &self.proof)
    }

    /// The bytes the proof signs for a request presented at `door_id`.
    pub fn proof_message(&self, door_id: DoorId) -> Vec<u8> {
        proof_message(
            door_id,
            &self.door_nonce,
            &self.phone_nonce,
            &chain_digest(&self.chain),
            &self.batch_digest.unwrap_or([0; 32]),
            self.activity_after,
        )
    }

    /// Strict check of the proof against the chain's holder key.
    pub fn verify_proof(&self, door_id: DoorId, holder: &PublicKey) -> bool {
        keys::verify(holder, label::UNLOCK_PROOF, &self.proof_message(door_id), &self.proof)
    }

    /// The carried chain, with its own version check.
    pub fn key_chain(&self) -> Result<KeyChain, DecodeError> {
        KeyChain::from_bytes(&self.chain)
    }

    /// The canonical postcard encoding sent as a [`super::frame::MessageKind::Request`] message.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded ([`Self::MAX_LEN`]), canonical decoding; an unknown version is reported as such.
    /// The chain inside is not decoded (see [`Self::key_chain`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)
    }
}

/// The bytes an unlock proof signs: `door id (u32 BE) ‖ door nonce ‖ phone nonce ‖ chain digest
/// ‖ batch digest ‖ activity_after (u64 BE)`: 108 bytes, fixed layout.
pub fn proof_message(
    door_id: DoorId,
    door_nonce: &[u8; 16],
    phone_nonce: &[u8; 16],
    chain_digest: &[u8; 32],
    batch_digest: &[u8; 32],
    activity_after: u64,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(108);
    m.extend_from_slice(&door_id.0.to_be_bytes());
    m.extend_from_slice(door_nonce);
    m.extend_from_slice(phone_nonce);
    m.extend_from_slice(chain_digest);
    m.extend_from_slice(batch_digest);
    m.extend_from_slice(&activity_after.to_be_bytes());
    m
}

/// [`KeyChain::digest`] of chain bytes: SHA-256 over [`label::CHAIN_DIGEST`] ‖ bytes. Bytes that
/// decode are canonical, so this equals the decoded chain's digest.
pub fn chain_digest(chain_bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label::CHAIN_DIGEST);
    h.update(chain_bytes);
    h.finalize().into()
}

/// SHA-256 over the carried batch bytes (the proof uses 32 zero bytes when none is carried).
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

/// The door's answer: decision, update report, and the signed receipt.
///
/// Only the receipt is signed: `access` and `updates` are the door's word to the phone over the
/// link, the receipt is what the backend trusts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorResult {
    /// Format version, [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The door's decision (unsigned; the phone cross-checks it against the receipt's record).
    pub access: Access,
    /// What happened to the carried batch (unsigned; checked against the receipt's
    /// `applied_seq`).
    pub updates: UpdateReport,
    /// Signed with the door key and bound to the request's phone nonce; the phone uploads it to
    /// the backend.
    pub receipt: Receipt,
}

impl DoorResult {
    /// Name of this message in decoding errors.
    pub const WHAT: &'static str = "door result";
    /// Largest encoded result, in bytes (10,291): version, access, the report's fixed part, the
    /// rejected updates, the receipt. The phone's bound when reassembling a result.
    pub const MAX_LEN: usize = 1 + 2 + 48 + MAX_REJECTED_PER_SESSION * 32 + ReceiptBody::MAX_LEN;

    /// The canonical postcard encoding sent as a [`super::frame::MessageKind::Result`] message.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded ([`Self::MAX_LEN`]), canonical decoding; an unknown version of the result or of
    /// the receipt inside is reported as [`DecodeError::UnsupportedVersion`]. The receipt's
    /// signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let result: DoorResult = codec::decode_versioned(Self::WHAT, bytes, Self::MAX_LEN, PROTOCOL_VERSION)?;
        if result.receipt.body.version != ReceiptBody::VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: ReceiptBody::WHAT,
                found: result.receipt.body.version,
                supported: ReceiptBody::VERSION,
            });
        }
        Ok(result)
    }
}
