//! An internet-connected door's feed: one connection to Mission Control over which the door
//! proves its door key (a fresh challenge signed by the door: no shared secret in the door's
//! file), receives its update log as the same signed batches phones carry, as soon as a
//! manager acts, and posts its own receipts. A lost connection is retried with backoff and
//! resumes from the door's seq (read from its state file each time, so a restart mid-batch
//! applies nothing twice). A batch that does not verify for this door (another property's
//! authority, a damaged one) is refused with a line saying why and changes nothing. Each
//! session sets the door's clock to Mission Control's time, signed for a nonce the door chose
//! (the only statement that may move a door's clock back).

use crate::door_file::{DoorFile, DoorFileError};
use keyway_api::client::{ClientConfig, DoorFeedClient, SyncError};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, Receipt, UpdateBatch};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A clock change larger than this is reported.
const CLOCK_REPORT_SECS: u64 = 2;
/// First and longest pause before reconnecting.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

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
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Door(#[from] DoorFileError),
    #[error(transparent)]
    Backend(#[from] SyncError),
}

/// The feed of the door in `door`, against the Mission Control at `backend`.
pub struct Feed {
    client: DoorFeedClient,
    door: DoorFile,
    /// How long each poll may wait on the server for news.
    pub wait_secs: u32,
    /// The activity head of the last receipt posted (so a gap Mission Control can never fill
    /// does not make every poll post again).
    reported_activity: std::sync::atomic::AtomicU64,
}

impl Feed {
    pub fn new(backend: &str, door: DoorFile) -> Result<Self, SyncError> {
        let client = DoorFeedClient::new(ClientConfig::new(backend))?;
        Ok(Feed { client, door, wait_secs: 25, reported_activity: Default::default() })
    }

    /// Runs until a state-file error stops the door (the network never does: it is retried).
    pub async fn run(&self, mut report: impl FnMut(&FeedLine)) -> Result<(), DoorFileError> {
        let door_id = self.door.load()?.door_id();
        let mut backoff = BACKOFF_START;
        loop {
            match self.session_reporting(&mut report).await {
                Ok((token, seq)) => {
                    backoff = BACKOFF_START;
                    report(&FeedLine::Connected { door_id, update_seq: seq });
                    match self.follow(&token, &mut report).await {
                        Err(FeedError::Door(e)) => return Err(e),
                        Err(FeedError::Backend(e)) if e.is_unauthorized() => continue,
                        Err(FeedError::Backend(e)) => self.pause(door_id, e, &mut backoff, &mut report).await,
                        Ok(()) => {}
                    }
                }
                Err(FeedError::Door(e)) => return Err(e),
                Err(FeedError::Backend(e)) => self.pause(door_id, e, &mut backoff, &mut report).await,
            }
        }
    }

    async fn pause(&self, door_id: DoorId, e: SyncError, backoff: &mut Duration, report: &mut impl FnMut(&FeedLine)) {
        report(&FeedLine::Disconnected { door_id, error: e.to_string(), retry_in_ms: backoff.as_millis() as u64 });
        tokio::time::sleep(*backoff).await;
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
    }

    /// A fresh feed session: the backend's challenge signed with the door key, and the door's
    /// clock set to the backend's time statement bound to the door's own fresh nonce. Returns
    /// the session token and the door's seq it announced.
    pub async fn session(&self) -> Result<(String, u64), FeedError> {
        self.session_reporting(&mut |_| {}).await
    }

    async fn session_reporting(&self, report: &mut impl FnMut(&FeedLine)) -> Result<(String, u64), FeedError> {
        let door_id = self.door.load()?.door_id();
        let challenge = self.client.challenge(door_id).await?;
        let mut door_nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut door_nonce);
        let hello = self.door.with_door(|d| d.feed_hello(challenge.nonce.0.0, door_nonce, self.door.rtc_now()))?;
        let session = self.client.session(&hello).await?;
        let rtc = self.door.rtc_now();
        let set = self.door.with_door(|d| d.handle_time(&session.time.0, Some(&door_nonce), rtc))?;
        match set {
            Ok(Some(c)) if c.delta_secs().unsigned_abs() > CLOCK_REPORT_SECS => {
                report(&FeedLine::Clock { door_id, before: c.before, after: c.after })
            }
            Ok(_) => {}
            Err(e) => report(&FeedLine::Refused { door_id, reason: format!("time statement: {e}") }),
        }
        Ok((session.session_token, hello.body.update_seq))
    }

    /// Polls and applies until the connection fails.
    async fn follow(&self, token: &str, report: &mut impl FnMut(&FeedLine)) -> Result<(), FeedError> {
        loop {
            self.step(token, self.wait_secs, report).await?;
        }
    }

    /// One poll: applies what it brings, then reports the door's receipt when Mission Control
    /// lacks something the door has (an applied update, new activity).
    pub async fn step(&self, token: &str, wait_secs: u32, report: &mut impl FnMut(&FeedLine)) -> Result<(), FeedError> {
        let seq = self.door.load()?.update_seq();
        let answer = self.client.updates(token, seq, wait_secs).await?;
        if let Some(batch) = answer.batch {
            report(&self.apply(&batch.0)?);
        }
        let door = self.door.load()?;
        let reported = self.reported_activity.load(Ordering::Relaxed).max(answer.known_activity_head);
        if door.update_seq() > answer.receipted_seq || door.activity().head() > reported {
            let receipt = door.receipt(nonce(), answer.known_activity_head);
            let head = receipt.body.activity_head;
            self.post(token, door.door_id(), receipt, report).await?;
            self.reported_activity.fetch_max(head, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Applies a batch that verifies for this door; refuses any other with a line.
    pub fn apply(&self, batch: &UpdateBatch) -> Result<FeedLine, DoorFileError> {
        let rtc = self.door.rtc_now();
        self.door.with_door(|engine| {
            let door_id = engine.door_id();
            if let Err(e) = batch.verify_for(&engine.state().anchors, door_id) {
                return FeedLine::Refused { door_id, reason: e.to_string() };
            }
            let report = engine.apply_batch(batch, rtc);
            match report.batch_rejected {
                Some(reason) => FeedLine::Refused { door_id, reason: format!("{reason:?}") },
                None => FeedLine::Applied {
                    door_id,
                    seq_before: report.seq_before,
                    seq_after: report.seq_after,
                    rejected: report.rejected_updates.iter().map(|r| r.seq).collect(),
                },
            }
        })
    }

    async fn post(
        &self,
        token: &str,
        door_id: DoorId,
        receipt: Receipt,
        report: &mut impl FnMut(&FeedLine),
    ) -> Result<(), FeedError> {
        let applied_seq = receipt.body.applied_seq;
        let answer = self.client.receipts(token, &[receipt]).await?;
        let newly_delivered = answer.results.into_iter().flat_map(|r| r.newly_delivered).collect();
        report(&FeedLine::Reported { door_id, applied_seq, newly_delivered });
        Ok(())
    }
}

/// What the receipt's phone nonce holds when the door itself reports: fresh bytes.
fn nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut n);
    n
}
