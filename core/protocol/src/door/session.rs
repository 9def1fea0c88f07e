//! The door side of one unlock session (sans-IO), in the phone session's shape.
//!
//! Frames and the time go in (`handle_*`), frames come out (`poll_*`); every step the caller
//! must act on is a `#[must_use]` [`DoorStep`]:
//!
//! ```text
//! let mut s = DoorSession::new(&mut door, now, nonce);       // challenge queued
//! while let Some(f) = s.poll_transmit(mtu) { send(f) }
//! for each received frame:
//!     match s.handle_frame(&mut door, &frame, now)? {
//!         DoorStep::NeedMore => {}
//!         DoorStep::Decided(entry) => actuate(&entry),       // decided from the request alone
//!         DoorStep::Finished { decided, result } => {
//!             if let Some(entry) = decided { actuate(&entry) }
//!             save(&door)?;                                  // the door's duty, before the receipt
//!             s.handle_saved(result)?;                       // only now may the result leave
//!             while let Some(f) = s.poll_transmit(mtu) { send(f) }
//!         }
//!     }
//! ```
//!
//! A receipt is the door's promise that updates are applied; a door that sent it and then lost
//! power before saving would forget updates the backend will never send again. So the result's
//! frames are released only by [`DoorSession::handle_saved`], which takes the [`UnsentResult`]
//! the finishing step handed out: the save-before-receipt rule is a type, not a convention.

use super::clock::ClockChange;
use super::engine::{DoorEngine, Entry};
use super::error::DoorSessionError;
use crate::UnixTime;
use crate::credential::{SignedBody, TimeStatement, TimeStatementBody};
use crate::prelude::*;
use crate::unlock::frame::{self, MessageKind, Reassembler};
use crate::unlock::message::{
    Access, DoorChallenge, DoorResult, MAX_BATCH_BYTES, PROTOCOL_VERSION, UnlockRequest, UpdateRejection, batch_digest,
};
use crate::unlock::outbox::Outbox;

const MAX_FRAME: usize = frame::MAX_MTU - frame::ATT_OVERHEAD;

#[derive(Debug)]
enum Phase {
    /// Waiting for the request; a time statement may come first (once).
    AwaitingRequest {
        time_taken: bool,
    },
    /// Reassembling the time statement sent before the request.
    AwaitingTime,
    /// Decided; waiting for the announced batch.
    AwaitingBatch {
        access: Access,
        request: Box<UnlockRequest>,
    },
    /// The result was handed out as an [`UnsentResult`]; waiting for the caller's save.
    Saving,
    /// The result is queued.
    Done,
    Failed,
}

/// What the door must do after a frame.
#[must_use = "a door step is the door's next duty: actuate on a decision, save before the result leaves"]
#[derive(Debug)]
pub enum DoorStep {
    /// The message is not complete yet: feed the next frame.
    NeedMore,
    /// The request is decided (the lock actuates now on a grant); the update batch it announced
    /// is still to come.
    Decided(Entry),
    /// The exchange is complete: the updates are applied and the receipt is signed. `decided` is
    /// set when the decision was made on this same frame (a request without a batch): actuate
    /// first. Then save the door's state and hand `result` to [`DoorSession::handle_saved`].
    Finished {
        /// The decision, when this frame also completed the request.
        decided: Option<Entry>,
        /// The result, held back until the door's state is saved.
        result: UnsentResult,
    },
}

/// A session's result that has not left the door. Only [`DoorSession::handle_saved`] turns it
/// into frames; dropping it withholds the result (the phone retries, nothing was promised).
#[must_use = "the result leaves the door only through DoorSession::handle_saved, after the door's state is saved"]
#[derive(Debug)]
pub struct UnsentResult {
    /// The challenge nonce of the session that made it: it cannot be released by another.
    door_nonce: [u8; 16],
    result: Box<DoorResult>,
}

impl UnsentResult {
    /// The result that will be sent (decision, update report, signed receipt).
    pub fn result(&self) -> &DoorResult {
        &self.result
    }
}

/// One connection's exchange at the door. Holds the challenge, the decision, at most one
/// partially received message (a request of at most [`UnlockRequest::MAX_LEN`] bytes, then a
/// batch of at most 128 KiB) and the outgoing frames; nothing is kept in the [`DoorEngine`] per
/// session.
#[derive(Debug)]
pub struct DoorSession {
    challenge: DoorChallenge,
    /// The phone asked for a delivery session (its request came as `Deliver`): no decision,
    /// no actuation, no record; updates applied and activity given only if it is admitted.
    delivery: bool,
    clock_change: Option<ClockChange>,
    decision: Option<Entry>,
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
            delivery: false,
            clock_change: None,
            decision: None,
            phase: Phase::AwaitingRequest { time_taken: false },
            inbox: Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME),
            outbox,
        }
    }

    // ---- getters ----------------------------------------------------------------------------

    /// The challenge this session sent.
    pub fn challenge(&self) -> &DoorChallenge {
        &self.challenge
    }

    /// The change the phone's signed time made to the door's clock, if it made one.
    pub fn clock_change(&self) -> Option<&ClockChange> {
        self.clock_change.as_ref()
    }

    /// The decision, once made (it stands even if the session fails afterwards).
    pub fn decision(&self) -> Option<&Entry> {
        self.decision.as_ref()
    }

    /// Bytes buffered for a partial message.
    pub fn buffered(&self) -> usize {
        self.inbox.buffered()
    }

    /// True once the result has been released and every frame taken.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done) && self.outbox.is_empty()
    }

    // ---- input ------------------------------------------------------------------------------

    /// Feeds one frame from the phone at the door's time `now`. Any framing or decoding error
    /// fails the session (the caller drops the connection; a decision already made stands).
    pub fn handle_frame(
        &mut self,
        door: &mut DoorEngine,
        frame: &[u8],
        now: UnixTime,
    ) -> Result<DoorStep, DoorSessionError> {
        if !matches!(self.phase, Phase::AwaitingRequest { .. } | Phase::AwaitingTime | Phase::AwaitingBatch { .. }) {
            return Err(DoorSessionError::UnexpectedFrame);
        }
        if matches!(self.phase, Phase::AwaitingRequest { time_taken: false })
            && frame::first_frame_kind(frame) == Some(MessageKind::Time)
        {
            self.inbox = Reassembler::new(MessageKind::Time, TimeStatementBody::MAX_LEN, MAX_FRAME);
            self.phase = Phase::AwaitingTime;
        } else if matches!(self.phase, Phase::AwaitingRequest { .. })
            && self.inbox.buffered() == 0
            && frame::first_frame_kind(frame) == Some(MessageKind::Deliver)
        {
            self.inbox = Reassembler::new(MessageKind::Deliver, UnlockRequest::MAX_LEN, MAX_FRAME);
            self.delivery = true;
        }
        let message = match self.inbox.push(frame) {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(DoorStep::NeedMore),
            Err(e) => {
                self.phase = Phase::Failed;
                return Err(e.into());
            }
        };
        match core::mem::replace(&mut self.phase, Phase::Failed) {
            Phase::AwaitingTime => {
                self.handle_time(door, &message, now)?;
                self.inbox = Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME);
                self.phase = Phase::AwaitingRequest { time_taken: true };
                Ok(DoorStep::NeedMore)
            }
            Phase::AwaitingRequest { .. } if self.delivery => {
                let request = Box::new(UnlockRequest::from_bytes(&message)?);
                let access = door.admit_delivery(&request, &self.challenge.body.nonce, now);
                if request.batch_digest.is_some() {
                    self.inbox = Reassembler::new(MessageKind::Batch, MAX_BATCH_BYTES, MAX_FRAME);
                    self.phase = Phase::AwaitingBatch { access, request };
                    return Ok(DoorStep::NeedMore);
                }
                let result = self.finish(door, access, &request, None, now);
                Ok(DoorStep::Finished { decided: None, result })
            }
            Phase::AwaitingRequest { .. } => {
                let (entry, request) = self.handle_request(door, &message, now)?;
                if request.batch_digest.is_some() {
                    self.inbox = Reassembler::new(MessageKind::Batch, MAX_BATCH_BYTES, MAX_FRAME);
                    self.phase = Phase::AwaitingBatch { access: entry.access, request };
                    return Ok(DoorStep::Decided(entry));
                }
                let result = self.finish(door, entry.access, &request, None, now);
                Ok(DoorStep::Finished { decided: Some(entry), result })
            }
            Phase::AwaitingBatch { access, request } => {
                let result = self.finish(door, access, &request, Some(&message), now);
                Ok(DoorStep::Finished { decided: None, result })
            }
            _ => Err(DoorSessionError::UnexpectedFrame),
        }
    }

    /// The caller's state is saved: releases the result's frames (take them with
    /// [`DoorSession::poll_transmit`]) and returns the result that goes out.
    pub fn handle_saved(&mut self, result: UnsentResult) -> Result<DoorResult, DoorSessionError> {
        if !matches!(self.phase, Phase::Saving) || result.door_nonce != self.challenge.body.nonce {
            return Err(DoorSessionError::NotThisSessionsResult);
        }
        self.outbox.queue(MessageKind::Result, result.result.to_bytes());
        self.phase = Phase::Done;
        Ok(*result.result)
    }

    // ---- output -----------------------------------------------------------------------------

    /// Next frame to send to the phone.
    pub fn poll_transmit(&mut self, mtu: usize) -> Option<Vec<u8>> {
        self.outbox.poll(mtu)
    }

    // ---- the message-level steps -------------------------------------------------------------

    /// Takes the signed time the phone sent before its request: an unbound statement ahead of
    /// the door's clock moves it forward, one bound to this session's challenge nonce sets it.
    /// One that does not verify changes nothing and the unlock goes on (the door decides on
    /// its own clock); bytes that do not decode fail the session like any malformed message.
    fn handle_time(&mut self, door: &mut DoorEngine, message: &[u8], now: UnixTime) -> Result<(), DoorSessionError> {
        let statement = TimeStatement::from_bytes(message)?;
        self.clock_change = door.handle_time(&statement, Some(&self.challenge.body.nonce), now).ok().flatten();
        Ok(())
    }

    /// Decides a complete request message (the session's phase is `Failed` until the caller
    /// sets the next one).
    fn handle_request(
        &mut self,
        door: &mut DoorEngine,
        message: &[u8],
        now: UnixTime,
    ) -> Result<(Entry, Box<UnlockRequest>), DoorSessionError> {
        let request = UnlockRequest::from_bytes(message)?;
        let entry = door.decide_unlock(&request, &self.challenge.body.nonce, now);
        self.decision = Some(entry.clone());
        Ok((entry, Box::new(request)))
    }

    /// After the decision and the batch: applies the updates and signs the receipt. The result
    /// waits for [`DoorSession::handle_saved`].
    fn finish(
        &mut self,
        door: &mut DoorEngine,
        access: Access,
        request: &UnlockRequest,
        batch: Option<&[u8]>,
        now: UnixTime,
    ) -> UnsentResult {
        let updates = match (batch, request.batch_digest) {
            (Some(bytes), Some(digest)) if batch_digest(bytes) != digest => {
                door.observe_time(now);
                door.reject_batch_report(UpdateRejection::DigestMismatch)
            }
            // A delivery from a holder the door would not admit is read and dropped.
            (Some(_), _) if self.delivery && !access.is_granted() => door.apply_batch_bytes(&[], now),
            (Some(bytes), _) => door.apply_batch_bytes(bytes, now),
            _ => door.apply_batch_bytes(&[], now),
        };
        // The door's activity (who came and went) goes only to a holder it admitted: a stranger
        // with a garbage chain, or a refused key, gets only this session's own record (which
        // lets its phone check the decision it was told), never the log before it.
        let activity_after = match access.is_granted() {
            true => request.activity_after,
            false => request.activity_after.max(self.challenge.body.activity_head),
        };
        let receipt = door.receipt(request.phone_nonce, activity_after);
        self.phase = Phase::Saving;
        UnsentResult {
            door_nonce: self.challenge.body.nonce,
            result: Box::new(DoorResult { version: PROTOCOL_VERSION, access, updates, receipt }),
        }
    }
}
