//! The client against a tiny scripted HTTP server on a loopback port: retries on 5xx and
//! network errors, none on 4xx, backoff between attempts, the per-attempt timeout.

use super::*;
use crate::{AccessKind, ApiError, ErrorCode, SyncResponse};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::PersonId;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the scripted server does with one request.
#[derive(Clone)]
enum Reply {
    Status(u16, String),
    /// A status, one more header line (`Name: value`) and a body.
    Headed(u16, &'static str, String),
    /// Close the connection without answering.
    Hang(Duration),
}

/// Serves `script` in order (the last entry repeats) and records each request's head.
async fn scripted_server(script: Vec<Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let reply = script[n.min(script.len() - 1)].clone();
            n += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then the body its Content-Length announces.
                loop {
                    let Ok(k) = stream.read(&mut chunk).await else { return };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            log.lock().unwrap().push(text);
                            break;
                        }
                    }
                }
                let reply = match reply {
                    Reply::Status(code, body) => Ok((code, String::new(), body)),
                    Reply::Headed(code, header, body) => Ok((code, format!("{header}\r\n"), body)),
                    Reply::Hang(d) => Err(d),
                };
                match reply {
                    Ok((code, extra, body)) => {
                        let response = format!(
                            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(response.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    }
                    Err(d) => tokio::time::sleep(d).await,
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn sync_body() -> String {
    serde_json::to_string(&SyncResponse {
        cursor: "c1".into(),
        full: true,
        server_time: UnixTime(1_800_000_000),
        person_id: PersonId(7),
        access: AccessKind::AppKey,
        person_deleted: false,
        trust_anchors: vec![],
        keys: vec![],
        guest_keys: vec![],
        revocations: vec![],
        doors: vec![],
        time: None,
        rotations: Vec::new(),
    })
    .unwrap()
}

fn error_body(code: ErrorCode, message: &str) -> String {
    serde_json::to_string(&ApiError::new(code, message)).unwrap()
}

fn client(base: &str, attempts: u32, timeout: Duration) -> SyncClient {
    SyncClient::new(ClientConfig {
        base_url: base.to_string(),
        timeout,
        retry: RetryPolicy {
            max_attempts: attempts,
            initial_backoff: Duration::from_millis(40),
            max_backoff: Duration::from_millis(200),
        },
    })
    .unwrap()
}

#[tokio::test]
async fn two_503_then_ok_is_retried_with_backoff() {
    let unavailable = Reply::Status(503, error_body(ErrorCode::Internal, "busy"));
    let (base, seen) = scripted_server(vec![unavailable.clone(), unavailable, Reply::Status(200, sync_body())]).await;
    let started = Instant::now();
    let answer = client(&base, 5, Duration::from_secs(5)).sync("device-token", Some("c0")).await.unwrap();
    assert_eq!(answer.person_id, PersonId(7));
    assert_eq!(answer.cursor, "c1");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "one try and two retries");
    // The waits were 40 ms then 80 ms.
    assert!(started.elapsed() >= Duration::from_millis(120), "{:?}", started.elapsed());
    for request in seen.iter() {
        assert!(request.starts_with("POST /v1/phone/sync "), "{request}");
        assert!(request.to_ascii_lowercase().contains("authorization: bearer device-token"), "{request}");
        assert!(request.contains("\"cursor\":\"c0\""), "same body on every attempt: {request}");
    }
}

#[tokio::test]
async fn a_4xx_is_final_and_carries_the_servers_error() {
    let (base, seen) = scripted_server(vec![
        Reply::Status(401, error_body(ErrorCode::Unauthorized, "unknown device token")),
        Reply::Status(200, sync_body()),
    ])
    .await;
    let err = client(&base, 5, Duration::from_secs(5)).sync("bad", None).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    match err {
        SyncError::Rejected { status: 401, error } => assert_eq!(error.message, "unknown device token"),
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "no retry after a refusal");
}

/// 429 is not a final refusal like other 4xx, nor "unavailable": the same request may succeed
/// after the `Retry-After` the server sent, so it comes back as such (and is not retried at once).
#[tokio::test]
async fn a_429_comes_back_as_retryable_later_with_the_servers_retry_after() {
    let busy = error_body(ErrorCode::TooManyRequests, "retry in 42 s");
    let (base, seen) =
        scripted_server(vec![Reply::Headed(429, "Retry-After: 42", busy.clone()), Reply::Status(200, sync_body())])
            .await;
    let err = client(&base, 5, Duration::from_secs(5)).sync("t", None).await.unwrap_err();
    assert!(err.is_retryable_later() && !err.is_unauthorized(), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));
    assert_eq!(err.status(), Some(429));
    match &err {
        SyncError::TooManyRequests { error, .. } => assert_eq!(error.code, ErrorCode::TooManyRequests),
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "not retried at once");

    // Without the header (or with the date form) the wait is unknown; without a JSON body the
    // code still says what it is.
    let (base, _) = scripted_server(vec![Reply::Status(429, "slow down".into())]).await;
    let err = client(&base, 5, Duration::from_secs(5)).sync("t", None).await.unwrap_err();
    assert!(err.is_retryable_later() && err.retry_after().is_none(), "{err:?}");
    let SyncError::TooManyRequests { error, .. } = err else { panic!() };
    assert_eq!(error.code, ErrorCode::TooManyRequests);
    let dated = Reply::Headed(429, "Retry-After: Wed, 21 Oct 2037 07:28:00 GMT", busy);
    let (base, _) = scripted_server(vec![dated]).await;
    let err = client(&base, 5, Duration::from_secs(5)).sync("t", None).await.unwrap_err();
    assert!(err.is_retryable_later() && err.retry_after().is_none(), "{err:?}");
    // Other refusals are not.
    let (base, _) = scripted_server(vec![Reply::Status(403, error_body(ErrorCode::Forbidden, "no"))]).await;
    let err = client(&base, 5, Duration::from_secs(5)).sync("t", None).await.unwrap_err();
    assert!(!err.is_retryable_later() && err.retry_after().is_none(), "{err:?}");
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_max_attempts() {
    let (base, seen) = scripted_server(vec![Reply::Status(500, "not json".into())]).await;
    let err = client(&base, 3, Duration::from_secs(5)).sync("t", None).await.unwrap_err();
    assert!(matches!(err, SyncError::Server { status: 500, attempts: 3, .. }), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_hanging_server_times_out_per_attempt_then_recovers() {
    let (base, seen) =
        scripted_server(vec![Reply::Hang(Duration::from_secs(10)), Reply::Status(200, sync_body())]).await;
    let answer = client(&base, 3, Duration::from_secs(1)).sync("t", None).await.unwrap();
    assert_eq!(answer.cursor, "c1");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_a_network_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}"), 2, Duration::from_secs(2)).sync("t", None).await.unwrap_err();
    assert!(matches!(err, SyncError::Network { attempts: 2, .. }), "{err:?}");
}

#[tokio::test]
async fn a_2xx_with_the_wrong_body_is_a_decode_error_not_retried() {
    let (base, seen) = scripted_server(vec![Reply::Status(200, "{\"cursor\":5}".into())]).await;
    let err = client(&base, 4, Duration::from_secs(2)).sync("t", None).await.unwrap_err();
    assert!(matches!(err, SyncError::Decode(_)), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn bad_configuration_is_refused() {
    assert!(matches!(SyncClient::new(ClientConfig::new("ftp://x")), Err(SyncError::Config(_))));
    let mut config = ClientConfig::new("http://127.0.0.1:1/");
    config.retry.max_attempts = 0;
    assert!(matches!(SyncClient::new(config), Err(SyncError::Config(_))));
    assert_eq!(SyncClient::new(ClientConfig::new("http://127.0.0.1:1/")).unwrap().base_url(), "http://127.0.0.1:1");
}
