//! The `lock-sim` command.
//!
//! ```text
//! lock-sim provision --state door.state --provision door.json
//! lock-sim serve     --state door.state [--provision door.json] [--listen 127.0.0.1:0] [--mtu 247] [--print-addr] [--json]
//!                    [--backend http://127.0.0.1:8787]
//! lock-sim feed      --state door.state --backend http://127.0.0.1:8787 [--json]
//! lock-sim keypad    --state door.state --code 1234567890 [--json]
//! lock-sim card      --state door.state (--card 04a1b2c3 | --card-file card.json) [--json]
//! lock-sim status    --state door.state [--json]
//! ```
//!
//! `serve` prints a ready line once it listens (with `--print-addr`, the first line of its
//! output is exactly the address, for a parent process), then one line per session. With
//! `--backend` the door is internet-connected: it also follows its door feed from Mission
//! Control (one line per feed event); `feed` runs the feed alone. Errors are
//! one line on stderr and exit code 1; a refused entry is a decision, not an error (exit 0).

use crate::door_file::DoorFile;
use crate::entry::{EntryReport, hold_card};
use crate::feed::{Feed, FeedLine};
use crate::serve::serve_door;
use clap::{Args, Parser, Subcommand};
use keyway_api::CardFile;
use keyway_ffi::door_install::provisioning_from_json;
use keyway_link::socket::DoorListener;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::CardKind;
use serde::Serialize;
use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "lock-sim",
    about = "Keyway door simulator: a door engine behind a socket stand-in for its GATT service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct StateArg {
    /// The door's state file (written atomically after every session and entry).
    #[arg(long)]
    pub state: PathBuf,
    /// Simulates a lock whose real-time clock runs this many seconds ahead of the host's
    /// (negative: behind); signed time from phones and the feed corrects it.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub rtc_offset_secs: i64,
}

impl StateArg {
    /// The door's state file, with its simulated RTC.
    pub fn file(&self) -> DoorFile {
        DoorFile::new(&self.state).with_rtc_offset(self.rtc_offset_secs)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Installs a door from the JSON Mission Control returned when the door was created.
    Provision {
        #[command(flatten)]
        state: StateArg,
        #[arg(long)]
        provision: PathBuf,
    },
    /// Replaces the door's key in place from the JSON Mission Control returned when the door
    /// was re-keyed (`POST /v1/doors/{id}/rekey`): the new certificate must verify against the
    /// door's own trust anchors and name this door; everything else the door holds stays.
    Rekey {
        #[command(flatten)]
        state: StateArg,
        #[arg(long)]
        provision: PathBuf,
    },
    /// Serves unlock sessions, one connection at a time, until stopped.
    Serve {
        #[command(flatten)]
        state: StateArg,
        /// Provisions the door first if the state file does not exist yet.
        #[arg(long)]
        provision: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// The door's ATT MTU (the session uses the smaller of the phone's and this).
        #[arg(long, default_value_t = 247)]
        mtu: usize,
        /// Print the listening address alone as the first line.
        #[arg(long)]
        print_addr: bool,
        /// One JSON object per session instead of text.
        #[arg(long)]
        json: bool,
        /// Mission Control's base URL: the door is internet-connected and follows its feed.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Follows the door feed from Mission Control (an internet-connected door), until stopped.
    Feed {
        #[command(flatten)]
        state: StateArg,
        #[arg(long)]
        backend: String,
        /// One JSON object per feed event instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Types a doorcode on the keypad.
    Keypad {
        #[command(flatten)]
        state: StateArg,
        #[arg(long)]
        code: String,
        #[arg(long)]
        json: bool,
    },
    /// Holds a card (its id in hex) to the reader.
    Card {
        #[command(flatten)]
        state: StateArg,
        /// The card's UID as hex: a card that holds no key (a secure enrolment refuses it).
        #[arg(long, required_unless_present = "card_file", conflicts_with = "card_file")]
        card: Option<String>,
        /// The card's file, as Mission Control issued it: JSON `{"uid": "<hex>", "key": "<32 hex
        /// digits>"}` (or the UID alone). The card answers the door's challenge with its key.
        #[arg(long)]
        card_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What the door knows: update seq, clock, revocations, doorcodes, keycards, activity.
    Status {
        #[command(flatten)]
        state: StateArg,
        #[arg(long)]
        json: bool,
    },
}

/// The door as `lock-sim status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DoorStatus {
    pub door_id: u32,
    pub update_seq: u64,
    pub clock: UnixTime,
    pub utc_offset_minutes: i16,
    pub revocations: usize,
    pub doorcode_slots: Vec<u32>,
    pub keycards: usize,
    /// How many of the keycards are secure (the others are UID-only).
    #[serde(default)]
    pub secure_keycards: usize,
    /// Whether the door holds the property's card key, so that it can check secure cards.
    #[serde(default)]
    pub reads_secure_cards: bool,
    pub activity_head: u64,
}

fn print_json(value: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// Runs `lock-sim` with `args` (the first item is the program name).
pub fn main_from(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ");
            eprintln!("lock-sim: {first} (see lock-sim --help)");
            return ExitCode::FAILURE;
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lock-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The door as provisioned from `path`, installed at the RTC reading `now`.
fn read_provisioning(
    path: &PathBuf,
    now: keyway_protocol::UnixTime,
) -> Result<keyway_protocol::door::DoorProvisioning, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    provisioning_from_json(&text, now).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Provision { state, provision } => {
            let door = state
                .file()
                .provision(read_provisioning(&provision, state.file().rtc_now())?)
                .map_err(|e| e.to_string())?;
            println!("provisioned {} (door key {})", door.door_id(), hex::encode(door.door_public_key().0));
            Ok(())
        }
        Command::Rekey { state, provision } => {
            let text = std::fs::read_to_string(&provision).map_err(|e| format!("{}: {e}", provision.display()))?;
            let install: keyway_api::ProvisionedDoor =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", provision.display()))?;
            let key = keyway_protocol::credential::KeyPair::from_secret(&install.door_secret_key.0.0);
            let rekeyed = state
                .file()
                .with_door(|door| door.rekey(key, &install.door_certificate.0).map(|()| door.door_public_key()))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            println!("re-keyed {} (door key {})", install.door_id, hex::encode(rekeyed.0));
            Ok(())
        }
        Command::Serve { state, provision, listen, mtu, print_addr, json, backend } => {
            let file = state.file();
            match (&provision, file.exists()) {
                (None, false) => {
                    return Err(format!("{}: no door state here; pass --provision", file.path().display()));
                }
                (Some(p), false) => {
                    file.provision(read_provisioning(p, file.rtc_now())?).map_err(|e| e.to_string())?;
                }
                (_, true) => {}
            }
            let door_id = file.load().map_err(|e| e.to_string())?.door_id();
            if let Some(p) = &provision {
                // A state file is never silently reused for another door.
                let wanted = read_provisioning(p, file.rtc_now())?.door_id;
                if wanted != door_id {
                    return Err(format!(
                        "{} holds {door_id}, but {} provisions {wanted}",
                        file.path().display(),
                        p.display()
                    ));
                }
            }
            let listener = DoorListener::bind(listen, mtu).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            if print_addr {
                println!("{addr}");
            } else {
                println!("lock-sim: {door_id} listening on {addr} (MTU {mtu})");
            }
            let _ = std::io::stdout().flush();
            if let Some(backend) = backend {
                let feed = Feed::new(&backend, file.clone()).map_err(|e| e.to_string())?;
                std::thread::spawn(move || {
                    if let Err(e) = follow(&feed, json) {
                        eprintln!("lock-sim: door feed stopped: {e}");
                    }
                });
            }
            // A door keeps serving when whoever reads its log goes away: write errors are ignored.
            serve_door(&listener, &file, |line| {
                let text = if json { serde_json::to_string(line).unwrap_or_default() } else { line.text() };
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            })
            .map_err(|e| e.to_string())
        }
        Command::Feed { state, backend, json } => {
            let file = state.file();
            file.load().map_err(|e| e.to_string())?;
            let feed = Feed::new(&backend, file).map_err(|e| e.to_string())?;
            follow(&feed, json)
        }
        Command::Keypad { state, code, json } => {
            let file = state.file();
            let report = file
                .with_door(|door| {
                    EntryReport::new(door.door_id(), "doorcode", &door.enter_doorcode(&code, file.rtc_now()))
                })
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&report)
            } else {
                println!("{}", report.line());
                Ok(())
            }
        }
        Command::Card { state, card, card_file, json } => {
            let card = read_card(card, card_file.as_deref())?;
            let file = state.file();
            let report = file
                .with_door(|door| {
                    hold_card(door, &card, file.rtc_now())
                        .map(|(entry, check)| EntryReport::card(door.door_id(), &entry, check))
                })
                .map_err(|e| e.to_string())??;
            if json {
                print_json(&report)
            } else {
                println!("{}", report.line());
                Ok(())
            }
        }
        Command::Status { state, json } => {
            let door = state.file().load().map_err(|e| e.to_string())?;
            let s = door.state();
            let status = DoorStatus {
                door_id: s.door_id.0,
                update_seq: s.update_seq,
                clock: s.clock,
                utc_offset_minutes: s.utc_offset_minutes,
                revocations: s.revocations.len(),
                doorcode_slots: s.doorcodes.keys().copied().collect(),
                keycards: s.keycards.len(),
                secure_keycards: s.keycards.iter().filter(|k| k.kind == CardKind::Secure).count(),
                reads_secure_cards: door.reads_secure_cards(),
                activity_head: s.activity.head(),
            };
            if json {
                print_json(&status)
            } else {
                println!(
                    "{}: update seq {}, clock {}, {} revocations, doorcode slots {:?}, {} keycards ({} secure{}), activity head {}",
                    s.door_id,
                    status.update_seq,
                    status.clock.0,
                    status.revocations,
                    status.doorcode_slots,
                    status.keycards,
                    status.secure_keycards,
                    if status.reads_secure_cards { "" } else { "; no card key: UID-only cards alone" },
                    status.activity_head
                );
                Ok(())
            }
        }
    }
}

/// The card held to the reader: a bare UID, or a card file.
fn read_card(uid: Option<String>, path: Option<&std::path::Path>) -> Result<CardFile, String> {
    match (uid, path) {
        (Some(uid), None) => Ok(CardFile { uid, key: None }),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: not a card file: {e}", path.display()))
        }
        _ => Err("pass --card or --card-file".into()),
    }
}

/// Runs the door feed on a runtime of its own, printing one line per event.
fn follow(feed: &Feed, json: bool) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime
        .block_on(feed.run(|line: &FeedLine| {
            let text = if json { serde_json::to_string(line).unwrap_or_default() } else { line.text() };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }))
        .map_err(|e| e.to_string())
}
