//! Door certificates: the authority vouches that a door key belongs to a door id. Phones check
//! the door's challenge and receipts against it; the backend checks receipts against it.

#[allow(unused_imports)]
use crate::prelude::*;

use super::chain::TrustAnchors;
use super::error::ChainError;
use super::ids::{AuthorityKeyId, DoorId};
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorCertBody {
    pub version: u8,
    pub door_id: DoorId,
    pub door_key: PublicKey,
    pub issuer: AuthorityKeyId,
}

impl SignedBody for DoorCertBody {
    const LABEL: &'static [u8] = label::DOOR_CERT;
    const WHAT: &'static str = "door certificate";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 160;
}

pub type DoorCertificate = Signed<DoorCertBody>;

impl DoorCertBody {
    pub fn new(door_id: DoorId, door_key: PublicKey, issuer: AuthorityKeyId) -> Self {
        DoorCertBody { version: Self::VERSION, door_id, door_key, issuer }
    }
}

impl DoorCertificate {
    /// Checks the authority's signature and that the door key is usable; returns the door key.
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
