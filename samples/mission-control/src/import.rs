//! Importing people from a CSV rent roll (`POST /v1/people/import`, the console's Import page).
//!
//! One row is one invite: each row is read into an [`InviteRequest`], checked column by column
//! with the checks the invite itself makes ([`validate`]), and then goes through
//! [`access::invite`], the function `POST /v1/invites` calls, so keys, door updates, welcome
//! messages and the `person.invited` webhook are exactly an invite's. Every row runs inside its
//! own savepoint of the request's one transaction: a refused row leaves nothing behind, the
//! accepted ones commit together. With `all_or_nothing`, one refused row rolls back every row.
//!
//! The file: UTF-8, comma-separated, a header row naming the columns (any order, any case):
//!
//! | column | |
//! |---|---|
//! | `name` | required |
//! | `contact` | required: email address or phone number (where the welcome goes) |
//! | `doors` | required: door names or ids, separated by `;` or `|` (a unit's door and the lobby) |
//! | `start` | optional: when access starts (default now) |
//! | `expiry` | required: when access ends, or `never` |
//! | `resident` | optional: yes/no, true/false, 1/0 (default no) |
//! | `access` | optional: `app_key` (default) or `daily_doorcode` |
//! | `may_share` | optional: yes/no (default no) |
//!
//! Times are RFC 3339 (`2027-01-31T09:00:00Z`), a date (`2027-01-31`: midnight) or a local date
//! and time (`2027-01-31 09:00`), both read in the property's UTC offset, or seconds since 1970.

use crate::access;
use crate::auth::Manager;
use crate::error::{AppError, AppResult};
use crate::validate;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use keyway_api::{AccessKind, Expiry, InviteRequest, KeyGrant, PersonInfo};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::DoorId;
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

/// Largest CSV body read (413 above).
pub const MAX_CSV_BYTES: usize = 1024 * 1024;
/// Most data rows in one import.
pub const MAX_ROWS: usize = 5_000;

const COLUMNS: [&str; 8] = ["name", "contact", "doors", "start", "expiry", "resident", "access", "may_share"];

/// `POST /v1/people/import?all_or_nothing=`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Refuse every row when any row is refused (nothing is imported). Default false: the
    /// rows that pass are imported, the others reported.
    #[serde(default)]
    pub all_or_nothing: bool,
}

/// What an import did, row by row. Row numbers are the file's line numbers (the header is
/// line 1).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    /// True when the accepted rows were stored; false when `all_or_nothing` refused them all
    /// (or there was nothing to store).
    pub committed: bool,
    /// The people invited (empty when nothing was committed).
    pub imported: Vec<ImportedRow>,
    pub refused: Vec<RefusedRow>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportedRow {
    pub row: u64,
    pub person: PersonInfo,
    pub welcome_message_id: u64,
}

/// Why a row was refused: the column concerned when one is (`null` for the row as a whole).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefusedRow {
    pub row: u64,
    pub column: Option<String>,
    pub message: String,
}

/// Imports `csv` as the manager's invites (Key Management, as inviting needs).
pub fn import(
    tx: &Transaction,
    manager: &Manager,
    csv: &[u8],
    all_or_nothing: bool,
    now: UnixTime,
) -> AppResult<ImportReport> {
    manager.require_key_management()?;
    let offset = crate::settings::get(tx, manager)?.utc_offset_minutes;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).trim(csv::Trim::All).from_reader(csv);
    let headers = reader.headers().map_err(|e| AppError::bad_request(format!("CSV header: {}", csv_message(&e))))?;
    let mut index = [None; COLUMNS.len()];
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim_start_matches('\u{FEFF}').trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let Some(c) = COLUMNS.iter().position(|c| *c == h) else {
            return Err(AppError::bad_request(format!(
                "CSV header: unknown column {h:?} (the columns are {})",
                COLUMNS.join(", ")
            )));
        };
        if index[c].replace(i).is_some() {
            return Err(AppError::bad_request(format!("CSV header: column {h:?} appears twice")));
        }
    }
    for required in ["name", "contact", "doors", "expiry"] {
        if index[col(required)].is_none() {
            return Err(AppError::bad_request(format!("CSV header: the column {required:?} is missing")));
        }
    }

    if all_or_nothing {
        tx.execute_batch("SAVEPOINT import_all")?;
    }
    let mut report = ImportReport { rows: 0, committed: false, imported: Vec::new(), refused: Vec::new() };
    for record in reader.records() {
        let (row, record) = match record {
            Ok(r) => (r.position().map_or(0, |p| p.line()), r),
            Err(e) => {
                let row = e.position().map_or(0, |p| p.line());
                report.rows += 1;
                report.refused.push(RefusedRow { row, column: None, message: csv_message(&e) });
                // A damaged record (bad UTF-8, wrong field count) is reported; reading goes on.
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        report.rows += 1;
        if report.rows > MAX_ROWS {
            return Err(AppError::payload_too_large(format!("an import holds at most {MAX_ROWS} rows")));
        }
        let values: [&str; COLUMNS.len()] = std::array::from_fn(|c| index[c].and_then(|i| record.get(i)).unwrap_or(""));
        let req = match read_row(tx, manager.property_id, &values, offset, now) {
            Ok(req) => req,
            Err((column, e)) => {
                report.refused.push(RefusedRow { row, column: Some(column.into()), message: e.body.message });
                continue;
            }
        };
        tx.execute_batch("SAVEPOINT import_row")?;
        match access::invite(tx, manager, req, now) {
            Ok((answer, _token)) => {
                tx.execute_batch("RELEASE import_row")?;
                report.imported.push(ImportedRow {
                    row,
                    person: answer.person,
                    welcome_message_id: answer.welcome_message_id,
                });
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO import_row; RELEASE import_row")?;
                if e.status.is_server_error() {
                    return Err(e);
                }
                report.refused.push(RefusedRow { row, column: None, message: e.body.message });
            }
        }
    }
    if all_or_nothing {
        if report.refused.is_empty() {
            tx.execute_batch("RELEASE import_all")?;
        } else {
            tx.execute_batch("ROLLBACK TO import_all; RELEASE import_all")?;
            report.imported.clear();
        }
    }
    report.committed = !report.imported.is_empty();
    Ok(report)
}

fn col(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).expect("a known column")
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields, the header {expected_len}")
        }
        _ => format!("unreadable CSV: {e}"),
    }
}

type RowError = (&'static str, AppError);

/// One row as an invite, each value checked as the invite checks it, so that a refusal names
/// its column.
fn read_row(
    tx: &Transaction,
    property_id: i64,
    values: &[&str; COLUMNS.len()],
    offset: i16,
    now: UnixTime,
) -> Result<InviteRequest, RowError> {
    let field = |name: &str| values[col(name)];
    let at = |column: &'static str| move |e: AppError| (column, e);
    let name = validate::text("name", field("name"), 200).map_err(at("name"))?;
    let contact = validate::contact(field("contact")).map_err(at("contact"))?;
    let doors = doors(tx, property_id, field("doors")).map_err(at("doors"))?;
    validate::doors(tx, property_id, &doors).map_err(at("doors"))?;
    let start = match field("start") {
        "" => None,
        text => Some(time("start", text, offset).map_err(at("start"))?),
    };
    let expiry = match field("expiry") {
        "" => return Err(("expiry", AppError::bad_request("expiry is required: a date, or \"never\""))),
        text if text.eq_ignore_ascii_case("never") => Expiry::Never,
        text => Expiry::At(time("expiry", text, offset).map_err(at("expiry"))?),
    };
    validate::window(start, expiry, now).map_err(at(if start.is_some_and(|s| s >= expiry.time()) {
        "start"
    } else {
        "expiry"
    }))?;
    let access = match field("access").to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
        "" | "app_key" | "app" | "latch_app" => AccessKind::AppKey,
        "daily_doorcode" | "doorcode" => AccessKind::DailyDoorcode,
        other => {
            return Err((
                "access",
                AppError::bad_request(format!("access: {other:?} is not app_key or daily_doorcode")),
            ));
        }
    };
    let resident = yes_no("resident", field("resident")).map_err(at("resident"))?;
    let may_share = yes_no("may_share", field("may_share")).map_err(at("may_share"))?;
    if may_share && access == AccessKind::DailyDoorcode {
        return Err(("may_share", AppError::bad_request("a daily doorcode cannot be shared")));
    }
    Ok(InviteRequest { name, contact, access, keys: vec![KeyGrant { doors, start, expiry }], resident, may_share })
}

/// Door names (case-insensitive) or ids of the property, separated by `;` or `|`. An id is
/// passed on as it is: [`validate::doors`] refuses one of another property.
fn doors(tx: &Transaction, property_id: i64, text: &str) -> AppResult<Vec<DoorId>> {
    let mut out = Vec::new();
    for part in text.split([';', '|']).map(str::trim).filter(|p| !p.is_empty()) {
        if let Ok(id) = part.trim_start_matches('#').parse::<u32>() {
            out.push(DoorId(id));
            continue;
        }
        let mut stmt =
            tx.prepare_cached("SELECT id FROM doors WHERE property_id = ?1 AND name = ?2 COLLATE NOCASE LIMIT 2")?;
        let ids = stmt.query_map(params![property_id, part], |r| r.get::<_, u32>(0))?.collect::<Result<Vec<_>, _>>()?;
        match ids[..] {
            [id] => out.push(DoorId(id)),
            [] => return Err(AppError::bad_request(format!("doors: this property has no door named {part:?}"))),
            _ => return Err(AppError::bad_request(format!("doors: several doors are named {part:?}: use their ids"))),
        }
    }
    if out.is_empty() {
        return Err(AppError::bad_request("doors: a key needs at least one door"));
    }
    Ok(out)
}

fn yes_no(column: &str, text: &str) -> AppResult<bool> {
    match text.to_ascii_lowercase().as_str() {
        "" | "no" | "n" | "false" | "0" => Ok(false),
        "yes" | "y" | "true" | "1" => Ok(true),
        other => Err(AppError::bad_request(format!("{column}: {other:?} is not yes or no"))),
    }
}

/// RFC 3339, seconds since 1970, or a date / date and time in the property's offset.
fn time(column: &str, text: &str, offset: i16) -> AppResult<UnixTime> {
    let bad = || {
        AppError::bad_request(format!(
            "{column}: {text:?} is not a time (2027-01-31, 2027-01-31 09:00 or 2027-01-31T09:00:00Z)"
        ))
    };
    let secs = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>().map_err(|_| bad())?
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        t.timestamp()
    } else {
        let naive = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| bad())?;
        naive.and_utc().timestamp() - i64::from(offset) * 60
    };
    u64::try_from(secs)
        .map(UnixTime)
        .map_err(|_| AppError::bad_request(format!("{column}: dates before 1970 are not possible")))
}

/// A `text/csv` body of at most [`MAX_CSV_BYTES`] (415-free: a wrong type is a 400 naming the
/// expected one; too large is 413), as JSON [`AppError`]s.
pub struct CsvBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for CsvBody {
    type Rejection = AppError;
    async fn from_request(req: Request, _: &S) -> Result<Self, AppError> {
        let essence = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        if essence != "text/csv" {
            return Err(AppError::bad_request("expected a CSV body with Content-Type: text/csv"));
        }
        axum::body::to_bytes(req.into_body(), MAX_CSV_BYTES)
            .await
            .map(CsvBody)
            .map_err(|_| AppError::payload_too_large(format!("a CSV import is at most {MAX_CSV_BYTES} bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        assert_eq!(time("start", "2027-01-31T09:00:00Z", 0).unwrap(), UnixTime(1_801_386_000));
        assert_eq!(time("start", "2027-01-31 10:00", 60).unwrap(), UnixTime(1_801_386_000));
        assert_eq!(time("start", "1801386000", 0).unwrap(), UnixTime(1_801_386_000));
        assert_eq!(time("start", "2027-01-31", 0).unwrap(), UnixTime(1_801_353_600));
        assert!(time("start", "31/01/2027", 0).unwrap_err().body.message.starts_with("start:"));
    }

    #[test]
    fn yes_and_no() {
        assert!(yes_no("resident", "Yes").unwrap());
        assert!(!yes_no("resident", "").unwrap());
        assert!(yes_no("resident", "maybe").is_err());
    }
}
