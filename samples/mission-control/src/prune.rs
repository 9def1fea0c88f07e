//! What has lapsed leaves the doors: a doorcode slot whose key expired and a keycard past its
//! expiry still take room in the door's tables (they no longer open anything, the door checks
//! the window), so a busy door would fill up over its life. Every commit first removes what has
//! lapsed at the doors it touches: expired slots there, and every expired keycard that opened
//! one of them (at all of that card's doors). Slot rows and cards are retired at once, so each
//! removal is queued exactly once.

use crate::error::AppResult;
use crate::updates::UpdatePlan;
use crate::validate::doors_from_json;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorOp};
use rusqlite::{Transaction, params};

/// Puts the removals of what has lapsed at `plan`'s doors at the front of `plan`.
pub fn add_lapsed(plan: &mut UpdatePlan, tx: &Transaction, now: UnixTime) -> AppResult<()> {
    let doors: Vec<DoorId> = plan.doors().collect();
    let mut removals: Vec<(DoorId, DoorOp)> = Vec::new();
    for door in &doors {
        let mut stmt = tx.prepare(
            "DELETE FROM doorcode_slots WHERE door_id = ?1
                 AND EXISTS (SELECT 1 FROM keys k WHERE k.id = doorcode_slots.key_id AND k.expiry <= ?2)
             RETURNING slot",
        )?;
        let slots =
            stmt.query_map(params![door.0, now.0 as i64], |r| r.get::<_, u32>(0))?.collect::<Result<Vec<_>, _>>()?;
        removals.extend(slots.into_iter().map(|slot| (*door, DoorOp::RemoveDoorcode { slot })));
        let property: i64 =
            tx.query_row("SELECT property_id FROM doors WHERE id = ?1", params![door.0], |r| r.get(0))?;
        let mut stmt = tx.prepare(
            "SELECT id, card, doors FROM keycards WHERE property_id = ?1 AND removed_at IS NULL AND expiry <= ?2",
        )?;
        let cards = stmt
            .query_map(params![property, now.0 as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (id, card, card_doors) in cards {
            let card_doors = doors_from_json(&card_doors)?;
            if !card_doors.contains(*door) {
                continue;
            }
            for at in card_doors.doors() {
                if let Some(row) = crate::provisioning::door(tx, property, *at)? {
                    removals.push((*at, DoorOp::RemoveKeycard { card: row.doorcode_secret.card_tag(&card) }));
                }
            }
            tx.execute("UPDATE keycards SET removed_at = ?1 WHERE id = ?2", params![now.0, id])?;
        }
    }
    for (door, op) in removals.into_iter().rev() {
        plan.prepend(door, op);
    }
    Ok(())
}
