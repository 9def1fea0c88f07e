//! Fixtures for the end-to-end tests: a Mission Control on a loopback port, a manager acting
//! through its HTTP API, doors provisioned from the backend's answer and reached through the
//! simulated BLE link, and wallets on their own SQLite files.

pub mod proxy;

use keyway_api::client::ManagerClient;
use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::DoorId;
use keyway_protocol::door::DoorEngine;
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::store::secure::{FileSecureStorage, SecureStorage};
use keyway_wallet::{UnlockReport, Wallet};
use mission_control::Server;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub const DAY: u64 = 86_400;

pub struct Backend {
    pub server: Option<Server>,
    pub base: String,
}

impl Backend {
    pub async fn start(dir: &Path) -> Backend {
        let server = Server::start(dir.join("mission-control.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base = server.base_url();
        Backend { server: Some(server), base }
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    /// Creates a property; returns its Portfolio Manager's console.
    pub async fn create_property(&self, name: &str) -> ManagerClient {
        let req = CreatePropertyRequest { name: name.into(), utc_offset_minutes: 60, manager_name: "Pat".into() };
        ManagerClient::create_property(&self.base, &req).await.unwrap().1
    }

    /// Invites a person; returns the invite answer and the token from the welcome message.
    pub async fn invite(&self, manager: &ManagerClient, req: InviteRequest) -> (InviteResponse, String) {
        let answer = manager.invite(&req).await.unwrap();
        let token = manager.welcome_token(answer.person.person_id).await.unwrap().expect("welcome in the outbox");
        (answer, token)
    }

    pub async fn tasks(&self, manager: &ManagerClient, door: DoorId) -> Vec<DoorUpdateTask> {
        manager.door_updates(Some(door), None).await.unwrap()
    }
}

/// A property with two offline doors and an internet-connected lobby.
pub struct Property {
    pub manager: ManagerClient,
    pub lobby: ProvisionedDoor,
    pub front: Door,
    pub garage: Door,
}

pub async fn property(backend: &Backend) -> Property {
    let manager = backend.create_property("Elm Court").await;
    let lobby = manager.create_door("Lobby", true).await.unwrap();
    let front = manager.create_door("Front door", false).await.unwrap();
    let garage = manager.create_door("Garage", false).await.unwrap();
    Property { manager, lobby, front: Door::install(&front), garage: Door::install(&garage) }
}

/// An offline door running the real door engine, provisioned from the backend's answer.
pub struct Door {
    pub id: DoorId,
    pub engine: Arc<Mutex<DoorEngine>>,
}

impl Door {
    pub fn install(p: &ProvisionedDoor) -> Door {
        // The verified installation path the door simulator uses.
        let engine = keyway_test_kit::install::install(p, keyway_api::clock::now()).expect("a genuine provisioning");
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

/// An app-key invite to `doors`; `expiry: None` grants it explicitly without an end (`"never"`).
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
        keys: vec![KeyGrant {
            doors: doors.to_vec(),
            start,
            expiry: expiry.map_or(keyway_api::Expiry::Never, keyway_api::Expiry::At),
        }],
        resident: true,
        may_share,
    }
}
