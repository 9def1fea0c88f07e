//! What a door puts in its BLE advertisement so a phone can tell doors apart before it
//! connects: the door id and a hint of its update seq, nine bytes in all.
//!
//! ```text
//! version u8 (= 1) | door_id u32 BE | seq_hint u32 BE (the door's update seq, held to u32::MAX)
//! ```
//!
//! The door sends these nine bytes as the service data of the Keyway service (AD type 0x21,
//! "service data – 128-bit UUID": 1 length byte, 1 type byte, 16 UUID bytes and the payload,
//! 27 of the 31 bytes of a scan response; `keyway_link::gatt` builds and finds it). Nothing in
//! it names a resident, a phone or a key: an observer learns that a Keyway door is in range,
//! which door id it has (stable, like a house number) and how many door updates it has
//! applied. The advertisement is not signed (a radio cannot afford a signature in 31 bytes):
//! a phone uses it to choose which peripheral to connect to and whether it carries updates
//! for it, never to decide trust. The door's signed challenge decides, as before.

use crate::credential::DoorId;

/// Length of the advertisement payload.
pub const ADVERT_LEN: usize = 9;
/// The payload format this crate writes and reads.
pub const ADVERT_VERSION: u8 = 1;

/// A door's advertisement payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorAdvert {
    /// The door id the door claims (unauthenticated until its challenge verifies).
    pub door_id: DoorId,
    /// The door's update seq, held to `u32::MAX` (a door past that advertises `u32::MAX`: "at
    /// least this many").
    pub seq_hint: u32,
}

/// Why bytes are not a door advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdvertError {
    /// Not [`ADVERT_LEN`] bytes.
    #[error("a door advertisement is {ADVERT_LEN} bytes, not {0}")]
    Length(usize),
    /// A version this crate does not read (a newer door firmware).
    #[error("door advertisement version {0} is not supported (this wallet reads version {ADVERT_VERSION})")]
    Version(u8),
}

impl DoorAdvert {
    /// The advertisement of door `door_id` whose update seq is `update_seq`.
    pub fn new(door_id: DoorId, update_seq: u64) -> Self {
        DoorAdvert { door_id, seq_hint: u32::try_from(update_seq).unwrap_or(u32::MAX) }
    }

    /// The nine bytes the door advertises.
    pub fn to_bytes(&self) -> [u8; ADVERT_LEN] {
        let mut out = [0u8; ADVERT_LEN];
        out[0] = ADVERT_VERSION;
        out[1..5].copy_from_slice(&self.door_id.0.to_be_bytes());
        out[5..9].copy_from_slice(&self.seq_hint.to_be_bytes());
        out
    }

    /// Reads the nine advertised bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AdvertError> {
        let bytes: &[u8; ADVERT_LEN] = bytes.try_into().map_err(|_| AdvertError::Length(bytes.len()))?;
        if bytes[0] != ADVERT_VERSION {
            return Err(AdvertError::Version(bytes[0]));
        }
        let word = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        Ok(DoorAdvert { door_id: DoorId(word(1)), seq_hint: word(5) })
    }

    /// Whether a batch ending at `last_seq` holds updates this door lacks. A hint of
    /// `u32::MAX` means "at least that": only a batch beyond it counts.
    pub fn lacks(&self, last_seq: u64) -> bool {
        last_seq > u64::from(self.seq_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_holds_large_seqs() {
        let a = DoorAdvert::new(DoorId(0x0102_0304), 7);
        assert_eq!(a.to_bytes(), [1, 1, 2, 3, 4, 0, 0, 0, 7]);
        assert_eq!(DoorAdvert::from_bytes(&a.to_bytes()), Ok(a));
        let big = DoorAdvert::new(DoorId(1), u64::MAX);
        assert_eq!(big.seq_hint, u32::MAX);
        assert!(!big.lacks(u64::from(u32::MAX)));
        assert!(big.lacks(u64::from(u32::MAX) + 1));
        assert!(a.lacks(8) && !a.lacks(7));
    }

    #[test]
    fn refuses_other_lengths_and_versions() {
        assert_eq!(DoorAdvert::from_bytes(&[1; 8]), Err(AdvertError::Length(8)));
        assert_eq!(DoorAdvert::from_bytes(&[]), Err(AdvertError::Length(0)));
        let mut b = DoorAdvert::new(DoorId(1), 1).to_bytes();
        b[0] = 2;
        assert_eq!(DoorAdvert::from_bytes(&b), Err(AdvertError::Version(2)));
    }
}
