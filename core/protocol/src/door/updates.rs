//! Applying authority-signed door updates.
//!
//! A batch is first authenticated as a whole (known format version, known issuer, strict
//! signature, this door, seqs from 1); a failure there rejects the batch and consumes nothing.
//! The updates with seq above the door's are then taken strictly in order: a batch starting
//! above `seq + 1` is a gap and is refused; updates at or below the door's seq are skipped (a
//! replayed or overlapping batch is a harmless no-op). Each update is applied atomically: its
//! operations are validated first (clock never backwards, usable content, room in the tables)
//! and then applied together. An update that fails validation is reported and logged, and its
//! seq is consumed, because the content of a seq never changes and so retrying it could never
//! succeed; later updates still apply.

use super::engine::DoorEngine;
use super::state::{DoorcodeSlot, Keycard};
use crate::UnixTime;
use crate::codec::DecodeError;
use crate::credential::{
    ActivityEvent, CardId, CardKind, ChainError, DoorOp, DoorUpdate, MAX_DOOR_ANCHORS, SignedBody, UpdateBatch,
    UpdateBatchBody,
};
use crate::unlock::message::{MAX_REJECTED_PER_SESSION, RejectedUpdate, UpdateRejection, UpdateReport};
use alloc::collections::{BTreeMap, BTreeSet};

/// Largest UTC offset a door accepts (UTC+14 / UTC-14), in minutes.
pub const MAX_UTC_OFFSET_MINUTES: i16 = 14 * 60;

impl DoorEngine {
    /// Decodes and applies carried batch bytes (empty: no batch).
    pub fn apply_batch_bytes(&mut self, bytes: &[u8], now: UnixTime) -> UpdateReport {
        if bytes.is_empty() {
            self.observe_time(now);
            return self.empty_report();
        }
        match UpdateBatch::from_bytes(bytes) {
            Ok(batch) => self.apply_batch(&batch, now),
            Err(e) => {
                self.observe_time(now);
                let reason = match e {
                    DecodeError::UnsupportedVersion { .. } => UpdateRejection::UnsupportedVersion,
                    _ => UpdateRejection::Malformed,
                };
                self.reject_batch(0, reason)
            }
        }
    }

    /// Authenticates `batch` and applies the updates after the door's seq.
    pub fn apply_batch(&mut self, batch: &UpdateBatch, now: UnixTime) -> UpdateReport {
        self.observe_time(now);
        let body = &batch.body;
        if body.version != UpdateBatchBody::VERSION {
            return self.reject_batch(body.first_seq, UpdateRejection::UnsupportedVersion);
        }
        let Some(authority) = self.state.anchors.get(body.issuer) else {
            return self.reject_batch(body.first_seq, UpdateRejection::UnknownIssuer);
        };
        self.ops.verifications += 1;
        if let Err(e) = batch.verify_signature(&authority) {
            let reason = match e {
                ChainError::BadSignature { .. } | ChainError::WeakKey { .. } => UpdateRejection::BadSignature,
                _ => UpdateRejection::Malformed,
            };
            return self.reject_batch(body.first_seq, reason);
        }
        if body.door_id != self.state.door_id {
            return self.reject_batch(body.first_seq, UpdateRejection::WrongDoor { batch_door: body.door_id });
        }
        if body.first_seq == 0 {
            return self.reject_batch(0, UpdateRejection::Malformed);
        }
        let door_seq = self.state.update_seq;
        if body.first_seq > door_seq.saturating_add(1) {
            return self.reject_batch(body.first_seq, UpdateRejection::Gap { door_seq, first_seq: body.first_seq });
        }
        let mut report = self.empty_report();
        let anchors_before = self.state.anchors.clone();
        for (seq, update) in body.numbered().filter(|(seq, _)| *seq > door_seq) {
            if let Err(reason) = self.apply_update(update) {
                self.log(ActivityEvent::UpdateRejected { seq, reason: reason.denial_reason() });
                report.rejected_updates.try_push(RejectedUpdate { seq, reason });
            }
            self.state.update_seq = seq;
            if report.rejected_updates.len() >= MAX_REJECTED_PER_SESSION {
                break;
            }
        }
        let clock = self.state.clock;
        self.state.revocations.prune_before(clock);
        report.seq_after = self.state.update_seq;
        if report.seq_after > report.seq_before {
            // A revocation ends the tickets of the keys it covers; new trust anchors end all.
            let anchors_changed = self.state.anchors != anchors_before;
            self.revisit_tickets(anchors_changed);
        }
        report
    }

    fn empty_report(&self) -> UpdateReport {
        UpdateReport { seq_before: self.state.update_seq, seq_after: self.state.update_seq, ..Default::default() }
    }

    /// Logs and reports a batch refused before it could be read (e.g. not the batch the
    /// phone's proof names).
    pub fn reject_batch_report(&mut self, reason: UpdateRejection) -> UpdateReport {
        self.reject_batch(0, reason)
    }

    fn reject_batch(&mut self, seq: u64, reason: UpdateRejection) -> UpdateReport {
        self.log(ActivityEvent::UpdateRejected { seq, reason: reason.denial_reason() });
        UpdateReport { batch_rejected: Some(reason), ..self.empty_report() }
    }

    /// Validates every operation, then applies them all (or none).
    ///
    /// The capacity check counts what the update really adds once applied in order: a
    /// revocation already held, repeated within the update, or whose `until` is behind the
    /// door's clock (at that point of the update) stores nothing, and a slot or card removed and
    /// added in the same update takes no extra room. An update is refused as `StoreFull` only
    /// when the tables would really exceed the door's [`DoorLimits`](super::DoorLimits).
    fn apply_update(&mut self, update: &DoorUpdate) -> Result<(), UpdateRejection> {
        let s = &self.state;
        let mut clock = s.clock;
        let mut revoked_keys = BTreeSet::new();
        let mut revoked_persons = BTreeSet::new();
        let mut revoked_devices = BTreeSet::new();
        // Membership after the ops so far, for every slot and card the update touches.
        let mut slots: BTreeMap<u32, bool> = BTreeMap::new();
        let mut cards: BTreeMap<&CardId, bool> = BTreeMap::new();
        let mut anchors = s.anchors.clone();
        for op in update.ops.iter() {
            match op {
                DoorOp::SetClock { now } => {
                    if *now < clock {
                        return Err(UpdateRejection::ClockBackwards { door_time: clock, requested: *now });
                    }
                    clock = *now;
                }
                DoorOp::RevokeKey { key, until } => {
                    if *until >= clock && s.revocations.would_add_key(*key) {
                        revoked_keys.insert(*key);
                    }
                }
                DoorOp::RevokePerson { person, until } => {
                    if *until >= clock && s.revocations.would_add_person(*person) {
                        revoked_persons.insert(*person);
                    }
                }
                DoorOp::AddDoorcode { slot, validity, .. } => {
                    if validity.start >= validity.expiry {
                        return Err(UpdateRejection::InvalidOperation);
                    }
                    slots.insert(*slot, true);
                }
                DoorOp::RemoveDoorcode { slot } => {
                    slots.insert(*slot, false);
                }
                DoorOp::AddKeycardV1 { card, validity, .. } => {
                    if card.len() < 4 || validity.start >= validity.expiry {
                        return Err(UpdateRejection::InvalidOperation);
                    }
                    cards.insert(card, true);
                }
                DoorOp::AddKeycard { card, validity, kind, .. } => {
                    // A secure card needs the card key to be checked: without it, refused.
                    let unreadable = *kind == CardKind::Secure && s.card_key.is_none();
                    if card.len() < 4 || validity.start >= validity.expiry || unreadable {
                        return Err(UpdateRejection::InvalidOperation);
                    }
                    cards.insert(card, true);
                }
                DoorOp::RemoveKeycard { card } => {
                    cards.insert(card, false);
                }
                DoorOp::SetUtcOffset { minutes } => {
                    if minutes.unsigned_abs() > MAX_UTC_OFFSET_MINUTES.unsigned_abs() {
                        return Err(UpdateRejection::InvalidOperation);
                    }
                }
                DoorOp::RevokeDevice { device, until } => {
                    if *until >= clock && s.revocations.would_add_device(*device) {
                        revoked_devices.insert(*device);
                    }
                }
                DoorOp::TrustAuthority { key } => {
                    if !key.is_acceptable() {
                        return Err(UpdateRejection::InvalidOperation);
                    }
                    anchors.add(*key);
                    if anchors.keys().count() > MAX_DOOR_ANCHORS {
                        return Err(UpdateRejection::StoreFull);
                    }
                }
                DoorOp::RetireAuthority { key } => {
                    anchors.remove(*key);
                    if anchors.keys().next().is_none() {
                        return Err(UpdateRejection::InvalidOperation);
                    }
                }
                DoorOp::PruneRevocations { .. } => {}
            }
        }
        // Each touched entry adds one if it ends up present and was not, frees one the other way.
        let slots_after = s.doorcodes.len() as isize
            + slots
                .iter()
                .map(|(slot, after)| isize::from(*after) - isize::from(s.doorcodes.contains_key(slot)))
                .sum::<isize>();
        let cards_after = s.keycards.len() as isize
            + cards
                .iter()
                .map(|(card, after)| {
                    isize::from(*after) - isize::from(s.keycards.binary_search_by(|k| k.card.cmp(card)).is_ok())
                })
                .sum::<isize>();
        let revocations_after =
            s.revocations.len() + revoked_keys.len() + revoked_persons.len() + revoked_devices.len();
        let limits = &self.limits;
        if revocations_after > limits.revocations
            || slots_after > limits.doorcode_slots as isize
            || cards_after > limits.keycards as isize
        {
            return Err(UpdateRejection::StoreFull);
        }
        for op in update.ops.iter() {
            self.apply_op(op);
        }
        Ok(())
    }

    fn apply_op(&mut self, op: &DoorOp) {
        if let DoorOp::SetClock { now } = op {
            // Validated above: never backwards. The RTC correction follows, so the clock runs on.
            if *now > self.state.clock {
                self.set_time(*now);
            }
            return;
        }
        let s = &mut self.state;
        match op {
            DoorOp::RevokeKey { key, until } => {
                s.revocations.revoke_key(*key, *until, s.clock);
            }
            DoorOp::RevokePerson { person, until } => {
                s.revocations.revoke_person(*person, *until, s.clock);
            }
            DoorOp::RevokeDevice { device, until } => {
                s.revocations.revoke_device(*device, *until, s.clock);
            }
            DoorOp::AddDoorcode { slot, person, validity } => {
                s.doorcodes.insert(*slot, DoorcodeSlot { person: *person, validity: *validity });
            }
            DoorOp::RemoveDoorcode { slot } => {
                s.doorcodes.remove(slot);
            }
            DoorOp::AddKeycardV1 { card, person, validity } | DoorOp::AddKeycard { card, person, validity, .. } => {
                let kind = match op {
                    DoorOp::AddKeycard { kind, .. } => *kind,
                    _ => CardKind::UidOnly,
                };
                let keycard = Keycard { card: card.clone(), person: *person, validity: *validity, kind };
                match s.keycards.binary_search_by(|k| k.card.cmp(card)) {
                    Ok(i) => {
                        if let Some(slot) = s.keycards.get_mut(i) {
                            *slot = keycard;
                        }
                    }
                    Err(i) => s.keycards.insert(i, keycard),
                }
            }
            DoorOp::RemoveKeycard { card } => {
                if let Ok(i) = s.keycards.binary_search_by(|k| k.card.cmp(card)) {
                    s.keycards.remove(i);
                }
            }
            DoorOp::SetClock { .. } => {}
            DoorOp::PruneRevocations { before } => s.revocations.prune_before(*before),
            DoorOp::SetUtcOffset { minutes } => s.utc_offset_minutes = *minutes,
            DoorOp::TrustAuthority { key } => s.anchors.add(*key),
            DoorOp::RetireAuthority { key } => s.anchors.remove(*key),
        }
    }
}
