//! The canonical binary encoding of everything Keyway signs or sends to a door.
//!
//! postcard (varints, no field names, no padding) gives compact bytes; on top of it this module
//! adds the two properties a security protocol needs:
//! - **bounded**: input longer than the caller's bound is refused before any decoding, and every
//!   sequence inside is a [`BoundedVec`] whose length prefix is checked before allocation;
//! - **canonical**: a value has exactly one accepted encoding. After decoding, the value is
//!   re-encoded and must equal the input byte for byte (this rejects overlong varints, trailing
//!   bytes and any other alternative spelling), so digests and signatures over bytes are unique.

use crate::prelude::*;

use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is longer than the caller's bound; refused before any decoding.
    #[error("{what}: {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Name of the value being decoded.
        what: &'static str,
        /// Input length, in bytes.
        len: usize,
        /// The caller's bound, in bytes.
        max: usize,
    },
    /// The input has no bytes at all.
    #[error("{what}: empty input")]
    Empty {
        /// Name of the value being decoded.
        what: &'static str,
    },
    /// The first byte names a format version this build does not read; nothing else was parsed.
    #[error("{what}: unsupported version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Name of the value being decoded.
        what: &'static str,
        /// The version byte found in the input.
        found: u8,
        /// The one version this build reads.
        supported: u8,
    },
    /// postcard could not parse the input (bad varint, sequence over its bound, truncated) or
    /// bytes were left over after the value.
    #[error("{what}: malformed ({detail})")]
    Malformed {
        /// Name of the value being decoded.
        what: &'static str,
        /// What is wrong (postcard's error, the number of trailing bytes, ...).
        detail: String,
    },
    /// The input decodes, but re-encoding the value does not give the same bytes (e.g. an
    /// overlong varint).
    #[error("{what}: not in canonical form")]
    NonCanonical {
        /// Name of the value being decoded.
        what: &'static str,
    },
}

/// Encodes a value. Encoding Keyway's own types cannot fail (no maps, no unsized sequences), so
/// a failure here is a programming error surfaced as an empty result rather than a panic.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes exactly one canonical value of at most `max_len` bytes.
pub fn decode<T: DeserializeOwned + Serialize>(
    what: &'static str,
    bytes: &[u8],
    max_len: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max_len {
        return Err(DecodeError::TooLong { what, len: bytes.len(), max: max_len });
    }
    if bytes.is_empty() {
        return Err(DecodeError::Empty { what });
    }
    let (value, rest): (T, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| DecodeError::Malformed { what, detail: e.to_string() })?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed { what, detail: format!("{} trailing bytes", rest.len()) });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical { what });
    }
    Ok(value)
}

/// Decodes a versioned value whose encoding starts with its version byte: an unknown version
/// is reported as such instead of as a confusing parse failure.
pub fn decode_versioned<T: DeserializeOwned + Serialize>(
    what: &'static str,
    bytes: &[u8],
    max_len: usize,
    supported: u8,
) -> Result<T, DecodeError> {
    match bytes.first() {
        None => Err(DecodeError::Empty { what }),
        Some(&found) if found != supported && bytes.len() <= max_len => {
            Err(DecodeError::UnsupportedVersion { what, found, supported })
        }
        Some(_) => decode(what, bytes, max_len),
    }
}

/// A `Vec` whose decoded length may not exceed `N`; the length prefix is checked before any
/// element is read or any memory reserved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedVec<T, const N: usize>(Vec<T>);

impl<T, const N: usize> BoundedVec<T, N> {
    /// Most elements this vector may hold, encoded or decoded.
    pub const MAX: usize = N;

    /// `None` if `items` holds more than `N` elements.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (items.len() <= N).then_some(BoundedVec(items))
    }

    /// A vector with no elements (encoded as a single 0 length byte).
    pub fn empty() -> Self {
        BoundedVec(Vec::new())
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// Unwraps into the plain `Vec`, dropping the bound.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }

    /// Number of elements, at most `N`.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the elements in order.
    pub fn iter(&self) -> core::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Appends unless full; returns whether the item was added.
    pub fn try_push(&mut self, item: T) -> bool {
        if self.0.len() < N {
            self.0.push(item);
            true
        } else {
            false
        }
    }
}

impl<T, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T, const N: usize> core::ops::Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a BoundedVec<T, N> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Serialize, const N: usize> Serialize for BoundedVec<T, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for BoundedVec<T, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoundedVisitor<T, const N: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for BoundedVisitor<T, N> {
            type Value = BoundedVec<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a sequence of at most {N} elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let hint = seq.size_hint().unwrap_or(0);
                if hint > N {
                    return Err(de::Error::invalid_length(hint, &self));
                }
                let mut items = Vec::with_capacity(hint);
                while let Some(item) = seq.next_element()? {
                    if items.len() == N {
                        return Err(de::Error::invalid_length(N + 1, &self));
                    }
                    items.push(item);
                }
                Ok(BoundedVec(items))
            }
        }
        deserializer.deserialize_seq(BoundedVisitor::<T, N>(PhantomData))
    }
}

/// Byte strings of at most `N` bytes (card ids, nonces of variable size).
pub type BoundedBytes<const N: usize> = BoundedVec<u8, N>;

/// 64 raw bytes on the wire (a signature), with no length prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes64(pub [u8; 64]);

impl fmt::Debug for Bytes64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes64(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Serialize for Bytes64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(64)?;
        for b in &self.0 {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Bytes64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("64 bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes64, A::Error> {
                let mut out = [0u8; 64];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Bytes64(out))
            }
        }
        deserializer.deserialize_tuple(64, V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Sample {
        version: u8,
        n: u64,
        items: BoundedVec<u16, 3>,
    }

    #[test]
    fn round_trip_and_bounds() {
        let s = Sample { version: 1, n: 300, items: BoundedVec::new(vec![1, 2, 3]).unwrap() };
        let bytes = encode(&s);
        assert_eq!(decode::<Sample>("sample", &bytes, 64).unwrap(), s);
        assert!(matches!(decode::<Sample>("sample", &bytes, 3), Err(DecodeError::TooLong { .. })));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(decode::<Sample>("sample", &trailing, 64), Err(DecodeError::Malformed { .. })));
    }

    #[test]
    fn overlong_varint_is_not_canonical() {
        // n = 1 spelled as 0x81 0x00 instead of 0x01.
        let bytes = [1u8, 0x81, 0x00, 0];
        assert!(matches!(
            decode::<Sample>("sample", &bytes, 64),
            Err(DecodeError::NonCanonical { .. }) | Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn oversized_length_prefix_is_refused_before_allocation() {
        // version 1, n 0, then a length prefix of u32::MAX elements.
        let bytes = [1u8, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(decode::<Sample>("sample", &bytes, 64), Err(DecodeError::Malformed { .. })));
        assert!(BoundedVec::<u8, 2>::new(vec![1, 2, 3]).is_none());
    }

    #[test]
    fn unknown_version_is_named() {
        let s = Sample { version: 9, n: 0, items: BoundedVec::empty() };
        let err = decode_versioned::<Sample>("sample", &encode(&s), 64, 1).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedVersion { what: "sample", found: 9, supported: 1 });
    }

    #[test]
    fn bytes64_is_raw() {
        let b = Bytes64([7; 64]);
        let enc = encode(&b);
        assert_eq!(enc.len(), 64);
        assert_eq!(decode::<Bytes64>("sig", &enc, 64).unwrap(), b);
        assert!(decode::<Bytes64>("sig", &enc[..63], 64).is_err());
    }
}
