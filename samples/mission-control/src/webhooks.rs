//! Webhooks for property-management integrations.
//!
//! A Portfolio Manager registers an endpoint (`POST /v1/webhooks`); its secret is shown once.
//! A domain change that integrators care about writes its event with [`emit`] in the change's
//! own transaction (the outbox `webhook_events`, one `webhook_deliveries` row per endpoint
//! subscribed at that moment): the event exists if and only if the change committed. A
//! background task ([`run`]) posts each endpoint's deliveries in event order, one at a time:
//! a delivery that fails is retried with exponential backoff and holds back the later ones
//! of that endpoint until it succeeds or runs out of attempts (then `failed`, and the next one
//! goes). A deleted endpoint is sent nothing more.
//!
//! Each post is `POST <url>` with a JSON [`WebhookEvent`] and
//! `X-Keyway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the
//! receiver recomputes it over the raw body, compares in constant time, and refuses a `t` far
//! from its clock (replays). `X-Keyway-Event` names the type, `X-Keyway-Delivery` the event id
//! (the same on every retry: receivers deduplicate by it).
//!
//! Targets: a server started with [`WebhookOptions::allow_private_targets`] off (the default)
//! refuses URLs whose host is a loopback, private, link-local or unspecified IP address, or
//! `localhost`. That check sees the URL only; a production deployment should also resolve names
//! and refuse private addresses at connect time (an egress proxy), since a public name can
//! point inside the network.

use crate::auth::Manager;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use hmac::{Hmac, Mac};
use keyway_protocol::UnixTime;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

/// Every event type, as `events` names them.
pub const EVENT_TYPES: [&str; 6] =
    [PERSON_INVITED, KEYS_REVOKED, PERSON_DELETED, DOOR_UPDATE_DELIVERED, DOOR_UPDATE_REJECTED, DOOR_SILENT];
pub const PERSON_INVITED: &str = "person.invited";
pub const KEYS_REVOKED: &str = "keys.revoked";
pub const PERSON_DELETED: &str = "person.deleted";
pub const DOOR_UPDATE_DELIVERED: &str = "door_update.delivered";
pub const DOOR_UPDATE_REJECTED: &str = "door_update.rejected";
pub const DOOR_SILENT: &str = "door.silent";

/// Most live endpoints per property.
pub const MAX_ENDPOINTS: i64 = 20;
/// Deliveries `GET /v1/webhooks/{id}/deliveries` lists (the newest).
pub const DELIVERY_LOG_LEN: i64 = 500;
/// Default and bounds of `door_silent_after_secs`.
pub const DEFAULT_DOOR_SILENT_AFTER_SECS: u64 = 86_400;
const DOOR_SILENT_BOUNDS: std::ops::RangeInclusive<u64> = 60..=30 * 86_400;

/// How the delivery task behaves.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Accept endpoints on loopback and private addresses (tests, demos; off by default).
    pub allow_private_targets: bool,
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles with each further one (capped at an hour).
    pub retry_base: Duration,
    /// How often the task looks for due deliveries and silent doors.
    pub poll_interval: Duration,
    /// Timeout of one post.
    pub request_timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            allow_private_targets: false,
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}

// ---- the wire types ------------------------------------------------------------------------

/// `POST /v1/webhooks` (Portfolio Manager).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://…` (or `http://`), at most 2000 characters.
    pub url: String,
    /// The event types to send; every type when absent.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Report a door with no contact (receipt or feed) for this long, 60 s to 30 days
    /// (default a day).
    #[serde(default)]
    pub door_silent_after_secs: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    pub webhook_id: u64,
    pub url: String,
    pub events: Vec<String>,
    pub door_silent_after_secs: u64,
    pub created_at: u64,
    /// Set once deleted (the answer to `DELETE`); nothing is sent after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
}

/// The answer to registration: the endpoint and its signing secret, shown this once.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    pub endpoint: WebhookEndpoint,
    /// The HMAC-SHA256 key of `X-Keyway-Signature` (hex of 32 random bytes, `whsec_` first).
    pub secret: String,
}

/// What is posted.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEvent {
    /// Increasing per server: a receiver that has seen this id has the event.
    pub id: u64,
    /// One of `person.invited`, `keys.revoked`, `person.deleted`, `door_update.delivered`,
    /// `door_update.rejected`, `door.silent`.
    #[serde(rename = "type")]
    pub kind: String,
    pub property_id: u64,
    /// Seconds since 1970 when the change happened.
    pub created_at: u64,
    /// The event's fields (person_id, door_id, seqs, reason, ...).
    pub data: serde_json::Value,
}

/// One event's delivery to one endpoint (`GET /v1/webhooks/{id}/deliveries`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    pub event_id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered`, `failed` (attempts used up) or `cancelled` (endpoint deleted).
    pub state: String,
    pub attempts: u32,
    /// The receiver's HTTP status at the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: u64,
    pub last_attempt_at: Option<u64>,
    pub next_attempt_at: Option<u64>,
    pub delivered_at: Option<u64>,
}

// ---- the manager's endpoints ---------------------------------------------------------------

pub fn create(
    tx: &Transaction,
    manager: &Manager,
    req: CreateWebhookRequest,
    allow_private: bool,
    now: UnixTime,
) -> AppResult<CreatedWebhook> {
    manager.require_portfolio_manager()?;
    let url = check_url(&req.url, allow_private)?;
    let events = match req.events {
        None => EVENT_TYPES.iter().map(|e| e.to_string()).collect(),
        Some(list) => {
            if list.is_empty() {
                return Err(AppError::bad_request("events: name at least one, or leave it out for every type"));
            }
            let mut out: Vec<String> = Vec::new();
            for e in list {
                if !EVENT_TYPES.contains(&e.as_str()) {
                    return Err(AppError::bad_request(format!(
                        "events: unknown event type {e:?} (known: {})",
                        EVENT_TYPES.join(", ")
                    )));
                }
                if !out.contains(&e) {
                    out.push(e);
                }
            }
            out
        }
    };
    let silent = req.door_silent_after_secs.unwrap_or(DEFAULT_DOOR_SILENT_AFTER_SECS);
    if !DOOR_SILENT_BOUNDS.contains(&silent) {
        return Err(AppError::bad_request(format!(
            "door_silent_after_secs: {silent} is outside {}..={}",
            DOOR_SILENT_BOUNDS.start(),
            DOOR_SILENT_BOUNDS.end()
        )));
    }
    let live: i64 = tx.query_row(
        "SELECT count(*) FROM webhook_endpoints WHERE property_id = ?1 AND deleted_at IS NULL",
        params![manager.property_id],
        |r| r.get(0),
    )?;
    if live >= MAX_ENDPOINTS {
        return Err(AppError::conflict(format!("a property has at most {MAX_ENDPOINTS} webhook endpoints")));
    }
    let secret = format!("whsec_{}", crate::auth::random_hex(32));
    let events_json = serde_json::to_string(&events).map_err(|_| AppError::internal("cannot store events"))?;
    tx.execute(
        "INSERT INTO webhook_endpoints (property_id, url, events, door_silent_after_secs, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![manager.property_id, url, events_json, silent as i64, manager.id, now.0 as i64],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "UPDATE webhook_endpoints SET secret = keyway_seal('webhook_secret', id, ?1) WHERE id = ?2",
        params![secret.as_bytes(), id],
    )?;
    Ok(CreatedWebhook { endpoint: endpoint(tx, manager.property_id, id as u64)?, secret })
}

pub fn list(tx: &Transaction, manager: &Manager) -> AppResult<Vec<WebhookEndpoint>> {
    manager.require_portfolio_manager()?;
    let mut stmt =
        tx.prepare("SELECT id FROM webhook_endpoints WHERE property_id = ?1 AND deleted_at IS NULL ORDER BY id")?;
    let ids = stmt.query_map(params![manager.property_id], |r| r.get::<_, u64>(0))?.collect::<Result<Vec<_>, _>>()?;
    ids.into_iter().map(|id| endpoint(tx, manager.property_id, id)).collect()
}

/// Deletes the endpoint: its pending deliveries are cancelled and nothing more is sent.
pub fn delete(tx: &Transaction, manager: &Manager, id: u64, now: UnixTime) -> AppResult<WebhookEndpoint> {
    manager.require_portfolio_manager()?;
    let found = endpoint(tx, manager.property_id, id)?;
    if found.deleted_at.is_some() {
        return Err(unknown(id));
    }
    tx.execute(
        "UPDATE webhook_endpoints SET deleted_at = ?1, secret = NULL WHERE id = ?2",
        params![now.0 as i64, id as i64],
    )?;
    tx.execute(
        "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = 0 WHERE endpoint_id = ?1 AND state = 'pending'",
        params![id as i64],
    )?;
    endpoint(tx, manager.property_id, id)
}

/// The delivery log of an endpoint (deleted ones too), oldest first, the newest
/// [`DELIVERY_LOG_LEN`].
pub fn deliveries(tx: &Transaction, manager: &Manager, id: u64) -> AppResult<Vec<WebhookDelivery>> {
    manager.require_portfolio_manager()?;
    endpoint(tx, manager.property_id, id)?;
    let mut stmt = tx.prepare(
        "SELECT * FROM (
             SELECT e.id, e.type, d.state, d.attempts, d.last_status, d.last_error, e.created_at,
                    d.last_attempt_at, d.next_attempt_at, d.delivered_at
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
             WHERE d.endpoint_id = ?1 ORDER BY e.id DESC LIMIT ?2)
         ORDER BY 1",
    )?;
    let rows = stmt
        .query_map(params![id as i64, DELIVERY_LOG_LEN], |r| {
            let state: String = r.get(2)?;
            let pending = state == "pending";
            Ok(WebhookDelivery {
                event_id: r.get(0)?,
                kind: r.get(1)?,
                state,
                attempts: r.get(3)?,
                last_status: r.get(4)?,
                last_error: r.get(5)?,
                created_at: r.get(6)?,
                last_attempt_at: r.get(7)?,
                next_attempt_at: if pending { Some(r.get(8)?) } else { None },
                delivered_at: r.get(9)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn unknown(id: u64) -> AppError {
    AppError::not_found(format!("unknown webhook {id}"))
}

fn endpoint(tx: &Transaction, property_id: i64, id: u64) -> AppResult<WebhookEndpoint> {
    let Ok(row_id) = i64::try_from(id) else { return Err(unknown(id)) };
    let row = tx
        .query_row(
            "SELECT url, events, door_silent_after_secs, created_at, deleted_at FROM webhook_endpoints
             WHERE id = ?1 AND property_id = ?2",
            params![row_id, property_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                    r.get::<_, u64>(3)?,
                    r.get::<_, Option<u64>>(4)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| unknown(id))?;
    let (url, events, door_silent_after_secs, created_at, deleted_at) = row;
    let events = serde_json::from_str(&events).map_err(|_| AppError::internal("stored webhook events are damaged"))?;
    Ok(WebhookEndpoint { webhook_id: id, url, events, door_silent_after_secs, created_at, deleted_at })
}

/// An absolute http(s) URL without credentials; with `allow_private` off, not a literal
/// loopback, private, link-local or unspecified address, nor `localhost`.
fn check_url(text: &str, allow_private: bool) -> AppResult<String> {
    let text = text.trim();
    let bad = |why: &str| AppError::bad_request(format!("url: {why}"));
    if text.len() > 2000 {
        return Err(bad("longer than 2000 characters"));
    }
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| bad("expected an absolute http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("expected https://host[:port]/path, without credentials or spaces"));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
    };
    if !allow_private {
        let private = match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast()
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (ip.segments()[0] & 0xfe00) == 0xfc00
                    || (ip.segments()[0] & 0xffc0) == 0xfe80
            }
            Err(_) => host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost"),
        };
        if private {
            return Err(bad("private, loopback and link-local addresses are refused"));
        }
    }
    Ok(text.to_string())
}

// ---- the outbox ---------------------------------------------------------------------------

/// Writes event `kind` of `property_id` into the outbox, in the caller's transaction, with a
/// pending delivery to every live endpoint of the property subscribed to it.
pub fn emit(tx: &Transaction, property_id: i64, kind: &str, data: serde_json::Value, now: UnixTime) -> AppResult<()> {
    debug_assert!(EVENT_TYPES.contains(&kind), "{kind}");
    let subscribed: i64 = tx.query_row(
        "SELECT count(*) FROM webhook_endpoints w WHERE w.property_id = ?1 AND w.deleted_at IS NULL
         AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?2)",
        params![property_id, kind],
        |r| r.get(0),
    )?;
    if subscribed == 0 {
        return Ok(());
    }
    let id = insert_event(tx, property_id, kind, &data, now)?;
    tx.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at)
         SELECT w.id, ?1, 'pending', ?2 FROM webhook_endpoints w WHERE w.property_id = ?3 AND w.deleted_at IS NULL
         AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?4)",
        params![id, now.0 as i64, property_id, kind],
    )?;
    Ok(())
}

fn insert_event(
    tx: &Transaction,
    property_id: i64,
    kind: &str,
    data: &serde_json::Value,
    now: UnixTime,
) -> AppResult<i64> {
    tx.execute(
        "INSERT INTO webhook_events (property_id, type, data, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![property_id, kind, data.to_string(), now.0 as i64],
    )?;
    Ok(tx.last_insert_rowid())
}

/// `door.silent` for every door an endpoint watches whose last contact (a receipt, its feed,
/// or its provisioning) is older than the endpoint's threshold, once per silence.
pub(crate) fn find_silent_doors(tx: &Transaction, now: UnixTime) -> AppResult<()> {
    let mut stmt = tx.prepare(
        "SELECT w.id, w.property_id, d.id, d.name,
                MAX(d.created_at, COALESCE(d.feed_seen_at, 0),
                    COALESCE((SELECT MAX(received_at) FROM receipts r WHERE r.door_id = d.id), 0)) AS contact,
                w.door_silent_after_secs
         FROM webhook_endpoints w JOIN doors d ON d.property_id = w.property_id
         WHERE w.deleted_at IS NULL AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?1)",
    )?;
    let rows = stmt
        .query_map(params![DOOR_SILENT], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (endpoint_id, property_id, door, name, contact, after) in rows {
        if (now.0 as i64) - contact < after {
            continue;
        }
        let told = tx.execute(
            "INSERT INTO webhook_door_silence (endpoint_id, door_id, last_contact) VALUES (?1, ?2, ?3)
             ON CONFLICT (endpoint_id, door_id) DO UPDATE SET last_contact = excluded.last_contact
             WHERE last_contact != excluded.last_contact",
            params![endpoint_id, door, contact],
        )?;
        if told == 0 {
            continue;
        }
        let data = serde_json::json!({
            "door_id": door, "door_name": name, "last_contact_at": contact,
            "silent_for_secs": now.0 as i64 - contact, "threshold_secs": after,
        });
        let id = insert_event(tx, property_id, DOOR_SILENT, &data, now)?;
        tx.execute(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at) VALUES (?1, ?2, 'pending', ?3)",
            params![endpoint_id, id, now.0 as i64],
        )?;
    }
    Ok(())
}

// ---- delivery -----------------------------------------------------------------------------

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The next delivery of one endpoint, due now.
struct Due {
    endpoint_id: i64,
    event_id: i64,
    url: String,
    secret: Vec<u8>,
    kind: String,
    body: Vec<u8>,
    attempts: u32,
}

/// Each live endpoint's oldest pending delivery, if its time has come: later ones wait behind
/// it (order per endpoint).
fn due(tx: &Transaction, now: UnixTime) -> AppResult<Vec<Due>> {
    let mut stmt = tx.prepare(
        "SELECT w.id, e.id, w.url, keyway_unseal('webhook_secret', w.id, w.secret), e.type, e.property_id,
                e.created_at, e.data, d.attempts, d.next_attempt_at
         FROM webhook_endpoints w
         JOIN webhook_deliveries d ON d.endpoint_id = w.id AND d.event_id =
              (SELECT MIN(event_id) FROM webhook_deliveries WHERE endpoint_id = w.id AND state = 'pending')
         JOIN webhook_events e ON e.id = d.event_id
         WHERE w.deleted_at IS NULL",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, u64>(5)?,
                r.get::<_, u64>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, u32>(8)?,
                r.get::<_, i64>(9)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (endpoint_id, event_id, url, secret, kind, property_id, created_at, data, attempts, next) in rows {
        if next > now.0 as i64 {
            continue;
        }
        let data: serde_json::Value =
            serde_json::from_str(&data).map_err(|_| AppError::internal("stored webhook event is damaged"))?;
        let event = WebhookEvent { id: event_id as u64, kind: kind.clone(), property_id, created_at, data };
        let body = serde_json::to_vec(&event).map_err(|_| AppError::internal("cannot encode webhook event"))?;
        out.push(Due { endpoint_id, event_id, url, secret, kind, body, attempts });
    }
    Ok(out)
}

/// Posts what is due, records the outcomes, and looks for silent doors; every
/// `options.poll_interval`, until the task is dropped.
pub async fn run(db: Db, options: WebhookOptions) {
    let client = match reqwest::Client::builder()
        .timeout(options.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client; no webhook will be sent");
            return;
        }
    };
    loop {
        if let Err(e) = tick(&db, &client, &options).await {
            tracing::warn!(error = ?e.body, "webhooks: delivery round failed");
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

async fn tick(db: &Db, client: &reqwest::Client, options: &WebhookOptions) -> AppResult<()> {
    let due = db
        .run(|tx| {
            let now = keyway_api::clock::now();
            find_silent_doors(tx, now)?;
            due(tx, now)
        })
        .await?;
    // One delivery per endpoint per round (the next one of an endpoint waits for this one).
    let mut outcomes = Vec::with_capacity(due.len());
    for d in due {
        let t = keyway_api::clock::now().0;
        let outcome = client
            .post(&d.url)
            .header("content-type", "application/json")
            .header("x-keyway-signature", signature(&d.secret, t, &d.body))
            .header("x-keyway-event", &d.kind)
            .header("x-keyway-delivery", d.event_id.to_string())
            .body(d.body.clone())
            .send()
            .await;
        let (status, error) = match outcome {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (Some(r.status().as_u16()), Some(format!("the receiver answered {}", r.status()))),
            Err(e) => (None, Some(format!("cannot reach the receiver: {}", without_url(&e)))),
        };
        outcomes.push((d, status, error));
    }
    let max_attempts = options.max_attempts.max(1);
    let base = options.retry_base.as_secs().max(1);
    db.run(move |tx| {
        let now = keyway_api::clock::now().0 as i64;
        for (d, status, error) in outcomes {
            let attempts = d.attempts + 1;
            let (state, next) = match &error {
                None => ("delivered", now),
                Some(_) if attempts >= max_attempts => ("failed", now),
                Some(_) => ("pending", now + (base.saturating_mul(1 << (attempts - 1).min(20))).min(3600) as i64),
            };
            tx.execute(
                "UPDATE webhook_deliveries SET state = ?1, attempts = ?2, last_status = ?3, last_error = ?4,
                     last_attempt_at = ?5, next_attempt_at = ?6, delivered_at = CASE WHEN ?1 = 'delivered' THEN ?5 END
                 WHERE endpoint_id = ?7 AND event_id = ?8 AND state = 'pending'",
                params![state, attempts, status, error, now, next, d.endpoint_id, d.event_id],
            )?;
        }
        Ok(())
    })
    .await
}

/// reqwest's error text names the URL (which may hold a receiver's token in its path).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirected (not followed)"
    } else {
        "request failed"
    };
    kind.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://pms.example.com/hooks/keyway", false).is_ok());
        for bad in [
            "ftp://x.example/",
            "https://",
            "https://user:pw@x.example/",
            "http://127.0.0.1:9/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest",
            "http://[::1]:80/",
            "http://localhost:8080/",
            "https://a b.example/",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_the_time_and_the_body() {
        // Computed elsewhere: HMAC-SHA256("Jefe", "1700000000.{\"a\":1}").
        assert_eq!(
            signature(b"Jefe", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a"
        );
    }
}
