//! A building in simulation: how fast a manager's change reaches every door.
//!
//! A property with residents, their visitors and contractors, connected and offline doors,
//! phones that sync on their own schedules and fail, and managers who act through Mission
//! Control's HTTP API during office hours, all on a simulated clock. Every piece is the real
//! code: the wallet ([`keyway_wallet::Wallet`], in-memory store), the door engine over the
//! simulated BLE link, the door feed's calls, and Mission Control in-process on loopback with
//! its own SQLite file. [`model`] draws the building and its days from the seed, [`sim`] plays
//! them, [`report`] turns a run into the table (with the Latch rule computed from the same
//! door passes) and [`plot`] into the PNG.

pub mod model;
pub mod plot;
pub mod report;
pub mod sim;

pub use model::Config;
pub use sim::{RunResult, Scenario, SimError};

/// The Keyway runs the report compares with the Latch rule: (b) phones only, (c) with the door
/// feed and the revalidation window of `cfg`, (d) as (c) with delivery sessions.
pub fn scenarios(cfg: &Config) -> Vec<(Scenario, String)> {
    vec![
        (
            Scenario { name: "(b) Keyway, phones only".into(), feed: false, window_days: 90, delivery: false },
            "phones carry signed updates to the doors they unlock and bring receipts back; no door feed; revalidation window 90 days (the longest Mission Control allows, longer than the run)".into(),
        ),
        (
            Scenario {
                name: "(c) Keyway + door feed + window".into(),
                feed: true,
                window_days: cfg.window_days,
                delivery: false,
            },
            format!(
                "as (b), and the lobby and garage follow Mission Control over the door feed (with internet outages); revalidation window {} days",
                cfg.window_days
            ),
        ),
        (
            Scenario {
                name: "(d) Keyway + feed + delivery + window".into(),
                feed: true,
                window_days: cfg.window_days,
                delivery: true,
            },
            "as (c), and phones deliver the updates they carry to the doors they walk past (mail room and gym off the lobby; bike room and storage by the garage; the roof from the top floor) in delivery sessions, the oldest first, after their own unlock".into(),
        ),
    ]
}

/// Every Keyway run, one after the other (the simulated clock is process-wide), and the
/// outcomes the report shows: the Latch rule first.
pub async fn run_all(cfg: &Config) -> Result<(Vec<RunResult>, Vec<report::Outcome>), SimError> {
    let mut runs = Vec::new();
    let mut outcomes = Vec::new();
    for (scenario, about) in scenarios(cfg) {
        let run = sim::run(cfg, &scenario).await?;
        if outcomes.is_empty() {
            outcomes.push(report::latch(&run));
        }
        outcomes.push(report::keyway(&run, &about));
        runs.push(run);
    }
    Ok((runs, outcomes))
}
