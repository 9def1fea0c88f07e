//! Layer 2: the unlock protocol as two sans-IO state machines.
//!
//! [`PhoneSession`] and [`DoorSession`] take frames and the current time from their caller and
//! hand back frames to send and events (the door's access decision, the phone's
//! [`UnlockOutcome`]); there are no sockets, sleeps, threads or clocks inside. The same code
//! runs over BLE GATT, the simulated link in tests and benchmarks, and a socket to the lock
//! simulator ([`crate::transport`]).
//!
//! # The exchange
//!
//! One round trip after the phone subscribes:
//!
//! 1. door → phone: [`DoorChallenge`], signed with the door key.
//! 2. phone → door: [`UnlockRequest`]: key chain, proof, optional update batch.
//! 3. door: decides from chain and proof, the lock actuates, then the door applies the updates
//!    (a denied unlock still applies valid updates: they are authenticated by the authority,
//!    not by the phone).
//! 4. door → phone: [`DoorResult`]: decision, update report, and a [`Receipt`](crate::credential::Receipt) signed with the
//!    door key, bound to the phone's nonce, carrying up to 64 activity records after the
//!    request's `activity_after`.
//!
//! # Wire formats
//!
//! All messages are postcard (varint integers, length-prefixed sequences, fixed-size arrays
//! raw) through [`crate::codec`]: bounded and canonical; each starts with a version byte (1).
//!
//! **Frame** (one ATT write or notification, at most MTU − 3 bytes): see [`frame`]; a 5-byte
//! header `[FIRST|kind][msg id][u24 total length (first frame) or offset (later frames)]`
//! followed by at least one data byte. Messages above 160 KiB are refused at the first frame.
//!
//! **DoorChallenge** = `Signed<ChallengeBody>` (label `keyway/door-challenge/v1\0`):
//! `version u8, door_id varint, nonce [16], update_seq varint, door_time varint,
//! activity_head varint, signature [64]` — about 95 bytes, one frame at MTU ≥ 103.
//!
//! **UnlockRequest**: `version u8, door_nonce [16], phone_nonce [16], activity_after varint,
//! chain bytes (varint length + KeyChain), batch bytes (varint length + UpdateBatch, 0 for
//! none), proof [64]`. The proof is the device key's signature under
//! `keyway/unlock-proof/v1\0` over the fixed 108-byte string
//! `door_id u32 BE ‖ door nonce ‖ phone nonce ‖ SHA-256(chain-digest label ‖ chain bytes) ‖
//! SHA-256(batch bytes) (32 zero bytes when none) ‖ activity_after u64 BE`.
//! Measured (tests `protocol_sizes`): resident request 228 bytes (1 frame at MTU 247, 2 at 185),
//! guest request 353 bytes (2 frames at 247 and at 185).
//!
//! **DoorResult**: `version u8, access (0 Granted | 1 Denied + DenialReason), UpdateReport
//! (seq_before, seq_after, Option<batch rejection>, ≤64 rejected updates), Receipt`.
//!
//! Update batches: one revocation costs about 12 bytes in a batch; see the report in the
//! `protocol_sizes` test for measured sizes of 1, 100 and 1000 revocations.
//!
//! # Security properties (each has a test in `core/tests/protocol_*.rs`)
//! - A recorded request cannot be replayed: it echoes and signs the door's fresh nonce (another
//!   session: `StaleChallenge`; another door: `BadProof`, the door id is signed).
//! - A receipt is bound to the phone's nonce and signed under its own label; no other signed
//!   kind (challenge, certificate, batch) verifies as one.
//! - The `access` field is the door's word over the link; the receipt and the door's activity
//!   log are the signed record.

pub mod door_session;
pub mod error;
pub mod frame;
pub mod message;
mod outbox;
pub mod phone;

pub use door_session::DoorSession;
pub use error::{DoorSessionError, ProtocolError};
pub use frame::{FrameError, MAX_MESSAGE_LEN, MessageKind, Reassembler};
pub use message::{
    Access, ChallengeBody, DoorChallenge, DoorResult, RejectedUpdate, UnlockRequest, UpdateRejection, UpdateReport,
};
pub use phone::{PhoneSession, UnlockOutcome, UnlockParams};
