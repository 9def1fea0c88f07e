//! What the manager reads: activity history and the outbox of welcome messages.

use crate::auth::Manager;
use crate::error::{AppError, AppResult};
use crate::paging::Page;
use crate::people;
use keyway_api::{ActivityEntry, ActivityQuery, OutboxMessage};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DoorId, KeyId, PersonId};
use rusqlite::{Transaction, params};

/// The activity of the property's doors. A record names a person only if that person belongs
/// to the door's property: a door signs whatever ids it was told, and another property's
/// people are none of this manager's business.
pub fn activity(tx: &Transaction, property_id: i64, q: &ActivityQuery) -> AppResult<Vec<ActivityEntry>> {
    activity_page(tx, property_id, q, &Page::ALL).map(|(rows, _)| rows)
}

/// A page of [`activity`] (keyset on time, door, seq); the next page's cursor.
pub fn activity_page(
    tx: &Transaction,
    property_id: i64,
    q: &ActivityQuery,
    page: &Page,
) -> AppResult<(Vec<ActivityEntry>, Option<String>)> {
    let after = page.after::<3>()?;
    let mut stmt = tx.prepare(
        "SELECT a.door_id, d.name, a.seq, a.time, a.person_id, p.name, a.event, a.received_at
         FROM activity a JOIN doors d ON d.id = a.door_id
         LEFT JOIN people p ON p.id = a.person_id AND p.property_id = d.property_id
         WHERE d.property_id = ?1 AND (?2 IS NULL OR a.door_id = ?2) AND (?3 IS NULL OR a.person_id = ?3)
           AND (?4 IS NULL OR (a.time, a.door_id, a.seq) > (?4, ?5, ?6))
         ORDER BY a.time, a.door_id, a.seq LIMIT ?7",
    )?;
    let person = q.person_id.map(|p| i64::try_from(p.0).unwrap_or(-1));
    let rows = stmt
        .query_map(
            params![
                property_id,
                q.door_id.map(|d| d.0),
                person,
                after.map(|a| a[0]),
                after.map(|a| a[1]),
                after.map(|a| a[2]),
                page.sql_limit()
            ],
            |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                    r.get::<_, u64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, u64>(7)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let (rows, next) = page.finish(rows, |r| format!("{}.{}.{}", r.3, r.0, r.2));
    rows.into_iter()
        .map(|(door, door_name, seq, time, person_id, person_name, event, received)| {
            let event: ActivityEvent =
                serde_json::from_str(&event).map_err(|_| AppError::internal("stored activity is damaged"))?;
            let guest = guest_of(&event);
            let guest_label = match (guest, person_id) {
                (Some(key), Some(person)) => guest_label(tx, property_id, key, person)?,
                _ => None,
            };
            let who = keyway_api::activity_who(person_name.as_deref(), guest.is_some(), guest_label.as_deref());
            Ok(ActivityEntry {
                door_id: DoorId(door),
                door_name,
                seq,
                time: UnixTime(time),
                person_id: person_id.map(|p| PersonId(p as u64)),
                person_name,
                guest_label,
                who,
                event,
                received_at: UnixTime(received),
            })
        })
        .collect::<AppResult<Vec<_>>>()
        .map(|rows| (rows, next))
}

/// The guest key a record is about: a guest's unlock, or a refusal of a guest key.
fn guest_of(event: &ActivityEvent) -> Option<KeyId> {
    match event {
        ActivityEvent::AppUnlock { key, guest: true, .. } => Some(*key),
        ActivityEvent::AppDenied { key: Some(key), .. } if key.is_guest_id() => Some(*key),
        _ => None,
    }
}

/// The name the host registered the guest key `key` under (guest key ids are unique only under
/// their parent key: the host's, `person`'s, newest registration of it).
fn guest_label(tx: &Transaction, property_id: i64, key: KeyId, person: i64) -> AppResult<Option<String>> {
    use rusqlite::OptionalExtension;
    let label = tx
        .prepare_cached(
            "SELECT label FROM guest_keys WHERE property_id = ?1 AND id = ?2 AND person_id = ?3
             ORDER BY row_id DESC LIMIT 1",
        )?
        .query_row(params![property_id, key.0 as i64, person], |r| r.get::<_, Option<String>>(0))
        .optional()?;
    Ok(label.flatten())
}

/// The welcome messages: they carry live tokens, so only a manager with Key Management (who
/// could invite anyone anyway) reads them. A token is kept only until it is used or withdrawn,
/// see [`forget_token`].
pub fn outbox(tx: &Transaction, manager: &Manager) -> AppResult<Vec<OutboxMessage>> {
    outbox_page(tx, manager, &Page::ALL).map(|(rows, _)| rows)
}

/// A page of [`outbox`] (keyset on the message id); the next page's cursor.
pub fn outbox_page(
    tx: &Transaction,
    manager: &Manager,
    page: &Page,
) -> AppResult<(Vec<OutboxMessage>, Option<String>)> {
    manager.require_key_management()?;
    let property_id = manager.property_id;
    let after = page.after::<1>()?.map(|a| a[0]);
    let mut stmt = tx.prepare(
        "SELECT id, person_id, recipient, subject, body, token, access, created_at FROM outbox
         WHERE property_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![property_id, after, page.sql_limit()], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, u64>(7)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (rows, next) = page.finish(rows, |r| r.0.to_string());
    rows.into_iter()
        .map(|(id, person, to, subject, body, token, access, created)| {
            Ok(OutboxMessage {
                message_id: id,
                person_id: PersonId(person),
                to,
                subject,
                body,
                token,
                access: people::access_from_str(&access)?,
                created_at: UnixTime(created),
            })
        })
        .collect::<AppResult<Vec<_>>>()
        .map(|rows| (rows, next))
}

/// Why a welcome message's token is no longer shown.
#[derive(Clone, Copy, Debug)]
pub enum Forget {
    /// The invite was accepted, or the doorcode holder looked up their codes.
    Used,
    /// The person was deleted.
    Withdrawn,
}

/// Erases the token from the person's welcome messages (the field and the body): once used or
/// withdrawn it is nobody's business, and the database keeps no live token in clear.
pub fn forget_token(tx: &Transaction, person_id: i64, why: Forget) -> AppResult<()> {
    let note = match why {
        Forget::Used => "[this code was used and is no longer shown]",
        Forget::Withdrawn => "[this code was withdrawn]",
    };
    tx.execute(
        "UPDATE outbox SET body = replace(body, token, ?2), token = '' WHERE person_id = ?1 AND token != ''",
        params![person_id, note],
    )?;
    Ok(())
}
