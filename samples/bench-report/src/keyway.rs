//! Keyway's own unlock as driver endpoints: the sans-IO `PhoneSession` and `DoorSession`.

use crate::driver::Endpoint;
use crate::property::{DOOR, Holder, NOW, Property};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::UpdateBatch;
use keyway_protocol::door::DoorEngine;
use keyway_protocol::door::DoorSession;
use keyway_protocol::unlock::frame::ATT_OVERHEAD;
use keyway_protocol::unlock::{Access, PhoneSession, UnlockOutcome, UnlockParams};

pub struct KeywayPhone {
    session: PhoneSession,
    pub outcome: Option<UnlockOutcome>,
}

impl KeywayPhone {
    pub fn new(p: &Property, holder: &Holder, batch: Option<UpdateBatch>) -> Result<Self, String> {
        let session = PhoneSession::new(UnlockParams {
            chain: holder.chain.clone(),
            device_key: holder.device.clone(),
            door_cert: p.door_cert.clone(),
            anchors: p.anchors.clone(),
            batch,
            activity_after: 0,
            time: None,
            nonce: crate::app::PHONE_NONCE,
            now: NOW,
        })
        .map_err(|e| e.to_string())?;
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

pub struct KeywayDoor {
    pub engine: DoorEngine,
    session: DoorSession,
    pub access: Option<Access>,
}

impl KeywayDoor {
    /// The door's clock follows modeled time as in `SimPair`.
    pub fn new(mut engine: DoorEngine, nonce: [u8; 16]) -> Self {
        debug_assert_eq!(engine.door_id(), DOOR);
        let session = DoorSession::new(&mut engine, NOW, nonce);
        KeywayDoor { engine, session, access: None }
    }
}

fn door_time(ms: u64) -> UnixTime {
    NOW.saturating_add_secs(ms / 1000)
}

impl Endpoint for KeywayDoor {
    fn receive(&mut self, frame: &[u8], at_ms: u64) -> Result<(), String> {
        let now = door_time(at_ms);
        let fed =
            keyway_test_kit::door::feed(&mut self.session, &mut self.engine, frame, now).map_err(|e| e.to_string())?;
        if let Some(entry) = fed.decided {
            self.access = Some(entry.access);
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
