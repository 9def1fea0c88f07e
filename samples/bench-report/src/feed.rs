//! The door feed under load (`bench-report --feed`): how fast a manager's change reaches an
//! internet-connected door and its receipt comes back, with many doors connected at once.
//!
//! Everything is the real code on loopback: Mission Control in-process with its own SQLite
//! file, and every door a lock-sim [`Feed`] on its own state file (fsync'd on every change).
//! Each action is a daily-doorcode invite for the measured door (one `AddDoorcode` update);
//! the other doors stay connected, idle, and are woken by every action like any real feed.

use keyway_api::client::ManagerClient;
use keyway_api::*;
use lock_sim::{DoorFile, Feed, FeedLine};
use mission_control::Server;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct FeedReport {
    pub actions: usize,
    pub doors_connected: usize,
    /// Manager's request sent → the update applied and saved at the door (ms).
    pub applied_ms: Percentiles,
    /// Manager's request sent → the door's receipt accepted by Mission Control (ms).
    pub receipt_ms: Percentiles,
    /// Whole-process CPU (Mission Control and every simulated door) per action (ms).
    pub cpu_ms_per_action: f64,
    /// Whole-process CPU per second with every door connected and nothing happening (ms).
    pub idle_cpu_ms_per_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(mut v: Vec<f64>) -> Percentiles {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
        Percentiles { p50: at(0.5), p99: at(0.99), max: at(1.0) }
    }
}

/// User plus system CPU time of this process so far (Linux `/proc/self/stat`).
fn process_cpu() -> Duration {
    let ticks_per_s = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0, utime 11, stime 12.
    Duration::from_secs_f64((ticks(11) + ticks(12)) / ticks_per_s)
}

type Marks = Arc<Mutex<HashMap<u64, Instant>>>;

/// Runs `actions` manager actions against one measured door with `doors` doors connected.
pub async fn measure(actions: usize, doors: usize) -> Result<FeedReport, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().map_err(|_| "addr")?)
        .await
        .map_err(|e| e.to_string())?;
    let base = server.base_url();
    let req = CreatePropertyRequest { name: "Bench Court".into(), utc_offset_minutes: 0, manager_name: "Pat".into() };
    let manager = ManagerClient::create_property(&base, &req).await.map_err(|e| e.to_string())?.1;
    let (applied, reported): (Marks, Marks) = Default::default();
    let mut measured = None;
    let mut tasks = Vec::new();
    for i in 0..doors.max(1) {
        let door = manager.create_door(&format!("Door {i}"), true).await.map_err(|e| e.to_string())?;
        let file = DoorFile::new(dir.path().join(format!("door-{i}.state")));
        let json = serde_json::to_string(&door).map_err(|e| e.to_string())?;
        let provisioning = keyway_test_kit::install::provisioning_from_json(&json, keyway_api::clock::now())
            .map_err(|e| e.to_string())?;
        file.provision(provisioning).map_err(|e| e.to_string())?;
        let feed = Feed::new(&base, file).map_err(|e| e.to_string())?;
        let (applied, reported) = (applied.clone(), reported.clone());
        let is_measured = i == 0;
        tasks.push(tokio::spawn(async move {
            feed.run(|line| {
                let now = Instant::now();
                match line {
                    FeedLine::Applied { seq_after, .. } if is_measured => {
                        applied.lock().map(|mut m| m.insert(*seq_after, now)).ok();
                    }
                    FeedLine::Reported { applied_seq, .. } if is_measured => {
                        reported.lock().map(|mut m| m.insert(*applied_seq, now)).ok();
                    }
                    _ => {}
                }
            })
            .await
        }));
        if is_measured {
            measured = Some(door.door_id);
        }
    }
    let door = measured.ok_or("no door")?;
    // Let every door open its session.
    tokio::time::sleep(Duration::from_millis(300 + 10 * doors as u64)).await;
    let idle_start = (Instant::now(), process_cpu());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_cpu_ms_per_s =
        (process_cpu() - idle_start.1).as_secs_f64() * 1000.0 / idle_start.0.elapsed().as_secs_f64();

    let cpu_start = process_cpu();
    let mut sent = Vec::new();
    for i in 0..actions {
        let t0 = Instant::now();
        let invite = InviteRequest {
            name: format!("Person {i}"),
            contact: format!("p{i}@example.com"),
            access: AccessKind::DailyDoorcode,
            keys: vec![KeyGrant { doors: vec![door], start: None, expiry: keyway_api::Expiry::Never }],
            resident: false,
            may_share: false,
        };
        let answer = manager.invite(&invite).await.map_err(|e| e.to_string())?;
        let seq = answer.updates.iter().find(|u| u.door_id == door).map(|u| u.seq).ok_or("no update")?;
        sent.push((seq, t0));
        // Wait for the receipt before the next action, so each is measured on its own.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reported.lock().map(|m| m.keys().any(|s| *s >= seq)).unwrap_or(false) {
            if Instant::now() > deadline {
                return Err(format!("update {seq} was not reported within 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let cpu_ms_per_action = (process_cpu() - cpu_start).as_secs_f64() * 1000.0 / actions.max(1) as f64;
    for t in tasks {
        t.abort();
    }
    let applied = applied.lock().map_err(|_| "lock")?.clone();
    let reported = reported.lock().map_err(|_| "lock")?.clone();
    let after = |marks: &HashMap<u64, Instant>, seq: u64, t0: Instant| {
        marks.iter().filter(|(s, _)| **s >= seq).map(|(_, t)| *t).min().map(|t| (t - t0).as_secs_f64() * 1000.0)
    };
    let applied_ms: Vec<f64> = sent.iter().filter_map(|(s, t0)| after(&applied, *s, *t0)).collect();
    let receipt_ms: Vec<f64> = sent.iter().filter_map(|(s, t0)| after(&reported, *s, *t0)).collect();
    if applied_ms.len() != actions || receipt_ms.len() != actions {
        return Err("some updates were not measured".into());
    }
    server.shutdown().await.map_err(|e| e.to_string())?;
    Ok(FeedReport {
        actions,
        doors_connected: doors.max(1),
        applied_ms: Percentiles::of(applied_ms),
        receipt_ms: Percentiles::of(receipt_ms),
        cpu_ms_per_action,
        idle_cpu_ms_per_s,
    })
}

/// The rows as a text table.
pub fn render(rows: &[FeedReport]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "Manager action → internet-connected door, over the door feed on loopback:");
    let _ = writeln!(
        o,
        "| doors connected | actions | applied p50 ms | applied p99 ms | applied max ms | receipt p50 ms | receipt p99 ms | receipt max ms | CPU ms/action | idle CPU ms/s |"
    );
    let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            o,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
            r.doors_connected,
            r.actions,
            r.applied_ms.p50,
            r.applied_ms.p99,
            r.applied_ms.max,
            r.receipt_ms.p50,
            r.receipt_ms.p99,
            r.receipt_ms.max,
            r.cpu_ms_per_action,
            r.idle_cpu_ms_per_s
        );
    }
    o
}
