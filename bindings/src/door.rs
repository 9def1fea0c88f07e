//! The door SDK: Keyway's door engine for door controllers that run Android or Linux
//! (intercoms, controllers on single-board computers), through the same uniffi library as the
//! wallet.
//!
//! The controller supplies three things and Keyway does the rest:
//! - a [`DoorStore`]: where the door's state bytes live (a file, a database row). Every
//!   change is saved through it, and an unlock's result and receipt leave the door only after
//!   `save` returned: a receipt never promises an update the door could lose in a power cut.
//! - a [`DoorActuator`]: called once per grant (app, doorcode or keycard) to open the lock.
//! - per phone connection, a [`DoorLink`](crate::door_session::DoorLink): Keyway hands it the
//!   frames to notify; the controller pushes the frames the phone wrote into the
//!   [`DoorConnection`](crate::door_session::DoorConnection) (sans-IO: no Keyway thread waits).
//!
//! ```text
//! val door = DoorController.provision(provisioningJson, store, actuator)   // once, at install
//! val door = DoorController.restore(store, actuator)                        // every start
//! advertise door.scanResponse() in the scan response (refresh after every session)
//! onConnected(central, mtu)          -> conn = door.connect(link, mtu)     // sends the challenge
//! onWrite(request characteristic)    -> conn.frameReceived(value)
//! onMtuChanged                       -> conn.mtuChanged(mtu)
//! onDisconnected                     -> conn.disconnected()
//! keypad                             -> door.enterDoorcode(code)
//! card at the reader                 -> door.presentKeycard(uid) [-> door.answerCardChallenge(c, answer)]
//! ```
//!
//! An internet-connected door also follows its door feed from Mission Control
//! ([`crate::door_feed`]): `feed = door.startFeed(backendUrl, listener)` once it is restored,
//! `feed.stop()` to end it. The feed applies door updates the moment a manager makes them, saves
//! them through the `DoorStore` before posting the door's receipt, and never runs the actuator.

use crate::door_install::{self, InstallError};
use crate::records::ActivityEntry;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{CardKind, DenialReason};
use keyway_protocol::door::{CardStep, DoorEngine, Entry};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the controller's own implementations ([`DoorStore`], [`DoorActuator`], `DoorLink`)
/// raise to Keyway (`DoorCallbackError` in Python, `DoorCallbackException` in Kotlin).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DoorCallbackError {
    /// `DoorStore`: the state could not be read or saved durably (disk full, flash worn).
    #[error("door storage: {reason}")]
    Storage { reason: String },
    /// `DoorLink`: the phone is gone.
    #[error("the phone disconnected")]
    LinkDisconnected,
    /// `DoorLink`: any other failure to send.
    #[error("link: {reason}")]
    Link { reason: String },
    /// `DoorActuator`: the lock did not open (jammed, no power).
    #[error("actuator: {reason}")]
    Actuator { reason: String },
    /// The callback raised something it does not declare (a bug in the controller's code).
    #[error("door callback failed: {reason}")]
    Unexpected { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for DoorCallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        DoorCallbackError::Unexpected { reason: e.reason }
    }
}

/// What the door SDK raises to the controller (`DoorError` in Python, `DoorException` in
/// Kotlin); each carries its message.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum DoorError {
    /// The provisioning JSON is not a valid install (not Mission Control's answer, no trust
    /// anchor, a certificate that does not verify or names another door or key).
    #[error("invalid provisioning: {reason}")]
    InvalidProvisioning { reason: String },
    /// `provision` on a store that already holds a door.
    #[error("a door is already provisioned in this store (door {door_id})")]
    AlreadyProvisioned { door_id: u32 },
    /// `restore` on a store that holds no door.
    #[error("no door is provisioned in this store")]
    NotProvisioned,
    /// The saved state is damaged, of an unknown version, or holds more than the door's limits.
    #[error("the door's saved state is unreadable: {reason}")]
    StateUnreadable { reason: String },
    /// The store failed to load or save. After a failed save in a session the result and its
    /// receipt were withheld (the phone retries; nothing was promised).
    #[error("door storage: {reason}")]
    Storage { reason: String },
    /// The phone broke the protocol (garbled or out-of-order frames): the session is over, the
    /// controller disconnects. A decision already made stands.
    #[error("session failed: {reason}")]
    Session { reason: String },
    /// The session is over (finished, failed, timed out or disconnected): no more frames.
    #[error("the session is over")]
    SessionOver,
    /// The phone did not complete its exchange in time.
    #[error("the phone did not complete its exchange within {secs} s")]
    SessionTimeout { secs: u64 },
    /// The controller's link failed to send a frame: the session is over.
    #[error("link: {reason}")]
    Link { reason: String },
    /// An argument is not valid (a card challenge used twice, a UID that is not 4 to 16 bytes
    /// is the door's to refuse, not an error).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// A bug in Keyway itself; please report it with the message.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl From<InstallError> for DoorError {
    fn from(e: InstallError) -> Self {
        DoorError::InvalidProvisioning { reason: e.to_string() }
    }
}

pub(crate) type DoorResult<T> = std::result::Result<T, DoorError>;

fn storage(e: DoorCallbackError) -> DoorError {
    match e {
        DoorCallbackError::Storage { reason } => DoorError::Storage { reason },
        other => DoorError::Storage { reason: other.to_string() },
    }
}

/// Where the door's state lives, implemented by the controller.
#[uniffi::export(foreign)]
pub trait DoorStore: Send + Sync {
    /// The state bytes as last saved, or null/None when no door was provisioned here.
    fn load(&self) -> Result<Option<Vec<u8>>, DoorCallbackError>;
    /// Replaces the saved state with `state`, durably (written and synced, or committed)
    /// before it returns: a session's result and receipt leave the door only after this
    /// returned. Raise `DoorCallbackError.Storage` when it could not.
    fn save(&self, state: Vec<u8>) -> Result<(), DoorCallbackError>;
}

/// The lock's actuator, implemented by the controller.
#[uniffi::export(foreign)]
pub trait DoorActuator: Send + Sync {
    /// The door granted `entry` (an app key, a doorcode or a keycard): open now and return
    /// (called on the thread that handed Keyway the frame, code or card; for an app unlock
    /// before any door update it carries is received). A failure raised here is logged; the
    /// decision stands.
    fn open(&self, entry: DoorEntry) -> Result<(), DoorCallbackError>;
}

/// One decision of the door and the record it logged.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoorEntry {
    pub granted: bool,
    pub denial: Option<DenialReason>,
    /// The door's activity record: who (key, person, doorcode slot, card tag), when, its seq.
    pub activity: ActivityEntry,
}

impl From<&Entry> for DoorEntry {
    fn from(e: &Entry) -> Self {
        DoorEntry {
            granted: e.access.is_granted(),
            denial: e.access.denial(),
            activity: ActivityEntry::from(&e.record),
        }
    }
}

/// What the door knows, for the controller's status screen or logs.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoorStatus {
    pub door_id: u32,
    /// Seq of the last door update consumed (applied or rejected).
    pub update_seq: u64,
    /// The door's monotonic clock (RTC corrected by signed time).
    pub clock: std::time::SystemTime,
    pub utc_offset_minutes: i16,
    /// Seq of the newest activity record.
    pub activity_head: u64,
    pub revocations: u32,
    pub doorcode_slots: Vec<u32>,
    pub keycards: u32,
    pub secure_keycards: u32,
    /// Whether the door holds the property's card key (it can check secure keycards).
    pub reads_secure_cards: bool,
}

/// What a card held to the reader leads to.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum CardOutcome {
    /// Decided at once: a UID-only card, an unknown or unreadable card, or a locked reader.
    Decided { entry: DoorEntry },
    /// A secure card: send `challenge.bytes()` to the card and pass its answer (null/None if
    /// it gave none) to `answerCardChallenge`.
    Challenge { challenge: Arc<CardChallenge> },
}

/// The door's challenge to the secure card at its reader; it answers once.
#[derive(Debug, uniffi::Object)]
pub struct CardChallenge {
    bytes: Vec<u8>,
    inner: Mutex<Option<keyway_protocol::door::CardChallenge>>,
}

#[uniffi::export]
impl CardChallenge {
    /// The 16 bytes to send to the card.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn random16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

/// The door's RTC reading: the controller's system clock.
pub(crate) fn rtc_now() -> UnixTime {
    keyway_api::clock::now()
}

/// The door engine with its store: every change is saved before anything leaves the door.
pub(crate) struct StoredDoor {
    pub(crate) engine: DoorEngine,
    store: Arc<dyn DoorStore>,
    /// The bytes last saved (or loaded): a change is saved once, and only a change.
    saved: Vec<u8>,
}

impl StoredDoor {
    /// Saves the state if it changed since the last save.
    pub(crate) fn save(&mut self) -> DoorResult<()> {
        let bytes = door_install::state_bytes(&self.engine);
        if bytes != self.saved {
            self.store.save(bytes.clone()).map_err(storage)?;
            self.saved = bytes;
        }
        Ok(())
    }
}

/// The door (state, store and actuator) shared by the controller and its connections.
pub(crate) struct DoorShared {
    pub(crate) door: Mutex<StoredDoor>,
    actuator: Arc<dyn DoorActuator>,
}

impl DoorShared {
    pub(crate) fn door(&self) -> MutexGuard<'_, StoredDoor> {
        lock(&self.door)
    }

    /// Runs the actuator on a grant.
    pub(crate) fn actuate(&self, entry: &DoorEntry) {
        if entry.granted
            && let Err(e) = self.actuator.open(entry.clone())
        {
            tracing::warn!(error = %e, seq = entry.activity.seq, "the door's actuator failed");
        }
    }

    /// `act` on the door, then saves it; the actuator runs after the save, on a grant.
    fn entry(&self, act: impl FnOnce(&mut DoorEngine, UnixTime) -> Entry) -> DoorResult<DoorEntry> {
        let entry = {
            let mut door = self.door();
            let entry = DoorEntry::from(&act(&mut door.engine, rtc_now()));
            door.save()?;
            entry
        };
        self.actuate(&entry);
        Ok(entry)
    }
}

/// One door, provisioned from Mission Control's answer and kept in the controller's store.
#[derive(uniffi::Object)]
pub struct DoorController {
    pub(crate) shared: Arc<DoorShared>,
}

impl DoorController {
    fn new(
        engine: DoorEngine,
        store: Arc<dyn DoorStore>,
        saved: Vec<u8>,
        actuator: Arc<dyn DoorActuator>,
    ) -> Arc<Self> {
        let door = StoredDoor { engine, store, saved };
        Arc::new(DoorController { shared: Arc::new(DoorShared { door: Mutex::new(door), actuator }) })
    }
}

#[uniffi::export]
impl DoorController {
    /// Installs a door from the backend's provisioning answer (`POST /v1/doors`, the
    /// `ProvisionedDoor` JSON), checked before anything is written, and saves it to `store`.
    /// Refused when `store` already holds a door: a door is never silently replaced.
    #[uniffi::constructor]
    pub fn provision(
        provisioning_json: String,
        store: Arc<dyn DoorStore>,
        actuator: Arc<dyn DoorActuator>,
    ) -> DoorResult<Arc<Self>> {
        if let Some(bytes) = store.load().map_err(storage)? {
            let door_id = door_install::engine_from_bytes(&bytes).map(|d| d.door_id().0).unwrap_or(0);
            return Err(DoorError::AlreadyProvisioned { door_id });
        }
        let engine = DoorEngine::new(door_install::provisioning_from_json(&provisioning_json, rtc_now())?);
        let bytes = door_install::state_bytes(&engine);
        store.save(bytes.clone()).map_err(storage)?;
        tracing::info!(door = engine.door_id().0, "door provisioned");
        Ok(DoorController::new(engine, store, bytes, actuator))
    }

    /// The door saved in `store` (every start after the install). States saved by older
    /// versions are upgraded.
    #[uniffi::constructor]
    pub fn restore(store: Arc<dyn DoorStore>, actuator: Arc<dyn DoorActuator>) -> DoorResult<Arc<Self>> {
        let bytes = store.load().map_err(storage)?.ok_or(DoorError::NotProvisioned)?;
        let engine = door_install::engine_from_bytes(&bytes)
            .map_err(|e| DoorError::StateUnreadable { reason: e.to_string() })?;
        Ok(DoorController::new(engine, store, bytes, actuator))
    }

    /// Replaces the door key in place from Mission Control's re-keying answer
    /// (`POST /v1/doors/{id}/rekey`, the `ProvisionedDoor` JSON): its certificate must verify
    /// against the door's own trust anchors, name this door and certify the new key. The door
    /// keeps its seq, revocations and activity; the new key is saved before this returns.
    /// Refused (`InvalidProvisioning`) otherwise, with nothing changed.
    pub fn rekey(&self, provisioning_json: String) -> DoorResult<()> {
        let install: keyway_api::ProvisionedDoor = serde_json::from_str(&provisioning_json)
            .map_err(|e| DoorError::InvalidProvisioning { reason: e.to_string() })?;
        let key = keyway_protocol::credential::KeyPair::from_secret(&install.door_secret_key.0.0);
        let mut door = self.shared.door();
        let before = door.engine.clone();
        door.engine
            .rekey(key, &install.door_certificate.0)
            .map_err(|e| DoorError::InvalidProvisioning { reason: e.to_string() })?;
        if let Err(e) = door.save() {
            // Not saved: the door keeps answering with the key its store holds.
            door.engine = before;
            return Err(e);
        }
        tracing::info!(door = door.engine.door_id().0, "door re-keyed");
        Ok(())
    }

    pub fn door_id(&self) -> u32 {
        self.shared.door().engine.door_id().0
    }

    /// The door key's public half, hex (its certificate names it).
    pub fn door_public_key(&self) -> String {
        hex::encode(self.shared.door().engine.door_public_key().0)
    }

    /// Seq of the last door update the door consumed.
    pub fn update_seq(&self) -> u64 {
        self.shared.door().engine.update_seq()
    }

    /// The Keyway service data the door advertises now (door id and update seq, 9 bytes):
    /// the payload under the Keyway service UUID.
    pub fn advertisement(&self) -> Vec<u8> {
        keyway_link::gatt::door_advert(&self.shared.door().engine).to_bytes().to_vec()
    }

    /// The whole AD structure carrying that service data (27 bytes: length, type 0x21, the
    /// service UUID least significant byte first, the payload), for the scan response.
    pub fn scan_response(&self) -> Vec<u8> {
        keyway_link::gatt::service_data_ad(&keyway_link::gatt::door_advert(&self.shared.door().engine))
    }

    pub fn status(&self) -> DoorStatus {
        let door = self.shared.door();
        let s = door.engine.state();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        DoorStatus {
            door_id: s.door_id.0,
            update_seq: s.update_seq,
            clock: crate::records::to_system_time(s.clock),
            utc_offset_minutes: s.utc_offset_minutes,
            activity_head: s.activity.head(),
            revocations: count(s.revocations.len()),
            doorcode_slots: s.doorcodes.keys().copied().collect(),
            keycards: count(s.keycards.len()),
            secure_keycards: count(s.keycards.iter().filter(|k| k.kind == CardKind::Secure).count()),
            reads_secure_cards: door.engine.reads_secure_cards(),
        }
    }

    /// The door's activity log (its newest records, oldest first).
    pub fn activity(&self) -> Vec<ActivityEntry> {
        self.shared.door().engine.activity().records().map(ActivityEntry::from).collect()
    }

    /// A code typed on the keypad: decided (wrong codes count towards the keypad's guessing
    /// limit), saved, and then the actuator opens on a grant. Raises `Storage` when the save
    /// failed: then the lock stays shut (a door that cannot keep its guess count does not
    /// admit codes).
    pub fn enter_doorcode(&self, code: String) -> DoorResult<DoorEntry> {
        self.shared.entry(|door, now| door.enter_doorcode(&code, now))
    }

    /// A card held to the reader (`uid`: its UID or application id bytes). A UID-only,
    /// unknown or unreadable card is decided at once (saved, then the actuator on a grant); a
    /// secure card gets a fresh challenge to send to it.
    pub fn present_keycard(&self, uid: Vec<u8>) -> DoorResult<CardOutcome> {
        let mut door = self.shared.door();
        match door.engine.present_keycard(&uid, random16(), rtc_now()) {
            CardStep::Decided(entry) => {
                let entry = DoorEntry::from(&entry);
                door.save()?;
                drop(door);
                self.shared.actuate(&entry);
                Ok(CardOutcome::Decided { entry })
            }
            CardStep::Challenge(c) => {
                // A challenge abandoned by an earlier card was logged as a failure.
                door.save()?;
                let bytes = c.bytes().to_vec();
                Ok(CardOutcome::Challenge { challenge: Arc::new(CardChallenge { bytes, inner: Mutex::new(Some(c)) }) })
            }
        }
    }

    /// The secure card's `answer` to `challenge` (null/None: it gave none) decides; saved, then
    /// the actuator on a grant. A challenge answers once (`InvalidInput` the second time); an
    /// answer that is late, wrong, or for a challenge that is no longer pending is refused and
    /// counts towards the reader's guessing limit.
    pub fn answer_card_challenge(
        &self,
        challenge: Arc<CardChallenge>,
        answer: Option<Vec<u8>>,
    ) -> DoorResult<DoorEntry> {
        let c = lock(&challenge.inner)
            .take()
            .ok_or_else(|| DoorError::InvalidInput { reason: "this card challenge was already answered".into() })?;
        self.shared.entry(|door, now| door.answer_card_challenge(c, answer.as_deref(), now))
    }
}
