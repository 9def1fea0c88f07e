//! Time as it is signed: whole seconds since the Unix epoch, UTC.
//!
//! Everything signed carries `UnixTime` (an unsigned integer, unambiguous, no leap-second or
//! time-zone interpretation). Conversions to and from `chrono` happen at the API surface only.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

impl UnixTime {
    pub const EPOCH: UnixTime = UnixTime(0);
    pub const MAX: UnixTime = UnixTime(u64::MAX);

    pub fn from_secs(secs: u64) -> Self {
        UnixTime(secs)
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    /// The wall clock. Only callers outside the sans-IO layers use this.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Times before the epoch clamp to the epoch: nothing Keyway signs predates 1970.
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        UnixTime(u64::try_from(t.timestamp()).unwrap_or(0))
    }

    /// `None` for instants chrono cannot represent (beyond year 262143).
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        let secs = i64::try_from(self.0).ok()?;
        Utc.timestamp_opt(secs, 0).single()
    }

    pub fn saturating_add_secs(self, secs: u64) -> Self {
        UnixTime(self.0.saturating_add(secs))
    }

    pub fn saturating_sub_secs(self, secs: u64) -> Self {
        UnixTime(self.0.saturating_sub(secs))
    }
}

impl From<DateTime<Utc>> for UnixTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self::from_datetime(t)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
            None => write!(f, "@{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrono_round_trip_and_clamping() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap();
        let u = UnixTime::from(t);
        assert_eq!(u.to_datetime(), Some(t));
        assert_eq!(u.to_string(), "2026-12-01T08:30:00Z");
        let before_epoch = Utc.with_ymd_and_hms(1969, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(UnixTime::from(before_epoch), UnixTime::EPOCH);
        assert_eq!(UnixTime::MAX.to_datetime(), None);
    }
}
