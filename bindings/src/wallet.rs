//! The wallet object apps hold: thin wrappers over the core's `Wallet`.
//!
//! The core wallet sits behind an async mutex so that network calls (sync, invite) can hold
//! it across awaits; blocking calls take it from the app's thread. Calls are serialised: one
//! wallet operation at a time.

use crate::ble_link::{BleLink, ForeignLink};
use crate::error::{KeywayError, Result};
use crate::records::{
    self, DoorInfo, KeyInfo, PendingUpdates, ReceiptInfo, ShareRequestInfo, SyncSummary, UploadSummary,
};
use crate::secure_store::{ForeignSecureStorage, SecureStore};
use keyway_protocol::credential::{DoorId, KeyId};
use keyway_wallet::Wallet as CoreWallet;
use keyway_wallet::share::ShareRequest;
use keyway_wallet::unlock::UnlockReport;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::Mutex;

#[derive(uniffi::Object)]
pub struct Wallet {
    inner: Arc<Mutex<CoreWallet>>,
}

impl Wallet {
    fn new(core: CoreWallet) -> Arc<Self> {
        Arc::new(Wallet { inner: Arc::new(Mutex::new(core)) })
    }

    /// Runs `f` on the core wallet from a blocking (app) thread.
    fn with<R>(&self, f: impl FnOnce(&mut CoreWallet) -> Result<R>) -> Result<R> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(KeywayError::Internal { reason: "blocking wallet call made from an async task".into() });
        }
        let mut wallet = self.inner.blocking_lock();
        logged(f(&mut wallet))
    }
}

/// Every error returned to the app is also logged (at debug: the app decides what to show).
fn logged<R>(r: Result<R>) -> Result<R> {
    if let Err(e) = &r {
        tracing::debug!(error = %e, "wallet call failed");
    }
    r
}

#[uniffi::export]
impl Wallet {
    /// Opens (or creates) the wallet database at `db_path`. On first open a device key is
    /// generated and stored in `secure_store`; later opens read it from there.
    #[uniffi::constructor]
    pub fn open(db_path: String, secure_store: Arc<dyn SecureStore>) -> Result<Arc<Self>> {
        let secure = Arc::new(ForeignSecureStorage(secure_store));
        let core = logged(CoreWallet::open(Path::new(&db_path), secure).map_err(KeywayError::from))?;
        tracing::info!(path = %db_path, "wallet opened");
        Ok(Wallet::new(core))
    }

    /// A wallet that keeps nothing on disk (guests trying the app, tests). The device key
    /// still goes to `secure_store`.
    #[uniffi::constructor]
    pub fn open_in_memory(secure_store: Arc<dyn SecureStore>) -> Result<Arc<Self>> {
        let secure = Arc::new(ForeignSecureStorage(secure_store));
        let core = logged(CoreWallet::open_in_memory(secure).map_err(KeywayError::from))?;
        tracing::info!("in-memory wallet opened");
        Ok(Wallet::new(core))
    }

    /// This device's public key, hex (what the backend certifies).
    pub fn device_public_key(&self) -> Result<String> {
        self.with(|w| Ok(hex::encode(w.device_public_key().0)))
    }

    /// Whether this wallet has accepted an invite (and so can sync and upload).
    pub fn is_enrolled(&self) -> Result<bool> {
        self.with(|w| Ok(w.is_enrolled()?))
    }

    /// Every key on this device with its state now (device clock, never earlier than the
    /// last server time seen).
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        self.with(|w| Ok(w.keys_at(keyway_api::clock::now())?.iter().map(KeyInfo::from).collect()))
    }

    /// Every key with its state at `at` (e.g. to show what will work on a given day).
    pub fn keys_at(&self, at: SystemTime) -> Result<Vec<KeyInfo>> {
        let at = records::to_unix_time(at, "time")?;
        self.with(|w| Ok(w.keys_at(at)?.iter().map(KeyInfo::from).collect()))
    }

    /// The doors this wallet knows, with their names.
    pub fn doors(&self) -> Result<Vec<DoorInfo>> {
        self.with(|w| Ok(w.doors()?.into_iter().map(|(id, name)| DoorInfo { door_id: id.0, name }).collect()))
    }

    /// Door updates this phone carries, per door.
    pub fn pending_updates(&self) -> Result<Vec<PendingUpdates>> {
        self.with(|w| Ok(w.pending_updates()?.iter().map(PendingUpdates::from).collect()))
    }

    /// Receipts of past unlocks with the door activity they brought back.
    pub fn receipts(&self) -> Result<Vec<ReceiptInfo>> {
        self.with(|w| Ok(w.receipts()?.iter().map(ReceiptInfo::from).collect()))
    }

    /// Guest, step 1: a share request (text for a QR code or a message) naming this device.
    pub fn share_request(&self, name: String) -> Result<String> {
        self.with(|w| Ok(w.share_request(&name).to_text()))
    }

    /// Resident: signs a guest key under `parent_key_id` for the device in `request`, for
    /// `doors` from `start` to `expiry`; returns the offer text to hand the guest.
    pub fn share_offline(
        &self,
        parent_key_id: u64,
        request: String,
        doors: Vec<u32>,
        start: SystemTime,
        expiry: SystemTime,
    ) -> Result<String> {
        let doors = records::door_set(&doors)?;
        let validity = records::validity(start, expiry)?;
        let offer = self.with(|w| Ok(w.share_offline(KeyId(parent_key_id), &request, doors, validity)?))?;
        tracing::info!(parent = %KeyId(parent_key_id), "guest key issued offline");
        Ok(offer)
    }

    /// Guest, step 2: imports a guest key offer meant for this device.
    pub fn accept_guest_key(&self, offer: String) -> Result<KeyInfo> {
        let key = self.with(|w| Ok(KeyInfo::from(&w.accept_guest_key(&offer)?)))?;
        tracing::info!(key = %key.label, "guest key accepted");
        Ok(key)
    }
}

/// Calls that wait on a door or the network. They run on Keyway's tokio runtime (the BLE
/// exchange on its blocking pool), so an app awaits them without blocking its UI thread.
#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Accepts the invite in the welcome message: registers this device with the backend at
    /// `backend_url` and stores the keys it grants (verified before anything is stored).
    pub async fn accept_invite(&self, backend_url: String, invite_token: String) -> Result<SyncSummary> {
        let mut wallet = self.inner.lock().await;
        let summary = logged(wallet.accept_invite(&backend_url, &invite_token).await.map_err(KeywayError::from))?;
        tracing::info!(keys = summary.keys_received, doors = summary.doors, "invite accepted");
        Ok(summary.into())
    }

    /// Fetches what changed since the last sync (keys, revocations, doors, door updates to
    /// carry) and stores it, verified. Safe to retry.
    pub async fn sync(&self) -> Result<SyncSummary> {
        let mut wallet = self.inner.lock().await;
        let summary = logged(wallet.sync().await.map_err(KeywayError::from))?;
        tracing::info!(keys = summary.keys_received, revoked = summary.keys_revoked, "synced");
        Ok(summary.into())
    }

    /// Uploads the door receipts (and their activity) the backend has not acknowledged yet,
    /// and registers guest keys shared offline. Safe to retry.
    pub async fn upload(&self) -> Result<UploadSummary> {
        let mut wallet = self.inner.lock().await;
        let summary = logged(wallet.upload().await.map_err(KeywayError::from))?;
        tracing::info!(receipts = summary.receipts_uploaded, "uploaded");
        Ok(summary.into())
    }

    /// Unlocks `door_id` through the app's `link` (connected to the door and subscribed to
    /// its responses). A refusal by the door is a result (`granted == false`, `denial`), not
    /// an error; the door's receipt is stored either way.
    pub async fn unlock(&self, door_id: u32, link: Arc<dyn BleLink>) -> Result<UnlockReport> {
        let inner = self.inner.clone();
        let report = tokio::task::spawn_blocking(move || {
            let mut wallet = inner.blocking_lock();
            let mut link = ForeignLink::new(link);
            wallet.unlock(DoorId(door_id), &mut link).map_err(KeywayError::from)
        })
        .await
        .map_err(|e| KeywayError::Internal { reason: format!("unlock task failed: {e}") })?;
        let report = logged(report)?;
        tracing::info!(door = door_id, granted = report.granted, seq = report.seq_after, "unlock finished");
        Ok(report)
    }
}

/// Reads a guest's share request (checking its signature) so the resident can confirm who
/// is asking before sharing.
#[uniffi::export]
pub fn read_share_request(request: String) -> Result<ShareRequestInfo> {
    let r = ShareRequest::from_text(&request)?;
    Ok(ShareRequestInfo {
        name: r.name(),
        device_key: hex::encode(r.body.guest_device.0),
        created_at: records::to_system_time(r.body.created_at),
    })
}
