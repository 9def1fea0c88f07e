//! Keyway's resident wallet: the one facade an app uses.
//!
//! Built on the sans-IO `keyway-protocol`, the backend API and client of `keyway-api`, and the
//! links of `keyway-link`; this crate adds the SQLite [`store`], the sync procedure that
//! verifies every answer before storing it ([`verify_sync`]), unlocks, and guest sharing.
//!
//! A [`Wallet`] owns the device key (behind [`SecureStorage`]), the SQLite store, and knows how
//! to talk to the backend and to doors. It works offline with what it last synced.

pub mod advert;
pub mod error;
pub mod events;
pub mod guest_refresh;
pub mod key_state;
pub mod lifecycle;
pub mod observe;
pub mod online;
pub mod push;
pub mod share;
pub mod shared;
pub mod store;
pub mod unlock;
pub mod verify_sync;

pub use advert::{Advertisement, Proximity};
pub use error::{Category, WalletError};
pub use events::UnlockEvent;
pub use observe::{KeyChange, KeySnapshot};
pub use online::{HttpOptions, SyncSummary, UploadSummary};
pub use push::PushLink;
pub use shared::SharedWallet;
pub use unlock::{UnlockOptions, UnlockReport};

use crate::store::secure::SecureStorage;
use crate::store::{OfferImport, PendingBatch, Store, StoredReceipt};
use key_state::{KeyView, effective_now, view_of};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorCertificate, DoorId, DoorSet, KeyChain, KeyPair, PublicKey, Validity};
use share::{GuestKeyOffer, ShareRequest};
use std::path::Path;
use std::sync::Arc;

pub type Result<T> = std::result::Result<T, WalletError>;

pub struct Wallet {
    store: Store,
    device: KeyPair,
    secure: Arc<dyn SecureStorage>,
    client: Option<keyway_api::client::SyncClient>,
    /// Bumped by [`Wallet::reset`]: a call begun before a reset stores nothing after it.
    epoch: u64,
}

impl Wallet {
    /// Opens (or creates) the wallet at `db_path`. The device key is created on first open and
    /// kept in `secure`; it never leaves it except to sign.
    pub fn open(db_path: &Path, secure: Arc<dyn SecureStorage>) -> Result<Self> {
        Self::with_store(Store::open(db_path)?, secure)
    }

    pub fn open_in_memory(secure: Arc<dyn SecureStorage>) -> Result<Self> {
        Self::with_store(Store::open_in_memory()?, secure)
    }

    fn with_store(store: Store, secure: Arc<dyn SecureStorage>) -> Result<Self> {
        let device = lifecycle::device_key(secure.as_ref())?;
        let mut wallet = Wallet { store, device, secure, client: None, epoch: 0 };
        wallet.reconcile()?;
        Ok(wallet)
    }

    pub fn device_public_key(&self) -> PublicKey {
        self.device.public()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The time key states are computed from (device clock, never before the last server time).
    pub fn now(&self) -> Result<UnixTime> {
        Ok(effective_now(keyway_api::clock::now(), self.store.last_server_time()?))
    }

    /// Every key this device holds, with its state at `now`.
    pub fn keys_at(&self, now: UnixTime) -> Result<Vec<KeyView>> {
        let now = effective_now(now, self.store.last_server_time()?);
        let mut views = Vec::new();
        for k in self.store.keys()? {
            let mut view = view_of(&k.chain, k.revoked, now);
            if view.state == key_state::KeyState::Revoked
                && let Some(by) = self.replaced_by(view.key_id)?
            {
                view.state = key_state::KeyState::Replaced { by };
            }
            views.push(view);
        }
        Ok(views)
    }

    /// Doors this wallet knows, with their names: the property's, then those known only from
    /// guest-key offers (named by their id).
    pub fn doors(&self) -> Result<Vec<(DoorId, String)>> {
        let mut doors: Vec<(DoorId, String)> =
            self.store.door_certs()?.into_iter().map(|(name, c)| (c.body.door_id, name)).collect();
        for (offer, _) in self.store.offers()? {
            for cert in offer.door_certs.iter() {
                let id = cert.body.door_id;
                if offer.chain.guest_link().is_some_and(|g| g.body.doors.contains(id))
                    && !doors.iter().any(|(d, _)| *d == id)
                {
                    doors.push((id, id.to_string()));
                }
            }
        }
        Ok(doors)
    }

    pub fn pending_updates(&self) -> Result<Vec<PendingBatch>> {
        Ok(self.store.all_pending()?)
    }

    /// Receipts (with the door activity they carry), uploaded or not.
    pub fn receipts(&self) -> Result<Vec<StoredReceipt>> {
        Ok(self.store.all_receipts()?)
    }

    // ---- guest sharing ------------------------------------------------------------------

    /// The guest's side, step 1: a request to show to the resident.
    pub fn share_request(&self, name: &str) -> ShareRequest {
        ShareRequest::create(&self.device, name, keyway_api::clock::now())
    }

    /// The resident's side: signs a guest key for the device in `request_text`, under this
    /// wallet's key `parent`, for `doors` during `validity`. The guest key is remembered
    /// (so it can be registered with the backend and listed) and returned as an offer text.
    pub fn share_offline(
        &self,
        parent: keyway_protocol::credential::KeyId,
        request_text: &str,
        doors: DoorSet,
        validity: Validity,
    ) -> Result<String> {
        let request = ShareRequest::from_text(request_text)?;
        let (offer, _) = self.issue_guest_offer(parent, request.body.guest_device, doors, validity)?;
        Ok(offer.to_text())
    }

    /// Signs and records a guest key; returns the offer and the guest key itself.
    pub fn issue_guest_offer(
        &self,
        parent: keyway_protocol::credential::KeyId,
        guest_device: PublicKey,
        doors: DoorSet,
        validity: Validity,
    ) -> Result<(GuestKeyOffer, keyway_protocol::credential::GuestKey)> {
        let parent_chain = self
            .store
            .keys()?
            .into_iter()
            .find(|k| k.chain.leaf_key_id() == parent && !k.revoked)
            .map(|k| k.chain)
            .ok_or(WalletError::UnknownKey(parent))?;
        let guest = share::issue_guest_key(&parent_chain, &self.device, guest_device, doors.clone(), validity)?;
        self.store.add_issued_guest_key(&guest, keyway_api::clock::now())?;
        let certs: Vec<DoorCertificate> =
            self.store.door_certs()?.into_iter().map(|(_, c)| c).filter(|c| doors.contains(c.body.door_id)).collect();
        let chain = KeyChain::guest(parent_chain.root().clone(), guest.clone());
        let backend = self.store.meta_string(online::META_BACKEND)?;
        Ok((GuestKeyOffer::new(chain, &self.store.anchors()?, certs).with_backend(backend.as_deref()), guest))
    }

    /// The guest's side, step 2: imports a guest key offer meant for this device.
    pub fn accept_guest_key(&mut self, offer_text: &str) -> Result<KeyView> {
        let offer = GuestKeyOffer::from_text(offer_text)?;
        offer.verify_for(&self.device.public())?;
        let now = keyway_api::clock::now();
        match self.store.put_offered_key(&offer, now)? {
            OfferImport::Stored | OfferImport::AlreadyHeld => {}
            OfferImport::IdTaken(id) => return Err(share::ShareError::KeyIdTaken(id).into()),
        }
        Ok(view_of(&offer.chain, false, effective_now(now, self.store.last_server_time()?)))
    }
}
