//! An internet-connected door's feed: one connection to Mission Control over which the door
//! proves its door key (a fresh challenge signed by the door: no shared secret in the door's
//! file), receives its update log as the same signed batches phones carry, as soon as a
//! manager acts, and posts its own receipts. A lost connection is retried with backoff and
//! resumes from the door's seq (read from its state file each time, so a restart mid-batch
//! applies nothing twice). A batch that does not verify for this door (another property's
//! authority, a damaged one) is refused with a line saying why and changes nothing. Each
//! session sets the door's clock to Mission Control's time, signed for a nonce the door chose
//! (the only statement that may move a door's clock back).
//!
//! The feed itself is the door SDK's ([`keyway_ffi::door_feed::DoorFeed`]): this module gives
//! it the state file as its door and prints its events as [`FeedLine`]s.

use crate::door_file::{DoorFile, DoorFileError};
use keyway_api::client::SyncError;
use keyway_ffi::door_feed::{DoorFeed, FeedDoor, FeedEvent};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, UpdateBatch};
use keyway_protocol::door::DoorEngine;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the feed did, as `lock-sim` prints it (one line each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "feed", rename_all = "snake_case")]
pub enum FeedLine {
    /// A session is open; the door's seq is where the log resumes.
    Connected { door_id: DoorId, update_seq: u64 },
    /// A batch from the feed was applied (updates `seq_before+1 ..= seq_after` consumed).
    Applied { door_id: DoorId, seq_before: u64, seq_after: u64, rejected: Vec<u64> },
    /// A batch from the feed was refused before anything was applied.
    Refused { door_id: DoorId, reason: String },
    /// The door's receipt reached Mission Control.
    Reported { door_id: DoorId, applied_seq: u64, newly_delivered: Vec<u64> },
    /// The door's clock was set to Mission Control's signed time.
    Clock { door_id: DoorId, before: UnixTime, after: UnixTime },
    /// The connection failed; the feed tries again after `retry_in_ms`.
    Disconnected { door_id: DoorId, error: String, retry_in_ms: u64 },
}

impl FeedLine {
    pub fn text(&self) -> String {
        match self {
            FeedLine::Connected { door_id, update_seq } => {
                format!("{door_id}: door feed connected, resuming after update seq {update_seq}")
            }
            FeedLine::Applied { door_id, seq_before, seq_after, rejected } if rejected.is_empty() => {
                format!("{door_id}: door feed: updates {seq_before} → {seq_after} applied")
            }
            FeedLine::Applied { door_id, seq_before, seq_after, rejected } => {
                format!("{door_id}: door feed: updates {seq_before} → {seq_after}, refused by the door: {rejected:?}")
            }
            FeedLine::Refused { door_id, reason } => {
                format!("{door_id}: door feed: batch refused, nothing applied: {reason}")
            }
            FeedLine::Reported { door_id, applied_seq, newly_delivered } => {
                format!("{door_id}: door feed: receipt at seq {applied_seq} reported, delivered {newly_delivered:?}")
            }
            FeedLine::Clock { door_id, before, after } => {
                format!("{door_id}: door feed: clock set from {before} to {after} by Mission Control's signed time")
            }
            FeedLine::Disconnected { door_id, error, retry_in_ms } => {
                format!("{door_id}: door feed: {error}; retrying in {retry_in_ms} ms")
            }
        }
    }

    /// The line for `event` of the door `door_id`'s feed.
    pub fn from_event(door_id: DoorId, event: &FeedEvent) -> FeedLine {
        match event {
            FeedEvent::Connected { update_seq } => FeedLine::Connected { door_id, update_seq: *update_seq },
            FeedEvent::Applied { seq_before, seq_after, rejected } => FeedLine::Applied {
                door_id,
                seq_before: *seq_before,
                seq_after: *seq_after,
                rejected: rejected.clone(),
            },
            FeedEvent::Refused { reason } => FeedLine::Refused { door_id, reason: reason.clone() },
            FeedEvent::Reported { applied_seq, newly_delivered } => {
                FeedLine::Reported { door_id, applied_seq: *applied_seq, newly_delivered: newly_delivered.clone() }
            }
            FeedEvent::ClockSet { before, after } => FeedLine::Clock { door_id, before: *before, after: *after },
            FeedEvent::Disconnected { error, retry_in } => FeedLine::Disconnected {
                door_id,
                error: error.clone(),
                retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }
}

/// The state file as the feed's door: every read loads it under its lock, every change is one
/// transaction on it (written atomically before the feed goes on).
impl FeedDoor for DoorFile {
    type Error = DoorFileError;

    fn rtc_now(&self) -> UnixTime {
        DoorFile::rtc_now(self)
    }

    fn read<T>(&self, f: impl FnOnce(&DoorEngine) -> T) -> Result<T, DoorFileError> {
        Ok(f(&self.load()?))
    }

    fn update<T>(&self, act: impl FnOnce(&mut DoorEngine, UnixTime) -> T) -> Result<T, DoorFileError> {
        let rtc = DoorFile::rtc_now(self);
        self.with_door(|d| act(d, rtc))
    }
}

/// Why a feed call failed: the state file (the feed stops) or Mission Control (retried).
pub type FeedError = keyway_ffi::door_feed::FeedError<DoorFileError>;

/// The feed of the door in `door`, against the Mission Control at `backend`.
pub struct Feed {
    inner: DoorFeed<DoorFile>,
}

impl Feed {
    pub fn new(backend: &str, door: DoorFile) -> Result<Self, SyncError> {
        Ok(Feed { inner: DoorFeed::new(backend, Arc::new(door))? })
    }

    fn door_id(&self) -> Result<DoorId, DoorFileError> {
        Ok(self.inner.door().load()?.door_id())
    }

    /// Runs until a state-file error stops the door (the network never does: it is retried).
    pub async fn run(&self, mut report: impl FnMut(&FeedLine)) -> Result<(), FeedError> {
        let door_id = self.door_id().map_err(FeedError::Door)?;
        Err(self.inner.run(|event| report(&FeedLine::from_event(door_id, event))).await)
    }

    /// A fresh feed session: the backend's challenge signed with the door key, and the door's
    /// clock set to the backend's time statement bound to the door's own fresh nonce. Returns
    /// the session token and the door's seq it announced.
    pub async fn session(&self) -> Result<(String, u64), FeedError> {
        self.inner.session().await
    }

    /// One poll: applies what it brings, then reports the door's receipt when Mission Control
    /// lacks something the door has (an applied update, new activity).
    pub async fn step(&self, token: &str, wait_secs: u32, report: &mut impl FnMut(&FeedLine)) -> Result<(), FeedError> {
        let door_id = self.door_id().map_err(FeedError::Door)?;
        self.inner.step(token, wait_secs, &mut |event| report(&FeedLine::from_event(door_id, event))).await
    }

    /// Applies a batch that verifies for this door; refuses any other with a line (and changes
    /// nothing).
    pub fn apply(&self, batch: &UpdateBatch) -> Result<FeedLine, DoorFileError> {
        let door_id = self.door_id()?;
        Ok(FeedLine::from_event(door_id, &self.inner.apply_blocking(batch)?))
    }
}
