//! The story, step by step.

use crate::doors::DoorProcess;
use crate::phones::{Phone, Unlock};
use crate::report::{Report, StepReport, UnlockRow, UpdateRow};
use keyway_api::client::{ManagerClient, SyncError};
use keyway_api::*;
use keyway_link::run_unlock;
use keyway_link::socket::SocketLink;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use keyway_protocol::unlock::{PhoneSession, UnlockOutcome, UnlockParams};
use keyway_wallet::WalletError;
use keyway_wallet::key_state::KeyState;
use std::path::PathBuf;
use std::time::Duration;

const DAY: u64 = 86_400;
/// How far ahead of the invite Ann's access starts (the walkthrough waits for it).
const START_DELAY_SECS: u64 = 3;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Print the narrative as it happens (off for `--json`).
    pub narrate: bool,
    /// Work in this directory instead of a fresh temporary one (kept afterwards).
    pub workdir: Option<PathBuf>,
}

/// Why a step failed.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

type Step = Result<(), Failure>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Failure(format!($($msg)+)));
        }
    };
}

struct Doors {
    lobby: DoorProcess,
    garage: DoorProcess,
    bikes: DoorProcess,
}

struct People {
    ann: PersonId,
    ann_key: KeyId,
    ann_expiry: UnixTime,
    bob: PersonId,
    bob_old_key: Option<KeyChain>,
    cleo: PersonId,
    cleo_token: String,
    cleo_slot: u32,
}

struct World {
    opts: Options,
    report: Report,
    current: Option<StepReport>,
    dir: PathBuf,
    base: String,
    pm: ManagerClient,
    sam: ManagerClient,
    anchors: TrustAnchors,
    doors: Option<Doors>,
    people: Option<People>,
    ann: Option<Phone>,
    bob: Option<Phone>,
    gus: Option<Phone>,
}

/// Runs the whole story. The report says which steps passed; the walkthrough stops at the
/// first failing step (the later ones build on it).
pub async fn run(opts: Options) -> Report {
    let temp = match &opts.workdir {
        Some(_) => None,
        None => tempfile::Builder::new().prefix("keyway-walkthrough-").tempdir().ok(),
    };
    let dir = match (&opts.workdir, &temp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => {
            let mut r = Report::default();
            r.steps.push(StepReport {
                number: 0,
                title: "set up".into(),
                failure: Some("cannot create a temporary directory".into()),
                ..Default::default()
            });
            return r;
        }
    };
    let mut report = Report { workdir: dir.display().to_string(), ..Default::default() };
    if std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
        report.steps.push(StepReport {
            number: 0,
            title: "set up".into(),
            failure: Some(format!("{} is not empty; the walkthrough starts from nothing", dir.display())),
            ..Default::default()
        });
        return report;
    }
    let server = match std::fs::create_dir_all(dir.join("doors")) {
        Ok(()) => mission_control::Server::start(dir.join("mission-control.db"), ([127, 0, 0, 1], 0).into()).await,
        Err(e) => Err(mission_control::ServeError::Io(e)),
    };
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            report.steps.push(StepReport {
                number: 0,
                title: "start Mission Control".into(),
                failure: Some(e.to_string()),
                ..Default::default()
            });
            return report;
        }
    };
    report.backend = server.base_url();
    // Signed out until step 1 creates the property and its managers.
    let console = match ManagerClient::new(&server.base_url(), "") {
        Ok(c) => c,
        Err(e) => {
            report.steps.push(StepReport {
                number: 0,
                title: "connect to Mission Control".into(),
                failure: Some(e.to_string()),
                ..Default::default()
            });
            return report;
        }
    };
    let mut w = World {
        base: server.base_url(),
        pm: console.clone(),
        sam: console,
        anchors: TrustAnchors::new([]),
        opts,
        report,
        current: None,
        dir,
        doors: None,
        people: None,
        ann: None,
        bob: None,
        gus: None,
    };
    w.say(format!("Mission Control is listening on {}; everything lives in {}", w.base, w.dir.display()));
    let titles = [
        "A property, its doors and its managers",
        "Invite a resident with a future start",
        "A daily doorcode reaches an offline door",
        "The resident shares a guest key",
        "Edit: an earlier expiration reaches the offline door",
        "Revoke All Keys",
        "Delete a person",
        "Activity from the offline doors",
    ];
    let mut ok = true;
    for (i, title) in titles.iter().enumerate() {
        let n = i + 1;
        w.begin(n, title);
        let result = match n {
            1 => w.step1().await,
            2 => w.step2().await,
            3 => w.step3().await,
            4 => w.step4().await,
            5 => w.step5().await,
            6 => w.step6().await,
            7 => w.step7().await,
            _ => w.step8().await,
        };
        ok &= w.end(result);
        if !ok {
            break;
        }
    }
    if ok && let Err(f) = w.collect_updates().await {
        w.report.steps.push(StepReport {
            number: 9,
            title: "collect the door-update tasks".into(),
            failure: Some(f.0),
            ..Default::default()
        });
        ok = false;
    }
    w.report.passed = ok && w.report.steps.len() == titles.len();
    drop(w.doors.take());
    let _ = server.shutdown().await;
    let report = w.report;
    drop(temp);
    report
}

fn event_text(event: &ActivityEvent) -> String {
    match event {
        ActivityEvent::AppUnlock { key, guest, .. } => {
            format!("app unlock ({}key {key})", if *guest { "guest " } else { "" })
        }
        ActivityEvent::AppDenied { reason, .. } => format!("app refused: {reason:?}"),
        ActivityEvent::DoorcodeEntry { slot, .. } => format!("doorcode (slot {slot})"),
        ActivityEvent::DoorcodeDenied { reason } => format!("doorcode refused: {reason:?}"),
        ActivityEvent::KeycardEntry { .. } => "keycard".into(),
        ActivityEvent::KeycardDenied { reason, .. } => format!("keycard refused: {reason:?}"),
        ActivityEvent::UpdateRejected { seq, reason } => format!("door update {seq} rejected: {reason:?}"),
    }
}

fn denial_name(r: Option<DenialReason>) -> Option<String> {
    r.map(|r| format!("{r:?}"))
}

fn ops_text(ops: &[DoorOp]) -> String {
    ops.iter()
        .map(|op| match op {
            DoorOp::RevokeKey { key, .. } => format!("RevokeKey({key})"),
            DoorOp::RevokePerson { person, .. } => format!("RevokePerson({})", person.0),
            DoorOp::AddDoorcode { slot, .. } => format!("AddDoorcode(slot {slot})"),
            DoorOp::RemoveDoorcode { slot } => format!("RemoveDoorcode(slot {slot})"),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl World {
    fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        if self.opts.narrate {
            println!("{line}");
        }
        if let Some(s) = self.current.as_mut() {
            s.lines.push(line);
        }
    }

    fn begin(&mut self, number: usize, title: &str) {
        if self.opts.narrate {
            println!("\n== {number}. {title} ==");
        }
        self.current = Some(StepReport { number, title: title.to_string(), ..Default::default() });
    }

    fn end(&mut self, result: Step) -> bool {
        let Some(mut s) = self.current.take() else { return false };
        match result {
            Ok(()) => {
                s.passed = true;
                if self.opts.narrate {
                    println!("   ✓ step {} passed", s.number);
                }
            }
            Err(f) => {
                if self.opts.narrate {
                    println!("   ✗ step {} FAILED: {}", s.number, f.0);
                }
                s.failure = Some(f.0);
            }
        }
        let passed = s.passed;
        self.report.steps.push(s);
        passed
    }

    fn doors(&self) -> Result<&Doors, Failure> {
        self.doors.as_ref().ok_or_else(|| Failure("the doors are not running".into()))
    }

    fn people(&self) -> Result<&People, Failure> {
        self.people.as_ref().ok_or_else(|| Failure("the people were not invited".into()))
    }

    /// `who` unlocks the door named `door` with their wallet; records the row.
    fn unlock(&mut self, who: &str, door: &str, mtu: usize) -> Result<Unlock, Failure> {
        let (id, addr) = {
            let d = self.door(door)?;
            (d.id(), d.addr)
        };
        let phone = match who {
            "Ann" => self.ann.as_mut(),
            "Bob" => self.bob.as_mut(),
            _ => self.gus.as_mut(),
        }
        .ok_or_else(|| Failure(format!("{who} has no phone yet")))?;
        let u = phone.unlock(id, addr, mtu).map_err(|e| Failure(format!("{who} at the {door}: {e}")))?;
        let r = &u.report;
        let decision = if r.granted {
            "door opened".to_string()
        } else {
            format!("door refused: {:?}", r.denial.unwrap_or(DenialReason::Malformed))
        };
        let updates = if r.seq_after > r.seq_before {
            format!(", carried door updates {} → {}", r.seq_before, r.seq_after)
        } else {
            String::new()
        };
        self.say(format!(
            "   {who} unlocks the {door} with {}key {}: {decision}{updates} ({} B to the door, {} B back, {} round trip{} at MTU {})",
            if r.is_guest { "guest " } else { "" },
            r.key_id,
            u.link.bytes_sent,
            u.link.bytes_received,
            u.link.round_trips,
            if u.link.round_trips == 1 { "" } else { "s" },
            u.mtu
        ));
        self.push_row(
            who,
            door,
            r.key_id,
            r.is_guest,
            r.granted,
            r.denial,
            u.mtu,
            r.updates_carried,
            r.seq_before,
            r.seq_after,
            u.link,
        );
        Ok(u)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_row(
        &mut self,
        who: &str,
        door: &str,
        key: KeyId,
        guest: bool,
        granted: bool,
        denial: Option<DenialReason>,
        mtu: usize,
        carried: bool,
        seq_before: u64,
        seq_after: u64,
        link: keyway_link::socket::SocketStats,
    ) {
        let step = self.current.as_ref().map_or(0, |s| s.number);
        self.report.unlocks.push(UnlockRow {
            step,
            who: who.into(),
            door: door.into(),
            key: key.to_string(),
            guest,
            granted,
            denial: denial_name(denial),
            mtu,
            updates_carried: carried,
            seq_before,
            seq_after,
            bytes_phone_to_door: link.bytes_sent,
            bytes_door_to_phone: link.bytes_received,
            frames_phone_to_door: link.frames_sent,
            frames_door_to_phone: link.frames_received,
            round_trips: link.round_trips,
        });
    }

    fn door(&self, name: &str) -> Result<&DoorProcess, Failure> {
        let d = self.doors()?;
        Ok(match name {
            "Lobby" => &d.lobby,
            "Garage" => &d.garage,
            _ => &d.bikes,
        })
    }

    /// A tampered app: runs the phone side of an unlock directly with `chain` and `device`,
    /// bypassing every check the wallet makes, so that only the door decides.
    fn raw_unlock(
        &mut self,
        who: &str,
        door: &str,
        chain: KeyChain,
        device: KeyPair,
    ) -> Result<UnlockOutcome, Failure> {
        let d = self.door(door)?;
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let session = PhoneSession::new(UnlockParams {
            chain: chain.clone(),
            device_key: device,
            door_cert: d.provisioned.door_certificate.0.clone(),
            anchors: self.anchors.clone(),
            batch: None,
            activity_after: 0,
            nonce,
            now: keyway_api::clock::now(),
        })?;
        let mut link = SocketLink::connect(d.addr, 247, Duration::from_secs(5))?;
        let outcome = run_unlock(&mut link, session, Duration::from_secs(10))?;
        let stats = link.stats();
        self.push_row(
            who,
            door,
            chain.leaf_key_id(),
            chain.guest_link().is_some(),
            outcome.granted,
            outcome.denial,
            247,
            outcome.batch_carried,
            outcome.updates.seq_before,
            outcome.updates.seq_after,
            stats,
        );
        Ok(outcome)
    }

    async fn sync(&mut self, who: &str) -> Result<keyway_wallet::SyncSummary, Failure> {
        let phone = match who {
            "Ann" => self.ann.as_mut(),
            _ => self.bob.as_mut(),
        }
        .ok_or_else(|| Failure(format!("{who} has no phone")))?;
        let s = phone.wallet.sync().await.map_err(|e| Failure(format!("{who}'s sync: {e}")))?;
        self.say(format!(
            "   {who}'s phone syncs: {} key(s) received, {} revoked, pending door updates for {} door(s)",
            s.keys_received, s.keys_revoked, s.doors_with_updates
        ));
        Ok(s)
    }

    async fn upload(&mut self, who: &str) -> Result<keyway_wallet::UploadSummary, Failure> {
        let phone = match who {
            "Ann" => self.ann.as_mut(),
            _ => self.bob.as_mut(),
        }
        .ok_or_else(|| Failure(format!("{who} has no phone")))?;
        let s = phone.wallet.upload().await.map_err(|e| Failure(format!("{who}'s upload: {e}")))?;
        self.say(format!(
            "   {who}'s phone uploads {} receipt(s): {} new activity record(s), {} door update(s) confirmed delivered",
            s.receipts_uploaded, s.new_activity, s.updates_confirmed
        ));
        Ok(s)
    }

    // ---- 1 ---------------------------------------------------------------------------------

    async fn step1(&mut self) -> Step {
        let (created, pm) = ManagerClient::create_property(
            &self.base,
            &CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 60, manager_name: "Pat".into() },
        )
        .await?;
        self.pm = pm;
        self.anchors = TrustAnchors::new([created.authority_key.0]);
        self.say(format!(
            "Pat creates the property Elm Court (UTC+1) and is its Portfolio Manager (authority key {}…).",
            created.authority_key.0.0[..6].iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let lobby = self.pm.create_door("Lobby", true).await?;
        let garage = self.pm.create_door("Garage", false).await?;
        let bikes = self.pm.create_door("Bike Room", false).await?;
        let doors_dir = self.dir.join("doors");
        let lobby = DoorProcess::start(&doors_dir, &lobby)?;
        let garage = DoorProcess::start(&doors_dir, &garage)?;
        let bikes = DoorProcess::start(&doors_dir, &bikes)?;
        for d in [&lobby, &garage, &bikes] {
            let st = d.status()?;
            check!(st.door_id == d.id().0 && st.update_seq == 0, "{} started in an unexpected state: {st:?}", d.name);
            let online = d.provisioned.online;
            self.say(format!(
                "   {} ({}) — {} — provisioned from {}.json, door simulator process listening on {}",
                d.name,
                d.id(),
                if online { "internet-connected" } else { "offline" },
                d.name.to_lowercase().replace(' ', "-"),
                d.addr
            ));
        }
        let listed = self.pm.doors().await?;
        check!(listed.len() == 3, "expected 3 doors, Mission Control lists {}", listed.len());
        self.doors = Some(Doors { lobby, garage, bikes });

        let sam = self
            .pm
            .create_manager(&CreateManagerRequest {
                name: "Sam".into(),
                portfolio_manager: false,
                key_management: true,
            })
            .await?;
        let kim = self
            .pm
            .create_manager(&CreateManagerRequest {
                name: "Kim".into(),
                portfolio_manager: false,
                key_management: false,
            })
            .await?;
        self.sam = self.pm.with_token(&sam.token);
        let kim = self.pm.with_token(&kim.token);
        check!(self.sam.me().await?.key_management, "Sam should have Key Management");
        self.say("   Pat adds two managers: Sam with Key Management, Kim without.");
        let attempt = kim
            .invite(&InviteRequest {
                name: "Zed".into(),
                contact: "zed@example.com".into(),
                access: AccessKind::AppKey,
                keys: vec![KeyGrant { doors: vec![self.doors()?.garage.id()], start: None, expiry: None }],
                resident: true,
                may_share: false,
            })
            .await;
        match attempt {
            Err(SyncError::Rejected { status: 403, error }) => {
                check!(
                    error.message.contains("ask a Portfolio Manager"),
                    "unexpected refusal message: {}",
                    error.message
                );
                self.say(format!("   Kim tries to invite someone and is refused (403): \"{}\"", error.message));
            }
            Err(e) => return Err(Failure(format!("Kim's invite failed the wrong way: {e}"))),
            Ok(_) => return Err(Failure("Kim, without Key Management, was allowed to invite".into())),
        }
        check!(self.pm.people(true).await?.is_empty(), "the refused invite left a person behind");
        Ok(())
    }

    // ---- 2 ---------------------------------------------------------------------------------

    async fn step2(&mut self) -> Step {
        let (lobby, garage, bikes) = {
            let d = self.doors()?;
            (d.lobby.id(), d.garage.id(), d.bikes.id())
        };
        let now = keyway_api::clock::now();
        let start = now.saturating_add_secs(START_DELAY_SECS);
        let ann_expiry = now.saturating_add_secs(30 * DAY);
        let invited = self
            .sam
            .invite(&InviteRequest {
                name: "Ann".into(),
                contact: "ann@example.com".into(),
                access: AccessKind::AppKey,
                keys: vec![KeyGrant {
                    doors: vec![lobby, garage, bikes],
                    start: Some(start),
                    expiry: Some(ann_expiry),
                }],
                resident: true,
                may_share: true,
            })
            .await?;
        check!(
            invited.person.status == PersonStatus::Upcoming,
            "Ann should be upcoming, is {:?}",
            invited.person.status
        );
        check!(invited.updates.is_empty(), "an app key should need no door update");
        let ann_key =
            invited.person.keys.first().map(|k| k.key_id).ok_or_else(|| Failure("Ann's invite has no key".into()))?;
        self.say(format!("Sam invites Ann (resident, may share) to all three doors, starting {start} (in {START_DELAY_SECS} s), until {ann_expiry}."));
        let outbox = self.sam.outbox().await?;
        let welcome = outbox
            .iter()
            .find(|m| m.message_id == invited.welcome_message_id)
            .ok_or_else(|| Failure("no welcome message in the outbox".into()))?;
        check!(
            welcome.created_at.0 + 60 > now.0 && welcome.created_at <= keyway_api::clock::now(),
            "the welcome was not sent today"
        );
        self.say(format!("   The welcome goes out today to {}: \"{}\"", welcome.to, welcome.subject));
        let token = welcome.token.clone();

        let mut ann = Phone::open("Ann", &self.dir.join("phones/ann"))?;
        let accepted = ann.wallet.accept_invite(&self.base, &token).await?;
        check!(accepted.keys_received == 1, "Ann's phone received {} keys", accepted.keys_received);
        let view = ann.wallet.keys_at(keyway_api::clock::now())?;
        check!(
            matches!(view.first().map(|k| k.state), Some(KeyState::Upcoming { .. })),
            "Ann's key should show as upcoming: {view:?}"
        );
        self.say(format!("   Ann's phone accepts the invite: key {ann_key} shows as upcoming."));
        self.ann = Some(ann);
        match self.unlock("Ann", "Garage", 247) {
            Err(Failure(m)) if m.contains("no active key") => {
                self.say("   Ann tries the Garage now: her phone has no active key for it yet.")
            }
            Err(f) => return Err(f),
            Ok(_) => return Err(Failure("Ann unlocked before her start".into())),
        }

        let bob_invite = self
            .sam
            .invite(&InviteRequest {
                name: "Bob".into(),
                contact: "bob@example.com".into(),
                access: AccessKind::AppKey,
                keys: vec![KeyGrant {
                    doors: vec![lobby, garage, bikes],
                    start: None,
                    expiry: Some(now.saturating_add_secs(60 * DAY)),
                }],
                resident: true,
                may_share: false,
            })
            .await?;
        let bob_token = self
            .sam
            .outbox()
            .await?
            .into_iter()
            .find(|m| m.message_id == bob_invite.welcome_message_id)
            .map(|m| m.token);
        let mut bob = Phone::open("Bob", &self.dir.join("phones/bob"))?;
        bob.wallet.accept_invite(&self.base, &bob_token.ok_or_else(|| Failure("no welcome for Bob".into()))?).await?;
        self.say("   Meanwhile Sam invites Bob, another resident, active now; his phone accepts.");
        self.bob = Some(bob);

        let wait = start.0.saturating_sub(keyway_api::clock::now().0) + 1;
        self.say(format!("   … waiting {wait} s for Ann's start …"));
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let ann = self.ann.as_ref().ok_or_else(|| Failure("no phone".into()))?;
        let view = ann.wallet.keys_at(keyway_api::clock::now())?;
        check!(view.first().map(|k| k.state) == Some(KeyState::Active), "Ann's key should be active now: {view:?}");
        let u = self.unlock("Ann", "Lobby", 247)?;
        check!(u.report.granted, "the Lobby refused Ann at her start");
        let u = self.unlock("Ann", "Garage", 185)?;
        check!(u.report.granted && u.link.round_trips == 1, "the Garage refused Ann or took more than one round trip");
        self.people = Some(People {
            ann: invited.person.person_id,
            ann_key,
            ann_expiry,
            bob: bob_invite.person.person_id,
            bob_old_key: None,
            cleo: PersonId(0),
            cleo_token: String::new(),
            cleo_slot: 0,
        });
        Ok(())
    }

    // ---- 3 ---------------------------------------------------------------------------------

    async fn step3(&mut self) -> Step {
        let garage = self.doors()?.garage.id();
        let expiry = keyway_api::clock::now().saturating_add_secs(10 * DAY);
        let invited = self
            .sam
            .invite(&InviteRequest {
                name: "Cleo".into(),
                contact: "+1 555 0100".into(),
                access: AccessKind::DailyDoorcode,
                keys: vec![KeyGrant { doors: vec![garage], start: None, expiry: Some(expiry) }],
                resident: false,
                may_share: false,
            })
            .await?;
        let slot = match invited.updates.as_slice() {
            [u] if u.door_id == garage => match u.ops.as_slice() {
                [DoorOp::AddDoorcode { slot, person, .. }] if *person == invited.person.person_id => *slot,
                other => return Err(Failure(format!("unexpected doorcode update {other:?}"))),
            },
            other => return Err(Failure(format!("expected one update for the Garage, got {other:?}"))),
        };
        self.say(format!("Sam invites Cleo (cleaner) with a daily doorcode for the Garage until {expiry}; Mission Control queues AddDoorcode(slot {slot}) for the offline Garage."));
        let token = self
            .sam
            .outbox()
            .await?
            .into_iter()
            .find(|m| m.message_id == invited.welcome_message_id)
            .map(|m| m.token)
            .ok_or_else(|| Failure("no welcome for Cleo".into()))?;
        let client = keyway_api::client::SyncClient::new(keyway_api::client::ClientConfig::new(self.base.clone()))?;
        let codes = client.doorcodes(&token).await?;
        let today = codes
            .codes
            .iter()
            .find(|c| c.door_id == garage)
            .map(|c| c.code.clone())
            .ok_or_else(|| Failure("no code for the Garage".into()))?;
        self.say(format!("   Cleo's welcome link shows today's Garage code: {today}"));

        let door = &self.doors()?.garage;
        let before = door.keypad(&today)?;
        check!(!before.granted, "the Garage accepted the code before learning the slot");
        self.say(format!("   Cleo types it before any phone visited the Garage: refused ({}) — the door has not learnt the slot yet.", before.denial.as_deref().unwrap_or("?")));

        self.sync("Ann").await?;
        let u = self.unlock("Ann", "Garage", 247)?;
        check!(
            u.report.granted && u.report.updates_carried && u.report.seq_after == 1,
            "Ann's unlock should carry update 1: {:?}",
            u.report
        );
        let door = &self.doors()?.garage;
        let st = door.status()?;
        check!(st.doorcode_slots.contains(&slot), "the Garage does not hold slot {slot}: {st:?}");
        let now_entry = door.keypad(&today)?;
        check!(
            now_entry.granted && now_entry.slot == Some(slot),
            "today's code was refused after the update: {now_entry:?}"
        );
        let secret = DoorcodeSecret::new(door.provisioned.doorcode_secret.0.0);
        let tomorrow = secret
            .code_at(slot, keyway_api::clock::now().saturating_add_secs(DAY), door.provisioned.utc_offset_minutes)
            .to_string();
        check!(tomorrow != today, "tomorrow's code equals today's");
        let t = door.keypad(&tomorrow)?;
        self.say(format!("   Cleo types {today} at the Garage keypad: accepted (slot {slot}) — unlocked."));
        check!(!t.granted, "tomorrow's code {tomorrow} opened the Garage today");
        self.say(format!(
            "   Tomorrow's code {tomorrow} typed today: refused ({}).",
            t.denial.as_deref().unwrap_or("?")
        ));
        self.upload("Ann").await?;
        let tasks = self.sam.door_updates(Some(garage), None).await?;
        check!(
            tasks.iter().any(|t| t.seq == 1 && t.state == TaskState::Delivered),
            "the doorcode task is not delivered: {tasks:?}"
        );
        self.say("   The Garage's door-update task for Cleo's slot shows delivered.");
        let p = self.people.as_mut().ok_or_else(|| Failure("no people".into()))?;
        p.cleo = invited.person.person_id;
        p.cleo_token = token;
        p.cleo_slot = slot;
        Ok(())
    }

    // ---- 4 ---------------------------------------------------------------------------------

    async fn step4(&mut self) -> Step {
        let garage = self.doors()?.garage.id();
        let (ann_key, ann_expiry, ann_person) = {
            let p = self.people()?;
            (p.ann_key, p.ann_expiry, p.ann)
        };
        let mut gus = Phone::open("Gus", &self.dir.join("phones/gus"))?;
        let request = gus.wallet.share_request("Gus");
        let request_text = request.to_text();
        self.say(format!("Gus, Ann's guest, shows his share request ({} characters).", request_text.len()));
        let now = keyway_api::clock::now();
        let window =
            Validity::new(now, now.saturating_add_secs(2 * DAY)).ok_or_else(|| Failure("bad window".into()))?;
        let doors = DoorSet::new(vec![garage]).ok_or_else(|| Failure("bad doors".into()))?;
        let ann = self.ann.as_ref().ok_or_else(|| Failure("no phone for Ann".into()))?;
        let offer = ann.wallet.share_offline(ann_key, &request_text, doors.clone(), window)?;
        self.say(format!(
            "   Ann's phone signs a guest key for the Garage for two days, offline ({} characters).",
            offer.len()
        ));
        let view = gus.wallet.accept_guest_key(&offer)?;
        check!(view.is_guest && view.state == KeyState::Active, "Gus's key should be an active guest key: {view:?}");
        self.gus = Some(gus);
        let u = self.unlock("Gus", "Garage", 247)?;
        check!(u.report.granted && u.report.is_guest, "the Garage refused Gus's guest key: {:?}", u.report);

        let too_long =
            Validity::new(now, ann_expiry.saturating_add_secs(60 * DAY)).ok_or_else(|| Failure("bad window".into()))?;
        let ann = self.ann.as_ref().ok_or_else(|| Failure("no phone for Ann".into()))?;
        match ann.wallet.share_offline(ann_key, &request_text, doors.clone(), too_long) {
            Err(WalletError::Share(e)) => {
                self.say(format!("   Asked for a guest key beyond her own expiry, Ann's app refuses: {e}."))
            }
            other => return Err(Failure(format!("Ann's wallet should refuse a wider guest key: {other:?}"))),
        }
        let ann = self.ann.as_ref().ok_or_else(|| Failure("no phone for Ann".into()))?;
        let device = ann.device_key()?;
        let root = ann
            .wallet
            .store()
            .keys()?
            .into_iter()
            .find(|k| k.chain.leaf_key_id() == ann_key)
            .map(|k| k.chain.root().clone())
            .ok_or_else(|| Failure("Ann's key is missing".into()))?;
        let intruder = KeyPair::generate();
        let wide = GuestKey::sign(
            GuestKeyBody::new(KeyId::random_guest(), ann_key, intruder.public(), doors, too_long),
            &device,
        );
        let outcome = self.raw_unlock("Mal", "Garage", KeyChain::guest(root, wide), intruder)?;
        check!(
            !outcome.granted && outcome.denial == Some(DenialReason::GuestScopeWider),
            "the Garage should refuse the wider guest key: {:?}",
            outcome.denial
        );
        self.say("   A tampered app signs that wider key with Ann's device key anyway, for Mal's phone; the Garage refuses it: GuestScopeWider.");
        self.upload("Ann").await?;
        let person = self.sam.person(ann_person).await?;
        let guests: usize = person.keys.iter().map(|k| k.guests.len()).sum();
        check!(guests == 1, "Mission Control should list Gus's key under Ann's, lists {guests}");
        self.say("   Ann's next upload registers the guest key: Sam sees it under Ann's key.");
        Ok(())
    }

    // ---- 5 ---------------------------------------------------------------------------------

    async fn step5(&mut self) -> Step {
        let (garage, bikes) = {
            let d = self.doors()?;
            (d.garage.id(), d.bikes.id())
        };
        let bob = self.people()?.bob;
        let info = self.sam.person(bob).await?;
        let old = info.keys.first().ok_or_else(|| Failure("Bob has no key".into()))?.clone();
        let earlier = keyway_api::clock::now().saturating_add_secs(20 * DAY);
        let changed = self.sam.change_expiry(old.key_id, earlier).await?;
        check!(
            changed.key.key_id != old.key_id && changed.key.validity.expiry == earlier,
            "an earlier expiry should issue a new key: {:?}",
            changed.key
        );
        let mut hit: Vec<DoorId> = changed.updates.iter().map(|u| u.door_id).collect();
        hit.sort();
        check!(hit == vec![garage, bikes], "the edit should queue updates for the two offline doors, queued {hit:?}");
        check!(
            changed
                .updates
                .iter()
                .all(|u| u.ops == vec![DoorOp::RevokeKey { key: old.key_id, until: old.validity.expiry }]),
            "unexpected updates {:?}",
            changed.updates
        );
        self.say(format!(
            "Sam moves Bob's expiration from {} to {earlier}. A phone's certificate cannot be shortened, so Mission Control issues key {} and queues RevokeKey({}) for the Garage and the Bike Room.",
            old.validity.expiry, changed.key.key_id, old.key_id
        ));
        let bob_phone = self.bob.as_ref().ok_or_else(|| Failure("no phone for Bob".into()))?;
        let old_chain =
            bob_phone.wallet.store().keys()?.into_iter().find(|k| k.chain.leaf_key_id() == old.key_id).map(|k| k.chain);
        let s = self.sync("Bob").await?;
        check!(
            s.keys_received >= 1 && s.keys_revoked >= 1,
            "Bob's sync should bring the new key and revoke the old: {s:?}"
        );
        let before = self.doors()?.bikes.status()?;
        let u = self.unlock("Bob", "Bike Room", 247)?;
        check!(
            u.report.granted && u.report.key_id == changed.key.key_id,
            "Bob should open with his new key: {:?}",
            u.report
        );
        check!(u.report.seq_after == before.update_seq + 1, "the edit did not reach the Bike Room: {:?}", u.report);
        let after = self.doors()?.bikes.status()?;
        check!(after.revocations == before.revocations + 1, "the Bike Room holds no new revocation: {after:?}");
        self.say(format!(
            "   The Bike Room now holds {} revocation(s), update seq {}.",
            after.revocations, after.update_seq
        ));
        let old_chain = old_chain.ok_or_else(|| Failure("Bob's phone never held the old key".into()))?;
        let device = self.bob.as_ref().ok_or_else(|| Failure("no phone".into()))?.device_key()?;
        let outcome = self.raw_unlock("Bob", "Bike Room", old_chain.clone(), device)?;
        check!(
            !outcome.granted && outcome.denial == Some(DenialReason::RevokedKey),
            "the old certificate should be refused: {:?}",
            outcome.denial
        );
        self.say("   Presented anyway, Bob's old certificate (with the old expiration) is refused by the Bike Room: RevokedKey.");
        self.people.as_mut().ok_or_else(|| Failure("no people".into()))?.bob_old_key = Some(old_chain);
        Ok(())
    }

    // ---- 6 ---------------------------------------------------------------------------------

    async fn step6(&mut self) -> Step {
        let garage = self.doors()?.garage.id();
        let (ann, ann_key) = {
            let p = self.people()?;
            (p.ann, p.ann_key)
        };
        let revoked = self.sam.revoke_all_keys(ann).await?;
        check!(
            revoked.revoked_keys == vec![ann_key],
            "Revoke All Keys should end Ann's key: {:?}",
            revoked.revoked_keys
        );
        let garage_update = revoked
            .updates
            .iter()
            .find(|u| u.door_id == garage)
            .ok_or_else(|| Failure("no update for the Garage".into()))?
            .seq;
        self.say(format!(
            "Sam uses Revoke All Keys for Ann: {} door update(s) queued (Garage seq {garage_update}); Ann's phone is offline and still shows her key.",
            revoked.updates.len()
        ));
        self.sync("Bob").await?;
        let u = self.unlock("Bob", "Garage", 247)?;
        check!(
            u.report.granted && u.report.seq_after == garage_update,
            "Bob's unlock should bring the Garage to seq {garage_update}: {:?}",
            u.report
        );
        let u = self.unlock("Ann", "Garage", 247)?;
        check!(
            !u.report.granted && u.report.denial == Some(DenialReason::RevokedKey),
            "the Garage should refuse Ann: {:?}",
            u.report
        );
        let u = self.unlock("Gus", "Garage", 247)?;
        check!(
            !u.report.granted && u.report.denial == Some(DenialReason::RevokedKey),
            "the Garage should refuse Gus: {:?}",
            u.report
        );
        self.upload("Bob").await?;
        let tasks = self.sam.door_updates(Some(garage), None).await?;
        let task = tasks
            .iter()
            .find(|t| t.seq == garage_update)
            .ok_or_else(|| Failure("no task for the revocation".into()))?;
        check!(
            task.state == TaskState::Delivered && task.delivered_at.is_some() && task.receipt_door_time.is_some(),
            "the task should be delivered: {task:?}"
        );
        self.say(format!(
            "   The task \"{}\" at the Garage shows delivered at {} (door clock in the receipt: {}).",
            ops_text(&task.ops),
            task.delivered_at.map(|t| t.to_string()).unwrap_or_default(),
            task.receipt_door_time.map(|t| t.to_string()).unwrap_or_default()
        ));
        let listed = self.sam.people(false).await?;
        check!(listed.iter().all(|p| p.person_id != ann), "Ann should no longer be listed as current");
        let all = self.sam.people(true).await?;
        check!(
            all.iter().any(|p| p.person_id == ann && p.status == PersonStatus::Expired),
            "Ann should be listed with expired users"
        );
        self.say("   Ann is listed only with \"show expired users\"; she can be granted again later.");
        Ok(())
    }

    // ---- 7 ---------------------------------------------------------------------------------

    async fn step7(&mut self) -> Step {
        let (cleo, token) = {
            let p = self.people()?;
            (p.cleo, p.cleo_token.clone())
        };
        let client = keyway_api::client::SyncClient::new(keyway_api::client::ClientConfig::new(self.base.clone()))?;
        let code = client
            .doorcodes(&token)
            .await?
            .codes
            .first()
            .map(|c| c.code.clone())
            .ok_or_else(|| Failure("Cleo has no code".into()))?;
        let history_before = self.sam.activity(None, Some(cleo)).await?;
        check!(!history_before.is_empty(), "Cleo's keypad entry should have reached Mission Control through a phone");
        let deleted = self.sam.delete_person(cleo).await?;
        self.say(format!(
            "Sam deletes Cleo: {} door update(s) queued ({}).",
            deleted.updates.len(),
            deleted.updates.iter().map(|u| ops_text(&u.ops)).collect::<Vec<_>>().join("; ")
        ));
        let all = self.sam.people(true).await?;
        check!(all.iter().all(|p| p.person_id != cleo), "Cleo is still in the people list");
        let history = self.sam.activity(None, Some(cleo)).await?;
        check!(history.len() == history_before.len(), "Cleo's activity changed with her deletion");
        self.say(format!("   She is gone from the people list (even with expired users shown); her {} activity record(s) remain, e.g. \"{}\" at the {}.",
            history.len(),
            history.first().map(|h| event_text(&h.event)).unwrap_or_default(),
            history.first().map(|h| h.door_name.clone()).unwrap_or_default()));
        self.sync("Bob").await?;
        let u = self.unlock("Bob", "Garage", 247)?;
        check!(u.report.granted && u.report.updates_carried, "Bob should carry the deletion: {:?}", u.report);
        let e = self.doors()?.garage.keypad(&code)?;
        check!(!e.granted, "Cleo's code still opens the Garage");
        self.say(format!(
            "   Cleo's code {code} at the Garage keypad: refused ({}).",
            e.denial.as_deref().unwrap_or("?")
        ));
        Ok(())
    }

    // ---- 8 ---------------------------------------------------------------------------------

    async fn step8(&mut self) -> Step {
        self.upload("Ann").await?;
        for door in ["Garage", "Bike Room"] {
            let u = self.unlock("Bob", door, 247)?;
            check!(u.report.granted, "Bob should open the {door}");
        }
        self.upload("Bob").await?;
        for name in ["Garage", "Bike Room"] {
            let (id, st) = {
                let d = self.door(name)?;
                (d.id(), d.status()?)
            };
            let entries = self.sam.activity(Some(id), None).await?;
            let mut seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
            seqs.sort();
            check!(
                seqs == (1..=st.activity_head).collect::<Vec<_>>(),
                "{name}: Mission Control holds activity {seqs:?}, the door logged 1..={}",
                st.activity_head
            );
            let info = self
                .sam
                .doors()
                .await?
                .into_iter()
                .find(|d| d.door_id == id)
                .ok_or_else(|| Failure("door missing".into()))?;
            check!(
                info.activity_head == st.activity_head && info.delivered_seq == st.update_seq,
                "{name}: Mission Control's view {info:?} differs from the door's {st:?}"
            );
            self.say(format!("{name}: all {} records the offline door logged reached Mission Control through phones; every update up to seq {} delivered.", st.activity_head, st.update_seq));
            let mut sorted = entries.clone();
            sorted.sort_by_key(|e| e.seq);
            for e in &sorted {
                self.say(format!(
                    "   #{:<3} {}  {:<6} {}",
                    e.seq,
                    e.time,
                    e.person_name.as_deref().unwrap_or("-"),
                    event_text(&e.event)
                ));
            }
        }
        // The door processes' own accounts agree with what the phones saw.
        for name in ["Lobby", "Garage", "Bike Room"] {
            let seen: Vec<bool> = self.report.unlocks.iter().filter(|u| u.door == name).map(|u| u.granted).collect();
            let mut told = Vec::new();
            for _ in 0..40 {
                told = self.door(name)?.sessions().iter().map(|l| l.granted == Some(true)).collect();
                if told.len() >= seen.len() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            check!(told == seen, "{name}: the door logged sessions {told:?}, the phones saw {seen:?}");
        }
        self.say("The door processes' own session logs match every decision the phones reported.");
        let garage = self.doors()?.garage.id();
        let entries = self.sam.activity(Some(garage), None).await?;
        let has = |f: &dyn Fn(&ActivityEvent) -> bool| entries.iter().any(|e| f(&e.event));
        check!(has(&|e| matches!(e, ActivityEvent::AppUnlock { guest: true, .. })), "the guest's unlock is missing");
        check!(
            has(&|e| matches!(e, ActivityEvent::AppDenied { reason: DenialReason::GuestScopeWider, .. })),
            "the wider guest key's refusal is missing"
        );
        check!(
            has(&|e| matches!(e, ActivityEvent::AppDenied { reason: DenialReason::RevokedKey, .. })),
            "the revoked keys' refusals are missing"
        );
        check!(has(&|e| matches!(e, ActivityEvent::DoorcodeEntry { .. })), "the doorcode entry is missing");
        Ok(())
    }

    /// The door-update tasks of the offline doors, for the summary.
    async fn collect_updates(&mut self) -> Step {
        for name in ["Garage", "Bike Room"] {
            let id = self.door(name)?.id();
            for t in self.sam.door_updates(Some(id), None).await? {
                self.report.updates.push(UpdateRow {
                    door: name.into(),
                    seq: t.seq,
                    ops: ops_text(&t.ops),
                    delivered: t.state == TaskState::Delivered,
                    receipt_door_time: t.receipt_door_time.map(|x| x.to_string()),
                });
            }
        }
        check!(self.report.updates.iter().all(|u| u.delivered), "some door updates were never delivered");
        Ok(())
    }
}
