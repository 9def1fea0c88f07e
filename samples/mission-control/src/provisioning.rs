//! Properties, doors and managers.

use crate::auth::{self, Manager};
use crate::error::{AppError, AppResult};
use crate::property::Authority;
use crate::sealed;
use crate::validate;
use keyway_api::{
    B64, ClockSet, CreateDoorRequest, CreateManagerRequest, CreatePropertyRequest, CreatePropertyResponse, DoorInfo,
    ManagerCredentials, ManagerInfo, ProvisionedDoor, Secret32, SetKeyManagementRequest,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorCertificate, DoorId, DoorcodeSecret, KeyPair, PublicKey, TrustAnchors};
use rusqlite::{OptionalExtension, Transaction, params};

/// Doorcodes' calendar day follows the property's offset: at most ±14 hours.
const MAX_UTC_OFFSET_MINUTES: i16 = 14 * 60;

/// Creates a property for the operator `operator_id` (none when property creation is open); its
/// first manager's token lasts `token_lifetime` seconds.
pub fn create_property(
    tx: &Transaction,
    req: CreatePropertyRequest,
    operator_id: Option<i64>,
    token_lifetime: u64,
    now: UnixTime,
) -> AppResult<CreatePropertyResponse> {
    let name = validate::text("name", &req.name, 200)?;
    let manager_name = validate::text("manager_name", &req.manager_name, 200)?;
    if req.utc_offset_minutes.abs() > MAX_UTC_OFFSET_MINUTES {
        return Err(AppError::bad_request("utc_offset_minutes must lie within ±840"));
    }
    let authority = KeyPair::generate();
    tx.execute(
        "INSERT INTO properties (name, authority_secret, utc_offset_minutes, operator_id, created_at) VALUES (?1, x'', ?2, ?3, ?4)",
        params![name, req.utc_offset_minutes, operator_id, now.0],
    )?;
    let property_id = tx.last_insert_rowid();
    // Sealed with the row's id, which only exists once the row does.
    tx.execute(
        "UPDATE properties SET authority_secret = keyway_seal('authority_secret', id, ?1) WHERE id = ?2",
        params![authority.secret().as_slice(), property_id],
    )?;
    let manager = insert_manager(tx, property_id, &manager_name, true, true, token_lifetime, now)?;
    Ok(CreatePropertyResponse { property_id: property_id as u64, authority_key: B64(authority.public()), manager })
}

/// When a token issued at `now` for `token_lifetime` seconds stops working.
fn token_expiry(token_lifetime: u64, now: UnixTime) -> UnixTime {
    now.saturating_add_secs(token_lifetime.max(1))
}

#[allow(clippy::too_many_arguments)]
fn insert_manager(
    tx: &Transaction,
    property_id: i64,
    name: &str,
    portfolio: bool,
    key_management: bool,
    token_lifetime: u64,
    now: UnixTime,
) -> AppResult<ManagerCredentials> {
    let token = auth::new_token("mgr");
    let expires_at = token_expiry(token_lifetime, now);
    tx.execute(
        "INSERT INTO managers (property_id, name, token_hash, portfolio_manager, key_management, token_expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![property_id, name, auth::token_hash(&token), portfolio, key_management, expires_at.0, now.0],
    )?;
    Ok(ManagerCredentials { manager_id: tx.last_insert_rowid() as u64, token, expires_at })
}

pub fn create_manager(
    tx: &Transaction,
    manager: &Manager,
    req: CreateManagerRequest,
    token_lifetime: u64,
    now: UnixTime,
) -> AppResult<ManagerCredentials> {
    manager.require_portfolio_manager()?;
    let name = validate::text("name", &req.name, 200)?;
    insert_manager(tx, manager.property_id, &name, req.portfolio_manager, req.key_management, token_lifetime, now)
}

const MANAGER_COLUMNS: &str = "id, name, portfolio_manager, key_management, token_expires_at";

fn manager_row(r: &rusqlite::Row) -> rusqlite::Result<ManagerInfo> {
    Ok(ManagerInfo {
        manager_id: r.get(0)?,
        name: r.get(1)?,
        portfolio_manager: r.get(2)?,
        key_management: r.get(3)?,
        token_expires_at: UnixTime(r.get(4)?),
    })
}

fn manager_info(tx: &Transaction, property_id: i64, id: u64) -> AppResult<ManagerInfo> {
    let id = i64::try_from(id).map_err(|_| AppError::not_found("unknown manager"))?;
    tx.query_row(
        &format!("SELECT {MANAGER_COLUMNS} FROM managers WHERE id = ?1 AND property_id = ?2"),
        params![id, property_id],
        manager_row,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found(format!("unknown manager {id}")))
}

pub fn me(tx: &Transaction, manager: &Manager) -> AppResult<ManagerInfo> {
    manager_info(tx, manager.property_id, manager.id as u64)
}

pub fn list_managers(tx: &Transaction, manager: &Manager) -> AppResult<Vec<ManagerInfo>> {
    let mut stmt = tx.prepare(&format!("SELECT {MANAGER_COLUMNS} FROM managers WHERE property_id = ?1 ORDER BY id"))?;
    let rows = stmt.query_map(params![manager.property_id], manager_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Only a Portfolio Manager grants (or withdraws) Key Management.
pub fn set_key_management(
    tx: &Transaction,
    manager: &Manager,
    id: u64,
    req: SetKeyManagementRequest,
) -> AppResult<ManagerInfo> {
    manager.require_portfolio_manager()?;
    let target = manager_info(tx, manager.property_id, id)?;
    tx.execute("UPDATE managers SET key_management = ?1 WHERE id = ?2", params![req.enabled, target.manager_id])?;
    Ok(ManagerInfo { key_management: req.enabled, ..target })
}

/// Removes a manager of the property (Portfolio Manager only); their token is refused from the
/// next request on. The property always keeps a Portfolio Manager and a manager with Key
/// Management, so nobody can lock everyone out.
pub fn remove_manager(tx: &Transaction, manager: &Manager, id: u64) -> AppResult<ManagerInfo> {
    manager.require_portfolio_manager()?;
    let target = manager_info(tx, manager.property_id, id)?;
    if target.portfolio_manager && !someone_else(tx, manager.property_id, &target, "portfolio_manager")? {
        return Err(AppError::conflict(format!(
            "manager {} is the last Portfolio Manager of this property: create another one first",
            target.manager_id
        )));
    }
    if target.key_management && !someone_else(tx, manager.property_id, &target, "key_management")? {
        return Err(AppError::conflict(format!(
            "manager {} is the last manager with Key Management: grant it to another manager first",
            target.manager_id
        )));
    }
    tx.execute("DELETE FROM managers WHERE id = ?1", params![target.manager_id])?;
    Ok(target)
}

/// Whether another manager of the property holds `permission` (a column of `managers`).
fn someone_else(tx: &Transaction, property_id: i64, target: &ManagerInfo, permission: &str) -> AppResult<bool> {
    Ok(tx.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM managers WHERE property_id = ?1 AND id != ?2 AND {permission})"),
        params![property_id, target.manager_id],
        |r| r.get(0),
    )?)
}

/// A fresh token for the calling manager, with a fresh lifetime; the one used for this request
/// stops working. (An expired token never gets here: it is refused first.)
pub fn rotate_token(
    tx: &Transaction,
    manager: &Manager,
    token_lifetime: u64,
    now: UnixTime,
) -> AppResult<ManagerCredentials> {
    new_token_for(tx, manager.id, token_lifetime, now)
}

/// A fresh token, with a fresh lifetime, for manager `id` of the property (Portfolio Manager
/// only): how a manager whose token expired or was lost gets back in. Their old token stops
/// working.
pub fn reissue_token(
    tx: &Transaction,
    manager: &Manager,
    id: u64,
    token_lifetime: u64,
    now: UnixTime,
) -> AppResult<ManagerCredentials> {
    manager.require_portfolio_manager()?;
    let target = manager_info(tx, manager.property_id, id)?;
    new_token_for(tx, target.manager_id as i64, token_lifetime, now)
}

fn new_token_for(tx: &Transaction, id: i64, token_lifetime: u64, now: UnixTime) -> AppResult<ManagerCredentials> {
    let token = auth::new_token("mgr");
    let expires_at = token_expiry(token_lifetime, now);
    tx.execute(
        "UPDATE managers SET token_hash = ?1, token_expires_at = ?2 WHERE id = ?3",
        params![auth::token_hash(&token), expires_at.0, id],
    )?;
    Ok(ManagerCredentials { manager_id: id as u64, token, expires_at })
}

/// Generates the door's key and doorcode secret, certifies the door key, and returns the
/// secrets this once, with the property's card key (the door checks secure keycards with it).
pub fn create_door(
    tx: &Transaction,
    manager: &Manager,
    req: CreateDoorRequest,
    now: UnixTime,
) -> AppResult<ProvisionedDoor> {
    manager.require_portfolio_manager()?;
    let name = validate::text("name", &req.name, 200)?;
    let authority = Authority::load(tx, manager.property_id)?;
    let door_key = KeyPair::generate();
    let doorcode = DoorcodeSecret::generate();
    let card_key = crate::cards::property_card_key(tx, manager.property_id)?;
    tx.execute(
        "INSERT INTO doors (property_id, name, online, certificate, doorcode_secret, reads_secure_cards, created_at)
         VALUES (?1, ?2, ?3, x'', x'', 1, ?4)",
        params![manager.property_id, name, req.online, now.0],
    )?;
    let door_id = DoorId(u32::try_from(tx.last_insert_rowid()).map_err(|_| AppError::internal("door ids exhausted"))?);
    let certificate = crate::door_certs::sign(&authority, door_id, door_key.public(), now);
    tx.execute(
        "UPDATE doors SET certificate = ?1, doorcode_secret = keyway_seal('doorcode_secret', id, ?2) WHERE id = ?3",
        params![certificate.to_bytes(), doorcode.as_bytes().as_slice(), door_id.0],
    )?;
    Ok(ProvisionedDoor {
        door_id,
        name,
        online: req.online,
        door_certificate: B64(certificate),
        door_secret_key: B64(Secret32(*door_key.secret())),
        doorcode_secret: B64(Secret32(*doorcode.as_bytes())),
        card_key: Some(B64(card_key)),
        trust_anchors: crate::rotation::phone_anchors(tx, manager.property_id, &authority)?
            .into_iter()
            .map(B64)
            .collect(),
        utc_offset_minutes: authority.utc_offset_minutes,
    })
}

/// A new key for door `id` (Portfolio Manager): its old key may have been extracted from the
/// lock. The answer is the door's install with the new key and certificate (and its doorcode
/// secret and card key, unchanged) for re-provisioning in place; the door keeps its state.
/// Phones refuse the old key from their next sync on, and so does Mission Control at once
/// (receipts and feed sessions verify against the stored certificate).
pub fn rekey_door(tx: &Transaction, manager: &Manager, id: DoorId, now: UnixTime) -> AppResult<ProvisionedDoor> {
    manager.require_portfolio_manager()?;
    let door = door(tx, manager.property_id, id)?.ok_or_else(|| AppError::not_found(format!("no door {id}")))?;
    let authority = Authority::load(tx, manager.property_id)?;
    let door_key = KeyPair::generate();
    let certificate = crate::door_certs::sign(&authority, id, door_key.public(), now);
    // Every sync answer lists each door with its certificate: phones get this one next time.
    crate::door_certs::store(tx, id, &certificate)?;
    Ok(ProvisionedDoor {
        door_id: id,
        name: door.name,
        online: door.online,
        door_certificate: B64(certificate),
        door_secret_key: B64(Secret32(*door_key.secret())),
        doorcode_secret: B64(Secret32(*door.doorcode_secret.as_bytes())),
        card_key: Some(B64(crate::cards::property_card_key(tx, manager.property_id)?)),
        trust_anchors: crate::rotation::phone_anchors(tx, manager.property_id, &authority)?
            .into_iter()
            .map(B64)
            .collect(),
        utc_offset_minutes: authority.utc_offset_minutes,
    })
}

pub fn list_doors(tx: &Transaction, property_id: i64) -> AppResult<Vec<DoorInfo>> {
    let mut stmt = tx.prepare(
        "SELECT id, name, online, log_head, delivered_seq, activity_head, reported_seq, diverged_at, feed_seen_at,
                door_time - door_time_seen_at, c.before, c.after
         FROM doors
         LEFT JOIN (
             SELECT door_id, json_extract(event, '$.ClockSet.before') AS before,
                    json_extract(event, '$.ClockSet.after') AS after, MAX(seq)
             FROM activity WHERE event LIKE '{\"ClockSet\"%' GROUP BY door_id
         ) c ON c.door_id = doors.id
         WHERE property_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![property_id], |r| {
            Ok(DoorInfo {
                door_id: DoorId(r.get(0)?),
                name: r.get(1)?,
                online: r.get(2)?,
                log_head: r.get(3)?,
                delivered_seq: r.get(4)?,
                activity_head: r.get(5)?,
                reported_seq: r.get(6)?,
                diverged_at: r.get::<_, Option<u64>>(7)?.map(UnixTime),
                feed_seen_at: r.get::<_, Option<u64>>(8)?.map(UnixTime),
                clock_offset_secs: r.get(9)?,
                clock_set: match (r.get::<_, Option<u64>>(10)?, r.get::<_, Option<u64>>(11)?) {
                    (Some(before), Some(after)) => Some(ClockSet {
                        at: UnixTime(after),
                        by_secs: (after as i128 - before as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                    }),
                    _ => None,
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A door of the property: its certificate and doorcode secret (opened from its sealed form).
pub struct DoorRow {
    pub name: String,
    pub online: bool,
    pub certificate: DoorCertificate,
    pub doorcode_secret: DoorcodeSecret,
    pub delivered_seq: u64,
    /// The highest seq the door itself has shown: where its next batch starts.
    pub reported_seq: u64,
    pub activity_head: u64,
}

impl DoorRow {
    /// The door key its stored certificate certifies under `anchors`.
    pub fn door_key(&self, anchors: &TrustAnchors) -> AppResult<PublicKey> {
        self.certificate.verify(anchors).map_err(|e| AppError::internal(format!("stored door certificate: {e}")))
    }
}

pub fn door(tx: &Transaction, property_id: i64, id: DoorId) -> AppResult<Option<DoorRow>> {
    let row = tx
        .query_row(
            "SELECT name, online, certificate, keyway_unseal('doorcode_secret', id, doorcode_secret), delivered_seq,
                    activity_head, reported_seq
             FROM doors WHERE id = ?1 AND property_id = ?2",
            params![id.0, property_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, u64>(4)?,
                    r.get::<_, u64>(5)?,
                    r.get::<_, u64>(6)?,
                ))
            },
        )
        .optional()
        .map_err(|e| sealed::refused(e, "stored doorcode secret"))?;
    let Some((name, online, cert, secret, delivered_seq, activity_head, reported_seq)) = row else { return Ok(None) };
    let certificate =
        DoorCertificate::from_bytes(&cert).map_err(|_| AppError::internal("stored door certificate is damaged"))?;
    let secret =
        <[u8; 32]>::try_from(secret.as_slice()).map_err(|_| AppError::internal("stored doorcode secret is damaged"))?;
    Ok(Some(DoorRow {
        name,
        online,
        certificate,
        doorcode_secret: DoorcodeSecret::new(secret),
        delivered_seq,
        reported_seq,
        activity_head,
    }))
}
