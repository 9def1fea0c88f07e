//! The wall clock and chrono conversions for the std side of Keyway.
//!
//! The protocol crate's [`UnixTime`] has no clock of its own: sessions and the door engine take
//! the time from their caller. Phones, Mission Control and the door simulator read it here.

use chrono::{DateTime, TimeZone, Utc};
use keyway_protocol::UnixTime;

/// The wall clock, whole seconds.
pub fn now() -> UnixTime {
    from_datetime(Utc::now())
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
