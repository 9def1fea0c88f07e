//! Layer 3: links that carry unlock frames, and the blocking pumps that drive the sans-IO
//! sessions over them.
//!
//! - [`Link`]: one connection to a door (BLE GATT, a socket to the lock simulator, or the
//!   in-memory [`sim`] link); [`socket`] carries frames over TCP on loopback for the lock
//!   simulator.
//! - [`run_unlock`] (phone side) and [`serve_session`] (door side): pump frames until the
//!   exchange is complete.
//! - [`gatt`] and [`notify_queue`]: the radio-independent parts every BLE link shares (the
//!   Keyway GATT profile, frame sizing from the MTU, the notification queue); `ble` is the
//!   btleplug link (cargo feature `ble`). Mobile apps supply their own link through the
//!   bindings.

#[cfg(feature = "ble")]
pub mod ble;
pub mod gatt;
pub mod notify_queue;
pub mod run;
pub mod sim;
pub mod socket;

pub use run::{DEFAULT_SESSION_TIMEOUT, ServeError, ServeReport, UnlockError, run_unlock, serve_session, serve_session_durably, serve_session_with, serve_session_with_timeout};

use std::time::Duration;

/// One connection between a phone and a door, carrying whole frames.
pub trait Link: Send {
    /// ATT MTU negotiated for this connection (23..=517).
    fn mtu(&self) -> usize;
    /// Writes one frame (at most mtu-3 bytes) to the peer.
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError>;
    /// Next frame from the peer; Err(LinkError::Timeout) after `timeout`.
    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError>;
    fn close(&mut self) {}
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("the peer disconnected")]
    Disconnected,
    #[error("frame of {len} bytes exceeds the {max}-byte limit of this link")]
    FrameTooLarge { len: usize, max: usize },
    #[error("the link reports MTU {0}, outside 23..=517")]
    BadMtu(usize),
    #[error("link I/O: {0}")]
    Io(String),
}
