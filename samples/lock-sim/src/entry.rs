//! Keypad and card entries, and how their decisions are printed.

use keyway_api::CardFile;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DoorId};
use keyway_protocol::door::{CardStep, DoorEngine, Entry};
use keyway_protocol::unlock::Access;
use serde::{Deserialize, Serialize};

/// How the reader checked a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardCheck {
    /// Decided by its UID alone: a UID-only card (or an unknown or unreadable one, or a locked
    /// reader), no challenge.
    Uid,
    /// Enrolled as secure: the door challenged it and the card answered under its key.
    Answered,
    /// Enrolled as secure: the door challenged it and the card had no key to answer with (a
    /// blank card written with a copied UID).
    NoAnswer,
}

/// Holds `card` to the door's reader and runs the exchange to the door's decision: a secure
/// card's fresh challenge (from the operating system's RNG) is answered with the card file's
/// key, if it has one. A UID that is not hex is an error; one of the wrong length is the door's
/// to refuse (and count).
pub fn hold_card(door: &mut DoorEngine, card: &CardFile, now: UnixTime) -> Result<(Entry, CardCheck), String> {
    let uid = hex::decode(card.uid.trim()).map_err(|_| format!("card id {:?} is not hex", card.uid))?;
    let mut challenge = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut challenge);
    Ok(match door.present_keycard(&uid, challenge, now) {
        CardStep::Decided(entry) => (entry, CardCheck::Uid),
        CardStep::Challenge(c) => {
            let answer = card.key.as_ref().map(|key| key.answer(c.bytes(), &uid));
            let check = if answer.is_some() { CardCheck::Answered } else { CardCheck::NoAnswer };
            (door.answer_card_challenge(c, answer.as_ref().map(|a| a.as_slice()), now), check)
        }
    })
}

/// One keypad or card decision, as `lock-sim keypad|card --json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryReport {
    pub door_id: DoorId,
    /// "doorcode" or "keycard".
    pub input: String,
    pub granted: bool,
    /// The door's reason when it refused (e.g. `UnknownCredential`, `RateLimited`).
    pub denial: Option<String>,
    /// The doorcode slot or the card's holder, when granted.
    pub slot: Option<u32>,
    pub person_id: Option<u64>,
    /// The door's activity seq of this entry and the door's clock.
    pub activity_seq: u64,
    pub door_time: UnixTime,
    /// For a card: how the reader checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_check: Option<CardCheck>,
}

impl EntryReport {
    pub fn new(door_id: DoorId, input: &str, entry: &Entry) -> Self {
        let (slot, person_id) = match &entry.record.event {
            ActivityEvent::DoorcodeEntry { slot, person } => (Some(*slot), Some(person.0)),
            ActivityEvent::KeycardEntry { person, .. } | ActivityEvent::SecureKeycardEntry { person, .. } => {
                (None, Some(person.0))
            }
            _ => (None, None),
        };
        EntryReport {
            door_id,
            input: input.to_string(),
            granted: entry.access.is_granted(),
            denial: match entry.access {
                Access::Granted => None,
                Access::Denied(r) => Some(format!("{r:?}")),
            },
            slot,
            person_id,
            activity_seq: entry.record.seq,
            door_time: entry.record.time,
            card_check: None,
        }
    }

    /// The report of a card held to the reader, checked as `check`.
    pub fn card(door_id: DoorId, entry: &Entry, check: CardCheck) -> Self {
        EntryReport { card_check: Some(check), ..EntryReport::new(door_id, "keycard", entry) }
    }

    /// One line for a person at the door.
    pub fn line(&self) -> String {
        let how = match (self.card_check, self.granted) {
            (Some(CardCheck::Uid), true) => ", UID only: weaker",
            (Some(CardCheck::Answered), _) => ", challenge answered",
            (Some(CardCheck::NoAnswer), _) => ", challenge not answered: the card holds no key",
            _ => "",
        };
        match (&self.denial, self.slot, self.person_id) {
            (None, Some(slot), Some(p)) => {
                format!("{}: {} accepted (slot {slot}, person {p}) — unlocked", self.door_id, self.input)
            }
            (None, _, Some(p)) => format!("{}: {} accepted (person {p}{how}) — unlocked", self.door_id, self.input),
            (None, _, None) => format!("{}: {} accepted — unlocked", self.door_id, self.input),
            (Some(r), _, _) => format!("{}: {} refused: {r}{how}", self.door_id, self.input),
        }
    }
}
