//! The command line, and parsing of ids and times as a resident types them.

use clap::{Parser, Subcommand};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, KeyId};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "keyway", about = "The resident's Keyway wallet on the command line")]
pub struct Cli {
    /// Wallet directory (created on first use): wallet.db and secure/.
    #[arg(long, global = true, default_value = "keyway-wallet")]
    pub wallet: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Accepts the invite from the welcome message.
    Accept {
        /// Mission Control's address, e.g. http://127.0.0.1:8787.
        #[arg(long)]
        backend: String,
        /// The invite token from the welcome message.
        #[arg(long)]
        token: String,
    },
    /// Fetches new keys, revocations and pending door updates.
    Sync,
    /// Lists the keys on this phone.
    Keys,
    /// Unlocks a door: through the lock simulator's socket (--addr) or over Bluetooth LE (--ble).
    #[command(group = clap::ArgGroup::new("via").required(true).args(["addr", "ble"]))]
    Unlock {
        /// The door: its number or `door-N`.
        #[arg(long, value_parser = parse_door)]
        door: DoorId,
        /// The simulator's address, as `lock-sim serve` prints it.
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Over Bluetooth LE through the btleplug link (BlueZ, CoreBluetooth, WinRT): scans for
        /// a Keyway door advertising --door, connects and unlocks. The radio path cannot run on
        /// this development machine: it has no Bluetooth adapter, so this fails with "no
        /// Bluetooth adapter" there (or with the D-Bus error when BlueZ is absent).
        #[arg(long)]
        ble: bool,
        /// With --ble: how long to scan for the door, in seconds.
        #[arg(long, default_value_t = 10, requires = "ble")]
        scan_secs: u64,
        /// The ATT MTU this phone announces (23..=517).
        #[arg(long, default_value_t = 185, value_parser = clap::value_parser!(u16).range(23..=517))]
        mtu: u16,
    },
    /// The guest's side: prints a share request to hand to a resident.
    ShareRequest {
        #[arg(long)]
        name: String,
    },
    /// The resident's side: signs a guest key for a share request and prints the offer.
    Share {
        /// The key to share from (as `keyway keys` shows it, e.g. k12).
        #[arg(long, value_parser = parse_key)]
        key: KeyId,
        /// The guest's share request text (KWSR1.…).
        #[arg(long)]
        request: String,
        /// Doors, comma separated (each within the shared key's).
        #[arg(long, value_delimiter = ',', value_parser = parse_door, required = true)]
        doors: Vec<DoorId>,
        /// Start: RFC 3339, `now`, or `+30m`, `+2h`, `+3d` from now (default: now).
        #[arg(long, value_parser = parse_time, default_value = "now")]
        from: UnixTime,
        /// End, in the same forms.
        #[arg(long, value_parser = parse_time)]
        until: UnixTime,
    },
    /// The guest's side: imports a guest key offer (KWGK1.…).
    AcceptGuestKey { offer: String },
    /// Door updates this phone carries to offline doors.
    Pending,
    /// Door activity this phone brought back in receipts.
    Activity,
    /// Uploads receipts and registers guest keys shared offline.
    Upload,
}

pub fn parse_door(s: &str) -> Result<DoorId, String> {
    let n = s.trim().strip_prefix("door-").unwrap_or(s.trim());
    n.parse::<u32>().map(DoorId).map_err(|_| format!("{s:?} is not a door number (e.g. 2 or door-2)"))
}

pub fn parse_key(s: &str) -> Result<KeyId, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a key id (e.g. k12, or g1a2b for a guest key)");
    if let Some(hex) = t.strip_prefix('g') {
        let v = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
        if v & KeyId::GUEST_BIT != 0 {
            return Err(bad());
        }
        return Ok(KeyId(v | KeyId::GUEST_BIT));
    }
    let v: u64 = t.strip_prefix('k').unwrap_or(t).parse().map_err(|_| bad())?;
    if v & KeyId::GUEST_BIT != 0 {
        return Err(bad());
    }
    Ok(KeyId(v))
}

pub fn parse_time(s: &str) -> Result<UnixTime, String> {
    parse_time_at(s, keyway_api::clock::now())
}

pub fn parse_time_at(s: &str, now: UnixTime) -> Result<UnixTime, String> {
    let t = s.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rel) = t.strip_prefix('+') {
        let bad = || format!("{s:?}: use +N followed by m, h or d (e.g. +2d)");
        let (num, unit) = rel.split_at(rel.len().saturating_sub(1));
        let n: u64 = num.parse().map_err(|_| bad())?;
        let secs = match unit {
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        return n.checked_mul(secs).map(|d| now.saturating_add_secs(d)).ok_or_else(bad);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| keyway_api::clock::from_datetime(d.with_timezone(&chrono::Utc)))
        .map_err(|_| format!("{s:?} is not a time (RFC 3339 like 2026-12-24T18:00:00Z, now, or +2d)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_parse_as_shown_and_bad_input_is_named() {
        assert_eq!(parse_door("door-3"), Ok(DoorId(3)));
        assert_eq!(parse_door("3"), Ok(DoorId(3)));
        assert!(parse_door("front").unwrap_err().contains("front"));
        assert_eq!(parse_key("k12"), Ok(KeyId(12)));
        assert_eq!(parse_key("12"), Ok(KeyId(12)));
        let guest = KeyId::random_guest();
        assert_eq!(parse_key(&guest.to_string()), Ok(guest));
        assert!(parse_key("k-1").is_err());
        assert!(parse_key(&format!("{}", u64::MAX)).is_err(), "authority ids stay below 2^63");
        let now = UnixTime(1_000_000);
        assert_eq!(parse_time_at("now", now), Ok(now));
        assert_eq!(parse_time_at("+2d", now), Ok(UnixTime(1_000_000 + 2 * 86_400)));
        assert_eq!(parse_time_at("+30m", now), Ok(UnixTime(1_000_000 + 1800)));
        assert_eq!(
            parse_time_at("2026-12-24T18:00:00Z", now).map(|t| t.to_string()),
            Ok("2026-12-24T18:00:00Z".into())
        );
        assert!(parse_time_at("+2w", now).is_err());
        assert!(parse_time_at("+d", now).is_err());
        assert!(parse_time_at("tomorrow", now).is_err());
        assert!(parse_time_at("+99999999999999999d", now).is_err());
    }
}
