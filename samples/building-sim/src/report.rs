//! The figures: time-to-apply and time-to-receipt per door type, and the exposure left per
//! revocation, for each Keyway run and for the Latch rule computed from a run's door passes.

use crate::model::{Config, DAY, DoorKind, HOUR, MINUTE};
use crate::sim::{Delivery, RunResult};
use std::fmt::Write as _;

/// One way updates reach doors, as the table shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub name: String,
    /// What the scenario includes, in words.
    pub about: String,
    /// Per manager action and door.
    pub deliveries: Vec<Timing>,
    /// Per revocation: how long the revoked credential could still open some door, in
    /// seconds from the action.
    pub exposures: Vec<u64>,
    /// The revalidation window, where there is one.
    pub window_secs: Option<u64>,
}

/// One manager action's updates at one door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub kind: DoorKind,
    /// When the manager acted.
    pub at: u64,
    /// Seconds to the update applied at the door (`None`: never within the run).
    pub apply: Option<u64>,
    /// Seconds to its receipt at Mission Control (`Some(None)`: never within the run); `None`
    /// for the Latch rule, of which the article says nothing.
    pub receipt: Option<Option<u64>>,
}

/// Nearest-rank percentiles over values where `None` is "never" (above every number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub n: usize,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
    pub never: usize,
}

pub fn summary(values: &[Option<u64>]) -> Summary {
    let mut v: Vec<Option<u64>> = values.to_vec();
    // `None` sorts first in `Option`'s order; "never" must sort last.
    v.sort_by_key(|x| x.map_or((1, 0), |t| (0, t)));
    let at = |p: f64| -> Option<u64> {
        if v.is_empty() {
            return Some(0);
        }
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    };
    Summary {
        n: v.len(),
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        max: at(1.0),
        never: v.iter().filter(|x| x.is_none()).count(),
    }
}

pub fn duration(secs: Option<u64>) -> String {
    match secs {
        None => "never".into(),
        Some(s) if s < 2 * MINUTE => format!("{s} s"),
        Some(s) if s < 2 * HOUR => format!("{:.0} min", s as f64 / 60.0),
        Some(s) if s < 2 * DAY => format!("{:.1} h", s as f64 / 3600.0),
        Some(s) => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

fn share(part: usize, all: usize) -> String {
    if all == 0 { "–".into() } else { format!("{:.1} %", 100.0 * part as f64 / all as f64) }
}

/// A Keyway run as measured.
pub fn keyway(run: &RunResult, about: &str) -> Outcome {
    let deliveries = run
        .deliveries
        .iter()
        .map(|d| Timing {
            kind: d.door_kind,
            at: d.at,
            apply: d.applied_at.map(|t| t - d.at),
            receipt: Some(d.receipt_at.map(|t| t.saturating_sub(d.at))),
        })
        .collect();
    let exposures = run
        .revocations
        .iter()
        .map(|r| {
            r.doors
                .iter()
                .map(|x| x.applied_at.unwrap_or(u64::MAX).min(x.until).saturating_sub(r.at))
                .max()
                .unwrap_or(0)
        })
        .collect();
    Outcome {
        name: run.scenario.name.clone(),
        about: about.into(),
        deliveries,
        exposures,
        window_secs: Some(u64::from(run.scenario.window_days) * DAY),
    }
}

/// Latch's rule as the help article states it, played on the same door passes: a door learns
/// of an update the first time someone unlocks it with the app after the update was made, and
/// no door is on the internet. A revoked credential opens a door until then, or to the end of
/// its lease.
pub fn latch(run: &RunResult) -> Outcome {
    let mut by_door: Vec<Vec<u64>> = vec![Vec::new(); run.doors.len()];
    for &(t, d) in &run.unlocks {
        by_door[d].push(t);
    }
    for v in &mut by_door {
        v.sort_unstable();
    }
    let first_after = |d: usize, t: u64| -> Option<u64> {
        let v = &by_door[d];
        v.get(v.partition_point(|&u| u <= t)).copied()
    };
    let deliveries = run
        .deliveries
        .iter()
        .map(|d: &Delivery| Timing {
            kind: d.door_kind,
            at: d.at,
            apply: first_after(d.door, d.at).map(|t| t - d.at),
            receipt: None,
        })
        .collect();
    let exposures = run
        .revocations
        .iter()
        .map(|r| {
            r.doors
                .iter()
                .map(|x| first_after(x.door, r.at).unwrap_or(x.expiry).min(x.expiry).saturating_sub(r.at))
                .max()
                .unwrap_or(0)
        })
        .collect();
    Outcome {
        name: "(a) Latch rule".into(),
        about: "a door learns of an update at the first app unlock after it; no internet doors".into(),
        deliveries,
        exposures,
        window_secs: None,
    }
}

/// The figures one row of the table holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub kind: DoorKind,
    pub apply: Summary,
    pub receipt: Option<Summary>,
}

pub fn rows(outcomes: &[Outcome], cfg: &Config, weekdays_only: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for o in outcomes {
        for kind in [DoorKind::Connected, DoorKind::Offline] {
            let of_kind: Vec<_> =
                o.deliveries.iter().filter(|t| t.kind == kind && !(weekdays_only && cfg.is_weekend(t.at))).collect();
            let apply = summary(&of_kind.iter().map(|t| t.apply).collect::<Vec<_>>());
            let receipts: Option<Vec<Option<u64>>> = of_kind.iter().map(|t| t.receipt).collect();
            rows.push(Row { name: o.name.clone(), kind, apply, receipt: receipts.map(|r| summary(&r)) });
        }
    }
    rows
}

/// The whole text report (Markdown tables).
pub fn render(cfg: &Config, outcomes: &[Outcome], runs: &[RunResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Building: {} residents, {} doors (lobby and garage connected, {} offline), {} days from a Monday, seed {}, {:.0} manager actions per weekday\n",
        cfg.residents,
        cfg.doors,
        cfg.doors - 2,
        cfg.days,
        cfg.seed,
        cfg.actions_per_day
    );
    for o in outcomes {
        let _ = writeln!(out, "- {}: {}", o.name, o.about);
    }
    let _ = writeln!(
        out,
        "\nTime from a manager's action to the update applied at the door, and to its signed receipt at Mission Control (per action and door; \"never\" = not within the run):\n"
    );
    out.push_str(&table(&rows(outcomes, cfg, false)));
    let _ = writeln!(out, "\nThe same, actions on weekdays only:\n");
    let weekdays = rows(outcomes, cfg, true);
    out.push_str(&table(&weekdays));
    let _ = writeln!(out);
    for r in weekdays.iter().filter(|r| r.kind == DoorKind::Offline && r.apply.n > 0) {
        let met = r.apply.p95.is_some_and(|p| p <= 30 * MINUTE);
        let _ = writeln!(
            out,
            "Goal, p95 time-to-apply at offline doors on weekdays ≤ 30 min: {} {} ({})",
            r.name,
            duration(r.apply.p95),
            if met { "met" } else { "not met" }
        );
    }
    let _ = writeln!(
        out,
        "\nExposure left per revocation (Revoke All Keys, Delete Person): how long the revoked phone's credential could still open some door of its keys, counted to the first of the door applying the revocation, the certificate's freshness running out, the lease's end:\n"
    );
    let _ = writeln!(out, "| scenario | revocations | p50 | p95 | max | longer than the window |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let s = summary(&o.exposures.iter().map(|&e| Some(e)).collect::<Vec<_>>());
        let longer = match o.window_secs {
            Some(w) => share(o.exposures.iter().filter(|&&e| e > w).count(), o.exposures.len()),
            None => "no window".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            o.name,
            s.n,
            duration(s.p50),
            duration(s.p95),
            duration(s.max),
            longer
        );
    }
    let _ = writeln!(out, "\nRuns (real wallet, door engine and Mission Control on a simulated clock):\n");
    let _ = writeln!(
        out,
        "| scenario | people | app unlocks | granted | updates carried | delivery sessions (applied) | syncs | feed polls | manager actions (with door updates) | wall time |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let c = &r.counts;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} ({}) | {:.1} s |",
            r.scenario.name,
            c.people,
            c.unlocks,
            c.granted,
            c.updates_carried,
            c.deliveries,
            c.deliveries_applied,
            c.syncs,
            c.feed_polls,
            c.actions,
            c.actions_with_updates,
            r.wall_secs
        );
    }
    out
}

/// Every record of every Keyway run as CSV: per manager action and door, the action's time,
/// when the update applied at the door and when its receipt reached Mission Control (Unix
/// seconds, empty when never within the run).
pub fn records_csv(runs: &[RunResult]) -> String {
    let mut out = String::from("scenario,action,kind,door,door_kind,seq,action_at,applied_at,receipt_at\n");
    let opt = |t: Option<u64>| t.map(|t| t.to_string()).unwrap_or_default();
    for r in runs {
        for d in &r.deliveries {
            let _ = writeln!(
                out,
                "\"{}\",{},\"{}\",\"{}\",{},{},{},{},{}",
                r.scenario.name,
                d.action,
                d.kind.label(),
                r.doors[d.door].name,
                d.door_kind.label(),
                d.seq,
                d.at,
                opt(d.applied_at),
                opt(d.receipt_at)
            );
        }
    }
    out
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | doors | n | apply p50 | p95 | p99 | max | never applied | receipt p50 | p95 | p99 | max | never receipted |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let a = &r.apply;
        let receipt = match &r.receipt {
            Some(s) => format!(
                "{} | {} | {} | {} | {}",
                duration(s.p50),
                duration(s.p95),
                duration(s.p99),
                duration(s.max),
                share(s.never, s.n)
            ),
            None => "– | – | – | – | –".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.kind.label(),
            a.n,
            duration(a.p50),
            duration(a.p95),
            duration(a.p99),
            duration(a.max),
            share(a.never, a.n),
            receipt
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_put_never_last() {
        let s = summary(&[Some(10), None, Some(30), Some(20)]);
        assert_eq!((s.p50, s.max, s.never), (Some(20), None, 1));
        let s = summary(&(1..=100).map(Some).collect::<Vec<_>>());
        assert_eq!((s.p50, s.p95, s.p99, s.max), (Some(50), Some(95), Some(99), Some(100)));
        assert_eq!(summary(&[]).n, 0);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Some(42)), "42 s");
        assert_eq!(duration(Some(30 * MINUTE)), "30 min");
        assert_eq!(duration(Some(5 * HOUR)), "5.0 h");
        assert_eq!(duration(Some(3 * DAY)), "3.0 d");
        assert_eq!(duration(None), "never");
    }
}
