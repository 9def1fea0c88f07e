//! The phone side of one unlock session (sans-IO).
//!
//! ```text
//! let mut s = PhoneSession::new(params)?;                  // verifies the door certificate
//! for each received frame:
//!     if let Some(outcome) = s.handle_frame(&frame)? { done(outcome) }
//!     while let Some(f) = s.poll_transmit(mtu) { send(f) }
//! ```

use crate::prelude::*;

use super::error::ProtocolError;
use super::frame::{self, MessageKind, Reassembler};
use super::message::{
    Access, DoorChallenge, DoorResult, RequestBody, ResultMessage, ResumeBody, ResumeRequest, UnlockRequest,
    UpdateReport,
};
use super::outbox::Outbox;
use super::seal::{self, Secret, SessionKeys};
use crate::UnixTime;
use crate::codec::{self, BoundedBytes};
use crate::credential::{
    ActivityEvent, ActivityRecord, DenialReason, DoorCertificate, DoorId, KeyChain, KeyId, KeyPair, PublicKey, Receipt,
    TimeStatement, TrustAnchors, UpdateBatch,
};

/// A one-time ticket for a repeat unlock at one door with one key: the door handed out its id
/// at the end of an earlier session, and both sides derived its secret from that session. Kept
/// by the wallet per door and key; used once (the session that uses it hands out the next).
#[derive(Clone, PartialEq, Eq)]
pub struct ResumeTicket {
    /// The ticket's id, as the door issued it.
    pub id: [u8; 16],
    /// The ticket's secret.
    pub secret: Secret,
    /// The key the ticket was issued for: it is used only with this key's chain.
    pub key_id: KeyId,
}

impl ResumeTicket {
    /// The secret as the wallet stores it: masked with a pad derived from the device key and
    /// the ticket's id, so a copy of the wallet's database without the device key (kept in the
    /// platform's secure storage) opens nothing.
    pub fn masked_secret(&self, device_key: &KeyPair) -> [u8; 32] {
        Self::mask(&self.secret, &self.id, device_key)
    }

    /// The ticket from what [`ResumeTicket::masked_secret`] stored.
    pub fn unmask(id: [u8; 16], masked: &[u8; 32], key_id: KeyId, device_key: &KeyPair) -> Self {
        ResumeTicket { id, secret: Secret::new(Self::mask(masked, &id, device_key)), key_id }
    }

    /// `bytes` XOR the pad of ticket `id` under the device key (its own inverse).
    fn mask(bytes: &[u8; 32], id: &[u8; 16], device_key: &KeyPair) -> [u8; 32] {
        let pad = seal::ephemeral(&device_key.secret(), b"ticket-at-rest", id);
        core::array::from_fn(|i| bytes[i] ^ pad[i])
    }
}

impl core::fmt::Debug for ResumeTicket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResumeTicket").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// What the phone brings to one unlock. Randomness and time come from the caller.
#[derive(Clone, Debug)]
pub struct UnlockParams {
    /// The key chain presented to the door (a resident key, or a guest key and its root).
    pub chain: KeyChain,
    /// The device key the chain's leaf certifies.
    pub device_key: KeyPair,
    /// The certificate of the door the phone believes it is talking to.
    pub door_cert: DoorCertificate,
    /// The authority keys the door certificate must verify against.
    pub anchors: TrustAnchors,
    /// The backend's latest signed batch of this door's pending updates, if any. It is carried
    /// only when it holds updates above the door's seq.
    pub batch: Option<UpdateBatch>,
    /// The highest activity seq the backend already has for this door.
    pub activity_after: u64,
    /// The backend's latest forward-only signed time (from sync). It is sent before the
    /// request only when it is ahead of the door's clock as the challenge states it, so a door
    /// whose clock lags admits a key that starts now (the request stays one frame otherwise).
    pub time: Option<TimeStatement>,
    /// Fresh random bytes for this session (the phone nonce; the session's ephemeral key is
    /// derived from them and the device key).
    pub nonce: [u8; 16],
    /// The phone's clock; only used to compute [`UnlockOutcome::door_clock_skew_secs`].
    pub now: UnixTime,
    /// The ticket from this key's last session at this door, if the wallet holds one: the
    /// session is then a repeat unlock (no public-key work at the door). Ignored for another
    /// key and for deliveries.
    pub resume: Option<ResumeTicket>,
}

/// What an unlock achieved, as the phone can prove it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockOutcome {
    /// Whether the door granted access (the lock actuated).
    pub granted: bool,
    /// The door's reason when it denied access; `None` when granted.
    pub denial: Option<DenialReason>,
    /// Verified with the door key and bound to this session's phone nonce; queue it for upload.
    /// `None` when the door refused the presenter (a refused presenter gets no receipt).
    pub receipt: Option<Receipt>,
    /// The door's report on the carried batch; its `seq_after` matches the receipt's
    /// `applied_seq`.
    pub updates: UpdateReport,
    /// Whether the request carried the batch (false when the door already had every update).
    pub batch_carried: bool,
    /// Whether the phone sent its signed time (the door's clock was behind it).
    pub time_carried: bool,
    /// The door's clock minus the phone's, in seconds (a large value hints at a drifting door).
    pub door_clock_skew_secs: i64,
    /// True when the receipt itself records this session's decision (the first app record after
    /// the challenge's activity head), so `granted`/`denial` are door-signed. False when there
    /// is no receipt, or more than 64 records were pending and this session's record did not
    /// fit; a receipt that contradicts `granted` is an error.
    pub decision_in_receipt: bool,
    /// True when the session was a repeat unlock with the ticket of [`UnlockParams::resume`].
    pub resumed: bool,
    /// The ticket for this key's next session at this door; the one passed in is used up.
    pub ticket: Option<ResumeTicket>,
}

/// The first app-unlock record after the challenge's activity head: this session's decision
/// (one connection at a time; keypad and card records may interleave).
fn session_record(activity: &[ActivityRecord], challenge_head: u64) -> Option<&ActivityEvent> {
    activity
        .iter()
        .filter(|r| r.seq > challenge_head)
        .map(|r| &r.event)
        .find(|e| matches!(e, ActivityEvent::AppUnlock { .. } | ActivityEvent::AppDenied { .. }))
}

fn record_matches(event: &ActivityEvent, access: Access, leaf: KeyId) -> bool {
    match (event, access) {
        (ActivityEvent::AppUnlock { key, .. }, Access::Granted) => *key == leaf,
        (ActivityEvent::AppDenied { reason, .. }, Access::Denied(denial)) => *reason == denial,
        _ => false,
    }
}

/// What the phone keeps of the exchange it started, to read the result.
#[derive(Debug)]
struct Sent {
    challenge: DoorChallenge,
    /// The challenge bytes as received: the transcript covers them.
    challenge_bytes: Vec<u8>,
    keys: SessionKeys,
    /// The secret of the ticket the door's result will name.
    next_secret: Secret,
    batch_carried: bool,
    resumed: bool,
}

#[derive(Debug)]
enum Phase {
    AwaitingChallenge,
    AwaitingResult(Box<Sent>),
    Done,
    Failed,
}

/// The phone side of one unlock: verifies the door's offer, sends the sealed request (and the
/// sealed batch, when the door lacks updates), then opens and verifies the door's result and
/// receipt. Feed it frames with [`PhoneSession::handle_frame`], take frames with
/// [`PhoneSession::poll_transmit`].
#[derive(Debug)]
pub struct PhoneSession {
    chain: KeyChain,
    device_key: KeyPair,
    door_id: DoorId,
    door_key: PublicKey,
    batch: Option<UpdateBatch>,
    activity_after: u64,
    time: Option<TimeStatement>,
    nonce: [u8; 16],
    now: UnixTime,
    resume: Option<ResumeTicket>,
    /// A delivery session ([`PhoneSession::deliver`]): the request goes as `Deliver`.
    delivery: bool,
    phase: Phase,
    /// The time statement bytes sent before the request, once decided.
    carried_time: Option<Vec<u8>>,
    /// The batch bytes (before sealing) sent after the request, once decided.
    carried: Option<Vec<u8>>,
    inbox: Reassembler,
    outbox: Outbox,
}

impl PhoneSession {
    /// Checks the door certificate against the trust anchors, and that it has not expired at
    /// `now`, before anything is sent.
    pub fn new(p: UnlockParams) -> Result<Self, ProtocolError> {
        let door_key = p.door_cert.verify_at(&p.anchors, p.now).map_err(ProtocolError::DoorCertificate)?;
        let resume = p.resume.filter(|t| t.key_id == p.chain.leaf_key_id());
        Ok(PhoneSession {
            chain: p.chain,
            device_key: p.device_key,
            door_id: p.door_cert.body.door_id,
            door_key,
            batch: p.batch,
            activity_after: p.activity_after,
            time: p.time,
            nonce: p.nonce,
            now: p.now,
            resume,
            delivery: false,
            phase: Phase::AwaitingChallenge,
            carried_time: None,
            carried: None,
            inbox: Reassembler::new(
                MessageKind::Challenge,
                DoorChallenge::MAX_LEN,
                frame::MAX_MTU - frame::ATT_OVERHEAD,
            ),
            outbox: Outbox::default(),
        })
    }

    /// A delivery session: the same exchange, but the door is asked not to open. It applies the
    /// carried batch and returns its receipt (with its activity) if it would admit the holder;
    /// the outcome's `granted` then means *admitted*, and nothing was opened or logged. A
    /// delivery is always a full session (no ticket is used).
    pub fn deliver(p: UnlockParams) -> Result<Self, ProtocolError> {
        Ok(PhoneSession { delivery: true, resume: None, ..Self::new(p)? })
    }

    /// The kind the request message goes as: `Resume` with a ticket, `Deliver` for a delivery
    /// session, `Request` otherwise.
    pub fn request_kind(&self) -> MessageKind {
        if self.delivery {
            MessageKind::Deliver
        } else if self.resume.is_some() {
            MessageKind::Resume
        } else {
            MessageKind::Request
        }
    }

    /// The door this session talks to, from the verified door certificate.
    pub fn door_id(&self) -> DoorId {
        self.door_id
    }

    /// Next frame to send to the door, cut for `mtu` (clamped to 23..=517); `None` when
    /// nothing is queued.
    pub fn poll_transmit(&mut self, mtu: usize) -> Option<Vec<u8>> {
        self.outbox.poll(mtu)
    }

    /// True once a result has been verified and the outcome returned (false after a failure).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Feeds one frame from the door; returns the outcome once the result is in. A complete
    /// challenge queues the request (and batch) for [`PhoneSession::poll_transmit`]. A framing,
    /// decoding or verification error fails the session.
    pub fn handle_frame(&mut self, frame: &[u8]) -> Result<Option<UnlockOutcome>, ProtocolError> {
        let pushed = self.inbox.push(frame);
        let message = match pushed {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.fail(e.into())),
        };
        match self.phase {
            Phase::AwaitingChallenge => {
                let kind = self.request_kind();
                let request = self.handle_challenge(&message)?;
                if let Some(time) = &self.carried_time {
                    self.outbox.queue(MessageKind::Time, time.clone());
                }
                self.outbox.queue(kind, request);
                self.queue_batch();
                Ok(None)
            }
            Phase::AwaitingResult(_) => self.handle_result(&message),
            Phase::Done | Phase::Failed => Err(ProtocolError::UnexpectedMessage),
        }
    }

    /// The batch message (unsealed) sent right after the request (set by
    /// [`PhoneSession::handle_challenge`] when the door lacks some of the batch's updates).
    pub fn carried_batch(&self) -> Option<&[u8]> {
        self.carried.as_deref()
    }

    /// The signed time to send before the request (set by [`PhoneSession::handle_challenge`]
    /// when the door's clock is behind it).
    pub fn carried_time(&self) -> Option<&[u8]> {
        self.carried_time.as_deref()
    }

    /// The carried batch, sealed for this session (what goes on the air after the request).
    pub fn sealed_batch(&self) -> Option<Vec<u8>> {
        let (Phase::AwaitingResult(sent), Some(batch)) = (&self.phase, &self.carried) else {
            return None;
        };
        Some(seal::seal(&sent.keys.batch, &sent.keys.transcript, batch))
    }

    fn queue_batch(&mut self) {
        if let Some(sealed) = self.sealed_batch() {
            self.outbox.queue(MessageKind::Batch, sealed);
        }
    }

    /// Verifies the challenge (door id, the offer's signature under the certified door key) and
    /// returns the request message, of kind [`PhoneSession::request_kind`]; the signed time, if
    /// carried, goes before it ([`PhoneSession::carried_time`]) and the sealed batch, if
    /// carried, after it ([`PhoneSession::sealed_batch`]). The message-level step behind
    /// [`PhoneSession::handle_frame`]; called directly, it queues nothing.
    pub fn handle_challenge(&mut self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        if !matches!(self.phase, Phase::AwaitingChallenge) {
            return Err(ProtocolError::UnexpectedMessage);
        }
        let challenge = DoorChallenge::from_bytes(message).map_err(|e| self.fail(e.into()))?;
        // Another door id first: that is simply another door (a neighbour's, the next floor's),
        // not an impostor; nothing is sent to it either way.
        if challenge.door_id() != self.door_id {
            return Err(self.fail(ProtocolError::WrongDoor { expected: self.door_id, got: challenge.door_id() }));
        }
        if let Err(e) = challenge.offer.verify_signature(&self.door_key) {
            return Err(self.fail(ProtocolError::ChallengeSignature(e)));
        }
        let carry = self
            .batch
            .as_ref()
            .is_some_and(|b| b.body.door_id == self.door_id && b.body.last_seq() > challenge.update_seq);
        self.carried = self.batch.as_ref().filter(|_| carry).map(|b| b.to_bytes());
        self.carried_time = self
            .time
            .as_ref()
            .filter(|t| t.body.binding.is_none() && t.body.time > challenge.door_time)
            .map(|t| t.to_bytes());
        let request = match self.resume.clone() {
            Some(ticket) => self.resume_request(challenge, message, &ticket),
            None => self.full_request(challenge, message),
        }?;
        self.inbox =
            Reassembler::new(MessageKind::Result, ResultMessage::MAX_LEN, frame::MAX_MTU - frame::ATT_OVERHEAD);
        Ok(request)
    }

    /// Builds the full request: the ephemeral agreement hides the body, the device key's
    /// agreement makes the proof.
    fn full_request(&mut self, challenge: DoorChallenge, challenge_bytes: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        let kind = if self.delivery { MessageKind::Deliver } else { MessageKind::Request };
        let ephemeral = seal::ephemeral(&self.device_key.secret(), b"phone", &self.nonce);
        let ephemeral_public = seal::dh_public(&ephemeral);
        let door_ephemeral = challenge.offer.body.ephemeral;
        let (Some(ee), Some(se)) =
            (seal::dh(&ephemeral, &door_ephemeral), seal::device_dh(&self.device_key, &door_ephemeral))
        else {
            return Err(self.fail(ProtocolError::WeakOffer));
        };
        let transcript = seal::full_transcript(kind, challenge_bytes, &ephemeral_public);
        let Some(chain) = BoundedBytes::new(self.chain.to_bytes()) else {
            return Err(self.fail(ProtocolError::RequestTooLarge));
        };
        let body = RequestBody {
            phone_nonce: self.nonce,
            activity_after: self.activity_after,
            chain,
            batch_digest: self.carried.as_deref().map(super::message::batch_digest),
        };
        let sealed = seal::seal(&seal::request_key(&transcript, &ee), &transcript, &codec::encode(&body));
        let proof = seal::proof_tag(&seal::proof_key(&transcript, &ee, &se), &sealed);
        let Some(sealed) = BoundedBytes::new(sealed) else {
            return Err(self.fail(ProtocolError::RequestTooLarge));
        };
        let request =
            UnlockRequest { version: super::message::PROTOCOL_VERSION, ephemeral: ephemeral_public, sealed, proof };
        self.phase = Phase::AwaitingResult(Box::new(Sent {
            keys: SessionKeys::full(transcript, &ee),
            next_secret: seal::resume_secret(&transcript, &ee, &se),
            challenge,
            challenge_bytes: challenge_bytes.to_vec(),
            batch_carried: self.carried.is_some(),
            resumed: false,
        }));
        Ok(request.to_bytes())
    }

    /// Builds a repeat unlock's request under the ticket's secret.
    fn resume_request(
        &mut self,
        challenge: DoorChallenge,
        challenge_bytes: &[u8],
        ticket: &ResumeTicket,
    ) -> Result<Vec<u8>, ProtocolError> {
        let transcript = seal::resume_transcript(MessageKind::Resume, challenge_bytes, &ticket.id);
        let body = ResumeBody {
            phone_nonce: self.nonce,
            activity_after: self.activity_after,
            batch_digest: self.carried.as_deref().map(super::message::batch_digest),
        };
        let sealed =
            seal::seal(&seal::resume_request_key(&transcript, &ticket.secret), &transcript, &codec::encode(&body));
        let Some(sealed) = BoundedBytes::new(sealed) else {
            return Err(self.fail(ProtocolError::RequestTooLarge));
        };
        let request = ResumeRequest { version: super::message::PROTOCOL_VERSION, ticket: ticket.id, sealed };
        self.phase = Phase::AwaitingResult(Box::new(Sent {
            keys: SessionKeys::resumed(transcript, &ticket.secret),
            next_secret: seal::next_resume_secret(&transcript, &ticket.secret),
            challenge,
            challenge_bytes: challenge_bytes.to_vec(),
            batch_carried: self.carried.is_some(),
            resumed: true,
        }));
        Ok(request.to_bytes())
    }

    /// Opens and verifies the result (the seal, then the receipt's door key, door id, this
    /// session's nonce, seqs, the recorded decision) and yields the outcome. The door's
    /// refusal of a ticket queues a full request instead (`Ok(None)`). The message-level step
    /// behind [`PhoneSession::handle_frame`].
    pub fn handle_result(&mut self, message: &[u8]) -> Result<Option<UnlockOutcome>, ProtocolError> {
        let Phase::AwaitingResult(sent) = &self.phase else {
            return Err(ProtocolError::UnexpectedMessage);
        };
        let sealed = match ResultMessage::from_bytes(message) {
            Ok(ResultMessage::Sealed(sealed)) => sealed,
            Ok(ResultMessage::ResumeRefused) if sent.resumed => {
                // The door lost the ticket (a restart, an eviction): a full request, same session.
                let (challenge, challenge_bytes) = (sent.challenge.clone(), sent.challenge_bytes.clone());
                self.resume = None;
                let request = self.full_request(challenge, &challenge_bytes)?;
                self.outbox.queue(MessageKind::Request, request);
                self.queue_batch();
                self.inbox =
                    Reassembler::new(MessageKind::Result, ResultMessage::MAX_LEN, frame::MAX_MTU - frame::ATT_OVERHEAD);
                return Ok(None);
            }
            Ok(ResultMessage::ResumeRefused) => return Err(self.fail(ProtocolError::UnexpectedMessage)),
            Err(e) => return Err(self.fail(e.into())),
        };
        let Some(plain) = seal::open(&sent.keys.result, &sent.keys.transcript, &sealed) else {
            return Err(self.fail(ProtocolError::ResultNotSealed));
        };
        let result = DoorResult::from_bytes(&plain).map_err(|e| self.fail(e.into()))?;
        let Phase::AwaitingResult(sent) = core::mem::replace(&mut self.phase, Phase::Failed) else {
            unreachable!("checked above");
        };
        let (challenge_seq, challenge_head) = (sent.challenge.update_seq, sent.challenge.activity_head);
        let mut decision_in_receipt = false;
        match &result.receipt {
            Some(receipt) => {
                if let Err(e) = receipt.verify_signature(&self.door_key) {
                    return Err(self.fail(ProtocolError::ReceiptSignature(e)));
                }
                let body = &receipt.body;
                if body.door_id != self.door_id {
                    return Err(
                        self.fail(ProtocolError::ReceiptWrongDoor { expected: self.door_id, got: body.door_id })
                    );
                }
                if body.phone_nonce != self.nonce {
                    return Err(self.fail(ProtocolError::ReceiptNotBound));
                }
                if body.applied_seq < challenge_seq {
                    return Err(self.fail(ProtocolError::ReceiptSeqBackwards {
                        challenge: challenge_seq,
                        receipt: body.applied_seq,
                    }));
                }
                if result.updates.seq_after != body.applied_seq {
                    return Err(self.fail(ProtocolError::ReportMismatch {
                        report: result.updates.seq_after,
                        receipt: body.applied_seq,
                    }));
                }
                decision_in_receipt = match session_record(&body.activity, challenge_head) {
                    None => false,
                    Some(event) if record_matches(event, result.access, self.chain.leaf_key_id()) => true,
                    Some(_) => return Err(self.fail(ProtocolError::DecisionContradictsReceipt)),
                };
            }
            // An admitted holder always gets its receipt: a grant without one is not the door's.
            None if result.access.is_granted() => return Err(self.fail(ProtocolError::DecisionContradictsReceipt)),
            None => {}
        }
        let skew = result.receipt.as_ref().map_or(sent.challenge.door_time.0, |r| r.body.door_time.0) as i128
            - self.now.0 as i128;
        let ticket = result.ticket.map(|id| ResumeTicket {
            id,
            secret: sent.next_secret.clone(),
            key_id: self.chain.leaf_key_id(),
        });
        self.phase = Phase::Done;
        Ok(Some(UnlockOutcome {
            granted: result.access.is_granted(),
            denial: result.access.denial(),
            door_clock_skew_secs: skew.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            receipt: result.receipt,
            updates: result.updates,
            batch_carried: sent.batch_carried,
            time_carried: self.carried_time.is_some(),
            decision_in_receipt,
            resumed: sent.resumed,
            ticket,
        }))
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.phase = Phase::Failed;
        e
    }
}
