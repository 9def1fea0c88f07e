//! Every door's update log and the door-update tasks the manager sees.
//!
//! A manager action collects the operations each door needs in an [`UpdatePlan`]; committing
//! it appends one update per door (more only past [`MAX_OPS_PER_UPDATE`]) with the door's next
//! seq. Offline and internet-connected doors share the one log: the feed pushes it to a
//! connected door, phones carry the same batches to every door, so the two paths never
//! disagree. The next seq is above both the log's head and the highest seq the door itself
//! has shown; a door found ahead of its log (a database restored from an older backup) is
//! handled by [`crate::resync`].
//! An update is *pending* until a verified receipt shows `applied_seq >= seq`, *rejected* if
//! the door's signed activity says it refused it.

use crate::error::{AppError, AppResult};
use crate::property::Authority;
use keyway_api::{DoorUpdateQuery, DoorUpdateTask, QueuedUpdate, TaskState};
use keyway_protocol::UnixTime;
use keyway_protocol::codec;
use keyway_protocol::credential::door_update::{MAX_OPS_PER_UPDATE, MAX_UPDATES_PER_BATCH};
use keyway_protocol::credential::{DoorId, DoorOp, DoorSet, DoorUpdate, SignedBody, UpdateBatch, UpdateBatchBody};
use rusqlite::{Transaction, params};
use std::collections::BTreeMap;

#[derive(Default, Debug)]
pub struct UpdatePlan(BTreeMap<DoorId, Vec<DoorOp>>);

impl UpdatePlan {
    pub fn add(&mut self, door: DoorId, op: DoorOp) {
        self.0.entry(door).or_default().push(op);
    }

    /// Puts `op` before everything planned for `door`.
    pub fn prepend(&mut self, door: DoorId, op: DoorOp) {
        self.0.entry(door).or_default().insert(0, op);
    }

    /// The doors something is planned for.
    pub fn doors(&self) -> impl Iterator<Item = DoorId> + '_ {
        self.0.keys().copied()
    }

    pub fn add_to_all(&mut self, doors: &DoorSet, op: DoorOp) {
        for door in doors.doors() {
            self.add(*door, op.clone());
        }
    }

    /// Appends the planned operations to the logs of the doors among them.
    pub fn commit(mut self, tx: &Transaction, now: UnixTime) -> AppResult<Vec<QueuedUpdate>> {
        crate::prune::add_lapsed(&mut self, tx, now)?;
        let mut queued = Vec::new();
        let doors: Vec<DoorId> = self.0.keys().copied().collect();
        for door in doors {
            let (head, reported): (u64, u64) =
                tx.query_row("SELECT log_head, reported_seq FROM doors WHERE id = ?1", params![door.0], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let ops = self.0.remove(&door).unwrap_or_default();
            let mut seq = head.max(reported);
            for chunk in ops.chunks(MAX_OPS_PER_UPDATE) {
                seq += 1;
                let update = DoorUpdate::new(chunk.to_vec()).ok_or_else(|| AppError::internal("update too large"))?;
                tx.execute(
                    "INSERT INTO door_updates (door_id, seq, update_bytes, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![door.0, seq, codec::encode(&update), now.0],
                )?;
                queued.push(QueuedUpdate { door_id: door, seq, ops: chunk.to_vec() });
            }
            tx.execute("UPDATE doors SET log_head = ?1 WHERE id = ?2", params![seq, door.0])?;
        }
        Ok(queued)
    }
}

pub fn decode_update(bytes: &[u8]) -> AppResult<DoorUpdate> {
    codec::decode("door update", bytes, UpdateBatchBody::MAX_LEN)
        .map_err(|_| AppError::internal("stored door update is damaged"))
}

/// A freshly signed batch of the updates of `door` after `door_seq` (the highest seq the door
/// is known to have consumed), as long as they fit one batch and follow each other (the rest
/// follows once the door has applied these); `None` when nothing is pending.
pub fn pending_batch(
    tx: &Transaction,
    authority: &Authority,
    door: DoorId,
    door_seq: u64,
    now: UnixTime,
) -> AppResult<Option<UpdateBatch>> {
    let mut stmt =
        tx.prepare("SELECT seq, update_bytes FROM door_updates WHERE door_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
    let rows = stmt
        .query_map(params![door.0, door_seq, MAX_UPDATES_PER_BATCH as i64], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // Room for the header fields and the signature.
    let budget = UpdateBatchBody::MAX_LEN - 256;
    let mut used = 0;
    let mut updates = Vec::new();
    for (seq, bytes) in rows {
        // Only a run that starts right after the door's seq can apply.
        if seq != door_seq + 1 + updates.len() as u64 || used + bytes.len() > budget {
            break;
        }
        used += bytes.len();
        updates.push(decode_update(&bytes)?);
    }
    if updates.is_empty() {
        return Ok(None);
    }
    let body = UpdateBatchBody::new(door, door_seq + 1, now, authority.key_id(), updates)
        .ok_or_else(|| AppError::internal("batch too large"))?;
    Ok(Some(UpdateBatch::sign(body, &authority.key)))
}

/// Door-update tasks of the property's doors, oldest first.
pub fn tasks(tx: &Transaction, property_id: i64, query: &DoorUpdateQuery) -> AppResult<Vec<DoorUpdateTask>> {
    tasks_page(tx, property_id, query, &crate::paging::Page::ALL).map(|(rows, _)| rows)
}

/// A page of [`tasks`] (keyset on door and seq); the next page's cursor.
pub fn tasks_page(
    tx: &Transaction,
    property_id: i64,
    query: &DoorUpdateQuery,
    page: &crate::paging::Page,
) -> AppResult<(Vec<DoorUpdateTask>, Option<String>)> {
    let after = page.after::<2>()?;
    let state = query.state.map(|s| match s {
        TaskState::Pending => "pending",
        TaskState::Delivered => "delivered",
        TaskState::Rejected => "rejected",
    });
    let mut stmt = tx.prepare(
        "SELECT u.door_id, d.name, u.seq, u.update_bytes, u.created_at, u.delivered_at, u.receipt_door_time, u.rejected
         FROM door_updates u JOIN doors d ON d.id = u.door_id
         WHERE d.property_id = ?1 AND (?2 IS NULL OR u.door_id = ?2)
           AND (?3 IS NULL OR (u.door_id, u.seq) > (?3, ?4))
           AND (?5 IS NULL OR ?5 = CASE WHEN u.rejected IS NOT NULL THEN 'rejected'
                WHEN u.delivered_at IS NOT NULL THEN 'delivered' ELSE 'pending' END)
         ORDER BY u.door_id, u.seq LIMIT ?6",
    )?;
    let rows = stmt
        .query_map(
            params![
                property_id,
                query.door_id.map(|d| d.0),
                after.map(|a| a[0]),
                after.map(|a| a[1]),
                state,
                page.sql_limit()
            ],
            |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, u64>(4)?,
                    r.get::<_, Option<u64>>(5)?,
                    r.get::<_, Option<u64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let (rows, next) = page.finish(rows, |r| format!("{}.{}", r.0, r.2));
    let mut out = Vec::new();
    for (door, name, seq, bytes, created, delivered, door_time, rejected) in rows {
        let state = match (&rejected, delivered) {
            (Some(_), _) => TaskState::Rejected,
            (None, Some(_)) => TaskState::Delivered,
            (None, None) => TaskState::Pending,
        };
        if query.state.is_some_and(|s| s != state) {
            continue;
        }
        out.push(DoorUpdateTask {
            door_id: DoorId(door),
            door_name: name,
            seq,
            ops: decode_update(&bytes)?.ops.into_vec(),
            created_at: UnixTime(created),
            state,
            delivered_at: delivered.map(UnixTime),
            receipt_door_time: door_time.map(UnixTime),
            rejection: rejected,
        });
    }
    Ok((out, next))
}
