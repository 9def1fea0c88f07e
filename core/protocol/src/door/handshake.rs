//! The door's half of the unlock v2 key schedule: its signed offer, opening full and resumed
//! requests, the resume-ticket cache, and the count of its public-key operations.
//!
//! What each kind of session costs the door before the lock actuates (counted by
//! [`CryptoOps`], asserted by the tests in `core/protocol/tests/unlock_v2.rs`):
//!
//! | session | X25519 | Ed25519 verify | Ed25519 sign |
//! |---|---|---|---|
//! | stranger (garbage, unknown issuer, revoked, out of scope, expired) | 1 | 0 | 0 |
//! | stranger forging the authority's signature | 1 | 1 | 0 |
//! | first unlock, resident | 2 | 1 | 0 |
//! | first unlock, guest | 2 | 2 | 0 |
//! | repeat unlock (ticket) | 0 | 0 | 0 |
//!
//! After actuation an admitted holder's session signs its receipt (1), and the door signs a
//! new offer once a holder it admitted used the current one (1, when idle: see
//! [`DoorEngine::prepare_offer`]).

use crate::prelude::*;

use super::engine::DoorEngine;
use crate::UnixTime;
use crate::codec;
use crate::credential::{
    ActivityEvent, DenialReason, DeviceId, KeyChain, RevocationCheck, Signed, SignedBody, VerifiedChain,
};
use crate::unlock::frame::MessageKind;
use crate::unlock::message::{
    Access, DoorChallenge, DoorOffer, OFFER_LIFETIME_SECS, OfferBody, RequestBody, ResumeBody, ResumeRequest,
    UnlockRequest,
};
use crate::unlock::seal::{self, Secret, SessionKeys};

/// The door's public-key operations since it started (not saved): what its battery and its
/// unlock latency pay for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CryptoOps {
    /// X25519 key agreements.
    pub key_agreements: u32,
    /// Ed25519 signature verifications.
    pub verifications: u32,
    /// Ed25519 signatures (offers, receipts, feed hellos).
    pub signatures: u32,
}

impl CryptoOps {
    /// All public-key operations.
    pub fn total(&self) -> u32 {
        self.key_agreements + self.verifications + self.signatures
    }
}

/// The door's current offer and its ephemeral secret.
#[derive(Clone)]
pub(crate) struct Offer {
    pub(crate) secret: Secret,
    pub(crate) signed: DoorOffer,
    /// A holder the door admitted used it: sign a new one before the next session.
    pub(crate) spent: bool,
}

impl core::fmt::Debug for Offer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Offer").field("issued", &self.signed.body.issued).field("spent", &self.spent).finish()
    }
}

/// One resume ticket the door handed out: the verified chain it stands for and its secret.
#[derive(Clone)]
pub(crate) struct TicketEntry {
    id: [u8; 16],
    secret: Secret,
    chain: KeyChain,
    verified: VerifiedChain,
    last_used: UnixTime,
}

/// The door's resume tickets: at most [`super::DoorLimits::resume_tickets`], the least recently
/// used evicted first; kept in memory only (a restart costs each phone one full unlock). An
/// entry is dropped when used (its successor replaces it), when a revocation or a change of
/// trust anchors applies, and whenever its key fails the rules of use.
#[derive(Clone, Default)]
pub struct ResumeCache {
    entries: Vec<TicketEntry>,
}

impl core::fmt::Debug for ResumeCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ResumeCache({} tickets)", self.entries.len())
    }
}

impl ResumeCache {
    /// Tickets held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no ticket is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn take(&mut self, id: &[u8; 16]) -> Option<TicketEntry> {
        let at = self.entries.iter().position(|e| e.id == *id)?;
        Some(self.entries.swap_remove(at))
    }

    fn insert(&mut self, entry: TicketEntry, capacity: usize) {
        // One ticket per key: a phone holds only the newest.
        self.entries.retain(|e| e.verified.key_id != entry.verified.key_id);
        while !self.entries.is_empty() && self.entries.len() >= capacity {
            let oldest = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i);
            if let Some(i) = oldest {
                self.entries.swap_remove(i);
            }
        }
        if capacity > 0 {
            self.entries.push(entry);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// What a door keeps in memory between sessions and never saves: its current offer and its
/// resume tickets. An embedder that loads its saved state afresh for every session (the door
/// simulator, whose state file other commands change too) hands it from one engine to the next
/// with [`DoorEngine::session_cache`] and [`DoorEngine::restore_session_cache`].
#[derive(Clone, Default)]
pub struct SessionCache {
    door_key: Option<crate::credential::PublicKey>,
    anchors: crate::credential::TrustAnchors,
    offer: Option<Offer>,
    tickets: ResumeCache,
}

impl core::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionCache").field("offer", &self.offer).field("tickets", &self.tickets).finish()
    }
}

/// What opening a request decided, for the session to act on (its keys print no secret).
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) access: Access,
    /// The activity event to log (an unlock; a delivery logs nothing).
    pub(crate) event: ActivityEvent,
    /// The session's message keys; `None` when not even the ephemeral agreement succeeded
    /// (there is no one to answer).
    pub(crate) keys: Option<SessionKeys>,
    pub(crate) phone_nonce: [u8; 16],
    pub(crate) activity_after: u64,
    pub(crate) batch_digest: Option<[u8; 32]>,
    /// Set for a holder the door admitted: its receipt and ticket.
    pub(crate) admitted: bool,
    /// The chain verified and the presenter proved its device key (admitted, or refused by a
    /// rule of use): its carried batch is applied. Anyone else's is read and dropped, so a
    /// stranger costs the door no verification of a batch.
    pub(crate) authentic: bool,
    /// The ticket to hand out (already in the cache).
    pub(crate) ticket: Option<[u8; 16]>,
}

impl Opened {
    fn refused(reason: DenialReason, keys: Option<SessionKeys>) -> Self {
        Opened {
            access: Access::Denied(reason),
            event: ActivityEvent::AppDenied { key: None, person: None, reason },
            keys,
            phone_nonce: [0; 16],
            activity_after: 0,
            batch_digest: None,
            admitted: false,
            authentic: false,
            ticket: None,
        }
    }
}

/// A resume request the door could not place: answer `ResumeRefused`.
pub(crate) struct UnknownTicket;

impl DoorEngine {
    /// The door's public-key operations since it started.
    pub fn crypto_ops(&self) -> CryptoOps {
        self.ops
    }

    /// A copy of the offer and tickets this engine holds in memory (see [`SessionCache`]).
    pub fn session_cache(&self) -> SessionCache {
        SessionCache {
            door_key: Some(self.key.public()),
            anchors: self.state.anchors.clone(),
            offer: self.offer.clone(),
            tickets: self.tickets.clone(),
        }
    }

    /// Takes the offer and tickets of an earlier engine of this same door. Nothing is taken if
    /// the door key changed; no ticket if the trust anchors changed; and every ticket is
    /// checked against this state's revocations and clock, so a revocation applied in between
    /// (by another process) ends its tickets here too.
    pub fn restore_session_cache(&mut self, cache: SessionCache) {
        if cache.door_key != Some(self.key.public()) {
            return;
        }
        self.offer = cache.offer;
        if cache.anchors == self.state.anchors {
            self.tickets = cache.tickets;
            self.revisit_tickets(false);
        }
    }

    /// The resume tickets this door holds.
    pub fn resume_tickets(&self) -> &ResumeCache {
        &self.tickets
    }

    /// Signs a new offer if the current one was used by a holder the door admitted, is older
    /// than [`OFFER_LIFETIME_SECS`], or there is none: the one signature a phone's session
    /// costs, made when the door is idle (after a session, on a timer) so that no session waits
    /// for it. `random` is fresh randomness; the ephemeral secret also mixes the door key and
    /// the challenge counter, so it never repeats. Returns whether it signed.
    pub fn prepare_offer(&mut self, now: UnixTime, random: [u8; 16]) -> bool {
        let clock = self.observe_time(now);
        let fresh = self
            .offer
            .as_ref()
            .is_some_and(|o| !o.spent && clock.0.saturating_sub(o.signed.body.issued.0) < OFFER_LIFETIME_SECS);
        if fresh {
            return false;
        }
        self.state.challenges = self.state.challenges.wrapping_add(1);
        let mut context = Vec::with_capacity(21);
        context.extend_from_slice(b"offer");
        context.extend_from_slice(&self.state.challenges.to_be_bytes());
        context.extend_from_slice(&clock.0.to_be_bytes());
        let secret = seal::ephemeral(&self.key.secret(), &context, &random);
        let body = OfferBody {
            version: OfferBody::VERSION,
            door_id: self.state.door_id,
            ephemeral: seal::dh_public(&secret),
            issued: clock,
        };
        self.ops.signatures += 1;
        self.offer = Some(super::handshake::Offer { secret, signed: Signed::sign(body, &self.key), spent: false });
        true
    }

    /// The challenge for a new session and the ephemeral secret of the offer in it.
    pub(crate) fn open_challenge(&mut self, now: UnixTime, random: [u8; 16]) -> (DoorChallenge, Secret) {
        let challenge = self.challenge(now, random);
        let secret = self.offer.as_ref().map(|o| o.secret.clone()).expect("prepare_offer leaves an offer");
        (challenge, secret)
    }

    /// Marks the current offer used by an admitted holder, if it is still the one in `challenge`.
    fn spend_offer(&mut self, challenge: &DoorChallenge) {
        if let Some(o) = self.offer.as_mut()
            && o.signed == challenge.offer
        {
            o.spent = true;
        }
    }

    fn next_ticket_id(&mut self) -> [u8; 16] {
        self.state.challenges = self.state.challenges.wrapping_add(1);
        let mut context = Vec::with_capacity(14);
        context.extend_from_slice(b"ticket");
        context.extend_from_slice(&self.state.challenges.to_be_bytes());
        let derived = seal::ephemeral(&self.key.secret(), &context, &[]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&derived[..16]);
        id
    }

    fn issue_ticket(&mut self, secret: Secret, chain: KeyChain, verified: VerifiedChain, clock: UnixTime) -> [u8; 16] {
        let id = self.next_ticket_id();
        let entry = TicketEntry { id, secret, chain, verified, last_used: clock };
        self.tickets.insert(entry, self.limits.resume_tickets);
        id
    }

    /// Drops every ticket whose key no longer passes the rules of use (after a revocation) or
    /// all of them (the trust anchors or the door key changed).
    pub(crate) fn revisit_tickets(&mut self, all: bool) {
        if all {
            self.tickets.clear();
            return;
        }
        let (door, clock) = (self.state.door_id, self.state.clock);
        let revocations = &self.state.revocations;
        self.tickets.entries.retain(|e| e.chain.check_use(&e.verified, door, clock, revocations).is_ok());
    }

    /// Opens and decides a full request (kind `Request` or `Deliver`) answering `challenge`,
    /// whose offer's secret is `offer_secret`. Nothing is logged here.
    pub(crate) fn open_full(
        &mut self,
        kind: MessageKind,
        challenge: &DoorChallenge,
        challenge_bytes: &[u8],
        offer_secret: &[u8; 32],
        request: &UnlockRequest,
        clock: UnixTime,
    ) -> Opened {
        self.ops.key_agreements += 1;
        let Some(ee) = seal::dh(offer_secret, &request.ephemeral) else {
            return Opened::refused(DenialReason::WeakKey, None);
        };
        let transcript = seal::full_transcript(kind, challenge_bytes, &request.ephemeral);
        let keys = SessionKeys::full(transcript, &ee);
        let Some(plain) = seal::open(&seal::request_key(&transcript, &ee), &transcript, &request.sealed) else {
            // Sealed for another challenge (a recorded request), or changed on the way.
            return Opened::refused(DenialReason::StaleChallenge, Some(keys));
        };
        let Ok(body) = codec::decode::<RequestBody>(RequestBody::WHAT, &plain, RequestBody::MAX_LEN) else {
            return Opened::refused(DenialReason::Malformed, Some(keys));
        };
        let mut opened = Opened::refused(DenialReason::Malformed, Some(keys));
        opened.phone_nonce = body.phone_nonce;
        opened.activity_after = body.activity_after;
        opened.batch_digest = body.batch_digest;
        let chain = match body.key_chain() {
            Ok(c) => c,
            Err(crate::codec::DecodeError::UnsupportedVersion { .. }) => {
                return opened.deny(DenialReason::UnsupportedVersion, None);
            }
            Err(_) => return opened.deny(DenialReason::Malformed, None),
        };
        // The rules of use on the chain's own (unverified) words first: a revoked, out-of-scope
        // or expired key, or an unknown issuer, costs the door no signature verification.
        if let Err(reason) = self.precheck(&chain, clock) {
            return opened.deny(reason, None);
        }
        let mut verifications = 0;
        let verified = chain.verify_structure_counting(&self.state.anchors, &mut verifications);
        self.ops.verifications += verifications;
        let verified = match verified {
            Ok(v) => v,
            Err(e) => return opened.deny(DenialReason::from(&e), None),
        };
        self.ops.key_agreements += 1;
        let se = seal::holder_dh(offer_secret, &verified.holder);
        let proven = se.as_ref().is_some_and(|se| {
            let expected = seal::proof_tag(&seal::proof_key(&transcript, &ee, se), &request.sealed);
            seal::tags_equal(&expected, &request.proof)
        });
        opened.authentic = proven;
        // A refusal names a key and a person only for a presenter who proved it holds that
        // key's device key.
        if let Err(e) = chain.check_use(&verified, self.state.door_id, clock, &self.state.revocations) {
            let who = proven.then_some((verified.key_id, verified.person_id));
            return opened.deny(DenialReason::from(&e), who);
        }
        let Some(se) = se.filter(|_| proven) else {
            return opened.deny(DenialReason::BadProof, None);
        };
        opened.access = Access::Granted;
        opened.event =
            ActivityEvent::AppUnlock { key: verified.key_id, person: verified.person_id, guest: verified.is_guest };
        opened.admitted = true;
        self.spend_offer(challenge);
        let secret = seal::resume_secret(&transcript, &ee, &se);
        opened.ticket = Some(self.issue_ticket(secret, chain, verified, clock));
        opened
    }

    /// Opens and decides a resumed request: no public-key operation. An unknown ticket, or one
    /// that does not open the request, is [`UnknownTicket`] (the ticket stays: a stranger
    /// replaying an id must not cost its holder the ticket).
    pub(crate) fn open_resume(
        &mut self,
        challenge_bytes: &[u8],
        request: &ResumeRequest,
        clock: UnixTime,
    ) -> Result<Opened, UnknownTicket> {
        let transcript = seal::resume_transcript(MessageKind::Resume, challenge_bytes, &request.ticket);
        let entry = self.tickets.take(&request.ticket).ok_or(UnknownTicket)?;
        let plain = seal::open(&seal::resume_request_key(&transcript, &entry.secret), &transcript, &request.sealed);
        let body = plain.and_then(|p| codec::decode::<ResumeBody>(ResumeBody::WHAT, &p, ResumeBody::MAX_LEN).ok());
        let Some(body) = body else {
            self.tickets.insert(entry, self.limits.resume_tickets);
            return Err(UnknownTicket);
        };
        let keys = SessionKeys::resumed(transcript, &entry.secret);
        let mut opened = Opened::refused(DenialReason::Malformed, Some(keys));
        opened.phone_nonce = body.phone_nonce;
        opened.activity_after = body.activity_after;
        opened.batch_digest = body.batch_digest;
        opened.authentic = true;
        let v = &entry.verified;
        if let Err(e) = entry.chain.check_use(v, self.state.door_id, clock, &self.state.revocations) {
            // The ticket proves the holder; the ticket is not reissued.
            return Ok(opened.deny(DenialReason::from(&e), Some((v.key_id, v.person_id))));
        }
        opened.access = Access::Granted;
        opened.event = ActivityEvent::AppUnlock { key: v.key_id, person: v.person_id, guest: v.is_guest };
        opened.admitted = true;
        let next = seal::next_resume_secret(&transcript, &entry.secret);
        opened.ticket = Some(self.issue_ticket(next, entry.chain, entry.verified, clock));
        Ok(opened)
    }

    /// The rules of use a door can check on a chain's unverified fields: a refusal here costs
    /// no signature verification (a stranger's chain, a revoked or out-of-scope key). Passing
    /// grants nothing: the signatures and the full rules are checked next.
    fn precheck(&self, chain: &KeyChain, clock: UnixTime) -> Result<(), DenialReason> {
        let root = &chain.root().body;
        if self.state.anchors.get(root.issuer).is_none() {
            return Err(DenialReason::UnknownIssuer);
        }
        let revocations = &self.state.revocations;
        let leaf = chain.guest_link().map(|g| &g.body);
        if revocations.key_revoked(root.key_id) || leaf.is_some_and(|g| revocations.key_revoked(g.key_id)) {
            return Err(DenialReason::RevokedKey);
        }
        if revocations.person_revoked(root.person_id) {
            return Err(DenialReason::RevokedPerson);
        }
        if revocations.device_revoked(DeviceId::of(&root.holder.0)) {
            return Err(DenialReason::RevokedDevice);
        }
        let (doors, validity) = match leaf {
            Some(g) => (&g.doors, g.validity),
            None => (&root.doors, root.validity),
        };
        if !doors.contains(self.state.door_id) {
            return Err(DenialReason::WrongDoor);
        }
        if clock < validity.start {
            return Err(DenialReason::NotYetValid);
        }
        if clock >= validity.expiry {
            return Err(DenialReason::Expired);
        }
        Ok(())
    }
}

impl Opened {
    /// A refusal, attributed to `who` (key, person) only when the presenter proved its key.
    fn deny(
        mut self,
        reason: DenialReason,
        who: Option<(crate::credential::KeyId, crate::credential::PersonId)>,
    ) -> Self {
        self.access = Access::Denied(reason);
        self.event = ActivityEvent::AppDenied { key: who.map(|w| w.0), person: who.map(|w| w.1), reason };
        self
    }
}
