//! What the manager reads: activity history and the outbox of welcome messages.

use crate::auth::Manager;
use crate::error::{AppError, AppResult};
use crate::people;
use keyway_api::{ActivityEntry, ActivityQuery, OutboxMessage};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DoorId, PersonId};
use rusqlite::{Transaction, params};

/// The activity of the property's doors. A record names a person only if that person belongs
/// to the door's property: a door signs whatever ids it was told, and another property's
/// people are none of this manager's business.
pub fn activity(tx: &Transaction, property_id: i64, q: &ActivityQuery) -> AppResult<Vec<ActivityEntry>> {
    let mut stmt = tx.prepare(
        "SELECT a.door_id, d.name, a.seq, a.time, a.person_id, p.name, a.event, a.received_at
         FROM activity a JOIN doors d ON d.id = a.door_id
         LEFT JOIN people p ON p.id = a.person_id AND p.property_id = d.property_id
         WHERE d.property_id = ?1 AND (?2 IS NULL OR a.door_id = ?2) AND (?3 IS NULL OR a.person_id = ?3)
         ORDER BY a.time, a.door_id, a.seq",
    )?;
    let person = q.person_id.map(|p| i64::try_from(p.0).unwrap_or(-1));
    let rows = stmt
        .query_map(params![property_id, q.door_id.map(|d| d.0), person], |r| {
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
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(door, door_name, seq, time, person_id, person_name, event, received)| {
            let event: ActivityEvent =
                serde_json::from_str(&event).map_err(|_| AppError::internal("stored activity is damaged"))?;
            Ok(ActivityEntry {
                door_id: DoorId(door),
                door_name,
                seq,
                time: UnixTime(time),
                person_id: person_id.map(|p| PersonId(p as u64)),
                person_name,
                event,
                received_at: UnixTime(received),
            })
        })
        .collect()
}

/// The welcome messages: they carry live tokens, so only a manager with Key Management (who
/// could invite anyone anyway) reads them. A token is kept only until it is used or withdrawn,
/// see [`forget_token`].
pub fn outbox(tx: &Transaction, manager: &Manager) -> AppResult<Vec<OutboxMessage>> {
    manager.require_key_management()?;
    let property_id = manager.property_id;
    let mut stmt = tx.prepare(
        "SELECT id, person_id, recipient, subject, body, token, access, created_at FROM outbox WHERE property_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![property_id], |r| {
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
        .collect()
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
