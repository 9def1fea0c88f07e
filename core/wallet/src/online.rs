//! The wallet's conversations with Mission Control: accept an invite, sync, upload receipts,
//! register shared guest keys. Each is safe to retry; none loses local state when it fails.

use super::verify_sync::{BadSync, verify_sync};
use super::{Result, Wallet, WalletError};
use keyway_api::ReceiptVerdict;
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{KeyChain, KeyId};

pub(crate) const DEVICE_TOKEN: &str = "device-token";
pub(crate) const META_BACKEND: &str = "backend_url";
pub(crate) const META_PERSON: &str = "person_id";

/// What a sync changed, for the app to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub keys_received: usize,
    pub keys_revoked: usize,
    pub doors: usize,
    /// Doors for which this device now carries pending updates.
    pub doors_with_updates: usize,
    pub server_time: UnixTime,
}

/// What an upload achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadSummary {
    pub receipts_uploaded: usize,
    /// Receipts the backend refused (kept on the device with its reason, never sent again).
    pub receipts_refused: usize,
    pub new_activity: u32,
    pub updates_confirmed: usize,
}

impl Wallet {
    /// Overrides the HTTP settings (timeouts, retries) used from now on.
    pub fn set_client_config(&mut self, config: ClientConfig) -> Result<()> {
        self.client = Some(SyncClient::new(config)?);
        Ok(())
    }

    fn client(&mut self) -> Result<SyncClient> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let url = self.store.meta_string(META_BACKEND)?.ok_or(WalletError::NotEnrolled)?;
        let client = SyncClient::new(ClientConfig::new(url))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    fn device_token(&self) -> Result<String> {
        let token = self.secure.get(DEVICE_TOKEN)?.ok_or(WalletError::NotEnrolled)?;
        String::from_utf8(token).map_err(|_| WalletError::NotEnrolled)
    }

    /// Whether this wallet has accepted an invite.
    pub fn is_enrolled(&self) -> Result<bool> {
        Ok(self.secure.get(DEVICE_TOKEN)?.is_some())
    }

    /// Accepts the invite `invite_token` from the welcome message, for this device, at the
    /// backend `backend_url`, and stores the keys it grants.
    pub async fn accept_invite(&mut self, backend_url: &str, invite_token: &str) -> Result<SyncSummary> {
        let client = match &self.client {
            Some(c) if c.base_url() == backend_url.trim().trim_end_matches('/') => c.clone(),
            _ => SyncClient::new(ClientConfig::new(backend_url))?,
        };
        let resp = client.accept_invite(invite_token, &self.device.public()).await?;
        // Verify before anything is stored: a bad answer leaves the wallet as it was.
        let changes = verify_sync(&resp.sync, &self.device.public(), &self.store.anchors()?, &self.store.keys()?)?;
        self.secure.put(DEVICE_TOKEN, resp.credentials.device_token.as_bytes())?;
        self.store.set_meta(META_BACKEND, client.base_url().as_bytes())?;
        self.store.set_meta(META_PERSON, &resp.credentials.person_id.0.to_be_bytes())?;
        self.client = Some(client);
        self.apply(changes)
    }

    /// Fetches what changed since the last sync and stores it, verified.
    pub async fn sync(&mut self) -> Result<SyncSummary> {
        let client = self.client()?;
        let token = self.device_token()?;
        let cursor = self.store.cursor()?;
        let resp = client.sync(&token, cursor.as_deref()).await?;
        let changes = verify_sync(&resp, &self.device.public(), &self.store.anchors()?, &self.store.keys()?)?;
        self.apply(changes)
    }

    fn apply(&mut self, changes: crate::store::SyncChanges) -> Result<SyncSummary> {
        let summary = SyncSummary {
            keys_received: changes.keys.len(),
            keys_revoked: changes.revoked_keys.len(),
            doors: changes.door_certs.len(),
            doors_with_updates: changes.pending.iter().filter(|(_, b)| b.is_some()).count(),
            server_time: changes.server_time,
        };
        self.store.apply_sync(&changes, keyway_api::clock::now())?;
        Ok(summary)
    }

    /// Uploads every receipt the backend has not acknowledged yet, then registers guest keys
    /// shared while offline. Each receipt gets its own verdict: accepted ones are marked
    /// uploaded, refused ones are set aside with the reason (kept, never retried); nothing is
    /// marked before the backend answered, and a repeated upload is harmless on both sides.
    pub async fn upload(&mut self) -> Result<UploadSummary> {
        let client = self.client()?;
        let token = self.device_token()?;
        let mut summary = UploadSummary::default();
        let pending = self.store.receipts_to_upload()?;
        for chunk in pending.chunks(keyway_api::MAX_RECEIPTS_PER_UPLOAD.min(64)) {
            let receipts: Vec<_> = chunk.iter().map(|r| r.receipt.clone()).collect();
            let resp = client.upload_receipts(&token, &receipts).await?;
            if resp.results.len() != chunk.len() {
                return Err(BadSync::UploadAnswer { sent: chunk.len(), answered: resp.results.len() }.into());
            }
            let mut accepted = Vec::new();
            let mut refused = Vec::new();
            for (stored, result) in chunk.iter().zip(&resp.results) {
                match &result.verdict {
                    ReceiptVerdict::Accepted => {
                        accepted.push(stored.id);
                        summary.new_activity += result.new_activity;
                        summary.updates_confirmed += result.newly_delivered.len();
                    }
                    ReceiptVerdict::Refused { reason } => refused.push((stored.id, reason.clone())),
                }
            }
            self.store.mark_uploaded(&accepted, keyway_api::clock::now())?;
            self.store.set_aside(&refused)?;
            summary.receipts_uploaded += accepted.len();
            summary.receipts_refused += refused.len();
        }
        for issued in self.store.issued_guest_keys()? {
            if issued.registered {
                continue;
            }
            let Some(parent) = self.held_chain(issued.guest_key.body.parent)? else { continue };
            let chain = KeyChain::guest(parent.root().clone(), issued.guest_key.clone());
            client.register_guest_key(&token, &chain, None).await?;
            self.store.mark_guest_key_registered(issued.guest_key.body.key_id)?;
        }
        Ok(summary)
    }

    pub(crate) fn held_chain(&self, key: KeyId) -> Result<Option<KeyChain>> {
        Ok(self.store.keys()?.into_iter().find(|k| k.chain.leaf_key_id() == key).map(|k| k.chain))
    }
}

impl From<BadSync> for WalletError {
    fn from(e: BadSync) -> Self {
        WalletError::BadSync(e)
    }
}
