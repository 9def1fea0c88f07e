//! The door side of one unlock session (sans-IO).
//!
//! ```text
//! let mut s = DoorSession::new(&mut door, now, nonce);   // challenge queued
//! while let Some(f) = s.poll_transmit(mtu) { send(f) }
//! for each received frame:
//!     if let Some(access) = s.handle_frame(&mut door, &frame, now)? {
//!         actuate(access);                                // decided from the request alone
//!     }
//!     if s.is_ready_to_finish() {
//!         s.finish(&mut door, now)?;                      // then updates, receipt, result
//!         while let Some(f) = s.poll_transmit(mtu) { send(f) }
//!     }
//! ```

use super::error::DoorSessionError;
use super::frame::{self, MessageKind, Reassembler};
use super::message::{
    Access, DoorChallenge, DoorResult, MAX_BATCH_BYTES, PROTOCOL_VERSION, UnlockRequest, UpdateRejection, batch_digest,
};
use super::outbox::Outbox;
use crate::UnixTime;
use crate::door::DoorEngine;

const MAX_FRAME: usize = frame::MAX_MTU - frame::ATT_OVERHEAD;

#[derive(Debug)]
enum Phase {
    AwaitingRequest,
    /// Decided; waiting for the announced batch.
    AwaitingBatch { access: Access, request: Box<UnlockRequest> },
    /// Decided, and everything the phone announced is in.
    Ready { access: Access, request: Box<UnlockRequest>, batch: Option<Vec<u8>> },
    Done,
    Failed,
}

/// One connection's exchange at the door. Holds the challenge nonce, at most one partially
/// received message (a request of at most [`UnlockRequest::MAX_LEN`] bytes, then a batch of at
/// most 128 KiB) and the outgoing frames; nothing is kept in the [`DoorEngine`] per session.
#[derive(Debug)]
pub struct DoorSession {
    challenge: DoorChallenge,
    phase: Phase,
    inbox: Reassembler,
    outbox: Outbox,
}

impl DoorSession {
    /// Starts a session: signs a challenge with the caller's fresh random `nonce` and queues it.
    pub fn new(door: &mut DoorEngine, now: UnixTime, nonce: [u8; 16]) -> Self {
        let challenge = door.challenge(now, nonce);
        let mut outbox = Outbox::default();
        outbox.queue(MessageKind::Challenge, challenge.to_bytes());
        DoorSession {
            challenge,
            phase: Phase::AwaitingRequest,
            inbox: Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME),
            outbox,
        }
    }

    pub fn challenge(&self) -> &DoorChallenge {
        &self.challenge
    }

    /// Next frame to send to the phone.
    pub fn poll_transmit(&mut self, mtu: usize) -> Option<Vec<u8>> {
        self.outbox.poll(mtu)
    }

    /// The decision, once made.
    pub fn access(&self) -> Option<Access> {
        match &self.phase {
            Phase::AwaitingBatch { access, .. } | Phase::Ready { access, .. } => Some(*access),
            _ => None,
        }
    }

    /// True once the request (and the batch it announced) are in: call [`DoorSession::finish`].
    pub fn is_ready_to_finish(&self) -> bool {
        matches!(self.phase, Phase::Ready { .. })
    }

    /// True once the result has been queued and every frame taken.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done) && self.outbox.is_empty()
    }

    /// Bytes buffered for a partial message.
    pub fn buffered(&self) -> usize {
        self.inbox.buffered()
    }

    /// Feeds one frame from the phone. Returns the access decision when the request is complete
    /// (the caller actuates at once); when [`DoorSession::is_ready_to_finish`] turns true, the
    /// caller calls [`DoorSession::finish`]. Any framing or decoding error fails the session (the
    /// caller drops the connection).
    pub fn handle_frame(&mut self, door: &mut DoorEngine, frame: &[u8], now: UnixTime) -> Result<Option<Access>, DoorSessionError> {
        if !matches!(self.phase, Phase::AwaitingRequest | Phase::AwaitingBatch { .. }) {
            return Err(DoorSessionError::UnexpectedFrame);
        }
        let message = match self.inbox.push(frame) {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.phase = Phase::Failed;
                return Err(e.into());
            }
        };
        match self.phase {
            Phase::AwaitingRequest => self.handle_request(door, &message, now).map(Some),
            _ => self.handle_batch(&message).map(|()| None),
        }
    }

    /// Decides a complete request message (the message-level entry point, also used by
    /// [`DoorSession::handle_frame`]).
    pub fn handle_request(&mut self, door: &mut DoorEngine, message: &[u8], now: UnixTime) -> Result<Access, DoorSessionError> {
        if !matches!(self.phase, Phase::AwaitingRequest) {
            return Err(DoorSessionError::UnexpectedFrame);
        }
        let request = match UnlockRequest::from_bytes(message) {
            Ok(r) => r,
            Err(e) => {
                self.phase = Phase::Failed;
                return Err(e.into());
            }
        };
        let access = door.decide_unlock(&request, &self.challenge.body.nonce, now);
        let request = Box::new(request);
        self.phase = if request.batch_digest.is_some() {
            self.inbox = Reassembler::new(MessageKind::Batch, MAX_BATCH_BYTES, MAX_FRAME);
            Phase::AwaitingBatch { access, request }
        } else {
            Phase::Ready { access, request, batch: None }
        };
        Ok(access)
    }

    /// Takes the batch message that follows a request announcing one.
    pub fn handle_batch(&mut self, message: &[u8]) -> Result<(), DoorSessionError> {
        match std::mem::replace(&mut self.phase, Phase::Failed) {
            Phase::AwaitingBatch { access, request } => {
                self.phase = Phase::Ready { access, request, batch: Some(message.to_vec()) };
                Ok(())
            }
            other => {
                self.phase = other;
                Err(DoorSessionError::UnexpectedFrame)
            }
        }
    }

    /// After the decision and the batch: applies the updates, signs the receipt and queues the
    /// result.
    pub fn finish(&mut self, door: &mut DoorEngine, now: UnixTime) -> Result<DoorResult, DoorSessionError> {
        let Phase::Ready { access, request, batch } = std::mem::replace(&mut self.phase, Phase::Done) else {
            self.phase = Phase::Failed;
            return Err(DoorSessionError::NotReady);
        };
        let updates = match (&batch, request.batch_digest) {
            (Some(bytes), Some(digest)) if batch_digest(bytes) != digest => {
                door.observe_time(now);
                door.reject_batch_report(UpdateRejection::DigestMismatch)
            }
            (Some(bytes), _) => door.apply_batch_bytes(bytes, now),
            _ => door.apply_batch_bytes(&[], now),
        };
        let receipt = door.receipt(request.phone_nonce, request.activity_after);
        let result = DoorResult { version: PROTOCOL_VERSION, access, updates, receipt };
        self.outbox.queue(MessageKind::Result, result.to_bytes());
        Ok(result)
    }
}
