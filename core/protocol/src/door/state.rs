//! Everything a door remembers, as one serde value so a lock (or the lock simulator) can persist
//! it and restart without forgetting its update seq, revocations or activity.

use crate::prelude::*;

use super::activity::ActivityLog;
use super::keypad::AttemptLimiter;
use super::limits::DoorLimits;
use super::revocations::{RevocationSet, RevocationSetV2};
use crate::UnixTime;
use crate::codec::{self, DecodeError};
use crate::credential::{CardId, CardKind, DoorId, PersonId, PropertyCardKey, TrustAnchors, Validity};
use alloc::collections::BTreeMap;
use core::fmt;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Format version of the persisted [`DoorState`]: its first byte. Version 1 states (one
/// limiter shared by keypad and card reader) and version 2 states (no clock correction, no
/// card key, keycards without a kind: they upgrade as UID-only) are upgraded on load; any
/// other version is refused as `UnsupportedVersion` before anything else is parsed.
pub const DOOR_STATE_VERSION: u8 = 5;
/// Upper bound on persisted state (full revocation set, tables and activity log fit well below).
pub const MAX_STATE_LEN: usize = 4 * 1024 * 1024;

/// 32 secret bytes (door signing key seed, doorcode secret); zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Secret32(pub(crate) [u8; 32]);

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(…)")
    }
}

/// One daily-doorcode slot, stored under its slot number in [`DoorState::doorcodes`]; the code
/// itself is never stored, it is derived from the door's secret, the slot and the local day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorcodeSlot {
    /// The person the slot's codes admit (logged with each entry, refused once revoked).
    pub person: PersonId,
    /// When the slot's codes open the door (`start <= clock < expiry`, door clock).
    pub validity: Validity,
}

/// An enrolled keycard, added and removed only by authority-signed door updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keycard {
    /// The card's keyed tag at this door ([`crate::credential::DoorcodeSecret::card_tag`] of
    /// the id the reader sees); unique within the door.
    pub card: CardId,
    /// The person the card admits (logged with each entry, refused once revoked).
    pub person: PersonId,
    /// When the card opens the door (`start <= clock < expiry`, door clock).
    pub validity: Validity,
    /// Whether the UID alone admits the card, or it must answer the door's challenge.
    pub kind: CardKind,
}

/// A keycard as saved by door state versions 1 and 2, before cards had a kind: every one of
/// them was admitted by its UID alone, so it upgrades as [`CardKind::UidOnly`].
#[derive(Serialize, Deserialize)]
struct KeycardV2 {
    card: CardId,
    person: PersonId,
    validity: Validity,
}

impl KeycardV2 {
    fn upgrade(self) -> Keycard {
        Keycard { card: self.card, person: self.person, validity: self.validity, kind: CardKind::UidOnly }
    }
}

/// Everything a door keeps between sessions; the lock persists it (see [`DoorState::to_bytes`])
/// after every session, entry or update, and restores it with [`DoorState::from_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorState {
    /// Format version of this state, always [`DOOR_STATE_VERSION`].
    pub version: u8,
    /// The door's id, as named in key certificates' door sets and in update batches.
    pub door_id: DoorId,
    /// The authority keys whose key certificates and update batches this door accepts.
    pub anchors: TrustAnchors,
    pub(crate) door_key: Secret32,
    pub(crate) doorcode_secret: Secret32,
    /// The property card key secure keycards' keys are diversified from (see
    /// [`crate::credential::card`]); `None` for a door provisioned without one (it reads
    /// UID-only cards alone, and refuses to enrol a secure card).
    pub(crate) card_key: Option<PropertyCardKey>,
    /// Minutes east of UTC of the door's property, which decides the local day of a doorcode
    /// (set at install, changed by `SetUtcOffset` updates, at most ±14 h).
    pub utc_offset_minutes: i16,
    /// Seq of the last door update consumed (applied or rejected); 0 before the first. Only the
    /// update with seq `update_seq + 1` can be applied next.
    pub update_seq: u64,
    /// The door's clock: the largest of the install time, every corrected RTC reading and every
    /// signed time it moved forward to. Only a time statement bound to the door's own fresh
    /// nonce moves it backwards ([`DoorEngine::handle_time`](super::DoorEngine::handle_time)).
    pub clock: UnixTime,
    /// Seconds added to every RTC reading passed in as `now` (negative for an RTC that runs
    /// ahead): set by signed time, so a lagging or jumping RTC is corrected once, not frozen.
    pub clock_correction: i64,
    /// Keys and persons revoked before their expiry, each kept until its `until` passes.
    pub revocations: RevocationSet,
    /// Doorcode slots by slot number (at most [`DoorLimits::doorcode_slots`]).
    pub doorcodes: BTreeMap<u32, DoorcodeSlot>,
    /// Enrolled keycards, sorted by card id, unique (at most [`DoorLimits::keycards`]).
    pub keycards: Vec<Keycard>,
    /// The ring of the door's newest activity records, with its own gap-free seq.
    pub activity: ActivityLog,
    /// Wrong codes typed on the keypad (its own guessing limit).
    pub keypad: AttemptLimiter,
    /// Unknown or unreadable cards at the reader (its own guessing limit).
    pub card_reader: AttemptLimiter,
    /// Challenges issued so far: mixed into each challenge nonce, so a repeat needs more than a
    /// repeating RNG (see [`DoorEngine::challenge`](super::DoorEngine::challenge)).
    pub challenges: u64,
    /// The newest activity seq a receipt has carried: records up to it are final (a repeated
    /// denial folds only into a record no receipt carried yet).
    pub activity_sealed: u64,
    /// Records dropped from the activity ring since the last receipt; the next receipt carries
    /// a signed `RecordsDropped` marker with the count.
    pub activity_dropped: u64,
}

/// The saved state's layout in version 1: as [`DoorState`], with one limiter (the times of
/// the recent wrong entries) shared by the keypad and the card reader.
#[derive(Serialize, Deserialize)]
struct DoorStateV1 {
    version: u8,
    door_id: DoorId,
    anchors: TrustAnchors,
    door_key: Secret32,
    doorcode_secret: Secret32,
    utc_offset_minutes: i16,
    update_seq: u64,
    clock: UnixTime,
    revocations: RevocationSetV2,
    doorcodes: BTreeMap<u32, DoorcodeSlot>,
    keycards: Vec<KeycardV2>,
    activity: ActivityLog,
    keypad_failures: alloc::collections::VecDeque<UnixTime>,
}

impl DoorStateV1 {
    fn upgrade(mut self) -> DoorState {
        let limiter = AttemptLimiter::from_v1(self.keypad_failures.make_contiguous());
        DoorStateV2 {
            version: 2,
            door_id: self.door_id,
            anchors: self.anchors,
            door_key: self.door_key,
            doorcode_secret: self.doorcode_secret,
            utc_offset_minutes: self.utc_offset_minutes,
            update_seq: self.update_seq,
            clock: self.clock,
            revocations: self.revocations,
            doorcodes: self.doorcodes,
            keycards: self.keycards,
            activity: self.activity,
            // The shared limiter's count carries over to both sources: neither gets fresh tries.
            keypad: limiter.clone(),
            card_reader: limiter,
        }
        .upgrade()
    }
}

/// The saved state's layout in version 2: as [`DoorState`], without the clock correction, the
/// card key and the keycards' kind.
#[derive(Serialize, Deserialize)]
struct DoorStateV2 {
    version: u8,
    door_id: DoorId,
    anchors: TrustAnchors,
    door_key: Secret32,
    doorcode_secret: Secret32,
    utc_offset_minutes: i16,
    update_seq: u64,
    clock: UnixTime,
    revocations: RevocationSetV2,
    doorcodes: BTreeMap<u32, DoorcodeSlot>,
    keycards: Vec<KeycardV2>,
    activity: ActivityLog,
    keypad: AttemptLimiter,
    card_reader: AttemptLimiter,
}

impl DoorStateV2 {
    fn upgrade(self) -> DoorState {
        DoorState {
            version: DOOR_STATE_VERSION,
            door_id: self.door_id,
            anchors: self.anchors,
            door_key: self.door_key,
            doorcode_secret: self.doorcode_secret,
            // Provisioned before secure cards: the door reads UID-only cards, as before.
            card_key: None,
            utc_offset_minutes: self.utc_offset_minutes,
            update_seq: self.update_seq,
            clock: self.clock,
            clock_correction: 0,
            revocations: self.revocations.into(),
            doorcodes: self.doorcodes,
            keycards: self.keycards.into_iter().map(KeycardV2::upgrade).collect(),
            activity: self.activity,
            keypad: self.keypad,
            card_reader: self.card_reader,
            challenges: 0,
            activity_sealed: 0,
            activity_dropped: 0,
        }
    }
}

/// Why a door state was refused: on decoding, or against the limits of the door running it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DoorStateError {
    /// The bytes are not a state this version can read: unknown format version, longer than
    /// [`MAX_STATE_LEN`], malformed, or not the canonical encoding.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The state decoded but breaks an invariant the engine relies on, or holds more than the
    /// door's [`DoorLimits`] allow; names the part that failed (e.g. `"keycards"`).
    #[error("door state is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl DoorState {
    /// The canonical encoding to persist. It includes the door key seed and the doorcode
    /// secret, so it must be stored where only the lock can read it.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a persisted state and checks its structural invariants (not the capacities, which
    /// [`DoorEngine::from_state`](super::DoorEngine::from_state) checks against the door's limits).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DoorStateError> {
        let state: DoorState = match bytes.first() {
            Some(1) => {
                let v1: DoorStateV1 = codec::decode_versioned("door state", bytes, MAX_STATE_LEN, 1)?;
                if v1.version != 1 {
                    return Err(DoorStateError::Inconsistent("unknown version"));
                }
                v1.upgrade()
            }
            Some(2) => {
                let v2: DoorStateV2 = codec::decode_versioned("door state", bytes, MAX_STATE_LEN, 2)?;
                if v2.version != 2 {
                    return Err(DoorStateError::Inconsistent("unknown version"));
                }
                v2.upgrade()
            }
            // Version 3 is the current layout without its last three fields (the challenge
            // counter, the sealed and dropped activity counts), version 4 without the last two:
            // the same bytes with zeros (one varint byte each) appended are a version-5 state.
            Some(version @ (3 | 4)) => {
                let mut v5 = bytes.to_vec();
                v5[0] = DOOR_STATE_VERSION;
                v5.extend_from_slice(if *version == 3 { &[0, 0, 0] } else { &[0, 0] });
                codec::decode_versioned("door state", &v5, MAX_STATE_LEN, DOOR_STATE_VERSION)?
            }
            _ => codec::decode_versioned("door state", bytes, MAX_STATE_LEN, DOOR_STATE_VERSION)?,
        };
        state.check(&DoorLimits::UNBOUNDED)?;
        Ok(state)
    }

    /// Checks the invariants the engine relies on (version, consistent activity log and keypad
    /// limiter, sorted unique keycards, a card key if any card is secure) and that no table holds more than `limits` allow.
    pub fn check(&self, limits: &DoorLimits) -> Result<(), DoorStateError> {
        if self.version != DOOR_STATE_VERSION {
            return Err(DoorStateError::Inconsistent("unknown version"));
        }
        if !self.activity.is_consistent(limits.activity) {
            return Err(DoorStateError::Inconsistent("activity log"));
        }
        if !self.keypad.is_consistent() || !self.card_reader.is_consistent() {
            return Err(DoorStateError::Inconsistent("keypad limiter"));
        }
        if self.keycards.windows(2).any(|w| w[0].card >= w[1].card) || self.keycards.len() > limits.keycards {
            return Err(DoorStateError::Inconsistent("keycards"));
        }
        // A secure card could never be verified by a door without the card key.
        if self.card_key.is_none() && self.keycards.iter().any(|k| k.kind == CardKind::Secure) {
            return Err(DoorStateError::Inconsistent("secure keycards without a card key"));
        }
        if self.doorcodes.len() > limits.doorcode_slots {
            return Err(DoorStateError::Inconsistent("doorcode slots"));
        }
        if self.revocations.len() > limits.revocations {
            return Err(DoorStateError::Inconsistent("revocations"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{DoorcodeSecret, KeyPair};
    use crate::door::{DoorEngine, DoorProvisioning};

    /// A door saved by version 1 (five wrong entries just now, so locked) loads as the current
    /// version with everything else intact and both sources still locked: an upgrade hands out no
    /// fresh guesses.
    #[test]
    fn a_version_1_state_is_upgraded_with_its_data() {
        let now = UnixTime(1_796_000_000);
        let door = DoorEngine::new(DoorProvisioning {
            door_id: DoorId(7),
            door_key: KeyPair::from_secret(&[3; 32]),
            anchors: TrustAnchors::new([KeyPair::from_secret(&[4; 32]).public()]),
            doorcode_secret: DoorcodeSecret::new([5; 32]),
            card_key: None,
            utc_offset_minutes: 60,
            clock: now,
        });
        let s = door.state().clone();
        let v1 = DoorStateV1 {
            version: 1,
            door_id: s.door_id,
            anchors: s.anchors.clone(),
            door_key: s.door_key.clone(),
            doorcode_secret: s.doorcode_secret.clone(),
            utc_offset_minutes: s.utc_offset_minutes,
            update_seq: 12,
            clock: now,
            revocations: Default::default(),
            doorcodes: s.doorcodes.clone(),
            keycards: vec![old_card(3)],
            activity: s.activity.clone(),
            keypad_failures: (0..5).map(|i| now.saturating_sub_secs(10 - i)).collect(),
        };
        let up = DoorState::from_bytes(&codec::encode(&v1)).unwrap();
        assert_eq!(up.version, DOOR_STATE_VERSION);
        assert_eq!((up.door_id, up.update_seq, up.utc_offset_minutes), (DoorId(7), 12, 60));
        assert_eq!(up.door_key, s.door_key);
        assert_eq!(up.doorcode_secret, s.doorcode_secret);
        assert!(up.keypad.is_limited(now) && up.card_reader.is_limited(now));
        assert_eq!(up.keypad.failures(), 5);
        assert_eq!(up.clock_correction, 0);
        assert_eq!(up.keycards, [uid_only(3)]);
        assert!(up.card_key.is_none());
        // Saved again, it is a current state that reads back equal.
        assert_eq!(DoorState::from_bytes(&up.to_bytes()).unwrap(), up);
        // An unknown version is refused.
        let mut bad = up.to_bytes();
        bad[0] = DOOR_STATE_VERSION + 1;
        assert!(DoorState::from_bytes(&bad).is_err());
    }

    fn window() -> Validity {
        Validity::new(UnixTime(1_000), UnixTime(2_000_000_000)).unwrap()
    }

    fn old_card(n: u8) -> KeycardV2 {
        KeycardV2 { card: CardId::new(vec![n; 16]).unwrap(), person: PersonId(n.into()), validity: window() }
    }

    fn uid_only(n: u8) -> Keycard {
        Keycard {
            card: CardId::new(vec![n; 16]).unwrap(),
            person: PersonId(n.into()),
            validity: window(),
            kind: CardKind::UidOnly,
        }
    }

    /// A door saved by version 2 loads with every keycard it held, each UID-only (as every card
    /// was then), no card key (so it enrols no secure card until provisioned with one), and
    /// everything else intact.
    #[test]
    fn a_version_2_state_is_upgraded_with_its_keycards_as_uid_only() {
        let now = UnixTime(1_796_000_000);
        let door = DoorEngine::new(DoorProvisioning {
            door_id: DoorId(9),
            door_key: KeyPair::from_secret(&[3; 32]),
            anchors: TrustAnchors::new([KeyPair::from_secret(&[4; 32]).public()]),
            doorcode_secret: DoorcodeSecret::new([5; 32]),
            card_key: Some(PropertyCardKey::new([6; 16])),
            utc_offset_minutes: -300,
            clock: now,
        });
        let s = door.state().clone();
        let mut card_reader = AttemptLimiter::default();
        card_reader.record_failure(now);
        let v2 = DoorStateV2 {
            version: 2,
            door_id: s.door_id,
            anchors: s.anchors.clone(),
            door_key: s.door_key.clone(),
            doorcode_secret: s.doorcode_secret.clone(),
            utc_offset_minutes: s.utc_offset_minutes,
            update_seq: 40,
            clock: now,
            revocations: Default::default(),
            doorcodes: s.doorcodes.clone(),
            keycards: vec![old_card(1), old_card(2)],
            activity: s.activity.clone(),
            keypad: AttemptLimiter::default(),
            card_reader: card_reader.clone(),
        };
        let up = DoorState::from_bytes(&codec::encode(&v2)).unwrap();
        assert_eq!(up.version, DOOR_STATE_VERSION);
        assert_eq!((up.door_id, up.update_seq, up.utc_offset_minutes, up.clock), (DoorId(9), 40, -300, now));
        assert_eq!((&up.door_key, &up.doorcode_secret), (&s.door_key, &s.doorcode_secret));
        assert_eq!(up.keycards, [uid_only(1), uid_only(2)]);
        assert!(up.card_key.is_none());
        assert_eq!(up.card_reader, card_reader);
        assert_eq!(DoorState::from_bytes(&up.to_bytes()).unwrap(), up);
        // The current version keeps the card key and the kinds.
        let mut current = up.clone();
        current.card_key = s.card_key.clone();
        current.keycards[1].kind = CardKind::Secure;
        assert_eq!(DoorState::from_bytes(&current.to_bytes()).unwrap(), current);
        // A secure card without a card key is refused, never admitted by its UID.
        current.card_key = None;
        assert_eq!(
            DoorState::from_bytes(&current.to_bytes()),
            Err(DoorStateError::Inconsistent("secure keycards without a card key"))
        );
    }

    /// A version-3 state (saved before the challenge counter) reads as the same state with the
    /// counter at 0; the counter then survives a save.
    #[test]
    fn a_version_3_state_is_upgraded_with_its_challenge_counter_at_zero() {
        let now = UnixTime(1_796_000_000);
        let mut door = DoorEngine::new(DoorProvisioning {
            door_id: DoorId(9),
            door_key: KeyPair::from_secret(&[3; 32]),
            anchors: TrustAnchors::new([KeyPair::from_secret(&[4; 32]).public()]),
            doorcode_secret: DoorcodeSecret::new([5; 32]),
            card_key: Some(PropertyCardKey::new([6; 16])),
            utc_offset_minutes: -300,
            clock: now,
        });
        door.challenge(now, [1; 16]);
        door.challenge(now, [1; 16]);
        let current = door.state().clone();
        // One offer and two challenges.
        assert_eq!(current.challenges, 3);
        assert_eq!(DoorState::from_bytes(&current.to_bytes()).unwrap(), current);
        // Version 3's bytes: the same layout without the trailing counters.
        let mut v3 = DoorState { challenges: 0, ..current.clone() }.to_bytes();
        assert_eq!(v3.split_off(v3.len() - 3), [0, 0, 0]);
        v3[0] = 3;
        let up = DoorState::from_bytes(&v3).unwrap();
        assert_eq!(up, DoorState { challenges: 0, ..current.clone() });
        // Version 4's bytes: without the activity counts.
        let mut v4 = DoorState { activity_sealed: 0, activity_dropped: 0, ..current.clone() }.to_bytes();
        assert_eq!(v4.split_off(v4.len() - 2), [0, 0]);
        v4[0] = 4;
        assert_eq!(
            DoorState::from_bytes(&v4).unwrap(),
            DoorState { activity_sealed: 0, activity_dropped: 0, ..current }
        );
        // Trailing bytes after a version-3 state are still refused.
        v3.push(0);
        assert!(DoorState::from_bytes(&v3).is_err());
    }
}
