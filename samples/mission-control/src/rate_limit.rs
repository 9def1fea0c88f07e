//! A token bucket per key: up to `per_minute` requests at once, refilled at `per_minute` a
//! minute. Keys are operator ids, so the map holds one entry per operator that has asked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `per_minute` is at least 1.
    pub fn new(per_minute: u32) -> Self {
        RateLimit { per_minute: per_minute.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request for `key` at `now`, or says how long until one is allowed.
    pub fn take(&self, key: i64, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: capacity, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_bounded_and_refills_over_time_per_key() {
        let limit = RateLimit::new(2);
        let t = Instant::now();
        assert!(limit.take(1, t).is_ok());
        assert!(limit.take(1, t).is_ok());
        let wait = limit.take(1, t).unwrap_err();
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(limit.take(2, t).is_ok(), "another key has its own bucket");
        assert!(limit.take(1, t + Duration::from_secs(30)).is_ok());
        assert!(limit.take(1, t + Duration::from_secs(31)).is_err());
    }

    #[test]
    fn zero_means_one() {
        let limit = RateLimit::new(0);
        assert_eq!(limit.per_minute(), 1);
        assert!(limit.take(1, Instant::now()).is_ok());
    }
}
