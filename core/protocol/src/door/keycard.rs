//! Keycards at the reader: UID-only cards, decided at once, and secure cards, which must answer
//! the door's AES-128 challenge (see [`crate::credential::card`]).
//!
//! ```text
//! present_keycard(uid, challenge, now) ─┬─ CardStep::Decided(Entry)       UID-only, unknown, unreadable, locked reader
//!                                       └─ CardStep::Challenge(c)         a secure card: send c.bytes() to the card
//! answer_card_challenge(c, answer, now) ── Entry                          its answer (None: it gave none) decides
//! ```
//!
//! The door knows cards only by their keyed tag ([`DoorcodeSecret::card_tag`]); the tag, never
//! the UID, is what updates name and the activity log records. Every attempt is logged, and
//! every failed one counts towards the card reader's own guessing limit (see
//! [`super::keypad`]): an unreadable or unknown card, a card not valid now, and a secure card
//! whose answer is missing, wrong, late (after [`CARD_ANSWER_SECS`]) or for another challenge
//! than the one pending. A secure card that is challenged and never answered (the reader
//! presents another card instead) counts as a missing answer.

use super::engine::{DoorEngine, Entry};
use crate::UnixTime;
use crate::credential::card::{CARD_CHALLENGE_LEN, MAX_UID_LEN, MIN_UID_LEN};
use crate::credential::{ActivityEvent, CardId, CardKind, DenialReason, DoorcodeSecret};
use crate::prelude::*;
use crate::unlock::message::Access;

/// How long after its challenge a secure card's answer is taken, in seconds of the door's
/// clock (a card answers within milliseconds; the margin covers the reader and a clock tick).
pub const CARD_ANSWER_SECS: u64 = 3;

/// What the reader does next with a card held to it. A challenge left unhandled is counted as
/// a failed attempt when the next card is presented.
#[must_use = "a secure card's challenge goes to the card, and its answer to `answer_card_challenge`"]
#[derive(Debug, PartialEq, Eq)]
pub enum CardStep {
    /// The door decided (a UID-only card, an unknown or unreadable card, or a locked reader):
    /// actuate if granted.
    Decided(Entry),
    /// The card is enrolled as secure: send [`CardChallenge::bytes`] to it and pass its answer
    /// to [`DoorEngine::answer_card_challenge`].
    Challenge(CardChallenge),
}

/// The door's challenge to the secure card at its reader, bound to that one presentation: it
/// cannot be copied, and it is consumed by [`DoorEngine::answer_card_challenge`].
#[must_use = "pass the card's answer (or `None`) to `answer_card_challenge`"]
#[derive(Debug, PartialEq, Eq)]
pub struct CardChallenge {
    bytes: [u8; CARD_CHALLENGE_LEN],
}

impl CardChallenge {
    /// The bytes to send to the card.
    pub fn bytes(&self) -> &[u8; CARD_CHALLENGE_LEN] {
        &self.bytes
    }
}

/// What the door remembers of the challenge it sent, until the card answers.
#[derive(Clone, Debug)]
pub(crate) struct PendingCard {
    challenge: [u8; CARD_CHALLENGE_LEN],
    uid: Vec<u8>,
    tag: CardId,
    issued_at: UnixTime,
}

impl DoorEngine {
    /// Whether this door was provisioned with the property's card key, so that it can enrol
    /// and check secure keycards.
    pub fn reads_secure_cards(&self) -> bool {
        self.state.card_key.is_some()
    }

    /// A card held to the reader: `uid` is its UID or application id bytes (4 to 16), and
    /// `challenge` fresh randomness of the caller's, sent to the card if it is enrolled as
    /// secure. A UID-only card is decided at once (and logged as a UID-only entry); a secure
    /// card gets [`CardStep::Challenge`] and is decided by [`DoorEngine::answer_card_challenge`].
    pub fn present_keycard(&mut self, uid: &[u8], challenge: [u8; CARD_CHALLENGE_LEN], now: UnixTime) -> CardStep {
        let clock = self.observe_time(now);
        if let Some(abandoned) = self.card_challenge.take() {
            // The card that was challenged before never answered.
            self.state.card_reader.record_failure(clock);
            self.entry_denied_card(abandoned.tag, DenialReason::BadProof);
        }
        let readable = (MIN_UID_LEN..=MAX_UID_LEN).contains(&uid.len());
        let tag =
            if readable { DoorcodeSecret::new(self.state.doorcode_secret.0).card_tag(uid) } else { CardId::default() };
        if self.state.card_reader.is_limited(clock) {
            return CardStep::Decided(self.entry_denied_card(tag, DenialReason::RateLimited));
        }
        if !readable {
            return CardStep::Decided(self.card_failure(tag, DenialReason::Malformed));
        }
        let Some(keycard) = self.keycard(&tag).cloned() else {
            return CardStep::Decided(self.card_failure(tag, DenialReason::UnknownCredential));
        };
        match keycard.kind {
            CardKind::UidOnly => {
                if let Some(reason) = self.credential_denial(keycard.person, &keycard.validity, clock) {
                    return CardStep::Decided(self.card_failure(tag, reason));
                }
                let record = self.log(ActivityEvent::KeycardEntry { card: tag, person: keycard.person });
                CardStep::Decided(Entry { access: Access::Granted, record })
            }
            CardKind::Secure => {
                self.card_challenge = Some(PendingCard { challenge, uid: uid.to_vec(), tag, issued_at: clock });
                CardStep::Challenge(CardChallenge { bytes: challenge })
            }
        }
    }

    /// Decides a secure card by its `answer` to `challenge` (`None`: the card gave none, e.g.
    /// a blank card written with a copied UID, or it left the field). The answer must be the
    /// card's AES-CMAC over this challenge and its UID under its own key, derived from the
    /// door's card key (compared in constant time), arrive within [`CARD_ANSWER_SECS`], and
    /// answer the challenge pending now; then the card's holder and window are checked as for
    /// any card. Every refusal counts towards the reader's guessing limit.
    pub fn answer_card_challenge(&mut self, challenge: CardChallenge, answer: Option<&[u8]>, now: UnixTime) -> Entry {
        let clock = self.observe_time(now);
        let Some(pending) = self.card_challenge.take() else {
            return self.card_failure(CardId::default(), DenialReason::StaleChallenge);
        };
        if pending.challenge != challenge.bytes || clock >= pending.issued_at.saturating_add_secs(CARD_ANSWER_SECS) {
            return self.card_failure(pending.tag, DenialReason::StaleChallenge);
        }
        let card_key = self.state.card_key.as_ref().and_then(|k| k.card_key(&pending.uid));
        let answered = matches!((&card_key, answer), (Some(key), Some(answer)) if key.verify(&pending.challenge, &pending.uid, answer));
        if !answered {
            return self.card_failure(pending.tag, DenialReason::BadProof);
        }
        // Updates may have been applied since the challenge: the enrolment decides as it is now.
        let keycard = match self.keycard(&pending.tag) {
            Some(k) if k.kind == CardKind::Secure => k.clone(),
            _ => return self.card_failure(pending.tag, DenialReason::UnknownCredential),
        };
        if let Some(reason) = self.credential_denial(keycard.person, &keycard.validity, clock) {
            return self.card_failure(pending.tag, reason);
        }
        let record = self.log(ActivityEvent::SecureKeycardEntry { card: pending.tag, person: keycard.person });
        Entry { access: Access::Granted, record }
    }

    fn keycard(&self, tag: &CardId) -> Option<&super::state::Keycard> {
        let found = self.state.keycards.binary_search_by(|k| k.card.as_slice().cmp(tag.as_slice())).ok();
        found.and_then(|i| self.state.keycards.get(i))
    }

    /// A failed attempt: counted by the reader's limiter and logged.
    fn card_failure(&mut self, card: CardId, reason: DenialReason) -> Entry {
        self.state.card_reader.record_failure(self.state.clock);
        self.entry_denied_card(card, reason)
    }

    fn entry_denied_card(&mut self, card: CardId, reason: DenialReason) -> Entry {
        let record = self.log(ActivityEvent::KeycardDenied { card, reason });
        Entry { access: Access::Denied(reason), record }
    }
}
