//! Binary values inside JSON: base64 (standard alphabet, padded) of their canonical bytes; and
//! [`Expiry`], the end of a grant.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyway_protocol::UnixTime;
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

/// A property's card key (AES-128): its 16 bytes, handed out once with a door's provisioning.
impl WireBytes for keyway_protocol::credential::PropertyCardKey {
    const WHAT: &'static str = "card key";
    const MAX_LEN: usize = 16;
    fn to_wire(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        <[u8; 16]>::try_from(bytes).map(Self::new).map_err(|_| DecodeError::Malformed {
            what: Self::WHAT,
            detail: format!("{} bytes, expected 16", bytes.len()),
        })
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

/// When a grant ends. Every request that grants access states it, and there is no default: a
/// time as everywhere on the wire (RFC 3339, `"2027-01-01T00:00:00Z"`; seconds since 1970 are
/// read too), or the
/// JSON string `"never"` for access without an end, which is stored and signed as
/// [`crate::NO_EXPIRY`] (9999-12-31T23:59:59Z). A misspelt or forgotten expiry is refused
/// rather than read as "never".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// Ends at this time.
    At(UnixTime),
    /// Never ends (`"never"`).
    Never,
}

impl Expiry {
    /// The JSON string for [`Expiry::Never`].
    pub const NEVER: &'static str = "never";

    /// The time stored and signed: [`crate::NO_EXPIRY`] for [`Expiry::Never`].
    pub fn time(self) -> UnixTime {
        match self {
            Expiry::At(t) => t,
            Expiry::Never => crate::NO_EXPIRY,
        }
    }
}

impl From<UnixTime> for Expiry {
    fn from(t: UnixTime) -> Self {
        Expiry::At(t)
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expiry::At(t) => t.fmt(f),
            Expiry::Never => f.write_str(Self::NEVER),
        }
    }
}

impl Serialize for Expiry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Expiry::At(t) => crate::format::Rfc3339(*t).serialize(serializer),
            Expiry::Never => serializer.serialize_str(Self::NEVER),
        }
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExpiryVisitor;
        impl serde::de::Visitor<'_> for ExpiryVisitor {
            type Value = Expiry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an expiry: an RFC 3339 time (2027-01-01T00:00:00Z), seconds since 1970 or \"never\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Expiry, E> {
                Ok(Expiry::At(UnixTime(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Expiry, E> {
                u64::try_from(v)
                    .map(|v| Expiry::At(UnixTime(v)))
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Expiry, E> {
                if v == Expiry::NEVER {
                    Ok(Expiry::Never)
                } else {
                    crate::format::parse_time(v)
                        .map(Expiry::At)
                        .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        deserializer.deserialize_any(ExpiryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_protocol::credential::KeyPair;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Grant {
        expiry: Expiry,
    }

    #[test]
    fn an_expiry_is_a_time_or_never_and_nothing_else() {
        let at = Grant { expiry: Expiry::At(UnixTime(1_800_000_000)) };
        assert_eq!(serde_json::to_string(&at).unwrap(), r#"{"expiry":"2027-01-15T08:00:00Z"}"#);
        for old in [r#"{"expiry":1800000000}"#, r#"{"expiry":"2027-01-15T09:00:00+01:00"}"#] {
            assert_eq!(serde_json::from_str::<Grant>(old).unwrap(), at);
        }
        let never = Grant { expiry: Expiry::Never };
        assert_eq!(serde_json::to_string(&never).unwrap(), r#"{"expiry":"never"}"#);
        for g in [at, never] {
            assert_eq!(serde_json::from_str::<Grant>(&serde_json::to_string(&g).unwrap()).unwrap(), g);
        }
        assert_eq!(Expiry::Never.time(), crate::NO_EXPIRY);
        for bad in [r#"{}"#, r#"{"expiry":null}"#, r#"{"expiry":"Never"}"#, r#"{"expiry":"soon"}"#, r#"{"expiry":-1}"#]
        {
            let e = serde_json::from_str::<Grant>(bad).unwrap_err().to_string();
            assert!(e.contains("expiry"), "{bad}: {e}");
        }
        assert!(serde_json::from_str::<Grant>(r#"{"expiry":1.5}"#).is_err());
    }

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
