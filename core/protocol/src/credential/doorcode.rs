//! Daily doorcodes, and the keyed tags by which a door knows its keycards.
//!
//! A person invited with a daily doorcode holds a *slot* at each of their doors. The code for a
//! slot on a calendar day (in the property's UTC offset) is
//!
//! ```text
//! HMAC-SHA256(door_secret, "keyway/doorcode/v2\0" ‖ slot (u32 BE) ‖ day (i64 BE, days since 1970-01-01))
//! ```
//!
//! read as a big-endian u64 from its first 8 bytes, reduced modulo 10^10: a **10-digit** code
//! (modulo bias below 2^-30). The door secret is provisioned at install and known only to the
//! door and the backend; it never travels in a door update, so the phones that carry slot
//! additions learn nothing about anyone's code.
//!
//! Guessing bound (target: below 1 % a year per door with 1,024 active slots): with `s` active
//! slots a random guess matches with probability `s / 10^10`. The keypad's own limiter (see
//! `door::keypad`) checks at most 155 attempts in any 24 hours, 56,575 a year, so a year of
//! optimal guessing succeeds with probability at most 56,575 × 1,024 / 10^10 < 0.58 % (50
//! slots: < 0.03 %); every attempt is in the activity log. With the 8-digit codes and the
//! 5-a-minute window of earlier versions the same year gave 2.6 million attempts.

use super::label;
use crate::UnixTime;
use core::fmt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Number of decimal digits in a doorcode.
pub const DIGITS: u32 = 10;
const MODULUS: u64 = 10u64.pow(DIGITS);

/// The per-door secret codes are derived from: 32 bytes, provisioned at install and known only
/// to the door and the backend. Zeroized on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DoorcodeSecret([u8; 32]);

impl DoorcodeSecret {
    /// Wraps 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        DoorcodeSecret(bytes)
    }

    /// A fresh secret from the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        DoorcodeSecret(b)
    }

    /// The raw secret, for provisioning and secure storage only.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The code of `slot` on local calendar day `day` (days since 1970-01-01).
    pub fn code_for_day(&self, slot: u32, day: i64) -> Doorcode {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label::DOORCODE);
        mac.update(&slot.to_be_bytes());
        mac.update(&day.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        Doorcode(u64::from_be_bytes(first) % MODULUS)
    }

    /// The code of `slot` at instant `t` for a property `utc_offset_minutes` east of UTC.
    pub fn code_at(&self, slot: u32, t: UnixTime, utc_offset_minutes: i16) -> Doorcode {
        self.code_for_day(slot, local_day(t, utc_offset_minutes))
    }
}

impl DoorcodeSecret {
    /// The keyed tag by which this door knows the card `uid` (its UID or application id bytes):
    /// the first [`CARD_TAG_LEN`] bytes of `HMAC-SHA256(door secret, "keyway/card-tag/v1\0" ‖ uid)`.
    /// Door updates and activity records carry only tags: a tag read from a phone's batch or a
    /// receipt is no card, and a tag is useless at any other door (each door has its own secret).
    pub fn card_tag(&self, uid: &[u8]) -> super::CardId {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label::CARD_TAG);
        mac.update(uid);
        let out = mac.finalize().into_bytes();
        super::CardId::new(out[..CARD_TAG_LEN].to_vec()).unwrap_or_default()
    }
}

/// Length of a card's keyed tag (see [`DoorcodeSecret::card_tag`]).
pub const CARD_TAG_LEN: usize = 16;

impl fmt::Debug for DoorcodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DoorcodeSecret(…)")
    }
}

/// The local calendar day number (days since 1970-01-01, negative before) of instant `t` at
/// `utc_offset_minutes` east of UTC.
pub fn local_day(t: UnixTime, utc_offset_minutes: i16) -> i64 {
    let local = t.0 as i128 + utc_offset_minutes as i128 * 60;
    local.div_euclid(86_400) as i64
}

/// A 10-digit code; shown and typed with leading zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Doorcode(u64);

impl Doorcode {
    /// Parses exactly 10 ASCII digits (surrounding whitespace ignored); `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() != DIGITS as usize || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(Doorcode)
    }

    /// The code as a number below 10^10.
    pub fn value(self) -> u64 {
        self.0
    }

    /// Comparison that does not stop at the first differing digit.
    pub fn matches(self, other: Doorcode) -> bool {
        (self.0 ^ other.0) == 0
    }
}

impl fmt::Display for Doorcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

impl fmt::Debug for Doorcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Doorcode(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn codes_change_daily_and_per_slot() {
        let secret = DoorcodeSecret::new([7; 32]);
        let day = 20_000;
        let a = secret.code_for_day(1, day);
        assert_eq!(a, secret.code_for_day(1, day));
        assert_ne!(a, secret.code_for_day(1, day + 1));
        assert_ne!(a, secret.code_for_day(2, day));
        assert_ne!(a, DoorcodeSecret::new([8; 32]).code_for_day(1, day));
        assert_eq!(Doorcode::parse(&a.to_string()), Some(a));
        assert_eq!(a.to_string().len(), 10);
    }

    #[test]
    fn card_tags_are_keyed_per_door_and_differ_from_the_uid() {
        let uid = [0x04, 0xA1, 0xB2, 0xC3];
        let tag = DoorcodeSecret::new([7; 32]).card_tag(&uid);
        assert_eq!(tag.len(), CARD_TAG_LEN);
        assert_eq!(tag, DoorcodeSecret::new([7; 32]).card_tag(&uid));
        assert_ne!(tag, DoorcodeSecret::new([8; 32]).card_tag(&uid), "another door, another tag");
        assert_ne!(tag, DoorcodeSecret::new([7; 32]).card_tag(&[0x04, 0xA1, 0xB2, 0xC4]));
        assert!(!tag.as_slice().windows(uid.len()).any(|w| w == uid));
    }

    #[test]
    fn local_day_follows_the_offset() {
        // 2026-12-01T23:30:00Z is already 2 December at UTC+1 and still 1 December at UTC-5.
        let t = UnixTime(1_796_167_800);
        assert_eq!(local_day(t, 0), 20_788);
        assert_eq!(local_day(t, 60), 20_789);
        assert_eq!(local_day(t, -300), 20_788);
        assert_eq!(local_day(UnixTime(0), -60), -1);
    }

    #[test]
    fn parse_rejects_wrong_shapes() {
        for bad in ["", "123456789", "12345678901", "123456789a", "-123456789", "12345678", "１２３４５６７８９０"]
        {
            assert_eq!(Doorcode::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Doorcode::parse("0000000042").map(Doorcode::value), Some(42));
        assert_eq!(Doorcode::parse(" 9999999999\n").map(Doorcode::value), Some(9_999_999_999));
    }
}
