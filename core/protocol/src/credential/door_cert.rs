//! Door certificates: the authority vouches that a door key belongs to a door id. Phones check
//! the door's challenge and receipts against it; the backend checks receipts against it.

use super::chain::TrustAnchors;
use super::error::ChainError;
use super::ids::{AuthorityKeyId, DoorId};
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use serde::{Deserialize, Serialize};

/// What the authority signs in a [`DoorCertificate`]: door `door_id` signs with `door_key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorCertBody {
    /// Body format version ([`SignedBody::VERSION`], currently 1).
    pub version: u8,
    /// The door this certificate is for.
    pub door_id: DoorId,
    /// The door's public key: verifies its challenges and receipts.
    pub door_key: PublicKey,
    /// The authority key that signs this certificate.
    pub issuer: AuthorityKeyId,
}

impl SignedBody for DoorCertBody {
    const LABEL: &'static [u8] = label::DOOR_CERT;
    const WHAT: &'static str = "door certificate";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 160;
}

/// An authority-signed door certificate: binds a door key to a door id.
pub type DoorCertificate = Signed<DoorCertBody>;

impl DoorCertBody {
    /// A body of the current version; sign it with [`Signed::sign`].
    pub fn new(door_id: DoorId, door_key: PublicKey, issuer: AuthorityKeyId) -> Self {
        DoorCertBody { version: Self::VERSION, door_id, door_key, issuer }
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
}
