//! One run of the building against the real code: Mission Control in-process on loopback with
//! its own SQLite file, a wallet (in-memory store) per phone, the door engine per door reached
//! over the simulated BLE link, the door feed for connected doors, and managers acting through
//! `ManagerClient`. Events are played one at a time in simulated time order, with
//! `keyway_api::clock` set to each event's time, so a run is a function of its seed.

use crate::model::{self, Config, DAY, DoorKind, DoorPlan, HOUR, MINUTE, PhoneHabit, Role};
use keyway_api::client::{ClientConfig, DoorFeedClient, ManagerClient, SyncError};
use keyway_api::clock::simulated;
use keyway_api::{
    AccessKind, AddKeycardRequest, CreatePropertyRequest, Expiry, InviteRequest, KeyGrant, KeycardKind, QueuedUpdate,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, PersonId};
use keyway_protocol::door::DoorEngine;
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::Wallet;
use keyway_wallet::store::secure::MemorySecureStorage;
use mission_control::Server;
use rand::rngs::StdRng;
use rand::{Rng, RngCore};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A Keyway run's settings (the Latch rule is computed from a Keyway run's door passes, see
/// [`crate::report`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub name: String,
    /// Connected doors follow Mission Control over the door feed; without it every door is
    /// reached by phones only.
    pub feed: bool,
    /// The property's revalidation window.
    pub window_days: u32,
    /// Phones deliver the updates they carry to the doors they walk past (delivery sessions).
    pub delivery: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("Mission Control: {0}")]
    Serve(#[from] mission_control::ServeError),
    #[error("backend call: {0}")]
    Backend(#[from] SyncError),
    #[error("wallet: {0}")]
    Wallet(#[from] keyway_wallet::WalletError),
    #[error("door installation: {0}")]
    Install(String),
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad parameters: {0}")]
    Config(#[from] model::ConfigError),
}

/// One manager action's updates at one door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub action: usize,
    pub kind: ActionKind,
    pub door: usize,
    pub door_kind: DoorKind,
    pub seq: u64,
    pub at: u64,
    pub applied_at: Option<u64>,
    pub receipt_at: Option<u64>,
}

/// A revoked credential: what its phone held, and where the doors stood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub action: usize,
    pub kind: ActionKind,
    pub at: u64,
    pub doors: Vec<RevokedDoor>,
}

/// One door of a revoked key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RevokedDoor {
    pub door: usize,
    /// The latest time the phone's certificates could open it: the certificate's freshness or
    /// the key's expiry, whichever is first.
    pub until: u64,
    /// The key's expiry alone (its lease).
    pub expiry: u64,
    /// The seq of the revocation at this door (0: none was queued there).
    pub seq: u64,
    pub applied_at: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActionKind {
    InviteVisitor,
    Doorcode,
    Keycard,
    ChangeExpiry,
    RevokeAllKeys,
    DeletePerson,
    MoveIn,
    AddKey,
}

impl ActionKind {
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::InviteVisitor => "invite a visitor (future start)",
            ActionKind::Doorcode => "doorcode for a contractor",
            ActionKind::Keycard => "keycard",
            ActionKind::ChangeExpiry => "edit a key's expiry",
            ActionKind::RevokeAllKeys => "Revoke All Keys",
            ActionKind::DeletePerson => "Delete Person",
            ActionKind::MoveIn => "invite a new resident (future start)",
            ActionKind::AddKey => "add a key",
        }
    }
}

const ACTION_WEIGHTS: [(ActionKind, u32); 8] = [
    (ActionKind::InviteVisitor, 20),
    (ActionKind::Doorcode, 10),
    (ActionKind::Keycard, 15),
    (ActionKind::ChangeExpiry, 10),
    (ActionKind::RevokeAllKeys, 12),
    (ActionKind::DeletePerson, 8),
    (ActionKind::MoveIn, 15),
    (ActionKind::AddKey, 10),
];

/// What happened, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub people: usize,
    pub unlocks: usize,
    pub granted: usize,
    pub unlock_errors: usize,
    pub updates_carried: usize,
    /// Delivery sessions run, and those in which the door applied something.
    pub deliveries: usize,
    pub deliveries_applied: usize,
    pub syncs: usize,
    pub sync_skipped: usize,
    pub sync_errors: usize,
    pub feed_polls: usize,
    pub feed_applied: usize,
    pub actions: usize,
    pub actions_with_updates: usize,
}

pub struct RunResult {
    pub scenario: Scenario,
    /// The building's doors, by index.
    pub doors: Vec<DoorPlan>,
    pub deliveries: Vec<Delivery>,
    pub revocations: Vec<Revocation>,
    /// Every app unlock attempt: time and door.
    pub unlocks: Vec<(u64, usize)>,
    pub counts: Counts,
    /// Wall-clock seconds the run took.
    pub wall_secs: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Pass { person: usize, door: usize },
    Sync { person: usize },
    AppSync { person: usize },
    Manager,
    FeedWake { door: usize },
}

struct Door {
    id: DoorId,
    plan: DoorPlan,
    engine: Arc<Mutex<DoorEngine>>,
    /// The door's seq as last seen, and when each seq above the start applied.
    seen_seq: u64,
    applied: BTreeMap<u64, u64>,
    feed: Option<Feed>,
}

struct Feed {
    client: DoorFeedClient,
    session: Option<(String, u64)>,
    outages: Vec<(u64, u64)>,
    wake_pending: Option<u64>,
    reported_activity: u64,
}

struct Person {
    person_id: PersonId,
    wallet: Wallet,
    habit: PhoneHabit,
    rng: StdRng,
    /// Revoked or deleted: the phone is gone from the building (it neither syncs nor unlocks).
    gone: bool,
    resident: Option<model::Resident>,
}

struct World {
    cfg: Config,
    scenario: Scenario,
    base: String,
    manager: ManagerClient,
    doors: Vec<Door>,
    people: Vec<Person>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    order: u64,
    now: u64,
    actions_rng: StdRng,
    link_rng: StdRng,
    next_resident: u64,
    deliveries: Vec<(usize, ActionKind, u64, Vec<QueuedUpdate>)>,
    revocations: Vec<Revocation>,
    unlocks: Vec<(u64, usize)>,
    counts: Counts,
}

/// Runs `scenario` in the building `cfg` describes.
pub async fn run(cfg: &Config, scenario: &Scenario) -> Result<RunResult, SimError> {
    cfg.check()?;
    let started = Instant::now();
    let dir = tempfile::tempdir_in(database_dir(cfg))?;
    let setup_at = cfg.start - DAY;
    simulated::set(UnixTime(setup_at));
    let server =
        Server::start(dir.path().join("mission-control.db"), "127.0.0.1:0".parse().expect("an address")).await?;
    let base = server.base_url();
    let result = async {
        let mut world = World::setup(cfg, scenario, &base).await?;
        world.play().await?;
        world.finish(started).await
    }
    .await;
    simulated::clear();
    server.shutdown().await?;
    result
}

/// Where Mission Control's SQLite file goes: the configured folder, else `/dev/shm` where
/// there is one (a file in memory: the run measures simulated time, and a disk's fsync per
/// commit would only slow the run down), else the system's temporary folder.
fn database_dir(cfg: &Config) -> std::path::PathBuf {
    if let Some(dir) = &cfg.db_dir {
        return dir.clone();
    }
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() }
}

fn secure() -> Arc<MemorySecureStorage> {
    Arc::new(MemorySecureStorage::default())
}

impl World {
    async fn setup(cfg: &Config, scenario: &Scenario, base: &str) -> Result<World, SimError> {
        let req = CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 0, manager_name: "Pat".into() };
        let (_, manager) = ManagerClient::create_property(base, &req).await?;
        manager.set_revalidation_days(scenario.window_days).await?;
        let now = cfg.start - DAY;
        let mut doors = Vec::new();
        for (i, plan) in model::doors(cfg.doors).into_iter().enumerate() {
            let online = scenario.feed && plan.kind == DoorKind::Connected;
            let provisioned = manager.create_door(&plan.name, online).await?;
            let engine = keyway_test_kit::install::install(&provisioned, UnixTime(now))
                .map_err(|e| SimError::Install(e.to_string()))?;
            let feed = if online {
                Some(Feed {
                    client: DoorFeedClient::new(ClientConfig::new(base))?,
                    session: None,
                    outages: model::outages(cfg, i),
                    wake_pending: None,
                    reported_activity: 0,
                })
            } else {
                None
            };
            let seen_seq = engine.update_seq();
            doors.push(Door {
                id: provisioned.door_id,
                plan,
                engine: Arc::new(Mutex::new(engine)),
                seen_seq,
                applied: BTreeMap::new(),
                feed,
            });
        }
        let mut world = World {
            cfg: cfg.clone(),
            scenario: scenario.clone(),
            base: base.to_string(),
            manager,
            doors,
            people: Vec::new(),
            queue: BinaryHeap::new(),
            order: 0,
            now,
            actions_rng: model::stream(cfg.seed, model::STREAM_MANAGER, 1),
            link_rng: model::stream(cfg.seed, model::STREAM_LINK, 0),
            next_resident: 0,
            deliveries: Vec::new(),
            revocations: Vec::new(),
            unlocks: Vec::new(),
            counts: Counts::default(),
        };
        for _ in 0..cfg.residents {
            world.move_in(None).await?;
        }
        // The connected doors open their feed before the week starts.
        for d in 0..world.doors.len() {
            if world.doors[d].feed.is_some() {
                world.feed_step(d).await?;
            }
        }
        world.plan_manager();
        Ok(world)
    }

    fn push(&mut self, at: u64, event: Event) {
        self.order += 1;
        self.queue.push(Reverse((at, self.order, event)));
    }

    /// Manager actions: a Poisson process over office hours on weekdays (9:00 to 17:00 by
    /// default), at a quarter of the rate at weekends.
    fn plan_manager(&mut self) {
        let mut rng = model::stream(self.cfg.seed, model::STREAM_MANAGER, 0);
        for day in 0..self.cfg.days {
            let nine = self.cfg.start + u64::from(day) * DAY + 9 * HOUR;
            let rate =
                if self.cfg.is_weekend(nine) { self.cfg.actions_per_day / 4.0 } else { self.cfg.actions_per_day };
            if rate <= 0.0 {
                continue;
            }
            let hours = (self.cfg.office_end_hour - 9) * HOUR;
            let mean_gap = hours as f64 / rate;
            let mut t = nine as f64;
            loop {
                let u: f64 = rng.r#gen::<f64>().max(1e-12);
                t += -u.ln() * mean_gap;
                if t >= (nine + hours) as f64 {
                    break;
                }
                self.push(t as u64, Event::Manager);
            }
        }
    }

    /// Invites a resident (at setup: for now; later: starting the next morning) and enrols
    /// their phone at once.
    async fn move_in(&mut self, start: Option<u64>) -> Result<(), SimError> {
        let index = self.next_resident;
        self.next_resident += 1;
        let plans: Vec<DoorPlan> = self.doors.iter().map(|d| d.plan.clone()).collect();
        let resident = model::resident(&self.cfg, &plans, index);
        let lease_end = self.cfg.start + 365 * DAY;
        let grant = KeyGrant {
            doors: resident.doors.iter().map(|&d| self.doors[d].id).collect(),
            start: start.map(UnixTime),
            expiry: Expiry::At(UnixTime(lease_end)),
        };
        let name = format!("Resident {index}");
        let (person_id, wallet) = self.enrol(&name, vec![grant], true).await?;
        let active_from = start.unwrap_or(self.cfg.start).max(self.now);
        let passes = model::routine(&self.cfg, &plans, &resident, index, active_from);
        let person = self.people.len();
        for p in passes {
            self.push(p.at, Event::Pass { person, door: p.door });
        }
        let mut rng = model::stream(self.cfg.seed, model::STREAM_PHONE, index);
        let first = self.now.max(self.cfg.start) + rng.gen_range(0..resident.habit.every);
        self.push(first, Event::Sync { person });
        self.people.push(Person {
            person_id,
            wallet,
            habit: resident.habit,
            rng,
            gone: false,
            resident: Some(resident),
        });
        self.counts.people += 1;
        Ok(())
    }

    /// An app-key invite and its acceptance by a fresh phone.
    async fn enrol(&mut self, name: &str, keys: Vec<KeyGrant>, resident: bool) -> Result<(PersonId, Wallet), SimError> {
        let req = InviteRequest {
            name: name.into(),
            contact: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
            access: AccessKind::AppKey,
            keys,
            resident,
            may_share: false,
        };
        let answer = self.manager.invite(&req).await?;
        let person_id = answer.person.person_id;
        let token = self
            .manager
            .welcome_token(person_id)
            .await?
            .ok_or_else(|| SimError::Install(format!("no welcome message for {name}")))?;
        let mut wallet = Wallet::open_in_memory(secure())?;
        wallet.accept_invite(&self.base, &token).await?;
        Ok((person_id, wallet))
    }

    async fn play(&mut self) -> Result<(), SimError> {
        let end = self.cfg.end();
        while let Some(Reverse((at, _, event))) = self.queue.pop() {
            if at >= end {
                break;
            }
            self.now = at.max(self.now);
            simulated::set(UnixTime(self.now));
            match event {
                Event::Pass { person, door } => self.pass(person, door)?,
                Event::Sync { person } => {
                    self.sync(person, false).await?;
                    let p = &mut self.people[person];
                    if !p.gone {
                        let every = p.habit.every;
                        let jitter = p.rng.gen_range(0..=every / 3);
                        self.push(self.now + every - every / 6 + jitter, Event::Sync { person });
                    }
                }
                Event::AppSync { person } => self.sync(person, true).await?,
                Event::Manager => self.manager_action().await?,
                Event::FeedWake { door } => {
                    if let Some(f) = self.doors[door].feed.as_mut() {
                        f.wake_pending = None;
                    }
                    self.feed_step(door).await?;
                }
            }
        }
        Ok(())
    }

    /// Records when the door's seq moved.
    fn observe(&mut self, d: usize) {
        let door = &mut self.doors[d];
        let seq = door.engine.lock().expect("door lock").update_seq();
        for s in door.seen_seq + 1..=seq {
            door.applied.insert(s, self.now);
        }
        door.seen_seq = door.seen_seq.max(seq);
    }

    fn pass(&mut self, person: usize, d: usize) -> Result<(), SimError> {
        if self.people[person].gone {
            return Ok(());
        }
        let mut nonce = [0u8; 16];
        self.link_rng.fill_bytes(&mut nonce);
        let link_cfg = SimConfig { seed: self.link_rng.next_u64(), ..SimConfig::default() };
        let door_id = self.doors[d].id;
        let mut link = SimDoorLink::connect(self.doors[d].engine.clone(), link_cfg, UnixTime(self.now), nonce);
        self.unlocks.push((self.now, d));
        self.counts.unlocks += 1;
        match self.people[person].wallet.unlock(door_id, &mut link) {
            Ok(report) => {
                self.counts.granted += usize::from(report.granted);
                self.counts.updates_carried += usize::from(report.updates_carried);
            }
            // A key that has not started, lapsed or lost its freshness: the app says so and
            // nothing reaches the door.
            Err(_) => self.counts.unlock_errors += 1,
        }
        self.observe(d);
        if self.scenario.delivery {
            self.deliver_nearby(person, d)?;
        }
        // The door's long poll ends within its 25 s and the next one reports the receipt.
        self.wake_feed(d, self.now + 25);
        let p = &mut self.people[person];
        if self.doors[d].plan.has_network && p.rng.gen_bool(p.habit.app_sync) {
            self.push(self.now + 5, Event::AppSync { person });
        }
        Ok(())
    }

    /// Delivery sessions to the doors near `d` for which the phone carries updates, the oldest
    /// first (after the unlock: an unlock never waits for a delivery).
    fn deliver_nearby(&mut self, person: usize, d: usize) -> Result<(), SimError> {
        let plans: Vec<DoorPlan> = self.doors.iter().map(|d| d.plan.clone()).collect();
        let near = model::nearby(&plans, d);
        let pending = self.people[person].wallet.pending_deliveries()?;
        for door_id in pending {
            let Some(n) = near.iter().copied().find(|&n| self.doors[n].id == door_id) else { continue };
            let mut nonce = [0u8; 16];
            self.link_rng.fill_bytes(&mut nonce);
            let link_cfg = SimConfig { seed: self.link_rng.next_u64(), ..SimConfig::default() };
            let mut link = SimDoorLink::connect(self.doors[n].engine.clone(), link_cfg, UnixTime(self.now), nonce);
            self.counts.deliveries += 1;
            if let Ok(report) = self.people[person].wallet.deliver(door_id, &mut link)
                && report.updates_applied
            {
                self.counts.deliveries_applied += 1;
            }
            self.observe(n);
        }
        Ok(())
    }

    async fn sync(&mut self, person: usize, app_open: bool) -> Result<(), SimError> {
        let p = &mut self.people[person];
        if p.gone {
            return Ok(());
        }
        if !app_open && p.rng.gen_bool(p.habit.failure) {
            self.counts.sync_skipped += 1;
            return Ok(());
        }
        self.counts.syncs += 1;
        // A refused or failed sync changes nothing on the phone; it tries again on schedule.
        match p.wallet.sync().await {
            Ok(_) => {
                if p.wallet.upload().await.is_err() {
                    self.counts.sync_errors += 1;
                }
            }
            Err(_) => self.counts.sync_errors += 1,
        }
        Ok(())
    }

    fn wake_feed(&mut self, d: usize, at: u64) {
        let Some(feed) = self.doors[d].feed.as_mut() else { return };
        if feed.wake_pending.is_some_and(|w| w <= at) {
            return;
        }
        feed.wake_pending = Some(at);
        self.push(at, Event::FeedWake { door: d });
    }

    /// One poll of a connected door's feed (the long poll returns at once when there is
    /// something): a session when it has none, the batch after its seq, and its receipt when
    /// Mission Control lacks it. During an internet outage the door polls again when the
    /// connection is back.
    async fn feed_step(&mut self, d: usize) -> Result<(), SimError> {
        let now = self.now;
        let Some(feed) = self.doors[d].feed.as_ref() else { return Ok(()) };
        if let Some(&(_, back)) = feed.outages.iter().find(|(from, to)| *from <= now && now < *to) {
            self.wake_feed(d, back);
            return Ok(());
        }
        for _ in 0..2 {
            self.counts.feed_polls += 1;
            let token = self.feed_session(d).await?;
            let door = &self.doors[d];
            let feed = door.feed.as_ref().expect("a connected door");
            let seq = door.engine.lock().expect("door lock").update_seq();
            let answer = match feed.client.updates(&token, seq, 0).await {
                Err(e) if e.is_unauthorized() => {
                    self.doors[d].feed.as_mut().expect("a connected door").session = None;
                    continue;
                }
                other => other?,
            };
            if let Some(batch) = answer.batch {
                let mut engine = door.engine.lock().expect("door lock");
                // The door checks every batch before applying; one that fails changes nothing.
                if batch.0.verify_for(&engine.state().anchors, door.id).is_ok() {
                    let report = engine.apply_batch(&batch.0, UnixTime(now));
                    if report.batch_rejected.is_none() {
                        self.counts.feed_applied += 1;
                    }
                }
            }
            self.observe(d);
            let door = &self.doors[d];
            let feed = door.feed.as_ref().expect("a connected door");
            let receipt = {
                let mut engine = door.engine.lock().expect("door lock");
                let reported = feed.reported_activity.max(answer.known_activity_head);
                (engine.update_seq() > answer.receipted_seq || engine.activity().head() > reported).then(|| {
                    let mut nonce = [0u8; 16];
                    self.link_rng.fill_bytes(&mut nonce);
                    engine.receipt(nonce, answer.known_activity_head)
                })
            };
            if let Some(receipt) = receipt {
                let head = receipt.body.activity_head;
                feed.client.receipts(&token, &[receipt]).await?;
                let feed = self.doors[d].feed.as_mut().expect("a connected door");
                feed.reported_activity = feed.reported_activity.max(head);
            }
            return Ok(());
        }
        Ok(())
    }

    /// The feed session's token, opening one (challenge signed by the door key; the door's
    /// clock set by Mission Control's time bound to the door's nonce) when there is none or it
    /// is about to lapse.
    async fn feed_session(&mut self, d: usize) -> Result<String, SimError> {
        let now = self.now;
        let door = &self.doors[d];
        let feed = door.feed.as_ref().expect("a connected door");
        if let Some((token, expires)) = &feed.session
            && *expires > now + MINUTE
        {
            return Ok(token.clone());
        }
        let challenge = feed.client.challenge(door.id).await?;
        let mut door_nonce = [0u8; 16];
        self.link_rng.fill_bytes(&mut door_nonce);
        let hello = door.engine.lock().expect("door lock").feed_hello(challenge.nonce.0.0, door_nonce, UnixTime(now));
        let session = feed.client.session(&hello).await?;
        // A statement that does not verify changes nothing; the feed goes on.
        let nonce = hello.body.door_nonce;
        let _ = door.engine.lock().expect("door lock").handle_time(&session.time.0, Some(&nonce), UnixTime(now));
        let token = session.session_token.clone();
        self.doors[d].feed.as_mut().expect("a connected door").session = Some((token.clone(), session.expires_at.0));
        Ok(token)
    }

    fn residents_here(&self) -> Vec<usize> {
        self.people.iter().enumerate().filter(|(_, p)| !p.gone && p.resident.is_some()).map(|(i, _)| i).collect()
    }

    /// Tomorrow at `hour`, or in two hours on the last day.
    fn tomorrow_at(&self, hour: u64) -> u64 {
        let next = (self.now / DAY + 1) * DAY + hour;
        if next < self.cfg.end() { next } else { self.now + 2 * HOUR }
    }

    async fn manager_action(&mut self) -> Result<(), SimError> {
        let total: u32 = ACTION_WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut pick = self.actions_rng.gen_range(0..total);
        let mut kind = ActionKind::AddKey;
        for (k, w) in ACTION_WEIGHTS {
            if pick < w {
                kind = k;
                break;
            }
            pick -= w;
        }
        let here = self.residents_here();
        if here.is_empty() && kind != ActionKind::MoveIn {
            return Ok(());
        }
        let who = here.get(self.actions_rng.gen_range(0..here.len().max(1))).copied().unwrap_or(0);
        let action = self.counts.actions;
        self.counts.actions += 1;
        let lease_end = UnixTime(self.cfg.start + 365 * DAY);
        let updates: Vec<QueuedUpdate> = match kind {
            ActionKind::InviteVisitor => {
                let floor = self.people[who].resident.as_ref().map_or(0, |r| r.floor);
                let hour = self.actions_rng.gen_range(10..16);
                let start = self.tomorrow_at(hour * HOUR);
                let grant = KeyGrant {
                    doors: vec![self.doors[0].id, self.doors[floor].id],
                    start: Some(UnixTime(start)),
                    expiry: Expiry::At(UnixTime(start + 4 * HOUR)),
                };
                let (person_id, wallet) = self.enrol(&format!("Visitor {action}"), vec![grant], false).await?;
                let person = self.people.len();
                let arrive = start + self.actions_rng.gen_range(0..2 * HOUR);
                self.push(arrive, Event::Pass { person, door: 0 });
                self.push(arrive + 60, Event::Pass { person, door: floor });
                let rng = model::stream(self.cfg.seed, model::STREAM_PHONE, 1 << 40 | action as u64);
                self.push(self.now + model::REGULAR.every, Event::Sync { person });
                self.people.push(Person { person_id, wallet, habit: model::REGULAR, rng, gone: false, resident: None });
                self.counts.people += 1;
                Vec::new()
            }
            ActionKind::Doorcode => {
                let offline: Vec<usize> =
                    (0..self.doors.len()).filter(|&d| self.doors[d].plan.kind == DoorKind::Offline).collect();
                let a = offline[self.actions_rng.gen_range(0..offline.len())];
                let b = offline[self.actions_rng.gen_range(0..offline.len())];
                let mut doors = vec![self.doors[a].id, self.doors[b].id];
                doors.sort_unstable();
                doors.dedup();
                let start = self.tomorrow_at(8 * HOUR);
                let req = InviteRequest {
                    name: format!("Contractor {action}"),
                    contact: format!("contractor{action}@example.com"),
                    access: AccessKind::DailyDoorcode,
                    keys: vec![KeyGrant {
                        doors,
                        start: Some(UnixTime(start)),
                        expiry: Expiry::At(UnixTime(start + 5 * DAY)),
                    }],
                    resident: false,
                    may_share: false,
                };
                self.manager.invite(&req).await?.updates
            }
            ActionKind::Keycard => {
                let floor = self.people[who].resident.as_ref().map_or(0, |r| r.floor);
                let mut card = [0u8; 7];
                self.actions_rng.fill_bytes(&mut card);
                let req = AddKeycardRequest {
                    card: card.iter().map(|b| format!("{b:02x}")).collect(),
                    doors: vec![self.doors[0].id, self.doors[floor].id],
                    start: None,
                    expiry: Expiry::At(lease_end),
                    kind: KeycardKind::Secure,
                };
                self.manager.add_keycard(self.people[who].person_id, &req).await?.updates
            }
            ActionKind::ChangeExpiry => {
                let person = self.manager.person(self.people[who].person_id).await?;
                match person.keys.first() {
                    Some(key) => {
                        let until = self.now + self.actions_rng.gen_range(30..120) * DAY;
                        self.manager.change_expiry(key.key_id, UnixTime(until)).await?.updates
                    }
                    None => Vec::new(),
                }
            }
            ActionKind::RevokeAllKeys | ActionKind::DeletePerson => {
                // What the phone holds now is what it could still present at a door.
                let held = self.people[who].wallet.keys_at(UnixTime(self.now))?;
                let person_id = self.people[who].person_id;
                let answer = if kind == ActionKind::RevokeAllKeys {
                    self.manager.revoke_all_keys(person_id).await?
                } else {
                    self.manager.delete_person(person_id).await?
                };
                self.people[who].gone = true;
                let mut doors = Vec::new();
                for key in held.iter().filter(|k| answer.revoked_keys.contains(&k.key_id)) {
                    let expiry = key.validity.expiry.0;
                    let until = key.fresh_until.0.min(expiry);
                    for door_id in key.doors.doors() {
                        let Some(d) = self.doors.iter().position(|d| d.id == *door_id) else { continue };
                        let seq = answer.updates.iter().filter(|u| u.door_id == *door_id).map(|u| u.seq).max();
                        doors.push(RevokedDoor { door: d, until, expiry, seq: seq.unwrap_or(0), applied_at: None });
                    }
                }
                self.revocations.push(Revocation { action, kind, at: self.now, doors });
                answer.updates
            }
            ActionKind::MoveIn => {
                let start = self.tomorrow_at(8 * HOUR);
                self.move_in(Some(start)).await?;
                Vec::new()
            }
            ActionKind::AddKey => {
                let gym = self.doors.iter().position(|d| d.plan.role == Role::Gym).unwrap_or(0);
                let grant = KeyGrant { doors: vec![self.doors[gym].id], start: None, expiry: Expiry::At(lease_end) };
                self.manager.add_key(self.people[who].person_id, &grant).await?.updates
            }
        };
        if !updates.is_empty() {
            self.counts.actions_with_updates += 1;
            for u in &updates {
                if let Some(d) = self.doors.iter().position(|d| d.id == u.door_id) {
                    // The long poll wakes on the change; the answer is on the wire in a second.
                    self.wake_feed(d, self.now + 1);
                }
            }
            self.deliveries.push((action, kind, self.now, updates));
        }
        Ok(())
    }

    async fn finish(self, started: Instant) -> Result<RunResult, SimError> {
        let tasks = self.manager.door_updates(None, None).await?;
        let delivered: BTreeMap<(DoorId, u64), u64> =
            tasks.iter().filter_map(|t| Some(((t.door_id, t.seq), t.delivered_at?.0))).collect();
        let mut deliveries = Vec::new();
        for (action, kind, at, updates) in &self.deliveries {
            let mut per_door: BTreeMap<usize, u64> = BTreeMap::new();
            for u in updates {
                if let Some(d) = self.doors.iter().position(|d| d.id == u.door_id) {
                    let e = per_door.entry(d).or_default();
                    *e = (*e).max(u.seq);
                }
            }
            for (d, seq) in per_door {
                let door = &self.doors[d];
                deliveries.push(Delivery {
                    action: *action,
                    kind: *kind,
                    door: d,
                    door_kind: door.plan.kind,
                    seq,
                    at: *at,
                    applied_at: door.applied.get(&seq).copied(),
                    receipt_at: delivered.get(&(door.id, seq)).copied(),
                });
            }
        }
        let mut revocations = self.revocations;
        for r in &mut revocations {
            for x in &mut r.doors {
                x.applied_at = (x.seq > 0).then(|| self.doors[x.door].applied.get(&x.seq).copied()).flatten();
            }
            r.doors.sort_unstable();
        }
        Ok(RunResult {
            scenario: self.scenario,
            doors: self.doors.iter().map(|d| d.plan.clone()).collect(),
            deliveries,
            revocations,
            unlocks: self.unlocks,
            counts: self.counts,
            wall_secs: started.elapsed().as_secs_f64(),
        })
    }
}
