//! Identifiers and the door set a key grants.

use crate::prelude::*;

use crate::codec::{BoundedBytes, BoundedVec};
use core::fmt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A key's id. The backend assigns ids below 2^63; guest keys minted on a phone carry the top
/// bit ([`KeyId::GUEST_BIT`]), so a guest key can never collide with an authority-issued key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u64);

impl KeyId {
    /// The top bit: set on every guest-key id, never on an id the backend assigns.
    pub const GUEST_BIT: u64 = 1 << 63;

    /// True if the id carries [`KeyId::GUEST_BIT`], i.e. names a guest key minted on a phone.
    pub fn is_guest_id(self) -> bool {
        self.0 & Self::GUEST_BIT != 0
    }

    /// A fresh random guest-key id from the operating system's RNG, with
    /// [`KeyId::GUEST_BIT`] set.
    #[cfg(feature = "std")]
    pub fn random_guest() -> Self {
        let mut b = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        KeyId(u64::from_le_bytes(b) | Self::GUEST_BIT)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_guest_id() { write!(f, "g{:x}", self.0 & !Self::GUEST_BIT) } else { write!(f, "k{}", self.0) }
    }
}

/// A person's id, assigned by the backend and carried in every key certificate issued to them.
/// "Delete Person" revokes it; a new invite gives the person a new id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub u64);

/// A door's id, assigned by the backend: named by its door certificate, by the door sets of
/// keys and by the update batches meant for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DoorId(pub u32);

impl fmt::Display for DoorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "door-{}", self.0)
    }
}

/// First 8 bytes of SHA-256 over a device public key: how a door names a person's phone it must
/// refuse (a lost one), whatever keys were certified for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceId(pub [u8; 8]);

impl DeviceId {
    /// The id of the device key `public_key`.
    pub fn of(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(public_key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        DeviceId(id)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device-")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// First 8 bytes of SHA-256 over an authority public key: names the issuer in every
/// certificate so a door can hold several authority keys while one is rotated out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuthorityKeyId(pub [u8; 8]);

impl AuthorityKeyId {
    /// The id of the authority key `public_key` (its SHA-256, truncated to 8 bytes).
    pub fn of(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(public_key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        AuthorityKeyId(id)
    }
}

/// A keycard's id as the reader sees it (4 to 16 bytes for ISO 14443 UIDs and DESFire ids).
pub type CardId = BoundedBytes<16>;

/// Most doors one key may name. Keys granting wider access are split by the backend.
pub const MAX_DOORS_PER_KEY: usize = 32;

/// The doors a key opens: non-empty, strictly ascending (so each set has one encoding).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "BoundedVec<DoorId, MAX_DOORS_PER_KEY>", into = "BoundedVec<DoorId, MAX_DOORS_PER_KEY>")]
pub struct DoorSet(Vec<DoorId>);

impl DoorSet {
    /// Sorts and de-duplicates; `None` if empty or wider than [`MAX_DOORS_PER_KEY`].
    pub fn new(mut doors: Vec<DoorId>) -> Option<Self> {
        doors.sort();
        doors.dedup();
        (!doors.is_empty() && doors.len() <= MAX_DOORS_PER_KEY).then_some(DoorSet(doors))
    }

    /// True if the set names `door`.
    pub fn contains(&self, door: DoorId) -> bool {
        self.0.binary_search(&door).is_ok()
    }

    /// True if every door of this set is also in `other` (a guest key's doors must be a
    /// subset of its parent's).
    pub fn is_subset_of(&self, other: &DoorSet) -> bool {
        self.0.iter().all(|d| other.contains(*d))
    }

    /// The doors, strictly ascending.
    pub fn doors(&self) -> &[DoorId] {
        &self.0
    }
}

impl TryFrom<BoundedVec<DoorId, MAX_DOORS_PER_KEY>> for DoorSet {
    type Error = &'static str;
    fn try_from(v: BoundedVec<DoorId, MAX_DOORS_PER_KEY>) -> Result<Self, Self::Error> {
        let doors = v.into_vec();
        if doors.is_empty() {
            return Err("empty door set");
        }
        if doors.windows(2).any(|w| w[0] >= w[1]) {
            return Err("door set not strictly ascending");
        }
        Ok(DoorSet(doors))
    }
}

impl From<DoorSet> for BoundedVec<DoorId, MAX_DOORS_PER_KEY> {
    fn from(s: DoorSet) -> Self {
        // A DoorSet never exceeds the bound, so this cannot fall back.
        BoundedVec::new(s.0).unwrap_or_default()
    }
}
