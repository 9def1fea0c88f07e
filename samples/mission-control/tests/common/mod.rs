//! Shared test fixtures: a server on an ephemeral loopback port with its own database, a
//! JSON HTTP helper, a provisioned property, phones, and a door that signs receipts.
#![allow(dead_code)]

use keyway_api::client::{ClientConfig, RetryPolicy, SyncClient};
use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use mission_control::{Server, ServerOptions};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

pub struct Mc {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub base: String,
}

pub const DAY: u64 = 86_400;

pub fn now() -> UnixTime {
    keyway_api::clock::now()
}

impl Mc {
    pub async fn start() -> Mc {
        Self::start_with(ServerOptions::open_property_creation()).await
    }

    /// A server with `options` on a fresh database.
    pub async fn start_with(options: ServerOptions) -> Mc {
        let dir = tempfile::tempdir().unwrap();
        let server =
            Server::start_with(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap(), options).await.unwrap();
        let base = server.base_url();
        Mc { server, dir, http: reqwest::Client::new(), base }
    }

    /// Any request; the answer must be JSON whatever the status.
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<String>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("answer {status} is not JSON: {text:?}"));
        (status, value)
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        self.raw(method, path, token, body.map(|b| b.to_string())).await
    }

    /// A request that must succeed, decoded as `T`.
    pub async fn ok<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<impl Serialize>,
    ) -> T {
        let (status, value) =
            self.call(method.clone(), path, Some(token), body.map(|b| serde_json::to_value(b).unwrap())).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
        serde_json::from_value(value).unwrap()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> T {
        self.ok(Method::GET, path, token, None::<()>).await
    }

    /// A refused request: the status and the error body.
    pub async fn refused(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, ApiError) {
        let (status, value) = self.call(method.clone(), path, token, body).await;
        assert!((400..500).contains(&status), "{method} {path}: expected a 4xx, got {status} {value}");
        (status, serde_json::from_value(value).unwrap())
    }

    pub fn phone_client(&self) -> SyncClient {
        SyncClient::new(ClientConfig {
            base_url: self.base.clone(),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
            },
        })
        .unwrap()
    }
}

pub struct Property {
    pub id: u64,
    pub authority: PublicKey,
    pub pm: String,
    /// Two offline doors and one internet-connected door.
    pub lobby: ProvisionedDoor,
    pub garage: ProvisionedDoor,
    pub online: ProvisionedDoor,
}

impl Property {
    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.authority])
    }
}

pub async fn property(mc: &Mc, name: &str) -> Property {
    let created: CreatePropertyResponse = mc
        .ok(
            Method::POST,
            "/v1/properties",
            "",
            Some(CreatePropertyRequest { name: name.into(), utc_offset_minutes: 60, manager_name: "Pat".into() }),
        )
        .await;
    let pm = created.manager.token.clone();
    let door = |name: &str, online: bool| CreateDoorRequest { name: name.into(), online };
    let lobby: ProvisionedDoor = mc.ok(Method::POST, "/v1/doors", &pm, Some(door("Lobby", false))).await;
    let garage: ProvisionedDoor = mc.ok(Method::POST, "/v1/doors", &pm, Some(door("Garage", false))).await;
    let online: ProvisionedDoor = mc.ok(Method::POST, "/v1/doors", &pm, Some(door("Gym", true))).await;
    Property { id: created.property_id, authority: created.authority_key.0, pm, lobby, garage, online }
}

/// A key to `doors`; `expiry: None` grants it explicitly without an end (`"never"`).
pub fn grant(doors: &[DoorId], start: Option<UnixTime>, expiry: Option<UnixTime>) -> KeyGrant {
    KeyGrant { doors: doors.to_vec(), start, expiry: expiry.map_or(Expiry::Never, Expiry::At) }
}

/// Invites an app-key person; returns the answer and the token from the outbox.
pub async fn invite(
    mc: &Mc,
    token: &str,
    name: &str,
    access: AccessKind,
    keys: Vec<KeyGrant>,
    may_share: bool,
) -> (InviteResponse, String) {
    let req = InviteRequest {
        name: name.into(),
        contact: format!("{name}@example.com"),
        access,
        keys,
        resident: true,
        may_share,
    };
    let answer: InviteResponse = mc.ok(Method::POST, "/v1/invites", token, Some(req)).await;
    let outbox: Vec<OutboxMessage> = mc.get("/v1/outbox", token).await;
    let message =
        outbox.iter().find(|m| m.message_id == answer.welcome_message_id).expect("welcome message in the outbox");
    assert_eq!(message.person_id, answer.person.person_id);
    assert!(message.body.contains(&message.token));
    (answer, message.token.clone())
}

pub struct Phone {
    pub key: KeyPair,
    pub token: String,
    pub accepted: AcceptInviteResponse,
}

impl Phone {
    pub fn cert(&self, key: KeyId) -> KeyCertificate {
        let entry = self.accepted.sync.keys.iter().find(|k| k.key_id == key).expect("key in the accepted sync");
        entry.certificate.clone().expect("certificate").0
    }
}

pub async fn accept(mc: &Mc, invite_token: &str) -> Phone {
    let key = KeyPair::generate();
    let accepted = mc.phone_client().accept_invite(invite_token, &key).await.unwrap();
    Phone { key, token: accepted.credentials.device_token.clone(), accepted }
}

/// A guest key shared from `parent` by the phone holding it.
pub fn share(phone: &Phone, parent: &KeyCertificate, doors: &[DoorId], validity: Validity) -> (KeyChain, KeyPair) {
    let guest = KeyPair::generate();
    let body = GuestKeyBody::new(
        KeyId::random_guest(),
        parent.body.key_id,
        guest.public(),
        DoorSet::new(doors.to_vec()).unwrap(),
        validity,
    );
    (KeyChain::guest(parent.clone(), GuestKey::sign(body, &phone.key)), guest)
}

/// A receipt signed by the door's provisioned key.
pub fn receipt(door: &ProvisionedDoor, applied_seq: u64, activity: Vec<ActivityRecord>) -> Receipt {
    let key = KeyPair::from_secret(&door.door_secret_key.0.0);
    let head = activity.iter().map(|a| a.seq).max().unwrap_or(0);
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&applied_seq.to_le_bytes());
    nonce[8..].copy_from_slice(&head.to_le_bytes());
    let body = ReceiptBody {
        version: ReceiptBody::VERSION,
        door_id: door.door_id,
        phone_nonce: nonce,
        door_time: now(),
        applied_seq,
        activity_head: head,
        activity: keyway_protocol::codec::BoundedVec::new(activity).unwrap(),
    };
    Receipt::sign(body, &key)
}

pub fn unlock(seq: u64, key: KeyId, person: PersonId, guest: bool) -> ActivityRecord {
    ActivityRecord { seq, time: now(), event: ActivityEvent::AppUnlock { key, person, guest } }
}

pub async fn tasks(mc: &Mc, token: &str, door: DoorId) -> Vec<DoorUpdateTask> {
    mc.get(&format!("/v1/door-updates?door_id={}", door.0), token).await
}
