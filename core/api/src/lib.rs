//! The JSON wire types between Mission Control (the backend) and its clients: the manager's
//! console and the phones. Server and phone both compile against these types, so they cannot
//! drift apart.
//!
//! Everything Keyway signs travels as base64 of its canonical bytes ([`B64`]), never as JSON
//! re-encodings: a certificate is verified over exactly the bytes the authority signed.
//!
//! - [`wire`]: the base64 wrapper and the byte forms it carries.
//! - [`error`]: the JSON error body every 4xx/5xx answer carries.
//! - [`format`](mod@format): how times (RFC 3339), 64-bit ids (strings), door operations and activity
//!   events (snake_case) look in the JSON, as `serde(with)` modules on the wire types' fields.
//! - [`json`]: reading JSON request bodies by field name only (a positional array for a struct
//!   is refused).
//! - [`manager`] (feature `manager`): provisioning, people, keys, door-update tasks, activity,
//!   outbox; a phone build leaves it out.
//! - [`client`] (feature `client`): the HTTP client with retries.
//! - [`clock`]: the wall clock and chrono conversions, kept out of the sans-IO protocol crate.
//! - [`phone`]: invite acceptance, sync, receipt upload, guest-key registration, doorcodes.
//! - [`door`]: the door feed of internet-connected doors.

#[cfg(feature = "client")]
pub mod client;
pub mod clock;
pub mod door;
pub mod error;
pub mod format;
pub mod json;
#[cfg(feature = "manager")]
pub mod manager;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod phone;
pub mod wire;

pub use door::*;
pub use error::{ApiError, ErrorCode};
#[cfg(feature = "manager")]
pub use manager::*;
pub use phone::*;
pub use wire::{B64, Expiry, Secret32, WireBytes};

use keyway_protocol::UnixTime;

/// The expiry stored for a grant made with [`Expiry::Never`] ("expiration recommended, not
/// required", but always stated): 9999-12-31T23:59:59Z. A revocation of such a key is never
/// pruned.
pub const NO_EXPIRY: UnixTime = UnixTime(253_402_300_799);
