//! Each subcommand, over the wallet.

use crate::args::{Cli, Command};
use crate::display::{event_text, keys_table, state_text, time_text};
use indicatif::{ProgressBar, ProgressStyle};
use keyway_link::Link;
use keyway_link::socket::SocketLink;
use keyway_protocol::credential::{DoorSet, Validity};
use keyway_wallet::Wallet;
use keyway_wallet::store::secure::FileSecureStorage;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Refuses before any connection when no key of this wallet can open `door` now.
fn check_can_open(wallet: &Wallet, door: keyway_protocol::credential::DoorId) -> Result<(), String> {
    if !wallet.doors().map_err(|e| e.to_string())?.iter().any(|(d, _)| *d == door) {
        return Err(keyway_wallet::WalletError::UnknownDoor(door).to_string());
    }
    let now = wallet.now().map_err(|e| e.to_string())?;
    let keys = wallet.keys_at(now).map_err(|e| e.to_string())?;
    if !keys.iter().any(|k| k.state == keyway_wallet::key_state::KeyState::Active && k.doors.contains(door)) {
        return Err(keyway_wallet::WalletError::NoKeyForDoor(door).to_string());
    }
    Ok(())
}

/// The unlock over the btleplug link: scan for the door's advertisement, connect, unlock.
#[cfg(feature = "ble")]
fn ble_unlock(
    wallet: &mut Wallet,
    door: keyway_protocol::credential::DoorId,
    scan: Duration,
) -> Result<keyway_wallet::UnlockReport, String> {
    use keyway_link::ble::{BleConnectOptions, BtleplugLink};
    let options = BleConnectOptions { door: Some(door), scan_timeout: scan, ..BleConnectOptions::default() };
    let mut link = BtleplugLink::connect(&options).map_err(|e| format!("cannot reach {door} over Bluetooth: {e}"))?;
    wallet.unlock(door, &mut link).map_err(|e| e.to_string())
}

#[cfg(not(feature = "ble"))]
fn ble_unlock(
    _: &mut Wallet,
    _: keyway_protocol::credential::DoorId,
    _: Duration,
) -> Result<keyway_wallet::UnlockReport, String> {
    Err("this keyway was built without Bluetooth (cargo feature `ble`)".into())
}

fn open(cli: &Cli) -> Result<Wallet, String> {
    std::fs::create_dir_all(&cli.wallet).map_err(|e| format!("{}: {e}", cli.wallet.display()))?;
    let secure = FileSecureStorage::new(cli.wallet.join("secure")).map_err(|e| e.to_string())?;
    Wallet::open(&cli.wallet.join("wallet.db"), Arc::new(secure)).map_err(|e| format!("{}: {e}", cli.wallet.display()))
}

/// A spinner on stderr while `work` runs (hidden when stderr is not a terminal).
fn with_spinner<T>(message: &str, work: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(80));
    let out = work();
    bar.finish_and_clear();
    out
}

fn block_on<T>(message: &str, fut: impl Future<Output = T>) -> Result<T, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(with_spinner(message, || rt.block_on(fut)))
}

fn door_namer(wallet: &Wallet) -> impl Fn(keyway_protocol::credential::DoorId) -> String {
    let names = wallet.doors().unwrap_or_default();
    move |id| {
        names.iter().find(|(d, _)| *d == id).map(|(_, n)| format!("{n} ({})", id.0)).unwrap_or_else(|| id.to_string())
    }
}

pub fn run(cli: Cli) -> Result<(), String> {
    let mut wallet = open(&cli)?;
    match cli.command {
        Command::Accept { backend, token } => {
            let s = block_on("accepting the invite…", wallet.accept_invite(&backend, &token))?
                .map_err(|e| e.to_string())?;
            println!("invite accepted: {} key(s), {} door(s)", s.keys_received, s.doors);
        }
        Command::Sync => {
            let s = block_on("syncing…", wallet.sync())?.map_err(|e| e.to_string())?;
            println!(
                "synced: {} key(s) received, {} revoked, pending door updates for {} door(s); server time {}",
                s.keys_received, s.keys_revoked, s.doors_with_updates, s.server_time
            );
        }
        Command::Upload => {
            let s = block_on("uploading receipts…", wallet.upload())?.map_err(|e| e.to_string())?;
            println!(
                "uploaded {} receipt(s): {} new activity record(s), {} door update(s) confirmed delivered",
                s.receipts_uploaded, s.new_activity, s.updates_confirmed
            );
        }
        Command::Keys => {
            let keys = wallet.keys_at(keyway_api::clock::now()).map_err(|e| e.to_string())?;
            if keys.is_empty() {
                println!("no keys on this phone (accept an invite or a guest key first)");
            } else {
                print!("{}", keys_table(&keys, door_namer(&wallet)));
            }
        }
        Command::Unlock { door, addr: None, ble: true, scan_secs, .. } => {
            check_can_open(&wallet, door)?;
            let r = with_spinner(&format!("looking for {door} over Bluetooth…"), || {
                ble_unlock(&mut wallet, door, Duration::from_secs(scan_secs))
            })?;
            let decision = if r.granted {
                "unlocked".to_string()
            } else {
                format!("refused: {:?}", r.denial.unwrap_or(keyway_protocol::credential::DenialReason::Malformed))
            };
            println!("{} ({}): {decision}", r.door_name, r.door_id);
            println!("  key {}{}", r.key_id, if r.is_guest { " (guest)" } else { "" });
            if r.updates_carried {
                println!("  carried door updates: seq {} → {}", r.seq_before, r.seq_after);
            }
        }
        Command::Unlock { addr: None, .. } => return Err("give --addr HOST:PORT or --ble".into()),
        Command::Unlock { door, addr: Some(addr), mtu, .. } => {
            check_can_open(&wallet, door)?;
            let report = with_spinner(&format!("unlocking {door}…"), || {
                let mut link = SocketLink::connect(addr, mtu as usize, Duration::from_secs(5))
                    .map_err(|e| format!("cannot reach the door at {addr}: {e}"))?;
                let report = wallet.unlock(door, &mut link).map_err(|e| e.to_string())?;
                Ok::<_, String>((report, link.stats(), link.mtu()))
            })?;
            let (r, stats, mtu) = report;
            let decision = if r.granted {
                "unlocked".to_string()
            } else {
                format!("refused: {:?}", r.denial.unwrap_or(keyway_protocol::credential::DenialReason::Malformed))
            };
            println!("{} ({}): {decision}", r.door_name, r.door_id);
            println!("  key {}{}", r.key_id, if r.is_guest { " (guest)" } else { "" });
            if r.updates_carried {
                println!("  carried door updates: seq {} → {}", r.seq_before, r.seq_after);
            }
            println!(
                "  {} activity record(s) brought back; {} B sent, {} B received, {} round trip(s) at MTU {mtu}",
                r.activity_records, stats.bytes_sent, stats.bytes_received, stats.round_trips
            );
        }
        Command::ShareRequest { name } => {
            println!("{}", wallet.share_request(&name).to_text());
        }
        Command::Share { key, request, doors, from, until } => {
            let doors = DoorSet::new(doors).ok_or("give between 1 and 32 doors")?;
            let validity = Validity::new(from, until).ok_or("--until must be after --from")?;
            println!("{}", wallet.share_offline(key, &request, doors, validity).map_err(|e| e.to_string())?);
        }
        Command::AcceptGuestKey { offer } => {
            let k = wallet.accept_guest_key(&offer).map_err(|e| e.to_string())?;
            println!("guest key {} accepted: {}", k.key_id, state_text(k.state));
        }
        Command::Pending => {
            let pending = wallet.pending_updates().map_err(|e| e.to_string())?;
            if pending.is_empty() {
                println!("no door updates to carry");
            }
            let name = door_namer(&wallet);
            for p in pending {
                let b = &p.batch.body;
                let count = b.updates.len() as u64;
                println!(
                    "{}: updates seq {}..={} ({count}), signed {}",
                    name(p.door_id),
                    b.first_seq,
                    b.first_seq + count.saturating_sub(1),
                    time_text(b.issued_at)
                );
            }
        }
        Command::Activity => {
            // Receipts taken before an upload may repeat records; the door's seq names each once.
            let mut records = std::collections::BTreeMap::new();
            for r in wallet.receipts().map_err(|e| e.to_string())? {
                for a in r.receipt.body.activity.iter() {
                    records.insert((r.door_id, a.seq), a.clone());
                }
            }
            let name = door_namer(&wallet);
            if records.is_empty() {
                println!("no door activity yet");
            }
            for ((door, seq), a) in records {
                println!("{:<18} #{seq:<4} {}  {}", name(door), time_text(a.time), event_text(&a.event));
            }
        }
    }
    Ok(())
}
