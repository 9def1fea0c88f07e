//! Fixtures for the end-to-end tests: a Mission Control on a loopback port, a manager acting
//! through its HTTP API, doors provisioned from the backend's answer and reached through the
//! simulated BLE link, and wallets on their own SQLite files.

pub mod proxy;

use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorcodeSecret, KeyPair, TrustAnchors};
use keyway_protocol::door::{DoorEngine, DoorProvisioning};
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::store::secure::{FileSecureStorage, SecureStorage};
use keyway_wallet::{UnlockReport, Wallet};
use mission_control::Server;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub const DAY: u64 = 86_400;

pub struct Backend {
    pub server: Option<Server>,
    pub base: String,
    http: reqwest::Client,
}

impl Backend {
    pub async fn start(dir: &Path) -> Backend {
        let server = Server::start(dir.join("mission-control.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base = server.base_url();
        Backend { server: Some(server), base, http: reqwest::Client::new() }
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    /// A manager request that must succeed.
    pub async fn ok<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<impl Serialize>,
    ) -> T {
        let (status, text) = self.send(method.clone(), path, token, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// A manager request and its raw answer.
    pub async fn send(&self, method: Method, path: &str, token: &str, body: Option<impl Serialize>) -> (u16, String) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> T {
        self.ok(Method::GET, path, token, None::<()>).await
    }

    /// Invites a person; returns the invite answer and the token from the welcome message.
    pub async fn invite(&self, manager: &str, req: InviteRequest) -> (InviteResponse, String) {
        let answer: InviteResponse = self.ok(Method::POST, "/v1/invites", manager, Some(req)).await;
        let outbox: Vec<OutboxMessage> = self.get("/v1/outbox", manager).await;
        let message = outbox.iter().find(|m| m.message_id == answer.welcome_message_id).expect("welcome in the outbox");
        (answer, message.token.clone())
    }

    pub async fn tasks(&self, manager: &str, door: DoorId) -> Vec<DoorUpdateTask> {
        self.get(&format!("/v1/door-updates?door_id={}", door.0), manager).await
    }
}

/// A property with two offline doors and an internet-connected lobby.
pub struct Property {
    pub manager: String,
    pub lobby: ProvisionedDoor,
    pub front: Door,
    pub garage: Door,
}

pub async fn property(backend: &Backend) -> Property {
    let created: CreatePropertyResponse = backend
        .ok(
            Method::POST,
            "/v1/properties",
            "",
            Some(CreatePropertyRequest {
                name: "Elm Court".into(),
                utc_offset_minutes: 60,
                manager_name: "Pat".into(),
            }),
        )
        .await;
    let manager = created.manager.token.clone();
    let door = |name: &str, online| CreateDoorRequest { name: name.into(), online };
    let lobby: ProvisionedDoor = backend.ok(Method::POST, "/v1/doors", &manager, Some(door("Lobby", true))).await;
    let front: ProvisionedDoor = backend.ok(Method::POST, "/v1/doors", &manager, Some(door("Front door", false))).await;
    let garage: ProvisionedDoor = backend.ok(Method::POST, "/v1/doors", &manager, Some(door("Garage", false))).await;
    Property { manager, lobby, front: Door::install(&front), garage: Door::install(&garage) }
}

/// An offline door running the real door engine, provisioned from the backend's answer.
pub struct Door {
    pub id: DoorId,
    pub engine: Arc<Mutex<DoorEngine>>,
}

impl Door {
    pub fn install(p: &ProvisionedDoor) -> Door {
        let engine = DoorEngine::new(DoorProvisioning {
            door_id: p.door_id,
            door_key: KeyPair::from_secret(&p.door_secret_key.0.0),
            anchors: TrustAnchors::new(p.trust_anchors.iter().map(|k| k.0)),
            doorcode_secret: DoorcodeSecret::new(p.doorcode_secret.0.0),
            utc_offset_minutes: p.utc_offset_minutes,
            clock: keyway_api::clock::now(),
        });
        Door { id: p.door_id, engine: Arc::new(Mutex::new(engine)) }
    }

    /// A fresh BLE connection to this door over the simulated link.
    pub fn connect(&self) -> SimDoorLink {
        let nonce: [u8; 16] = rand::random();
        SimDoorLink::connect(self.engine.clone(), SimConfig::default(), keyway_api::clock::now(), nonce)
    }

    pub fn seq(&self) -> u64 {
        self.engine.lock().unwrap().update_seq()
    }
}

/// A phone: a wallet on its own SQLite file with file-backed secure storage.
pub fn phone(dir: &Path, name: &str) -> Wallet {
    let secure: Arc<dyn SecureStorage> = Arc::new(FileSecureStorage::new(dir.join(format!("{name}-secrets"))).unwrap());
    Wallet::open(&dir.join(format!("{name}.db")), secure).unwrap()
}

pub fn unlock(wallet: &mut Wallet, door: &Door) -> UnlockReport {
    wallet.unlock(door.id, &mut door.connect()).unwrap()
}

pub fn app_invite(
    name: &str,
    doors: &[DoorId],
    start: Option<UnixTime>,
    expiry: Option<UnixTime>,
    may_share: bool,
) -> InviteRequest {
    InviteRequest {
        name: name.into(),
        contact: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
        access: AccessKind::AppKey,
        keys: vec![KeyGrant { doors: doors.to_vec(), start, expiry }],
        resident: true,
        may_share,
    }
}
