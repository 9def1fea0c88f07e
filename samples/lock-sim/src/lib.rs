//! The Keyway door simulator: a [`DoorEngine`](keyway_protocol::door::DoorEngine) whose state lives
//! in a file, served over the socket stand-in for the door's GATT service
//! ([`keyway_link::socket`]), with keypad and card input from the command line.
//!
//! - Installation: the door's install data is the JSON Mission Control returns when a door is
//!   created, checked before anything is written ([`keyway_ffi::door_install`], the door SDK's own
//!   install path).
//! - [`door_file`]: the state file. Every session and every keypad or card entry is one
//!   transaction on it: take the lock, load, act, write atomically (temporary file, fsync,
//!   rename), release. So a `serve` process and `keypad`/`card` commands share one door safely.
//! - [`serve`]: the accept loop that runs one unlock session per connection.
//! - [`feed`]: an internet-connected door's feed from Mission Control (`--backend URL`).
//! - [`cli`]: the `lock-sim` command (also reachable from other binaries, e.g. the walkthrough
//!   re-executes itself as a door process through [`cli::run`]).

pub mod cli;
pub mod door_file;
pub mod entry;
pub mod feed;
pub mod serve;

pub use door_file::{DoorFile, DoorFileError};
pub use entry::{CardCheck, EntryReport, hold_card};
pub use feed::{Feed, FeedLine};
pub use serve::{SessionLine, serve_door};
