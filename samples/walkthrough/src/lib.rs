//! The walkthrough: the manager's help article, run end to end with real parts and checked at
//! every step. `cargo run -p keyway-walkthrough` (add `-- --json` for a machine-readable
//! report).
//!
//! - Mission Control, the reference backend, runs in-process on a loopback port with its own
//!   SQLite file.
//! - Each door is a `lock-sim` child process ([`doors`]) with its own state file, serving the
//!   unlock protocol over the socket stand-in for its GATT service.
//! - Each resident and guest is a [`keyway_wallet::Wallet`] on its own SQLite file
//!   ([`phones`]).
//! - The manager's console is [`keyway_api::client::ManagerClient`].
//!
//! The story is in [`story`], which sets the stage and tells it: one file per step of the
//! article under `src/steps/`, sharing the `World` (the consoles, the phones and the report
//! being written) and its helpers from `src/world.rs`. Every step checks what the system did
//! and stops the walkthrough with a failure (and a non-zero exit) if it misbehaved.

pub mod doors;
pub mod phones;
pub mod report;
mod steps;
pub mod story;
mod world;

pub use report::Report;
pub use story::{Options, run};
