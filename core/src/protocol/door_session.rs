//! The door side of one unlock session (sans-IO).
//!
//! ```text
//! let mut s = DoorSession::new(&mut door, now, nonce);   // challenge queued
//! while let Some(f) = s.poll_transmit(mtu) { send(f) }
//! for each received frame:
//!     if let Some(access) = s.handle_frame(&mut door, &frame, now)? {
//!         actuate(access);                                // decision first
//!         s.finish(&mut door, now)?;                      // then updates, receipt, result
//!     }
//! while let Some(f) = s.poll_transmit(mtu) { send(f) }
//! ```

use super::error::DoorSessionError;
use super::frame::{self, MessageKind, Reassembler};
use super::message::{Access, DoorChallenge, DoorResult, PROTOCOL_VERSION, UnlockRequest};
use super::outbox::Outbox;
use crate::UnixTime;
use crate::door::DoorEngine;

#[derive(Debug)]
enum Phase {
    AwaitingRequest,
    Decided { access: Access, request: Box<UnlockRequest> },
    Done,
    Failed,
}

/// One connection's exchange at the door. Holds the challenge nonce, at most one partially
/// received request (bounded by [`UnlockRequest::MAX_LEN`]) and the outgoing frames; nothing is
/// kept in the [`DoorEngine`] per session.
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
            inbox: Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, frame::MAX_MTU - frame::ATT_OVERHEAD),
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

    /// True once the result has been queued and every frame taken.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done) && self.outbox.is_empty()
    }

    /// The decision, once made.
    pub fn access(&self) -> Option<Access> {
        match &self.phase {
            Phase::Decided { access, .. } => Some(*access),
            _ => None,
        }
    }

    /// Bytes buffered for a partial request.
    pub fn buffered(&self) -> usize {
        self.inbox.buffered()
    }

    /// Feeds one frame from the phone. Returns the access decision when the request is complete;
    /// the caller actuates and then calls [`DoorSession::finish`]. Any framing or decoding error
    /// fails the session (the caller drops the connection).
    pub fn handle_frame(&mut self, door: &mut DoorEngine, frame: &[u8], now: UnixTime) -> Result<Option<Access>, DoorSessionError> {
        if !matches!(self.phase, Phase::AwaitingRequest) {
            return Err(DoorSessionError::UnexpectedFrame);
        }
        match self.inbox.push(frame) {
            Ok(Some(message)) => self.handle_request(door, &message, now).map(Some),
            Ok(None) => Ok(None),
            Err(e) => {
                self.phase = Phase::Failed;
                Err(e.into())
            }
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
        self.phase = Phase::Decided { access, request: Box::new(request) };
        Ok(access)
    }

    /// After the decision: applies the carried updates, signs the receipt and queues the result.
    pub fn finish(&mut self, door: &mut DoorEngine, now: UnixTime) -> Result<DoorResult, DoorSessionError> {
        let Phase::Decided { access, request } = std::mem::replace(&mut self.phase, Phase::Done) else {
            self.phase = Phase::Failed;
            return Err(DoorSessionError::NotDecided);
        };
        let updates = door.apply_batch_bytes(&request.batch, now);
        let receipt = door.receipt(request.phone_nonce, request.activity_after);
        let result = DoorResult { version: PROTOCOL_VERSION, access, updates, receipt };
        self.outbox.queue(MessageKind::Result, result.to_bytes());
        Ok(result)
    }
}
