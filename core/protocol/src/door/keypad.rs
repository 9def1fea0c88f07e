//! Rate limit for the keypad and card reader.
//!
//! At most [`MAX_WRONG_ATTEMPTS`] wrong entries within any [`WINDOW_SECS`] seconds; further
//! attempts in that window are refused as `RateLimited` without being checked (and are not
//! counted, so the keypad opens again one minute after the oldest of the five counted failures,
//! however often it is tried meanwhile). Together with 8-digit codes this bounds a keypad
//! attacker (see `credential::doorcode`).

use crate::UnixTime;
use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

/// Wrong keypad or card entries allowed within [`WINDOW_SECS`]; once reached, further attempts
/// are refused as `RateLimited` until the oldest of them leaves the window.
pub const MAX_WRONG_ATTEMPTS: usize = 5;
/// Length of the sliding window, in seconds of the door's clock, over which wrong entries count.
pub const WINDOW_SECS: u64 = 60;

/// The times of the most recent wrong entries (at most [`MAX_WRONG_ATTEMPTS`], oldest first),
/// persisted with the door state so a restart does not reset the limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLimiter {
    failures: VecDeque<UnixTime>,
}

impl AttemptLimiter {
    /// Whether [`MAX_WRONG_ATTEMPTS`] wrong entries lie within the [`WINDOW_SECS`] before `now`
    /// (the door's clock), so the next attempt is refused without being checked.
    pub fn is_limited(&self, now: UnixTime) -> bool {
        let window_start = now.saturating_sub_secs(WINDOW_SECS);
        self.failures.iter().filter(|t| **t > window_start).count() >= MAX_WRONG_ATTEMPTS
    }

    pub(crate) fn record_failure(&mut self, now: UnixTime) {
        if self.failures.len() >= MAX_WRONG_ATTEMPTS {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
    }

    pub(crate) fn is_consistent(&self) -> bool {
        self.failures.len() <= MAX_WRONG_ATTEMPTS
    }
}
