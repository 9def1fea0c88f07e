//! What every step works with: the [`World`] (the consoles, the phones, the report being
//! written), the cast and the doors as types, and the helpers the steps share: an unlock with
//! a phone, an unlock by a tampered app, a phone's sync and upload, a line of narrative.

use crate::doors::DoorProcess;
use crate::phones::{Phone, Unlock};
use crate::report::{Report, StepReport, UnlockRow};
use keyway_api::client::ManagerClient;
use keyway_link::run_unlock;
use keyway_link::socket::{SocketLink, SocketStats};
use keyway_protocol::credential::{ActivityEvent, DenialReason, DoorOp, KeyChain, KeyId, KeyPair, TrustAnchors};
use keyway_protocol::unlock::{PhoneSession, UnlockOutcome, UnlockParams};
use keyway_wallet::WalletError;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const DAY: u64 = 86_400;

/// The MTU of an ordinary unlock (the tampered app always uses it).
const TAMPERED_APP_MTU: usize = 247;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Print the narrative as it happens (off for `--json`).
    pub narrate: bool,
    /// Work in this directory instead of a fresh temporary one (kept afterwards).
    pub workdir: Option<PathBuf>,
    /// After the story, keep Mission Control (and its console) running until Ctrl-C.
    pub keep_running: bool,
}

/// Why a step failed.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Fails the step with the message unless the condition holds.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::world::Failure(format!($($msg)+)));
        }
    };
}
pub(crate) use check;

/// Everyone in the story who carries a wallet on a phone: the residents Ann and Bob, and
/// Ann's guest Gus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resident {
    Ann,
    Bob,
    Gus,
    /// Bob's second phone, enrolled with a device code after the first is lost.
    BobsNewPhone,
}

impl Resident {
    /// The name the narrative and the report print.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Resident::Ann => "Ann",
            Resident::Bob => "Bob",
            Resident::Gus => "Gus",
            Resident::BobsNewPhone => "Bob (new phone)",
        }
    }
}

/// Whoever presents a key at a door, as the report's unlock rows name them: someone with a
/// wallet, or Mal, who has only a tampered app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Actor {
    Resident(Resident),
    Mal,
}

impl Actor {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Actor::Resident(r) => r.name(),
            Actor::Mal => "Mal",
        }
    }
}

impl From<Resident> for Actor {
    fn from(r: Resident) -> Self {
        Actor::Resident(r)
    }
}

/// How far the Gym lock's real-time clock lags (ten minutes).
pub(crate) const GYM_RTC_LAG_SECS: i64 = 600;

/// The property's four doors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DoorName {
    Lobby,
    Garage,
    BikeRoom,
    /// Offline, and its lock's real-time clock runs ten minutes slow.
    Gym,
}

impl DoorName {
    pub(crate) const ALL: [DoorName; 4] = [DoorName::Lobby, DoorName::Garage, DoorName::BikeRoom, DoorName::Gym];

    /// The door's name in Mission Control, the narrative and the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DoorName::Lobby => "Lobby",
            DoorName::Garage => "Garage",
            DoorName::BikeRoom => "Bike Room",
            DoorName::Gym => "Gym",
        }
    }
}

/// The running door processes, which step 1 starts. Dropping them stops the processes.
pub(crate) struct Doors {
    pub(crate) lobby: DoorProcess,
    pub(crate) garage: DoorProcess,
    pub(crate) bikes: DoorProcess,
    pub(crate) gym: DoorProcess,
}

impl Doors {
    pub(crate) fn get(&self, name: DoorName) -> &DoorProcess {
        match name {
            DoorName::Lobby => &self.lobby,
            DoorName::Garage => &self.garage,
            DoorName::BikeRoom => &self.bikes,
            DoorName::Gym => &self.gym,
        }
    }
}

/// What the steps share besides the values they hand each other: the backend, Sam's console,
/// the phones handed out so far and the report being written.
pub(crate) struct World {
    pub(crate) opts: Options,
    pub(crate) report: Report,
    pub(crate) current: Option<StepReport>,
    pub(crate) dir: PathBuf,
    pub(crate) base: String,
    /// Sam's console: signed out until step 1 creates the property and its managers.
    pub(crate) sam: ManagerClient,
    /// The property's authority key, once step 1 has created it.
    pub(crate) anchors: TrustAnchors,
    /// Pat's (the Portfolio Manager's) token, once step 1 has created the property: the one
    /// `--keep-running` offers for signing in to the console.
    pub(crate) pm_token: Option<String>,
    ann: Option<Phone>,
    bob: Option<Phone>,
    gus: Option<Phone>,
    bob_new: Option<Phone>,
}

impl World {
    pub(crate) fn new(opts: Options, report: Report, dir: PathBuf, base: String, console: ManagerClient) -> World {
        World {
            opts,
            report,
            current: None,
            dir,
            base,
            sam: console,
            anchors: TrustAnchors::new([]),
            pm_token: None,
            ann: None,
            bob: None,
            gus: None,
            bob_new: None,
        }
    }

    /// Prints a line of narrative (unless `--json`) and records it under the current step.
    pub(crate) fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        if self.opts.narrate {
            println!("{line}");
        }
        if let Some(s) = self.current.as_mut() {
            s.lines.push(line);
        }
    }

    /// Runs one step of the article under its number and title; `None` if it failed (the
    /// report says why).
    pub(crate) async fn step<T>(
        &mut self,
        number: usize,
        title: &str,
        body: impl AsyncFnOnce(&mut World) -> Result<T, Failure>,
    ) -> Option<T> {
        self.begin(number, title);
        let result = body(self).await;
        self.end(result)
    }

    fn begin(&mut self, number: usize, title: &str) {
        if self.opts.narrate {
            println!("\n== {number}. {title} ==");
        }
        self.current = Some(StepReport { number, title: title.to_string(), ..Default::default() });
    }

    fn end<T>(&mut self, result: Result<T, Failure>) -> Option<T> {
        let mut s = self.current.take()?;
        let value = match result {
            Ok(value) => {
                s.passed = true;
                if self.opts.narrate {
                    println!("   ✓ step {} passed", s.number);
                }
                Some(value)
            }
            Err(f) => {
                if self.opts.narrate {
                    println!("   ✗ step {} FAILED: {}", s.number, f.0);
                }
                s.failure = Some(f.0);
                None
            }
        };
        self.report.steps.push(s);
        value
    }

    /// Hands `who` their phone.
    pub(crate) fn give_phone(&mut self, who: Resident, phone: Phone) {
        let slot = match who {
            Resident::Ann => &mut self.ann,
            Resident::Bob => &mut self.bob,
            Resident::Gus => &mut self.gus,
            Resident::BobsNewPhone => &mut self.bob_new,
        };
        *slot = Some(phone);
    }

    pub(crate) fn phone(&self, who: Resident) -> Result<&Phone, Failure> {
        match who {
            Resident::Ann => self.ann.as_ref(),
            Resident::Bob => self.bob.as_ref(),
            Resident::Gus => self.gus.as_ref(),
            Resident::BobsNewPhone => self.bob_new.as_ref(),
        }
        .ok_or_else(|| no_phone(who))
    }

    fn phone_mut(&mut self, who: Resident) -> Result<&mut Phone, Failure> {
        match who {
            Resident::Ann => self.ann.as_mut(),
            Resident::Bob => self.bob.as_mut(),
            Resident::Gus => self.gus.as_mut(),
            Resident::BobsNewPhone => self.bob_new.as_mut(),
        }
        .ok_or_else(|| no_phone(who))
    }

    /// `who` unlocks `door` with their wallet; narrates it and records the row.
    pub(crate) fn unlock(
        &mut self,
        doors: &Doors,
        who: Resident,
        door: DoorName,
        mtu: usize,
    ) -> Result<Unlock, Failure> {
        self.try_unlock(doors, who, door, mtu)?
            .map_err(|e| Failure(format!("{} at the {}: {e}", who.name(), door.name())))
    }

    /// Like [`World::unlock`], but a wallet that refuses to unlock (or fails) is an answer,
    /// not a failure: the outer error is only for a phone that does not exist.
    pub(crate) fn try_unlock(
        &mut self,
        doors: &Doors,
        who: Resident,
        door: DoorName,
        mtu: usize,
    ) -> Result<Result<Unlock, WalletError>, Failure> {
        let d = doors.get(door);
        let u = match self.phone_mut(who)?.unlock(d.id(), d.addr, mtu) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
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
            "   {} unlocks the {} with {}key {}: {decision}{updates} ({} B to the door, {} B back, {} round trip{} at MTU {})",
            who.name(),
            door.name(),
            if r.is_guest { "guest " } else { "" },
            r.key_id,
            u.link.bytes_sent,
            u.link.bytes_received,
            u.link.round_trips,
            if u.link.round_trips == 1 { "" } else { "s" },
            u.mtu
        ));
        self.push_row(
            who.into(),
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
        Ok(Ok(u))
    }

    #[allow(clippy::too_many_arguments)]
    fn push_row(
        &mut self,
        who: Actor,
        door: DoorName,
        key: KeyId,
        guest: bool,
        granted: bool,
        denial: Option<DenialReason>,
        mtu: usize,
        carried: bool,
        seq_before: u64,
        seq_after: u64,
        link: SocketStats,
    ) {
        let step = self.current.as_ref().map_or(0, |s| s.number);
        self.report.unlocks.push(UnlockRow {
            step,
            who: who.name().into(),
            door: door.name().into(),
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

    /// A tampered app: runs the phone side of an unlock directly with `chain` and `device`,
    /// bypassing every check the wallet makes, so that only the door decides. Records the row.
    pub(crate) fn raw_unlock(
        &mut self,
        doors: &Doors,
        who: impl Into<Actor>,
        door: DoorName,
        chain: KeyChain,
        device: KeyPair,
    ) -> Result<UnlockOutcome, Failure> {
        let d = doors.get(door);
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let session = PhoneSession::new(UnlockParams {
            chain: chain.clone(),
            device_key: device,
            door_cert: d.provisioned.door_certificate.0.clone(),
            anchors: self.anchors.clone(),
            batch: None,
            activity_after: 0,
            time: None,
            nonce,
            now: keyway_api::clock::now(),
            resume: None,
        })?;
        let mut link = SocketLink::connect(d.addr, TAMPERED_APP_MTU, Duration::from_secs(5))?;
        let outcome = run_unlock(&mut link, session, Duration::from_secs(10))?;
        let stats = link.stats();
        self.push_row(
            who.into(),
            door,
            chain.leaf_key_id(),
            chain.guest_link().is_some(),
            outcome.granted,
            outcome.denial,
            TAMPERED_APP_MTU,
            outcome.batch_carried,
            outcome.updates.seq_before,
            outcome.updates.seq_after,
            stats,
        );
        Ok(outcome)
    }

    /// `who`'s phone syncs with Mission Control.
    pub(crate) async fn sync(&mut self, who: Resident) -> Result<keyway_wallet::SyncSummary, Failure> {
        let phone = self.phone_mut(who)?;
        let s = phone.wallet.sync().await.map_err(|e| Failure(format!("{}'s sync: {e}", who.name())))?;
        self.say(format!(
            "   {}'s phone syncs: {} key(s) received, {} revoked, pending door updates for {} door(s)",
            who.name(),
            s.keys_received,
            s.keys_revoked,
            s.doors_with_updates
        ));
        Ok(s)
    }

    /// `who`'s phone uploads the doors' receipts to Mission Control.
    pub(crate) async fn upload(&mut self, who: Resident) -> Result<keyway_wallet::UploadSummary, Failure> {
        let phone = self.phone_mut(who)?;
        let s = phone.wallet.upload().await.map_err(|e| Failure(format!("{}'s upload: {e}", who.name())))?;
        self.say(format!(
            "   {}'s phone uploads {} receipt(s): {} new activity record(s), {} door update(s) confirmed delivered",
            who.name(),
            s.receipts_uploaded,
            s.new_activity,
            s.updates_confirmed
        ));
        Ok(s)
    }
}

fn no_phone(who: Resident) -> Failure {
    Failure(format!("{} has no phone yet", who.name()))
}

/// An activity record as the narrative prints it.
pub(crate) fn event_text(event: &ActivityEvent) -> String {
    match event {
        ActivityEvent::AppUnlock { key, guest, .. } => {
            format!("app unlock ({}key {key})", if *guest { "guest " } else { "" })
        }
        ActivityEvent::AppDenied { reason, .. } => format!("app refused: {reason:?}"),
        ActivityEvent::DoorcodeEntry { slot, .. } => format!("doorcode (slot {slot})"),
        ActivityEvent::DoorcodeDenied { reason } => format!("doorcode refused: {reason:?}"),
        ActivityEvent::KeycardEntry { .. } => "keycard (UID only)".into(),
        ActivityEvent::SecureKeycardEntry { .. } => "secure keycard".into(),
        ActivityEvent::KeycardDenied { reason, .. } => format!("keycard refused: {reason:?}"),
        ActivityEvent::UpdateRejected { seq, reason } => format!("door update {seq} rejected: {reason:?}"),
        ActivityEvent::ClockSet { before, after } => format!("clock set from {before} to {after} by signed time"),
        ActivityEvent::DeniedRepeatedly { channel, reason, count, .. } => {
            format!("{count} {channel:?} refusals of an unknown credential: {reason:?}")
        }
        ActivityEvent::RecordsDropped { count } => format!("{count} records dropped before upload"),
    }
}

fn denial_name(r: Option<DenialReason>) -> Option<String> {
    r.map(|r| format!("{r:?}"))
}

/// A door update's operations as the narrative and the summary print them.
/// The first bytes of a card's keyed tag, for display.
fn tag_prefix(tag: &[u8]) -> String {
    tag.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn ops_text(ops: &[DoorOp]) -> String {
    ops.iter()
        .map(|op| match op {
            DoorOp::RevokeKey { key, .. } => format!("RevokeKey({key})"),
            DoorOp::RevokePerson { person, .. } => format!("RevokePerson({})", person.0),
            DoorOp::AddDoorcode { slot, .. } => format!("AddDoorcode(slot {slot})"),
            DoorOp::RemoveDoorcode { slot } => format!("RemoveDoorcode(slot {slot})"),
            DoorOp::AddKeycard { card, kind, .. } => {
                let kind = match kind {
                    keyway_protocol::credential::CardKind::Secure => "secure",
                    keyway_protocol::credential::CardKind::UidOnly => "UID only",
                };
                format!("AddKeycard({kind}, tag {}…)", tag_prefix(card.as_slice()))
            }
            DoorOp::RemoveKeycard { card } => format!("RemoveKeycard(tag {}…)", tag_prefix(card.as_slice())),
            DoorOp::RevokeDevice { device, .. } => format!("RevokeDevice({device})"),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
