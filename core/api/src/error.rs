//! The error body of every refused request.

use serde::{Deserialize, Serialize};

/// What kind of refusal; mirrors the HTTP status so clients need not parse messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, a bad field value or an impossible request.
    BadRequest,
    /// 401: missing or unknown bearer token.
    Unauthorized,
    /// 403: the manager lacks the permission (the message says whom to ask).
    Forbidden,
    /// 404: unknown id, or an id of another property.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (invite already used, duplicate card).
    Conflict,
    /// 410: the thing existed but is gone for good (a deleted person's invite).
    Gone,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 429: too many requests of this kind from this credential. The answer's `Retry-After`
    /// header holds the seconds to wait, and the message says them too; the same request may
    /// then succeed.
    TooManyRequests,
    /// 500: a fault of the server itself; retrying may help.
    Internal,
    /// 503: the server is busy (a bounded table is full); retry shortly.
    Unavailable,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}
