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
//! - a database that lost the backend's address while secure storage kept the token and the
//!   address (the database was lost) gets the address back: the wallet is enrolled, and its
//!   next sync, from no cursor, brings every key back.

use super::online::{DEVICE_TOKEN, META_BACKEND, SECURE_BACKEND};
use super::{Result, Wallet};
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
        if self.store.meta(META_BACKEND)?.is_none()
            && self.secure.get(DEVICE_TOKEN)?.is_some()
            && let Some(url) = self.secure.get(SECURE_BACKEND)?
        {
            self.store.set_meta(META_BACKEND, &url)?;
        }
        Ok(())
    }

    /// Sign-out: wipes the database and this wallet's secure-storage entries (device key,
    /// device token, backend address), then starts over as a new wallet with a new device
    /// key. Calls begun before the reset (a sync in flight, an unlock at a door) store
    /// nothing after it.
    pub fn reset(&mut self) -> Result<()> {
        self.epoch += 1;
        self.client = None;
        self.store.wipe()?;
        for name in [DEVICE_TOKEN, SECURE_BACKEND, DEVICE_KEY] {
            self.secure.delete(name)?;
        }
        self.device = device_key(self.secure.as_ref())?;
        self.store.set_meta(META_DEVICE, &self.device.public().0)?;
        Ok(())
    }
}
