//! Key chains and the rules a door applies to them.
//!
//! A chain is an authority-issued [`KeyCertificate`] optionally followed by one [`GuestKey`]
//! signed by the certificate holder's device key. The encoding admits up to three guest links
//! only so that a re-shared guest key is reported as [`ChainError::ReSharingByGuest`] rather
//! than as garbage.

use crate::prelude::*;

use super::error::{ChainError, RevokedWhat};
use super::ids::{AuthorityKeyId, DeviceId, DoorId, DoorSet, KeyId, PersonId};
use super::key_cert::{GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate, KeyFlags, Validity};
use super::keys::PublicKey;
use super::label;
use super::signed::SignedBody;
use crate::UnixTime;
use crate::codec::{self, BoundedVec, DecodeError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The authority keys a door (or phone, or backend) trusts, by key id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchors(Vec<(AuthorityKeyId, PublicKey)>);

impl TrustAnchors {
    /// Anchors for the given authority public keys (duplicates are kept once).
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut anchors = TrustAnchors::default();
        for k in keys {
            anchors.add(k);
        }
        anchors
    }

    /// Adds an authority key (rotation: the new key is added before the old one is removed).
    pub fn add(&mut self, key: PublicKey) {
        let id = AuthorityKeyId::of(&key.0);
        if self.get(id).is_none() {
            self.0.push((id, key));
        }
    }

    /// Stops trusting the authority key with this id (no-op if it is not there).
    pub fn remove(&mut self, id: AuthorityKeyId) {
        self.0.retain(|(k, _)| *k != id);
    }

    /// The trusted authority key with this id, if any.
    pub fn get(&self, id: AuthorityKeyId) -> Option<PublicKey> {
        self.0.iter().find(|(k, _)| *k == id).map(|(_, v)| *v)
    }

    /// Every trusted authority key, in the order they were added.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.0.iter().map(|(_, k)| k)
    }
}

/// What a verifier knows has been revoked before expiry.
pub trait RevocationCheck {
    /// True if `key` (a root key or a guest key) is revoked.
    fn key_revoked(&self, key: KeyId) -> bool;
    /// True if `person` is revoked, and with them every key issued to them.
    fn person_revoked(&self, person: PersonId) -> bool;
    /// True if `device` was removed: every key certified for it, and every guest key it
    /// signed, is refused. (Default: no device is revoked.)
    fn device_revoked(&self, device: DeviceId) -> bool {
        let _ = device;
        false
    }
}

/// For checks that happen where no revocation set exists (e.g. a phone validating a freshly
/// received certificate's signature and scope).
pub struct NoRevocations;

impl RevocationCheck for NoRevocations {
    fn key_revoked(&self, _: KeyId) -> bool {
        false
    }
    fn person_revoked(&self, _: PersonId) -> bool {
        false
    }
}

/// Longest guest tail the decoder admits (only so that re-sharing gets its own error).
const MAX_GUEST_LINKS: usize = 3;

/// Longest window a guest key may have (366 days). A guest chain needs a fresh root
/// certificate, but a revoked guest can pair its own link with a newer certificate of its
/// host's (they travel in every unlock), so a guest key's revocation must last until the guest
/// key's own expiry: this bound keeps every revocation at a door bounded in time.
pub const MAX_GUEST_VALIDITY_SECS: u64 = 366 * 86_400;
const CHAIN_VERSION: u8 = 1;

/// What a phone presents at a door: an authority-issued [`KeyCertificate`], optionally followed
/// by a [`GuestKey`] signed by its holder. Encoded with its own version byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChain {
    version: u8,
    root: KeyCertificate,
    guests: BoundedVec<GuestKey, MAX_GUEST_LINKS>,
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    /// The key actually presented (the guest key for a guest chain).
    pub key_id: KeyId,
    /// The authority-issued key at the root.
    pub root_key_id: KeyId,
    /// The person the root key was issued to (a guest acts under its host's person id).
    pub person_id: PersonId,
    /// The device key that must sign the unlock proof.
    pub holder: PublicKey,
    /// The doors the presented key opens.
    pub doors: DoorSet,
    /// When the presented key opens them.
    pub validity: Validity,
    /// Until when the root certificate is fresh (its holder's phone revalidated); a guest
    /// chain lapses with its root.
    pub fresh_until: UnixTime,
    /// The root's flags for a resident chain; all false for a guest chain.
    pub flags: KeyFlags,
    /// True if a guest key was presented.
    pub is_guest: bool,
}

impl KeyChain {
    /// Upper bound on an encoded chain (version, root and the most guest links the decoder
    /// admits); longer input is refused unread.
    pub const MAX_LEN: usize = 2 + KeyCertBody::MAX_LEN + MAX_GUEST_LINKS * GuestKeyBody::MAX_LEN;

    /// A chain of an authority-issued key alone.
    pub fn resident(root: KeyCertificate) -> Self {
        KeyChain { version: CHAIN_VERSION, root, guests: BoundedVec::empty() }
    }

    /// A chain of `root` and the guest key its holder signed under it.
    pub fn guest(root: KeyCertificate, guest: GuestKey) -> Self {
        KeyChain { version: CHAIN_VERSION, root, guests: BoundedVec::new(vec![guest]).unwrap_or_default() }
    }

    /// A chain with arbitrary guest links, for tests of the re-sharing rule. `None` past the
    /// decoder's bound.
    pub fn with_links(root: KeyCertificate, guests: Vec<GuestKey>) -> Option<Self> {
        Some(KeyChain { version: CHAIN_VERSION, root, guests: BoundedVec::new(guests)? })
    }

    /// The authority-issued key certificate at the root.
    pub fn root(&self) -> &KeyCertificate {
        &self.root
    }

    /// The first guest key, if any (a chain that verifies has at most one).
    pub fn guest_link(&self) -> Option<&GuestKey> {
        self.guests.first()
    }

    /// The presented key's id (guest key for guest chains).
    pub fn leaf_key_id(&self) -> KeyId {
        self.guests.last().map(|g| g.body.key_id).unwrap_or(self.root.body.key_id)
    }

    /// The canonical postcard encoding, as carried in an unlock request.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded ([`KeyChain::MAX_LEN`]), canonical decoding; an unknown chain version is
    /// reported as such. No signature or rule is checked (see [`KeyChain::verify_for_door`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_versioned("key chain", bytes, Self::MAX_LEN, CHAIN_VERSION)
    }

    /// SHA-256 over [`label::CHAIN_DIGEST`] ‖ the chain's canonical bytes; the unlock proof
    /// commits to it.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(label::CHAIN_DIGEST);
        h.update(self.to_bytes());
        h.finalize().into()
    }

    /// Checks signatures and delegation rules only (no door, time or revocation): what a phone
    /// checks when it receives a key or a guest key.
    pub fn verify_structure(&self, anchors: &TrustAnchors) -> Result<VerifiedChain, ChainError> {
        self.verify_structure_counting(anchors, &mut 0)
    }

    /// [`KeyChain::verify_structure`], adding to `verifications` each signature it checks (a
    /// door counts its public-key operations).
    pub fn verify_structure_counting(
        &self,
        anchors: &TrustAnchors,
        verifications: &mut u32,
    ) -> Result<VerifiedChain, ChainError> {
        let root = &self.root.body;
        // The chain envelope's version says nothing about the bodies inside it: each is checked
        // here so a certificate of a format this build does not know is never interpreted.
        if root.version != KeyCertBody::VERSION {
            return Err(ChainError::UnsupportedVersion { what: KeyCertBody::WHAT, found: root.version });
        }
        let authority = anchors.get(root.issuer).ok_or(ChainError::UnknownIssuer { what: KeyCertBody::WHAT })?;
        *verifications += 1;
        self.root.verify_signature(&authority)?;
        if root.key_id.is_guest_id() {
            return Err(ChainError::Malformed {
                what: KeyCertBody::WHAT,
                detail: "authority key with a guest id".into(),
            });
        }
        // The holder signs the unlock proof (and any guest key); a weak key there is refused now
        // rather than left for a later check to catch.
        if !root.holder.is_acceptable() {
            return Err(ChainError::WeakKey { what: KeyCertBody::WHAT });
        }
        let mut verified = VerifiedChain {
            key_id: root.key_id,
            root_key_id: root.key_id,
            person_id: root.person_id,
            holder: root.holder,
            doors: root.doors.clone(),
            validity: root.validity,
            fresh_until: root.fresh_until,
            flags: root.flags,
            is_guest: false,
        };
        match self.guests.as_slice() {
            [] => Ok(verified),
            [guest] => {
                let g = &guest.body;
                if g.version != GuestKeyBody::VERSION {
                    return Err(ChainError::UnsupportedVersion { what: GuestKeyBody::WHAT, found: g.version });
                }
                if g.parent != root.key_id {
                    return Err(ChainError::ParentMismatch { guest: g.key_id, named: g.parent, actual: root.key_id });
                }
                if !root.flags.may_share {
                    return Err(ChainError::SharingNotAllowed { parent: root.key_id });
                }
                *verifications += 1;
                guest.verify_signature(&root.holder)?;
                if !g.key_id.is_guest_id() {
                    return Err(ChainError::Malformed {
                        what: GuestKeyBody::WHAT,
                        detail: "guest key without a guest id".into(),
                    });
                }
                if !g.holder.is_acceptable() {
                    return Err(ChainError::WeakKey { what: GuestKeyBody::WHAT });
                }
                if !g.doors.is_subset_of(&root.doors) {
                    return Err(ChainError::GuestScopeWider { guest: g.key_id, what: "doors" });
                }
                if !g.validity.is_within(&root.validity) {
                    return Err(ChainError::GuestScopeWider { guest: g.key_id, what: "validity window" });
                }
                if g.validity.expiry.0.saturating_sub(g.validity.start.0) > MAX_GUEST_VALIDITY_SECS {
                    return Err(ChainError::GuestScopeWider {
                        guest: g.key_id,
                        what: "longest guest window (366 days)",
                    });
                }
                verified.key_id = g.key_id;
                verified.holder = g.holder;
                verified.doors = g.doors.clone();
                verified.validity = g.validity;
                verified.flags = KeyFlags { resident: false, may_share: false };
                verified.is_guest = true;
                Ok(verified)
            }
            _ => Err(ChainError::ReSharingByGuest),
        }
    }

    /// The full rule set a door applies before it opens: [`KeyChain::verify_structure`], then
    /// [`KeyChain::check_use`].
    pub fn verify_for_door(
        &self,
        anchors: &TrustAnchors,
        door: DoorId,
        now: UnixTime,
        revocations: &impl RevocationCheck,
    ) -> Result<VerifiedChain, ChainError> {
        let verified = self.verify_structure(anchors)?;
        self.check_use(&verified, door, now, revocations)?;
        Ok(verified)
    }

    /// The rules of use, for a chain whose structure verified as `verified`: revocation of the
    /// root key, the person, the device and the guest key, the door set, the window and the
    /// root's freshness at `now`.
    pub fn check_use(
        &self,
        verified: &VerifiedChain,
        door: DoorId,
        now: UnixTime,
        revocations: &impl RevocationCheck,
    ) -> Result<(), ChainError> {
        if revocations.key_revoked(verified.root_key_id) {
            return Err(ChainError::Revoked(RevokedWhat::Key(verified.root_key_id)));
        }
        if revocations.person_revoked(verified.person_id) {
            return Err(ChainError::Revoked(RevokedWhat::Person(verified.person_id)));
        }
        let device = DeviceId::of(&self.root().body.holder.0);
        if revocations.device_revoked(device) {
            return Err(ChainError::Revoked(RevokedWhat::Device(device)));
        }
        if verified.is_guest && revocations.key_revoked(verified.key_id) {
            return Err(ChainError::Revoked(RevokedWhat::Key(verified.key_id)));
        }
        if !verified.doors.contains(door) {
            return Err(ChainError::WrongDoor { key: verified.key_id, door });
        }
        if now < verified.validity.start {
            return Err(ChainError::NotYetValid { key: verified.key_id, start: verified.validity.start });
        }
        if now >= verified.validity.expiry {
            return Err(ChainError::Expired { key: verified.key_id, expiry: verified.validity.expiry });
        }
        if now >= verified.fresh_until {
            return Err(ChainError::NotRevalidated { key: verified.root_key_id, fresh_until: verified.fresh_until });
        }
        Ok(())
    }
}
