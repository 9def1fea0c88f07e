//! Blocking pumps for the two sides of an unlock over any [`Link`].

use super::{Link, LinkError};
use crate::UnixTime;
use crate::door::DoorEngine;
use crate::protocol::frame::{MAX_MTU, MIN_MTU};
use crate::protocol::{Access, DoorSession, DoorSessionError, PhoneSession, ProtocolError, UnlockOutcome};
use std::time::{Duration, Instant};

/// How long [`serve_session`] waits for the phone.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("link: {0}")]
    Link(#[from] LinkError),
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("the door did not answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    pub access: Access,
    pub result: crate::protocol::DoorResult,
}

fn checked_mtu(link: &dyn Link) -> Result<usize, LinkError> {
    let mtu = link.mtu();
    if (MIN_MTU..=MAX_MTU).contains(&mtu) { Ok(mtu) } else { Err(LinkError::BadMtu(mtu)) }
}

/// Phone side: waits for the challenge, sends the request, returns the verified outcome.
/// `timeout` bounds the whole exchange.
pub fn run_unlock(link: &mut dyn Link, mut session: PhoneSession, timeout: Duration) -> Result<UnlockOutcome, UnlockError> {
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
        while let Some(out) = session.poll_transmit(mtu) {
            link.send(&out)?;
        }
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
    })();
    link.close();
    result
}

/// Door side with [`DEFAULT_SESSION_TIMEOUT`].
pub fn serve_session(link: &mut dyn Link, door: &mut DoorEngine, now: UnixTime, nonce: [u8; 16]) -> Result<ServeReport, ServeError> {
    serve_session_with_timeout(link, door, now, nonce, DEFAULT_SESSION_TIMEOUT)
}

/// [`serve_session_with`] with no actuation callback (the caller acts on
/// [`ServeReport::access`]).
pub fn serve_session_with_timeout(
    link: &mut dyn Link,
    door: &mut DoorEngine,
    now: UnixTime,
    nonce: [u8; 16],
    timeout: Duration,
) -> Result<ServeReport, ServeError> {
    serve_session_with(link, door, now, nonce, timeout, &mut |_| {})
}

/// Door side: sends the challenge, receives the request, decides and calls `actuate` with the
/// decision at once, then receives the batch (if announced), applies it and sends the result.
/// `now` is the door's clock at the start of the session; the time spent waiting is added to it.
/// If the phone goes away after the decision, the door has still decided (and logged it); the
/// updates and the receipt wait for the next session.
pub fn serve_session_with(
    link: &mut dyn Link,
    door: &mut DoorEngine,
    now: UnixTime,
    nonce: [u8; 16],
    timeout: Duration,
    actuate: &mut dyn FnMut(Access),
) -> Result<ServeReport, ServeError> {
    serve_session_durably(link, door, now, nonce, timeout, actuate, &mut |_| Ok(()))
}

/// [`serve_session_with`] for a door that persists its state: `persist` runs after the updates
/// are applied and before the result goes out, so a receipt never shows an update seq or an
/// activity record the door could lose in a power cut (the backend would otherwise mark an
/// update delivered that the door no longer has). If `persist` fails the result is withheld.
pub fn serve_session_durably(
    link: &mut dyn Link,
    door: &mut DoorEngine,
    now: UnixTime,
    nonce: [u8; 16],
    timeout: Duration,
    actuate: &mut dyn FnMut(Access),
    persist: &mut dyn FnMut(&DoorEngine) -> Result<(), String>,
) -> Result<ServeReport, ServeError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mtu = checked_mtu(link)?;
    let at = |i: Instant| now.saturating_add_secs(i.duration_since(started).as_secs());
    let mut session = DoorSession::new(door, now, nonce);
    while let Some(f) = session.poll_transmit(mtu) {
        link.send(&f)?;
    }
    let mut access = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ServeError::Timeout(timeout));
        }
        let frame = match link.recv(left) {
            Ok(f) => f,
            Err(LinkError::Timeout) => return Err(ServeError::Timeout(timeout)),
            Err(e) => return Err(e.into()),
        };
        if let Some(decided) = session.handle_frame(door, &frame, at(Instant::now()))? {
            actuate(decided);
            access = Some(decided);
        }
        if session.is_ready_to_finish() {
            break;
        }
    }
    let access = session.access().or(access).ok_or(ServeError::Session(DoorSessionError::NotReady))?;
    let result = session.finish(door, at(Instant::now()))?;
    persist(door).map_err(ServeError::Persist)?;
    while let Some(f) = session.poll_transmit(mtu) {
        link.send(&f)?;
    }
    Ok(ServeReport { access, result })
}
