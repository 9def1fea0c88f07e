//! One wallet shared by an app's threads and tasks (what the bindings hold).
//!
//! The wallet's state sits behind a lock that is only ever held for a short store operation:
//! network conversations and exchanges with a door run outside it and apply their result
//! under it (verified against what the wallet trusts at that moment). So:
//! - reads (`keys`, `doors`, …) never wait for a door or the network;
//! - an unlock never waits for a sync, even one stuck in retries against a silent backend;
//! - network conversations (accept an invite, sync, upload) run one at a time, in call order,
//!   so two answers are never applied out of order;
//! - one unlock at a time: a second one while the first is at a door is refused at once with
//!   [`WalletError::UnlockInProgress`] rather than queued (a queued unlock would open a door
//!   seconds after the tap that asked for it, when the resident may have walked away).

//!
//! Observers: [`SharedWallet::subscribe_unlock_events`] (each unlock's progress) and
//! [`SharedWallet::subscribe_keys`] (key changes and sync needs); see [`crate::events`] for
//! how listeners are called.

use crate::advert::{Advertisement, DEFAULT_NEAR_RSSI};
use crate::error::Category;
use crate::events::{Listeners, Progress, Subscription, UnlockEvent};
use crate::observe::{KeyObserver, KeyUpdate};
use crate::online::{HttpOptions, PropertySync, SyncSummary, UploadSummary};
use crate::push::PushLink;
use crate::store::PropertyId;
use crate::unlock::{UnlockOptions, UnlockReport};
use crate::{Result, Wallet, WalletError};
use keyway_link::Link;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::DoorId;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub struct SharedWallet {
    wallet: Mutex<Wallet>,
    network: tokio::sync::Mutex<()>,
    unlocking: Arc<AtomicBool>,
    unlock_events: Arc<Listeners<UnlockEvent>>,
    key_listeners: Arc<Listeners<KeyUpdate>>,
    observer: Mutex<KeyObserver>,
    near_rssi: AtomicI32,
}

/// The right to run this wallet's one unlock. Released when dropped or by
/// [`UnlockSlot::release`], whichever comes first (a cancelled unlock releases it at once,
/// while its link call may still be returning).
pub struct UnlockSlot {
    busy: Arc<AtomicBool>,
    held: AtomicBool,
    cancelled: AtomicBool,
}

impl UnlockSlot {
    pub fn release(&self) {
        if self.held.swap(false, Ordering::SeqCst) {
            self.busy.store(false, Ordering::SeqCst);
        }
    }

    /// The app cancelled this unlock: the slot is free at once, and the exchange, when its
    /// link call returns, reports nothing more.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.release();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Cancels a push unlock whose future is dropped before it finished.
struct PushCancel<'a> {
    shared: &'a SharedWallet,
    link: &'a PushLink,
    slot: UnlockSlot,
    door: DoorId,
    armed: bool,
}

impl Drop for PushCancel<'_> {
    fn drop(&mut self) {
        self.link.finish();
        if self.armed {
            self.slot.cancel();
            self.shared.unlock_cancelled(self.door);
        }
    }
}

impl Drop for UnlockSlot {
    fn drop(&mut self) {
        self.release();
    }
}

impl SharedWallet {
    pub fn new(wallet: Wallet) -> Self {
        SharedWallet {
            wallet: Mutex::new(wallet),
            network: tokio::sync::Mutex::new(()),
            unlocking: Arc::new(AtomicBool::new(false)),
            unlock_events: Arc::default(),
            key_listeners: Arc::default(),
            observer: Mutex::default(),
            near_rssi: AtomicI32::new(i32::from(DEFAULT_NEAR_RSSI)),
        }
    }

    /// Runs `f` on the wallet under its lock. Keep `f` short: no network, no door.
    pub fn with<R, E>(&self, f: impl FnOnce(&mut Wallet) -> std::result::Result<R, E>) -> std::result::Result<R, E> {
        // A panic inside `f` cannot leave the store half-written (every change is one
        // transaction), so a poisoned lock still guards a consistent wallet.
        let mut wallet = self.wallet.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut wallet)
    }

    pub async fn accept_invite(
        &self,
        backend_url: &str,
        invite_token: &str,
        options: Option<&HttpOptions>,
    ) -> Result<SyncSummary> {
        let _network = self.network.lock().await;
        let call = self.with(|w| w.begin_accept_invite(backend_url, options))?;
        let fetched = call.fetch(invite_token).await?;
        let summary = self.with(|w| w.finish_accept_invite(fetched));
        self.after_sync(&summary);
        summary
    }

    /// Syncs every property ([`Wallet::sync`]): the sum, or the first failure (the others'
    /// answers are stored all the same).
    pub async fn sync(&self, options: Option<&HttpOptions>) -> Result<SyncSummary> {
        self.sync_each(options).await.and_then(crate::online::combined)
    }

    /// Syncs every property, their backends asked at once and without the wallet's lock, each
    /// answer verified and stored under the lock as it comes: one property's result each (one
    /// failing backend stops nothing of the others). `Err` only when no property is joined.
    pub async fn sync_each(&self, options: Option<&HttpOptions>) -> Result<Vec<PropertySync>> {
        let _network = self.network.lock().await;
        let results = async {
            let calls = self.with(|w| w.begin_sync(options))?;
            let done = futures::future::join_all(calls.into_iter().map(|(property, call)| async move {
                let result = match call {
                    Ok(call) => match call.fetch().await {
                        Ok(fetched) => self.with(|w| w.finish_sync(fetched)),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                PropertySync { property, result }
            }))
            .await;
            Ok(done)
        }
        .await;
        let failure = match &results {
            Ok(all) => all.iter().find_map(|r| r.result.as_ref().err()),
            Err(e) => Some(e),
        };
        let synced_at = match &results {
            Ok(all) => all.iter().filter_map(|r| r.result.as_ref().ok()).map(|s| s.server_time).max(),
            Err(_) => None,
        };
        self.after_sync_outcome(synced_at, failure);
        results
    }

    /// A one-time code that enrols another phone of this wallet's person at `property` (or the
    /// one property joined) ([`Wallet::device_code`]), asked without the wallet's lock.
    pub async fn device_code(&self, property: Option<PropertyId>) -> Result<keyway_api::DeviceCode> {
        let (client, token) = self.with(|w| w.begin_device_code(property))?;
        Ok(client.device_code(&token).await?)
    }

    /// A guest's revalidation ([`Wallet::refresh_guest_keys`]), the requests made without the
    /// wallet's lock.
    pub async fn refresh_guest_keys(&self) -> Result<crate::guest_refresh::GuestRefreshSummary> {
        let _network = self.network.lock().await;
        let call = self.with(|w| w.begin_guest_refresh())?;
        let fetched = call.fetch().await;
        self.with(|w| w.finish_guest_refresh(fetched))
    }

    /// Tells key listeners what a sync (or an invite) changed, or that it failed.
    fn after_sync(&self, summary: &Result<SyncSummary>) {
        match summary {
            Ok(s) => self.after_sync_outcome(Some(s.server_time), None),
            Err(e) => self.after_sync_outcome(None, Some(e)),
        }
    }

    /// Tells key listeners that a sync stored answers up to `synced_at` (some property synced)
    /// and, with `failure`, that some property's sync failed.
    fn after_sync_outcome(&self, synced_at: Option<UnixTime>, failure: Option<&WalletError>) {
        // Remembered even with no listener: one that subscribes later hears the need.
        self.observer().sync_finished(failure.and_then(sync_failure));
        if !self.key_listeners.is_empty() {
            // A snapshot that cannot be read (storage failing) is reported by the next call.
            let _ = self.refresh(synced_at);
        }
    }

    fn observer(&self) -> std::sync::MutexGuard<'_, KeyObserver> {
        self.observer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Compares the keys with what listeners last heard and tells them what changed.
    fn refresh(&self, synced_at: Option<UnixTime>) -> Result<()> {
        let snapshot = self.with(|w| w.key_snapshot())?;
        let update = self.observer().update(snapshot, synced_at);
        if !update.changes.is_empty() {
            self.key_listeners.emit(&update);
        }
        Ok(())
    }

    /// Re-evaluates the keys now (time alone starts and ends keys): call it when the app comes
    /// to the foreground or on a timer. Listeners hear only what changed.
    pub fn refresh_keys(&self) -> Result<()> {
        self.refresh(None)
    }

    /// Calls `listener` with every change to the keys (see [`crate::observe`]): first at once
    /// with the keys as they stand (and the sync need, if any), then after each change.
    pub fn subscribe_keys(&self, listener: Arc<dyn Fn(&KeyUpdate) + Send + Sync>) -> Result<Subscription> {
        self.refresh(None)?;
        let keys = self.with(|w| w.key_snapshot())?.keys;
        let first = self.observer().current(keys);
        crate::events::deliver(&listener, &first);
        Ok(self.key_listeners.add(listener))
    }

    /// Calls `listener` with the progress of every unlock from now on.
    pub fn subscribe_unlock_events(&self, listener: Arc<dyn Fn(&UnlockEvent) + Send + Sync>) -> Subscription {
        self.unlock_events.add(listener)
    }

    /// Reports that the app cancelled the unlock of `door`.
    pub fn unlock_cancelled(&self, door: DoorId) {
        self.unlock_events.emit(&UnlockEvent::Cancelled { door });
    }

    /// The RSSI (dBm) at or above which [`SharedWallet::parse_advertisement`] calls a door near.
    pub fn set_near_rssi(&self, dbm: i16) {
        self.near_rssi.store(i32::from(dbm), Ordering::Relaxed);
    }

    pub fn near_rssi(&self) -> i16 {
        i16::try_from(self.near_rssi.load(Ordering::Relaxed)).unwrap_or(DEFAULT_NEAR_RSSI)
    }

    /// A scanned door's advertisement against this wallet ([`Wallet::parse_advertisement`]),
    /// judged by the threshold of [`SharedWallet::set_near_rssi`].
    pub fn parse_advertisement(&self, bytes: &[u8], rssi: Option<i16>) -> Result<Advertisement> {
        let near = self.near_rssi();
        self.with(|w| w.parse_advertisement(bytes, rssi, near))
    }

    /// Uploads to every property's backend ([`Wallet::upload`]), the requests made without the
    /// wallet's lock. One failing backend does not stop the others; the first failure is
    /// returned after them.
    pub async fn upload(&self, options: Option<&HttpOptions>) -> Result<UploadSummary> {
        let _network = self.network.lock().await;
        let calls = self.with(|w| w.begin_upload(options))?;
        let mut summary = UploadSummary::default();
        let mut failure = None;
        for (_, call) in calls {
            let done = async {
                let call = call?;
                while let Some(round) = self.with(|w| w.next_upload_round(&call))? {
                    let answer = round.send(&call).await?;
                    self.with(|w| w.apply_upload_round(&call, answer, &mut summary))?;
                }
                Ok::<(), WalletError>(())
            }
            .await;
            if let Err(e) = done {
                failure.get_or_insert(e);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }

    /// The doors this wallet carries updates for, most behind first
    /// ([`Wallet::pending_deliveries`]).
    pub fn pending_deliveries(&self) -> Result<Vec<DoorId>> {
        self.with(|w| w.pending_deliveries())
    }

    /// A delivery session with `door` over `link` (blocking: run it off the app's UI thread).
    /// It takes no unlock slot and holds the wallet only to prepare and to store the receipt,
    /// so an unlock never waits for it; the app cancels it by closing `link`.
    pub fn deliver(&self, door: DoorId, link: &mut dyn Link) -> Result<crate::DeliveryReport> {
        let prepared = self.with(|w| w.prepare_delivery(door))?;
        let finished = prepared.exchange(link)?;
        self.with(|w| w.record_delivery(finished))
    }

    /// Claims the one unlock slot, or refuses at once if another unlock holds it.
    pub fn claim_unlock(&self) -> Result<UnlockSlot> {
        if self.unlocking.swap(true, Ordering::SeqCst) {
            return Err(WalletError::UnlockInProgress);
        }
        Ok(UnlockSlot { busy: self.unlocking.clone(), held: AtomicBool::new(true), cancelled: AtomicBool::new(false) })
    }

    /// Unlocks `door` over `link` (blocking: run it off the app's UI thread). The wallet is
    /// locked only to choose the key and to store the receipt, never during the exchange.
    pub fn unlock(&self, door: DoorId, link: &mut dyn Link, options: UnlockOptions) -> Result<UnlockReport> {
        let slot = self.claim_unlock()?;
        self.unlock_claimed(&slot, door, link, options)
    }

    /// [`SharedWallet::unlock`] under a slot the caller claimed (and may release early when the
    /// app cancels).
    pub fn unlock_claimed(
        &self,
        slot: &UnlockSlot,
        door: DoorId,
        link: &mut dyn Link,
        options: UnlockOptions,
    ) -> Result<UnlockReport> {
        let progress = Progress { door, listeners: &self.unlock_events };
        let report = self.with(|w| w.prepare_unlock(door, options)).and_then(|prepared| {
            progress.emit(UnlockEvent::Connecting { door });
            let finished = crate::events::exchange(prepared, link, &progress)?;
            self.with(|w| w.record_unlock(finished))
        });
        // A cancelled unlock reports nothing more: the app heard `Cancelled`.
        if !slot.is_cancelled() {
            progress.finished(&report);
        }
        report
    }

    /// Unlocks `door` over the app's callback-driven `link` ([`PushLink`]): the exchange waits
    /// for what the app pushes, on no thread of its own. Dropping the future cancels the unlock:
    /// `link` is finished at once (its `next_write` returns `None`), the unlock slot is free and
    /// nothing is stored.
    pub async fn unlock_push(&self, door: DoorId, link: &PushLink, options: UnlockOptions) -> Result<UnlockReport> {
        let slot = match self.claim_unlock() {
            Ok(slot) => slot,
            Err(e) => {
                link.finish();
                return Err(e);
            }
        };
        let mut guard = PushCancel { shared: self, link, slot, door, armed: true };
        let progress = Progress { door, listeners: &self.unlock_events };
        let result = async {
            let prepared = self.with(|w| w.prepare_unlock(door, options))?;
            progress.emit(UnlockEvent::Connecting { door });
            let finished = crate::push::exchange(prepared, link, &progress).await?;
            self.with(|w| w.record_unlock(finished))
        }
        .await;
        guard.armed = false;
        progress.finished(&result);
        result
    }

    /// Sign-out ([`Wallet::reset`]). Does not wait for a sync in flight: that sync's answer is
    /// dropped when it arrives. Key listeners hear every key removed.
    pub fn reset(&self) -> Result<()> {
        self.with(|w| w.reset())?;
        let _ = self.refresh(None);
        Ok(())
    }

    /// Leaves one property ([`Wallet::leave_property`]); key listeners hear its keys removed.
    pub fn leave_property(&self, property: PropertyId) -> Result<()> {
        self.with(|w| w.leave_property(property))?;
        let _ = self.refresh(None);
        Ok(())
    }

    /// Imports a guest key offer ([`Wallet::accept_guest_key`]); key listeners hear it.
    pub fn accept_guest_key(&self, offer_text: &str) -> Result<crate::key_state::KeyView> {
        let key = self.with(|w| w.accept_guest_key(offer_text))?;
        let _ = self.refresh(None);
        Ok(key)
    }
}

/// What a failed sync means for key listeners: a reason to sync again (the keys may be out
/// of date), or nothing they can act on by syncing.
fn sync_failure(e: &WalletError) -> Option<String> {
    match e.category() {
        Category::Network | Category::Server | Category::BackendNotTrusted => Some(e.to_string()),
        _ => None,
    }
}
