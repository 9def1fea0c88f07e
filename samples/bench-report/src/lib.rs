//! Keyway's unlock measured against TLS 1.3 (full and resumed) and Noise over the same simulated
//! BLE link, the door's work on a microcontroller profile, and the cost of carrying door updates
//! (`cargo run --release -p bench-report`; see BENCHMARKS.md), and the door feed under load
//! (`-- --feed`).

pub mod app;
pub mod curve;
pub mod driver;
pub mod feed;
pub mod keyway;
pub mod mcu;
pub mod noise;
pub mod property;
pub mod report;
pub mod revalidation;
pub mod tls;
