//! Unlocking a door over any [`Link`]: choose the key, run the phone side of the protocol,
//! hand over pending updates, keep the receipt for upload.
//!
//! Several properties: a door is its property and its door id, and a door's advertisement
//! carries only the id. When more than one property (or guest-key offer) knows the door id
//! and holds a key for it, the wallet prepares one session per candidate (each with its own
//! property's door certificate, key, pending updates and signed time) and lets the door's
//! signed challenge decide: the candidate whose certified door key verifies the challenge is
//! the door at the other end, and only that session answers; the others are dropped without
//! sending anything. A challenge no candidate verifies fails as with one candidate
//! (`WrongDoor` for another door id, `DoorNotTrusted` for a bad signature).

use super::key_state::pick_key;
use super::{Result, Wallet, WalletError};
use crate::store::{Property, PropertyId};
use keyway_link::{Link, LinkError, UnlockError};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DenialReason, DoorCertificate, DoorId, KeyChain, KeyId, TrustAnchors};
use keyway_protocol::unlock::frame::{MAX_MTU, MIN_MTU};
use keyway_protocol::unlock::{PhoneSession, ProtocolError, ResumeTicket, UnlockOutcome, UnlockParams};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long an unlock may take from the subscription to the door's result.
pub const UNLOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What an unlock did, from the door's verified receipt: the one shape from the wallet to the
/// app (the bindings expose this type itself, not a copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockReport {
    /// The door that was unlocked (or refused).
    pub door_id: DoorId,
    /// The door's name as the property calls it.
    pub door_name: String,
    /// The key the wallet presented.
    pub key_id: KeyId,
    /// Whether that key is a guest key.
    pub is_guest: bool,
    /// Whether the door opened.
    pub granted: bool,
    /// Why the door refused, when it did.
    pub denial: Option<DenialReason>,
    /// The door's update seq before and after this session.
    pub seq_before: u64,
    pub seq_after: u64,
    /// Whether pending updates were handed over.
    pub updates_carried: bool,
    /// Whether the wallet's signed time went along (the door's clock was behind it).
    pub time_carried: bool,
    /// Activity records the door sent back (queued for upload with the receipt).
    pub activity_records: u32,
    /// The property whose door it was (`None`: a door known only from a guest-key offer).
    pub property: Option<Property>,
    /// A repeat unlock: the ticket from this key's last session at this door opened it, with
    /// no public-key work at the door.
    pub resumed: bool,
}

/// Whose trust an unlock runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The property's anchors and door certificate: pending updates go along and the receipt
    /// is uploaded.
    Property(PropertyId),
    /// A guest-key offer's own anchors and door certificate: nothing of the property's goes
    /// along (no pending updates, no activity asked for) and the receipt stays on the device.
    Offer,
}

impl Scope {
    /// The property a resume ticket is kept under (0 for a door known from an offer).
    pub(crate) fn ticket_property(&self) -> i64 {
        match self {
            Scope::Property(p) => i64::from(p.0),
            Scope::Offer => 0,
        }
    }
}

/// Activity records an outcome's receipt carried (0 without a receipt).
pub(crate) fn activity_records(outcome: &UnlockOutcome) -> u32 {
    outcome.receipt.as_ref().map_or(0, |r| u32::try_from(r.body.activity.len()).unwrap_or(u32::MAX))
}

/// The key to present and what to check the door against.
pub(crate) struct DoorContext {
    pub(crate) scope: Scope,
    pub(crate) chain: KeyChain,
    pub(crate) door_name: String,
    pub(crate) door_cert: DoorCertificate,
    pub(crate) anchors: TrustAnchors,
}

/// How an unlock runs. `Default` is what [`Wallet::unlock`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnlockOptions {
    /// Bound on the whole exchange, from the subscription to the door's result.
    pub timeout: Duration,
}

impl Default for UnlockOptions {
    fn default() -> Self {
        UnlockOptions { timeout: UNLOCK_TIMEOUT }
    }
}

/// An unlock ready to run: the key, the door's trust and the session are chosen (one per
/// candidate property when several know the door id), and nothing of the wallet is needed
/// until its result is recorded ([`Wallet::record_unlock`]). This is what lets the exchange
/// with the door run without holding the wallet.
pub struct PreparedUnlock {
    pub(crate) candidates: Candidates,
    pub(crate) timeout: Duration,
}

/// What an unlock presents, kept for its report.
pub(crate) struct Attempt {
    pub(crate) door: DoorId,
    pub(crate) scope: Scope,
    pub(crate) chain: KeyChain,
    pub(crate) door_name: String,
    pub(crate) epoch: u64,
}

/// The door's verified answer to a [`PreparedUnlock`], not recorded yet.
pub struct FinishedUnlock {
    pub(crate) attempt: Attempt,
    pub(crate) outcome: UnlockOutcome,
}

/// The sessions of an unlock's candidates, driven as one: every frame from the door goes to
/// each candidate still in the running until one answers the challenge (its door certificate
/// verified it); from then on only that one. Nothing is sent before a candidate answered.
pub(crate) struct Candidates {
    live: Vec<(Attempt, PhoneSession)>,
    chosen: Option<(Attempt, PhoneSession)>,
    /// The chosen session's first frame, taken to tell it was the one.
    first: VecDeque<Vec<u8>>,
}

impl Candidates {
    pub(crate) fn new(live: Vec<(Attempt, PhoneSession)>) -> Self {
        Candidates { live, chosen: None, first: VecDeque::new() }
    }

    /// How many candidates are still in the running.
    pub(crate) fn len(&self) -> usize {
        self.live.len() + usize::from(self.chosen.is_some())
    }

    /// One frame from the door. `mtu` sizes a chosen session's first frame.
    pub(crate) fn handle_frame(
        &mut self,
        frame: &[u8],
        mtu: usize,
    ) -> std::result::Result<Option<UnlockOutcome>, ProtocolError> {
        if let Some((_, session)) = &mut self.chosen {
            return session.handle_frame(frame);
        }
        let mut first_error = None;
        let mut running = Vec::new();
        for (attempt, mut session) in std::mem::take(&mut self.live) {
            if self.chosen.is_some() {
                break;
            }
            match session.handle_frame(frame) {
                Err(e) => {
                    first_error.get_or_insert(e);
                }
                Ok(Some(outcome)) => {
                    self.chosen = Some((attempt, session));
                    return Ok(Some(outcome));
                }
                Ok(None) => match session.poll_transmit(mtu) {
                    Some(out) => {
                        self.first.push_back(out);
                        self.chosen = Some((attempt, session));
                    }
                    None => running.push((attempt, session)),
                },
            }
        }
        if self.chosen.is_none() {
            if running.is_empty() {
                return Err(first_error.unwrap_or(ProtocolError::UnexpectedMessage));
            }
            self.live = running;
        }
        Ok(None)
    }

    /// The next frame to send to the door (only once a candidate answered).
    pub(crate) fn poll_transmit(&mut self, mtu: usize) -> Option<Vec<u8>> {
        if let Some(out) = self.first.pop_front() {
            return Some(out);
        }
        self.chosen.as_mut().and_then(|(_, s)| s.poll_transmit(mtu))
    }

    /// Whether the answering session carries door updates.
    pub(crate) fn carrying_updates(&self) -> bool {
        self.chosen.as_ref().is_some_and(|(_, s)| s.carried_batch().is_some())
    }

    /// The key the answering session presents (the first candidate's before one answered).
    pub(crate) fn key_id(&self) -> KeyId {
        match (&self.chosen, self.live.first()) {
            (Some((a, _)), _) | (None, Some((a, _))) => a.chain.leaf_key_id(),
            (None, None) => KeyId(0),
        }
    }

    /// The answering candidate's attempt, with the door's outcome.
    pub(crate) fn finish(self, outcome: UnlockOutcome) -> Result<FinishedUnlock> {
        let (attempt, _) =
            self.chosen.ok_or(WalletError::Unlock(UnlockError::Protocol(ProtocolError::UnexpectedMessage)))?;
        Ok(FinishedUnlock { attempt, outcome })
    }
}

/// The blocking exchange of `candidates` over `link` within `timeout`, reporting each step;
/// `link` is closed when it returns.
pub(crate) fn run_candidates(
    link: &mut dyn Link,
    mut candidates: Candidates,
    timeout: Duration,
    on_step: &mut dyn FnMut(keyway_link::UnlockStep, KeyId),
) -> Result<FinishedUnlock> {
    let deadline = Instant::now() + timeout;
    let result = (|| {
        let mtu = link.mtu();
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Err(UnlockError::Link(LinkError::BadMtu(mtu)));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(UnlockError::Timeout(timeout));
            }
            let frame = match link.recv(left) {
                Ok(f) => f,
                Err(LinkError::Timeout) => return Err(UnlockError::Timeout(timeout)),
                Err(e) => return Err(e.into()),
            };
            let outcome = candidates.handle_frame(&frame, mtu)?;
            let mut sent = false;
            while let Some(out) = candidates.poll_transmit(mtu) {
                if !sent {
                    let carrying_updates = candidates.carrying_updates();
                    on_step(keyway_link::UnlockStep::DoorVerified { carrying_updates }, candidates.key_id());
                    sent = true;
                }
                link.send(&out)?;
            }
            if sent {
                on_step(keyway_link::UnlockStep::RequestSent, candidates.key_id());
            }
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
        }
    })();
    link.close();
    candidates.finish(result?)
}

impl PreparedUnlock {
    /// The exchange with the door over `link` (already connected to it), bounded by the
    /// prepared timeout. Needs no wallet.
    pub fn exchange(self, link: &mut dyn Link) -> Result<FinishedUnlock> {
        run_candidates(link, self.candidates, self.timeout, &mut |_, _| {})
    }

    /// How many candidate properties (or offers) the door's challenge chooses among.
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }
}

impl Wallet {
    /// Unlocks `door` over `link` (already connected to it) with the best key this wallet
    /// holds, offline if need be. Delivered updates are dropped only when the door's signed
    /// receipt shows them applied; a failed session changes nothing here. When several
    /// properties have a door with this id, the door's signed challenge says which it is.
    pub fn unlock(&mut self, door: DoorId, link: &mut dyn Link) -> Result<UnlockReport> {
        self.unlock_with(door, link, UnlockOptions::default())
    }

    /// [`Wallet::unlock`] with explicit options.
    pub fn unlock_with(&mut self, door: DoorId, link: &mut dyn Link, options: UnlockOptions) -> Result<UnlockReport> {
        let finished = self.prepare_unlock(door, options)?.exchange(link)?;
        self.record_unlock(finished)
    }

    /// Chooses the keys and the trust for `door` and builds the sessions (step 1 of 3:
    /// prepare, [`PreparedUnlock::exchange`], [`Wallet::record_unlock`]).
    pub fn prepare_unlock(&self, door: DoorId, options: UnlockOptions) -> Result<PreparedUnlock> {
        let now = self.now()?;
        let mut live = Vec::new();
        for ctx in self.door_contexts(door, now)? {
            // An offer's key belongs to another property, whose doors would not take this one's
            // pending updates or signed time; each property's go only to its own doors.
            let (batch, activity_after, time) = match ctx.scope {
                Scope::Property(p) => (
                    self.store.pending_of(p, door)?.map(|b| b.batch),
                    self.store.activity_after_of(p, door)?,
                    self.store.time_statement_of(p)?,
                ),
                Scope::Offer => (None, u64::MAX, None),
            };
            let (attempt, params) = self.session_for(door, ctx, batch, activity_after, time, now);
            live.push((attempt, PhoneSession::new(params)?));
        }
        Ok(PreparedUnlock { candidates: Candidates::new(live), timeout: options.timeout })
    }

    /// What a session at `door` under `ctx` presents (a fresh phone nonce), and the attempt
    /// its result is recorded under.
    pub(crate) fn session_for(
        &self,
        door: DoorId,
        ctx: DoorContext,
        batch: Option<keyway_protocol::credential::UpdateBatch>,
        activity_after: u64,
        time: Option<keyway_protocol::credential::TimeStatement>,
        now: UnixTime,
    ) -> (Attempt, UnlockParams) {
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        // A ticket the store cannot read only costs a full unlock.
        let resume = self
            .store
            .resume_ticket(ctx.scope.ticket_property(), door, ctx.chain.leaf_key_id())
            .ok()
            .flatten()
            .map(|(id, masked)| ResumeTicket::unmask(id, &masked, ctx.chain.leaf_key_id(), &self.device));
        let params = UnlockParams {
            chain: ctx.chain.clone(),
            device_key: self.device.clone(),
            door_cert: ctx.door_cert,
            anchors: ctx.anchors,
            batch,
            activity_after,
            time,
            nonce,
            now,
            resume,
        };
        (Attempt { door, scope: ctx.scope, chain: ctx.chain, door_name: ctx.door_name, epoch: self.epoch }, params)
    }

    /// Stores the door's receipt (step 3). Refused with [`WalletError::Reset`] when the wallet
    /// was reset since the unlock was prepared, and with [`WalletError::UnknownProperty`] when
    /// the door's property was left: a signed-out wallet keeps nothing of it.
    pub fn record_unlock(&mut self, finished: FinishedUnlock) -> Result<UnlockReport> {
        let FinishedUnlock { attempt: ctx, outcome } = finished;
        if ctx.epoch != self.epoch {
            return Err(WalletError::Reset);
        }
        let property = match ctx.scope {
            Scope::Property(p) => {
                let property = self.property(p)?;
                if let Some(receipt) = &outcome.receipt {
                    self.store.record_receipt_in(p, receipt, keyway_api::clock::now())?;
                }
                Some(property)
            }
            Scope::Offer => {
                if let Some(receipt) = &outcome.receipt {
                    self.store.record_offer_receipt(receipt, keyway_api::clock::now())?;
                }
                None
            }
        };
        self.keep_ticket(&ctx, &outcome)?;
        Ok(UnlockReport {
            door_id: ctx.door,
            door_name: ctx.door_name,
            key_id: ctx.chain.leaf_key_id(),
            is_guest: ctx.chain.guest_link().is_some(),
            granted: outcome.granted,
            denial: outcome.denial,
            seq_before: outcome.updates.seq_before,
            seq_after: outcome.updates.seq_after,
            updates_carried: outcome.batch_carried,
            time_carried: outcome.time_carried,
            activity_records: activity_records(&outcome),
            property,
            resumed: outcome.resumed,
        })
    }

    /// Keeps the ticket the door's result named for this key's next session at this door; a
    /// used ticket is gone either way.
    pub(crate) fn keep_ticket(&mut self, ctx: &Attempt, outcome: &UnlockOutcome) -> Result<()> {
        let stored = outcome.ticket.as_ref().map(|t| (t.id, t.masked_secret(&self.device)));
        if stored.is_none() && !outcome.resumed {
            return Ok(());
        }
        let now = keyway_api::clock::now();
        self.store.set_resume_ticket(ctx.scope.ticket_property(), ctx.door, ctx.chain.leaf_key_id(), stored, now)?;
        Ok(())
    }

    /// The keys and trust to try at `door`, best first: for each property with a certificate
    /// of that door id, its best key (its own keys, and any offered key that verifies under its
    /// anchors); only when no property's key opens the door, each offered key with its own
    /// offer's certificate for that door id. `UnknownDoor` when nobody certifies the door id,
    /// `NoKeyForDoor` when no key held opens it now.
    pub(crate) fn door_contexts(&self, door: DoorId, now: UnixTime) -> Result<Vec<DoorContext>> {
        let keys = self.store.usable_keys(now)?;
        let mut known = false;
        let mut found = Vec::new();
        for property in self.store.properties()? {
            let p = property.id;
            let Some((door_name, door_cert)) = self.store.door_cert_of(p, door)? else { continue };
            known = true;
            let anchors = self.store.anchors_of(p)?;
            let ours = keys
                .iter()
                .filter(|k| k.property == Some(p) || (k.offered && k.chain.verify_structure(&anchors).is_ok()));
            if let Some(chain) = pick_key(ours.map(|k| (&k.chain, k.revoked)), door, now) {
                found.push(DoorContext {
                    scope: Scope::Property(p),
                    chain: chain.clone(),
                    door_name,
                    door_cert,
                    anchors,
                });
            }
        }
        if !found.is_empty() {
            return Ok(found);
        }
        let offers = self.store.offers()?;
        // A door is known from any offer that certifies it, usable now or not: an upcoming
        // guest key's door is "no key opens it yet", not "unknown".
        known |= offers.iter().any(|(offer, _)| offer.door_cert(door).is_some());
        if !known {
            return Err(WalletError::UnknownDoor(door));
        }
        let mut usable: Vec<_> = offers
            .iter()
            .filter_map(|(offer, _)| {
                let held = keys.iter().find(|k| k.offered && k.chain == offer.chain)?;
                let cert = offer.door_cert(door)?;
                pick_key([(&offer.chain, held.revoked)], door, now)?;
                Some((offer, cert))
            })
            .collect();
        // The best key first, as for a property's keys.
        if let Some(best) = pick_key(usable.iter().map(|(o, _)| (&o.chain, false)), door, now).cloned() {
            usable.sort_by_key(|(o, _)| o.chain != best);
        }
        let contexts: Vec<DoorContext> = usable
            .into_iter()
            .map(|(offer, cert)| DoorContext {
                scope: Scope::Offer,
                chain: offer.chain.clone(),
                door_name: door.to_string(),
                door_cert: cert.clone(),
                anchors: offer.anchors(),
            })
            .collect();
        if contexts.is_empty() {
            return Err(WalletError::NoKeyForDoor(door));
        }
        Ok(contexts)
    }
}
