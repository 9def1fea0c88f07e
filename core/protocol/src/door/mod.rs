//! Layer 2: the door engine, the part a lock vendor embeds.
//!
//! A door holds its trust anchors, its door key, its update seq, a revocation set, doorcode
//! slots, keycards, a monotonic clock and a bounded activity log ([`state::DoorState`], serde,
//! persisted by the lock). The engine is sans-IO: every call takes the current time from the
//! caller and returns a decision; the unlock exchange itself is driven by
//! [`DoorSession`].
//!
//! Order inside an app unlock: the door decides from the key chain and proof alone, reports the
//! decision (the lock actuates), and only then applies the carried updates, so a large batch never
//! delays the opening. The updates are authenticated by the authority's signature independently
//! of the phone, so **even a denied unlock applies valid updates and returns a receipt**: a
//! resident whose key was just revoked still delivers the revocation (and everything queued
//! behind it) and carries the door's activity back.
//!
//! Memory is bounded whatever a peer sends: sessions hold no state in the engine (a session
//! buffers at most one message, see [`crate::unlock::frame`]), the activity log is a ring of
//! [`DoorLimits::activity`] records, and the revocation set and the doorcode and keycard
//! tables have the capacities of the embedder's [`DoorLimits`], and the keypad limiter remembers at most five failures.

pub mod activity;
pub mod clock;
pub mod engine;
pub mod error;
pub mod handshake;
pub mod keycard;
pub mod keypad;
pub mod limits;
pub mod revocations;
pub mod session;
pub mod state;
pub mod updates;

pub use activity::ActivityLog;
pub use clock::{CLOCK_RECORD_SECS, ClockChange};
pub use engine::{DoorEngine, DoorProvisioning, Entry};
pub use error::{DoorSessionError, RekeyError};
pub use handshake::{CryptoOps, ResumeCache, SessionCache};
pub use keycard::{CARD_ANSWER_SECS, CardChallenge, CardStep};
pub use keypad::{
    AttemptLimiter, FIRST_LOCKOUT_SECS, FREE_ATTEMPTS, MAX_CHECKED_PER_DAY, MAX_LOCKOUT_SECS, QUIET_RESET_SECS,
};
pub use limits::DoorLimits;
pub use revocations::RevocationSet;
pub use session::{BATCH_DEADLINE_SECS, DoorSession, DoorStep, REQUEST_DEADLINE_SECS, UnsentResult};
pub use state::{DoorState, DoorStateError, DoorcodeSlot, Keycard};
