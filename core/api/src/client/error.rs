//! Why a call to Mission Control failed.

use crate::ApiError;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The base URL or another setting cannot work.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// No answer (connection refused or reset, DNS, TLS, timeout) after every retry.
    #[error("network error after {attempts} attempts: {detail}")]
    Network { attempts: u32, detail: String },
    /// The server kept failing (5xx) after every retry.
    #[error("server error {status} after {attempts} attempts: {message}")]
    Server { status: u16, attempts: u32, message: String },
    /// The server refused the request (4xx); retrying the same request cannot help.
    #[error("refused ({status}): {error}")]
    Rejected { status: u16, error: ApiError },
    /// Too many requests (429): the same request may succeed later, after `retry_after` (the
    /// answer's `Retry-After` seconds; `None` when it gave none). Not retried by the client.
    #[error("too many requests, retry in {}: {error}", retry_after.map_or("a while".to_string(), |d| format!("{} s", d.as_secs())))]
    TooManyRequests { retry_after: Option<Duration>, error: ApiError },
    /// A 2xx answer whose body is not the expected JSON.
    #[error("unreadable answer: {0}")]
    Decode(String),
}

impl SyncError {
    /// The HTTP status of an answer that refused or failed the request.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Rejected { status, .. } | SyncError::Server { status, .. } => Some(*status),
            SyncError::TooManyRequests { .. } => Some(429),
            _ => None,
        }
    }

    /// True when the same request may succeed if made again later (429, too many requests);
    /// [`retry_after`](Self::retry_after) says when, if the server said.
    pub fn is_retryable_later(&self) -> bool {
        matches!(self, SyncError::TooManyRequests { .. })
    }

    /// How long the server asked to wait before the same request (429's `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::TooManyRequests { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True for refusals that mean the device's credentials are no longer good (401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, SyncError::Rejected { status: 401, .. })
    }
}
