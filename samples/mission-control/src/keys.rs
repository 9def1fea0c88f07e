//! Stored keys (authority-issued) and guest keys (registered by residents), their status and
//! their certificates.

use crate::error::{AppError, AppResult};
use crate::property::Authority;
use crate::validate::{doors_from_json, doors_to_json};
use keyway_api::{B64, GuestKeyEntry, GuestKeyInfo, KeyEntry, KeyInfo, KeyStatus};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    DoorSet, KeyCertBody, KeyCertificate, KeyFlags, KeyId, PersonId, PublicKey, Validity,
};
use rusqlite::{OptionalExtension, Row, Transaction, params};

#[derive(Clone, Debug)]
pub struct KeyRow {
    pub id: i64,
    pub person_id: i64,
    pub doors: DoorSet,
    pub validity: Validity,
    pub flags: KeyFlags,
    /// The latest freshness any certificate of this key was issued with (`None`: never
    /// certified, so no door can be shown it).
    pub certified_until: Option<UnixTime>,
    pub revoked_at: Option<u64>,
    pub replaced_by: Option<i64>,
}

const KEY_COLUMNS: &str =
    "id, person_id, doors, start, expiry, resident, may_share, revoked_at, replaced_by, certified_until";

fn key_row(r: &Row) -> rusqlite::Result<RawKey> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

type RawKey = (i64, i64, String, u64, u64, bool, bool, Option<u64>, Option<i64>, Option<u64>);

fn from_raw(raw: RawKey) -> AppResult<KeyRow> {
    let (id, person_id, doors, start, expiry, resident, may_share, revoked_at, replaced_by, certified_until) = raw;
    Ok(KeyRow {
        id,
        person_id,
        doors: doors_from_json(&doors)?,
        validity: Validity::new(UnixTime(start), UnixTime(expiry))
            .ok_or_else(|| AppError::internal("stored window is damaged"))?,
        flags: KeyFlags { resident, may_share },
        certified_until: certified_until.map(UnixTime),
        revoked_at,
        replaced_by,
    })
}

fn status_at(validity: &Validity, now: UnixTime) -> KeyStatus {
    if now < validity.start {
        KeyStatus::Upcoming
    } else if now < validity.expiry {
        KeyStatus::Active
    } else {
        KeyStatus::Expired
    }
}

impl KeyRow {
    pub fn key_id(&self) -> KeyId {
        KeyId(self.id as u64)
    }

    /// Not revoked or replaced (it may still have expired).
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// How long a door must keep a revocation of this key: until its expiry, or the latest
    /// freshness any of its certificates was issued with if that is sooner (after it, no
    /// certificate of this key opens a door). Bounded even for a key with no expiry.
    pub fn revocation_until(&self) -> UnixTime {
        self.certified_until.map_or(self.validity.expiry, |t| t.min(self.validity.expiry))
    }

    /// Live and not yet expired: it opens doors now or will.
    pub fn is_current(&self, now: UnixTime) -> bool {
        self.is_live() && now < self.validity.expiry
    }

    pub fn status(&self, now: UnixTime) -> KeyStatus {
        match (self.revoked_at, self.replaced_by) {
            (Some(_), Some(_)) => KeyStatus::Replaced,
            (Some(_), None) => KeyStatus::Revoked,
            _ => status_at(&self.validity, now),
        }
    }

    pub fn info(&self, guests: Vec<GuestKeyInfo>, now: UnixTime) -> KeyInfo {
        KeyInfo {
            key_id: self.key_id(),
            person_id: PersonId(self.person_id as u64),
            doors: self.doors.doors().to_vec(),
            validity: self.validity,
            resident: self.flags.resident,
            may_share: self.flags.may_share,
            status: self.status(now),
            revoked_at: self.revoked_at.map(UnixTime),
            replaced_by: self.replaced_by.map(|k| KeyId(k as u64)),
            guests,
        }
    }

    /// The key as a device's sync shows it, with that device's certificate.
    pub fn entry(&self, now: UnixTime, certificate: Option<KeyCertificate>) -> KeyEntry {
        KeyEntry {
            key_id: self.key_id(),
            status: self.status(now),
            doors: self.doors.doors().to_vec(),
            validity: self.validity,
            flags: self.flags,
            certificate: certificate.map(B64),
            replaced_by: self.replaced_by.map(|k| KeyId(k as u64)),
        }
    }
}

pub fn keys_of_person(tx: &Transaction, person_id: i64) -> AppResult<Vec<KeyRow>> {
    let mut stmt = tx.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE person_id = ?1 ORDER BY id"))?;
    let raws = stmt.query_map(params![person_id], key_row)?.collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(from_raw).collect()
}

/// Keys of the person changed after `since`.
pub fn keys_changed_since(tx: &Transaction, person_id: i64, since: i64) -> AppResult<Vec<KeyRow>> {
    let mut stmt =
        tx.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE person_id = ?1 AND changed_seq > ?2 ORDER BY id"))?;
    let raws = stmt.query_map(params![person_id, since], key_row)?.collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(from_raw).collect()
}

/// A key of this property by id, with the id of its person.
pub fn key_in_property(tx: &Transaction, property_id: i64, key_id: i64) -> AppResult<Option<KeyRow>> {
    let raw = tx
        .query_row(
            &format!(
                "SELECT {} FROM keys k JOIN people p ON p.id = k.person_id WHERE k.id = ?1 AND p.property_id = ?2",
                KEY_COLUMNS.split(", ").map(|c| format!("k.{c}")).collect::<Vec<_>>().join(", ")
            ),
            params![key_id, property_id],
            key_row,
        )
        .optional()?;
    raw.map(from_raw).transpose()
}

pub fn insert_key(
    tx: &Transaction,
    person_id: i64,
    doors: &DoorSet,
    validity: Validity,
    flags: KeyFlags,
    seq: i64,
    now: UnixTime,
) -> AppResult<KeyRow> {
    tx.execute(
        "INSERT INTO keys (person_id, doors, start, expiry, resident, may_share, changed_seq, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            person_id,
            doors_to_json(doors),
            validity.start.0,
            validity.expiry.0,
            flags.resident,
            flags.may_share,
            seq,
            now.0
        ],
    )?;
    Ok(KeyRow {
        id: tx.last_insert_rowid(),
        person_id,
        doors: doors.clone(),
        validity,
        flags,
        certified_until: None,
        revoked_at: None,
        replaced_by: None,
    })
}

/// Signs (or re-signs: after a window change, or to revalidate at a sync) the key's
/// certificate for device `device` (its id and public key), fresh for the property's
/// revalidation window from `now`.
pub fn certify(
    tx: &Transaction,
    authority: &Authority,
    key: &mut KeyRow,
    device: (i64, PublicKey),
    seq: i64,
    now: UnixTime,
) -> AppResult<KeyCertificate> {
    let (device_id, holder) = device;
    let body = KeyCertBody::new(
        key.key_id(),
        PersonId(key.person_id as u64),
        holder,
        key.doors.clone(),
        key.validity,
        key.flags,
        authority.key_id(),
    )
    .fresh_until(now.saturating_add_secs(authority.revalidation_secs));
    let fresh = body.fresh_until;
    let cert = KeyCertificate::sign(body, &authority.key);
    let certified_until = key.certified_until.map_or(fresh, |t| t.max(fresh));
    tx.execute(
        "INSERT INTO key_certificates (key_id, device_id, certificate) VALUES (?1, ?2, ?3)
         ON CONFLICT (key_id, device_id) DO UPDATE SET certificate = excluded.certificate",
        params![key.id, device_id, cert.to_bytes()],
    )?;
    tx.execute(
        "UPDATE keys SET changed_seq = ?1, certified_until = ?2 WHERE id = ?3",
        params![seq, certified_until.0.min(i64::MAX as u64) as i64, key.id],
    )?;
    key.certified_until = Some(certified_until);
    Ok(cert)
}

/// The key's certificate for device `device_id`, if one was issued.
pub fn certificate_for(tx: &Transaction, key_id: i64, device_id: i64) -> AppResult<Option<KeyCertificate>> {
    let bytes: Option<Vec<u8>> = tx
        .query_row(
            "SELECT certificate FROM key_certificates WHERE key_id = ?1 AND device_id = ?2",
            params![key_id, device_id],
            |r| r.get(0),
        )
        .optional()?;
    bytes
        .map(|b| KeyCertificate::from_bytes(&b).map_err(|_| AppError::internal("stored certificate is damaged")))
        .transpose()
}

/// Whether a sync at `now` should re-issue `cert` (the key's certificate for the syncing
/// device): there is none (never certified, or an old format), another authority key signed
/// it, or it has lost more than
/// [`REISSUE_SLACK_SECS`] of the freshness a new one would get (so a phone syncing often is not
/// re-signed every time).
pub fn needs_revalidation(key: &KeyRow, cert: Option<&KeyCertificate>, authority: &Authority, now: UnixTime) -> bool {
    let wanted = now.saturating_add_secs(authority.revalidation_secs).min(key.validity.expiry);
    match cert {
        None => true,
        // Signed by a key the property no longer signs with (an authority rotation): re-issue.
        Some(cert) if cert.body.issuer != authority.key_id() => true,
        Some(cert) => cert.body.fresh_until.saturating_add_secs(REISSUE_SLACK_SECS) < wanted,
    }
}

/// Freshness a certificate may lose before a sync re-issues it.
pub const REISSUE_SLACK_SECS: u64 = 3600;

pub fn set_expiry(tx: &Transaction, key: &mut KeyRow, expiry: UnixTime, seq: i64) -> AppResult<()> {
    tx.execute("UPDATE keys SET expiry = ?1, changed_seq = ?2 WHERE id = ?3", params![expiry.0, seq, key.id])?;
    key.validity.expiry = expiry;
    Ok(())
}

/// Marks the key revoked (or replaced by `replaced_by`) and every guest key under it revoked.
/// The doors need no entry for those guests: they refuse a guest whose parent is revoked.
pub fn mark_revoked(
    tx: &Transaction,
    key: &mut KeyRow,
    replaced_by: Option<i64>,
    seq: i64,
    now: UnixTime,
) -> AppResult<()> {
    tx.execute(
        "UPDATE keys SET revoked_at = ?1, replaced_by = ?2, changed_seq = ?3 WHERE id = ?4",
        params![now.0, replaced_by, seq, key.id],
    )?;
    tx.execute(
        "UPDATE guest_keys SET revoked_at = ?1, changed_seq = ?2 WHERE parent_key_id = ?3 AND revoked_at IS NULL",
        params![now.0, seq, key.id],
    )?;
    key.revoked_at = Some(now.0);
    key.replaced_by = replaced_by;
    Ok(())
}

// ---- guest keys ---------------------------------------------------------------------------

/// A registered guest key. Its id was chosen by the phone that shared it and is unique only
/// under its parent key, so every lookup names the property and the parent key too.
#[derive(Clone, Debug)]
pub struct GuestRow {
    /// This registration.
    pub row_id: i64,
    pub id: KeyId,
    pub parent: KeyId,
    pub person_id: i64,
    pub chain: Vec<u8>,
    pub doors: DoorSet,
    pub validity: Validity,
    pub label: Option<String>,
    pub revoked_at: Option<u64>,
    pub created_at: u64,
}

const GUEST_COLUMNS: &str =
    "row_id, id, parent_key_id, person_id, chain, doors, start, expiry, label, revoked_at, created_at";

type RawGuest = (i64, i64, i64, i64, Vec<u8>, String, u64, u64, Option<String>, Option<u64>, u64);

fn guest_row(r: &Row) -> rusqlite::Result<RawGuest> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn guest_from_raw(raw: RawGuest) -> AppResult<GuestRow> {
    let (row_id, id, parent, person_id, chain, doors, start, expiry, label, revoked_at, created_at) = raw;
    Ok(GuestRow {
        row_id,
        id: KeyId(id as u64),
        parent: KeyId(parent as u64),
        person_id,
        chain,
        doors: doors_from_json(&doors)?,
        validity: Validity::new(UnixTime(start), UnixTime(expiry))
            .ok_or_else(|| AppError::internal("stored window is damaged"))?,
        label,
        revoked_at,
        created_at,
    })
}

impl GuestRow {
    pub fn status(&self, now: UnixTime) -> KeyStatus {
        if self.revoked_at.is_some() { KeyStatus::Revoked } else { status_at(&self.validity, now) }
    }

    pub fn info(&self, now: UnixTime) -> GuestKeyInfo {
        GuestKeyInfo {
            key_id: self.id,
            parent_key_id: self.parent,
            label: self.label.clone(),
            doors: self.doors.doors().to_vec(),
            validity: self.validity,
            status: self.status(now),
            registered_at: UnixTime(self.created_at),
        }
    }

    pub fn entry(&self, now: UnixTime) -> GuestKeyEntry {
        GuestKeyEntry {
            key_id: self.id,
            parent_key_id: self.parent,
            status: self.status(now),
            label: self.label.clone(),
        }
    }
}

fn guests_where(tx: &Transaction, filter: &str, params: impl rusqlite::Params) -> AppResult<Vec<GuestRow>> {
    let mut stmt = tx.prepare(&format!("SELECT {GUEST_COLUMNS} FROM guest_keys WHERE {filter}"))?;
    let raws = stmt.query_map(params, guest_row)?.collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(guest_from_raw).collect()
}

pub fn guests_of_person(tx: &Transaction, person_id: i64) -> AppResult<Vec<GuestRow>> {
    guests_where(tx, "person_id = ?1 ORDER BY created_at, row_id", params![person_id])
}

pub fn guests_changed_since(tx: &Transaction, person_id: i64, since: i64) -> AppResult<Vec<GuestRow>> {
    guests_where(tx, "person_id = ?1 AND changed_seq > ?2 ORDER BY row_id", params![person_id, since])
}

/// Every registration of the guest key id in this property (one per parent key holding it).
pub fn guests_in_property(tx: &Transaction, property_id: i64, id: KeyId) -> AppResult<Vec<GuestRow>> {
    guests_where(tx, "property_id = ?1 AND id = ?2 ORDER BY row_id", params![property_id, id.0 as i64])
}

/// The guest key `id` registered under the parent key `parent_key_id` of this property.
pub fn guest_under_parent(
    tx: &Transaction,
    property_id: i64,
    parent_key_id: i64,
    id: KeyId,
) -> AppResult<Option<GuestRow>> {
    let mut rows = guests_where(
        tx,
        "property_id = ?1 AND parent_key_id = ?2 AND id = ?3",
        params![property_id, parent_key_id, id.0 as i64],
    )?;
    Ok(rows.pop())
}

/// Marks this one registration revoked.
pub fn revoke_guest(tx: &Transaction, guest: &GuestRow, seq: i64, now: UnixTime) -> AppResult<()> {
    tx.execute(
        "UPDATE guest_keys SET revoked_at = ?1, changed_seq = ?2 WHERE row_id = ?3",
        params![now.0, seq, guest.row_id],
    )?;
    Ok(())
}
