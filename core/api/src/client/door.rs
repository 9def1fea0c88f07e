//! [`DoorFeedClient`]: an internet-connected door's calls to Mission Control.

use super::error::SyncError;
use super::http::{ClientConfig, Http};
use super::retry::RetryPolicy;
use crate::{
    B64, FeedChallengeRequest, FeedChallengeResponse, FeedSessionRequest, FeedSessionResponse, FeedUpdatesResponse,
    MAX_FEED_WAIT_SECS, UploadReceiptsRequest, UploadReceiptsResponse,
};
use keyway_protocol::credential::{DoorId, FeedHello, Receipt};
use reqwest::Method;
use std::time::Duration;

/// The door's face of the client. A feed poll is held open by the server for up to
/// `wait_secs`, so each attempt may take that long on top of the configured timeout.
#[derive(Clone, Debug)]
pub struct DoorFeedClient {
    http: Http,
    retry: RetryPolicy,
}

impl DoorFeedClient {
    /// A client for `config.base_url`; its per-attempt timeout is raised to cover the longest
    /// feed poll.
    pub fn new(mut config: ClientConfig) -> Result<Self, SyncError> {
        config.timeout = config.timeout.max(Duration::from_secs(u64::from(MAX_FEED_WAIT_SECS) + 10));
        Ok(DoorFeedClient { http: Http::new(&config)?, retry: config.retry })
    }

    /// The backend's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    /// A fresh challenge for `door` to sign.
    pub async fn challenge(&self, door: DoorId) -> Result<FeedChallengeResponse, SyncError> {
        let body = FeedChallengeRequest { door_id: door };
        self.http.call(Method::POST, "/v1/door-feed/challenge", None, Some(&body), &self.retry).await
    }

    /// Opens a feed session with the signed challenge (single-use: not retried).
    pub async fn session(&self, hello: &FeedHello) -> Result<FeedSessionResponse, SyncError> {
        let body = FeedSessionRequest { hello: B64(hello.clone()) };
        self.http.call(Method::POST, "/v1/door-feed/session", None, Some(&body), &RetryPolicy::none()).await
    }

    /// The door's updates after `after`, waiting up to `wait_secs` for one to appear.
    pub async fn updates(&self, session: &str, after: u64, wait_secs: u32) -> Result<FeedUpdatesResponse, SyncError> {
        let path = format!("/v1/door-feed/updates?after={after}&wait_secs={}", wait_secs.min(MAX_FEED_WAIT_SECS));
        self.http.call::<(), _>(Method::GET, &path, Some(session), None, &RetryPolicy::none()).await
    }

    /// Posts the door's own receipts. Posting one twice is harmless.
    pub async fn receipts(&self, session: &str, receipts: &[Receipt]) -> Result<UploadReceiptsResponse, SyncError> {
        let body = UploadReceiptsRequest { receipts: receipts.iter().cloned().map(B64).collect() };
        self.http.call(Method::POST, "/v1/door-feed/receipts", Some(session), Some(&body), &self.retry).await
    }
}
