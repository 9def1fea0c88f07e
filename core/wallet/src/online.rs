//! The wallet's conversations with Mission Control: accept an invite, sync, upload receipts,
//! register shared guest keys. Each is safe to retry; none loses local state when it fails.

use super::verify_sync::{BadSync, verify_sync};
use super::{Result, Wallet, WalletError};
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_api::{AcceptInviteResponse, ReceiptVerdict, SyncResponse, UploadReceiptsResponse};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{KeyChain, KeyId, KeyPair};
use std::time::Duration;

pub(crate) const DEVICE_TOKEN: &str = "device-token";
pub(crate) const META_BACKEND: &str = "backend_url";
pub(crate) const META_PERSON: &str = "person_id";
/// The backend's address, kept in secure storage beside the device token, so a wallet whose
/// database was lost (a reinstall that kept the Keychain) can still reach its backend.
pub(crate) const SECURE_BACKEND: &str = "backend-url";

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

/// HTTP settings for one call: each attempt's bound and how many attempts in all.
/// `Default` is [`ClientConfig::new`]'s (15 s, 5 attempts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for HttpOptions {
    fn default() -> Self {
        let config = ClientConfig::new("");
        HttpOptions { timeout: config.timeout, attempts: config.retry.max_attempts }
    }
}

impl HttpOptions {
    fn config(&self, base_url: &str) -> ClientConfig {
        let mut config = ClientConfig::new(base_url);
        config.timeout = self.timeout;
        config.retry.max_attempts = self.attempts;
        config
    }
}

/// A sync about to go to the backend: everything it needs from the wallet, taken under the
/// wallet's lock so the request itself runs without it ([`Wallet::begin_sync`]).
pub struct SyncCall {
    client: SyncClient,
    token: String,
    cursor: Option<String>,
    epoch: u64,
}

impl SyncCall {
    /// The request, with its retries. Needs no wallet.
    pub async fn fetch(self) -> Result<FetchedSync> {
        let response = self.client.sync(&self.token, self.cursor.as_deref()).await?;
        Ok(FetchedSync { response, epoch: self.epoch })
    }
}

/// The backend's answer to a [`SyncCall`], not verified nor stored yet.
pub struct FetchedSync {
    response: SyncResponse,
    epoch: u64,
}

/// An invite acceptance about to go to the backend ([`Wallet::begin_accept_invite`]).
pub struct InviteCall {
    client: SyncClient,
    /// Signs the proof of possession the backend checks.
    device: KeyPair,
    /// The authority keys this wallet already trusts (none before its first invite).
    trusted: keyway_protocol::credential::TrustAnchors,
    epoch: u64,
}

impl InviteCall {
    /// The request, with its retries. Needs no wallet. A wallet that already belongs to a
    /// property first asks what the invite is for, and refuses one of another property before
    /// the backend binds it to this device (which would spend it).
    pub async fn fetch(self, invite_token: &str) -> Result<FetchedInvite> {
        if self.trusted.keys().next().is_some() {
            let preview = self.client.invite_preview(invite_token).await?;
            if !preview.trust_anchors.iter().any(|a| self.trusted.keys().any(|t| *t == a.0)) {
                return Err(WalletError::OtherProperty { property: preview.property_name });
            }
        }
        let response = self.client.accept_invite(invite_token, &self.device).await?;
        Ok(FetchedInvite { client: self.client, response, epoch: self.epoch })
    }
}

/// The backend's answer to an [`InviteCall`], not verified nor stored yet.
pub struct FetchedInvite {
    client: SyncClient,
    response: AcceptInviteResponse,
    epoch: u64,
}

/// An upload's transport ([`Wallet::begin_upload`]): each round goes out without the wallet's
/// lock, and its verdicts are stored under it ([`Wallet::apply_upload_round`]).
#[derive(Clone)]
pub struct UploadCall {
    pub client: SyncClient,
    pub token: String,
    epoch: u64,
}

impl Wallet {
    /// Overrides the HTTP settings (timeouts, retries) used from now on.
    pub fn set_client_config(&mut self, config: ClientConfig) -> Result<()> {
        self.client = Some(SyncClient::new(config)?);
        Ok(())
    }

    /// The client for the enrolled backend: the configured one, or one with `options` for a
    /// call that asks for its own settings.
    fn client(&mut self, options: Option<&HttpOptions>) -> Result<SyncClient> {
        let url = match &self.client {
            Some(c) if options.is_none() => return Ok(c.clone()),
            Some(c) => c.base_url().to_string(),
            None => self.store.meta_string(META_BACKEND)?.ok_or(WalletError::NotEnrolled)?,
        };
        if let Some(options) = options {
            return Ok(SyncClient::new(options.config(&url))?);
        }
        let client = SyncClient::new(ClientConfig::new(url))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    fn device_token(&self) -> Result<String> {
        let token = self.secure.get(DEVICE_TOKEN)?.ok_or(WalletError::NotEnrolled)?;
        String::from_utf8(token).map_err(|_| WalletError::NotEnrolled)
    }

    /// A one-time code that enrols another phone of this wallet's person: the new phone passes
    /// it to [`Wallet::accept_invite`] within 15 minutes.
    pub async fn device_code(&mut self) -> Result<keyway_api::DeviceCode> {
        let (client, token) = self.begin_device_code()?;
        Ok(client.device_code(&token).await?)
    }

    /// What [`Wallet::device_code`]'s request needs, taken under the wallet's lock.
    pub fn begin_device_code(&mut self) -> Result<(SyncClient, String)> {
        Ok((self.client(None)?, self.device_token()?))
    }

    /// Whether this wallet has accepted an invite and can reach its backend: the device token
    /// (secure storage) and the backend's address (the store) are both present.
    pub fn is_enrolled(&self) -> Result<bool> {
        Ok(self.secure.get(DEVICE_TOKEN)?.is_some() && self.store.meta(META_BACKEND)?.is_some())
    }

    /// Accepts the invite `invite_token` from the welcome message, for this device, at the
    /// backend `backend_url`, and stores the keys it grants.
    pub async fn accept_invite(&mut self, backend_url: &str, invite_token: &str) -> Result<SyncSummary> {
        let fetched = self.begin_accept_invite(backend_url, None)?.fetch(invite_token).await?;
        self.finish_accept_invite(fetched)
    }

    /// Step 1 of an invite acceptance (then [`InviteCall::fetch`], [`Wallet::finish_accept_invite`]).
    pub fn begin_accept_invite(&self, backend_url: &str, options: Option<&HttpOptions>) -> Result<InviteCall> {
        let client = match (&self.client, options) {
            (Some(c), None) if c.base_url() == backend_url.trim().trim_end_matches('/') => c.clone(),
            (_, Some(options)) => SyncClient::new(options.config(backend_url))?,
            _ => SyncClient::new(ClientConfig::new(backend_url))?,
        };
        Ok(InviteCall { client, device: self.device.clone(), trusted: self.store.anchors()?, epoch: self.epoch })
    }

    /// Verifies the backend's answer to an invite and stores it.
    pub fn finish_accept_invite(&mut self, fetched: FetchedInvite) -> Result<SyncSummary> {
        let FetchedInvite { client, response: resp, epoch } = fetched;
        self.check_epoch(epoch)?;
        // Verify before anything is stored: a bad answer leaves the wallet as it was.
        let changes = verify_sync(&resp.sync, &self.device.public(), &self.store.anchors()?, &self.store.keys()?)?;
        self.secure.put(DEVICE_TOKEN, resp.credentials.device_token.as_bytes())?;
        self.secure.put(SECURE_BACKEND, client.base_url().as_bytes())?;
        self.store.set_meta(META_BACKEND, client.base_url().as_bytes())?;
        self.store.set_meta(META_PERSON, &resp.credentials.person_id.0.to_be_bytes())?;
        self.client = Some(client);
        self.note_replacements(&resp.sync)?;
        self.apply(changes)
    }

    /// Fetches what changed since the last sync and stores it, verified.
    pub async fn sync(&mut self) -> Result<SyncSummary> {
        let fetched = self.begin_sync(None)?.fetch().await?;
        self.finish_sync(fetched)
    }

    /// Step 1 of a sync (then [`SyncCall::fetch`], [`Wallet::finish_sync`]).
    pub fn begin_sync(&mut self, options: Option<&HttpOptions>) -> Result<SyncCall> {
        let token = self.device_token()?;
        Ok(SyncCall { client: self.client(options)?, token, cursor: self.store.cursor()?, epoch: self.epoch })
    }

    /// Verifies a sync's answer against what the wallet trusts now and stores it whole, or
    /// nothing of it.
    pub fn finish_sync(&mut self, fetched: FetchedSync) -> Result<SyncSummary> {
        self.check_epoch(fetched.epoch)?;
        let changes =
            verify_sync(&fetched.response, &self.device.public(), &self.store.anchors()?, &self.store.keys()?)?;
        self.note_replacements(&fetched.response)?;
        self.apply(changes)
    }

    /// A call begun before [`Wallet::reset`] stores nothing after it.
    fn check_epoch(&self, epoch: u64) -> Result<()> {
        if epoch == self.epoch { Ok(()) } else { Err(WalletError::Reset) }
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
        let call = self.begin_upload(None)?;
        let mut summary = UploadSummary::default();
        while let Some(round) = self.next_upload_round()? {
            let answer = round.send(&call).await?;
            self.apply_upload_round(&call, answer, &mut summary)?;
        }
        Ok(summary)
    }

    /// Step 1 of an upload: the transport. Then, until [`Wallet::next_upload_round`] says
    /// there is nothing left: [`UploadRound::send`], [`Wallet::apply_upload_round`].
    pub fn begin_upload(&mut self, options: Option<&HttpOptions>) -> Result<UploadCall> {
        let token = self.device_token()?;
        Ok(UploadCall { client: self.client(options)?, token, epoch: self.epoch })
    }

    /// The next thing to send: the oldest receipts waiting (at most one request's worth),
    /// else the first guest key shared offline and not registered yet.
    pub fn next_upload_round(&self) -> Result<Option<UploadRound>> {
        let pending = self.store.receipts_to_upload()?;
        if !pending.is_empty() {
            let chunk = pending.into_iter().take(keyway_api::MAX_RECEIPTS_PER_UPLOAD.min(64)).collect();
            return Ok(Some(UploadRound::Receipts(chunk)));
        }
        for issued in self.store.issued_guest_keys()? {
            if issued.registered {
                continue;
            }
            let Some(parent) = self.held_chain(issued.guest_key.body.parent)? else { continue };
            let chain = KeyChain::guest(parent.root().clone(), issued.guest_key.clone());
            return Ok(Some(UploadRound::GuestKey(chain)));
        }
        Ok(None)
    }

    /// Stores what the backend answered to one round.
    pub fn apply_upload_round(
        &mut self,
        call: &UploadCall,
        answer: UploadAnswer,
        summary: &mut UploadSummary,
    ) -> Result<()> {
        self.check_epoch(call.epoch)?;
        match answer {
            UploadAnswer::Receipts { ids, response } => {
                if response.results.len() != ids.len() {
                    return Err(BadSync::UploadAnswer { sent: ids.len(), answered: response.results.len() }.into());
                }
                let mut accepted = Vec::new();
                let mut refused = Vec::new();
                for (id, result) in ids.iter().zip(&response.results) {
                    match &result.verdict {
                        ReceiptVerdict::Accepted => {
                            accepted.push(*id);
                            summary.new_activity += result.new_activity;
                            summary.updates_confirmed += result.newly_delivered.len();
                        }
                        ReceiptVerdict::Refused { reason } => refused.push((*id, reason.clone())),
                    }
                }
                self.store.mark_uploaded(&accepted, keyway_api::clock::now())?;
                self.store.set_aside(&refused)?;
                summary.receipts_uploaded += accepted.len();
                summary.receipts_refused += refused.len();
            }
            UploadAnswer::GuestKey(key) => self.store.mark_guest_key_registered(key)?,
        }
        Ok(())
    }

    pub(crate) fn held_chain(&self, key: KeyId) -> Result<Option<KeyChain>> {
        Ok(self.store.keys()?.into_iter().find(|k| k.chain.leaf_key_id() == key).map(|k| k.chain))
    }
}

/// One request of an upload.
pub enum UploadRound {
    Receipts(Vec<crate::store::StoredReceipt>),
    GuestKey(KeyChain),
}

/// The backend's answer to one [`UploadRound`].
pub enum UploadAnswer {
    Receipts { ids: Vec<i64>, response: UploadReceiptsResponse },
    GuestKey(KeyId),
}

impl UploadRound {
    /// The request, with its retries. Needs no wallet.
    pub async fn send(self, call: &UploadCall) -> Result<UploadAnswer> {
        match self {
            UploadRound::Receipts(chunk) => {
                let receipts: Vec<_> = chunk.iter().map(|r| r.receipt.clone()).collect();
                let response = call.client.upload_receipts(&call.token, &receipts).await?;
                Ok(UploadAnswer::Receipts { ids: chunk.iter().map(|r| r.id).collect(), response })
            }
            UploadRound::GuestKey(chain) => {
                call.client.register_guest_key(&call.token, &chain, None).await?;
                Ok(UploadAnswer::GuestKey(chain.leaf_key_id()))
            }
        }
    }
}

impl From<BadSync> for WalletError {
    fn from(e: BadSync) -> Self {
        WalletError::BadSync(e)
    }
}
