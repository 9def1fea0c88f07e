//! The wall clock and chrono conversions for the std side of Keyway.
//!
//! The protocol crate's [`UnixTime`] has no clock of its own: sessions and the door engine take
//! the time from their caller. Phones, Mission Control and the door simulator read it here.
//!
//! With the cargo feature `simulated-clock` (off by default; only the building simulation
//! turns it on) the process can replace the wall clock with a value it sets
//! (`simulated::set`), so the wallet and Mission Control run on a simulated clock without any
//! call site changing. Until the value is set, [`now`] reads the wall clock as without the
//! feature.

use chrono::{DateTime, TimeZone, Utc};
use keyway_protocol::UnixTime;

/// The wall clock, whole seconds (the simulated clock instead, once one is set; see the module
/// documentation).
pub fn now() -> UnixTime {
    #[cfg(feature = "simulated-clock")]
    if let Some(t) = simulated::get() {
        return t;
    }
    from_datetime(Utc::now())
}

/// A process-wide clock that replaces the wall clock for every reader of [`now`] (feature
/// `simulated-clock`). One value for the whole process: every thread, Mission Control's
/// request handlers included, sees the same time. Its test lives in
/// `samples/building-sim/tests/clock.rs`, a process of its own: setting it here would move the
/// clock under this crate's other tests running in parallel.
#[cfg(feature = "simulated-clock")]
pub mod simulated {
    use keyway_protocol::UnixTime;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// `u64::MAX` means "not set": the wall clock is read.
    static NOW: AtomicU64 = AtomicU64::new(UNSET);
    const UNSET: u64 = u64::MAX;

    /// From now on [`super::now`] answers `t` (until the next `set` or [`clear`]). `UnixTime::MAX`
    /// cannot be simulated: it is the marker of an unset clock and is taken as one second less.
    pub fn set(t: UnixTime) {
        NOW.store(t.0.min(UNSET - 1), Ordering::SeqCst);
    }

    /// Moves the simulated clock forward by `secs` (from the wall clock if none is set) and
    /// returns the new time.
    pub fn advance(secs: u64) -> UnixTime {
        let next = get().unwrap_or_else(|| super::from_datetime(chrono::Utc::now())).saturating_add_secs(secs);
        set(next);
        next
    }

    /// Back to the wall clock.
    pub fn clear() {
        NOW.store(UNSET, Ordering::SeqCst);
    }

    /// The simulated time, if one is set.
    pub fn get() -> Option<UnixTime> {
        match NOW.load(Ordering::SeqCst) {
            UNSET => None,
            t => Some(UnixTime(t)),
        }
    }
}

/// Times before the epoch clamp to the epoch: nothing Keyway signs predates 1970.
pub fn from_datetime(t: DateTime<Utc>) -> UnixTime {
    UnixTime(u64::try_from(t.timestamp()).unwrap_or(0))
}

/// `None` for instants chrono cannot represent (beyond year 262143).
pub fn to_datetime(t: UnixTime) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(t.0).ok()?;
    Utc.timestamp_opt(secs, 0).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrono_round_trip_and_clamping() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap();
        let u = from_datetime(t);
        assert_eq!(to_datetime(u), Some(t));
        assert_eq!(u.to_string(), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        let before_epoch = Utc.with_ymd_and_hms(1969, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(from_datetime(before_epoch), UnixTime::EPOCH);
        assert_eq!(to_datetime(UnixTime::MAX), None);
    }

    /// The protocol crate formats times without chrono; it must agree with chrono everywhere.
    #[test]
    fn protocol_display_agrees_with_chrono() {
        let mut s: u64 = 0;
        for i in 0..20_000u64 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407 + i);
            let secs = s % 253_402_300_800; // up to 9999-12-31
            let t = UnixTime(secs);
            let expected = to_datetime(t).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(t.to_string(), expected, "{secs}");
        }
        for secs in [0, 59, 86_399, 86_400, 951_782_400, 253_402_300_799] {
            let expected = to_datetime(UnixTime(secs)).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(UnixTime(secs).to_string(), expected);
        }
    }
}
