//! Rate limit for the keypad and card reader.
//!
//! At most [`MAX_WRONG_ATTEMPTS`] wrong entries within any [`WINDOW_SECS`] seconds; further
//! attempts in that window are refused as `RateLimited` without being checked (and are not
//! counted, so the keypad opens again one minute after the last counted failure). Together with
//! 8-digit codes this bounds a keypad attacker (see `credential::doorcode`).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::UnixTime;
use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

pub const MAX_WRONG_ATTEMPTS: usize = 5;
pub const WINDOW_SECS: u64 = 60;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLimiter {
    failures: VecDeque<UnixTime>,
}

impl AttemptLimiter {
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
