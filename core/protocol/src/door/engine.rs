//! The door engine: access decisions for app, doorcode and keycard entry, and receipts.

use crate::prelude::*;

use super::activity::ActivityLog;
use super::error::RekeyError;
use super::keypad::AttemptLimiter;
use super::limits::DoorLimits;
use super::revocations::RevocationSet;
use super::state::{DOOR_STATE_VERSION, DoorState, DoorStateError, Secret32};
use crate::UnixTime;
use crate::codec::BoundedVec;
use crate::credential::receipt::MAX_ACTIVITY_PER_RECEIPT;
use crate::credential::{
    ActivityEvent, ActivityRecord, DenialReason, DoorCertificate, DoorId, Doorcode, DoorcodeSecret, KeyPair,
    PropertyCardKey, PublicKey, Receipt, ReceiptBody, RevocationCheck, Signed, SignedBody, TrustAnchors,
};
use crate::unlock::message::{Access, DoorChallenge, PROTOCOL_VERSION};

/// What a door is provisioned with at install.
pub struct DoorProvisioning {
    /// The door's id, as the backend names it in key certificates and update batches.
    pub door_id: DoorId,
    /// The door's signing key (challenges and receipts); its public half is in the door's
    /// certificate.
    pub door_key: KeyPair,
    /// The authority keys the door trusts for key certificates and update batches.
    pub anchors: TrustAnchors,
    /// The secret daily doorcodes are derived from; it never travels in a door update.
    pub doorcode_secret: DoorcodeSecret,
    /// The property's card key, from which the door derives each secure keycard's own key to
    /// check its answer (see [`crate::credential::card`]); it never travels in a door update.
    /// `None`: the door reads UID-only cards alone and refuses to enrol a secure one.
    pub card_key: Option<PropertyCardKey>,
    /// Minutes east of UTC of the property, deciding the local day of a doorcode.
    pub utc_offset_minutes: i16,
    /// The door's clock at install; it only moves forward from here.
    pub clock: UnixTime,
}

/// A door's decision on one entry (app unlock, doorcode or keycard) and the activity record it
/// logged for it: who was admitted or refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Granted, or denied with the reason.
    pub access: Access,
    /// The record in the door's activity log (key, person, slot or card, time, seq).
    pub record: ActivityRecord,
}

/// A door: its persistent [`DoorState`] plus the signing key derived from it.
///
/// All methods take the lock's RTC reading from the caller; the door's clock is that reading
/// corrected by signed time and only moves forward (see [`super::clock`]), so a door whose RTC
/// is reset cannot be made to accept expired keys again, and neither can a `SetClock` update
/// (refused when it points backwards). Only a time statement bound to the door's own fresh
/// nonce moves it back.
#[derive(Clone, Debug)]
pub struct DoorEngine {
    pub(crate) state: DoorState,
    pub(crate) key: KeyPair,
    pub(crate) limits: DoorLimits,
    /// The latest RTC reading passed in (not saved): what a clock correction is relative to.
    pub(crate) rtc: UnixTime,
    /// The challenge sent to the secure card at the reader, until it answers (not saved).
    pub(crate) card_challenge: Option<super::keycard::PendingCard>,
    /// The signed key-agreement offer sessions use (not saved: a restart signs a new one).
    pub(crate) offer: Option<super::handshake::Offer>,
    /// Resume tickets of keys that unlocked recently (not saved).
    pub(crate) tickets: super::handshake::ResumeCache,
    /// Public-key operations since start (not saved).
    pub(crate) ops: super::handshake::CryptoOps,
}

/// The challenge nonce: the first 16 bytes of SHA-256 over a label, the door id, the challenge
/// counter, the door's clock and the caller's randomness.
fn challenge_nonce(door: DoorId, counter: u64, clock: UnixTime, random: &[u8; 16]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(crate::credential::label::CHALLENGE_NONCE)
        .chain_update(door.0.to_be_bytes())
        .chain_update(counter.to_be_bytes())
        .chain_update(clock.0.to_be_bytes())
        .chain_update(random)
        .finalize();
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&digest[..16]);
    nonce
}

impl DoorEngine {
    /// A newly installed door: update seq 0, no revocations, doorcodes, keycards or activity,
    /// running with [`DoorLimits::STANDARD`] (change with [`DoorEngine::with_limits`]).
    pub fn new(p: DoorProvisioning) -> Self {
        let state = DoorState {
            version: DOOR_STATE_VERSION,
            door_id: p.door_id,
            anchors: p.anchors,
            door_key: Secret32(*p.door_key.secret()),
            doorcode_secret: Secret32(*p.doorcode_secret.as_bytes()),
            card_key: p.card_key,
            utc_offset_minutes: p.utc_offset_minutes,
            update_seq: 0,
            clock: p.clock,
            clock_correction: 0,
            revocations: RevocationSet::default(),
            doorcodes: Default::default(),
            keycards: Vec::new(),
            activity: ActivityLog::default(),
            keypad: AttemptLimiter::default(),
            card_reader: AttemptLimiter::default(),
            challenges: 0,
            activity_sealed: 0,
            activity_dropped: 0,
        };
        DoorEngine::assemble(state, p.door_key, DoorLimits::STANDARD, p.clock)
    }

    /// A door from its saved state, running with the capacities its firmware chose; a state
    /// holding more than `limits` allow is refused (never truncated).
    pub fn from_state(state: DoorState, limits: DoorLimits) -> Result<Self, DoorStateError> {
        state.check(&limits)?;
        let key = KeyPair::from_secret(&state.door_key.0);
        let rtc = UnixTime((state.clock.0 as i128 - state.clock_correction as i128).clamp(0, u64::MAX as i128) as u64);
        Ok(DoorEngine::assemble(state, key, limits, rtc))
    }

    fn assemble(state: DoorState, key: KeyPair, limits: DoorLimits, rtc: UnixTime) -> Self {
        DoorEngine {
            state,
            key,
            limits,
            rtc,
            card_challenge: None,
            offer: None,
            tickets: Default::default(),
            ops: Default::default(),
        }
    }

    /// The same door with the capacities its firmware chose (a newly installed door starts
    /// with [`DoorLimits::STANDARD`]). Refused when the state already holds more than `limits`
    /// allow: a saved state is never truncated.
    pub fn with_limits(mut self, limits: DoorLimits) -> Result<Self, DoorStateError> {
        self.state.check(&limits)?;
        self.limits = limits;
        Ok(self)
    }

    /// Replaces the door key (a re-keyed door: its old key may have been extracted), keeping
    /// everything else the door holds (update seq, revocations, activity). The installer brings
    /// the new key and its certificate; the certificate must verify against the door's own
    /// trust anchors, name this door and certify exactly `door_key`. Nothing changes otherwise.
    pub fn rekey(&mut self, door_key: KeyPair, certificate: &DoorCertificate) -> Result<(), RekeyError> {
        let certified = certificate.verify(&self.state.anchors).map_err(RekeyError::Certificate)?;
        if certificate.body.door_id != self.state.door_id {
            return Err(RekeyError::OtherDoor { door: self.state.door_id, certificate: certificate.body.door_id });
        }
        if certified != door_key.public() {
            return Err(RekeyError::KeyMismatch);
        }
        self.state.door_key = Secret32(*door_key.secret());
        self.key = door_key;
        // The old key's offer and the tickets of sessions under it go with it.
        self.offer = None;
        self.revisit_tickets(true);
        Ok(())
    }

    /// The capacities this door runs with.
    pub fn limits(&self) -> &DoorLimits {
        &self.limits
    }

    /// The state to persist (after every session, entry or update).
    pub fn state(&self) -> &DoorState {
        &self.state
    }

    /// The door's id: a key opens this door only if its certificate's door set names it.
    pub fn door_id(&self) -> DoorId {
        self.state.door_id
    }

    /// The public half of the door key, which verifies this door's challenges and receipts.
    pub fn door_public_key(&self) -> PublicKey {
        self.key.public()
    }

    /// Seq of the last door update consumed (applied or rejected); 0 before the first.
    pub fn update_seq(&self) -> u64 {
        self.state.update_seq
    }

    /// The door's monotonic clock: the latest time it has seen (never moves backwards).
    pub fn clock(&self) -> UnixTime {
        self.state.clock
    }

    /// Minutes east of UTC used to decide the local day of a doorcode.
    pub fn utc_offset_minutes(&self) -> i16 {
        self.state.utc_offset_minutes
    }

    /// The door's activity log (the newest records, by their own seq).
    pub fn activity(&self) -> &ActivityLog {
        &self.state.activity
    }

    /// The keys and persons this door currently refuses before their expiry.
    pub fn revocations(&self) -> &RevocationSet {
        &self.state.revocations
    }

    pub(crate) fn log(&mut self, event: ActivityEvent) -> ActivityRecord {
        let time = self.state.clock;
        let s = &mut self.state;
        s.activity.log(time, event, self.limits.activity, s.activity_sealed, &mut s.activity_dropped)
    }

    /// Before a receipt: logs the signed marker of records dropped since the last one, and
    /// makes every record up to the head final (no later refusal folds into it).
    fn note_receipt(&mut self) {
        let dropped = core::mem::take(&mut self.state.activity_dropped);
        if dropped > 0 {
            self.log(ActivityEvent::RecordsDropped { count: dropped });
        }
        self.state.activity_sealed = self.state.activity.head();
    }

    /// A fresh challenge for one session: the current offer (signing one first if there is
    /// none, see [`DoorEngine::prepare_offer`]), a nonce, the door's update seq, clock (after
    /// observing `now`) and activity head.
    ///
    /// The nonce is not `random` itself but SHA-256 over it, the door id, the door's clock and
    /// a counter the door keeps in its state and bumps for every challenge: a door whose RNG
    /// repeats (a weak or stuck generator) still never issues the same nonce twice, so a
    /// recorded request never answers a later challenge. The counter is saved with the session
    /// (before the receipt); a session that ends before its decision may not be saved, and then
    /// the door's clock, which never goes back, still separates it from the next one.
    pub fn challenge(&mut self, now: UnixTime, random: [u8; 16]) -> DoorChallenge {
        self.prepare_offer(now, random);
        let clock = self.observe_time(now);
        self.state.challenges = self.state.challenges.wrapping_add(1);
        let nonce = challenge_nonce(self.state.door_id, self.state.challenges, clock, &random);
        DoorChallenge {
            version: PROTOCOL_VERSION,
            offer: self.offer.as_ref().map(|o| o.signed.clone()).expect("prepare_offer leaves an offer"),
            nonce,
            update_seq: self.state.update_seq,
            door_time: clock,
            activity_head: self.state.activity.head(),
        }
    }

    /// The signed receipt for a session: bound to the phone's nonce, carrying the door's seq and
    /// up to 64 activity records after `activity_after`.
    pub fn receipt(&mut self, phone_nonce: [u8; 16], activity_after: u64) -> Receipt {
        let body = self.receipt_body(phone_nonce, activity_after);
        self.sign_receipt(body)
    }

    /// What a receipt will state (the records it carries become final, and a marker of any
    /// dropped records is logged first): made before the door saves, signed after.
    pub(crate) fn receipt_body(&mut self, phone_nonce: [u8; 16], activity_after: u64) -> ReceiptBody {
        self.note_receipt();
        let records = self.state.activity.after(activity_after, MAX_ACTIVITY_PER_RECEIPT);
        ReceiptBody {
            version: ReceiptBody::VERSION,
            door_id: self.state.door_id,
            phone_nonce,
            door_time: self.state.clock,
            applied_seq: self.state.update_seq,
            activity_head: self.state.activity.head(),
            activity: BoundedVec::new(records).unwrap_or_default(),
        }
    }

    /// Signs a receipt's body with the door key.
    pub(crate) fn sign_receipt(&mut self, body: ReceiptBody) -> Receipt {
        self.ops.signatures += 1;
        Signed::sign(body, &self.key)
    }

    /// Signs the backend's feed challenge `server_nonce` with the door key (see
    /// [`crate::credential::feed`]): the door's proof of identity for its feed session.
    /// The hello's `door_nonce` is made as a challenge nonce is (see [`DoorEngine::challenge`])
    /// from `random`, the caller's fresh randomness: check the session's time statement against
    /// `hello.body.door_nonce` with [`DoorEngine::handle_time`]. So a recorded bound statement
    /// never sets the clock again, even when the RNG repeats.
    pub fn feed_hello(
        &mut self,
        server_nonce: [u8; 32],
        random: [u8; 16],
        now: UnixTime,
    ) -> crate::credential::FeedHello {
        let door_time = self.observe_time(now);
        self.state.challenges = self.state.challenges.wrapping_add(1);
        let door_nonce = challenge_nonce(self.state.door_id, self.state.challenges, door_time, &random);
        let body = crate::credential::FeedHelloBody {
            version: <crate::credential::FeedHelloBody as crate::credential::SignedBody>::VERSION,
            door_id: self.state.door_id,
            server_nonce,
            door_nonce,
            update_seq: self.state.update_seq,
            door_time,
        };
        self.ops.signatures += 1;
        Signed::sign(body, &self.key)
    }

    /// A code typed on the keypad. Wrong codes, and codes of slots that are not valid now,
    /// count towards the keypad's guessing limit (see [`super::keypad`]); every attempt is
    /// logged.
    pub fn enter_doorcode(&mut self, code: &str, now: UnixTime) -> Entry {
        let clock = self.observe_time(now);
        if self.state.keypad.is_limited(clock) {
            return self.entry_denied_code(DenialReason::RateLimited);
        }
        let Some(typed) = Doorcode::parse(code) else {
            self.state.keypad.record_failure(clock);
            return self.entry_denied_code(DenialReason::Malformed);
        };
        match self.match_doorcode(typed, clock) {
            Ok((slot, person)) => {
                let record = self.log(ActivityEvent::DoorcodeEntry { slot, person });
                Entry { access: Access::Granted, record }
            }
            Err(reason) => {
                self.state.keypad.record_failure(clock);
                self.entry_denied_code(reason)
            }
        }
    }

    /// The slot `typed` opens at `clock`. Every slot is compared (no early exit, so timing
    /// does not reveal which one matched). Two slots can share a code on a day; the choice is
    /// unambiguous: the lowest-numbered slot that admits now, else the reason the
    /// lowest-numbered matching slot refuses.
    fn match_doorcode(
        &self,
        typed: Doorcode,
        clock: UnixTime,
    ) -> Result<(u32, crate::credential::PersonId), DenialReason> {
        let secret = DoorcodeSecret::new(self.state.doorcode_secret.0);
        let mut admitted = None;
        let mut refused = None;
        for (slot, entry) in &self.state.doorcodes {
            if !secret.code_at(*slot, clock, self.state.utc_offset_minutes).matches(typed) {
                continue;
            }
            match self.credential_denial(entry.person, &entry.validity, clock) {
                None if admitted.is_none() => admitted = Some((*slot, entry.person)),
                Some(reason) if refused.is_none() => refused = Some(reason),
                _ => {}
            }
        }
        admitted.ok_or(refused.unwrap_or(DenialReason::UnknownCredential))
    }

    // Keycards (`present_keycard`, `answer_card_challenge`) are in `super::keycard`.

    pub(crate) fn credential_denial(
        &self,
        person: crate::credential::PersonId,
        validity: &crate::credential::Validity,
        clock: UnixTime,
    ) -> Option<DenialReason> {
        if self.state.revocations.person_revoked(person) {
            Some(DenialReason::RevokedPerson)
        } else if clock < validity.start {
            Some(DenialReason::NotYetValid)
        } else if clock >= validity.expiry {
            Some(DenialReason::Expired)
        } else {
            None
        }
    }

    fn entry_denied_code(&mut self, reason: DenialReason) -> Entry {
        let record = self.log(ActivityEvent::DoorcodeDenied { reason });
        Entry { access: Access::Denied(reason), record }
    }
}
