//! Unlocking a door: the wallet's side of the exchange over any [`Link`].
//!
//! The wallet picks its best key for the door, brings the door's pending updates and the
//! activity position, runs the exchange, and records the door's receipt (with the applied seq
//! and the dropping of delivered updates) in one transaction before reporting.

use super::key_state::pick_key;
use super::{Result, Wallet, WalletError};
use crate::UnixTime;
use crate::credential::{DenialReason, DoorId};
use crate::protocol::{PhoneSession, UnlockParams};
use crate::transport::{Link, run_unlock};
use std::time::Duration;

/// How long the whole exchange may take once connected.
pub const UNLOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What one unlock did, as the door's verified receipt shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockReport {
    pub door_id: DoorId,
    pub granted: bool,
    pub denial: Option<DenialReason>,
    /// Door updates the door consumed in this session.
    pub updates_applied: u64,
    /// The door's update seq after the session.
    pub door_seq: u64,
    /// Activity records the receipt brought back.
    pub activity_records: usize,
    /// The door's clock minus the phone's, in seconds.
    pub door_clock_skew_secs: i64,
}

impl Wallet {
    /// Unlocks `door` through `link` (already connected and subscribed).
    pub fn unlock(&mut self, door: DoorId, link: &mut dyn Link) -> Result<UnlockReport> {
        let now = self.now()?;
        let keys = self.store.keys()?;
        let chain = pick_key(keys.iter().map(|k| (&k.chain, k.revoked)), door, now).ok_or(WalletError::NoKeyForDoor(door))?.clone();
        let (_, door_cert) = self.store.door_cert(door)?.ok_or(WalletError::UnknownDoor(door))?;
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let params = UnlockParams {
            chain,
            device_key: self.device.clone(),
            door_cert,
            anchors: self.store.anchors()?,
            batch: self.store.pending(door)?.map(|p| p.batch),
            activity_after: self.store.activity_after(door)?,
            nonce,
            now,
        };
        let session = PhoneSession::new(params).map_err(crate::transport::UnlockError::from)?;
        let outcome = run_unlock(link, session, UNLOCK_TIMEOUT)?;
        self.store.record_receipt(&outcome.receipt, UnixTime::now())?;
        Ok(UnlockReport {
            door_id: door,
            granted: outcome.granted,
            denial: outcome.denial,
            updates_applied: outcome.updates.seq_after.saturating_sub(outcome.updates.seq_before),
            door_seq: outcome.updates.seq_after,
            activity_records: outcome.receipt.body.activity.len(),
            door_clock_skew_secs: outcome.door_clock_skew_secs,
        })
    }
}
