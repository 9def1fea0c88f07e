//! A tiny building for a day, end to end: every update a manager's action queued reaches its
//! door, and every door's signed receipt reaches Mission Control; the same seed gives the same
//! figures; bad parameters are refused before anything starts.

use building_sim::model::{ConfigError, DoorKind};
use building_sim::{Config, SimError, report};

fn tiny() -> Config {
    Config { residents: 10, doors: 4, days: 1, actions_per_day: 8.0, office_end_hour: 13, ..Config::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_building_delivers_every_update_and_every_receipt() {
    let cfg = tiny();
    let (runs, outcomes) = building_sim::run_all(&cfg).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(outcomes.len(), 4, "the Latch rule and the three Keyway runs");
    for run in &runs {
        let name = &run.scenario.name;
        assert!(!run.deliveries.is_empty(), "{name}: the managers queued door updates");
        assert!(run.counts.unlocks > 0 && run.counts.syncs > 0, "{name}: {:?}", run.counts);
        for d in &run.deliveries {
            let applied = d.applied_at.unwrap_or_else(|| panic!("{name}: never applied: {d:?}"));
            let receipt = d.receipt_at.unwrap_or_else(|| panic!("{name}: no receipt: {d:?}"));
            assert!(d.at <= applied && applied <= receipt, "{name}: {d:?}");
        }
        for r in &run.revocations {
            assert!(!r.doors.is_empty() && r.doors.iter().all(|x| x.seq > 0), "{name}: {r:?}");
        }
    }
    // With the door feed the connected doors hear a change within seconds of simulated time,
    // unless their internet is down.
    let fed = &runs[1];
    assert!(fed.scenario.feed && !runs[0].scenario.feed);
    assert!(fed.counts.feed_polls > 0);
    let connected: Vec<_> = fed.deliveries.iter().filter(|d| d.door_kind == DoorKind::Connected).collect();
    assert!(!connected.is_empty());
    assert!(connected.iter().any(|d| d.applied_at == Some(d.at) || d.applied_at == Some(d.at + 1)));
    // Phones walking past doors deliver what they carry, only in the run that has delivery
    // sessions.
    let delivering = &runs[2];
    assert!(
        delivering.scenario.delivery && runs.iter().take(2).all(|r| !r.scenario.delivery && r.counts.deliveries == 0)
    );
    assert!(delivering.counts.deliveries_applied > 0, "{:?}", delivering.counts);

    // Same seed, same figures.
    let (again, _) = building_sim::run_all(&cfg).await.unwrap();
    for (a, b) in runs.iter().zip(&again) {
        assert_eq!(a.deliveries, b.deliveries, "{}", a.scenario.name);
        assert_eq!(a.unlocks, b.unlocks);
        assert_eq!(a.revocations, b.revocations);
    }
    let text = report::render(&cfg, &outcomes, &runs);
    assert!(text.contains("| (a) Latch rule | offline doors |"), "{text}");
    let csv = report::records_csv(&runs);
    assert_eq!(csv.lines().count(), 1 + runs.iter().map(|r| r.deliveries.len()).sum::<usize>());
}

#[tokio::test]
async fn bad_parameters_are_refused() {
    let cfg = Config { doors: 2, ..tiny() };
    let scenario = building_sim::scenarios(&cfg).remove(0).0;
    match building_sim::sim::run(&cfg, &scenario).await {
        Err(SimError::Config(ConfigError::TooFewDoors(2))) => {}
        other => panic!("{:?}", other.map(|r| r.counts)),
    }
    assert_eq!(Config { days: 0, ..tiny() }.check(), Err(ConfigError::Days(0)));
    assert_eq!(Config { window_days: 91, ..tiny() }.check(), Err(ConfigError::Window(91)));
}
