//! An internet-connected door's feed: one long-poll connection to Mission Control over which
//! the door proves its door key (a fresh challenge signed by the door: no shared secret), hears
//! its update log as the same signed batches phones carry, as soon as a manager acts, and posts
//! its own receipts. One implementation, [`DoorFeed`], for every door that has a feed: the door
//! SDK's controllers (`DoorController.startFeed`, below) and `samples/lock-sim` (over its state
//! file), each through [`FeedDoor`], the small trait for "the door the feed drives".
//!
//! - Every batch is checked (`UpdateBatch::verify_for` the door's own anchors and id) before it
//!   is applied; one that fails (another door's, another property's authority, damaged) is
//!   refused with [`FeedEvent::Refused`] and changes nothing, not even the activity log.
//! - An applied batch is saved (through [`FeedDoor::update`], durably) before any receipt
//!   leaves the door, and receipts are signed from saved state only ([`FeedDoor::read`]): a
//!   receipt never promises an update a power cut could undo.
//! - The door's seq is read before every poll, so a restart between applying and reporting
//!   applies nothing twice and reports at the next poll (`receipted_seq` says Mission Control
//!   lacks the receipt).
//! - Each session sets the door's clock to Mission Control's time statement, bound to a nonce
//!   the door chose for that session (the only statement that may move a door's clock back).
//! - A lost connection is retried from 200 ms doubling to 30 s (a 429's `Retry-After` is
//!   honoured); a 401 re-authenticates at once. Only a door error (its state could not be read
//!   or saved) ends the feed.

use crate::door::{DoorCallbackError, DoorController, DoorError, DoorResult, DoorShared};
use keyway_api::client::{ClientConfig, DoorFeedClient, SyncError};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{FeedHello, Receipt, UpdateBatch};
use keyway_protocol::door::DoorEngine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A clock change larger than this is reported.
const CLOCK_REPORT_SECS: u64 = 2;
/// First and longest pause before reconnecting.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The longest a 429's `Retry-After` may hold the feed back.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);
/// How long each poll waits on Mission Control for news by default.
pub const DEFAULT_WAIT_SECS: u32 = 25;

/// The door a feed drives: its engine and where its state is kept. The feed calls these on a
/// blocking thread (never on an async worker), one at a time.
pub trait FeedDoor: Send + Sync + 'static {
    /// Why the door's state could not be read or saved.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The door's real-time clock reading (the engine corrects it with signed time).
    fn rtc_now(&self) -> UnixTime;

    /// `f` on the door as saved. An implementation that keeps the door in memory saves any
    /// change not saved yet first (and fails if it cannot), so nothing read here, a receipt
    /// in particular, is ahead of the store.
    fn read<T>(&self, f: impl FnOnce(&DoorEngine) -> T) -> Result<T, Self::Error>;

    /// `act` on the door (with [`FeedDoor::rtc_now`]), then saves the door durably before
    /// returning. On an error nothing derived from the change may leave the door.
    fn update<T>(&self, act: impl FnOnce(&mut DoorEngine, UnixTime) -> T) -> Result<T, Self::Error>;
}

/// What the feed did (the door's id is the caller's to add).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedEvent {
    /// A session is open; the door's seq is where the log resumes.
    Connected { update_seq: u64 },
    /// A batch from the feed was applied and saved (updates `seq_before+1 ..= seq_after`
    /// consumed; `rejected` failed their own checks at the door).
    Applied { seq_before: u64, seq_after: u64, rejected: Vec<u64> },
    /// A batch (or the session's time statement) was refused before anything was applied.
    Refused { reason: String },
    /// The door's receipt reached Mission Control.
    Reported { applied_seq: u64, newly_delivered: Vec<u64> },
    /// The door's clock was set to Mission Control's signed time (moves of more than 2 s).
    ClockSet { before: UnixTime, after: UnixTime },
    /// The connection failed; the feed tries again after `retry_in`.
    Disconnected { error: String, retry_in: Duration },
}

/// Why a feed call failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError<E: std::error::Error + 'static> {
    /// The door's state could not be read or saved: the feed stops.
    #[error(transparent)]
    Door(E),
    /// Mission Control could not be reached or refused: retried.
    #[error(transparent)]
    Backend(#[from] SyncError),
    /// The door's blocking task did not complete (it panicked, or the runtime is shutting
    /// down): the feed stops.
    #[error("the door feed was interrupted: {0}")]
    Interrupted(String),
}

/// The feed of one door against one Mission Control.
pub struct DoorFeed<D: FeedDoor> {
    client: DoorFeedClient,
    door: Arc<D>,
    /// How long each poll may wait on the server for news (held to the API's maximum).
    pub wait_secs: u32,
    /// The activity head of the last receipt posted (so a gap Mission Control can never fill
    /// does not make every poll post again).
    reported_activity: AtomicU64,
}

impl<D: FeedDoor> DoorFeed<D> {
    /// The feed of `door` against the Mission Control at `backend` (its base URL).
    pub fn new(backend: &str, door: Arc<D>) -> Result<Self, SyncError> {
        let client = DoorFeedClient::new(ClientConfig::new(backend))?;
        Ok(DoorFeed { client, door, wait_secs: DEFAULT_WAIT_SECS, reported_activity: AtomicU64::new(0) })
    }

    /// The door this feed drives.
    pub fn door(&self) -> &Arc<D> {
        &self.door
    }

    /// `f` on the door, on a blocking thread.
    async fn on_door<T: Send + 'static>(
        &self,
        f: impl FnOnce(&D) -> Result<T, D::Error> + Send + 'static,
    ) -> Result<T, FeedError<D::Error>> {
        let door = self.door.clone();
        match tokio::task::spawn_blocking(move || f(&door)).await {
            Ok(out) => out.map_err(FeedError::Door),
            Err(e) => Err(FeedError::Interrupted(e.to_string())),
        }
    }

    /// Runs until the door's state cannot be read or saved (the network never stops it: it
    /// is retried), calling `report` for every event. Dropping the future stops the feed at
    /// once; a save under way completes.
    pub async fn run(&self, mut report: impl FnMut(&FeedEvent)) -> FeedError<D::Error> {
        let mut backoff = BACKOFF_START;
        loop {
            let failed = match self.session_reporting(&mut report).await {
                Ok((token, seq)) => {
                    backoff = BACKOFF_START;
                    report(&FeedEvent::Connected { update_seq: seq });
                    match self.follow(&token, &mut report).await {
                        // The session expired (Mission Control restarted): sign in again at
                        // once, unless it was refused before any poll went through.
                        (FeedError::Backend(e), true) if e.is_unauthorized() => continue,
                        (e, _) => e,
                    }
                }
                Err(e) => e,
            };
            match failed {
                FeedError::Backend(e) => self.pause(e, &mut backoff, &mut report).await,
                stop => return stop,
            }
        }
    }

    async fn pause(&self, e: SyncError, backoff: &mut Duration, report: &mut impl FnMut(&FeedEvent)) {
        let wait = match &e {
            SyncError::TooManyRequests { retry_after: Some(after), .. } => (*after).clamp(*backoff, RETRY_AFTER_MAX),
            _ => *backoff,
        };
        report(&FeedEvent::Disconnected { error: e.to_string(), retry_in: wait });
        tokio::time::sleep(wait).await;
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
    }

    /// A fresh feed session: the backend's challenge signed with the door key, and the door's
    /// clock set to the backend's time statement bound to the door's own fresh nonce. Returns
    /// the session token and the door's seq it announced.
    pub async fn session(&self) -> Result<(String, u64), FeedError<D::Error>> {
        self.session_reporting(&mut |_| {}).await
    }

    async fn session_reporting(
        &self,
        report: &mut impl FnMut(&FeedEvent),
    ) -> Result<(String, u64), FeedError<D::Error>> {
        let door_id = self.on_door(|d| d.read(|e| e.door_id())).await?;
        let challenge = self.client.challenge(door_id).await?;
        let random = random16();
        let server_nonce = challenge.nonce.0.0;
        let hello: FeedHello =
            self.on_door(move |d| d.update(|e, rtc| e.feed_hello(server_nonce, random, rtc))).await?;
        // The door made its nonce from the randomness (with its counter and clock).
        let door_nonce = hello.body.door_nonce;
        let session = self.client.session(&hello).await?;
        let statement = session.time.0;
        let set = self.on_door(move |d| d.update(|e, rtc| e.handle_time(&statement, Some(&door_nonce), rtc))).await?;
        match set {
            Ok(Some(c)) if c.delta_secs().unsigned_abs() > CLOCK_REPORT_SECS => {
                report(&FeedEvent::ClockSet { before: c.before, after: c.after })
            }
            Ok(_) => {}
            Err(e) => report(&FeedEvent::Refused { reason: format!("time statement: {e}") }),
        }
        Ok((session.session_token, hello.body.update_seq))
    }

    /// Polls and applies until the connection fails; says whether any poll went through.
    async fn follow(&self, token: &str, report: &mut impl FnMut(&FeedEvent)) -> (FeedError<D::Error>, bool) {
        let mut polled = false;
        loop {
            match self.step(token, self.wait_secs, report).await {
                Ok(()) => polled = true,
                Err(e) => return (e, polled),
            }
        }
    }

    /// One poll: applies (and saves) what it brings, then reports the door's receipt when
    /// Mission Control lacks something the door has (an applied update, new activity).
    pub async fn step(
        &self,
        token: &str,
        wait_secs: u32,
        report: &mut impl FnMut(&FeedEvent),
    ) -> Result<(), FeedError<D::Error>> {
        let seq = self.on_door(|d| d.read(|e| e.update_seq())).await?;
        let answer = self.client.updates(token, seq, wait_secs).await?;
        if let Some(batch) = answer.batch {
            let batch = batch.0;
            report(&self.on_door(move |d| apply_to(d, &batch)).await?);
        }
        let reported = self.reported_activity.load(Ordering::Relaxed).max(answer.known_activity_head);
        let (receipted, known) = (answer.receipted_seq, answer.known_activity_head);
        // Read from the saved door only: the applied batch above is on disk before this.
        let receipt = self
            .on_door(move |d| {
                // Signing a receipt makes the records it carries final (saved with the door).
                d.update(|e, _| {
                    (e.update_seq() > receipted || e.activity().head() > reported).then(|| e.receipt(random16(), known))
                })
            })
            .await?;
        if let Some(receipt) = receipt {
            let head = receipt.body.activity_head;
            self.post(token, receipt, report).await?;
            self.reported_activity.fetch_max(head, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Applies a batch that verifies for this door and saves it; refuses any other (nothing
    /// changes, nothing is saved). Blocking: call it off the async workers.
    pub fn apply_blocking(&self, batch: &UpdateBatch) -> Result<FeedEvent, D::Error> {
        apply_to(&*self.door, batch)
    }

    async fn post(
        &self,
        token: &str,
        receipt: Receipt,
        report: &mut impl FnMut(&FeedEvent),
    ) -> Result<(), FeedError<D::Error>> {
        let applied_seq = receipt.body.applied_seq;
        let answer = self.client.receipts(token, &[receipt]).await?;
        let newly_delivered = answer.results.into_iter().flat_map(|r| r.newly_delivered).collect();
        report(&FeedEvent::Reported { applied_seq, newly_delivered });
        Ok(())
    }
}

/// Checks `batch` against the door's own anchors and id first, under the same hold of the door
/// as the apply: one that fails is refused without touching the engine (not even its clock or
/// activity log); one that verifies is applied and saved.
fn apply_to<D: FeedDoor>(door: &D, batch: &UpdateBatch) -> Result<FeedEvent, D::Error> {
    door.update(|engine, rtc| {
        if let Err(e) = batch.verify_for(&engine.state().anchors, engine.door_id()) {
            return FeedEvent::Refused { reason: e.to_string() };
        }
        let report = engine.apply_batch(batch, rtc);
        match report.batch_rejected {
            Some(reason) => FeedEvent::Refused { reason: format!("{reason:?}") },
            None => FeedEvent::Applied {
                seq_before: report.seq_before,
                seq_after: report.seq_after,
                rejected: report.rejected_updates.iter().map(|r| r.seq).collect(),
            },
        }
    })
}

/// Fresh bytes: the door's nonce for a session's time statement, and the receipt's phone nonce
/// when the door itself reports.
pub(crate) fn random16() -> [u8; 16] {
    let mut n = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut n);
    n
}

// The door SDK's face of the feed.

/// The SDK's door as the feed sees it: the controller's engine, saved through its `DoorStore`.
impl FeedDoor for DoorShared {
    type Error = DoorError;

    fn rtc_now(&self) -> UnixTime {
        crate::door::rtc_now()
    }

    fn read<T>(&self, f: impl FnOnce(&DoorEngine) -> T) -> Result<T, DoorError> {
        let mut door = self.door();
        door.save()?;
        Ok(f(&door.engine))
    }

    fn update<T>(&self, act: impl FnOnce(&mut DoorEngine, UnixTime) -> T) -> Result<T, DoorError> {
        let mut door = self.door();
        let out = act(&mut door.engine, crate::door::rtc_now());
        door.save()?;
        Ok(out)
    }
}

/// What the door's feed did, as the controller's [`DoorFeedListener`] hears it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DoorFeedEvent {
    /// A session with Mission Control is open; the log resumes after `update_seq`.
    Connected { update_seq: u64 },
    /// A batch of door updates was applied and saved through the `DoorStore`: updates
    /// `seq_before+1 ..= seq_after` were consumed, `rejected_updates` failed their own checks.
    Applied { seq_before: u64, seq_after: u64, rejected_updates: Vec<u64> },
    /// A batch (or the session's time statement) was refused and changed nothing: not for
    /// this door, not signed by this door's authority, or damaged.
    Refused { reason: String },
    /// The door's receipt reached Mission Control; `newly_delivered` are the seqs it now shows
    /// delivered.
    Reported { applied_seq: u64, newly_delivered: Vec<u64> },
    /// The door's clock was set to Mission Control's signed time (moves of more than 2 s).
    ClockSet { before: std::time::SystemTime, after: std::time::SystemTime },
    /// The connection failed (`error` says why); the feed tries again in `retry_in_ms`.
    Disconnected { error: String, retry_in_ms: u64 },
    /// The door's state could not be read or saved through the `DoorStore`: the feed has
    /// ended (nothing unsaved was reported). Start it again once the store works.
    Stopped { reason: String },
}

impl From<&FeedEvent> for DoorFeedEvent {
    fn from(e: &FeedEvent) -> Self {
        use crate::records::to_system_time;
        match e {
            FeedEvent::Connected { update_seq } => DoorFeedEvent::Connected { update_seq: *update_seq },
            FeedEvent::Applied { seq_before, seq_after, rejected } => DoorFeedEvent::Applied {
                seq_before: *seq_before,
                seq_after: *seq_after,
                rejected_updates: rejected.clone(),
            },
            FeedEvent::Refused { reason } => DoorFeedEvent::Refused { reason: reason.clone() },
            FeedEvent::Reported { applied_seq, newly_delivered } => {
                DoorFeedEvent::Reported { applied_seq: *applied_seq, newly_delivered: newly_delivered.clone() }
            }
            FeedEvent::ClockSet { before, after } => {
                DoorFeedEvent::ClockSet { before: to_system_time(*before), after: to_system_time(*after) }
            }
            FeedEvent::Disconnected { error, retry_in } => DoorFeedEvent::Disconnected {
                error: error.clone(),
                retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }
}

/// Hears the door feed's events, implemented by the controller.
#[uniffi::export(foreign)]
pub trait DoorFeedListener: Send + Sync {
    /// One event of the feed, in order, on Keyway's feed thread: hand it on to the
    /// controller's own queue rather than do slow work here. An error raised here is logged
    /// and the feed goes on.
    fn on_event(&self, event: DoorFeedEvent) -> Result<(), DoorCallbackError>;
}

/// A running door feed: `stop()` (or dropping it; Kotlin `close()`) ends it at once.
#[derive(uniffi::Object)]
pub struct DoorFeedHandle {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[uniffi::export]
impl DoorFeedHandle {
    /// Ends the feed now: its connection to Mission Control is dropped; a save through the
    /// `DoorStore` already under way completes, and an event being delivered on another
    /// thread at this moment may still arrive. Calling it again does nothing.
    pub fn stop(&self) {
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task
            && !task.is_finished()
        {
            task.abort();
            tracing::info!("door feed stopped by the controller");
        }
    }

    /// Whether the feed is still running (false after `stop()`, or once it ended on a store
    /// failure, told as `DoorFeedEvent.Stopped`).
    pub fn is_running(&self) -> bool {
        self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for DoorFeedHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The feed runs on Keyway's tokio runtime, the one the wallet's async calls run on.
#[uniffi::export(async_runtime = "tokio")]
impl DoorController {
    /// Starts the door feed from the Mission Control at `backend_url` (an internet-connected
    /// door): the door signs in with its door key, applies every door update the moment a
    /// manager makes it, saves it through the `DoorStore`, and only then posts its receipt.
    /// The actuator is not involved. Returns at once; the feed connects in the background,
    /// reconnects with backoff and tells `listener` what it does. Raises `InvalidInput` for a
    /// URL that is not http(s). Phones keep delivering the same updates over BLE; both paths
    /// apply each update once.
    pub async fn start_feed(
        &self,
        backend_url: String,
        listener: Arc<dyn DoorFeedListener>,
    ) -> DoorResult<Arc<DoorFeedHandle>> {
        let feed = DoorFeed::new(&backend_url, self.shared.clone())
            .map_err(|e| DoorError::InvalidInput { reason: e.to_string() })?;
        let door_id = self.door_id();
        let task = tokio::spawn(async move {
            let tell = |event: DoorFeedEvent| {
                if let Err(e) = listener.on_event(event) {
                    tracing::warn!(door = door_id, error = %e, "the door feed's listener failed");
                }
            };
            let stopped = feed.run(|event| tell(DoorFeedEvent::from(event))).await;
            tracing::warn!(door = door_id, error = %stopped, "door feed ended");
            tell(DoorFeedEvent::Stopped { reason: stopped.to_string() });
        });
        tracing::info!(door = door_id, backend = %backend_url, "door feed started");
        Ok(Arc::new(DoorFeedHandle { task: Mutex::new(Some(task)) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::{DoorActuator, DoorEntry, DoorStore};
    use keyway_api::{B64, ProvisionedDoor, Secret32};
    use keyway_protocol::credential::{
        AuthorityKeyId, DoorCertBody, DoorId, DoorOp, DoorUpdate, KeyPair, Signed, UpdateBatchBody,
    };

    /// A store in memory whose saves can be made to fail.
    #[derive(Default)]
    struct MemStore {
        bytes: Mutex<Option<Vec<u8>>>,
        saves: AtomicU64,
        failing: std::sync::atomic::AtomicBool,
    }

    impl DoorStore for MemStore {
        fn load(&self) -> Result<Option<Vec<u8>>, DoorCallbackError> {
            Ok(self.bytes.lock().unwrap().clone())
        }
        fn save(&self, state: Vec<u8>) -> Result<(), DoorCallbackError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(DoorCallbackError::Storage { reason: "no space left on device".into() });
            }
            self.saves.fetch_add(1, Ordering::SeqCst);
            *self.bytes.lock().unwrap() = Some(state);
            Ok(())
        }
    }

    impl MemStore {
        fn saved_seq(&self) -> u64 {
            let bytes = self.bytes.lock().unwrap().clone().unwrap();
            crate::door_install::engine_from_bytes(&bytes).unwrap().update_seq()
        }
    }

    struct NoActuator;
    impl DoorActuator for NoActuator {
        fn open(&self, _: DoorEntry) -> Result<(), DoorCallbackError> {
            panic!("the feed never opens the lock")
        }
    }

    const DOOR: DoorId = DoorId(7);

    /// A door of the property `authority`, and its store.
    fn door(authority: &KeyPair) -> (Arc<DoorController>, Arc<MemStore>) {
        let door_key = KeyPair::generate();
        let cert = Signed::sign(
            DoorCertBody::new(DOOR, door_key.public(), AuthorityKeyId::of(&authority.public().0)),
            authority,
        );
        let answer = ProvisionedDoor {
            door_id: DOOR,
            name: "Lobby".into(),
            online: true,
            door_certificate: B64(cert),
            door_secret_key: B64(Secret32(*door_key.secret())),
            doorcode_secret: B64(Secret32([7; 32])),
            card_key: None,
            trust_anchors: vec![B64(authority.public())],
            utc_offset_minutes: 60,
        };
        let store = Arc::new(MemStore::default());
        let json = serde_json::to_string(&answer).unwrap();
        (DoorController::provision(json, store.clone(), Arc::new(NoActuator)).unwrap(), store)
    }

    fn batch(door: DoorId, signer: &KeyPair) -> UpdateBatch {
        let issuer = AuthorityKeyId::of(&signer.public().0);
        let update = DoorUpdate::new(vec![DoorOp::SetUtcOffset { minutes: 120 }]).unwrap();
        Signed::sign(UpdateBatchBody::new(door, 1, keyway_api::clock::now(), issuer, vec![update]).unwrap(), signer)
    }

    fn feed(door: &DoorController) -> DoorFeed<DoorShared> {
        // Never contacted: these tests drive the door side alone.
        DoorFeed::new("http://127.0.0.1:9", door.shared.clone()).unwrap()
    }

    #[test]
    fn a_batch_for_another_door_or_from_another_authority_is_refused_and_changes_nothing() {
        let authority = KeyPair::generate();
        let (door, store) = door(&authority);
        let feed = feed(&door);
        let before = crate::door_install::state_bytes(&door.shared.door().engine);
        let saves = store.saves.load(Ordering::SeqCst);

        let stranger = feed.apply_blocking(&batch(DOOR, &KeyPair::generate())).unwrap();
        assert!(
            matches!(&stranger, FeedEvent::Refused { reason } if reason.contains("authority key this door does not know")),
            "{stranger:?}"
        );
        let other_door = feed.apply_blocking(&batch(DoorId(8), &authority)).unwrap();
        assert!(matches!(&other_door, FeedEvent::Refused { .. }), "{other_door:?}");

        assert_eq!(crate::door_install::state_bytes(&door.shared.door().engine), before, "clock and log untouched");
        assert_eq!(store.saves.load(Ordering::SeqCst), saves, "nothing was saved");
        assert_eq!(door.update_seq(), 0);
    }

    #[test]
    fn an_applied_batch_is_saved_before_the_feed_goes_on_and_a_failed_save_holds_back_every_receipt() {
        let authority = KeyPair::generate();
        let (door, store) = door(&authority);
        let feed = feed(&door);

        let applied = feed.apply_blocking(&batch(DOOR, &authority)).unwrap();
        assert_eq!(applied, FeedEvent::Applied { seq_before: 0, seq_after: 1, rejected: vec![] });
        assert_eq!(store.saved_seq(), 1, "saved before apply returned");

        // Restarted from the store, with saves failing: the batch is applied in memory but
        // the feed learns it failed, and nothing read for a receipt is ahead of the store.
        let (door, store) = self::door(&authority);
        let feed = self::feed(&door);
        store.failing.store(true, Ordering::SeqCst);
        let failed = feed.apply_blocking(&batch(DOOR, &authority));
        assert!(matches!(&failed, Err(DoorError::Storage { reason }) if reason.contains("no space")), "{failed:?}");
        let receipt = feed.door().update(|e, _| e.receipt([0; 16], 0));
        assert!(receipt.is_err(), "no receipt from a door whose state is not saved");
        assert_eq!(store.saved_seq(), 0);

        store.failing.store(false, Ordering::SeqCst);
        let receipt = feed.door().update(|e, _| e.receipt([0; 16], 0)).unwrap();
        assert_eq!((receipt.body.applied_seq, store.saved_seq()), (1, 1), "saved first, then receipted");
    }
}
