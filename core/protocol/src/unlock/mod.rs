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
//! 1. door → phone: [`DoorChallenge`]: the door's [`DoorOffer`] (an ephemeral X25519 key signed
//!    with the door key ahead of time), a fresh nonce, its update seq, clock and activity head.
//! 2. phone → door: after checking the offer under the certified door key, [`UnlockRequest`]
//!    (its ephemeral key, the request body sealed under the agreed key, a proof tag keyed by its
//!    device key's agreement with the offer), then, only if the door lacks some of its updates,
//!    the sealed [`UpdateBatch`] as its own message. With a ticket from its last session at this
//!    door, a [`ResumeRequest`] instead (no public-key work at the door).
//! 3. door: decides as soon as the request is in; the lock actuates while the batch is still
//!    arriving. Then the door applies the batch (an authentic presenter's only).
//! 4. door → phone: [`ResultMessage`] sealing a [`DoorResult`]: decision, update report, a
//!    [`Receipt`] signed with the door key (for a holder the door admitted: bound to the phone's
//!    nonce, carrying up to 64 activity records after the request's `activity_after`) and the
//!    next ticket. The phone opens the seal and checks the receipt before reporting an outcome.
//!
//! The key schedule is in [`seal`]; what each session costs the door in
//! [`crate::door::handshake`].
//!
//! # Wire formats
//!
//! All messages are postcard (unsigned varint integers, varint-length-prefixed sequences,
//! fixed-size arrays raw, `Option` as a 0/1 byte, enums as a varint variant index) through
//! [`crate::codec`]: bounded and canonical. Each begins with its version byte (2; version 1 is
//! refused as `UnsupportedVersion`).
//!
//! **Frame** (one ATT write or notification, at most MTU − 3 bytes; see [`frame`]):
//!
//! ```text
//! [0] FIRST flag (0x80) | kind (1 challenge, 2 request, 3 result, 4 update batch, 5 time,
//!                              6 delivery request, 7 resume request)
//! [1] message id (sender's counter)
//! [2..5] u24 BE: total message length on the FIRST frame, byte offset on later frames
//! [5..] data, ≥ 1 byte
//! ```
//! A message's first frame declares its length; the receiver refuses anything above the bound
//! for that kind before buffering, and buffers only what actually arrives.
//!
//! **DoorChallenge** (the offer signed under `keyway/door-offer/v1\0`; the rest authenticated by
//! the transcript hash):
//!
//! ```text
//! version u8 | offer: (version u8 | door_id varint | ephemeral [32] | issued varint | signature [64])
//! | nonce [16] | update_seq varint | door_time varint | activity_head varint
//! ```
//!
//! **UnlockRequest** (kind 2, or 6 for a delivery):
//!
//! ```text
//! version u8 | ephemeral [32] | sealed: varint length + ChaCha20-Poly1305(
//!     phone_nonce [16] | activity_after varint | chain: varint length + KeyChain bytes
//!     | batch_digest: Option<[32]>) | proof [16]
//! ```
//!
//! **ResumeRequest** (kind 7):
//!
//! ```text
//! version u8 | ticket [16] | sealed: varint length + ChaCha20-Poly1305(
//!     phone_nonce [16] | activity_after varint | batch_digest: Option<[32]>)
//! ```
//!
//! **Time message** (optional, before the request): exactly the bytes of an authority-signed
//! [`crate::credential::TimeStatement`], sent only when its time is ahead of the challenge's
//! `door_time` (see [`crate::door::clock`]); at most one per session. It names no one.
//!
//! **Update batch message**: [`UpdateBatch::to_bytes`], sealed; the door checks its SHA-256
//! against the request's `batch_digest`, then the authority signature, the door id and the seqs.
//!
//! **ResultMessage**: `version u8 | 0 Sealed(varint length + sealed DoorResult) | 1 ResumeRefused`,
//! where `DoorResult = version | access (0 Granted | 1 Denied + reason) | UpdateReport |
//! Option<Receipt> | Option<ticket [16]>`.
//!
//! Measured (test `protocol_sizes`, key and person ids in the millions, a two-door key):
//!
//! | message | bytes | frames @ MTU 185 | frames @ MTU 247 |
//! |---|---|---|---|
//! | challenge | 127 | 1 | 1 |
//! | resident request (chain 133 B) | 220 | 2 | 1 |
//! | guest request (chain 256 B) | 343 | 2 | 2 |
//! | either, carrying a batch | +27 (digest) | + sealed batch frames | + sealed batch frames |
//! | repeat-unlock request | 52 | 1 | 1 |
//! | result with one activity record (sealed) | 149 | 1 | 1 |
//!
//! # Security properties (each has a test in `core/protocol/tests/`)
//! - A listener learns no key id, person id, door set, device key, guest id or activity record
//!   from any session (`unlock_v2.rs`): the phone's identity goes only to the holder of the
//!   offer the certified door key signed.
//! - A recorded request cannot be replayed: every key depends on the challenge's bytes (another
//!   session: `StaleChallenge`).
//! - Only the device key's holder makes the proof; a delivery's proof never opens a door (the
//!   kind is in the transcript).
//! - A receipt is bound to the phone's nonce and signed under its own label; no other signed
//!   kind verifies as one. The `access` field is cross-checked against the session's own record
//!   in the receipt; a grant without a receipt is refused.
//! - A batch swapped in transit (even a genuine one) is refused as `DigestMismatch`.
//! - A ticket is one-time, bound to one key and one door, and ends with a revocation.

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
