//! Time as it is signed: whole seconds since the Unix epoch, UTC.
//!
//! Everything signed carries `UnixTime` (an unsigned integer, unambiguous, no leap-second or
//! time-zone interpretation). There is no clock here: every session and the door engine take
//! the time from their caller (`keyway_api::clock` reads the wall clock on the std side).

use core::fmt;
use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: UnixTime = UnixTime(0);
    /// The latest representable instant.
    pub const MAX: UnixTime = UnixTime(u64::MAX);

    /// The instant `secs` seconds after the epoch.
    pub fn from_secs(secs: u64) -> Self {
        UnixTime(secs)
    }

    /// Seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0
    }

    /// `self + secs`, saturating at [`UnixTime::MAX`].
    pub fn saturating_add_secs(self, secs: u64) -> Self {
        UnixTime(self.0.saturating_add(secs))
    }

    /// `self - secs`, saturating at [`UnixTime::EPOCH`].
    pub fn saturating_sub_secs(self, secs: u64) -> Self {
        UnixTime(self.0.saturating_sub(secs))
    }
}

/// Days since 1970-01-01 to the proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for UnixTime {
    /// RFC 3339 in UTC (`2026-12-01T08:30:00Z`) up to the year 9999, `@secs` beyond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LAST: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        if self.0 > LAST {
            return write!(f, "@{}", self.0);
        }
        let days = (self.0 / 86_400) as i64;
        let rem = self.0 % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem / 60 % 60, rem % 60)
    }
}
