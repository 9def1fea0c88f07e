//! The wallet object apps hold: thin wrappers over the core's `SharedWallet`.
//!
//! The core keeps its lock for short store operations only (see `keyway_wallet::shared`):
//! blocking reads answer while a sync waits on the network or an unlock on a door; network
//! calls run one at a time; a second unlock while one is at a door is refused
//! (`UnlockInProgress`). Cancelling an unlock (dropping its future: a cancelled coroutine,
//! Task or asyncio future) disconnects the link at once and frees the unlock slot.

use crate::ble_link::{BleLink, ForeignLink, LinkHandle};
use crate::discovery::DoorAdvertisement;
use crate::error::{KeywayError, Result};
use crate::observe::{KeyListener, KeyUpdate, Subscription, UnlockEvent, UnlockListener};
use crate::options::{NetworkOptions, UnlockOptions};
use crate::push_link::PushLink;
use crate::records::{
    self, DoorInfo, KeyInfo, PendingUpdates, PropertySyncResult, ReceiptInfo, ShareRequestInfo, SyncSummary,
    UploadSummary,
};
use crate::secure_store::{ForeignSecureStorage, SecureStore};
use keyway_protocol::credential::{DoorId, KeyId};
use keyway_wallet::DeliveryReport;
use keyway_wallet::share::ShareRequest;
use keyway_wallet::shared::UnlockSlot;
use keyway_wallet::unlock::UnlockReport;
use keyway_wallet::{HttpOptions, Property, PropertyId, SharedWallet, Wallet as CoreWallet};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(uniffi::Object)]
pub struct Wallet {
    shared: Arc<SharedWallet>,
}

impl Wallet {
    fn new(core: CoreWallet) -> Arc<Self> {
        Arc::new(Wallet { shared: Arc::new(SharedWallet::new(core)) })
    }

    /// Runs `f` on the core wallet from a blocking (app) thread, under the core's short lock.
    fn with<R>(&self, f: impl FnOnce(&mut CoreWallet) -> Result<R>) -> Result<R> {
        self.blocking()?;
        logged(self.shared.with(f))
    }

    /// Refuses a blocking call made from inside one of Keyway's async tasks.
    fn blocking(&self) -> Result<()> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(KeywayError::Internal { reason: "blocking wallet call made from an async task".into() });
        }
        Ok(())
    }
}

fn http_options(options: Option<NetworkOptions>) -> Result<Option<HttpOptions>> {
    options.map(NetworkOptions::to_core).transpose()
}

/// Cancels an unlock whose future is dropped before it finished: disconnects the app's link
/// and frees the unlock slot at once; the exchange's thread then stops at its next link call.
struct CancelOnDrop {
    link: Arc<LinkHandle>,
    slot: Arc<UnlockSlot>,
    shared: Arc<SharedWallet>,
    door: u32,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.link.cancel();
            self.slot.cancel();
            self.shared.unlock_cancelled(DoorId(self.door));
            tracing::info!(door = self.door, "unlock cancelled by the app");
        }
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

    /// Whether this wallet has accepted an invite and can reach its backend (and so can sync
    /// and upload). After a reinstall that kept the secure store but lost the database, the
    /// wallet is still enrolled and its next `sync` brings the keys back; after one that kept
    /// the database but lost the secure store, it is not enrolled and holds nothing.
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

    /// The doors this wallet knows, with their names and properties (two properties may both
    /// have a door 1).
    pub fn doors(&self) -> Result<Vec<DoorInfo>> {
        self.with(|w| Ok(w.door_list()?.into_iter().map(DoorInfo::from).collect()))
    }

    /// The properties this wallet has joined (one per accepted invite), oldest first.
    pub fn properties(&self) -> Result<Vec<Property>> {
        self.with(|w| Ok(w.properties()?))
    }

    /// Leaves one property (sign-out of one): its keys, doors, pending updates, receipts (even
    /// those not uploaded yet) and credentials are deleted; the other properties stay. The
    /// backend is not told: the manager removes the device there. Raises `InvalidInput` for a
    /// property this wallet has not joined.
    pub fn leave_property(&self, property_id: u32) -> Result<()> {
        self.blocking()?;
        logged(self.shared.leave_property(PropertyId(property_id)).map_err(KeywayError::from))?;
        tracing::info!(property = property_id, "property left");
        Ok(())
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
    /// `doors` from `start` to `expiry`; returns the offer text to hand the guest. With several
    /// properties that both have a key of that id, `property_id` says whose (`InvalidInput`
    /// without it).
    #[uniffi::method(default(property_id = None))]
    pub fn share_offline(
        &self,
        parent_key_id: u64,
        request: String,
        doors: Vec<u32>,
        start: SystemTime,
        expiry: SystemTime,
        property_id: Option<u32>,
    ) -> Result<String> {
        let doors = records::door_set(&doors)?;
        let validity = records::validity(start, expiry)?;
        let property = property_id.map(PropertyId);
        let offer =
            self.with(|w| Ok(w.share_offline_at(property, KeyId(parent_key_id), &request, doors, validity)?))?;
        tracing::info!(parent = %KeyId(parent_key_id), "guest key issued offline");
        Ok(offer)
    }

    /// Sign-out of every property: wipes the wallet's database and its secure store entries
    /// (device key, every property's device token and backend address) and starts over as a new wallet with a new device key. A sync
    /// or an unlock under way when it is called keeps nothing of what it brings back.
    pub fn reset(&self) -> Result<()> {
        self.blocking()?;
        logged(self.shared.reset().map_err(KeywayError::from))?;
        tracing::info!("wallet reset");
        Ok(())
    }

    /// Guest, step 2: imports a guest key offer meant for this device.
    pub fn accept_guest_key(&self, offer: String) -> Result<KeyInfo> {
        self.blocking()?;
        let key = KeyInfo::from(&logged(self.shared.accept_guest_key(&offer).map_err(KeywayError::from))?);
        tracing::info!(key = %key.label, "guest key accepted");
        Ok(key)
    }

    /// Calls `listener` with the keys at once, then whenever they change (a sync brought a
    /// key or a revocation, a key was replaced by a shorter one, started, expired or is about
    /// to, a guest key was accepted, the wallet was reset) and when the wallet needs a sync.
    /// Cancel (or drop / close) the returned subscription to stop. Time alone changes key
    /// states: call `refreshKeyStates` when the app comes to the foreground.
    pub fn subscribe_keys(&self, listener: Arc<dyn KeyListener>) -> Result<Arc<Subscription>> {
        self.blocking()?;
        let deliver = move |u: &keyway_wallet::observe::KeyUpdate| listener.on_update(KeyUpdate::from(u));
        let sub = logged(self.shared.subscribe_keys(Arc::new(deliver)).map_err(KeywayError::from))?;
        Ok(Subscription::new(sub))
    }

    /// Re-evaluates key states now; key listeners hear what changed.
    pub fn refresh_key_states(&self) -> Result<()> {
        self.blocking()?;
        logged(self.shared.refresh_keys().map_err(KeywayError::from))
    }

    /// Calls `listener` with the progress of every unlock from now on (connecting, door
    /// verified, request sent, granted or denied, updates delivered, receipt stored, or
    /// failed / cancelled). Cancel (or drop / close) the returned subscription to stop.
    pub fn subscribe_unlock_events(&self, listener: Arc<dyn UnlockListener>) -> Arc<Subscription> {
        let deliver = move |e: &keyway_wallet::UnlockEvent| listener.on_event(UnlockEvent::from(e));
        Subscription::new(self.shared.subscribe_unlock_events(Arc::new(deliver)))
    }

    /// Reads a scanned door's advertisement: `bytes` is the Keyway service data (or the raw
    /// advertising data / scan response holding it), `rssi` the reading in dBm that came with
    /// it (null/nil/None or 127 when there was none). Says which door it is, whether a key of
    /// this wallet opens it now, whether this phone carries updates for it, and whether it is
    /// near by the threshold of `setNearRssi`. Raises `InvalidPayload` for bytes that are not
    /// a Keyway door's advertisement.
    pub fn parse_advertisement(&self, bytes: Vec<u8>, rssi: Option<i16>) -> Result<DoorAdvertisement> {
        self.blocking()?;
        Ok(logged(self.shared.parse_advertisement(&bytes, rssi).map_err(KeywayError::from))?.into())
    }

    /// The RSSI (dBm) at or above which `parseAdvertisement` says `Near` (default -70).
    pub fn set_near_rssi(&self, dbm: i16) {
        self.shared.set_near_rssi(dbm);
    }

    pub fn near_rssi(&self) -> i16 {
        self.shared.near_rssi()
    }
}

/// Calls that wait on a door or the network. They run on Keyway's tokio runtime (the BLE
/// exchange on its blocking pool), so an app awaits them without blocking its UI thread.
#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Accepts the invite in the welcome message: registers this device with the backend at
    /// `backend_url` and stores the keys it grants (verified before anything is stored).
    #[uniffi::method(default(options = None))]
    pub async fn accept_invite(
        &self,
        backend_url: String,
        invite_token: String,
        options: Option<NetworkOptions>,
    ) -> Result<SyncSummary> {
        let options = http_options(options)?;
        let accepted = self.shared.accept_invite(&backend_url, &invite_token, options.as_ref()).await;
        let summary = logged(accepted.map_err(KeywayError::from))?;
        tracing::info!(keys = summary.keys_received, doors = summary.doors, "invite accepted");
        Ok(summary.into())
    }

    /// Fetches what changed since the last sync (keys, revocations, doors, door updates to
    /// carry) at every property and stores it, verified. Safe to retry. Runs without holding
    /// the wallet: reads and unlocks go on while it waits for the backends. Returns the sum
    /// over the properties, or raises the first property's failure (the others' answers are
    /// stored all the same; `syncEach` says which failed).
    #[uniffi::method(default(options = None))]
    pub async fn sync(&self, options: Option<NetworkOptions>) -> Result<SyncSummary> {
        let options = http_options(options)?;
        let summary = logged(self.shared.sync(options.as_ref()).await.map_err(KeywayError::from))?;
        tracing::info!(keys = summary.keys_received, revoked = summary.keys_revoked, "synced");
        Ok(summary.into())
    }

    /// `sync`, with one result per property: their backends are asked at once, and one that
    /// fails stops nothing of the others. Raises `NotEnrolled` only when no property is joined.
    #[uniffi::method(default(options = None))]
    pub async fn sync_each(&self, options: Option<NetworkOptions>) -> Result<Vec<PropertySyncResult>> {
        let options = http_options(options)?;
        let results = logged(self.shared.sync_each(options.as_ref()).await.map_err(KeywayError::from))?;
        Ok(results.into_iter().map(PropertySyncResult::from).collect())
    }

    /// A one-time code (valid 15 minutes) that enrols another phone of this person: show it on
    /// this phone and enter it on the new one, which passes it to `accept_invite` in place of an
    /// invite token. Returns the code and when it expires. `property_id` says for which
    /// property when the wallet has joined several (`InvalidInput` without it).
    #[uniffi::method(default(property_id = None))]
    pub async fn device_code(&self, property_id: Option<u32>) -> Result<crate::records::DeviceCode> {
        let code = self.shared.device_code(property_id.map(PropertyId)).await;
        let code = logged(code.map_err(KeywayError::from))?;
        Ok(crate::records::DeviceCode { code: code.code, expires_at: crate::records::to_system_time(code.expires_at) })
    }

    /// For a guest: revalidates every guest key this phone was offered with the host's backend
    /// (named in the offer), so it keeps opening doors as long as the host keeps syncing. Call
    /// it when online, like `sync`; it needs no account.
    pub async fn refresh_guest_keys(&self) -> Result<crate::records::GuestRefreshSummary> {
        let summary = logged(self.shared.refresh_guest_keys().await.map_err(KeywayError::from))?;
        Ok(summary.into())
    }

    /// Uploads the door receipts (and their activity) the backend has not acknowledged yet,
    /// and registers guest keys shared offline. Safe to retry.
    #[uniffi::method(default(options = None))]
    pub async fn upload(&self, options: Option<NetworkOptions>) -> Result<UploadSummary> {
        let options = http_options(options)?;
        let summary = logged(self.shared.upload(options.as_ref()).await.map_err(KeywayError::from))?;
        tracing::info!(receipts = summary.receipts_uploaded, "uploaded");
        Ok(summary.into())
    }

    /// The doors this wallet carries pending updates for, the one furthest behind first: the
    /// app runs `deliver` for those it finds nearby (a scan result), never while an unlock is
    /// under way.
    pub fn pending_deliveries(&self) -> Result<Vec<u32>> {
        logged(
            self.shared.pending_deliveries().map(|d| d.into_iter().map(|d| d.0).collect()).map_err(KeywayError::from),
        )
    }

    /// Hands `door_id` the updates this wallet carries for it without unlocking it (a delivery
    /// session over `link`, connected and subscribed as for `unlock`). The door applies them
    /// and answers with its receipt, stored for `upload`, only if it would admit this wallet's
    /// key; nothing opens. Takes no unlock slot: an unlock started meanwhile does not wait.
    /// Cancelling the call disconnects `link`; nothing of it is stored.
    pub async fn deliver(&self, door_id: u32, link: Arc<dyn BleLink>) -> Result<DeliveryReport> {
        let mut link = ForeignLink::new(link);
        let handle = link.handle();
        let shared = self.shared.clone();
        struct CloseOnDrop(Arc<LinkHandle>, bool);
        impl Drop for CloseOnDrop {
            fn drop(&mut self) {
                if self.1 {
                    self.0.cancel();
                }
            }
        }
        let mut close = CloseOnDrop(handle, true);
        let task = tokio::task::spawn_blocking(move || shared.deliver(DoorId(door_id), &mut link));
        let joined = task.await;
        close.1 = false;
        let report = joined.map_err(|e| KeywayError::Internal { reason: format!("delivery task failed: {e}") })?;
        let report = logged(report.map_err(KeywayError::from))?;
        tracing::info!(door = door_id, admitted = report.admitted, seq = report.seq_after, "delivery finished");
        Ok(report)
    }

    /// Unlocks `door_id` through the app's `link` (connected to the door and subscribed to
    /// its responses). A refusal by the door is a result (`granted == false`, `denial`), not
    /// an error; the door's receipt is stored either way. One unlock at a time: another one
    /// while this runs fails at once with `UnlockInProgress`. Cancelling the call ends the
    /// exchange at once and disconnects `link`; nothing of it is stored.
    #[uniffi::method(default(options = None))]
    pub async fn unlock(
        &self,
        door_id: u32,
        link: Arc<dyn BleLink>,
        options: Option<UnlockOptions>,
    ) -> Result<UnlockReport> {
        let options = logged(options.unwrap_or_default().to_core())?;
        let slot = Arc::new(logged(self.shared.claim_unlock().map_err(KeywayError::from))?);
        let mut link = ForeignLink::new(link);
        let mut cancel = CancelOnDrop {
            link: link.handle(),
            slot: slot.clone(),
            shared: self.shared.clone(),
            door: door_id,
            armed: true,
        };
        let shared = self.shared.clone();
        let task = tokio::task::spawn_blocking(move || {
            let report = shared.unlock_claimed(&slot, DoorId(door_id), &mut link, options);
            drop(link);
            slot.release();
            report
        });
        let joined = task.await;
        cancel.armed = false;
        let report = joined.map_err(|e| KeywayError::Internal { reason: format!("unlock task failed: {e}") })?;
        let report = logged(report.map_err(KeywayError::from))?;
        tracing::info!(door = door_id, granted = report.granted, seq = report.seq_after, "unlock finished");
        Ok(report)
    }

    /// Unlocks `door_id` over a `PushLink` the app drives from its BLE callbacks (see
    /// `PushLink`): no thread waits on the door. The same results, errors and events as
    /// `unlock`; cancelling the call ends the exchange at once (`link.nextWrite()` returns
    /// null/nil/None: disconnect) and stores nothing.
    #[uniffi::method(default(options = None))]
    pub async fn unlock_push(
        &self,
        door_id: u32,
        link: Arc<PushLink>,
        options: Option<UnlockOptions>,
    ) -> Result<UnlockReport> {
        let options = logged(options.unwrap_or_default().to_core())?;
        let report = self.shared.unlock_push(DoorId(door_id), &link.inner, options).await;
        let report = logged(report.map_err(KeywayError::from))?;
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
