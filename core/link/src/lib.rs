//! Keyway's links: what carries unlock frames between a phone and a door, and the blocking
//! pumps that drive the sans-IO sessions of `keyway-protocol` over them. Both sides embed it:
//! the wallet for [`run_unlock`], a std-based door (the door simulator, a gateway) for
//! [`DoorServer`].
//!
//! - [`Link`]: one connection to a door (BLE GATT, a socket to the lock simulator, or the
//!   in-memory link of `keyway-test-kit`); [`socket`] carries frames over TCP on loopback for
//!   the lock simulator.
//! - [`run_unlock`] (phone side) and [`DoorServer`] (door side, with the door's
//!   [`DoorHooks`]: actuate and persist): pump frames until the exchange is complete.
//! - [`gatt`] and [`notify_queue`]: the radio-independent parts every BLE link shares (the
//!   Keyway GATT profile, frame sizing from the MTU, the notification queue); `ble` is the
//!   btleplug link (cargo feature `ble`). Mobile apps supply their own link through the
//!   bindings.

#[cfg(feature = "ble")]
pub mod ble;
pub mod gatt;
pub mod notify_queue;
pub mod run;
pub mod socket;

pub use run::{
    DEFAULT_SESSION_TIMEOUT, DoorHooks, DoorServer, ServeError, ServeReport, UnlockError, UnlockStep, Volatile,
    run_unlock, run_unlock_observed,
};

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
#[non_exhaustive]
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
