//! Keyway's sans-IO core: what a phone and a door both run, and all a lock vendor embeds.
//!
//! Modules, each using only the ones before it:
//! 1. [`codec`] (canonical, bounded binary encoding) and [`time`] (signed time, no clock).
//! 2. [`credential`]: key certificates, delegation chains, door certificates, door updates,
//!    receipts, daily doorcodes; signing and the one strict verification function.
//! 3. [`unlock`]: the unlock exchange's messages, MTU framing and the phone's session.
//! 4. [`door`]: the door engine and the door's session.
//!
//! No I/O, no clock, no threads: time and nonces come from the caller. The crate is
//! `#![no_std]` with `alloc`; the default `std` feature adds `std::error::Error` and key
//! generation from the operating system's RNG. Door capacities are a
//! [`door::DoorLimits`] value the embedder chooses.

#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod advert;
pub mod codec;
pub mod credential;
pub mod door;
pub mod time;
pub mod unlock;

pub use time::UnixTime;

/// What every module of this crate takes from `alloc`.
mod prelude {
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
    pub(crate) use alloc::{format, vec};
}
