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

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_protocol::credential::KeyPair;

    #[test]
    fn a_sync_renews_a_certificate_nearing_its_end_or_signed_by_another_key() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE doors (id INTEGER PRIMARY KEY, certificate BLOB); INSERT INTO doors VALUES (3, x'');",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        let authority = Authority { key: KeyPair::generate(), utc_offset_minutes: 0, revalidation_secs: 7 * DAY };
        let (door, key, now) = (DoorId(3), KeyPair::generate().public(), UnixTime(1_800_000_000));
        let fresh = sign(&authority, door, key, now);
        assert_eq!(fresh.body.expires, now.saturating_add_secs(LIFETIME_SECS));
        // Kept while it has more than RENEW_SECS left...
        let later = now.saturating_add_secs(LIFETIME_SECS - RENEW_SECS - 1);
        assert_eq!(current(&tx, &authority, door, &fresh, later).unwrap(), fresh);
        // ...then re-issued for the same door key, and stored.
        let renewed = current(&tx, &authority, door, &fresh, later.saturating_add_secs(1)).unwrap();
        assert_eq!((renewed.body.door_key, renewed.body.door_id), (key, door));
        assert!(renewed.body.expires > fresh.body.expires);
        let stored: Vec<u8> = tx.query_row("SELECT certificate FROM doors WHERE id = 3", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, renewed.to_bytes());
        // A certificate another key signed (before a rotation's switch) is re-issued at once.
        let successor = Authority { key: KeyPair::generate(), ..authority };
        let moved = current(&tx, &successor, door, &fresh, now).unwrap();
        assert_eq!(moved.body.issuer, successor.key_id());
    }
}
