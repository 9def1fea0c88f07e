//! Keyway access core.
//!
//! Layers (each uses only the ones listed before it):
//! 1. [`credential`]: key certificates, delegation chains, door certificates, door updates,
//!    daily doorcodes, signing and strict verification.
//! 2. `protocol` and `door`: the sans-IO unlock exchange and the door engine.
//! 3. `store`, `api`, `sync`, `transport`: persistence, wire types, HTTP client, links.
//! 4. `wallet`: the facade an app uses.
//!
//! Shared foundations: [`codec`] (canonical, bounded binary encoding) and [`time`].

pub mod api;
pub mod codec;
pub mod credential;
pub mod door;
pub mod protocol;
#[cfg(feature = "client")]
pub mod sync;
pub mod time;
#[cfg(feature = "wallet")]
pub mod store;
pub mod transport;
#[cfg(feature = "wallet")]
pub mod wallet;

pub use time::UnixTime;
