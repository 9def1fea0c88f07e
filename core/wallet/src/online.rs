//! The wallet's conversations with Mission Control: accept an invite, sync, upload receipts,
//! register shared guest keys. Each is safe to retry; none loses local state when it fails.
//!
//! Several properties: each joined property has its own backend address, device token,
//! cursor and trusted authority keys. An invite adds a property unless the wallet has joined
//! it already ([`WalletError::AlreadyJoined`], checked with the invite preview before the
//! backend binds the invite). A sync asks every property's backend at once and verifies and
//! stores each answer against that property's own trust alone; one failing backend stops
//! nothing of the others ([`Wallet::sync_each`] gives the result per property). Uploads go
//! to the backend of the property whose door signed each receipt.

use super::lifecycle::{put_credentials, slots, token_name};
use super::verify_sync::{BadSync, verify_sync};
use super::{Result, Wallet, WalletError};
use crate::store::{Property, PropertyId};
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_api::{AcceptInviteResponse, ReceiptVerdict, SyncResponse, UploadReceiptsResponse};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{KeyChain, KeyId, KeyPair, TrustAnchors};
use std::time::Duration;

pub(crate) const META_PERSON: &str = "person_id";

/// What a sync changed, for the app to show (summed over the properties for [`Wallet::sync`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Keys whose certificate this sync brought (new, extended or re-issued), each once.
    pub keys_received: usize,
    /// Keys this wallet held that this sync revoked, each once (guest keys it shared are the
    /// backend's to revoke, not held here, and not counted).
    pub keys_revoked: usize,
    pub doors: usize,
    /// Doors for which this device now carries pending updates.
    pub doors_with_updates: usize,
    pub server_time: UnixTime,
}

impl SyncSummary {
    fn add(&mut self, other: &SyncSummary) {
        self.keys_received += other.keys_received;
        self.keys_revoked += other.keys_revoked;
        self.doors += other.doors;
        self.doors_with_updates += other.doors_with_updates;
        self.server_time = self.server_time.max(other.server_time);
    }
}

/// The counts of a sync's summary: keys whose certificate came and that are not revoked by the
/// same answer, and keys of this wallet that were live before (`live`) and are revoked now, each
/// key once. An answer names one revoked key several times (its revoked status, its entry in
/// `revocations`, Delete Person) and lists a guest key's revocation too (the host does not hold
/// it): counted as they come, one key and one guest read "1 key received, 3 revoked".
pub(crate) fn sync_counts(
    changes: &crate::store::SyncChanges,
    live: &std::collections::BTreeSet<keyway_protocol::credential::KeyId>,
) -> (usize, usize) {
    use std::collections::BTreeSet;
    let revoked: BTreeSet<_> = changes.revoked_keys.iter().copied().collect();
    let received: BTreeSet<_> =
        changes.keys.iter().map(|c| c.leaf_key_id()).filter(|id| !revoked.contains(id)).collect();
    (received.len(), revoked.intersection(live).count())
}

/// One property's part of a sync ([`Wallet::sync_each`]).
#[derive(Debug)]
pub struct PropertySync {
    pub property: Property,
    pub result: Result<SyncSummary>,
}

/// Sums per-property results: the total when every property synced, else the first failure
/// (the others' answers are stored all the same).
pub fn combined(results: Vec<PropertySync>) -> Result<SyncSummary> {
    let mut total = SyncSummary::default();
    let mut failure = None;
    for r in results {
        match r.result {
            Ok(s) => total.add(&s),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(total),
    }
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
    property: PropertyId,
    client: SyncClient,
    token: String,
    cursor: Option<String>,
    epoch: u64,
}

impl SyncCall {
    /// The request, with its retries. Needs no wallet.
    pub async fn fetch(self) -> Result<FetchedSync> {
        let response = self.client.sync(&self.token, self.cursor.as_deref()).await?;
        Ok(FetchedSync { property: self.property, response, epoch: self.epoch })
    }

    pub fn property(&self) -> PropertyId {
        self.property
    }
}

/// The backend's answer to a [`SyncCall`], not verified nor stored yet.
pub struct FetchedSync {
    property: PropertyId,
    response: SyncResponse,
    epoch: u64,
}

/// An invite acceptance about to go to the backend ([`Wallet::begin_accept_invite`]).
pub struct InviteCall {
    client: SyncClient,
    /// Signs the proof of possession the backend checks.
    device: KeyPair,
    /// The properties this wallet has joined, with the authority keys it trusts for each.
    joined: Vec<(Property, TrustAnchors)>,
    epoch: u64,
}

/// Whether `anchors` share an authority key with `trusted`.
fn overlap<'a>(
    mut anchors: impl Iterator<Item = &'a keyway_protocol::credential::PublicKey>,
    trusted: &TrustAnchors,
) -> bool {
    anchors.any(|a| trusted.keys().any(|t| t == a))
}

impl InviteCall {
    /// The request, with its retries. Needs no wallet. First asks what the invite is for (which
    /// spends nothing) and refuses an invite of a property this wallet has joined already
    /// before the backend binds it to this device; the preview also names the property. A
    /// wallet that has joined nothing yet goes on without the name if the preview fails.
    pub async fn fetch(self, invite_token: &str) -> Result<FetchedInvite> {
        let preview = match self.client.invite_preview(invite_token).await {
            Ok(preview) => Some(preview),
            Err(_) if self.joined.is_empty() => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(preview) = &preview {
            let url = self.client.base_url();
            for (property, trusted) in &self.joined {
                let same_place = property.backend_url == url && property.remote_id == Some(preview.property_id);
                if same_place || overlap(preview.trust_anchors.iter().map(|a| &a.0), trusted) {
                    return Err(WalletError::AlreadyJoined { property: preview.property_name.clone(), unused: true });
                }
            }
        }
        let response = self.client.accept_invite(invite_token, &self.device).await?;
        let name = preview.filter(|p| p.property_id == response.credentials.property_id).map(|p| p.property_name);
        Ok(FetchedInvite { client: self.client, response, name, epoch: self.epoch })
    }
}

/// The backend's answer to an [`InviteCall`], not verified nor stored yet.
pub struct FetchedInvite {
    client: SyncClient,
    response: AcceptInviteResponse,
    /// The property's name, from the preview.
    name: Option<String>,
    epoch: u64,
}

/// An upload's transport ([`Wallet::begin_upload`]): each round goes out without the wallet's
/// lock, and its verdicts are stored under it ([`Wallet::apply_upload_round`]).
#[derive(Clone)]
pub struct UploadCall {
    pub client: SyncClient,
    pub token: String,
    pub property: PropertyId,
    epoch: u64,
}

impl Wallet {
    /// Overrides the HTTP settings (timeouts, retries) used from now on for the backend at
    /// `config.base_url`.
    pub fn set_client_config(&mut self, config: ClientConfig) -> Result<()> {
        let client = SyncClient::new(config)?;
        self.clients.insert(client.base_url().to_string(), client);
        Ok(())
    }

    /// The client for the backend at `url`: the configured one, or one with `options` for a
    /// call that asks for its own settings.
    fn client_for(&mut self, url: &str, options: Option<&HttpOptions>) -> Result<SyncClient> {
        if let Some(options) = options {
            return Ok(SyncClient::new(options.config(url))?);
        }
        if let Some(c) = self.clients.get(url) {
            return Ok(c.clone());
        }
        let client = SyncClient::new(ClientConfig::new(url))?;
        self.clients.insert(client.base_url().to_string(), client.clone());
        Ok(client)
    }

    /// Every property this wallet has joined, oldest first.
    pub fn properties(&self) -> Result<Vec<Property>> {
        Ok(self.store.properties()?)
    }

    /// The joined property `p`.
    pub fn property(&self, p: PropertyId) -> Result<Property> {
        self.store.property(p)?.ok_or(WalletError::UnknownProperty(p))
    }

    /// `p`, or the one property joined when `p` is `None` (several: name one).
    fn one_property(&self, p: Option<PropertyId>) -> Result<Property> {
        match p {
            Some(p) => self.property(p),
            None => {
                let mut all = self.store.properties()?;
                match all.len() {
                    0 => Err(WalletError::NotEnrolled),
                    1 => Ok(all.remove(0)),
                    _ => Err(WalletError::PropertyNeeded),
                }
            }
        }
    }

    fn device_token(&self, p: PropertyId) -> Result<String> {
        let token = self.secure.get(&token_name(p))?.ok_or(WalletError::NotEnrolled)?;
        String::from_utf8(token).map_err(|_| WalletError::NotEnrolled)
    }

    /// A one-time code that enrols another phone of this wallet's person: the new phone passes
    /// it to [`Wallet::accept_invite`] within 15 minutes. For the one property joined.
    pub async fn device_code(&mut self) -> Result<keyway_api::DeviceCode> {
        let (client, token) = self.begin_device_code(None)?;
        Ok(client.device_code(&token).await?)
    }

    /// What a device-code request needs, for `property` (or the one property joined), taken
    /// under the wallet's lock.
    pub fn begin_device_code(&mut self, property: Option<PropertyId>) -> Result<(SyncClient, String)> {
        let property = self.one_property(property)?;
        let token = self.device_token(property.id)?;
        Ok((self.client_for(&property.backend_url, None)?, token))
    }

    /// Whether this wallet has accepted an invite and can reach a backend: some joined property
    /// has its device token (secure storage) and its backend's address (the store).
    pub fn is_enrolled(&self) -> Result<bool> {
        for p in self.store.properties()? {
            if !p.backend_url.is_empty() && self.secure.get(&token_name(p.id))?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Accepts the invite `invite_token` from the welcome message, for this device, at the
    /// backend `backend_url`, and stores the keys it grants (a new property in this wallet).
    pub async fn accept_invite(&mut self, backend_url: &str, invite_token: &str) -> Result<SyncSummary> {
        let fetched = self.begin_accept_invite(backend_url, None)?.fetch(invite_token).await?;
        self.finish_accept_invite(fetched)
    }

    /// Step 1 of an invite acceptance (then [`InviteCall::fetch`], [`Wallet::finish_accept_invite`]).
    pub fn begin_accept_invite(&self, backend_url: &str, options: Option<&HttpOptions>) -> Result<InviteCall> {
        let wanted = backend_url.trim().trim_end_matches('/');
        let client = match (self.clients.get(wanted), options) {
            (Some(c), None) => c.clone(),
            (_, Some(options)) => SyncClient::new(options.config(backend_url))?,
            _ => SyncClient::new(ClientConfig::new(backend_url))?,
        };
        let mut joined = Vec::new();
        for p in self.store.properties()? {
            let anchors = self.store.anchors_of(p.id)?;
            joined.push((p, anchors));
        }
        Ok(InviteCall { client, device: self.device.clone(), joined, epoch: self.epoch })
    }

    /// Verifies the backend's answer to an invite and stores it as a new property.
    pub fn finish_accept_invite(&mut self, fetched: FetchedInvite) -> Result<SyncSummary> {
        let FetchedInvite { client, response: resp, name, epoch } = fetched;
        self.check_epoch(epoch)?;
        // Verify before anything is stored: a bad answer leaves the wallet as it was. A new
        // property trusts the authority keys of its first answer, and only it.
        let changes = verify_sync(&resp.sync, &self.device.public(), &TrustAnchors::default(), &[])?;
        // Checked again here, against what is joined now: the answer's authority keys are the
        // property's identity.
        if let Some(anchors) = &changes.anchors {
            for p in self.store.properties()? {
                if overlap(anchors.keys(), &self.store.anchors_of(p.id)?) {
                    return Err(WalletError::AlreadyJoined {
                        property: name.clone().unwrap_or_else(|| p.label()),
                        unused: false,
                    });
                }
            }
        }
        let url = client.base_url().to_string();
        // Above every id in use, in the store or in secure storage (a slot whose property a
        // reopen would bring back).
        let mut highest = 0;
        for p in slots(self.secure.as_ref())? {
            if self.secure.get(&token_name(p))?.is_some() {
                highest = highest.max(p.0);
            }
        }
        let id = PropertyId(highest.max(self.store.max_property_id()?) + 1);
        let remote_id = resp.credentials.property_id;
        put_credentials(
            self.secure.as_ref(),
            id,
            &resp.credentials.device_token,
            &url,
            Some(remote_id),
            name.as_deref(),
        )?;
        self.store.insert_property(
            id,
            &url,
            Some(resp.credentials.property_id),
            name.as_deref(),
            keyway_api::clock::now(),
        )?;
        self.store.set_property_meta(id, META_PERSON, &resp.credentials.person_id.0.to_be_bytes())?;
        self.clients.insert(url, client);
        self.note_replacements(id, &resp.sync)?;
        self.apply(id, changes)
    }

    /// Fetches what changed since the last sync at every property and stores each answer,
    /// verified: the sum, or the first failure (the other properties' answers are stored all
    /// the same; [`Wallet::sync_each`] says which failed).
    pub async fn sync(&mut self) -> Result<SyncSummary> {
        combined(self.sync_each(None).await?)
    }

    /// Syncs every property (their backends asked at once) and says how each went. `Err` only
    /// when the wallet has joined no property.
    pub async fn sync_each(&mut self, options: Option<&HttpOptions>) -> Result<Vec<PropertySync>> {
        let calls = self.begin_sync(options)?;
        let fetched = futures::future::join_all(calls.into_iter().map(|(property, call)| async move {
            let fetched = match call {
                Ok(call) => call.fetch().await,
                Err(e) => Err(e),
            };
            (property, fetched)
        }))
        .await;
        Ok(fetched
            .into_iter()
            .map(|(property, fetched)| PropertySync { property, result: fetched.and_then(|f| self.finish_sync(f)) })
            .collect())
    }

    /// Step 1 of a sync: one call per joined property (then [`SyncCall::fetch`],
    /// [`Wallet::finish_sync`]). A property whose credentials are missing gets its error.
    pub fn begin_sync(&mut self, options: Option<&HttpOptions>) -> Result<Vec<(Property, Result<SyncCall>)>> {
        let properties = self.store.properties()?;
        if properties.is_empty() {
            return Err(WalletError::NotEnrolled);
        }
        let mut calls = Vec::new();
        for p in properties {
            let call = self.begin_sync_of(&p, options);
            calls.push((p, call));
        }
        Ok(calls)
    }

    fn begin_sync_of(&mut self, p: &Property, options: Option<&HttpOptions>) -> Result<SyncCall> {
        let token = self.device_token(p.id)?;
        Ok(SyncCall {
            property: p.id,
            client: self.client_for(&p.backend_url, options)?,
            token,
            cursor: self.store.cursor_of(p.id)?,
            epoch: self.epoch,
        })
    }

    /// Verifies a sync's answer against what the wallet trusts for its property now and stores
    /// it whole, or nothing of it.
    pub fn finish_sync(&mut self, fetched: FetchedSync) -> Result<SyncSummary> {
        self.check_epoch(fetched.epoch)?;
        let p = fetched.property;
        if self.store.property(p)?.is_none() {
            return Err(WalletError::UnknownProperty(p));
        }
        let changes =
            verify_sync(&fetched.response, &self.device.public(), &self.store.anchors_of(p)?, &self.store.keys_of(p)?)?;
        self.note_replacements(p, &fetched.response)?;
        self.apply(p, changes)
    }

    /// A call begun before [`Wallet::reset`] stores nothing after it.
    fn check_epoch(&self, epoch: u64) -> Result<()> {
        if epoch == self.epoch { Ok(()) } else { Err(WalletError::Reset) }
    }

    fn apply(&mut self, p: PropertyId, changes: crate::store::SyncChanges) -> Result<SyncSummary> {
        let live: std::collections::BTreeSet<_> =
            self.store.keys_of(p)?.iter().filter(|k| !k.revoked).map(|k| k.chain.leaf_key_id()).collect();
        let (received, revoked) = sync_counts(&changes, &live);
        let summary = SyncSummary {
            keys_received: received,
            keys_revoked: revoked,
            doors: changes.door_certs.len(),
            doors_with_updates: changes.pending.iter().filter(|(_, b)| b.is_some()).count(),
            server_time: changes.server_time,
        };
        self.store.apply_sync_in(p, &changes, keyway_api::clock::now())?;
        Ok(summary)
    }

    /// Uploads every receipt the backends have not acknowledged yet, each to the backend of
    /// the property whose door signed it, then registers guest keys shared while offline. Each
    /// receipt gets its own verdict: accepted ones are marked uploaded, refused ones are set
    /// aside with the reason (kept, never retried); nothing is marked before the backend
    /// answered, and a repeated upload is harmless on both sides. One failing backend does not
    /// stop the others; the first failure is returned after them.
    pub async fn upload(&mut self) -> Result<UploadSummary> {
        let mut summary = UploadSummary::default();
        let mut failure = None;
        for (_, call) in self.begin_upload(None)? {
            let done = async {
                let call = call?;
                while let Some(round) = self.next_upload_round(&call)? {
                    let answer = round.send(&call).await?;
                    self.apply_upload_round(&call, answer, &mut summary)?;
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

    /// Step 1 of an upload: one transport per joined property. Then, for each, until
    /// [`Wallet::next_upload_round`] says there is nothing left: [`UploadRound::send`],
    /// [`Wallet::apply_upload_round`].
    pub fn begin_upload(&mut self, options: Option<&HttpOptions>) -> Result<Vec<(Property, Result<UploadCall>)>> {
        let properties = self.store.properties()?;
        if properties.is_empty() {
            return Err(WalletError::NotEnrolled);
        }
        let mut calls = Vec::new();
        for p in properties {
            let call = self.device_token(p.id).and_then(|token| {
                Ok(UploadCall {
                    client: self.client_for(&p.backend_url, options)?,
                    token,
                    property: p.id,
                    epoch: self.epoch,
                })
            });
            calls.push((p, call));
        }
        Ok(calls)
    }

    /// The next thing to send to `call`'s property: its oldest receipts waiting (at most one
    /// request's worth), else the first guest key shared offline under its keys and not
    /// registered yet.
    pub fn next_upload_round(&self, call: &UploadCall) -> Result<Option<UploadRound>> {
        let pending = self.store.receipts_to_upload_of(call.property)?;
        if !pending.is_empty() {
            let chunk = pending.into_iter().take(keyway_api::MAX_RECEIPTS_PER_UPLOAD.min(64)).collect();
            return Ok(Some(UploadRound::Receipts(chunk)));
        }
        for issued in self.store.issued_guest_keys()? {
            if issued.registered || issued.property != call.property {
                continue;
            }
            let Some(parent) = self.held_chain(issued.property, issued.guest_key.body.parent)? else { continue };
            let chain = KeyChain::guest(parent.root().clone(), issued.guest_key.clone());
            return Ok(Some(UploadRound::GuestKey(Box::new(chain), issued.label)));
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

    /// The chain of `p`'s key `key`, if this wallet holds it.
    pub(crate) fn held_chain(&self, p: PropertyId, key: KeyId) -> Result<Option<KeyChain>> {
        Ok(self.store.keys_of(p)?.into_iter().find(|k| k.chain.leaf_key_id() == key).map(|k| k.chain))
    }
}

/// One request of an upload.
pub enum UploadRound {
    Receipts(Vec<crate::store::StoredReceipt>),
    /// A guest key shared offline, with the guest's name from their share request.
    GuestKey(Box<KeyChain>, Option<String>),
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
            UploadRound::GuestKey(chain, label) => {
                call.client.register_guest_key(&call.token, &chain, label.as_deref()).await?;
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
