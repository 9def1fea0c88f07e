//! Blocking pumps for the two sides of an unlock over any [`Link`].

use super::{Link, LinkError};
use keyway_protocol::UnixTime;
use keyway_protocol::door::{DoorEngine, DoorSession, DoorSessionError, DoorStep, Entry};
use keyway_protocol::unlock::frame::{MAX_MTU, MIN_MTU};
use keyway_protocol::unlock::{DoorResult, PhoneSession, ProtocolError, UnlockOutcome};
use std::time::{Duration, Instant};

/// How long a [`DoorServer`] waits for the phone by default.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    #[error("link: {0}")]
    Link(#[from] LinkError),
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("the door did not answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("link: {0}")]
    Link(#[from] LinkError),
    #[error("session: {0}")]
    Session(#[from] DoorSessionError),
    #[error("the phone did not complete its request within {0:?}")]
    Timeout(Duration),
    /// The door could not save its state; the result (and its receipt) was withheld.
    #[error("the door could not persist its state: {0}")]
    Persist(String),
}

/// What one served session did at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeReport {
    /// The door's decision and the activity record it logged (who was admitted or refused).
    pub decision: Entry,
    /// The result that went out, with its signed receipt.
    pub result: DoorResult,
}

fn checked_mtu(link: &dyn Link) -> Result<usize, LinkError> {
    let mtu = link.mtu();
    if (MIN_MTU..=MAX_MTU).contains(&mtu) { Ok(mtu) } else { Err(LinkError::BadMtu(mtu)) }
}

/// How far the phone side of an unlock has come, for progress reports
/// ([`run_unlock_observed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnlockStep {
    /// The door's challenge verified: the peer is the certified door.
    DoorVerified {
        /// Whether the request carries door updates (the door lacks some of the batch).
        carrying_updates: bool,
    },
    /// The whole request (and batch, if carried) was written to the link.
    RequestSent,
}

/// Phone side: waits for the challenge, sends the request, returns the verified outcome.
/// `timeout` bounds the whole exchange.
pub fn run_unlock(link: &mut dyn Link, session: PhoneSession, timeout: Duration) -> Result<UnlockOutcome, UnlockError> {
    run_unlock_observed(link, session, timeout, &mut |_| {})
}

/// [`run_unlock`], telling `on_step` when the door is verified and when the request is out.
pub fn run_unlock_observed(
    link: &mut dyn Link,
    mut session: PhoneSession,
    timeout: Duration,
    on_step: &mut dyn FnMut(UnlockStep),
) -> Result<UnlockOutcome, UnlockError> {
    let deadline = Instant::now() + timeout;
    let mtu = checked_mtu(link)?;
    let result = (|| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(UnlockError::Timeout(timeout));
        }
        let frame = match link.recv(left) {
            Ok(f) => f,
            Err(LinkError::Timeout) => return Err(UnlockError::Timeout(timeout)),
            Err(e) => return Err(e.into()),
        };
        let outcome = session.handle_frame(&frame)?;
        // The session writes nothing before the challenge verified: its first frame out is
        // the sign that the door is the certified one.
        let mut sent = false;
        while let Some(out) = session.poll_transmit(mtu) {
            if !sent {
                on_step(UnlockStep::DoorVerified { carrying_updates: session.carried_batch().is_some() });
                sent = true;
            }
            link.send(&out)?;
        }
        if sent {
            on_step(UnlockStep::RequestSent);
        }
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
    })();
    link.close();
    result
}

/// What a door does around a session: the lock's actuator and the door's storage.
pub trait DoorHooks {
    /// The door decided (from the request alone, before any batch arrives): open on a grant.
    fn actuate(&mut self, decision: &Entry);
    /// Saves the door's state. Runs after the updates are applied and before the result leaves,
    /// so a receipt never shows an update seq or an activity record the door could lose in a
    /// power cut. An error withholds the result (the phone retries; nothing was promised).
    fn persist(&mut self, door: &DoorEngine) -> Result<(), String>;
}

/// Hooks of a door that keeps its state only in memory and acts on the decision itself
/// (through [`ServeReport::decision`]): tests, benchmarks, demos.
#[derive(Clone, Copy, Debug, Default)]
pub struct Volatile;

impl DoorHooks for Volatile {
    fn actuate(&mut self, _: &Entry) {}
    fn persist(&mut self, _: &DoorEngine) -> Result<(), String> {
        Ok(())
    }
}

/// The door side of the unlock over any [`Link`]: one session per call.
#[derive(Clone, Copy, Debug)]
pub struct DoorServer {
    timeout: Duration,
}

impl Default for DoorServer {
    fn default() -> Self {
        DoorServer { timeout: DEFAULT_SESSION_TIMEOUT }
    }
}

impl DoorServer {
    /// A server that waits [`DEFAULT_SESSION_TIMEOUT`] for the phone.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long one session may take, from the challenge to the last frame of the batch.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        DoorServer { timeout }
    }

    /// Sends the challenge, receives the request, decides and calls [`DoorHooks::actuate`] at
    /// once, then receives the batch (if announced), applies it, calls [`DoorHooks::persist`]
    /// and only then sends the result. `now` is the door's clock at the start of the session;
    /// the time spent waiting is added to it. If the phone goes away after the decision, the
    /// door has still decided (and logged it); the updates and the receipt wait for the next
    /// session.
    pub fn serve(
        &self,
        link: &mut dyn Link,
        door: &mut DoorEngine,
        now: UnixTime,
        nonce: [u8; 16],
        hooks: &mut dyn DoorHooks,
    ) -> Result<ServeReport, ServeError> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mtu = checked_mtu(link)?;
        let at = |i: Instant| now.saturating_add_secs(i.duration_since(started).as_secs());
        let mut session = DoorSession::new(door, now, nonce);
        while let Some(f) = session.poll_transmit(mtu) {
            link.send(&f)?;
        }
        let unsent = loop {
            // The session's own deadline (a phone that stops sending is dropped) and the server's.
            let door_now = at(Instant::now());
            if session.handle_timeout(door_now) {
                return Err(ServeError::Timeout(self.timeout));
            }
            let own = Duration::from_secs(session.deadline().0.saturating_sub(door_now.0));
            let left = deadline.saturating_duration_since(Instant::now()).min(own.max(Duration::from_millis(1)));
            if left.is_zero() {
                return Err(ServeError::Timeout(self.timeout));
            }
            let frame = match link.recv(left) {
                Ok(f) => f,
                Err(LinkError::Timeout) => return Err(ServeError::Timeout(self.timeout)),
                Err(e) => return Err(e.into()),
            };
            match session.handle_frame(door, &frame, at(Instant::now()))? {
                // A refused ticket's answer goes out at once; the phone's full request follows.
                DoorStep::NeedMore => {
                    while let Some(f) = session.poll_transmit(mtu) {
                        link.send(&f)?;
                    }
                }
                DoorStep::Decided(entry) => hooks.actuate(&entry),
                DoorStep::Finished { decided, result } => {
                    if let Some(entry) = decided {
                        hooks.actuate(&entry);
                    }
                    break result;
                }
            }
        };
        // The next session's offer is signed now, after the lock acted and before the save (its
        // counter is saved with the session), not when the next phone waits for its challenge.
        door.prepare_offer(at(Instant::now()), nonce);
        hooks.persist(door).map_err(ServeError::Persist)?;
        let result = session.handle_saved(door, unsent)?;
        while let Some(f) = session.poll_transmit(mtu) {
            link.send(&f)?;
        }
        let decision = session.decision().cloned().ok_or(ServeError::Session(DoorSessionError::UnexpectedFrame))?;
        Ok(ServeReport { decision, result })
    }
}
