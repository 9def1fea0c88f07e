//! Keyway's own unlock as driver endpoints: the sans-IO `PhoneSession` and `DoorSession`. The
//! door counts its public-key operations ([`DoorEngine::crypto_ops`]) at the session's start,
//! at the decision and at the end.

use crate::driver::Endpoint;
use crate::property::{DOOR, Holder, NOW, Property};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::UpdateBatch;
use keyway_protocol::door::{CryptoOps, DoorEngine, DoorSession};
use keyway_protocol::unlock::frame::ATT_OVERHEAD;
use keyway_protocol::unlock::{Access, PhoneSession, ResumeTicket, UnlockOutcome, UnlockParams};

pub struct KeywayPhone {
    session: PhoneSession,
    pub outcome: Option<UnlockOutcome>,
}

/// The phone's parameters for one unlock.
pub fn params(
    p: &Property,
    holder: &Holder,
    batch: Option<UpdateBatch>,
    nonce: [u8; 16],
    resume: Option<ResumeTicket>,
) -> UnlockParams {
    UnlockParams {
        chain: holder.chain.clone(),
        device_key: holder.device.clone(),
        door_cert: p.door_cert.clone(),
        anchors: p.anchors.clone(),
        batch,
        activity_after: 0,
        time: None,
        nonce,
        now: NOW,
        resume,
    }
}

impl KeywayPhone {
    pub fn new(params: UnlockParams) -> Result<Self, String> {
        let session = PhoneSession::new(params).map_err(|e| e.to_string())?;
        Ok(KeywayPhone { session, outcome: None })
    }
}

impl Endpoint for KeywayPhone {
    fn receive(&mut self, frame: &[u8], _at_ms: u64) -> Result<(), String> {
        if let Some(o) = self.session.handle_frame(frame).map_err(|e| e.to_string())? {
            self.outcome = Some(o);
        }
        Ok(())
    }

    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        self.session.poll_transmit(max_frame + ATT_OVERHEAD)
    }

    fn finished(&self) -> bool {
        self.outcome.is_some()
    }
}

/// `b - a`, per kind.
pub fn ops_between(a: CryptoOps, b: CryptoOps) -> CryptoOps {
    CryptoOps {
        key_agreements: b.key_agreements - a.key_agreements,
        verifications: b.verifications - a.verifications,
        signatures: b.signatures - a.signatures,
    }
}

/// Prepares the door's offer as an idle door does before a phone connects; returns what that
/// cost (a signature when the last offer was used by an admitted holder, or there is none).
pub fn prepare(engine: &mut DoorEngine, random: [u8; 16]) -> CryptoOps {
    let before = engine.crypto_ops();
    engine.prepare_offer(NOW, random);
    ops_between(before, engine.crypto_ops())
}

pub struct KeywayDoor {
    pub engine: DoorEngine,
    session: DoorSession,
    pub access: Option<Access>,
    start: CryptoOps,
    at_decision: Option<CryptoOps>,
}

impl KeywayDoor {
    /// The door's clock follows modeled time as in `SimPair`.
    pub fn new(mut engine: DoorEngine, nonce: [u8; 16]) -> Self {
        debug_assert_eq!(engine.door_id(), DOOR);
        let start = engine.crypto_ops();
        let session = DoorSession::new(&mut engine, NOW, nonce);
        KeywayDoor { engine, session, access: None, start, at_decision: None }
    }

    /// Public-key operations from the session's start to the decision.
    pub fn ops_before_decision(&self) -> Option<CryptoOps> {
        self.at_decision.map(|d| ops_between(self.start, d))
    }

    /// Public-key operations from the session's start to now (its end, once it finished).
    pub fn ops_in_session(&self) -> CryptoOps {
        ops_between(self.start, self.engine.crypto_ops())
    }
}

fn door_time(ms: u64) -> UnixTime {
    NOW.saturating_add_secs(ms / 1000)
}

impl Endpoint for KeywayDoor {
    fn receive(&mut self, frame: &[u8], at_ms: u64) -> Result<(), String> {
        let now = door_time(at_ms);
        let step = self.session.handle_frame(&mut self.engine, frame, now).map_err(|e| e.to_string())?;
        let (decided, unsent) = match step {
            keyway_protocol::door::DoorStep::NeedMore => (None, None),
            keyway_protocol::door::DoorStep::Decided(entry) => (Some(entry), None),
            keyway_protocol::door::DoorStep::Finished { decided, result } => (decided, Some(result)),
        };
        if let Some(entry) = decided {
            // The lock actuates here: what the door computed so far is on the path to opening.
            self.at_decision = Some(self.engine.crypto_ops());
            self.access = Some(entry.access);
        }
        if let Some(result) = unsent {
            // An in-memory door has nothing to save: the receipt is signed and sent at once.
            self.session.handle_saved(&mut self.engine, result).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        self.session.poll_transmit(max_frame + ATT_OVERHEAD)
    }

    fn finished(&self) -> bool {
        self.access.is_some()
    }
}
