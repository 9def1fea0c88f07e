//! Key certificates (authority → holder) and guest keys (holder → guest).

use super::ids::{AuthorityKeyId, DoorSet, KeyId, PersonId};
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// A validity window: valid for `start <= t < expiry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Validity {
    /// First instant (inclusive) at which the key opens.
    pub start: UnixTime,
    /// First instant at which the key no longer opens (exclusive end); a revocation of the key
    /// lasts until this instant.
    pub expiry: UnixTime,
}

impl Validity {
    /// `None` unless `start < expiry`.
    pub fn new(start: UnixTime, expiry: UnixTime) -> Option<Self> {
        (start < expiry).then_some(Validity { start, expiry })
    }

    /// True if `start <= t < expiry`.
    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && t < self.expiry
    }

    /// True if this window lies inside `outer` (a guest key's window inside its parent's).
    pub fn is_within(&self, outer: &Validity) -> bool {
        outer.start <= self.start && self.expiry <= outer.expiry
    }
}

/// Flags on an authority-issued key. Unknown bits are refused at decoding, so a future flag
/// can never be silently ignored by an old door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct KeyFlags {
    /// Wire value 1: the holder is a resident of the property. Informational; no chain rule reads it.
    pub resident: bool,
    /// Wire value 2: the holder may sign guest keys under this key.
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

/// What the authority signs in a [`KeyCertificate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCertBody {
    /// Body format version ([`SignedBody::VERSION`], currently 1).
    pub version: u8,
    /// The key's id, assigned by the backend (below 2^63: never a guest id).
    pub key_id: KeyId,
    /// The person the key is issued to; revoking the person revokes this key.
    pub person_id: PersonId,
    /// The holder's device public key: signs unlock proofs and any guest keys under this key.
    pub holder: PublicKey,
    /// The doors this key opens.
    pub doors: DoorSet,
    /// When this key opens them: the grant the manager made (the lease).
    pub validity: Validity,
    /// Until when this certificate opens doors without the holder's phone revalidating: the
    /// backend re-issues it at each sync with `min(validity.expiry, now + the property's
    /// revalidation window)`, so a phone that stops syncing (a revoked or lost one) loses
    /// offline access within the window, not at the end of the lease. Never after
    /// `validity.expiry`.
    pub fresh_until: UnixTime,
    /// Resident and may-share flags.
    pub flags: KeyFlags,
    /// The authority key that signs this certificate.
    pub issuer: AuthorityKeyId,
}

impl SignedBody for KeyCertBody {
    const LABEL: &'static [u8] = label::KEY_CERT;
    const WHAT: &'static str = "key certificate";
    const VERSION: u8 = 2;
    const MAX_LEN: usize = 1 + 10 + 10 + 32 + 1 + 32 * 5 + 20 + 10 + 1 + 8 + 64;
}

/// An authority-issued key: a person's device may open `doors` during `validity`.
pub type KeyCertificate = Signed<KeyCertBody>;

/// What a key holder's device signs in a [`GuestKey`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestKeyBody {
    /// Body format version ([`SignedBody::VERSION`], currently 1).
    pub version: u8,
    /// The guest key's id, minted on the sharing phone with [`KeyId::GUEST_BIT`] set.
    pub key_id: KeyId,
    /// The authority-issued key this guest key is shared from; its holder signs this body.
    pub parent: KeyId,
    /// The guest's device public key: signs the guest's unlock proofs.
    pub holder: PublicKey,
    /// The doors the guest may open; must be a subset of the parent's.
    pub doors: DoorSet,
    /// When the guest may open them; must lie inside the parent's window.
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
    /// A body of the current version, fresh for its whole validity (use
    /// [`KeyCertBody::fresh_until`] to bound it); the authority signs it with [`Signed::sign`].
    pub fn new(
        key_id: KeyId,
        person_id: PersonId,
        holder: PublicKey,
        doors: DoorSet,
        validity: Validity,
        flags: KeyFlags,
        issuer: AuthorityKeyId,
    ) -> Self {
        KeyCertBody {
            version: Self::VERSION,
            key_id,
            person_id,
            holder,
            doors,
            validity,
            fresh_until: validity.expiry,
            flags,
            issuer,
        }
    }

    /// The same body, fresh only until `t` (capped at the validity's expiry).
    pub fn fresh_until(mut self, t: UnixTime) -> Self {
        self.fresh_until = t.min(self.validity.expiry);
        self
    }
}

impl GuestKeyBody {
    /// A body of the current version; the parent's holder signs it with [`Signed::sign`].
    /// Scope and id rules are checked when the chain is verified, not here.
    pub fn new(key_id: KeyId, parent: KeyId, holder: PublicKey, doors: DoorSet, validity: Validity) -> Self {
        GuestKeyBody { version: Self::VERSION, key_id, parent, holder, doors, validity }
    }
}
