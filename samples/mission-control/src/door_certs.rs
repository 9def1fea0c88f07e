//! Door certificates' life: each expires [`LIFETIME_SECS`] after it is signed, and a sync
//! re-issues a door's certificate once it has less than [`RENEW_SECS`] left (more than the
//! longest revalidation window, so a phone still within its window never holds an expired one),
//! or when another authority key signed it (after a rotation's switch). A re-keyed door gets a
//! new key and certificate at once; phones refuse the old key from their next sync on.

use crate::error::AppResult;
use crate::property::Authority;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    DoorCertBody, DoorCertBodyV1, DoorCertificate, DoorId, PublicKey, Signed, SignedBody,
};
use rusqlite::{Transaction, params};

const DAY: u64 = 86_400;
/// How long a door certificate is good for.
pub const LIFETIME_SECS: u64 = 365 * DAY;
/// A certificate with less than this left is re-issued at the next sync (above the longest
/// revalidation window, 90 days).
pub const RENEW_SECS: u64 = 120 * DAY;

/// A new certificate of `door_key` for `door`, by the property's current authority key.
pub fn sign(authority: &Authority, door: DoorId, door_key: PublicKey, now: UnixTime) -> DoorCertificate {
    let body = DoorCertBody::new(door, door_key, authority.key_id()).expires(now.saturating_add_secs(LIFETIME_SECS));
    DoorCertificate::sign(body, &authority.key)
}

/// The certificate phones should get for `door` now: the stored one while the current key
/// signed it and it has more than [`RENEW_SECS`] left, otherwise a new one for the same door
/// key, stored in its place.
pub fn current(
    tx: &Transaction,
    authority: &Authority,
    door: DoorId,
    stored: &DoorCertificate,
    now: UnixTime,
) -> AppResult<DoorCertificate> {
    if stored.body.issuer == authority.key_id() && stored.body.expires > now.saturating_add_secs(RENEW_SECS) {
        return Ok(stored.clone());
    }
    let cert = sign(authority, door, stored.body.door_key, now);
    store(tx, door, &cert)?;
    Ok(cert)
}

pub fn store(tx: &Transaction, door: DoorId, cert: &DoorCertificate) -> AppResult<()> {
    tx.execute("UPDATE doors SET certificate = ?1 WHERE id = ?2", params![cert.to_bytes(), door.0])?;
    Ok(())
}

/// Schema 9's upgrade: every door certificate stored as version 1 (no expiry) is signed anew
/// as version 2 by its property's authority key, for the same door key.
pub fn upgrade_v1(tx: &Transaction, now: UnixTime) -> Result<usize, String> {
    let rows: Vec<(u32, i64, Vec<u8>)> = {
        let mut stmt = tx.prepare("SELECT id, property_id, certificate FROM doors").map_err(|e| e.to_string())?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| e.to_string())?
    };
    let mut upgraded = 0;
    for (id, property_id, bytes) in rows {
        if bytes.first() != Some(&DoorCertBodyV1::VERSION) {
            continue;
        }
        let old = Signed::<DoorCertBodyV1>::from_bytes(&bytes)
            .map_err(|e| format!("door {id}: stored version-1 certificate: {e}"))?;
        let authority = Authority::load(tx, property_id).map_err(|e| format!("door {id}: {}", e.body.message))?;
        let body = old.body.upgrade(authority.key_id(), now.saturating_add_secs(LIFETIME_SECS));
        store(tx, DoorId(id), &DoorCertificate::sign(body, &authority.key)).map_err(|e| e.body.message)?;
        upgraded += 1;
    }
    Ok(upgraded)
}
