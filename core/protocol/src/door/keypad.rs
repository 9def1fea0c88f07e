//! Guessing limits for the keypad and the card reader: one [`AttemptLimiter`] per source, so
//! wrong cards never lock the keypad and wrong codes never lock the card reader (and app keys,
//! which are signed, are never limited at all).
//!
//! Every [`FREE_ATTEMPTS`]-th wrong entry locks the source; the lockouts grow from
//! [`FIRST_LOCKOUT_SECS`] by doubling to at most [`MAX_LOCKOUT_SECS`] (bounded: whoever types
//! wrong codes can keep others off the keypad only while they keep at it, an hour at a time).
//! Attempts during a lockout are refused as `RateLimited` unchecked and do not count. The count
//! of wrong entries is forgotten only after [`QUIET_RESET_SECS`] without one: a success does
//! not reset it, or a resident with a code of their own could interleave it with guesses.
//!
//! Bound: in any 24 hours at most `FREE_ATTEMPTS × (24 + 7)` = 155 attempts are checked (the
//! first 7 lockouts last 1 + 2 + … + 32 minutes and 60 minutes, then every lockout lasts an
//! hour, and a reset needs a quiet day), so at most 56,575 a year. With 10-digit codes (see
//! `credential::doorcode`) and 1,024 active slots a year of optimal guessing succeeds with
//! probability at most 56,575 × 1,024 / 10^10 < 0.58 % per door (50 slots: < 0.03 %).

use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// Wrong entries between two lockouts.
pub const FREE_ATTEMPTS: u32 = 5;
/// The first lockout, in seconds of the door's clock; each further one doubles.
pub const FIRST_LOCKOUT_SECS: u64 = 60;
/// The longest lockout: no source is ever locked for longer at a time.
pub const MAX_LOCKOUT_SECS: u64 = 3_600;
/// Time without a wrong entry after which the count starts again from zero.
pub const QUIET_RESET_SECS: u64 = 86_400;
/// Attempts checked in any 24 hours, at most (the documented bound, see the module docs).
pub const MAX_CHECKED_PER_DAY: u64 = FREE_ATTEMPTS as u64 * (24 + 7);

/// One source's wrong entries, persisted with the door state so a restart does not reset them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLimiter {
    failures: u32,
    last_failure: UnixTime,
    locked_until: UnixTime,
}

impl AttemptLimiter {
    /// Whether the source is locked at `now` (the door's clock): the next attempt is refused
    /// without being checked.
    pub fn is_limited(&self, now: UnixTime) -> bool {
        now < self.locked_until
    }

    /// When the current lockout ends (the epoch if the source was never locked).
    pub fn locked_until(&self) -> UnixTime {
        self.locked_until
    }

    /// Wrong entries counted since the last quiet day.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub(crate) fn record_failure(&mut self, now: UnixTime) {
        if self.failures > 0 && now >= self.last_failure.saturating_add_secs(QUIET_RESET_SECS) {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures.is_multiple_of(FREE_ATTEMPTS) {
            let lockouts = self.failures / FREE_ATTEMPTS;
            let secs = FIRST_LOCKOUT_SECS.checked_shl(lockouts - 1).unwrap_or(u64::MAX).min(MAX_LOCKOUT_SECS);
            self.locked_until = now.saturating_add_secs(secs);
        }
    }

    /// Carries over a limiter saved by door state v1 (the times of up to five recent wrong
    /// entries in a one-minute window): its count, and its lockout if it was locked.
    pub(crate) fn from_v1(failures: &[UnixTime]) -> Self {
        let mut limiter = AttemptLimiter::default();
        for t in failures {
            limiter.record_failure(*t);
        }
        limiter
    }

    pub(crate) fn is_consistent(&self) -> bool {
        self.locked_until <= self.last_failure.saturating_add_secs(MAX_LOCKOUT_SECS)
            && (self.failures > 0 || self.locked_until == UnixTime::EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn lockouts_double_up_to_an_hour_and_a_quiet_day_resets() {
        let mut l = AttemptLimiter::default();
        let mut t = UnixTime(1_000_000);
        let mut lockouts = Vec::new();
        for _ in 0..10 {
            for _ in 0..FREE_ATTEMPTS {
                assert!(!l.is_limited(t));
                l.record_failure(t);
            }
            assert!(l.is_limited(t));
            lockouts.push(l.locked_until().0 - t.0);
            t = l.locked_until();
        }
        assert_eq!(lockouts, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        t = t.saturating_add_secs(QUIET_RESET_SECS);
        l.record_failure(t);
        assert_eq!(l.failures(), 1);
        assert!(l.is_consistent());
    }
}
