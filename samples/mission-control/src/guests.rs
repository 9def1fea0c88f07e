//! Guest keys registered by the resident who shared them.

use crate::auth::Device;
use crate::error::{AppError, AppResult};
use crate::keys;
use crate::people;
use crate::property::{Authority, bump_change_seq};
use crate::validate;
use keyway_api::{RegisterGuestKeyRequest, RegisterGuestKeyResponse};
use keyway_protocol::UnixTime;
use rusqlite::{Transaction, params};

pub fn register(
    tx: &Transaction,
    device: &Device,
    req: RegisterGuestKeyRequest,
    now: UnixTime,
) -> AppResult<RegisterGuestKeyResponse> {
    let person = people::by_id(tx, device.person_id)?;
    if person.deleted_at.is_some() {
        return Err(AppError::gone("this person was deleted"));
    }
    let label = req.label.as_deref().map(|l| validate::text("label", l, 100)).transpose()?;
    let chain = req.chain.0;
    let anchors = Authority::load(tx, device.property_id)?.anchors();
    let verified =
        chain.verify_structure(&anchors).map_err(|e| AppError::bad_request(format!("guest chain refused: {e}")))?;
    if !verified.is_guest {
        return Err(AppError::bad_request("the chain holds no guest key"));
    }
    let root = &chain.root().body;
    if root.person_id != person.person_id() || root.holder.0 != device.public_key {
        return Err(AppError::bad_request("the guest key must be shared from one of this device's own keys"));
    }
    let parent = keys::key_in_property(tx, device.property_id, root.key_id.0 as i64)?
        .filter(|k| k.person_id == person.id)
        .ok_or_else(|| AppError::bad_request("the parent key is not known here"))?;
    if !parent.is_live() {
        return Err(AppError::conflict(format!(
            "key {} was revoked; its guests cannot be registered",
            parent.key_id()
        )));
    }
    let bytes = chain.to_bytes();
    // The id is the sharing phone's choice: it is looked up under this parent key only, so a
    // registration of the same id by anyone else neither blocks nor answers this one.
    if let Some(existing) = keys::guest_under_parent(tx, device.property_id, parent.id, verified.key_id)? {
        if existing.chain == bytes {
            return Ok(RegisterGuestKeyResponse { guest: existing.entry(now), already_registered: true });
        }
        return Err(AppError::conflict(format!(
            "guest key {} is already registered with different content",
            verified.key_id
        )));
    }
    let seq = bump_change_seq(tx, device.property_id)?;
    tx.execute(
        "INSERT INTO guest_keys (id, property_id, parent_key_id, person_id, chain, doors, start, expiry, label, changed_seq, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            verified.key_id.0 as i64,
            device.property_id,
            parent.id,
            person.id,
            bytes,
            validate::doors_to_json(&verified.doors),
            verified.validity.start.0 as i64,
            verified.validity.expiry.0 as i64,
            label,
            seq,
            now.0
        ],
    )?;
    let row = keys::guest_under_parent(tx, device.property_id, parent.id, verified.key_id)?
        .ok_or_else(|| AppError::internal("guest key vanished"))?;
    Ok(RegisterGuestKeyResponse { guest: row.entry(now), already_registered: false })
}
