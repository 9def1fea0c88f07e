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

use crate::online::{HttpOptions, SyncSummary, UploadSummary};
use crate::unlock::{UnlockOptions, UnlockReport};
use crate::{Result, Wallet, WalletError};
use keyway_link::Link;
use keyway_protocol::credential::DoorId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub struct SharedWallet {
    wallet: Mutex<Wallet>,
    network: tokio::sync::Mutex<()>,
    unlocking: Arc<AtomicBool>,
}

/// The right to run this wallet's one unlock. Released when dropped or by
/// [`UnlockSlot::release`], whichever comes first (a cancelled unlock releases it at once,
/// while its link call may still be returning).
pub struct UnlockSlot {
    busy: Arc<AtomicBool>,
    held: AtomicBool,
}

impl UnlockSlot {
    pub fn release(&self) {
        if self.held.swap(false, Ordering::SeqCst) {
            self.busy.store(false, Ordering::SeqCst);
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
        self.with(|w| w.finish_accept_invite(fetched))
    }

    pub async fn sync(&self, options: Option<&HttpOptions>) -> Result<SyncSummary> {
        let _network = self.network.lock().await;
        let call = self.with(|w| w.begin_sync(options))?;
        let fetched = call.fetch().await?;
        self.with(|w| w.finish_sync(fetched))
    }

    pub async fn upload(&self, options: Option<&HttpOptions>) -> Result<UploadSummary> {
        let _network = self.network.lock().await;
        let call = self.with(|w| w.begin_upload(options))?;
        let mut summary = UploadSummary::default();
        while let Some(round) = self.with(|w| w.next_upload_round())? {
            let answer = round.send(&call).await?;
            self.with(|w| w.apply_upload_round(&call, answer, &mut summary))?;
        }
        Ok(summary)
    }

    /// Claims the one unlock slot, or refuses at once if another unlock holds it.
    pub fn claim_unlock(&self) -> Result<UnlockSlot> {
        if self.unlocking.swap(true, Ordering::SeqCst) {
            return Err(WalletError::UnlockInProgress);
        }
        Ok(UnlockSlot { busy: self.unlocking.clone(), held: AtomicBool::new(true) })
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
        _slot: &UnlockSlot,
        door: DoorId,
        link: &mut dyn Link,
        options: UnlockOptions,
    ) -> Result<UnlockReport> {
        let prepared = self.with(|w| w.prepare_unlock(door, options))?;
        let finished = prepared.exchange(link)?;
        self.with(|w| w.record_unlock(finished))
    }

    /// Sign-out ([`Wallet::reset`]). Does not wait for a sync in flight: that sync's answer is
    /// dropped when it arrives.
    pub fn reset(&self) -> Result<()> {
        self.with(|w| w.reset())
    }
}
