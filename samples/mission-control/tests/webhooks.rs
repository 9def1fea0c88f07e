//! Webhooks against a receiver on this machine: every post is signed, a receiver that fails
//! twice gets the event on the third attempt, events arrive in order, a deleted endpoint is
//! sent nothing more, and a door that stays silent is reported once.

mod common;

use axum::http::{HeaderMap, StatusCode};
use common::*;
use hmac::{Hmac, Mac};
use keyway_api::AccessKind;
use mission_control::{ServerOptions, WebhookOptions};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
struct Post {
    signature: String,
    event_header: String,
    delivery_header: String,
    body: Vec<u8>,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    posts: Mutex<Vec<Post>>,
    /// Answer 500 to this many posts first.
    fail_first: Mutex<u32>,
}

impl Receiver {
    fn delivered(&self) -> Vec<Value> {
        let posts = self.posts.lock().unwrap();
        posts.iter().filter(|p| p.answered == 200).map(|p| serde_json::from_slice(&p.body).unwrap()).collect()
    }
}

async fn receiver(fail_first: u32) -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver { fail_first: Mutex::new(fail_first), ..Default::default() });
    let handler_state = state.clone();
    let app = axum::Router::new().route(
        "/hooks/keyway",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = handler_state.clone();
            async move {
                let status = {
                    let mut fail = state.fail_first.lock().unwrap();
                    if *fail > 0 {
                        *fail -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                };
                let header =
                    |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                state.posts.lock().unwrap().push(Post {
                    signature: header("x-keyway-signature"),
                    event_header: header("x-keyway-event"),
                    delivery_header: header("x-keyway-delivery"),
                    body: body.to_vec(),
                    answered: status.as_u16(),
                });
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/keyway", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

fn fast_webhooks() -> ServerOptions {
    ServerOptions {
        webhooks: WebhookOptions {
            allow_private_targets: true,
            max_attempts: 5,
            retry_base: Duration::from_secs(1),
            poll_interval: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
        },
        ..ServerOptions::open_property_creation()
    }
}

/// Checks `t=<unix>,v1=<hex>` against the secret, as a receiver would.
fn verifies(secret: &str, signature: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = signature.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let Ok(expected) = hex::decode(v1) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let fresh = t.parse::<u64>().is_ok_and(|t| now().0.abs_diff(t) < 300);
    fresh && mac.verify_slice(&expected).is_ok()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn events_are_signed_retried_in_order_and_stop_with_the_endpoint() {
    let mc = Mc::start_with(fast_webhooks()).await;
    let p = property(&mc, "Elm Court").await;
    let (rx, url) = receiver(2).await;

    // Only a Portfolio Manager registers endpoints.
    let (status, clerk) =
        mc.call(Method::POST, "/v1/managers", Some(&p.pm), Some(json!({"name": "Cleo", "key_management": true}))).await;
    assert_eq!(status, 200, "{clerk}");
    let (status, refused) =
        mc.call(Method::POST, "/v1/webhooks", clerk["token"].as_str(), Some(json!({"url": url}))).await;
    assert_eq!(status, 403, "{refused}");
    let (status, refused) =
        mc.call(Method::POST, "/v1/webhooks", Some(&p.pm), Some(json!({"url": url, "events": ["person.moved"]}))).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("person.moved"), "{refused}");

    let (status, created) = mc
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(&p.pm),
            Some(json!({"url": url, "events": ["person.invited", "keys.revoked", "person.deleted"]})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["endpoint"]["webhook_id"].as_u64().unwrap();
    let listed: Value = mc.get("/v1/webhooks", &p.pm).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret), "the secret is shown once: {listed}");

    let doors = [p.lobby.door_id];
    let (ann, _) = invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&doors, None, None)], false).await;
    let (bob, _) = invite(&mc, &p.pm, "Bob", AccessKind::DailyDoorcode, vec![grant(&doors, None, None)], false).await;
    let ann_id = ann.person.person_id.0;
    let bob_id = bob.person.person_id.0;
    let _: Value = mc.ok(Method::POST, &format!("/v1/people/{ann_id}/revoke-all"), &p.pm, None::<()>).await;
    let _: Value = mc.ok(Method::DELETE, &format!("/v1/people/{bob_id}"), &p.pm, None::<()>).await;

    wait_for("four delivered events", || rx.delivered().len() >= 4).await;
    let posts = rx.posts.lock().unwrap().clone();
    for post in &posts {
        assert!(verifies(&secret, &post.signature, &post.body), "bad signature {post:?}");
        assert!(!verifies("whsec_other", &post.signature, &post.body));
        let event: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(post.event_header, event["type"]);
        assert_eq!(post.delivery_header, event["id"].to_string());
    }
    // The first event failed twice and went through on its third attempt; nothing overtook it.
    let ids: Vec<u64> =
        posts.iter().map(|p| serde_json::from_slice::<Value>(&p.body).unwrap()["id"].as_u64().unwrap()).collect();
    assert_eq!(posts.iter().map(|p| p.answered).collect::<Vec<_>>()[..3], [500, 500, 200]);
    assert_eq!(ids[..3], [ids[0]; 3], "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "out of order: {ids:?}");
    let delivered = rx.delivered();
    let kinds: Vec<&str> = delivered.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["person.invited", "person.invited", "keys.revoked", "person.deleted"]);
    assert_eq!(delivered[0]["data"]["person_id"], ann_id);
    assert_eq!(delivered[0]["data"]["name"], "Ann");
    assert_eq!(delivered[1]["data"]["person_id"], bob_id);
    assert_eq!(delivered[2]["data"]["person_id"], ann_id);
    assert_eq!(delivered[3]["data"]["person_id"], bob_id);
    assert_eq!(delivered[0]["property_id"], p.id);

    let log: Value = mc.get(&format!("/v1/webhooks/{id}/deliveries"), &p.pm).await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[0]["attempts"], 3, "{:?}", log[0]);
    assert_eq!(log[0]["state"], "delivered");
    assert!(log.iter().all(|d| d["state"] == "delivered" && d["last_status"] == 200), "{log:?}");

    // Deleted: the next change sends nothing.
    let deleted: Value = mc.ok(Method::DELETE, &format!("/v1/webhooks/{id}"), &p.pm, None::<()>).await;
    assert!(deleted["deleted_at"].is_u64(), "{deleted}");
    let before = rx.posts.lock().unwrap().len();
    invite(&mc, &p.pm, "Cy", AccessKind::AppKey, vec![grant(&doors, None, None)], false).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(rx.posts.lock().unwrap().len(), before, "a deleted endpoint was posted to");
    let listed: Value = mc.get("/v1/webhooks", &p.pm).await;
    assert_eq!(listed, json!([]));
    let (status, _) = mc.call(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&p.pm), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_receiver_that_never_answers_well_gets_bounded_attempts() {
    let mut options = fast_webhooks();
    options.webhooks.max_attempts = 2;
    let mc = Mc::start_with(options).await;
    let p = property(&mc, "Elm Court").await;
    let (rx, url) = receiver(u32::MAX).await;
    let created: Value = mc.ok(Method::POST, "/v1/webhooks", &p.pm, Some(json!({"url": url}))).await;
    let id = created["endpoint"]["webhook_id"].as_u64().unwrap();
    let doors = [p.lobby.door_id];
    invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&doors, None, None)], false).await;
    invite(&mc, &p.pm, "Bob", AccessKind::AppKey, vec![grant(&doors, None, None)], false).await;
    // Two attempts each (1 s apart), then failed; the second event goes after the first failed.
    wait_for("four attempts", || rx.posts.lock().unwrap().len() >= 4).await;
    let path = format!("/v1/webhooks/{id}/deliveries");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log: Value = mc.get(&path, &p.pm).await;
        let log = log.as_array().unwrap().clone();
        if log.iter().all(|d| d["state"] == "failed") {
            assert_eq!(log.len(), 2);
            assert!(log.iter().all(|d| d["attempts"] == 2 && d["last_status"] == 500), "{log:?}");
            assert!(log[0]["last_error"].as_str().unwrap().contains("500"), "{log:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.posts.lock().unwrap().len(), 4, "no attempt beyond max_attempts");
}

#[tokio::test]
async fn production_servers_refuse_private_targets() {
    let mc = Mc::start_with(ServerOptions {
        webhooks: WebhookOptions::default(),
        ..ServerOptions::open_property_creation()
    })
    .await;
    let p = property(&mc, "Elm Court").await;
    for url in ["http://127.0.0.1:9/x", "http://10.0.0.7/x", "http://localhost/x", "http://[::1]/x"] {
        let (status, body) = mc.call(Method::POST, "/v1/webhooks", Some(&p.pm), Some(json!({"url": url}))).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body["message"].as_str().unwrap().contains("private"), "{body}");
    }
}
