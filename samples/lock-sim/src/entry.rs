//! Keypad and card entries, and how their decisions are printed.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DoorId};
use keyway_protocol::door::Entry;
use keyway_protocol::unlock::Access;
use serde::{Deserialize, Serialize};

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
}

impl EntryReport {
    pub fn new(door_id: DoorId, input: &str, entry: &Entry) -> Self {
        let (slot, person_id) = match &entry.record.event {
            ActivityEvent::DoorcodeEntry { slot, person } => (Some(*slot), Some(person.0)),
            ActivityEvent::KeycardEntry { person, .. } => (None, Some(person.0)),
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
        }
    }

    /// One line for a person at the door.
    pub fn line(&self) -> String {
        match (&self.denial, self.slot, self.person_id) {
            (None, Some(slot), Some(p)) => {
                format!("{}: {} accepted (slot {slot}, person {p}) — unlocked", self.door_id, self.input)
            }
            (None, _, Some(p)) => format!("{}: {} accepted (person {p}) — unlocked", self.door_id, self.input),
            (None, _, None) => format!("{}: {} accepted — unlocked", self.door_id, self.input),
            (Some(r), _, _) => format!("{}: {} refused: {r}", self.door_id, self.input),
        }
    }
}
