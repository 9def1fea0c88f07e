//! [`SyncClient`]: the phone's calls to Mission Control over HTTPS (rustls) or, on loopback
//! test setups, plain HTTP.

use super::error::SyncError;
use super::retry::RetryPolicy;
use crate::{
    AcceptInviteRequest, AcceptInviteResponse, ApiError, B64, DeviceCode, DoorcodesResponse, ErrorCode,
    GuestRefreshRequest, GuestRefreshResponse, InvitePreview, InvitePreviewRequest, RegisterGuestKeyRequest,
    RegisterGuestKeyResponse, SyncRequest, SyncResponse, UploadReceiptsRequest, UploadReceiptsResponse,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{KeyChain, KeyPair, Receipt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// E.g. `https://mc.example.com` or `http://127.0.0.1:8787`; no trailing path needed.
    pub base_url: String,
    /// Limit for each attempt, connection and answer included.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// 15 s per attempt and the default [`RetryPolicy`].
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig { base_url: base_url.into(), timeout: Duration::from_secs(15), retry: RetryPolicy::default() }
    }
}

/// The transport both faces of the client share: one connection pool, the base URL, one
/// request loop with one error vocabulary ([`SyncError`]). Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    base_url: String,
}

impl Http {
    pub(crate) fn new(config: &ClientConfig) -> Result<Self, SyncError> {
        let base_url = config.base_url.trim().trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(SyncError::Config(format!("base URL {base_url:?} must start with https:// or http://")));
        }
        if config.retry.max_attempts == 0 {
            return Err(SyncError::Config("max_attempts must be at least 1".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| SyncError::Config(e.to_string()))?;
        Ok(Http { client, base_url })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One request, retried on network errors and 5xx answers as `retry` allows (callers of
    /// requests that are not idempotent pass [`RetryPolicy::none`]).
    pub(crate) async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Req>,
        retry: &RetryPolicy,
    ) -> Result<Resp, SyncError> {
        let url = format!("{}{}", self.base_url, path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), &url);
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) => match classify(response).await {
                    Outcome::Done(result) => return result,
                    Outcome::Retry(failure) => failure,
                },
                Err(e) => Failure::Network(e.to_string()),
            };
            if attempt >= retry.max_attempts {
                return Err(match failure {
                    Failure::Network(detail) => SyncError::Network { attempts: attempt, detail },
                    Failure::Server(status, message) => SyncError::Server { status, attempts: attempt, message },
                });
            }
            tokio::time::sleep(retry.backoff(attempt)).await;
        }
    }
}

/// The phone's face of the client. Every phone request is idempotent, so each is retried.
/// Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct SyncClient {
    http: Http,
    retry: RetryPolicy,
}

impl SyncClient {
    /// A client for `config.base_url`; refuses a URL that is not http(s) and a retry policy
    /// with no attempts.
    pub fn new(config: ClientConfig) -> Result<Self, SyncError> {
        Ok(SyncClient { http: Http::new(&config)?, retry: config.retry })
    }

    /// The backend's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    /// Accepts an invite for this device, signing the proof of possession with `device`.
    /// Retrying soon after a lost answer is safe: the same device key gets fresh credentials
    /// (the previous device token stops working).
    pub async fn accept_invite(&self, invite_token: &str, device: &KeyPair) -> Result<AcceptInviteResponse, SyncError> {
        let body = AcceptInviteRequest::signed(invite_token, device);
        self.call(Method::POST, "/v1/phone/accept", None, Some(&body)).await
    }

    /// Keys, revocations and door data changed since `cursor` (`None`: everything).
    pub async fn sync(&self, device_token: &str, cursor: Option<&str>) -> Result<SyncResponse, SyncError> {
        let body = SyncRequest { cursor: cursor.map(str::to_string) };
        self.call(Method::POST, "/v1/phone/sync", Some(device_token), Some(&body)).await
    }

    /// Uploads door receipts (with the activity they carry). Uploading one twice is harmless.
    pub async fn upload_receipts(
        &self,
        device_token: &str,
        receipts: &[Receipt],
    ) -> Result<UploadReceiptsResponse, SyncError> {
        let body = UploadReceiptsRequest { receipts: receipts.iter().cloned().map(B64).collect() };
        self.call(Method::POST, "/v1/phone/receipts", Some(device_token), Some(&body)).await
    }

    /// Registers a guest key this device shared (`chain` = the resident's certificate and the
    /// guest key), so the manager can see and revoke it.
    pub async fn register_guest_key(
        &self,
        device_token: &str,
        chain: &KeyChain,
        label: Option<&str>,
    ) -> Result<RegisterGuestKeyResponse, SyncError> {
        let body = RegisterGuestKeyRequest { chain: B64(chain.clone()), label: label.map(str::to_string) };
        self.call(Method::POST, "/v1/phone/guest-keys", Some(device_token), Some(&body)).await
    }

    /// A guest's revalidation: its host's current certificate for `chain`, proved with the
    /// guest's device key (no account needed).
    pub async fn refresh_guest_key(
        &self,
        chain: &KeyChain,
        guest_device: &KeyPair,
        now: UnixTime,
    ) -> Result<GuestRefreshResponse, SyncError> {
        let body = GuestRefreshRequest::signed(chain, guest_device, now);
        self.call(Method::POST, "/v1/guest-keys/refresh", None, Some(&body)).await
    }

    /// What an invite token or device code is for (its property and authority keys), without
    /// spending it.
    pub async fn invite_preview(&self, invite_token: &str) -> Result<InvitePreview, SyncError> {
        let body = InvitePreviewRequest { invite_token: invite_token.trim().to_string() };
        self.call(Method::POST, "/v1/phone/invite-preview", None, Some(&body)).await
    }

    /// A one-time code that enrols another phone of this device's person (redeemed with
    /// [`SyncClient::accept_invite`] on the new phone).
    pub async fn device_code(&self, device_token: &str) -> Result<DeviceCode, SyncError> {
        self.call::<(), _>(Method::POST, "/v1/phone/device-codes", Some(device_token), None).await
    }

    /// Today's doorcodes of a doorcode holder (token from the welcome message).
    pub async fn doorcodes(&self, doorcode_token: &str) -> Result<DoorcodesResponse, SyncError> {
        self.call::<(), _>(Method::GET, "/v1/doorcodes", Some(doorcode_token), None).await
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Req>,
    ) -> Result<Resp, SyncError> {
        self.http.call(method, path, bearer, body, &self.retry).await
    }
}

enum Failure {
    Network(String),
    Server(u16, String),
}

enum Outcome<T> {
    Done(Result<T, SyncError>),
    Retry(Failure),
}

async fn classify<T: DeserializeOwned>(response: reqwest::Response) -> Outcome<T> {
    let status = response.status();
    if status.is_success() {
        return match response.json::<T>().await {
            Ok(value) => Outcome::Done(Ok(value)),
            Err(e) if e.is_decode() => Outcome::Done(Err(SyncError::Decode(e.to_string()))),
            // The answer was cut off: as good as no answer.
            Err(e) => Outcome::Retry(Failure::Network(e.to_string())),
        };
    }
    if status.is_server_error() {
        let message = match response.json::<ApiError>().await {
            Ok(e) => e.message,
            Err(_) => status.canonical_reason().unwrap_or("server error").to_string(),
        };
        return Outcome::Retry(Failure::Server(status.as_u16(), message));
    }
    let retry_after = (status == StatusCode::TOO_MANY_REQUESTS).then(|| retry_after(response.headers()));
    let error = match response.json::<ApiError>().await {
        Ok(e) => e,
        Err(_) => ApiError::new(code_for(status), status.canonical_reason().unwrap_or("refused")),
    };
    Outcome::Done(Err(match retry_after {
        Some(retry_after) => SyncError::TooManyRequests { retry_after, error },
        None => SyncError::Rejected { status: status.as_u16(), error },
    }))
}

/// `Retry-After` in seconds (the form Mission Control sends); `None` without one or for the
/// HTTP-date form.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn code_for(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        410 => ErrorCode::Gone,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::TooManyRequests,
        _ => ErrorCode::BadRequest,
    }
}
