//! The signed envelope shared by every authority-, device- or door-signed message.

use crate::prelude::*;

use super::error::ChainError;
use super::keys::{self, KeyPair, PublicKey};
use crate::codec::{self, Bytes64, DecodeError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A body that can be signed. Its encoding must begin with its `version: u8` field.
pub trait SignedBody: Serialize + DeserializeOwned + Clone {
    /// Domain-separation label (see [`super::label`]).
    const LABEL: &'static [u8];
    /// Human name used in errors.
    const WHAT: &'static str;
    /// The body format version this build writes and reads.
    const VERSION: u8;
    /// Upper bound on the encoded envelope; longer input is refused unread.
    const MAX_LEN: usize;
}

/// `body` plus an Ed25519 signature over `T::LABEL ‖ encode(body)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The signed content; its first field is its format version.
    pub body: T,
    /// Ed25519 signature over `T::LABEL ‖ encode(body)` by the body's signer (authority,
    /// device or door key, depending on `T`).
    pub signature: Bytes64,
}

impl<T: SignedBody> Signed<T> {
    /// Signs `body` with `key` under `T::LABEL`. The body's version is not checked here.
    pub fn sign(body: T, key: &KeyPair) -> Self {
        let signature = key.sign(T::LABEL, &codec::encode(&body));
        Signed { body, signature }
    }

    /// Strict verification against `signer`: [`ChainError::WeakKey`] if `signer` is not a
    /// usable key, [`ChainError::BadSignature`] if the signature does not verify.
    pub fn verify_signature(&self, signer: &PublicKey) -> Result<(), ChainError> {
        if !signer.is_acceptable() {
            return Err(ChainError::WeakKey { what: T::WHAT });
        }
        if keys::verify(signer, T::LABEL, &codec::encode(&self.body), &self.signature) {
            Ok(())
        } else {
            Err(ChainError::BadSignature { what: T::WHAT })
        }
    }

    /// The canonical postcard encoding of body and signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Bounded (`T::MAX_LEN`), canonical decoding; an unknown body version is reported as such.
    /// The signature is not checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_versioned(T::WHAT, bytes, T::MAX_LEN, T::VERSION)
    }
}
