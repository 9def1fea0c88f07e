//! The door's accept loop: one unlock session per connection, each one a transaction on the
//! door's state file.

use crate::door_file::{DoorFile, DoorFileError};
use keyway_link::socket::DoorListener;
use keyway_link::{DoorHooks, DoorServer, LinkError};
use keyway_protocol::credential::{ActivityEvent, DoorId};
use keyway_protocol::door::{DoorEngine, Entry};
use keyway_protocol::unlock::Access;
use serde::{Deserialize, Serialize};

/// What one session did, as `lock-sim serve` prints it (one line per session; never confused
/// with the door feed's lines when read back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLine {
    pub door_id: DoorId,
    /// `None` when the session ended before the door decided.
    pub granted: Option<bool>,
    pub denial: Option<String>,
    pub key_id: Option<u64>,
    pub person_id: Option<u64>,
    pub seq_before: u64,
    pub seq_after: u64,
    /// Set when the session failed (the decision, if any, still stands and is logged).
    pub error: Option<String>,
}

impl SessionLine {
    pub fn text(&self) -> String {
        let decision = match (self.granted, &self.denial) {
            (Some(true), _) => "app unlock granted — unlocked".to_string(),
            (Some(false), Some(r)) => format!("app unlock refused: {r}"),
            _ => "no decision".to_string(),
        };
        let who = match (self.key_id, self.person_id) {
            (Some(k), Some(p)) => format!(" (key {k}, person {p})"),
            (Some(k), None) => format!(" (key {k})"),
            _ => String::new(),
        };
        let updates = if self.seq_after > self.seq_before {
            format!("; door updates {} → {}", self.seq_before, self.seq_after)
        } else {
            String::new()
        };
        let error = self.error.as_deref().map(|e| format!("; session error: {e}")).unwrap_or_default();
        format!("{}: {decision}{who}{updates}{error}", self.door_id)
    }
}

/// The lock-sim door's hooks: the decision is recorded for the session line (the actuator is
/// the printed line), and the state file is written before the result leaves.
struct FileHooks<'a> {
    decided: Option<Entry>,
    save: &'a dyn Fn(&DoorEngine) -> Result<(), DoorFileError>,
}

impl DoorHooks for FileHooks<'_> {
    fn actuate(&mut self, decision: &Entry) {
        self.decided = Some(decision.clone());
    }

    fn persist(&mut self, door: &DoorEngine) -> Result<(), String> {
        (self.save)(door).map_err(|e| e.to_string())
    }
}

/// Serves `door` on `listener` until accepting fails or a state-file error stops the door.
/// `report` gets one line per session.
pub fn serve_door(
    listener: &DoorListener,
    door: &DoorFile,
    mut report: impl FnMut(&SessionLine),
) -> Result<(), DoorFileError> {
    let mut fatal = None;
    // The door's offer and resume tickets live in memory (never in the state file): kept here
    // from one session's engine to the next, so a repeat unlock stays one round trip.
    let mut cache = keyway_protocol::door::SessionCache::default();
    let served = listener.serve(
        |link| {
            let mut nonce = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
            let result = door.with_door_saving(|engine, save| {
                engine.restore_session_cache(std::mem::take(&mut cache));
                let before = engine.update_seq();
                // The state is on disk before the receipt leaves the door: the server calls
                // `persist` before it may release the result.
                let mut hooks = FileHooks { decided: None, save };
                let served = DoorServer::new().serve(link, engine, door.rtc_now(), nonce, &mut hooks);
                let decided = hooks.decided;
                cache = engine.session_cache();
                let (key_id, person_id) = match decided.as_ref().map(|e| &e.record.event) {
                    Some(ActivityEvent::AppUnlock { key, person, .. }) => (Some(key.0), Some(person.0)),
                    Some(ActivityEvent::AppDenied { key, person, .. }) => (key.map(|k| k.0), person.map(|p| p.0)),
                    _ => (None, None),
                };
                let access = decided.map(|e| e.access);
                SessionLine {
                    door_id: engine.door_id(),
                    granted: access.map(Access::is_granted),
                    denial: access.and_then(Access::denial).map(|r| format!("{r:?}")),
                    key_id,
                    person_id,
                    seq_before: before,
                    seq_after: engine.update_seq(),
                    error: served.err().map(|e| e.to_string()),
                }
            });
            match result {
                Ok(line) => {
                    report(&line);
                    true
                }
                Err(e) => {
                    fatal = Some(e);
                    false
                }
            }
        },
        |e: LinkError| eprintln!("lock-sim: connection dropped: {e}"),
    );
    if let Some(e) = fatal {
        return Err(e);
    }
    served.map_err(|e| DoorFileError::Io {
        path: door.path().to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}
