//! Layer 2: the unlock protocol as two sans-IO state machines.
//!
//! [`PhoneSession`] and the door's [`DoorSession`] take frames and the current time from their caller and
//! hand back frames to send and events (the door's access decision, the phone's
//! [`UnlockOutcome`]); there are no sockets, sleeps, threads or clocks inside. The same code
//! runs over BLE GATT, the simulated link in tests and benchmarks, and a socket to the lock
//! simulator (`keyway-link`).
//!
//! # The exchange
//!
//! One round trip after the phone subscribes:
//!
//! 1. door → phone: [`DoorChallenge`], signed with the door key.
//! 2. phone → door: [`UnlockRequest`] (key chain, proof, the digest of the batch that follows),
//!    then, only if the door lacks some of its updates, the [`UpdateBatch`] as its own message.
//! 3. door: decides from chain and proof as soon as the request is in; the lock actuates while
//!    the batch is still arriving. Then the door applies the batch. A denied unlock still applies
//!    valid updates: they are authenticated by the authority's signature, not by the phone.
//! 4. door → phone: [`DoorResult`]: decision, update report, and a [`Receipt`] signed with the
//!    door key, bound to the phone's nonce, carrying up to 64 activity records after the
//!    request's `activity_after`. The phone checks the receipt before reporting an outcome.
//!
//! # Wire formats
//!
//! All messages are postcard (unsigned varint integers, varint-length-prefixed sequences,
//! fixed-size arrays raw, `Option` as a 0/1 byte, enums as a varint variant index) through
//! [`crate::codec`]: bounded and canonical. Each begins with its version byte (1).
//!
//! **Frame** (one ATT write or notification, at most MTU − 3 bytes; see [`frame`]):
//!
//! ```text
//! [0] FIRST flag (0x80) | kind (1 challenge, 2 request, 3 result, 4 update batch, 5 time)
//! [1] message id (sender's counter)
//! [2..5] u24 BE: total message length on the FIRST frame, byte offset on later frames
//! [5..] data, ≥ 1 byte
//! ```
//! A message's first frame declares its length; the receiver refuses anything above the bound
//! for that kind (request 1,356 B, batch 128 KiB, result 10,291 B, challenge 116 B; 160 KiB
//! for any message) before buffering, and buffers only what actually arrives.
//!
//! **DoorChallenge** = `Signed<ChallengeBody>`, signature under `keyway/door-challenge/v1\0`:
//!
//! ```text
//! version u8 | door_id varint | nonce [16] | update_seq varint | door_time varint
//! | activity_head varint | signature [64]                           measured: 89 bytes
//! ```
//!
//! **UnlockRequest**:
//!
//! ```text
//! version u8 | door_nonce [16] (echo) | phone_nonce [16] | activity_after varint
//! | chain: varint length + KeyChain bytes | batch_digest: Option<[32]> | proof [64]
//! ```
//! The proof is the device key's signature under `keyway/unlock-proof/v1\0` over the fixed
//! 108-byte string
//! `door_id u32 BE ‖ door nonce ‖ phone nonce ‖ SHA-256(keyway/chain-digest/v1\0 ‖ chain bytes)
//! ‖ SHA-256(batch message) (32 zero bytes when none) ‖ activity_after u64 BE`.
//!
//! Measured (test `protocol_sizes`, key and person ids in the millions, a two-door key):
//!
//! | request | bytes | frames @ MTU 185 | frames @ MTU 247 |
//! |---|---|---|---|
//! | resident (chain 128 B) | 229 | 2 | 1 |
//! | guest (chain 251 B) | 352 | 2 | 2 |
//! | either, carrying a batch | +32 (digest) | + batch frames | + batch frames |
//!
//! **Time message** (optional, before the request): exactly the bytes of an authority-signed
//! [`crate::credential::TimeStatement`], sent only when its time is ahead of the challenge's
//! `door_time` (see [`crate::door::clock`]); at most one per session.
//!
//! **Update batch message**: exactly [`UpdateBatch::to_bytes`]; the door checks its SHA-256
//! against the request's `batch_digest`, then the authority signature, the door id and the seqs.
//! One `RevokeKey` update costs 11 bytes: 1 revocation 92 B, 100 revocations 1,181 B,
//! 1,000 revocations 11,082 B (49 frames at MTU 247, 65 at 185; the door has long decided
//! before they arrive).
//!
//! **DoorResult**:
//!
//! ```text
//! version u8 | access: 0 Granted | 1 Denied + DenialReason
//! | UpdateReport: seq_before varint, seq_after varint, batch_rejected Option<UpdateRejection>,
//!   rejected_updates (≤64 × {seq, reason})
//! | Receipt = Signed<ReceiptBody> (credential layer)        measured: 111 bytes with 1 record
//! ```
//!
//! # Security properties (each has a test in `core/protocol/tests/protocol_*.rs`)
//! - A recorded request cannot be replayed: it echoes and signs the door's fresh nonce (another
//!   session: `StaleChallenge`; another door, even one that happens to issue the same nonce:
//!   `BadProof`, since the door id is signed).
//! - A receipt is bound to the phone's nonce and signed under its own label; no other signed
//!   kind (challenge, certificate, batch, proof) verifies as one.
//! - A batch swapped in transit (even a genuine one) is refused as `DigestMismatch`.
//! - The receipt is the signed record. The `access` field is cross-checked against the session's
//!   own activity record in the receipt (the first app record after the challenge's signed
//!   activity head); a contradiction is an error, and [`UnlockOutcome::decision_in_receipt`]
//!   says whether the check could be made (it cannot when over 64 older records were pending).
//!   The `updates` report is checked against the receipt's `applied_seq`.

pub mod error;
pub mod frame;
pub mod message;
pub(crate) mod outbox;
pub mod phone;
pub mod seal;

pub use error::{ErrorCategory, ProtocolError};
pub use frame::{FrameError, MAX_MESSAGE_LEN, MessageKind, Reassembler};
pub use message::{
    Access, DoorChallenge, DoorOffer, DoorResult, OfferBody, RejectedUpdate, RequestBody, ResultMessage, ResumeBody,
    ResumeRequest, UnlockRequest, UpdateRejection, UpdateReport,
};
pub use phone::{PhoneSession, ResumeTicket, UnlockOutcome, UnlockParams};

#[cfg(doc)]
use crate::credential::{Receipt, UpdateBatch};
#[cfg(doc)]
use crate::door::DoorSession;
