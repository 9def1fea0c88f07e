//! Resident and guest phones: a [`Wallet`] on its own SQLite file and file-backed secure
//! storage, unlocking doors over the socket link.

use keyway_link::socket::{SocketLink, SocketStats};
use keyway_protocol::credential::KeyPair;
use keyway_wallet::key_state::KeyState;
use keyway_wallet::store::secure::{FileSecureStorage, SecureStorage};
use keyway_wallet::{UnlockReport, Wallet, WalletError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where a wallet keeps its device key (the name `Wallet` uses in its secure storage).
const DEVICE_KEY: &str = "device-key";

pub struct Phone {
    pub owner: String,
    pub dir: PathBuf,
    pub wallet: Wallet,
    secure: Arc<FileSecureStorage>,
}

/// One unlock as the phone saw it, with what the link carried.
#[derive(Clone, Debug)]
pub struct Unlock {
    pub report: UnlockReport,
    pub mtu: usize,
    pub link: SocketStats,
}

impl Phone {
    /// Opens (or creates) the wallet in `dir`: `wallet.db` and `secure/`.
    pub fn open(owner: &str, dir: &Path) -> Result<Phone, WalletError> {
        let secure = Arc::new(FileSecureStorage::new(dir.join("secure"))?);
        let wallet = Wallet::open(&dir.join("wallet.db"), secure.clone())?;
        Ok(Phone { owner: owner.to_string(), dir: dir.to_path_buf(), wallet, secure })
    }

    /// The device key as the wallet keeps it. The walkthrough uses it only to play a
    /// tampered app that signs what the wallet itself would refuse to.
    pub fn device_key(&self) -> Result<KeyPair, WalletError> {
        let secret = self.secure.get(DEVICE_KEY)?.ok_or(WalletError::NotEnrolled)?;
        let seed: [u8; 32] = secret.as_slice().try_into().map_err(|_| WalletError::NotEnrolled)?;
        Ok(KeyPair::from_secret(&seed))
    }

    /// Connects to the door only if the wallet holds an active key for it (as an app would not
    /// start a BLE connection without one).
    pub fn unlock(
        &mut self,
        door: keyway_protocol::credential::DoorId,
        addr: SocketAddr,
        mtu: usize,
    ) -> Result<Unlock, WalletError> {
        let now = self.wallet.now()?;
        let usable = self.wallet.keys_at(now)?.iter().any(|k| k.state == KeyState::Active && k.doors.contains(door));
        if !usable {
            return Err(WalletError::NoKeyForDoor(door));
        }
        let mut link =
            SocketLink::connect(addr, mtu, Duration::from_secs(5)).map_err(keyway_link::UnlockError::from)?;
        let report = self.wallet.unlock(door, &mut link)?;
        Ok(Unlock { report, mtu: keyway_link::Link::mtu(&link), link: link.stats() })
    }
}
