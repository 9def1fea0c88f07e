//! Keyway's resident wallet: the one facade an app uses.
//!
//! Built on the sans-IO `keyway-protocol`, the backend API and client of `keyway-api`, and the
//! links of `keyway-link`; this crate adds the SQLite [`store`], the sync procedure that
//! verifies every answer before storing it ([`verify_sync`]), unlocks, and guest sharing.
//!
//! A [`Wallet`] owns the device key (behind [`SecureStorage`]), the SQLite store, and knows how
//! to talk to the backend and to doors. It works offline with what it last synced.

pub mod advert;
pub mod deliver;
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
pub use deliver::{DeliveryReport, FinishedDelivery, PreparedDelivery};
pub use error::{Category, WalletError};
pub use events::UnlockEvent;
pub use observe::{KeyChange, KeySnapshot};
pub use online::{HttpOptions, PropertySync, SyncSummary, UploadSummary};
pub use push::PushLink;
pub use shared::SharedWallet;
pub use store::{Property, PropertyId};
pub use unlock::{UnlockOptions, UnlockReport};

use crate::store::secure::SecureStorage;
use crate::store::{OfferImport, PendingBatch, Store, StoredReceipt};
use key_state::{KeyView, effective_now, view_of};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorCertificate, DoorId, DoorSet, KeyChain, KeyPair, PublicKey, Validity};
use share::{GuestKeyOffer, ShareRequest};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub type Result<T> = std::result::Result<T, WalletError>;

/// A door this wallet knows ([`Wallet::door_list`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoorEntry {
    /// Its property (`None`: known only from a guest-key offer).
    pub property: Option<Property>,
    pub door_id: DoorId,
    pub name: String,
}

pub struct Wallet {
    store: Store,
    device: KeyPair,
    secure: Arc<dyn SecureStorage>,
    /// HTTP clients by backend address (one per backend, shared by its properties).
    clients: HashMap<String, keyway_api::client::SyncClient>,
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
        let mut wallet = Wallet { store, device, secure, clients: HashMap::new(), epoch: 0 };
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

    /// Every key this device holds, with its state at `now` and its property.
    pub fn keys_at(&self, now: UnixTime) -> Result<Vec<KeyView>> {
        let now = effective_now(now, self.store.last_server_time()?);
        let properties = self.store.properties()?;
        let mut views = Vec::new();
        for k in self.store.keys()? {
            let mut view = view_of(&k.chain, k.revoked, now);
            view.property = k.property.and_then(|p| properties.iter().find(|q| q.id == p).cloned());
            if view.state == key_state::KeyState::Revoked
                && let Some(p) = k.property
                && let Some(by) = self.replaced_by(p, view.key_id)?
            {
                view.state = key_state::KeyState::Replaced { by };
            }
            views.push(view);
        }
        Ok(views)
    }

    /// Doors this wallet knows, with their names: each property's, then those known only from
    /// guest-key offers (named by their id). Two properties may both have a door with the same
    /// id: [`Wallet::door_list`] says whose each is.
    pub fn doors(&self) -> Result<Vec<(DoorId, String)>> {
        Ok(self.door_list()?.into_iter().map(|d| (d.door_id, d.name)).collect())
    }

    /// Doors this wallet knows, each with its property (`None`: known only from a guest-key
    /// offer), by property then door id.
    pub fn door_list(&self) -> Result<Vec<DoorEntry>> {
        let properties = self.store.properties()?;
        let mut doors: Vec<DoorEntry> = self
            .store
            .all_door_certs()?
            .into_iter()
            .map(|(p, name, c)| DoorEntry {
                property: properties.iter().find(|q| q.id == p).cloned(),
                door_id: c.body.door_id,
                name,
            })
            .collect();
        for (offer, _) in self.store.offers()? {
            for cert in offer.door_certs.iter() {
                let id = cert.body.door_id;
                if offer.chain.guest_link().is_some_and(|g| g.body.doors.contains(id))
                    && !doors.iter().any(|d| d.door_id == id)
                {
                    doors.push(DoorEntry { property: None, door_id: id, name: id.to_string() });
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
        self.share_offline_at(None, parent, request_text, doors, validity)
    }

    /// [`Wallet::share_offline`] under `property`'s key `parent` (`None`: whichever property
    /// holds a key with that id; [`WalletError::AmbiguousKey`] when several do).
    pub fn share_offline_at(
        &self,
        property: Option<PropertyId>,
        parent: keyway_protocol::credential::KeyId,
        request_text: &str,
        doors: DoorSet,
        validity: Validity,
    ) -> Result<String> {
        let request = ShareRequest::from_text(request_text)?;
        let (offer, guest) = self.issue_guest_offer_at(property, parent, request.body.guest_device, doors, validity)?;
        // The guest's name goes with the key's registration: the manager sees "Gus (Ann's
        // guest)" rather than Ann for the guest's unlocks.
        // Characters a backend refuses in a name (controls, invisible marks) are left out, so
        // that the registration cannot be refused for the name.
        let name: String = request
            .name()
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '\u{200B}'..='\u{206F}' | '\u{FEFF}'))
            .collect();
        if !name.trim().is_empty() {
            self.store.set_issued_guest_label(guest.body.key_id, name.trim())?;
        }
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
        self.issue_guest_offer_at(None, parent, guest_device, doors, validity)
    }

    /// [`Wallet::issue_guest_offer`] under `property`'s key `parent` (see
    /// [`Wallet::share_offline_at`]). The offer carries that property's authority keys, door
    /// certificates and backend.
    pub fn issue_guest_offer_at(
        &self,
        property: Option<PropertyId>,
        parent: keyway_protocol::credential::KeyId,
        guest_device: PublicKey,
        doors: DoorSet,
        validity: Validity,
    ) -> Result<(GuestKeyOffer, keyway_protocol::credential::GuestKey)> {
        let held: Vec<_> = self
            .store
            .keys()?
            .into_iter()
            .filter(|k| k.chain.leaf_key_id() == parent && !k.revoked)
            .filter_map(|k| Some((k.property?, k.chain)))
            .filter(|(p, _)| property.is_none_or(|want| want == *p))
            .collect();
        let (p, parent_chain) = match held.len() {
            0 => return Err(WalletError::UnknownKey(parent)),
            1 => held.into_iter().next().ok_or(WalletError::UnknownKey(parent))?,
            _ => return Err(WalletError::AmbiguousKey(parent)),
        };
        let guest = share::issue_guest_key(&parent_chain, &self.device, guest_device, doors.clone(), validity)?;
        self.store.add_issued_guest_key(p, &guest, keyway_api::clock::now())?;
        let certs: Vec<DoorCertificate> = self
            .store
            .door_certs_of(p)?
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| doors.contains(c.body.door_id))
            .collect();
        let chain = KeyChain::guest(parent_chain.root().clone(), guest.clone());
        let backend = self.store.property(p)?.map(|q| q.backend_url).filter(|u| !u.is_empty());
        Ok((GuestKeyOffer::new(chain, &self.store.anchors_of(p)?, certs).with_backend(backend.as_deref()), guest))
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
