//! How keys, pending updates and activity are shown.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::ActivityEvent;
use keyway_wallet::key_state::{KeyState, KeyView};

pub fn state_text(state: KeyState) -> String {
    match state {
        KeyState::Active => "active".into(),
        KeyState::Upcoming { start } => format!("upcoming (from {start})"),
        KeyState::Expired { at } => format!("expired {at}"),
        KeyState::Revoked => "revoked".into(),
        KeyState::Replaced { by } => format!("replaced by {by}"),
        KeyState::NeedsSync { since } => format!("needs a sync (not revalidated since {since})"),
    }
}

/// The `keyway keys` table.
pub fn keys_table(keys: &[KeyView], door_name: impl Fn(keyway_protocol::credential::DoorId) -> String) -> String {
    let mut out = format!("{:<20} {:<8} {:<28} {:<43} {}\n", "KEY", "KIND", "DOORS", "WINDOW", "STATE");
    for k in keys {
        let kind = if k.is_guest {
            "guest"
        } else if k.resident {
            "resident"
        } else {
            "key"
        };
        let doors: Vec<String> = k.doors.doors().iter().map(|d| door_name(*d)).collect();
        let window = format!("{} → {}", k.validity.start, k.validity.expiry);
        out.push_str(&format!(
            "{:<20} {:<8} {:<28} {:<43} {}\n",
            k.key_id.to_string(),
            kind,
            doors.join(", "),
            window,
            state_text(k.state)
        ));
    }
    out
}

pub fn event_text(event: &ActivityEvent) -> String {
    match event {
        ActivityEvent::AppUnlock { key, person, guest } => {
            format!("app unlock, {}key {key} (person {})", if *guest { "guest " } else { "" }, person.0)
        }
        ActivityEvent::AppDenied { key, reason, .. } => {
            format!("app refused: {reason:?}{}", key.map(|k| format!(" (key {k})")).unwrap_or_default())
        }
        ActivityEvent::DoorcodeEntry { slot, person } => format!("doorcode, slot {slot} (person {})", person.0),
        ActivityEvent::DoorcodeDenied { reason } => format!("doorcode refused: {reason:?}"),
        ActivityEvent::KeycardEntry { person, .. } => format!("keycard, UID only (person {})", person.0),
        ActivityEvent::SecureKeycardEntry { person, .. } => format!("secure keycard (person {})", person.0),
        ActivityEvent::KeycardDenied { reason, .. } => format!("keycard refused: {reason:?}"),
        ActivityEvent::UpdateRejected { seq, reason } => format!("door update {seq} rejected: {reason:?}"),
        ActivityEvent::ClockSet { before, after } => format!("clock set from {before} to {after} by signed time"),
        ActivityEvent::DeniedRepeatedly { channel, reason, count, first } => {
            format!("{count} {channel:?} refusals of an unknown credential ({reason:?}) since {first}")
        }
        ActivityEvent::RecordsDropped { count } => format!("{count} records dropped by the door before upload"),
    }
}

pub fn time_text(t: UnixTime) -> String {
    t.to_string()
}
