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
use super::message::{Access, ChallengeBody, DoorChallenge, DoorResult, UnlockRequest, UpdateReport};
use super::outbox::Outbox;
use crate::UnixTime;
use crate::credential::{
    ActivityEvent, ActivityRecord, DenialReason, DoorCertificate, DoorId, KeyChain, KeyId, KeyPair, PublicKey, Receipt,
    SignedBody, TimeStatement, TrustAnchors, UpdateBatch,
};

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
    /// Fresh random bytes for this session.
    pub nonce: [u8; 16],
    /// The phone's clock; only used to compute [`UnlockOutcome::door_clock_skew_secs`].
    pub now: UnixTime,
}

/// What an unlock achieved, as the phone can prove it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockOutcome {
    /// Whether the door granted access (the lock actuated).
    pub granted: bool,
    /// The door's reason when it denied access; `None` when granted.
    pub denial: Option<DenialReason>,
    /// Verified with the door key and bound to this session's phone nonce; queue it for upload.
    pub receipt: Receipt,
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
    /// the challenge's activity head), so `granted`/`denial` are door-signed, not just the
    /// door's word over the link. False only when more than 64 records were pending and this
    /// session's record did not fit; a receipt that contradicts `granted` is an error.
    pub decision_in_receipt: bool,
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

#[derive(Debug)]
enum Phase {
    AwaitingChallenge,
    AwaitingResult { challenge: ChallengeBody, batch_carried: bool },
    Done,
    Failed,
}

/// The phone side of one unlock: verifies the door's challenge, sends the request (and the
/// batch, when the door lacks updates), then verifies the door's result and receipt. Feed it
/// frames with [`PhoneSession::handle_frame`], take frames with [`PhoneSession::poll_transmit`].
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
    /// A delivery session ([`PhoneSession::deliver`]): the request goes as `Deliver`.
    delivery: bool,
    phase: Phase,
    /// The time statement bytes sent before the request, once decided.
    carried_time: Option<Vec<u8>>,
    /// The batch bytes sent after the request, once decided.
    carried: Option<Vec<u8>>,
    inbox: Reassembler,
    outbox: Outbox,
}

impl PhoneSession {
    /// Checks the door certificate against the trust anchors, and that it has not expired at
    /// `now`, before anything is sent.
    pub fn new(p: UnlockParams) -> Result<Self, ProtocolError> {
        let door_key = p.door_cert.verify_at(&p.anchors, p.now).map_err(ProtocolError::DoorCertificate)?;
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
            delivery: false,
            phase: Phase::AwaitingChallenge,
            carried_time: None,
            carried: None,
            inbox: Reassembler::new(
                MessageKind::Challenge,
                ChallengeBody::MAX_LEN,
                frame::MAX_MTU - frame::ATT_OVERHEAD,
            ),
            outbox: Outbox::default(),
        })
    }

    /// A delivery session: the same exchange, but the door is asked not to open. It applies the
    /// carried batch and returns its receipt (with its activity) if it would admit the holder;
    /// the outcome's `granted` then means *admitted*, and nothing was opened or logged.
    pub fn deliver(p: UnlockParams) -> Result<Self, ProtocolError> {
        Ok(PhoneSession { delivery: true, ..Self::new(p)? })
    }

    /// Whether this is a delivery session ([`PhoneSession::deliver`]).
    pub fn is_delivery(&self) -> bool {
        self.delivery
    }

    /// The kind the request message goes as: `Request`, or `Deliver` for a delivery session.
    pub fn request_kind(&self) -> MessageKind {
        if self.delivery { MessageKind::Deliver } else { MessageKind::Request }
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
                let request = self.handle_challenge(&message)?;
                if let Some(time) = &self.carried_time {
                    self.outbox.queue(MessageKind::Time, time.clone());
                }
                self.outbox.queue(self.request_kind(), request);
                if let Some(batch) = &self.carried {
                    self.outbox.queue(MessageKind::Batch, batch.clone());
                }
                Ok(None)
            }
            Phase::AwaitingResult { .. } => self.handle_result(&message).map(Some),
            Phase::Done | Phase::Failed => Err(ProtocolError::UnexpectedMessage),
        }
    }

    /// The batch message to send right after the request (set by
    /// [`PhoneSession::handle_challenge`] when the door lacks some of the batch's updates).
    pub fn carried_batch(&self) -> Option<&[u8]> {
        self.carried.as_deref()
    }

    /// The signed time to send before the request (set by [`PhoneSession::handle_challenge`]
    /// when the door's clock is behind it).
    pub fn carried_time(&self) -> Option<&[u8]> {
        self.carried_time.as_deref()
    }

    /// Verifies the challenge (door key, door id) and returns the request message; the signed
    /// time, if carried, goes before it ([`PhoneSession::carried_time`]) and the batch, if
    /// carried, after it ([`PhoneSession::carried_batch`]). The message-level step behind
    /// [`PhoneSession::handle_frame`]; called directly, it queues nothing.
    pub fn handle_challenge(&mut self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        if !matches!(self.phase, Phase::AwaitingChallenge) {
            return Err(ProtocolError::UnexpectedMessage);
        }
        let challenge = DoorChallenge::from_bytes(message).map_err(|e| self.fail(e.into()))?;
        // Another door id first: that is simply another door (a neighbour's, the next floor's),
        // not an impostor; nothing is sent to it either way.
        if challenge.body.door_id != self.door_id {
            return Err(self.fail(ProtocolError::WrongDoor { expected: self.door_id, got: challenge.body.door_id }));
        }
        if let Err(e) = challenge.verify_signature(&self.door_key) {
            return Err(self.fail(ProtocolError::ChallengeSignature(e)));
        }
        let carry = self
            .batch
            .as_ref()
            .is_some_and(|b| b.body.door_id == self.door_id && b.body.last_seq() > challenge.body.update_seq);
        let carried = self.batch.as_ref().filter(|_| carry).map(|b| b.to_bytes());
        let sign = if self.delivery { UnlockRequest::sign_delivery } else { UnlockRequest::sign };
        let signed = sign(
            self.door_id,
            challenge.body.nonce,
            self.nonce,
            self.activity_after,
            &self.chain,
            carried.as_deref(),
            &self.device_key,
        );
        let Some(request) = signed else {
            return Err(self.fail(ProtocolError::RequestTooLarge));
        };
        self.carried = carried;
        self.carried_time = self
            .time
            .as_ref()
            .filter(|t| t.body.binding.is_none() && t.body.time > challenge.body.door_time)
            .map(|t| t.to_bytes());
        self.phase = Phase::AwaitingResult { challenge: challenge.body, batch_carried: carry };
        self.inbox = Reassembler::new(MessageKind::Result, DoorResult::MAX_LEN, frame::MAX_MTU - frame::ATT_OVERHEAD);
        Ok(request.to_bytes())
    }

    /// Verifies the result's receipt (door key, door id, this session's nonce, seqs, the
    /// recorded decision) and yields the outcome. The message-level step behind
    /// [`PhoneSession::handle_frame`].
    pub fn handle_result(&mut self, message: &[u8]) -> Result<UnlockOutcome, ProtocolError> {
        let Phase::AwaitingResult { challenge, batch_carried } = &self.phase else {
            return Err(ProtocolError::UnexpectedMessage);
        };
        let (challenge_seq, challenge_head, batch_carried) =
            (challenge.update_seq, challenge.activity_head, *batch_carried);
        let result = DoorResult::from_bytes(message).map_err(|e| self.fail(e.into()))?;
        if let Err(e) = result.receipt.verify_signature(&self.door_key) {
            return Err(self.fail(ProtocolError::ReceiptSignature(e)));
        }
        let body = &result.receipt.body;
        if body.door_id != self.door_id {
            return Err(self.fail(ProtocolError::ReceiptWrongDoor { expected: self.door_id, got: body.door_id }));
        }
        if body.phone_nonce != self.nonce {
            return Err(self.fail(ProtocolError::ReceiptNotBound));
        }
        if body.applied_seq < challenge_seq {
            return Err(
                self.fail(ProtocolError::ReceiptSeqBackwards { challenge: challenge_seq, receipt: body.applied_seq })
            );
        }
        if result.updates.seq_after != body.applied_seq {
            return Err(self
                .fail(ProtocolError::ReportMismatch { report: result.updates.seq_after, receipt: body.applied_seq }));
        }
        let decision_in_receipt = match session_record(&body.activity, challenge_head) {
            None => false,
            Some(event) if record_matches(event, result.access, self.chain.leaf_key_id()) => true,
            Some(_) => return Err(self.fail(ProtocolError::DecisionContradictsReceipt)),
        };
        let skew = body.door_time.0 as i128 - self.now.0 as i128;
        self.phase = Phase::Done;
        Ok(UnlockOutcome {
            granted: result.access.is_granted(),
            denial: result.access.denial(),
            door_clock_skew_secs: skew.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            receipt: result.receipt,
            updates: result.updates,
            batch_carried,
            time_carried: self.carried_time.is_some(),
            decision_in_receipt,
        })
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.phase = Phase::Failed;
        e
    }
}
