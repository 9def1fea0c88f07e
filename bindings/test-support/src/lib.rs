//! Keyway's test-support binding (uniffi namespace `keyway_test_support`): a simulated
//! property and its doors, for the binding tests and demos.
//!
//! It is its own library, never part of an app's: `libkeyway_ffi` (the app library) is built
//! without it, and this crate's library carries the simulator on top of its own copy of
//! `keyway-ffi`. Its types refer to the app binding's types (`KeywayError`, `ActivityEntry`),
//! which cross as values, so the foreign test code uses the installed app package for those.

uniffi::setup_scaffolding!("keyway_test_support");

pub mod simulator;

pub use simulator::{SimulatedDoor, SimulatedProperty};
