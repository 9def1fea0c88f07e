//! Replacing a property's authority key without re-provisioning anything.
//!
//! 1. **Start** (a Portfolio Manager): a new key is generated and sealed, the current key signs
//!    a statement naming it, and every door's log gets a `TrustAuthority` update. Mission
//!    Control goes on signing with the current key; sync answers name both keys and carry the
//!    statement, so phones trust the new key before anything they hold is signed by it.
//! 2. **Switch**, by itself, as soon as every door has applied its `TrustAuthority` update
//!    (checked whenever receipts arrive, and on every look at the rotation): the new key becomes
//!    the property's key (the old secret is gone from the database), every door certificate is
//!    re-signed at once and every key certificate at its phone's next sync, and every door's
//!    log gets a `RetireAuthority` update for the old key. Pending updates are untouched:
//!    batches are signed when they are handed out, by whichever key is current then.
//! 3. **Complete**, once every door has applied its `RetireAuthority`: nothing the old key
//!    signs is accepted anywhere (phones dropped it at the switch's first sync).
//!
//! A door that refuses an update of the rotation (a full anchor table) holds it up; the
//! rotation's status names it. A door created meanwhile is installed trusting both keys.

use crate::auth::Manager;
use crate::door_certs;
use crate::error::{AppError, AppResult};
use crate::property::Authority;
use crate::updates::UpdatePlan;
use keyway_api::{AuthorityInfo, B64, RotationInfo, RotationPhase};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    AuthorityKeyId, AuthorityRotation, AuthorityRotationBody, DoorId, DoorOp, KeyPair, MAX_ROTATIONS, PublicKey,
};
use rusqlite::{OptionalExtension, Transaction, params};

pub fn status(tx: &Transaction, manager: &Manager, now: UnixTime) -> AppResult<AuthorityInfo> {
    manager.require_portfolio_manager()?;
    advance(tx, manager.property_id, now)?;
    info(tx, manager.property_id)
}

/// Starts a rotation; refused while one is in progress.
pub fn start(tx: &Transaction, manager: &Manager, now: UnixTime) -> AppResult<AuthorityInfo> {
    manager.require_portfolio_manager()?;
    let property = manager.property_id;
    advance(tx, property, now)?;
    if open_rotation(tx, property)?.is_some() {
        return Err(AppError::conflict("an authority rotation is already in progress: it must complete first"));
    }
    let authority = Authority::load(tx, property)?;
    let new = KeyPair::generate();
    let statement =
        AuthorityRotation::sign(AuthorityRotationBody::new(authority.key_id(), new.public(), now), &authority.key);
    tx.execute(
        "INSERT INTO authority_rotations (property_id, old_key, new_key, statement, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![property, authority.public().0.as_slice(), new.public().0.as_slice(), statement.to_bytes(), now.0],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "UPDATE authority_rotations SET new_secret = keyway_seal('rotation_secret', id, ?1) WHERE id = ?2",
        params![new.secret().as_slice(), id],
    )?;
    queue(tx, property, id, "trust", DoorOp::TrustAuthority { key: new.public() }, now)?;
    advance(tx, property, now)?;
    info(tx, property)
}

/// Moves the property's open rotation on as far as its doors allow; true when it moved (new
/// door updates may have been queued).
pub fn advance(tx: &Transaction, property: i64, now: UnixTime) -> AppResult<bool> {
    let Some(row) = open_rotation(tx, property)? else { return Ok(false) };
    let phase = if row.switched_at.is_none() { "trust" } else { "retire" };
    let (pending, rejected) = doors_behind(tx, row.id, phase)?;
    if !pending.is_empty() || !rejected.is_empty() {
        return Ok(false);
    }
    if row.switched_at.is_none() {
        switch(tx, property, &row, now)?;
        // A property without doors has nothing to retire either.
        advance(tx, property, now)?;
    } else {
        tx.execute("UPDATE authority_rotations SET completed_at = ?1 WHERE id = ?2", params![now.0, row.id])?;
    }
    Ok(true)
}

/// The keys a phone of the property trusts: the current one, and its successor while a
/// rotation introduces it.
pub fn phone_anchors(tx: &Transaction, property: i64, authority: &Authority) -> AppResult<Vec<PublicKey>> {
    let mut keys = vec![authority.public()];
    if let Some(row) = open_rotation(tx, property)?
        && row.switched_at.is_none()
    {
        keys.push(row.new_key);
    }
    Ok(keys)
}

/// The property's rotation statements, oldest first (the latest [`MAX_ROTATIONS`]).
pub fn statements(tx: &Transaction, property: i64) -> AppResult<Vec<AuthorityRotation>> {
    let mut stmt = tx.prepare(
        "SELECT statement FROM (SELECT id, statement FROM authority_rotations WHERE property_id = ?1
                                ORDER BY id DESC LIMIT ?2) ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![property, MAX_ROTATIONS as i64], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.iter()
        .map(|b| {
            AuthorityRotation::from_bytes(b).map_err(|_| AppError::internal("stored rotation statement is damaged"))
        })
        .collect()
}

struct RotationRow {
    id: i64,
    old_key: PublicKey,
    new_key: PublicKey,
    started_at: u64,
    switched_at: Option<u64>,
    completed_at: Option<u64>,
}

fn key(bytes: Vec<u8>) -> AppResult<PublicKey> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(PublicKey)
        .map_err(|_| AppError::internal("stored authority key is damaged"))
}

fn rotation_where(tx: &Transaction, clause: &str, property: i64) -> AppResult<Option<RotationRow>> {
    let row = tx
        .query_row(
            &format!(
                "SELECT id, old_key, new_key, started_at, switched_at, completed_at FROM authority_rotations
                 WHERE property_id = ?1 {clause} ORDER BY id DESC LIMIT 1"
            ),
            params![property],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let Some((id, old, new, started_at, switched_at, completed_at)) = row else { return Ok(None) };
    Ok(Some(RotationRow { id, old_key: key(old)?, new_key: key(new)?, started_at, switched_at, completed_at }))
}

fn open_rotation(tx: &Transaction, property: i64) -> AppResult<Option<RotationRow>> {
    rotation_where(tx, "AND completed_at IS NULL", property)
}

/// Queues `op` for every door of the property and remembers each door's seq for `phase`.
fn queue(tx: &Transaction, property: i64, rotation: i64, phase: &str, op: DoorOp, now: UnixTime) -> AppResult<()> {
    let doors: Vec<u32> = {
        let mut stmt = tx.prepare("SELECT id FROM doors WHERE property_id = ?1 ORDER BY id")?;
        stmt.query_map(params![property], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let mut plan = UpdatePlan::default();
    for door in &doors {
        plan.add(DoorId(*door), op.clone());
    }
    for queued in plan.commit(tx, now)? {
        tx.execute(
            "INSERT INTO rotation_doors (rotation_id, door_id, phase, seq) VALUES (?1, ?2, ?3, ?4)",
            params![rotation, queued.door_id.0, phase, queued.seq],
        )?;
    }
    Ok(())
}

/// Doors that have not applied their update of `phase` yet, and doors that refused it.
fn doors_behind(tx: &Transaction, rotation: i64, phase: &str) -> AppResult<(Vec<DoorId>, Vec<DoorId>)> {
    let mut stmt = tx.prepare(
        "SELECT r.door_id, u.rejected IS NOT NULL FROM rotation_doors r
         JOIN doors d ON d.id = r.door_id
         LEFT JOIN door_updates u ON u.door_id = r.door_id AND u.seq = r.seq
         WHERE r.rotation_id = ?1 AND r.phase = ?2 AND (d.delivered_seq < r.seq OR u.rejected IS NOT NULL)
         ORDER BY r.door_id",
    )?;
    let rows = stmt
        .query_map(params![rotation, phase], |r| Ok((DoorId(r.get(0)?), r.get::<_, bool>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let rejected = rows.iter().filter(|(_, rejected)| *rejected).map(|(d, _)| *d).collect();
    let pending = rows.iter().filter(|(_, rejected)| !*rejected).map(|(d, _)| *d).collect();
    Ok((pending, rejected))
}

/// Every door trusts the new key: Mission Control signs with it from now on.
fn switch(tx: &Transaction, property: i64, row: &RotationRow, now: UnixTime) -> AppResult<()> {
    let moved = tx.execute(
        "UPDATE properties SET authority_secret = keyway_seal('authority_secret', id,
             (SELECT keyway_unseal('rotation_secret', r.id, r.new_secret) FROM authority_rotations r WHERE r.id = ?1))
         WHERE id = ?2",
        params![row.id, property],
    )?;
    if moved != 1 {
        return Err(AppError::internal("the rotation's property is missing"));
    }
    tx.execute(
        "UPDATE authority_rotations SET new_secret = NULL, switched_at = ?1 WHERE id = ?2",
        params![now.0, row.id],
    )?;
    let authority = Authority::load(tx, property)?;
    if authority.public() != row.new_key {
        return Err(AppError::internal("the rotation's sealed key does not match its public key"));
    }
    // Phones get the new certificates at their next sync; doors' certificates change now, so
    // receipts signed by the doors keep verifying under the one current key.
    let doors: Vec<u32> = {
        let mut stmt = tx.prepare("SELECT id FROM doors WHERE property_id = ?1")?;
        stmt.query_map(params![property], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    for door in doors {
        if let Some(d) = crate::provisioning::door(tx, property, DoorId(door))? {
            door_certs::current(tx, &authority, DoorId(door), &d.certificate, now)?;
        }
    }
    let old = AuthorityKeyId::of(&row.old_key.0);
    queue(tx, property, row.id, "retire", DoorOp::RetireAuthority { key: old }, now)
}

fn info(tx: &Transaction, property: i64) -> AppResult<AuthorityInfo> {
    let authority = Authority::load(tx, property)?;
    let rotation = match rotation_where(tx, "", property)? {
        None => None,
        Some(row) => {
            let (phase, step) = match (row.switched_at, row.completed_at) {
                (None, _) => (RotationPhase::Introducing, "trust"),
                (Some(_), None) => (RotationPhase::Retiring, "retire"),
                (Some(_), Some(_)) => (RotationPhase::Complete, "retire"),
            };
            let (doors_pending, doors_rejected) = doors_behind(tx, row.id, step)?;
            Some(RotationInfo {
                rotation_id: row.id as u64,
                old_key: B64(row.old_key),
                new_key: B64(row.new_key),
                phase,
                started_at: UnixTime(row.started_at),
                switched_at: row.switched_at.map(UnixTime),
                completed_at: row.completed_at.map(UnixTime),
                doors_pending,
                doors_rejected,
            })
        }
    };
    Ok(AuthorityInfo { key: B64(authority.public()), rotation })
}
