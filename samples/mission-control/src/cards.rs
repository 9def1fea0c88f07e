//! Keycards at the doors: a door knows a card only by its keyed tag under that door's secret
//! (`DoorcodeSecret::card_tag`), so every door update names the tag, never the UID the
//! manager entered. Phones carrying updates and receipts carrying activity learn nothing that
//! could be written to a blank card.

use crate::error::{AppError, AppResult};
use crate::provisioning;
use crate::updates::UpdatePlan;
use keyway_protocol::credential::{CardId, DoorOp, DoorSet};
use rusqlite::Transaction;

/// The tag of card `uid` at each door of `doors`.
fn tags(
    tx: &Transaction,
    property_id: i64,
    doors: &DoorSet,
    uid: &[u8],
) -> AppResult<Vec<(keyway_protocol::credential::DoorId, CardId)>> {
    doors
        .doors()
        .iter()
        .map(|door| {
            let row = provisioning::door(tx, property_id, *door)?
                .ok_or_else(|| AppError::internal("a keycard names a door that is gone"))?;
            Ok((*door, row.doorcode_secret.card_tag(uid)))
        })
        .collect()
}

/// Plans `op(tag)` at every door of `doors`, each with that door's tag of `uid`.
pub fn plan_at_each(
    tx: &Transaction,
    property_id: i64,
    doors: &DoorSet,
    uid: &[u8],
    plan: &mut UpdatePlan,
    op: impl Fn(CardId) -> DoorOp,
) -> AppResult<()> {
    for (door, tag) in tags(tx, property_id, doors, uid)? {
        plan.add(door, op(tag));
    }
    Ok(())
}
