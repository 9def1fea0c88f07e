//! Unlocking a door over any [`Link`]: choose the key, run the phone side of the protocol,
//! hand over pending updates, keep the receipt for upload.

use super::key_state::pick_key;
use super::{Result, Wallet, WalletError};
use keyway_link::{Link, run_unlock};
use keyway_protocol::credential::{DenialReason, DoorId, KeyId};
use keyway_protocol::unlock::{PhoneSession, UnlockParams};
use std::time::Duration;

/// How long an unlock may take from the subscription to the door's result.
pub const UNLOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What an unlock did, from the door's verified receipt: the one shape from the wallet to the
/// app (the bindings expose this type itself, not a copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockReport {
    /// The door that was unlocked (or refused).
    pub door_id: DoorId,
    /// The door's name as the property calls it.
    pub door_name: String,
    /// The key the wallet presented.
    pub key_id: KeyId,
    /// Whether that key is a guest key.
    pub is_guest: bool,
    /// Whether the door opened.
    pub granted: bool,
    /// Why the door refused, when it did.
    pub denial: Option<DenialReason>,
    /// The door's update seq before and after this session.
    pub seq_before: u64,
    pub seq_after: u64,
    /// Whether pending updates were handed over.
    pub updates_carried: bool,
    /// Activity records the door sent back (queued for upload with the receipt).
    pub activity_records: u32,
}

impl Wallet {
    /// Unlocks `door` over `link` (already connected to it) with the best key this wallet
    /// holds, offline if need be. Delivered updates are dropped only when the door's signed
    /// receipt shows them applied; a failed session changes nothing here.
    pub fn unlock(&mut self, door: DoorId, link: &mut dyn Link) -> Result<UnlockReport> {
        let now = self.now()?;
        let (door_name, door_cert) = self.store.door_cert(door)?.ok_or(WalletError::UnknownDoor(door))?;
        let keys = self.store.usable_keys(now)?;
        let chain = pick_key(keys.iter().map(|k| (&k.chain, k.revoked)), door, now)
            .ok_or(WalletError::NoKeyForDoor(door))?
            .clone();
        let batch = self.store.pending(door)?.map(|p| p.batch);
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let session = PhoneSession::new(UnlockParams {
            chain: chain.clone(),
            device_key: self.device.clone(),
            door_cert,
            anchors: self.store.anchors()?,
            batch,
            activity_after: self.store.activity_after(door)?,
            nonce,
            now,
        })?;
        let outcome = run_unlock(link, session, UNLOCK_TIMEOUT)?;
        self.store.record_receipt(&outcome.receipt, keyway_api::clock::now())?;
        Ok(UnlockReport {
            door_id: door,
            door_name,
            key_id: chain.leaf_key_id(),
            is_guest: chain.guest_link().is_some(),
            granted: outcome.granted,
            denial: outcome.denial,
            seq_before: outcome.updates.seq_before,
            seq_after: outcome.updates.seq_after,
            updates_carried: outcome.batch_carried,
            activity_records: u32::try_from(outcome.receipt.body.activity.len()).unwrap_or(u32::MAX),
        })
    }
}
