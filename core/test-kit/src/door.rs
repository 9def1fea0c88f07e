//! Driving a door session for a door that keeps its state in memory: nothing to save, so a
//! finished result is released at once. The in-memory counterpart of `keyway_link::DoorServer`,
//! for simulations, fuzz oracles and tests; every loop over [`DoorStep`] outside the link crate
//! is this one.

use keyway_protocol::UnixTime;
use keyway_protocol::door::{CardStep, DoorEngine, DoorSession, DoorSessionError, DoorStep, Entry};
use keyway_protocol::unlock::DoorResult;
use keyway_protocol::unlock::frame::{self, MessageKind};

/// What frames did at an in-memory door.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// The decision, if one of the frames completed the request.
    pub decided: Option<Entry>,
    /// The released result, if one of the frames completed the exchange.
    pub result: Option<DoorResult>,
}

impl Fed {
    fn absorb(&mut self, other: Fed) {
        self.decided = other.decided.or(self.decided.take());
        self.result = other.result.or(self.result.take());
    }
}

/// Feeds one frame; a finished result is released at once (its frames wait in
/// [`DoorSession::poll_transmit`]).
pub fn feed(
    session: &mut DoorSession,
    door: &mut DoorEngine,
    frame: &[u8],
    now: UnixTime,
) -> Result<Fed, DoorSessionError> {
    Ok(match session.handle_frame(door, frame, now)? {
        DoorStep::NeedMore => Fed::default(),
        DoorStep::Decided(entry) => Fed { decided: Some(entry), result: None },
        DoorStep::Finished { decided, result } => Fed { decided, result: Some(session.handle_saved(door, result)?) },
    })
}

/// Feeds a whole message from the phone (`kind` is [`MessageKind::Request`] or
/// [`MessageKind::Batch`]), cut into frames at the largest MTU.
pub fn feed_message(
    session: &mut DoorSession,
    door: &mut DoorEngine,
    kind: MessageKind,
    message: &[u8],
    now: UnixTime,
) -> Result<Fed, DoorSessionError> {
    let frames = frame::split(kind, 0, message, frame::MAX_MTU).map_err(DoorSessionError::Frame)?;
    let mut fed = Fed::default();
    for f in frames {
        fed.absorb(feed(session, door, &f, now)?);
    }
    Ok(fed)
}

/// A door session driven by whole messages, for tests that build a request from the session's
/// challenge and look at the decision and the result separately.
#[derive(Debug)]
pub struct MessageSession {
    /// The session itself (its outgoing frames, its getters).
    pub session: DoorSession,
    fed: Fed,
}

impl MessageSession {
    /// Starts a session at `now` with the challenge nonce `nonce`.
    pub fn new(door: &mut DoorEngine, now: UnixTime, nonce: [u8; 16]) -> Self {
        MessageSession { session: DoorSession::new(door, now, nonce), fed: Fed::default() }
    }

    /// The challenge the session sent.
    pub fn challenge(&self) -> &keyway_protocol::unlock::DoorChallenge {
        self.session.challenge()
    }

    /// Feeds the request; returns the decision.
    pub fn request(
        &mut self,
        door: &mut DoorEngine,
        message: &[u8],
        now: UnixTime,
    ) -> Result<keyway_protocol::unlock::Access, DoorSessionError> {
        let fed = feed_message(&mut self.session, door, MessageKind::Request, message, now)?;
        let access = fed.decided.as_ref().map(|e| e.access).ok_or(DoorSessionError::UnexpectedFrame)?;
        self.fed.absorb(fed);
        Ok(access)
    }

    /// Feeds the batch the request announced.
    pub fn batch(&mut self, door: &mut DoorEngine, message: &[u8], now: UnixTime) -> Result<(), DoorSessionError> {
        let fed = feed_message(&mut self.session, door, MessageKind::Batch, message, now)?;
        self.fed.absorb(fed);
        Ok(())
    }

    /// The released result, once the exchange is complete.
    pub fn result(&self) -> Option<&DoorResult> {
        self.fed.result.as_ref()
    }
}

/// Holds the card `uid` to `door`'s reader and runs the exchange to its decision: a UID-only
/// card is decided at once; a secure card's challenge is answered under `key` (`None`: the card
/// gives no answer, as a blank card written with a copied UID). Each presentation gets a
/// challenge of its own (from the door's activity head and the time).
pub fn hold_card(
    door: &mut DoorEngine,
    uid: &[u8],
    key: Option<&keyway_protocol::credential::CardKey>,
    now: UnixTime,
) -> Entry {
    let mut challenge = [0u8; 16];
    challenge[..8].copy_from_slice(&door.activity().head().to_be_bytes());
    challenge[8..].copy_from_slice(&now.0.to_be_bytes());
    match door.present_keycard(uid, challenge, now) {
        CardStep::Decided(entry) => entry,
        CardStep::Challenge(c) => {
            let answer = key.map(|k| k.answer(c.bytes(), uid));
            door.answer_card_challenge(c, answer.as_ref().map(|a| a.as_slice()), now)
        }
    }
}
