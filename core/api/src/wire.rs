//! Binary values inside JSON: base64 (standard alphabet, padded) of their canonical bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyway_protocol::codec::DecodeError;
use keyway_protocol::credential::{KeyChain, PublicKey, Signed, SignedBody};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A value with a canonical, bounded byte form.
pub trait WireBytes: Sized {
    const WHAT: &'static str;
    /// Longest byte form accepted; longer base64 text is refused before it is decoded.
    const MAX_LEN: usize;
    fn to_wire(&self) -> Vec<u8>;
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl<T: SignedBody> WireBytes for Signed<T> {
    const WHAT: &'static str = T::WHAT;
    const MAX_LEN: usize = T::MAX_LEN;
    fn to_wire(&self) -> Vec<u8> {
        self.to_bytes()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes)
    }
}

impl WireBytes for KeyChain {
    const WHAT: &'static str = "key chain";
    const MAX_LEN: usize = KeyChain::MAX_LEN;
    fn to_wire(&self) -> Vec<u8> {
        self.to_bytes()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        KeyChain::from_bytes(bytes)
    }
}

/// The raw 32 bytes of the point. Whether the key is acceptable is the receiver's check
/// ([`PublicKey::is_acceptable`]), so that it can answer with a precise error.
impl WireBytes for PublicKey {
    const WHAT: &'static str = "public key";
    const MAX_LEN: usize = 32;
    fn to_wire(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(PublicKey(exact_32(Self::WHAT, bytes)?))
    }
}

/// 32 secret bytes handed out once (a door's key seed, a door's doorcode secret). Zeroized on
/// drop and never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret32(pub [u8; 32]);

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(…)")
    }
}

impl WireBytes for Secret32 {
    const WHAT: &'static str = "secret";
    const MAX_LEN: usize = 32;
    fn to_wire(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Secret32(exact_32(Self::WHAT, bytes)?))
    }
}

/// An Ed25519 signature: its 64 bytes.
impl WireBytes for keyway_protocol::codec::Bytes64 {
    const WHAT: &'static str = "signature";
    const MAX_LEN: usize = 64;
    fn to_wire(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        <[u8; 64]>::try_from(bytes).map(keyway_protocol::codec::Bytes64).map_err(|_| DecodeError::Malformed {
            what: Self::WHAT,
            detail: format!("{} bytes, expected 64", bytes.len()),
        })
    }
}

fn exact_32(what: &'static str, bytes: &[u8]) -> Result<[u8; 32], DecodeError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| DecodeError::Malformed { what, detail: format!("{} bytes, expected 32", bytes.len()) })
}

/// A [`WireBytes`] value as a base64 JSON string.
#[derive(Clone, PartialEq, Eq)]
pub struct B64<T>(pub T);

impl<T> B64<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for B64<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for B64<T> {
    fn from(v: T) -> Self {
        B64(v)
    }
}

impl<T: fmt::Debug> fmt::Debug for B64<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: WireBytes> Serialize for B64<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(self.0.to_wire()))
    }
}

impl<'de, T: WireBytes> Deserialize<'de> for B64<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        let max_text = T::MAX_LEN.div_ceil(3) * 4;
        if text.len() > max_text {
            return Err(D::Error::custom(format!(
                "{}: {} base64 characters exceeds the limit of {max_text}",
                T::WHAT,
                text.len()
            )));
        }
        let bytes =
            STANDARD.decode(text.as_bytes()).map_err(|e| D::Error::custom(format!("{}: not base64 ({e})", T::WHAT)))?;
        T::from_wire(&bytes).map(B64).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_protocol::credential::KeyPair;

    #[derive(Serialize, Deserialize)]
    struct Holder {
        key: B64<PublicKey>,
    }

    #[test]
    fn public_key_round_trips_and_wrong_lengths_are_refused() {
        let pk = KeyPair::generate().public();
        let json = serde_json::to_string(&Holder { key: B64(pk) }).unwrap();
        let back: Holder = serde_json::from_str(&json).unwrap();
        assert_eq!(back.key.0, pk);
        let short = format!("{{\"key\":\"{}\"}}", STANDARD.encode([1u8; 31]));
        assert!(serde_json::from_str::<Holder>(&short).is_err());
        let long = format!("{{\"key\":\"{}\"}}", STANDARD.encode([1u8; 300]));
        let err = serde_json::from_str::<Holder>(&long).err().unwrap().to_string();
        assert!(err.contains("exceeds the limit"), "{err}");
        assert!(serde_json::from_str::<Holder>("{\"key\":\"***\"}").is_err());
    }
}
