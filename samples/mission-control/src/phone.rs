//! The phone API: invite acceptance, sync, and a doorcode holder's codes.

use crate::auth::{self, Device};
use crate::error::{AppError, AppResult};
use crate::history::{self, Forget};
use crate::keys;
use crate::people::{self, PersonRow};
use crate::property::{Authority, bump_change_seq, change_seq};
use crate::provisioning;
use crate::updates;
use keyway_api::{
    AcceptInviteRequest, AcceptInviteResponse, AccessKind, B64, DeviceCredentials, DoorEntry, DoorcodeEntry,
    DoorcodesResponse, InvitePreview, InvitePreviewRequest, Revocation, SyncRequest, SyncResponse,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::doorcode::local_day;
use keyway_protocol::credential::{DoorId, PublicKey, TimeStatement, TimeStatementBody};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::BTreeSet;

/// How long after its first acceptance an invite may be accepted again by the same device (a
/// retry after a lost answer). After that the invite token is spent: it proves nothing about
/// the device, so whoever finds it later must not be able to take the device's place.
pub const ACCEPT_RETRY_SECS: u64 = 10 * 60;

pub fn accept(tx: &Transaction, req: AcceptInviteRequest, now: UnixTime) -> AppResult<AcceptInviteResponse> {
    let device_key: PublicKey = req.device_key.0;
    let token = req.invite_token.trim();
    // An invite token, or a device code that enrols another phone of a person (spent here; a
    // refusal below rolls it back with everything else).
    let (person, another_device) = match people::by_token_hash(tx, &auth::token_hash(token))? {
        Some(person) => (person, false),
        None => match crate::devices::redeem(tx, token, now)? {
            Some(person) => (person, true),
            None => return Err(AppError::not_found("unknown invite token or device code")),
        },
    };
    if person.deleted_at.is_some() {
        return Err(AppError::gone("this invite was withdrawn"));
    }
    if person.access != AccessKind::AppKey {
        return Err(AppError::bad_request("this is a doorcode invitation, not an app key"));
    }
    if !device_key.is_acceptable() {
        return Err(AppError::bad_request("the device key is not a usable Ed25519 key (weak or small-order)"));
    }
    if !req.proof_verifies() {
        return Err(AppError::unauthorized("the proof of the device key does not verify for this invite"));
    }
    let token = auth::new_token("dev");
    let device_id = if another_device {
        enroll_another(tx, &person, device_key, &auth::token_hash(&token), now)?
    } else {
        enroll(tx, &person, device_key, &auth::token_hash(&token), now)?
    };
    let sync = build_sync(tx, &person, device_id, None, now)?;
    Ok(AcceptInviteResponse {
        credentials: DeviceCredentials {
            property_id: person.property_id as u64,
            person_id: person.person_id(),
            device_id: device_id as u64,
            device_token: token,
        },
        sync,
    })
}

/// What an invite token or device code is for, without spending it (the phone checks it
/// against the property it already belongs to). Unknown or withdrawn tokens answer 404/410 as
/// `accept` would.
pub fn invite_preview(tx: &Transaction, req: InvitePreviewRequest, now: UnixTime) -> AppResult<InvitePreview> {
    let hash = auth::token_hash(req.invite_token.trim());
    let person = match people::by_token_hash(tx, &hash)? {
        Some(p) => p,
        None => {
            let row: Option<(i64, u64, Option<u64>)> = tx
                .query_row(
                    "SELECT person_id, expires_at, used_at FROM device_codes WHERE code_hash = ?1",
                    params![hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            match row {
                Some((_, expires, used)) if used.is_some() || now.0 >= expires => {
                    return Err(AppError::gone("this device code was used or has expired: ask for a new one"));
                }
                Some((person_id, _, _)) => people::by_id(tx, person_id)?,
                None => return Err(AppError::not_found("unknown invite token or device code")),
            }
        }
    };
    if person.deleted_at.is_some() {
        return Err(AppError::gone("this invite was withdrawn"));
    }
    let name: String =
        tx.query_row("SELECT name FROM properties WHERE id = ?1", params![person.property_id], |r| r.get(0))?;
    let authority = Authority::load(tx, person.property_id)?;
    Ok(InvitePreview {
        property_id: person.property_id as u64,
        property_name: name,
        trust_anchors: crate::rotation::phone_anchors(tx, person.property_id, &authority)?
            .into_iter()
            .map(B64)
            .collect(),
    })
}

/// The person's device with a fresh token: a new device certifies the person's keys; the same
/// device again (a retry after a lost answer, within [`ACCEPT_RETRY_SECS`]) gets the fresh
/// token and the lost one stops working.
fn enroll(
    tx: &Transaction,
    person: &PersonRow,
    device_key: PublicKey,
    token_hash: &[u8],
    now: UnixTime,
) -> AppResult<i64> {
    let existing: Option<(i64, Vec<u8>, u64)> = tx
        .query_row(
            "SELECT id, public_key, created_at FROM devices WHERE person_id = ?1 AND removed_at IS NULL
             ORDER BY (public_key = ?2) DESC, id LIMIT 1",
            params![person.id, device_key.0.to_vec()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match existing {
        Some((id, key, accepted_at)) if key == device_key.0 => {
            if now.0 >= accepted_at.saturating_add(ACCEPT_RETRY_SECS) {
                return Err(AppError::gone("this invite was already used: ask the property manager for a new invite"));
            }
            tx.execute("UPDATE devices SET token_hash = ?1 WHERE id = ?2", params![token_hash, id])?;
            Ok(id)
        }
        Some(_) => Err(AppError::conflict(
            "this invite was already accepted on another device: add this phone with a device code",
        )),
        None => new_device(tx, person, device_key, token_hash, now),
    }
}

/// Another device of the person, enrolled with a device code: a new device certifies the
/// person's keys; a device the person already has (the same key again) gets a fresh token.
fn enroll_another(
    tx: &Transaction,
    person: &PersonRow,
    device_key: PublicKey,
    token_hash: &[u8],
    now: UnixTime,
) -> AppResult<i64> {
    if person.deleted_at.is_some() {
        return Err(AppError::gone("this person was deleted"));
    }
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM devices WHERE person_id = ?1 AND public_key = ?2 AND removed_at IS NULL",
            params![person.id, device_key.0.to_vec()],
            |r| r.get(0),
        )
        .optional()?;
    match existing {
        Some(id) => {
            tx.execute("UPDATE devices SET token_hash = ?1 WHERE id = ?2", params![token_hash, id])?;
            Ok(id)
        }
        None => {
            let removed: bool = tx.query_row(
                "SELECT count(*) > 0 FROM devices WHERE person_id = ?1 AND public_key = ?2",
                params![person.id, device_key.0.to_vec()],
                |r| r.get(0),
            )?;
            if removed {
                return Err(AppError::conflict("this device was removed: enrol the phone with a new device key"));
            }
            new_device(tx, person, device_key, token_hash, now)
        }
    }
}

fn new_device(
    tx: &Transaction,
    person: &PersonRow,
    device_key: PublicKey,
    token_hash: &[u8],
    now: UnixTime,
) -> AppResult<i64> {
    tx.execute(
        "INSERT INTO devices (person_id, public_key, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![person.id, device_key.0.to_vec(), token_hash, now.0],
    )?;
    let id = tx.last_insert_rowid();
    let seq = bump_change_seq(tx, person.property_id)?;
    let authority = Authority::load(tx, person.property_id)?;
    for mut key in keys::keys_of_person(tx, person.id)? {
        if key.is_live() {
            keys::certify(tx, &authority, &mut key, (id, device_key), seq, now)?;
        }
    }
    history::forget_token(tx, person.id, Forget::Used)?;
    Ok(id)
}

pub fn sync(tx: &Transaction, device: &Device, req: SyncRequest, now: UnixTime) -> AppResult<SyncResponse> {
    let person = people::by_id(tx, device.person_id)?;
    revalidate(tx, &person, device, now)?;
    build_sync(tx, &person, device.id, req.cursor.as_deref(), now)
}

/// A sync is the phone's revalidation: every key of the person that is live and not expired
/// gets a certificate fresh for the property's window from now (unless the one it has is
/// nearly as fresh). A phone that stops syncing (lost, revoked, or simply offline) keeps
/// opening offline doors only until its certificates' freshness runs out.
fn revalidate(tx: &Transaction, person: &PersonRow, device: &Device, now: UnixTime) -> AppResult<()> {
    if person.deleted_at.is_some() || person.access != AccessKind::AppKey {
        return Ok(());
    }
    let authority = Authority::load(tx, person.property_id)?;
    let mut due = Vec::new();
    for key in keys::keys_of_person(tx, person.id)?.into_iter().filter(|k| k.is_current(now)) {
        let cert = keys::certificate_for(tx, key.id, device.id)?;
        if keys::needs_revalidation(&key, cert.as_ref(), &authority, now) {
            due.push(key);
        }
    }
    if due.is_empty() {
        return Ok(());
    }
    let seq = bump_change_seq(tx, person.property_id)?;
    for mut key in due {
        keys::certify(tx, &authority, &mut key, (device.id, PublicKey(device.public_key)), seq, now)?;
    }
    Ok(())
}

fn instance_id(tx: &Transaction) -> AppResult<String> {
    Ok(tx.query_row("SELECT value FROM meta WHERE name = 'instance_id'", [], |r| r.get(0))?)
}

/// The change seq a cursor stands for, if it is one of this database's and not ahead of it
/// (a cursor from before a restore of an older backup is ahead and gives a full sync).
fn cursor_seq(cursor: Option<&str>, instance: &str, current: i64) -> Option<i64> {
    let rest = cursor?.strip_prefix("v1.")?;
    let (inst, seq) = rest.split_once('.')?;
    let seq: i64 = seq.parse().ok()?;
    (inst == instance && (0..=current).contains(&seq)).then_some(seq)
}

/// What device `device_id` of `person` is told: its own certificates of the person's keys.
fn build_sync(
    tx: &Transaction,
    person: &PersonRow,
    device_id: i64,
    cursor: Option<&str>,
    now: UnixTime,
) -> AppResult<SyncResponse> {
    let current = change_seq(tx, person.property_id)?;
    let instance = instance_id(tx)?;
    let since = cursor_seq(cursor, &instance, current);
    let authority = Authority::load(tx, person.property_id)?;
    let all_keys = keys::keys_of_person(tx, person.id)?;
    let (changed_keys, changed_guests) = match since {
        None => (all_keys.clone(), keys::guests_of_person(tx, person.id)?),
        Some(s) => (keys::keys_changed_since(tx, person.id, s)?, keys::guests_changed_since(tx, person.id, s)?),
    };
    let mut revocations: Vec<Revocation> = changed_keys
        .iter()
        .filter(|k| !k.is_live())
        .map(|k| Revocation { key_id: k.key_id(), until: k.revocation_until() })
        .collect();
    revocations.extend(
        changed_guests
            .iter()
            .filter(|g| g.revoked_at.is_some())
            .map(|g| Revocation { key_id: g.id, until: g.validity.expiry }),
    );

    let mut door_ids = BTreeSet::new();
    if person.deleted_at.is_none() {
        for key in all_keys.iter().filter(|k| k.is_current(now)) {
            door_ids.extend(key.doors.doors().iter().copied());
        }
    }
    let mut doors = Vec::new();
    for id in door_ids {
        doors.push(door_entry(tx, &authority, person.property_id, id, now)?);
    }
    Ok(SyncResponse {
        cursor: format!("v1.{instance}.{current}"),
        full: since.is_none(),
        server_time: now,
        person_id: person.person_id(),
        access: person.access,
        person_deleted: person.deleted_at.is_some(),
        trust_anchors: crate::rotation::phone_anchors(tx, person.property_id, &authority)?
            .into_iter()
            .map(B64)
            .collect(),
        keys: changed_keys
            .iter()
            .map(|k| Ok(k.entry(now, keys::certificate_for(tx, k.id, device_id)?)))
            .collect::<AppResult<_>>()?,
        guest_keys: changed_guests.iter().map(|g| g.entry(now)).collect(),
        revocations,
        doors,
        time: Some(B64(TimeStatement::sign(TimeStatementBody::unbound(now, authority.key_id()), &authority.key))),
        rotations: crate::rotation::statements(tx, person.property_id)?.into_iter().map(B64).collect(),
    })
}

fn door_entry(
    tx: &Transaction,
    authority: &Authority,
    property_id: i64,
    id: DoorId,
    now: UnixTime,
) -> AppResult<DoorEntry> {
    let door =
        provisioning::door(tx, property_id, id)?.ok_or_else(|| AppError::internal("a key names a missing door"))?;
    // Phones carry every door's log, internet-connected doors' too: a door whose connection is
    // down converges through them (one log, one seq).
    let pending = updates::pending_batch(tx, authority, id, door.reported_seq.max(door.delivered_seq), now)?;
    Ok(DoorEntry {
        door_id: id,
        name: door.name,
        online: door.online,
        certificate: B64(crate::door_certs::current(tx, authority, id, &door.certificate, now)?),
        pending_updates: pending.map(B64),
        known_activity_head: door.activity_head,
        delivered_seq: door.delivered_seq,
    })
}

/// Today's code at each door of each key that is active now.
pub fn doorcodes(tx: &Transaction, bearer: &auth::Bearer, now: UnixTime) -> AppResult<DoorcodesResponse> {
    let person = people::by_token_hash(tx, &auth::token_hash(&bearer.0))?
        .filter(|p| p.access == AccessKind::DailyDoorcode)
        .ok_or_else(|| AppError::unauthorized("unknown doorcode token"))?;
    if person.deleted_at.is_some() {
        return Err(AppError::gone("this doorcode was withdrawn"));
    }
    history::forget_token(tx, person.id, Forget::Used)?;
    let authority = Authority::load(tx, person.property_id)?;
    let mut codes = Vec::new();
    for key in keys::keys_of_person(tx, person.id)? {
        if !key.is_live() || !key.validity.contains(now) {
            continue;
        }
        for (door_id, slot) in people::slots_of_key(tx, key.id)? {
            let door = provisioning::door(tx, person.property_id, door_id)?
                .ok_or_else(|| AppError::internal("a slot names a missing door"))?;
            let code = door.doorcode_secret.code_at(slot, now, authority.utc_offset_minutes);
            codes.push(DoorcodeEntry {
                door_id,
                door_name: door.name,
                key_id: key.key_id(),
                code: code.to_string(),
                validity: key.validity,
            });
        }
    }
    Ok(DoorcodesResponse {
        person_id: person.person_id(),
        server_time: now,
        day: local_day(now, authority.utc_offset_minutes),
        codes,
    })
}

#[cfg(test)]
mod tests {
    use super::cursor_seq;

    #[test]
    fn cursors_of_another_database_or_from_the_future_give_a_full_sync() {
        assert_eq!(cursor_seq(Some("v1.abc.3"), "abc", 5), Some(3));
        assert_eq!(cursor_seq(Some("v1.abc.5"), "abc", 5), Some(5));
        assert_eq!(cursor_seq(Some("v1.abc.6"), "abc", 5), None);
        assert_eq!(cursor_seq(Some("v1.xyz.3"), "abc", 5), None);
        assert_eq!(cursor_seq(Some("v1.abc.-1"), "abc", 5), None);
        assert_eq!(cursor_seq(Some("garbage"), "abc", 5), None);
        assert_eq!(cursor_seq(None, "abc", 5), None);
    }
}
