//! Ed25519 keys for the three roles and the single strict verification function.

use crate::prelude::*;

use crate::codec::Bytes64;
use core::fmt;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A public key as carried on the wire: 32 bytes. Whether it is a usable key (a canonical
/// encoding of a point that is not of small order) is checked by [`PublicKey::verifying_key`],
/// which every verification goes through.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The point, if the bytes decode and the key is not weak (small order).
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let vk = VerifyingKey::from_bytes(&self.0).ok()?;
        (!vk.is_weak()).then_some(vk)
    }

    /// The X25519 public key of this Ed25519 key (the birational map to Montgomery form);
    /// `None` for bytes that are not a point. Matches [`KeyPair`]'s `dh_secret`.
    pub(crate) fn dh_public(&self) -> Option<[u8; 32]> {
        Some(self.verifying_key()?.to_montgomery().to_bytes())
    }

    /// True for keys Keyway accepts from a peer: device keys at invite acceptance, door keys
    /// in certificates, holder keys in guest shares.
    pub fn is_acceptable(&self) -> bool {
        self.verifying_key().is_some()
    }

    /// The 32 bytes as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses exactly 64 hex digits (surrounding whitespace ignored); `None` otherwise. Does
    /// not check that the key is usable (see [`PublicKey::is_acceptable`]).
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex_decode::<32>(s)?;
        Some(PublicKey(bytes))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}…)", &self.to_hex()[..16])
    }
}

pub(crate) fn hex_decode<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.trim();
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// An Ed25519 signing key of any role (authority, device, door). The secret is zeroized on drop
/// and never printed.
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl KeyPair {
    /// A fresh key pair from the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn generate() -> Self {
        KeyPair(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key pair of a 32-byte Ed25519 secret seed (as returned by [`KeyPair::secret`]).
    /// Without `std`, this is how an embedder supplies keys from its own randomness.
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        KeyPair(SigningKey::from_bytes(secret))
    }

    /// The 32-byte secret seed, for secure storage only.
    pub fn secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public half, as it appears in certificates.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The X25519 secret of this key (the clamped scalar of the Ed25519 secret, as libsodium's
    /// `crypto_sign_ed25519_sk_to_curve25519` makes it): the device key's half of the unlock's
    /// static key agreement. Its public half is [`PublicKey::dh_public`].
    pub(crate) fn dh_secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_scalar_bytes())
    }

    /// Signs `label ‖ message`; `label` is one of [`super::label`]'s domain-separation labels.
    pub fn sign(&self, label: &[u8], message: &[u8]) -> Bytes64 {
        let mut input = Vec::with_capacity(label.len() + message.len());
        input.extend_from_slice(label);
        input.extend_from_slice(message);
        Bytes64(self.0.sign(&input).to_bytes())
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({:?})", self.public())
    }
}

/// The one verification function in Keyway: strict Ed25519 (`verify_strict`: canonical S,
/// canonical R and A, no small-order R or A) over `label ‖ message`. Doors, phones and the
/// backend all call this; the Wycheproof and CCTV conformance tests run through it too.
pub fn verify(public: &PublicKey, label: &[u8], message: &[u8], signature: &Bytes64) -> bool {
    let Some(vk) = public.verifying_key() else {
        return false;
    };
    let mut input = Vec::with_capacity(label.len() + message.len());
    input.extend_from_slice(label);
    input.extend_from_slice(message);
    vk.verify_strict(&input, &Signature::from_bytes(&signature.0)).is_ok()
}

/// Verification of a raw Ed25519 message with no label, for conformance vectors only.
pub fn verify_raw(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    verify(&PublicKey(*public), b"", message, &Bytes64(sig))
}
