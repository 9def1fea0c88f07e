//! Secure keycards: an AES-128 challenge-response in the manner of MIFARE DESFire EV2/EV3
//! cards, so that a copy of a card's UID no longer opens a door.
//!
//! A UID is no secret: every reader sees it, and anyone can write it to a blank card. A
//! *secure* card also holds its own AES-128 key, diversified from the property's card key and
//! the card's UID as NXP AN10922 describes for AES-128 (AES-CMAC under the property card key):
//!
//! ```text
//! card key = AES-CMAC(property card key, 0x01 ‖ UID ‖ AID ‖ system identifier)
//! ```
//!
//! with the AID [`CARD_AID`] and the system identifier [`CARD_SYSTEM_IDENTIFIER`], sized so
//! that the input is 19 to 31 bytes for every UID of 4 to 16 bytes: AN10922 pads such an input
//! to two blocks with `0x80 00…` and uses CMAC's second subkey, which is exactly AES-CMAC over
//! the unpadded input (checked against the application note's own example).
//!
//! At the reader, the door sends a fresh random challenge (16 bytes of the caller's
//! randomness, like every nonce of the engine) and the card answers
//!
//! ```text
//! answer = AES-CMAC(card key, "keyway/card-answer/v1\0" ‖ challenge ‖ UID)
//! ```
//!
//! The door derives the card key itself from the property card key it was provisioned with
//! and compares the answer in constant time. The card key is bound to the UID, so a card key
//! copied to a card with another UID answers wrongly, and an answer recorded once is worth
//! nothing for the next, fresh challenge.
//!
//! What this does not stop: a lock's property card key mints every card of the property, so a
//! stolen lock whose storage is read out can make cards (real deployments keep the key in a
//! secure element or SAM the lock cannot export it from); a live relay between a genuine card
//! and a distant reader (DESFire EV3's proximity check is the remedy); and UID-only cards,
//! which a door still admits by their UID alone and records as such.

use super::label;
use aes::Aes128;
use cmac::{Cmac, Mac};
use core::fmt;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a property card key and of a card key (AES-128).
pub const CARD_KEY_LEN: usize = 16;
/// Length of the door's challenge to a secure card.
pub const CARD_CHALLENGE_LEN: usize = 16;
/// Length of a secure card's answer (a full AES-CMAC tag).
pub const CARD_ANSWER_LEN: usize = 16;
/// Shortest card UID a reader accepts (a 4-byte NUID; DESFire cards have 7 bytes).
pub const MIN_UID_LEN: usize = 4;
/// Longest card UID or application id a reader accepts.
pub const MAX_UID_LEN: usize = 16;
/// The application id of Keyway's card application (AN10922's AID), 3 bytes as on a DESFire card.
pub const CARD_AID: [u8; 3] = [0x4B, 0x57, 0x01];
/// AN10922's system identifier of Keyway's cards: with [`CARD_AID`] it keeps the
/// diversification input within 19..=31 bytes for every UID of 4 to 16 bytes.
pub const CARD_SYSTEM_IDENTIFIER: &[u8; 11] = b"keyway-card";

/// How a door knows an enrolled keycard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CardKind {
    /// The UID alone admits the card: weaker, because a copy of the UID (a blank card written
    /// with it) opens too. For cards that cannot hold a key (legacy cards).
    UidOnly,
    /// The card must answer the door's AES-128 challenge under its own diversified key.
    Secure,
}

/// The property's card key: what every secure card's own key is diversified from. Provisioned
/// with each door that reads secure cards and kept by the backend (sealed); it never travels in
/// a door update and never goes onto a card. Zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PropertyCardKey([u8; CARD_KEY_LEN]);

impl PropertyCardKey {
    /// Wraps 16 secret bytes.
    pub fn new(bytes: [u8; CARD_KEY_LEN]) -> Self {
        PropertyCardKey(bytes)
    }

    /// A fresh key from the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn generate() -> Self {
        let mut b = [0u8; CARD_KEY_LEN];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        PropertyCardKey(b)
    }

    /// The raw key, for provisioning and secure storage only.
    pub fn as_bytes(&self) -> &[u8; CARD_KEY_LEN] {
        &self.0
    }

    /// The key of the card with `uid` (AN10922 AES-128 diversification, see the module docs);
    /// `None` for a UID outside [`MIN_UID_LEN`]..=[`MAX_UID_LEN`] bytes.
    pub fn card_key(&self, uid: &[u8]) -> Option<CardKey> {
        if !(MIN_UID_LEN..=MAX_UID_LEN).contains(&uid.len()) {
            return None;
        }
        let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(&self.0).ok()?;
        mac.update(&[0x01]);
        mac.update(uid);
        mac.update(&CARD_AID);
        mac.update(CARD_SYSTEM_IDENTIFIER);
        Some(CardKey(mac.finalize().into_bytes().into()))
    }
}

impl fmt::Debug for PropertyCardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PropertyCardKey(…)")
    }
}

/// One secure card's own AES-128 key, bound to its UID ([`PropertyCardKey::card_key`]): what
/// is encoded onto the card. Zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardKey([u8; CARD_KEY_LEN]);

impl CardKey {
    /// Wraps the 16 bytes of a card's key (as read from a card file).
    pub fn new(bytes: [u8; CARD_KEY_LEN]) -> Self {
        CardKey(bytes)
    }

    /// The raw key, for encoding onto the card only.
    pub fn as_bytes(&self) -> &[u8; CARD_KEY_LEN] {
        &self.0
    }

    fn answer_mac(&self, challenge: &[u8; CARD_CHALLENGE_LEN], uid: &[u8]) -> Option<Cmac<Aes128>> {
        let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(&self.0).ok()?;
        mac.update(label::CARD_ANSWER);
        mac.update(challenge);
        mac.update(uid);
        Some(mac)
    }

    /// What the card answers to the door's `challenge` (the card's side of the exchange).
    pub fn answer(&self, challenge: &[u8; CARD_CHALLENGE_LEN], uid: &[u8]) -> [u8; CARD_ANSWER_LEN] {
        self.answer_mac(challenge, uid).map(|m| m.finalize().into_bytes().into()).unwrap_or_default()
    }

    /// Whether `answer` is this card's answer to `challenge`, compared in constant time; an
    /// answer of any other length than [`CARD_ANSWER_LEN`] is wrong.
    pub fn verify(&self, challenge: &[u8; CARD_CHALLENGE_LEN], uid: &[u8], answer: &[u8]) -> bool {
        self.answer_mac(challenge, uid).is_some_and(|m| m.verify_slice(answer).is_ok())
    }
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// AN10922's AES-128 example (master key 00112233…EEFF, UID 04782E21801D80, AID 3042F5,
    /// system identifier "NXP Abu"): the diversification is AES-CMAC over `0x01 ‖ M`.
    #[test]
    fn the_diversification_matches_an10922s_example() {
        let master = <[u8; 16]>::try_from(hex("00112233445566778899AABBCCDDEEFF")).unwrap();
        let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(&master).unwrap();
        mac.update(&hex("01"));
        mac.update(&hex("04782E21801D80"));
        mac.update(&hex("3042F5"));
        mac.update(b"NXP Abu");
        assert_eq!(mac.finalize().into_bytes().as_slice(), hex("A8DD63A3B89D54B37CA802473FDA9175"));
    }

    #[test]
    fn the_diversification_input_stays_within_two_blocks_padded() {
        for uid_len in MIN_UID_LEN..=MAX_UID_LEN {
            let len = 1 + uid_len + CARD_AID.len() + CARD_SYSTEM_IDENTIFIER.len();
            assert!((17..32).contains(&len), "{uid_len}-byte UID: {len} bytes");
        }
    }

    #[test]
    fn card_keys_are_bound_to_the_uid_and_answers_to_the_challenge() {
        let property = PropertyCardKey::new([9; 16]);
        let uid = [0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6];
        let key = property.card_key(&uid).unwrap();
        assert_ne!(key.as_bytes(), property.as_bytes(), "the card never holds the property key");
        assert_ne!(key, property.card_key(&[0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF7]).unwrap());
        assert_ne!(key, PropertyCardKey::new([8; 16]).card_key(&uid).unwrap());
        let challenge = [7; 16];
        let answer = key.answer(&challenge, &uid);
        assert!(key.verify(&challenge, &uid, &answer));
        assert!(!key.verify(&[6; 16], &uid, &answer), "another challenge");
        assert!(!key.verify(&challenge, &[0x04, 0xA1, 0xB2, 0xC3], &answer), "another UID");
        assert!(!key.verify(&challenge, &uid, &answer[..15]), "a short answer");
        assert!(!key.verify(&challenge, &uid, &[]), "no answer");
        assert!(property.card_key(&[1, 2, 3]).is_none());
        assert!(property.card_key(&[1; 17]).is_none());
        assert_eq!(format!("{key:?} {property:?}"), "CardKey(…) PropertyCardKey(…)");
    }
}
