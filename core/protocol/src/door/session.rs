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
//!             s.handle_saved(&mut door, result)?;            // only now: signed, sealed, sent
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
use super::handshake::Opened;
use crate::UnixTime;
use crate::codec::BoundedBytes;
use crate::credential::{ReceiptBody, SignedBody, TimeStatement, TimeStatementBody};
use crate::prelude::*;
use crate::unlock::frame::{self, MessageKind, Reassembler};
use crate::unlock::message::{
    Access, DoorChallenge, DoorResult, MAX_BATCH_BYTES, PROTOCOL_VERSION, ResultMessage, ResumeRequest, UnlockRequest,
    UpdateRejection, UpdateReport, batch_digest,
};
use crate::unlock::outbox::Outbox;
use crate::unlock::seal::{self, Secret, SessionKeys};

const MAX_FRAME: usize = frame::MAX_MTU - frame::ATT_OVERHEAD;

/// Seconds a phone has, from the challenge, to complete its request: a session that stops
/// sending is dropped by [`DoorSession::handle_timeout`] (the caller calls it with its time).
pub const REQUEST_DEADLINE_SECS: u64 = 5;
/// Seconds a phone has, from the decision, to complete the batch it announced (128 KiB at
/// the slowest link the door serves, 15 KB/s, is 9 s).
pub const BATCH_DEADLINE_SECS: u64 = 10;

#[derive(Debug)]
enum Phase {
    /// Waiting for the request; a time statement may come first (once). After a refused
    /// ticket, a batch that follows the resume request is read and dropped.
    AwaitingRequest {
        time_taken: bool,
        resume_refused: bool,
    },
    /// Reassembling the time statement sent before the request.
    AwaitingTime {
        resume_refused: bool,
    },
    /// Reading and dropping the batch that followed a refused resume request.
    DroppingBatch,
    /// Decided; waiting for the announced batch.
    AwaitingBatch(Box<Opened>),
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
    /// The message is not complete yet: feed the next frame (or, after a refused ticket, send
    /// the frames [`DoorSession::poll_transmit`] has).
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
    /// The result, its receipt not signed yet (`receipt: None`; the body is below).
    result: Box<DoorResult>,
    /// What the receipt states, for an admitted holder: signed only once the state is saved,
    /// so the lock never waits for the signature.
    receipt: Option<Box<ReceiptBody>>,
    /// The session's keys (none when no key could be agreed: nothing is sent).
    keys: Option<SessionKeys>,
}

impl UnsentResult {
    /// The decision the result carries.
    pub fn access(&self) -> Access {
        self.result.access
    }

    /// What happened to the carried batch.
    pub fn updates(&self) -> &UpdateReport {
        &self.result.updates
    }
}

/// One connection's exchange at the door. Holds the challenge, the offer's secret, the
/// decision, at most one partially received message (a request of at most
/// [`UnlockRequest::MAX_LEN`] bytes, then a batch of at most 128 KiB) and the outgoing frames.
pub struct DoorSession {
    challenge: DoorChallenge,
    challenge_bytes: Vec<u8>,
    offer_secret: Secret,
    /// The phone asked for a delivery session (its request came as `Deliver`): no decision,
    /// no actuation, no record; updates applied and activity given only if it is admitted.
    delivery: bool,
    clock_change: Option<ClockChange>,
    decision: Option<Entry>,
    deadline: UnixTime,
    phase: Phase,
    inbox: Reassembler,
    outbox: Outbox,
}

impl core::fmt::Debug for DoorSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DoorSession")
            .field("challenge", &self.challenge)
            .field("delivery", &self.delivery)
            .field("decision", &self.decision)
            .field("deadline", &self.deadline)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl DoorSession {
    /// Starts a session: a challenge with the door's current offer (signed ahead of time; see
    /// [`DoorEngine::prepare_offer`]) and a nonce from the caller's fresh randomness, queued.
    pub fn new(door: &mut DoorEngine, now: UnixTime, random: [u8; 16]) -> Self {
        let (challenge, offer_secret) = door.open_challenge(now, random);
        let challenge_bytes = challenge.to_bytes();
        let mut outbox = Outbox::default();
        outbox.queue(MessageKind::Challenge, challenge_bytes.clone());
        DoorSession {
            deadline: UnixTime(challenge.door_time.0.saturating_add(REQUEST_DEADLINE_SECS)),
            challenge,
            challenge_bytes,
            offer_secret,
            delivery: false,
            clock_change: None,
            decision: None,
            phase: Phase::AwaitingRequest { time_taken: false, resume_refused: false },
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

    /// The door's time by which the phone must have sent what the session waits for (its
    /// request, then its batch); see [`DoorSession::handle_timeout`].
    pub fn deadline(&self) -> UnixTime {
        self.deadline
    }

    // ---- input ------------------------------------------------------------------------------

    /// The door's time passed: a session still waiting for the phone at its deadline fails
    /// (true: drop the connection; a decision already made stands, a batch not received whole
    /// is not applied).
    pub fn handle_timeout(&mut self, now: UnixTime) -> bool {
        let waiting = matches!(
            self.phase,
            Phase::AwaitingRequest { .. } | Phase::AwaitingTime { .. } | Phase::DroppingBatch | Phase::AwaitingBatch(_)
        );
        if waiting && now >= self.deadline {
            self.phase = Phase::Failed;
            return true;
        }
        false
    }

    /// Feeds one frame from the phone at the door's time `now`. Any framing or decoding error
    /// fails the session (the caller drops the connection; a decision already made stands).
    pub fn handle_frame(
        &mut self,
        door: &mut DoorEngine,
        frame: &[u8],
        now: UnixTime,
    ) -> Result<DoorStep, DoorSessionError> {
        if self.handle_timeout(now) {
            return Err(DoorSessionError::DeadlinePassed);
        }
        let first = frame::first_frame_kind(frame);
        match self.phase {
            Phase::AwaitingRequest { time_taken: false, resume_refused } if first == Some(MessageKind::Time) => {
                self.inbox = Reassembler::new(MessageKind::Time, TimeStatementBody::MAX_LEN, MAX_FRAME);
                self.phase = Phase::AwaitingTime { resume_refused };
            }
            Phase::AwaitingRequest { resume_refused: true, .. }
                if self.inbox.buffered() == 0 && first == Some(MessageKind::Batch) =>
            {
                self.inbox = Reassembler::new(MessageKind::Batch, MAX_BATCH_BYTES, MAX_FRAME);
                self.phase = Phase::DroppingBatch;
            }
            Phase::AwaitingRequest { resume_refused, .. } if self.inbox.buffered() == 0 => match first {
                Some(MessageKind::Deliver) => {
                    self.inbox = Reassembler::new(MessageKind::Deliver, UnlockRequest::MAX_LEN, MAX_FRAME);
                    self.delivery = true;
                }
                Some(MessageKind::Resume) if !resume_refused => {
                    self.inbox = Reassembler::new(MessageKind::Resume, ResumeRequest::MAX_LEN, MAX_FRAME);
                }
                _ => self.inbox = Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME),
            },
            Phase::AwaitingRequest { .. }
            | Phase::AwaitingTime { .. }
            | Phase::DroppingBatch
            | Phase::AwaitingBatch(_) => {}
            _ => return Err(DoorSessionError::UnexpectedFrame),
        }
        let kind = self.inbox.kind();
        let message = match self.inbox.push(frame) {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(DoorStep::NeedMore),
            Err(e) => {
                self.phase = Phase::Failed;
                return Err(e.into());
            }
        };
        match core::mem::replace(&mut self.phase, Phase::Failed) {
            Phase::AwaitingTime { resume_refused } => {
                self.handle_time(door, &message, now)?;
                self.inbox = Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME);
                self.phase = Phase::AwaitingRequest { time_taken: true, resume_refused };
                Ok(DoorStep::NeedMore)
            }
            Phase::DroppingBatch => {
                self.inbox = Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME);
                self.phase = Phase::AwaitingRequest { time_taken: true, resume_refused: true };
                Ok(DoorStep::NeedMore)
            }
            Phase::AwaitingRequest { .. } if kind == MessageKind::Resume => {
                let request = ResumeRequest::from_bytes(&message)?;
                let clock = door.observe_time(now);
                match door.open_resume(&self.challenge_bytes, &request, clock) {
                    Ok(opened) => Ok(self.decided(door, opened, now)),
                    Err(_) => {
                        self.outbox.queue(MessageKind::Result, ResultMessage::ResumeRefused.to_bytes());
                        self.inbox = Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME);
                        self.phase = Phase::AwaitingRequest { time_taken: true, resume_refused: true };
                        Ok(DoorStep::NeedMore)
                    }
                }
            }
            Phase::AwaitingRequest { .. } => {
                let request = UnlockRequest::from_bytes(&message)?;
                let clock = door.observe_time(now);
                let opened =
                    door.open_full(kind, &self.challenge, &self.challenge_bytes, &self.offer_secret, &request, clock);
                Ok(self.decided(door, opened, now))
            }
            Phase::AwaitingBatch(decided) => {
                let result = self.finish(door, *decided, Some(&message), now);
                Ok(DoorStep::Finished { decided: None, result })
            }
            _ => Err(DoorSessionError::UnexpectedFrame),
        }
    }

    /// The caller's state is saved (and the lock has opened): signs the receipt, seals the
    /// result, releases its frames (take them with [`DoorSession::poll_transmit`]) and returns
    /// the result that goes out.
    pub fn handle_saved(
        &mut self,
        door: &mut DoorEngine,
        unsent: UnsentResult,
    ) -> Result<DoorResult, DoorSessionError> {
        if !matches!(self.phase, Phase::Saving) || unsent.door_nonce != self.challenge.nonce {
            return Err(DoorSessionError::NotThisSessionsResult);
        }
        let mut result = *unsent.result;
        result.receipt = unsent.receipt.map(|body| door.sign_receipt(*body));
        if let Some(keys) = &unsent.keys {
            let sealed = seal::seal(&keys.result, &keys.transcript, &result.to_bytes());
            let Some(sealed) = BoundedBytes::new(sealed) else {
                return Err(DoorSessionError::NotThisSessionsResult);
            };
            self.outbox.queue(MessageKind::Result, ResultMessage::Sealed(sealed).to_bytes());
        }
        self.phase = Phase::Done;
        Ok(result)
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
        self.clock_change = door.handle_time(&statement, Some(&self.challenge.nonce), now).ok().flatten();
        Ok(())
    }

    /// A request is opened and decided: log it (an unlock), then wait for its batch or finish.
    fn decided(&mut self, door: &mut DoorEngine, opened: Opened, now: UnixTime) -> DoorStep {
        let entry = match self.delivery {
            // A delivery decides nothing and logs nothing.
            true => None,
            false => {
                let record = door.log(opened.event.clone());
                let entry = Entry { access: opened.access, record };
                self.decision = Some(entry.clone());
                Some(entry)
            }
        };
        if opened.batch_digest.is_some() {
            self.deadline = UnixTime(door.clock().0.saturating_add(BATCH_DEADLINE_SECS));
            self.inbox = Reassembler::new(MessageKind::Batch, MAX_BATCH_BYTES, MAX_FRAME);
            self.phase = Phase::AwaitingBatch(Box::new(opened));
            return match entry {
                Some(entry) => DoorStep::Decided(entry),
                None => DoorStep::NeedMore,
            };
        }
        let result = self.finish(door, opened, None, now);
        DoorStep::Finished { decided: entry, result }
    }

    /// After the decision and the batch: applies the updates, signs the receipt for an admitted
    /// holder and seals the result. The result waits for [`DoorSession::handle_saved`].
    fn finish(
        &mut self,
        door: &mut DoorEngine,
        opened: Opened,
        sealed_batch: Option<&[u8]>,
        now: UnixTime,
    ) -> UnsentResult {
        let batch = match (&opened.keys, sealed_batch) {
            (Some(keys), Some(sealed)) => Some(seal::open(&keys.batch, &keys.transcript, sealed)),
            (None, Some(_)) => Some(None),
            (_, None) => None,
        };
        let updates = match (batch, opened.batch_digest) {
            (Some(None), _) => {
                door.observe_time(now);
                door.reject_batch_report(UpdateRejection::DigestMismatch)
            }
            (Some(Some(bytes)), Some(digest)) if batch_digest(&bytes) != digest => {
                door.observe_time(now);
                door.reject_batch_report(UpdateRejection::DigestMismatch)
            }
            // A delivery from a holder the door would not admit, and a batch from a presenter
            // that did not prove its key, are read and dropped.
            (Some(Some(_)), _) if (self.delivery && !opened.admitted) || !opened.authentic => {
                door.apply_batch_bytes(&[], now)
            }
            (Some(Some(bytes)), _) => door.apply_batch_bytes(&bytes, now),
            _ => door.apply_batch_bytes(&[], now),
        };
        // The door's activity (who came and went) goes only to a holder it admitted, in a
        // receipt sealed for it; a refused presenter gets the decision alone.
        let receipt = opened.admitted.then(|| Box::new(door.receipt_body(opened.phone_nonce, opened.activity_after)));
        let access = match self.delivery {
            true if opened.admitted => Access::Granted,
            _ => opened.access,
        };
        let result = DoorResult { version: PROTOCOL_VERSION, access, updates, receipt: None, ticket: opened.ticket };
        self.phase = Phase::Saving;
        UnsentResult { door_nonce: self.challenge.nonce, result: Box::new(result), receipt, keys: opened.keys }
    }
}
