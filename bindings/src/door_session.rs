//! One phone connection at a door (sans-IO): the controller pushes what the phone wrote, Keyway
//! hands the frames to notify to the controller's [`DoorLink`], in order.
//!
//! A session's result (the decision, the update report and the signed receipt) leaves the
//! door only after the door's state, with the updates it carried applied, was saved through the
//! [`DoorStore`](crate::door::DoorStore): the core hands the result out as an `UnsentResult`
//! that only `DoorSession::handle_saved` turns into frames, and this module calls it only once
//! `save` returned. A failed save withholds the result: the phone sees the connection end and
//! keeps its updates for the next door or the next try; nothing was promised.

use crate::door::{DoorController, DoorEntry, DoorError, DoorResult, DoorShared, random16, rtc_now};
use keyway_link::DEFAULT_SESSION_TIMEOUT;
use keyway_link::gatt;
use keyway_protocol::door::{DoorSession, DoorStep};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The controller's side of one connection: its GATT server's notifications.
#[uniffi::export(foreign)]
pub trait DoorLink: Send + Sync {
    /// Notifies `frame` (at most `mtu - 3` bytes) on the response characteristic. Called in
    /// order, from the thread that called `connect` or `frameReceived`; a stack that sends
    /// asynchronously queues it. Raise `DoorCallbackError.LinkDisconnected` when the phone is
    /// gone.
    fn send_frame(&self, frame: Vec<u8>) -> Result<(), crate::door::DoorCallbackError>;
    /// The session is over (its result sent, or failed): disconnect the phone once the frames
    /// handed over so far are sent (or leave that to the phone, which disconnects too).
    fn disconnect(&self);
}

/// What one frame from the phone did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SessionProgress {
    /// The message is not complete yet.
    NeedMore,
    /// The door decided from the request alone (the actuator already ran on a grant); the
    /// door updates it announced are still to come.
    Decided { entry: DoorEntry },
    /// The exchange is complete: the state was saved and the result sent.
    Finished { report: DoorSessionReport },
}

/// What a finished session did at the door.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoorSessionReport {
    /// The decision and its activity record; `None` for a delivery session (the phone only
    /// brought updates: nothing was decided, opened or logged).
    pub entry: Option<DoorEntry>,
    /// The door's update seq before and after: updates `seq_before+1 ..= seq_after` were
    /// consumed; `seq_after` is the receipt's applied seq.
    pub seq_before: u64,
    pub seq_after: u64,
    /// Consumed updates that failed their own checks.
    pub rejected_updates: Vec<u64>,
    /// Why the carried batch was refused as a whole, if it was (nothing consumed).
    pub batch_rejected: Option<String>,
}

enum Phase {
    Open { session: Box<DoorSession>, decision: Option<DoorEntry> },
    Over,
}

/// One connection's session; make one per connection with `DoorController.connect`.
#[derive(uniffi::Object)]
pub struct DoorConnection {
    door: Arc<DoorShared>,
    link: Arc<dyn DoorLink>,
    mtu: Mutex<usize>,
    phase: Mutex<Phase>,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[uniffi::export]
impl DoorController {
    /// A phone connected and subscribed to the response characteristic at `mtu` (held to
    /// 23..=517): starts a session and sends the door's signed challenge through `link`.
    pub fn connect(&self, link: Arc<dyn DoorLink>, mtu: u32) -> DoorResult<Arc<DoorConnection>> {
        let mtu = gatt::effective_mtu(usize::try_from(mtu).unwrap_or(usize::MAX));
        let session = DoorSession::new(&mut self.shared.door().engine, rtc_now(), random16());
        let conn = Arc::new(DoorConnection {
            door: self.shared.clone(),
            link,
            mtu: Mutex::new(mtu),
            phase: Mutex::new(Phase::Open { session: Box::new(session), decision: None }),
            started: Instant::now(),
        });
        let mut phase = lock(&conn.phase);
        conn.transmit(&mut phase)?;
        drop(phase);
        Ok(conn)
    }
}

impl DoorConnection {
    /// Sends every queued frame; a failed send ends the session.
    fn transmit(&self, phase: &mut Phase) -> DoorResult<()> {
        let mtu = *lock(&self.mtu);
        let Phase::Open { session, .. } = phase else { return Err(DoorError::SessionOver) };
        while let Some(frame) = session.poll_transmit(mtu) {
            if let Err(e) = self.link.send_frame(frame) {
                self.end(phase);
                return Err(DoorError::Link { reason: e.to_string() });
            }
        }
        Ok(())
    }

    /// Ends the session: whatever it changed (a decision already logged) is saved, and the
    /// controller is told to disconnect.
    fn end(&self, phase: &mut Phase) {
        if matches!(std::mem::replace(phase, Phase::Over), Phase::Open { .. }) {
            self.link.disconnect();
        }
    }

    /// Fails the session with `error`, saving what it decided.
    fn fail(&self, phase: &mut Phase, error: DoorError) -> DoorError {
        self.end(phase);
        match self.door.door().save() {
            Ok(()) => error,
            Err(save) => {
                tracing::warn!(error = %save, "the door could not save after a failed session");
                error
            }
        }
    }

    fn handle(&self, phase: &mut Phase, frame: &[u8]) -> DoorResult<SessionProgress> {
        if self.started.elapsed() > DEFAULT_SESSION_TIMEOUT {
            return Err(self.fail(phase, DoorError::SessionTimeout { secs: DEFAULT_SESSION_TIMEOUT.as_secs() }));
        }
        let Phase::Open { session, decision } = phase else { return Err(DoorError::SessionOver) };
        let mut door = self.door.door();
        let step = match session.handle_frame(&mut door.engine, frame, rtc_now()) {
            Ok(step) => step,
            Err(e) => {
                drop(door);
                return Err(self.fail(phase, DoorError::Session { reason: e.to_string() }));
            }
        };
        let (decided, unsent) = match step {
            DoorStep::NeedMore => {
                // A refused ticket's answer goes out at once (the phone's full request follows).
                drop(door);
                self.transmit(phase)?;
                return Ok(SessionProgress::NeedMore);
            }
            DoorStep::Decided(entry) => (Some(entry), None),
            DoorStep::Finished { decided, result } => (decided, Some(result)),
        };
        if let Some(entry) = decided {
            let entry = DoorEntry::from(&entry);
            *decision = Some(entry.clone());
            // The lock opens on the decision, before any batch arrives and before the save.
            drop(door);
            self.door.actuate(&entry);
            door = self.door.door();
        }
        let Some(unsent) = unsent else {
            let entry = decision.clone().ok_or(DoorError::Internal { reason: "no decision".into() })?;
            return Ok(SessionProgress::Decided { entry });
        };
        // Save before the result leaves: the result is released only once the store confirmed.
        if let Err(e) = door.save() {
            drop(door);
            drop(unsent);
            self.end(phase);
            tracing::warn!(error = %e, "door state not saved: the session's result is withheld");
            return Err(e);
        }
        let released = session.handle_saved(&mut door.engine, unsent);
        drop(door);
        let result = match released {
            Ok(r) => r,
            Err(e) => return Err(self.fail(phase, DoorError::Internal { reason: e.to_string() })),
        };
        let entry = decision.clone();
        self.transmit(phase)?;
        // The next session's offer is signed now, while the door is idle.
        self.door.door().engine.prepare_offer(rtc_now(), crate::door_feed::random16());
        let updates = &result.updates;
        let report = DoorSessionReport {
            entry,
            seq_before: updates.seq_before,
            seq_after: updates.seq_after,
            rejected_updates: updates.rejected_updates.iter().map(|r| r.seq).collect(),
            batch_rejected: updates.batch_rejected.as_ref().map(|r| format!("{r:?}")),
        };
        self.end(phase);
        Ok(SessionProgress::Finished { report })
    }
}

#[uniffi::export]
impl DoorConnection {
    /// A frame the phone wrote to the request characteristic. On a decision the actuator runs
    /// (on a grant); once the exchange is complete the door's state is saved and only then
    /// are the result's frames sent. Raises `Session` (garbled frames), `Storage` (the save
    /// failed: the result is withheld), `Link`, `SessionTimeout` or `SessionOver`; after any
    /// of them the session is over and `DoorLink.disconnect` was called.
    pub fn frame_received(&self, frame: Vec<u8>) -> DoorResult<SessionProgress> {
        let mut phase = lock(&self.phase);
        self.handle(&mut phase, &frame)
    }

    /// The stack negotiated another MTU (frames sent from now on are sized to it).
    pub fn mtu_changed(&self, mtu: u32) {
        *lock(&self.mtu) = gatt::effective_mtu(usize::try_from(mtu).unwrap_or(usize::MAX));
    }

    /// The phone disconnected. A session cut short applies nothing of a batch it did not
    /// receive whole; a decision it made stays logged and is saved. Raises `Storage` when that
    /// save failed.
    pub fn disconnected(&self) -> DoorResult<()> {
        let mut phase = lock(&self.phase);
        if matches!(std::mem::replace(&mut *phase, Phase::Over), Phase::Open { .. }) {
            drop(phase);
            self.door.door().save()?;
        }
        Ok(())
    }

    /// Whether the session is over (finished, failed or disconnected).
    pub fn is_over(&self) -> bool {
        matches!(*lock(&self.phase), Phase::Over)
    }
}
