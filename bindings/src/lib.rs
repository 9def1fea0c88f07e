//! Keyway for Kotlin, Swift and Python apps (uniffi).
//!
//! No business logic lives here: every export wraps the core's `Wallet` or converts its
//! types. The app supplies its secure storage ([`SecureStore`]), its BLE connection to a door
//! ([`BleLink`]) and optionally a logger ([`LogSink`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

uniffi::setup_scaffolding!("keyway");

pub mod ble_link;
pub mod callback_error;
pub mod discovery;
#[cfg(feature = "door")]
pub mod door;
#[cfg(feature = "door")]
pub mod door_feed;
#[cfg(feature = "door")]
pub mod door_install;
#[cfg(feature = "door")]
pub mod door_session;
pub mod error;
pub mod log_sink;
pub mod observe;
pub mod options;
pub mod push_link;
pub mod records;
pub mod secure_store;
pub mod wallet;

pub use ble_link::{BleLink, ForeignLink, GattProfile};
pub use callback_error::CallbackError;
pub use error::KeywayError;
pub use log_sink::{LogLevel, LogRecord, LogSink};
pub use observe::{KeyListener, Subscription, UnlockListener};
pub use options::{NetworkOptions, UnlockOptions};
pub use push_link::PushLink;
pub use secure_store::SecureStore;
pub use wallet::Wallet;

/// The Keyway version these bindings were built from: the workspace's semantic version
/// (`[workspace.package] version` in the root Cargo.toml), the version every package carries.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
