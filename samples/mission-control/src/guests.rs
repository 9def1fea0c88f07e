//! Guest keys registered by the resident who shared them.

use crate::auth::Device;
use crate::error::{AppError, AppResult};
use crate::keys;
use crate::people;
use crate::property::{Authority, bump_change_seq};
use crate::validate;
use keyway_api::{B64, GuestRefreshRequest, GuestRefreshResponse, RegisterGuestKeyRequest, RegisterGuestKeyResponse};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::KeyChain;
use rusqlite::{OptionalExtension, Transaction, params};

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

/// A guest's revalidation ([`GuestRefreshRequest`]): the host key's current certificate, whose
/// freshness follows the host's own syncs. Every refusal that could tell a stranger whether a
/// key exists reads the same ("not registered"); only a caller who holds a registered guest
/// key learns that it was revoked or that its host's key ended.
pub fn refresh(tx: &Transaction, req: GuestRefreshRequest, now: UnixTime) -> AppResult<GuestRefreshResponse> {
    if !req.proof_verifies() {
        return Err(AppError::unauthorized("the proof of the guest's device key does not verify"));
    }
    if req.time.0.abs_diff(now.0) > GuestRefreshRequest::MAX_AGE_SECS {
        return Err(AppError::unauthorized(format!(
            "the request was signed at {}, more than {} s from the backend's time {now}: check the phone's clock",
            req.time,
            GuestRefreshRequest::MAX_AGE_SECS
        )));
    }
    let not_registered =
        || AppError::not_found("this guest key is not registered: its host's phone registers it at its next upload");
    let chain = req.chain.0;
    let root = chain.root().body.clone();
    let guest = chain.guest_link().ok_or_else(|| AppError::bad_request("the chain holds no guest key"))?.clone();
    let property: i64 = tx
        .query_row(
            "SELECT p.property_id FROM keys k JOIN people p ON p.id = k.person_id WHERE k.id = ?1",
            params![root.key_id.0.min(i64::MAX as u64) as i64],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(not_registered)?;
    let anchors = Authority::load(tx, property)?.anchors();
    chain.verify_structure(&anchors).map_err(|_| not_registered())?;
    let parent = keys::key_in_property(tx, property, root.key_id.0 as i64)?.ok_or_else(not_registered)?;
    let row = keys::guest_under_parent(tx, property, parent.id, guest.body.key_id)?.ok_or_else(not_registered)?;
    // The registered guest key, not merely one with its id: the host's own signed link.
    let registered =
        KeyChain::from_bytes(&row.chain).map_err(|_| AppError::internal("stored guest chain is damaged"))?;
    if registered.guest_link() != Some(&guest) {
        return Err(not_registered());
    }
    if row.revoked_at.is_some() {
        return Err(AppError::gone("this guest key was revoked"));
    }
    if !parent.is_current(now) || people::by_id(tx, parent.person_id)?.deleted_at.is_some() {
        return Err(AppError::gone("the key this guest key was shared from has ended"));
    }
    // The host's certificate for the very phone that signed this guest key: a removed phone's
    // guests are not revalidated.
    let cert = crate::devices::certificate_of_holder(tx, parent.id, parent.person_id, &root.holder)?
        .ok_or_else(|| AppError::gone("the phone that shared this guest key no longer holds its key"))?;
    Ok(GuestRefreshResponse { root: B64(cert) })
}
