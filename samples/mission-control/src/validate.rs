//! Checks on manager input that the database cannot make: text, windows, door sets.

use crate::error::{AppError, AppResult};
use keyway_api::{Expiry, NO_EXPIRY};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::ids::MAX_DOORS_PER_KEY;
use keyway_protocol::credential::{DoorId, DoorSet, Validity};
use rusqlite::{Transaction, params};

/// Non-empty after trimming, at most `max` characters, and free of control characters (NUL,
/// CR/LF, ESC, DEL, C1) and of invisible formatting characters (zero-width, bidi embeddings and
/// overrides, BOM): what a manager sees in the console, a resident in a welcome message or an
/// auditor in an export is what was stored.
pub fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::bad_request(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(AppError::bad_request(format!("{field} is longer than {max} characters")));
    }
    if let Some(c) = v.chars().find(|c| hidden(*c)) {
        return Err(AppError::bad_request(format!("{field} contains the invisible character U+{:04X}", u32::from(c))));
    }
    Ok(v.to_string())
}

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Where a welcome message goes: an email address (one `@`, something on both sides, no
/// spaces) or a phone number (an optional `+`, 7 to 15 digits, spaces, dashes, dots and
/// brackets between them).
pub fn contact(value: &str) -> AppResult<String> {
    let v = text("contact", value, 200)?;
    let email = match v.split('@').collect::<Vec<_>>()[..] {
        [local, domain] => !local.is_empty() && !domain.is_empty() && !v.contains(char::is_whitespace),
        _ => false,
    };
    let number = v.strip_prefix('+').unwrap_or(&v);
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let phone = number.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        && (7..=15).contains(&digits);
    if email || phone {
        Ok(v)
    } else {
        Err(AppError::bad_request("contact must be an email address or a phone number"))
    }
}

/// A new grant's window: start defaults to now; the expiry is always stated (`"never"` is
/// stored as [`NO_EXPIRY`]), lies after the start and in the future.
pub fn window(start: Option<UnixTime>, expiry: Expiry, now: UnixTime) -> AppResult<Validity> {
    let start = start.unwrap_or(now);
    let expiry = expiry.time();
    if expiry > NO_EXPIRY || start >= NO_EXPIRY {
        return Err(AppError::bad_request(format!("times must lie before {NO_EXPIRY}")));
    }
    let validity = Validity::new(start, expiry)
        .ok_or_else(|| AppError::bad_request(format!("expiry {expiry} is not after start {start}")))?;
    if expiry <= now {
        return Err(AppError::bad_request(format!("expiry {expiry} has already passed")));
    }
    Ok(validity)
}

/// A non-empty set of doors that all belong to `property_id`.
pub fn doors(tx: &Transaction, property_id: i64, doors: &[DoorId]) -> AppResult<DoorSet> {
    if doors.is_empty() {
        return Err(AppError::bad_request("a key needs at least one door"));
    }
    let set = DoorSet::new(doors.to_vec())
        .ok_or_else(|| AppError::bad_request(format!("a key opens at most {MAX_DOORS_PER_KEY} doors")))?;
    for door in set.doors() {
        let owner: Option<i64> = rusqlite::OptionalExtension::optional(tx.query_row(
            "SELECT property_id FROM doors WHERE id = ?1",
            params![door.0],
            |r| r.get(0),
        ))?;
        if owner != Some(property_id) {
            return Err(AppError::bad_request(format!("{door} is not a door of this property")));
        }
    }
    Ok(set)
}

pub fn doors_to_json(set: &DoorSet) -> String {
    serde_json::to_string(&set.doors().iter().map(|d| d.0).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

pub fn doors_from_json(text: &str) -> AppResult<DoorSet> {
    let ids: Vec<u32> = serde_json::from_str(text).map_err(|_| AppError::internal("stored door set is damaged"))?;
    DoorSet::new(ids.into_iter().map(DoorId).collect()).ok_or_else(|| AppError::internal("stored door set is damaged"))
}
