//! Key certificates (authority → holder) and guest keys (holder → guest).

#[allow(unused_imports)]
use crate::prelude::*;

use super::ids::{AuthorityKeyId, DoorSet, KeyId, PersonId};
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// A validity window: valid for `start <= t < expiry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Validity {
    pub start: UnixTime,
    pub expiry: UnixTime,
}

impl Validity {
    /// `None` unless `start < expiry`.
    pub fn new(start: UnixTime, expiry: UnixTime) -> Option<Self> {
        (start < expiry).then_some(Validity { start, expiry })
    }

    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && t < self.expiry
    }

    pub fn is_within(&self, outer: &Validity) -> bool {
        outer.start <= self.start && self.expiry <= outer.expiry
    }
}

/// Flags on an authority-issued key. Unknown bits are refused at decoding, so a future flag
/// can never be silently ignored by an old door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct KeyFlags {
    pub resident: bool,
    pub may_share: bool,
}

impl KeyFlags {
    const RESIDENT: u8 = 1;
    const MAY_SHARE: u8 = 2;
}

impl TryFrom<u8> for KeyFlags {
    type Error = &'static str;
    fn try_from(bits: u8) -> Result<Self, Self::Error> {
        if bits & !(Self::RESIDENT | Self::MAY_SHARE) != 0 {
            return Err("unknown key flags");
        }
        Ok(KeyFlags { resident: bits & Self::RESIDENT != 0, may_share: bits & Self::MAY_SHARE != 0 })
    }
}

impl From<KeyFlags> for u8 {
    fn from(f: KeyFlags) -> u8 {
        (if f.resident { KeyFlags::RESIDENT } else { 0 }) | (if f.may_share { KeyFlags::MAY_SHARE } else { 0 })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCertBody {
    pub version: u8,
    pub key_id: KeyId,
    pub person_id: PersonId,
    pub holder: PublicKey,
    pub doors: DoorSet,
    pub validity: Validity,
    pub flags: KeyFlags,
    pub issuer: AuthorityKeyId,
}

impl SignedBody for KeyCertBody {
    const LABEL: &'static [u8] = label::KEY_CERT;
    const WHAT: &'static str = "key certificate";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 1 + 10 + 10 + 32 + 1 + 32 * 5 + 20 + 1 + 8 + 64;
}

/// An authority-issued key: a person's device may open `doors` during `validity`.
pub type KeyCertificate = Signed<KeyCertBody>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestKeyBody {
    pub version: u8,
    pub key_id: KeyId,
    pub parent: KeyId,
    pub holder: PublicKey,
    pub doors: DoorSet,
    pub validity: Validity,
}

impl SignedBody for GuestKeyBody {
    const LABEL: &'static [u8] = label::GUEST_KEY;
    const WHAT: &'static str = "guest key";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 1 + 10 + 10 + 32 + 1 + 32 * 5 + 20 + 64;
}

/// A guest key, signed by the device key of the holder of `parent`.
pub type GuestKey = Signed<GuestKeyBody>;

impl KeyCertBody {
    pub fn new(
        key_id: KeyId,
        person_id: PersonId,
        holder: PublicKey,
        doors: DoorSet,
        validity: Validity,
        flags: KeyFlags,
        issuer: AuthorityKeyId,
    ) -> Self {
        KeyCertBody { version: Self::VERSION, key_id, person_id, holder, doors, validity, flags, issuer }
    }
}

impl GuestKeyBody {
    pub fn new(key_id: KeyId, parent: KeyId, holder: PublicKey, doors: DoorSet, validity: Validity) -> Self {
        GuestKeyBody { version: Self::VERSION, key_id, parent, holder, doors, validity }
    }
}
