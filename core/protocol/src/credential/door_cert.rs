//! Door certificates: the authority vouches that a door key belongs to a door id until an
//! expiry. Phones check the door's challenge and receipts against it and refuse it once it has
//! expired; the backend re-issues it through sync before it lapses (and when the door is
//! re-keyed or the authority rotates), and checks receipts against the current one.

use super::chain::TrustAnchors;
use super::error::ChainError;
use super::ids::{AuthorityKeyId, DoorId};
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// What the authority signs in a [`DoorCertificate`]: door `door_id` signs with `door_key`
/// until `expires`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorCertBody {
    /// Body format version ([`SignedBody::VERSION`], currently 2).
    pub version: u8,
    /// The door this certificate is for.
    pub door_id: DoorId,
    /// The door's public key: verifies its challenges and receipts.
    pub door_key: PublicKey,
    /// The authority key that signs this certificate.
    pub issuer: AuthorityKeyId,
    /// First instant at which phones refuse the certificate (exclusive end of its life).
    pub expires: UnixTime,
}

impl SignedBody for DoorCertBody {
    const LABEL: &'static [u8] = label::DOOR_CERT;
    const WHAT: &'static str = "door certificate";
    const VERSION: u8 = 2;
    const MAX_LEN: usize = 170;
}

/// The door certificate body as it was written before certificates expired (version 1). Read
/// only to upgrade stored certificates: a version-1 certificate is refused everywhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorCertBodyV1 {
    /// Always 1.
    pub version: u8,
    /// The door this certificate is for.
    pub door_id: DoorId,
    /// The door's public key.
    pub door_key: PublicKey,
    /// The authority key that signed it.
    pub issuer: AuthorityKeyId,
}

impl SignedBody for DoorCertBodyV1 {
    const LABEL: &'static [u8] = label::DOOR_CERT;
    const WHAT: &'static str = "door certificate";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 160;
}

impl DoorCertBodyV1 {
    /// The current body for the same door and key, expiring at `expires`, to be signed anew.
    pub fn upgrade(self, issuer: AuthorityKeyId, expires: UnixTime) -> DoorCertBody {
        DoorCertBody::new(self.door_id, self.door_key, issuer).expires(expires)
    }
}

/// An authority-signed door certificate: binds a door key to a door id.
pub type DoorCertificate = Signed<DoorCertBody>;

impl DoorCertBody {
    /// A body of the current version that never expires (test doors and fixtures; Mission
    /// Control always sets [`DoorCertBody::expires`]); sign it with [`Signed::sign`].
    pub fn new(door_id: DoorId, door_key: PublicKey, issuer: AuthorityKeyId) -> Self {
        DoorCertBody { version: Self::VERSION, door_id, door_key, issuer, expires: UnixTime::MAX }
    }

    /// The same body, refused by phones from `expires` on.
    pub fn expires(self, expires: UnixTime) -> Self {
        DoorCertBody { expires, ..self }
    }
}

impl DoorCertificate {
    /// Checks the version, that the issuer is among `anchors`, the authority's signature and
    /// that the door key is usable; returns the door key.
    pub fn verify(&self, anchors: &TrustAnchors) -> Result<PublicKey, ChainError> {
        if self.body.version != DoorCertBody::VERSION {
            return Err(ChainError::UnsupportedVersion { what: DoorCertBody::WHAT, found: self.body.version });
        }
        let authority = anchors.get(self.body.issuer).ok_or(ChainError::UnknownIssuer { what: "door certificate" })?;
        self.verify_signature(&authority)?;
        if !self.body.door_key.is_acceptable() {
            return Err(ChainError::WeakKey { what: "door certificate" });
        }
        Ok(self.body.door_key)
    }

    /// [`DoorCertificate::verify`], and that the certificate has not expired at `now` (what a
    /// phone checks before it talks to the door).
    pub fn verify_at(&self, anchors: &TrustAnchors, now: UnixTime) -> Result<PublicKey, ChainError> {
        let key = self.verify(anchors)?;
        if now >= self.body.expires {
            return Err(ChainError::DoorCertificateExpired { door: self.body.door_id, expired: self.body.expires });
        }
        Ok(key)
    }
}
