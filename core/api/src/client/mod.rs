//! The HTTP client for Mission Control (feature `client`): one transport with a phone face
//! ([`SyncClient`]), a door face for internet-connected doors ([`DoorFeedClient`]) and, with
//! feature `manager`, a manager face (`ManagerClient`).
//!
//! Every phone call is a request the server treats as idempotent, so the client retries it on
//! network errors and 5xx answers with exponential backoff ([`RetryPolicy`]); a 4xx answer is
//! final and comes back as [`SyncError::Rejected`] with the server's [`ApiError`], but for 429,
//! which comes back as [`SyncError::TooManyRequests`] with the server's `Retry-After`: the same
//! request may succeed later.
//!
//! [`ApiError`]: crate::ApiError

mod door;
mod error;
mod http;
#[cfg(feature = "manager")]
mod manager;
mod retry;

pub use door::DoorFeedClient;
pub use error::SyncError;
pub use http::{ClientConfig, SyncClient};
#[cfg(feature = "manager")]
pub use manager::ManagerClient;
pub use retry::RetryPolicy;

#[cfg(test)]
mod tests;
