//! A person's devices: each has its own device key, token and certificate of every key. Another
//! phone is enrolled with a one-time device code (from a manager, or from one of the person's
//! devices) that the new phone redeems like an invite, proving its device key; a lost phone is
//! removed, which refuses it at once here and at the doors through a `RevokeDevice` update
//! (the internet-connected ones within seconds, the others with the next phone that visits),
//! and leaves the person's other devices and keys working. Guest keys the lost phone signed
//! fall with it: their chains are rooted in its certificates.

use crate::auth::{self, Manager};
use crate::error::{AppError, AppResult};
use crate::keys;
use crate::people::{self, PersonRow};
use crate::property::bump_change_seq;
use crate::updates::UpdatePlan;
use keyway_api::{DeviceCode, DeviceInfo, RevocationResponse};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DeviceId, DoorOp, KeyCertificate, KeyChain, PublicKey};
use rusqlite::{OptionalExtension, Transaction, params};

/// How long a device code can be redeemed.
pub const DEVICE_CODE_SECS: u64 = 15 * 60;

/// The person's devices that are not removed: id and public key.
pub fn live(tx: &Transaction, person_id: i64) -> AppResult<Vec<(i64, PublicKey)>> {
    let mut stmt =
        tx.prepare("SELECT id, public_key FROM devices WHERE person_id = ?1 AND removed_at IS NULL ORDER BY id")?;
    let rows = stmt.query_map(params![person_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    rows.map(|row| {
        let (id, key) = row?;
        let key =
            <[u8; 32]>::try_from(key.as_slice()).map_err(|_| AppError::internal("stored device key is damaged"))?;
        Ok((id, PublicKey(key)))
    })
    .collect()
}

/// `GET /v1/people/{id}/devices`.
pub fn list(tx: &Transaction, manager: &Manager, person_id: u64) -> AppResult<Vec<DeviceInfo>> {
    let person = people::in_property(tx, manager.property_id, person_id)?;
    let mut stmt =
        tx.prepare("SELECT id, public_key, created_at, removed_at FROM devices WHERE person_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![person.id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, u64>(2)?, r.get::<_, Option<u64>>(3)?))
    })?;
    rows.map(|row| {
        let (id, key, created, removed) = row?;
        let key =
            <[u8; 32]>::try_from(key.as_slice()).map_err(|_| AppError::internal("stored device key is damaged"))?;
        Ok(DeviceInfo {
            device_id: id as u64,
            device: DeviceId::of(&key),
            enrolled_at: UnixTime(created),
            removed_at: removed.map(UnixTime),
        })
    })
    .collect()
}

fn new_code(tx: &Transaction, person: &PersonRow, now: UnixTime) -> AppResult<DeviceCode> {
    if person.deleted_at.is_some() {
        return Err(AppError::gone("this person was deleted"));
    }
    if person.access != keyway_api::AccessKind::AppKey {
        return Err(AppError::bad_request("a doorcode holder has no devices"));
    }
    let code = auth::new_token("dcode");
    let expires_at = now.saturating_add_secs(DEVICE_CODE_SECS);
    tx.execute(
        "INSERT INTO device_codes (person_id, code_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![person.id, auth::token_hash(&code), now.0, expires_at.0],
    )?;
    Ok(DeviceCode { code, expires_at })
}

/// `POST /v1/people/{id}/device-codes` (Key Management): a code the person's new phone redeems.
pub fn code_from_manager(tx: &Transaction, manager: &Manager, person_id: u64, now: UnixTime) -> AppResult<DeviceCode> {
    manager.require_key_management()?;
    let person = people::live_in_property(tx, manager.property_id, person_id)?;
    new_code(tx, &person, now)
}

/// `POST /v1/phone/device-codes`: one of the person's devices asks for a code for another.
pub fn code_from_device(tx: &Transaction, device: &auth::Device, now: UnixTime) -> AppResult<DeviceCode> {
    let person = people::by_id(tx, device.person_id)?;
    new_code(tx, &person, now)
}

/// The person a device code enrols, spending the code; `None` if it is not a device code.
/// An expired or used code answers 410.
pub fn redeem(tx: &Transaction, code: &str, now: UnixTime) -> AppResult<Option<PersonRow>> {
    let row: Option<(i64, i64, u64, Option<u64>)> = tx
        .query_row(
            "SELECT id, person_id, expires_at, used_at FROM device_codes WHERE code_hash = ?1",
            params![auth::token_hash(code)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, person_id, expires_at, used_at)) = row else { return Ok(None) };
    if used_at.is_some() || now.0 >= expires_at {
        return Err(AppError::gone("this device code was used or has expired: ask for a new one"));
    }
    tx.execute("UPDATE device_codes SET used_at = ?1 WHERE id = ?2", params![now.0, id])?;
    Ok(Some(people::by_id(tx, person_id)?))
}

/// `DELETE /v1/people/{id}/devices/{device_id}` (Key Management): the lost phone's token stops
/// working at once, its certificates are no longer issued or revalidated, and every door of the
/// person's keys gets `RevokeDevice` until the freshest certificate it held lapses.
pub fn remove(
    tx: &Transaction,
    manager: &Manager,
    person_id: u64,
    device_id: u64,
    now: UnixTime,
) -> AppResult<RevocationResponse> {
    manager.require_key_management()?;
    let person = people::in_property(tx, manager.property_id, person_id)?;
    let device_id = i64::try_from(device_id).map_err(|_| AppError::not_found("no such device"))?;
    let key: Option<(Vec<u8>, Option<u64>)> = tx
        .query_row(
            "SELECT public_key, removed_at FROM devices WHERE id = ?1 AND person_id = ?2",
            params![device_id, person.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (key, removed) = key.ok_or_else(|| AppError::not_found("no such device of this person"))?;
    if removed.is_some() {
        return Err(AppError::gone("this device was already removed"));
    }
    let key = <[u8; 32]>::try_from(key.as_slice()).map_err(|_| AppError::internal("stored device key is damaged"))?;
    let seq = bump_change_seq(tx, manager.property_id)?;
    tx.execute("UPDATE devices SET removed_at = ?1, token_hash = NULL WHERE id = ?2", params![now.0, device_id])?;
    // How long the doors must refuse it: the freshest certificate it was ever issued.
    let mut until: Option<UnixTime> = None;
    let mut doors = Vec::new();
    for k in keys::keys_of_person(tx, person.id)? {
        if let Some(cert) = keys::certificate_for(tx, k.id, device_id)? {
            let lapse = cert.body.fresh_until.min(k.validity.expiry);
            if lapse > now {
                until = Some(until.map_or(lapse, |u| u.max(lapse)));
                doors.extend(cert.body.doors.doors().iter().copied());
            }
        }
    }
    tx.execute("DELETE FROM key_certificates WHERE device_id = ?1", params![device_id])?;
    // Guest keys the lost phone signed fall with it: no more revalidation for them.
    let mut revoked = Vec::new();
    for guest in keys::guests_of_person(tx, person.id)? {
        let signed_by_it = KeyChain::from_bytes(&guest.chain).is_ok_and(|c| c.root().body.holder.0 == key);
        if signed_by_it && guest.revoked_at.is_none() {
            keys::revoke_guest(tx, &guest, seq, now)?;
            revoked.push(guest.id);
        }
    }
    let mut plan = UpdatePlan::default();
    if let Some(until) = until {
        doors.sort();
        doors.dedup();
        for door in doors {
            plan.add(door, DoorOp::RevokeDevice { device: DeviceId::of(&key), until });
        }
    }
    let updates = plan.commit(tx, now)?;
    Ok(RevocationResponse { person_id: person.person_id(), revoked_keys: revoked, updates })
}

/// The certificate of `key_id` for the device of `person_id` whose public key is `holder`
/// (not removed), if one exists.
pub fn certificate_of_holder(
    tx: &Transaction,
    key_id: i64,
    person_id: i64,
    holder: &PublicKey,
) -> AppResult<Option<KeyCertificate>> {
    let device: Option<i64> = tx
        .query_row(
            "SELECT id FROM devices WHERE person_id = ?1 AND public_key = ?2 AND removed_at IS NULL",
            params![person_id, holder.0.to_vec()],
            |r| r.get(0),
        )
        .optional()?;
    match device {
        Some(d) => keys::certificate_for(tx, key_id, d),
        None => Ok(None),
    }
}
