//! A door found ahead of its log: the database was restored from an older backup, so it lost
//! the updates the door applied since (and the state they carried), and any update written
//! after the restore under a seq the door had already used was skipped by the door.
//!
//! [`door_ahead`] flags the door diverged, marks those skipped updates (they were never
//! applied: their tasks must not read "delivered"), and appends above the door's seq their
//! operations again followed by everything the door should hold now ([`live_state`]). The
//! door's tables are idempotent under these operations: revoking again, removing what is
//! absent or adding a slot or card again changes nothing.

use crate::error::{AppError, AppResult};
use crate::updates::UpdatePlan;
use crate::validate::doors_from_json;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorOp, KeyId, PersonId, Validity};
use rusqlite::{Transaction, params};

/// What a skipped update's task says.
pub const SKIPPED: &str = "skipped: the door was ahead of this log (restored from a backup); queued again";

/// Handles a door that has shown `door_seq` above its log's head (see the module docs).
pub fn door_ahead(tx: &Transaction, door: DoorId, door_seq: u64, now: UnixTime) -> AppResult<()> {
    let (property, head): (i64, u64) =
        tx.query_row("SELECT property_id, log_head FROM doors WHERE id = ?1", params![door.0], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    if door_seq <= head {
        return Ok(());
    }
    tx.execute("UPDATE doors SET diverged_at = COALESCE(diverged_at, ?1) WHERE id = ?2", params![now.0, door.0])?;
    let mut plan = UpdatePlan::default();
    let mut stmt = tx.prepare(
        "SELECT update_bytes FROM door_updates WHERE door_id = ?1 AND delivered_at IS NULL AND rejected IS NULL
         ORDER BY seq",
    )?;
    let skipped = stmt.query_map(params![door.0], |r| r.get::<_, Vec<u8>>(0))?.collect::<Result<Vec<_>, _>>()?;
    for bytes in skipped {
        for op in crate::updates::decode_update(&bytes)?.ops.into_vec() {
            plan.add(door, op);
        }
    }
    tx.execute(
        "UPDATE door_updates SET rejected = ?1 WHERE door_id = ?2 AND delivered_at IS NULL AND rejected IS NULL",
        params![SKIPPED, door.0],
    )?;
    queue_live_state(tx, plan, property, door, now)
}

/// A door reported a clock ahead of Mission Control's: it may have pruned revocations whose
/// `until` it believed past. Queues what it should hold again (idempotent at the door).
pub fn clock_was_ahead(tx: &Transaction, property: i64, door: DoorId, now: UnixTime) -> AppResult<()> {
    queue_live_state(tx, UpdatePlan::default(), property, door, now)
}

/// Commits `plan` followed by what `door` should hold now.
fn queue_live_state(
    tx: &Transaction,
    mut plan: UpdatePlan,
    property: i64,
    door: DoorId,
    now: UnixTime,
) -> AppResult<()> {
    for op in live_state(tx, property, door, now)? {
        plan.add(door, op);
    }
    plan.commit(tx, now)?;
    Ok(())
}

/// The operations that bring `door` to what Mission Control knows it should hold at `now`:
/// revocations of keys, guest keys and deleted people that could still open it, every live
/// doorcode slot and keycard, and removals of slots and cards that have ended.
pub fn live_state(tx: &Transaction, property_id: i64, door: DoorId, now: UnixTime) -> AppResult<Vec<DoorOp>> {
    let mut ops = Vec::new();
    revoked_keys(tx, property_id, door, now, &mut ops)?;
    deleted_people(tx, property_id, door, now, &mut ops)?;
    slots(tx, door, now, &mut ops)?;
    cards(tx, property_id, door, now, &mut ops)?;
    Ok(ops)
}

fn opens(doors_json: &str, door: DoorId) -> AppResult<bool> {
    Ok(doors_from_json(doors_json)?.contains(door))
}

fn revoked_keys(tx: &Transaction, property: i64, door: DoorId, now: UnixTime, ops: &mut Vec<DoorOp>) -> AppResult<()> {
    let mut stmt = tx.prepare(
        "SELECT k.id, k.doors, MIN(k.expiry, k.certified_until) AS until FROM keys k JOIN people p ON p.id = k.person_id
         WHERE p.property_id = ?1 AND k.revoked_at IS NOT NULL AND k.certified_until IS NOT NULL AND until > ?2
         UNION ALL
         SELECT g.id, g.doors, g.expiry FROM guest_keys g
         WHERE g.property_id = ?1 AND g.revoked_at IS NOT NULL AND g.expiry > ?2",
    )?;
    let rows = stmt
        .query_map(params![property, now.0 as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, doors, expiry) in rows {
        if opens(&doors, door)? {
            ops.push(DoorOp::RevokeKey { key: KeyId(id as u64), until: UnixTime(expiry.max(0) as u64) });
        }
    }
    Ok(())
}

fn deleted_people(
    tx: &Transaction,
    property: i64,
    door: DoorId,
    now: UnixTime,
    ops: &mut Vec<DoorOp>,
) -> AppResult<()> {
    let mut stmt = tx.prepare(
        "SELECT p.id, k.doors, MIN(k.expiry, COALESCE(k.certified_until, k.expiry)) AS until
         FROM people p JOIN keys k ON k.person_id = p.id
         WHERE p.property_id = ?1 AND p.deleted_at IS NOT NULL AND until > ?2 ORDER BY p.id",
    )?;
    let rows = stmt
        .query_map(params![property, now.0 as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut until: std::collections::BTreeMap<i64, i64> = Default::default();
    for (person, doors, expiry) in rows {
        if opens(&doors, door)? {
            let e = until.entry(person).or_insert(expiry);
            *e = (*e).max(expiry);
        }
    }
    for (person, expiry) in until {
        ops.push(DoorOp::RevokePerson { person: PersonId(person as u64), until: UnixTime(expiry.max(0) as u64) });
    }
    Ok(())
}

fn slots(tx: &Transaction, door: DoorId, now: UnixTime, ops: &mut Vec<DoorOp>) -> AppResult<()> {
    let mut stmt = tx.prepare(
        "SELECT s.slot, k.person_id, k.start, k.expiry, k.revoked_at IS NOT NULL OR p.deleted_at IS NOT NULL
         FROM doorcode_slots s JOIN keys k ON k.id = s.key_id JOIN people p ON p.id = k.person_id
         WHERE s.door_id = ?1 ORDER BY s.slot",
    )?;
    let rows = stmt
        .query_map(params![door.0], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (slot, person, start, expiry, ended) in rows {
        if ended || expiry <= now.0 as i64 {
            ops.push(DoorOp::RemoveDoorcode { slot });
        } else {
            let validity = window(start, expiry)?;
            ops.push(DoorOp::AddDoorcode { slot, person: PersonId(person as u64), validity });
        }
    }
    Ok(())
}

fn cards(tx: &Transaction, property: i64, door: DoorId, now: UnixTime, ops: &mut Vec<DoorOp>) -> AppResult<()> {
    let secret = crate::provisioning::door(tx, property, door)?
        .ok_or_else(|| AppError::internal("the door is gone"))?
        .doorcode_secret;
    let mut stmt = tx.prepare(
        "SELECT c.card, c.person_id, c.doors, c.start, c.expiry, c.removed_at IS NOT NULL, c.kind FROM keycards c
         WHERE c.property_id = ?1 ORDER BY c.id",
    )?;
    let rows = stmt
        .query_map(params![property], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut live = std::collections::BTreeSet::new();
    for (card, person, doors, start, expiry, removed, kind) in rows {
        if !opens(&doors, door)? {
            continue;
        }
        let id = secret.card_tag(&card);
        if removed || expiry <= now.0 as i64 {
            if !live.contains(&card) {
                ops.push(DoorOp::RemoveKeycard { card: id });
            }
        } else {
            live.insert(card);
            ops.push(DoorOp::AddKeycard {
                card: id,
                person: PersonId(person as u64),
                validity: window(start, expiry)?,
                kind: crate::cards::kind_from_name(&kind)?.into(),
            });
        }
    }
    Ok(())
}

fn window(start: i64, expiry: i64) -> AppResult<Validity> {
    Validity::new(UnixTime(start.max(0) as u64), UnixTime(expiry.max(0) as u64))
        .ok_or_else(|| AppError::internal("stored window is damaged"))
}
