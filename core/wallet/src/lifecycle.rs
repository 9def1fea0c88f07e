//! The wallet's identity over its life: the device key at first open, a consistent state when
//! the database and the secure storage disagree (a reinstall keeps one and loses the other),
//! and sign-out ([`Wallet::reset`]).
//!
//! The device key, the device token and the backend's address live in secure storage; keys,
//! doors, pending updates and receipts in the database, which records whose device it belongs
//! to. At every open:
//! - a database that belongs to another device key (the secure storage was lost, so a new key
//!   was made) is wiped: its keys are certified to a key this device no longer has, and
//!   without the old token nothing of it can be uploaded. The wallet is clearly not enrolled.
//! - a database that lost a property (the database was lost) while secure storage kept its
//!   device token and backend address gets the property back: the wallet is enrolled there,
//!   and its next sync, from no cursor, brings every key back.
//!
//! Secure storage holds per property (its local id `n`) `device-token-n` and `backend-url-n`
//! (property 1 keeps the names of a one-property wallet, `device-token` and `backend-url`),
//! and `property-slots`, the ids in use, so a lost database can find them all again.

use super::{Result, Wallet};
use crate::store::PropertyId;
use crate::store::secure::{SecureStorage, SecureStorageError};
use keyway_protocol::credential::KeyPair;

const DEVICE_KEY: &str = "device-key";
/// The device public key the database belongs to.
const META_DEVICE: &str = "device_public_key";

/// The device key from secure storage, made and stored on first use.
pub(crate) fn device_key(secure: &dyn SecureStorage) -> Result<KeyPair> {
    match secure.get(DEVICE_KEY)? {
        Some(secret) => {
            let seed: [u8; 32] = secret
                .as_slice()
                .try_into()
                .map_err(|_| SecureStorageError("stored device key has the wrong length".into()))?;
            Ok(KeyPair::from_secret(&seed))
        }
        None => {
            let key = KeyPair::generate();
            secure.put(DEVICE_KEY, &key.secret()[..])?;
            Ok(key)
        }
    }
}

const SLOTS: &str = "property-slots";

/// The secure-storage name of property `p`'s device token.
pub(crate) fn token_name(p: PropertyId) -> String {
    if p.0 == 1 { "device-token".to_string() } else { format!("device-token-{}", p.0) }
}

/// The secure-storage name of property `p`'s backend address.
pub(crate) fn url_name(p: PropertyId) -> String {
    if p.0 == 1 { "backend-url".to_string() } else { format!("backend-url-{}", p.0) }
}

/// The property ids secure storage holds credentials for (1 always: a one-property wallet
/// kept no list).
pub(crate) fn slots(secure: &dyn SecureStorage) -> Result<Vec<PropertyId>> {
    let mut ids = vec![PropertyId(1)];
    if let Some(list) = secure.get(SLOTS)? {
        for part in String::from_utf8_lossy(&list).split(',') {
            if let Ok(n) = part.trim().parse::<u32>()
                && n > 0
                && !ids.contains(&PropertyId(n))
            {
                ids.push(PropertyId(n));
            }
        }
    }
    Ok(ids)
}

fn put_slots(secure: &dyn SecureStorage, ids: &[PropertyId]) -> Result<()> {
    let list: Vec<String> = ids.iter().filter(|p| p.0 != 1).map(|p| p.0.to_string()).collect();
    if list.is_empty() {
        return Ok(secure.delete(SLOTS)?);
    }
    Ok(secure.put(SLOTS, list.join(",").as_bytes())?)
}

/// The secure-storage name of what property `p`'s backend said of it (its id and name), kept
/// so a lost database gets the property back as it was.
fn info_name(p: PropertyId) -> String {
    format!("property-{}", p.0)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PropertyInfo {
    remote_id: Option<u64>,
    name: Option<String>,
}

/// Stores property `p`'s credentials (token, backend address, what the backend said of it)
/// and lists its slot (property 1 needs no list: it is always looked for).
pub(crate) fn put_credentials(
    secure: &dyn SecureStorage,
    p: PropertyId,
    token: &str,
    url: &str,
    remote_id: Option<u64>,
    name: Option<&str>,
) -> Result<()> {
    let mut ids = slots(secure)?;
    if !ids.contains(&p) {
        ids.push(p);
        put_slots(secure, &ids)?;
    }
    secure.put(&token_name(p), token.as_bytes())?;
    secure.put(&url_name(p), url.as_bytes())?;
    let info = PropertyInfo { remote_id, name: name.map(str::to_string) };
    secure.put(&info_name(p), serde_json::to_string(&info).unwrap_or_default().as_bytes())?;
    Ok(())
}

/// Deletes property `p`'s credentials.
fn delete_credentials(secure: &dyn SecureStorage, p: PropertyId) -> Result<()> {
    secure.delete(&token_name(p))?;
    secure.delete(&url_name(p))?;
    secure.delete(&info_name(p))?;
    let ids: Vec<PropertyId> = slots(secure)?.into_iter().filter(|q| *q != p).collect();
    put_slots(secure, &ids)
}

impl Wallet {
    /// Brings the database in line with secure storage (see the module's rules).
    pub(crate) fn reconcile(&mut self) -> Result<()> {
        let me = self.device.public();
        let foreign = match self.store.meta(META_DEVICE)? {
            Some(recorded) => recorded != me.0,
            // A database from before the record: its keys say whose it is.
            None => self.store.keys()?.iter().any(|k| match k.chain.guest_link() {
                Some(guest) => guest.body.holder != me,
                None => k.chain.root().body.holder != me,
            }),
        };
        if foreign {
            self.store.wipe()?;
        }
        self.store.set_meta(META_DEVICE, &me.0)?;
        for p in slots(self.secure.as_ref())? {
            let (Some(_), Some(url)) = (self.secure.get(&token_name(p))?, self.secure.get(&url_name(p))?) else {
                continue;
            };
            let url = String::from_utf8_lossy(&url).into_owned();
            let info: Option<PropertyInfo> =
                self.secure.get(&info_name(p))?.and_then(|v| serde_json::from_slice(&v).ok());
            let (remote_id, name) = info.map_or((None, None), |i| (i.remote_id, i.name));
            match self.store.property(p)? {
                None => self.store.insert_property(p, &url, remote_id, name.as_deref(), keyway_api::clock::now())?,
                Some(held) if held.backend_url.is_empty() => self.store.set_backend_url(p, &url)?,
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Leaves property `p` (sign-out of one property): its credentials, keys, doors, pending
    /// updates, receipts (uploaded or not) and issued guest keys are deleted; the other
    /// properties, offered guest keys and the device key stay. The backend is not told: the
    /// device's token there stays valid until the manager removes the device.
    pub fn leave_property(&mut self, p: PropertyId) -> Result<()> {
        if self.store.property(p)?.is_none() {
            return Err(super::WalletError::UnknownProperty(p));
        }
        // Credentials first: a failure after them leaves a property that can no longer sync,
        // never one that a reopen would bring back.
        delete_credentials(self.secure.as_ref(), p)?;
        self.store.remove_property(p)?;
        Ok(())
    }

    /// Sign-out: wipes the database and this wallet's secure-storage entries (device key, and
    /// every property's device token and backend address), then starts over as a new wallet
    /// with a new device key. Calls begun before the reset (a sync in flight, an unlock at a
    /// door) store nothing after it.
    pub fn reset(&mut self) -> Result<()> {
        self.epoch += 1;
        self.clients.clear();
        let mut ids = slots(self.secure.as_ref())?;
        for p in self.store.properties()? {
            if !ids.contains(&p.id) {
                ids.push(p.id);
            }
        }
        self.store.wipe()?;
        for p in ids {
            self.secure.delete(&token_name(p))?;
            self.secure.delete(&url_name(p))?;
            self.secure.delete(&info_name(p))?;
        }
        self.secure.delete(SLOTS)?;
        self.secure.delete(DEVICE_KEY)?;
        self.device = device_key(self.secure.as_ref())?;
        self.store.set_meta(META_DEVICE, &self.device.public().0)?;
        Ok(())
    }
}
