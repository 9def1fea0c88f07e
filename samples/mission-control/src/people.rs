//! People: who they are, how they get in, and how their state is shown to the manager.

use crate::error::{AppError, AppResult};
use crate::keys::{self, KeyRow};
use crate::validate::doors_from_json;
use keyway_api::{AccessKind, KeyStatus, KeycardInfo, KeycardKind, PeopleQuery, PersonInfo, PersonStatus};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorSet, PersonId, Validity};
use rusqlite::{OptionalExtension, Transaction, params};

#[derive(Clone, Debug)]
pub struct PersonRow {
    pub id: i64,
    pub property_id: i64,
    pub name: String,
    pub contact: String,
    pub access: AccessKind,
    pub resident: bool,
    pub may_share: bool,
    pub deleted_at: Option<u64>,
}

pub fn access_to_str(a: AccessKind) -> &'static str {
    match a {
        AccessKind::AppKey => "app_key",
        AccessKind::DailyDoorcode => "daily_doorcode",
    }
}

pub fn access_from_str(s: &str) -> AppResult<AccessKind> {
    match s {
        "app_key" => Ok(AccessKind::AppKey),
        "daily_doorcode" => Ok(AccessKind::DailyDoorcode),
        _ => Err(AppError::internal("stored access kind is damaged")),
    }
}

const PERSON_COLUMNS: &str = "id, property_id, name, contact, access, resident, may_share, deleted_at";

fn person_row(r: &rusqlite::Row) -> rusqlite::Result<RawPerson> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

type RawPerson = (i64, i64, String, String, String, bool, bool, Option<u64>);

fn from_raw(raw: RawPerson) -> AppResult<PersonRow> {
    let (id, property_id, name, contact, access, resident, may_share, deleted_at) = raw;
    Ok(PersonRow { id, property_id, name, contact, access: access_from_str(&access)?, resident, may_share, deleted_at })
}

impl PersonRow {
    pub fn person_id(&self) -> PersonId {
        PersonId(self.id as u64)
    }
}

pub fn by_id(tx: &Transaction, id: i64) -> AppResult<PersonRow> {
    let raw = tx.query_row(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = ?1"), params![id], person_row)?;
    from_raw(raw)
}

pub fn by_token_hash(tx: &Transaction, hash: &[u8]) -> AppResult<Option<PersonRow>> {
    let raw = tx
        .query_row(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE token_hash = ?1"), params![hash], person_row)
        .optional()?;
    raw.map(from_raw).transpose()
}

/// A person of this property the manager may still act on: unknown ids and ids of another
/// property answer 404; a deleted person answers 410.
pub fn live_in_property(tx: &Transaction, property_id: i64, id: u64) -> AppResult<PersonRow> {
    let person = in_property(tx, property_id, id)?;
    if person.deleted_at.is_some() {
        return Err(AppError::gone(format!("person {id} was deleted; invite them again to grant access")));
    }
    Ok(person)
}

pub fn in_property(tx: &Transaction, property_id: i64, id: u64) -> AppResult<PersonRow> {
    let id = i64::try_from(id).map_err(|_| AppError::not_found("unknown person"))?;
    let raw = tx
        .query_row(
            &format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = ?1 AND property_id = ?2"),
            params![id, property_id],
            person_row,
        )
        .optional()?;
    raw.map(from_raw).transpose()?.ok_or_else(|| AppError::not_found(format!("unknown person {id}")))
}

pub fn has_device(tx: &Transaction, person_id: i64) -> AppResult<bool> {
    Ok(tx.query_row("SELECT EXISTS (SELECT 1 FROM devices WHERE person_id = ?1)", params![person_id], |r| r.get(0))?)
}

// ---- keycards -----------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct KeycardRow {
    pub id: i64,
    pub card: Vec<u8>,
    pub doors: DoorSet,
    pub validity: Validity,
    pub removed_at: Option<u64>,
    pub kind: KeycardKind,
}

impl KeycardRow {
    pub fn info(&self) -> KeycardInfo {
        KeycardInfo {
            card: hex::encode(&self.card),
            kind: self.kind,
            weaker: self.kind.weaker(),
            doors: self.doors.doors().to_vec(),
            validity: self.validity,
            removed_at: self.removed_at.map(UnixTime),
        }
    }
}

pub fn keycards_of_person(tx: &Transaction, person_id: i64) -> AppResult<Vec<KeycardRow>> {
    let mut stmt = tx.prepare(
        "SELECT id, card, doors, start, expiry, removed_at, kind FROM keycards WHERE person_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![person_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u64>(3)?,
                r.get::<_, u64>(4)?,
                r.get::<_, Option<u64>>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(id, card, doors, start, expiry, removed_at, kind)| {
            Ok(KeycardRow {
                id,
                card,
                doors: doors_from_json(&doors)?,
                validity: Validity::new(UnixTime(start), UnixTime(expiry))
                    .ok_or_else(|| AppError::internal("stored window is damaged"))?,
                removed_at,
                kind: crate::cards::kind_from_name(&kind)?,
            })
        })
        .collect()
}

// ---- doorcode slots -----------------------------------------------------------------------

/// The (door, slot) pairs a doorcode key holds.
pub fn slots_of_key(tx: &Transaction, key_id: i64) -> AppResult<Vec<(DoorId, u32)>> {
    let mut stmt = tx.prepare("SELECT door_id, slot FROM doorcode_slots WHERE key_id = ?1 ORDER BY door_id")?;
    let rows =
        stmt.query_map(params![key_id], |r| Ok((DoorId(r.get(0)?), r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Gives a doorcode key the next free slot at each of its doors.
pub fn assign_slots(tx: &Transaction, key: &KeyRow) -> AppResult<Vec<(DoorId, u32)>> {
    let mut out = Vec::new();
    for door in key.doors.doors() {
        let slot: u32 = tx.query_row(
            "UPDATE doors SET next_slot = next_slot + 1 WHERE id = ?1 RETURNING next_slot - 1",
            params![door.0],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO doorcode_slots (door_id, slot, key_id) VALUES (?1, ?2, ?3)",
            params![door.0, slot, key.id],
        )?;
        out.push((*door, slot));
    }
    Ok(out)
}

// ---- what the manager sees ----------------------------------------------------------------

pub fn info(tx: &Transaction, person: &PersonRow, now: UnixTime) -> AppResult<PersonInfo> {
    let keys = keys::keys_of_person(tx, person.id)?;
    let guests = keys::guests_of_person(tx, person.id)?;
    let keycards = keycards_of_person(tx, person.id)?;
    let statuses: Vec<KeyStatus> = keys
        .iter()
        .map(|k| k.status(now))
        .chain(keycards.iter().filter(|c| c.removed_at.is_none()).map(|c| {
            if now < c.validity.start {
                KeyStatus::Upcoming
            } else if now < c.validity.expiry {
                KeyStatus::Active
            } else {
                KeyStatus::Expired
            }
        }))
        .collect();
    let status = if statuses.contains(&KeyStatus::Active) {
        PersonStatus::Active
    } else if statuses.contains(&KeyStatus::Upcoming) {
        PersonStatus::Upcoming
    } else {
        PersonStatus::Expired
    };
    let key_infos = keys
        .iter()
        .map(|k| {
            let mine = guests.iter().filter(|g| g.parent == k.key_id()).map(|g| g.info(now)).collect();
            k.info(mine, now)
        })
        .collect();
    Ok(PersonInfo {
        person_id: person.person_id(),
        name: person.name.clone(),
        contact: person.contact.clone(),
        access: person.access,
        resident: person.resident,
        may_share: person.may_share,
        status,
        accepted: has_device(tx, person.id)?,
        keys: key_infos,
        keycards: keycards.iter().map(KeycardRow::info).collect(),
    })
}

/// The people list: deleted people never; people with nothing active or upcoming only with
/// `show_expired`.
pub fn list(tx: &Transaction, property_id: i64, show_expired: bool, now: UnixTime) -> AppResult<Vec<PersonInfo>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE property_id = ?1 AND deleted_at IS NULL ORDER BY id"
    ))?;
    let raws = stmt.query_map(params![property_id], person_row)?.collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for raw in raws {
        let person = from_raw(raw)?;
        let info = info(tx, &person, now)?;
        if show_expired || info.status != PersonStatus::Expired {
            out.push(info);
        }
    }
    Ok(out)
}

/// Most people one page of the people list holds.
pub const MAX_PER_PAGE: u32 = 200;

/// One page of the people list, for a property of thousands.
#[derive(Clone, Debug)]
pub struct PeoplePage {
    pub people: Vec<PersonInfo>,
    /// How many people match the search (all pages).
    pub total: u64,
    /// The page shown, from 1.
    pub page: u32,
}

/// The people list as [`list`] has it (deleted people never; people with nothing active or
/// upcoming only with `show_expired`), narrowed to names or contacts containing `search`
/// (ASCII case-insensitive; empty: everyone), sorted by name, one page of `per_page` (1 to
/// [`MAX_PER_PAGE`]). The filter and the paging run in SQL, so a page costs the same with ten
/// people or ten thousand; only the page's people are read in full.
pub fn search(
    tx: &Transaction,
    property_id: i64,
    search: &str,
    show_expired: bool,
    page: u32,
    per_page: u32,
    now: UnixTime,
) -> AppResult<PeoplePage> {
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(AppError::bad_request(format!("per_page must be from 1 to {MAX_PER_PAGE}")));
    }
    let page = page.max(1);
    let needle = search.trim().to_ascii_lowercase();
    if needle.len() > 200 {
        return Err(AppError::bad_request("q: at most 200 characters"));
    }
    // The same rule as `info`'s status: a key not revoked and not yet expired is active or
    // upcoming, as is a keycard not removed and not yet expired.
    const FILTER: &str = "p.property_id = ?1 AND p.deleted_at IS NULL
         AND (?2 = '' OR instr(lower(p.name), ?2) > 0 OR instr(lower(p.contact), ?2) > 0)
         AND (?3 OR EXISTS (SELECT 1 FROM keys k WHERE k.person_id = p.id AND k.revoked_at IS NULL AND k.expiry > ?4)
                 OR EXISTS (SELECT 1 FROM keycards c WHERE c.person_id = p.id AND c.removed_at IS NULL AND c.expiry > ?4))";
    let total: u64 = tx.query_row(
        &format!("SELECT count(*) FROM people p WHERE {FILTER}"),
        params![property_id, needle, show_expired, now.0],
        |r| r.get(0),
    )?;
    let offset = u64::from(page - 1) * u64::from(per_page);
    let mut stmt = tx.prepare(&format!(
        "SELECT {} FROM people p WHERE {FILTER} ORDER BY p.name COLLATE NOCASE, p.id LIMIT ?5 OFFSET ?6",
        PERSON_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
    ))?;
    let raws = stmt
        .query_map(params![property_id, needle, show_expired, now.0, per_page, offset as i64], person_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let people = raws.into_iter().map(|raw| info(tx, &from_raw(raw)?, now)).collect::<AppResult<Vec<_>>>()?;
    Ok(PeoplePage { people, total, page })
}

/// Every person the property ever had, deleted ones too (id, name, deleted): what activity
/// may name, so a filter can pick a deleted person's past activity.
pub fn names(tx: &Transaction, property_id: i64) -> AppResult<Vec<(u64, String, bool)>> {
    let mut stmt = tx.prepare(
        "SELECT id, name, deleted_at IS NOT NULL FROM people WHERE property_id = ?1 ORDER BY name COLLATE NOCASE, id",
    )?;
    let rows = stmt.query_map(params![property_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// `GET /v1/people`: the whole list ([`list`]) unless the query searches or pages ([`search`]).
pub fn list_query(tx: &Transaction, property_id: i64, q: &PeopleQuery, now: UnixTime) -> AppResult<Vec<PersonInfo>> {
    if q.q.is_none() && q.page.is_none() && q.per_page.is_none() {
        return list(tx, property_id, q.show_expired, now);
    }
    let needle = q.q.as_deref().unwrap_or("");
    Ok(search(tx, property_id, needle, q.show_expired, q.page.unwrap_or(1), q.per_page.unwrap_or(50), now)?.people)
}
