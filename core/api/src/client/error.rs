//! Why a call to Mission Control failed.

use crate::ApiError;

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
    /// A 2xx answer whose body is not the expected JSON.
    #[error("unreadable answer: {0}")]
    Decode(String),
}

impl SyncError {
    /// The HTTP status of an answer that refused or failed the request.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Rejected { status, .. } | SyncError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for refusals that mean the device's credentials are no longer good (401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, SyncError::Rejected { status: 401, .. })
    }
}
