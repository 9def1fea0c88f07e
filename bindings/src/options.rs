//! Per-call options: how long an unlock may take, and how patient a backend call is. Each
//! argument is optional in the app's language; the defaults are the core's.

use crate::error::KeywayError;
use keyway_wallet::{HttpOptions, UnlockOptions as CoreUnlockOptions};
use std::time::Duration;

/// How an unlock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct UnlockOptions {
    /// Bound on the whole exchange with the door, in milliseconds (at least 1).
    #[uniffi(default = 10000)]
    pub timeout_ms: u32,
}

/// How a call to the backend (accept an invite, sync, upload) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct NetworkOptions {
    /// Bound on each attempt, connection and answer included, in milliseconds (at least 1).
    #[uniffi(default = 15000)]
    pub timeout_ms: u32,
    /// Attempts in all, retries included (at least 1); network errors and 5xx answers are
    /// retried with exponential backoff.
    #[uniffi(default = 5)]
    pub attempts: u32,
}

impl Default for UnlockOptions {
    fn default() -> Self {
        UnlockOptions { timeout_ms: millis(CoreUnlockOptions::default().timeout) }
    }
}

impl Default for NetworkOptions {
    fn default() -> Self {
        let core = HttpOptions::default();
        NetworkOptions { timeout_ms: millis(core.timeout), attempts: core.attempts }
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn positive(value: u32, what: &str) -> Result<u32, KeywayError> {
    if value == 0 {
        return Err(KeywayError::InvalidInput { reason: format!("{what} must be at least 1") });
    }
    Ok(value)
}

impl UnlockOptions {
    pub(crate) fn to_core(self) -> Result<CoreUnlockOptions, KeywayError> {
        let ms = positive(self.timeout_ms, "the unlock timeout")?;
        Ok(CoreUnlockOptions { timeout: Duration::from_millis(u64::from(ms)) })
    }
}

impl NetworkOptions {
    pub(crate) fn to_core(self) -> Result<HttpOptions, KeywayError> {
        let ms = positive(self.timeout_ms, "the network timeout")?;
        let attempts = positive(self.attempts, "the number of attempts")?;
        Ok(HttpOptions { timeout: Duration::from_millis(u64::from(ms)), attempts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults the generated code declares (the `#[uniffi(default)]` literals) are the
    /// core's.
    #[test]
    fn declared_defaults_are_the_cores() {
        assert_eq!(UnlockOptions::default(), UnlockOptions { timeout_ms: 10000 });
        assert_eq!(NetworkOptions::default(), NetworkOptions { timeout_ms: 15000, attempts: 5 });
    }

    #[test]
    fn zero_is_refused() {
        assert!(matches!(UnlockOptions { timeout_ms: 0 }.to_core(), Err(KeywayError::InvalidInput { .. })));
        let none = NetworkOptions { attempts: 0, ..Default::default() };
        assert!(matches!(none.to_core(), Err(KeywayError::InvalidInput { .. })));
        assert_eq!(UnlockOptions { timeout_ms: 250 }.to_core().unwrap().timeout, Duration::from_millis(250));
    }
}
