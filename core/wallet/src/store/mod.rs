//! Layer 3: the wallet's durable state in SQLite.
//!
//! Durability: WAL with `synchronous=FULL`, so every committed transaction survives power loss
//! (WAL with NORMAL may lose the last transactions, and those may be an acknowledged receipt or
//! a pending door update). Every operation that changes more than one row is one transaction:
//! a sync is applied whole or not at all; an unlock's receipt, the door's applied seq and the
//! dropping of delivered updates commit together.

mod offers;
pub mod schema;
pub mod secure;

pub use offers::OfferImport;

use keyway_protocol::UnixTime;
use keyway_protocol::codec::DecodeError;
use keyway_protocol::credential::{
    DoorCertificate, DoorId, GuestKey, KeyChain, KeyId, Receipt, TimeStatement, TrustAnchors, UpdateBatch,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(#[from] DecodeError),
    #[error("stored data is corrupt: {0}")]
    CorruptValue(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A key chain held by this device, as stored.
#[derive(Clone, Debug)]
pub struct StoredKey {
    pub chain: KeyChain,
    pub revoked: bool,
    pub received_at: UnixTime,
    /// Whether the key came in a guest-key offer (its trust is the offer's, not the property's).
    pub offered: bool,
}

/// A batch of door updates this device carries for a door.
#[derive(Clone, Debug)]
pub struct PendingBatch {
    pub door_id: DoorId,
    pub batch: UpdateBatch,
}

/// A receipt in the outbox or the archive.
#[derive(Clone, Debug)]
pub struct StoredReceipt {
    pub id: i64,
    pub door_id: DoorId,
    pub receipt: Receipt,
    pub created_at: UnixTime,
    pub uploaded_at: Option<UnixTime>,
    /// Whose door it came from: the property's (uploaded) or one known only from a guest offer.
    pub scope: ReceiptScope,
    /// Why the backend refused it, if it did: kept for inspection, never retried.
    pub set_aside: Option<String>,
}

/// Whose door a receipt came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptScope {
    /// A door of the property this wallet syncs with: the receipt is uploaded.
    Property,
    /// A door known only from a guest-key offer: the receipt stays on the device.
    Offer,
}

impl ReceiptScope {
    fn as_sql(self) -> &'static str {
        match self {
            ReceiptScope::Property => "property",
            ReceiptScope::Offer => "offer",
        }
    }

    fn from_sql(v: &str) -> Result<Self> {
        match v {
            "property" => Ok(ReceiptScope::Property),
            "offer" => Ok(ReceiptScope::Offer),
            other => Err(StoreError::CorruptValue(format!("receipt scope {other:?}"))),
        }
    }
}

/// A guest key this device issued.
#[derive(Clone, Debug)]
pub struct IssuedGuestKey {
    pub guest_key: GuestKey,
    pub registered: bool,
    pub issued_at: UnixTime,
}

/// Everything one sync changes, already verified by the wallet. Applied in one transaction.
#[derive(Clone, Debug, Default)]
pub struct SyncChanges {
    pub anchors: Option<TrustAnchors>,
    pub door_certs: Vec<(String, DoorCertificate)>,
    pub keys: Vec<KeyChain>,
    pub revoked_keys: Vec<KeyId>,
    /// Per door the full set of pending updates the backend wants carried (`None`: nothing is
    /// pending any more for that door).
    pub pending: Vec<(DoorId, Option<UpdateBatch>)>,
    /// Per door the highest activity seq the backend already holds.
    pub activity_heads: Vec<(DoorId, u64)>,
    pub registered_guest_keys: Vec<KeyId>,
    pub cursor: Option<String>,
    pub server_time: UnixTime,
    /// The answer's verified forward-only signed time; kept when newer than the one held.
    pub time: Option<TimeStatement>,
}

pub struct Store {
    conn: Connection,
}

const META_CURSOR: &str = "sync_cursor";
const META_SERVER_TIME: &str = "last_server_time";
const META_TIME_STATEMENT: &str = "time_statement";

fn ts(t: UnixTime) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

fn from_ts(v: i64) -> UnixTime {
    UnixTime(u64::try_from(v).unwrap_or(0))
}

fn seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        Self::setup(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrations().to_latest(&mut conn)?;
        Ok(Store { conn })
    }

    /// Deletes everything the wallet stored, in one transaction; the schema stays.
    pub fn wipe(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        for table in schema::TABLES {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// SQLite's own consistency check: `"ok"` for a sound database file.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(v.max(0) as usize)
    }

    // ---- meta --------------------------------------------------------------------------

    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    pub fn meta_string(&self, name: &str) -> Result<Option<String>> {
        match self.meta(name)? {
            None => Ok(None),
            Some(v) => {
                String::from_utf8(v).map(Some).map_err(|_| StoreError::CorruptValue(format!("{name} is not UTF-8")))
            }
        }
    }

    pub fn cursor(&self) -> Result<Option<String>> {
        self.meta_string(META_CURSOR)
    }

    /// The newest server time seen in a sync; the wallet never reports key state from a clock
    /// earlier than this.
    /// The newest verified forward-only signed time from a sync, which unlocks carry to doors
    /// whose clocks lag.
    pub fn time_statement(&self) -> Result<Option<TimeStatement>> {
        time_statement_in(&self.conn)
    }

    pub fn last_server_time(&self) -> Result<Option<UnixTime>> {
        match self.meta(META_SERVER_TIME)? {
            None => Ok(None),
            Some(v) => {
                let b: [u8; 8] = v.try_into().map_err(|_| StoreError::CorruptValue("server time".into()))?;
                Ok(Some(UnixTime(u64::from_be_bytes(b))))
            }
        }
    }

    // ---- trust material ------------------------------------------------------------------

    pub fn anchors(&self) -> Result<TrustAnchors> {
        let mut stmt = self.conn.prepare("SELECT public_key FROM anchors ORDER BY rowid")?;
        let keys = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .map(|k| {
                let k = k?;
                let arr: [u8; 32] = k.try_into().map_err(|_| StoreError::CorruptValue("authority key".into()))?;
                Ok(keyway_protocol::credential::PublicKey(arr))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TrustAnchors::new(keys))
    }

    pub fn door_cert(&self, door: DoorId) -> Result<Option<(String, DoorCertificate)>> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row("SELECT name, cert FROM door_certs WHERE door_id = ?1", [door.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(name, cert)| Ok((name, DoorCertificate::from_bytes(&cert)?))).transpose()
    }

    pub fn door_certs(&self) -> Result<Vec<(String, DoorCertificate)>> {
        let mut stmt = self.conn.prepare("SELECT name, cert FROM door_certs ORDER BY door_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        rows.map(|row| {
            let (name, cert) = row?;
            Ok((name, DoorCertificate::from_bytes(&cert)?))
        })
        .collect()
    }

    // ---- keys ---------------------------------------------------------------------------------

    /// Stores a verified chain (a key from the backend, or a guest key imported by a guest).
    pub fn put_key(&self, chain: &KeyChain, now: UnixTime) -> Result<()> {
        put_key(&self.conn, chain, now)
    }

    pub fn keys(&self) -> Result<Vec<StoredKey>> {
        self.keys_where("1", [])
    }

    /// Keys not revoked whose window contains `now`: the only candidates for an unlock, found
    /// without decoding every chain the wallet holds.
    pub fn usable_keys(&self, now: UnixTime) -> Result<Vec<StoredKey>> {
        self.keys_where("revoked = 0 AND start <= ?1 AND expiry > ?1", [ts(now)])
    }

    fn keys_where<P: rusqlite::Params>(&self, filter: &str, params: P) -> Result<Vec<StoredKey>> {
        let sql = format!(
            "SELECT chain, revoked, received_at, EXISTS (SELECT 1 FROM offers o WHERE o.key_id = keys.key_id)
             FROM keys WHERE {filter} ORDER BY is_guest, start, key_id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)?, r.get::<_, bool>(3)?))
        })?;
        rows.map(|row| {
            let (chain, revoked, received_at, offered) = row?;
            Ok(StoredKey { chain: KeyChain::from_bytes(&chain)?, revoked, received_at: from_ts(received_at), offered })
        })
        .collect()
    }

    // ---- door updates ---------------------------------------------------------------------

    pub fn pending(&self, door: DoorId) -> Result<Option<PendingBatch>> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT batch FROM pending_updates WHERE door_id = ?1", [door.0], |r| r.get(0))
            .optional()?;
        row.map(|batch| Ok(PendingBatch { door_id: door, batch: UpdateBatch::from_bytes(&batch)? })).transpose()
    }

    /// The activity seq after which `door` should send records: the newest the backend has,
    /// or the newest this device already holds in a receipt, whichever is higher.
    pub fn activity_after(&self, door: DoorId) -> Result<u64> {
        let backend: Option<i64> = self
            .conn
            .query_row("SELECT backend_activity FROM door_state WHERE door_id = ?1", [door.0], |r| r.get(0))
            .optional()?;
        let held: Option<i64> = self.conn.query_row(
            "SELECT MAX(activity_last) FROM receipts WHERE door_id = ?1 AND scope = 'property'",
            [door.0],
            |r| r.get(0),
        )?;
        Ok(backend.unwrap_or(0).max(held.unwrap_or(0)).max(0) as u64)
    }

    pub fn all_pending(&self) -> Result<Vec<PendingBatch>> {
        let mut stmt = self.conn.prepare("SELECT door_id, batch FROM pending_updates ORDER BY door_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        rows.map(|row| {
            let (door, batch) = row?;
            Ok(PendingBatch { door_id: DoorId(door), batch: UpdateBatch::from_bytes(&batch)? })
        })
        .collect()
    }

    /// The highest update seq a door's receipt has shown applied.
    pub fn door_applied_seq(&self, door: DoorId) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT applied_seq FROM door_state WHERE door_id = ?1", [door.0], |r| r.get(0))
            .optional()?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    /// Records what an unlock brought back, atomically: the receipt goes into the outbox, the
    /// door's applied seq advances, and the carried batch is dropped only if the receipt proves
    /// every update in it applied (otherwise it stays for the next unlock).
    pub fn record_receipt(&mut self, receipt: &Receipt, now: UnixTime) -> Result<()> {
        let door = receipt.body.door_id;
        let applied = receipt.body.applied_seq;
        let tx = self.conn.transaction()?;
        let activity_last = receipt.body.activity.iter().map(|r| r.seq).max().unwrap_or(0);
        tx.execute(
            "INSERT OR IGNORE INTO receipts (door_id, receipt, applied_seq, created_at, activity_last)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![door.0, receipt.to_bytes(), seq(applied), ts(now), seq(activity_last)],
        )?;
        tx.execute(
            "INSERT INTO door_state (door_id, applied_seq) VALUES (?1, ?2)
             ON CONFLICT(door_id) DO UPDATE SET applied_seq = MAX(applied_seq, excluded.applied_seq)",
            params![door.0, seq(applied)],
        )?;
        tx.execute("DELETE FROM pending_updates WHERE door_id = ?1 AND last_seq <= ?2", params![door.0, seq(applied)])?;
        tx.commit()?;
        Ok(())
    }

    /// The property's receipts not yet acknowledged (nor refused) by the backend, oldest first.
    pub fn receipts_to_upload(&self) -> Result<Vec<StoredReceipt>> {
        self.receipts_where("uploaded_at IS NULL AND set_aside IS NULL AND scope = 'property'")
    }

    /// Receipts the backend refused, with its reason.
    pub fn set_aside_receipts(&self) -> Result<Vec<StoredReceipt>> {
        self.receipts_where("set_aside IS NOT NULL")
    }

    /// Every receipt kept on this device (outbox and archive), oldest first.
    pub fn all_receipts(&self) -> Result<Vec<StoredReceipt>> {
        self.receipts_where("1")
    }

    fn receipts_where(&self, filter: &str) -> Result<Vec<StoredReceipt>> {
        let sql = format!(
            "SELECT id, door_id, receipt, created_at, uploaded_at, scope, set_aside FROM receipts WHERE {filter} ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                (r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?),
                (r.get::<_, i64>(3)?, r.get::<_, Option<i64>>(4)?),
                (r.get::<_, String>(5)?, r.get::<_, Option<String>>(6)?),
            ))
        })?;
        rows.map(|row| {
            let ((id, door, receipt), (created, uploaded), (scope, set_aside)) = row?;
            Ok(StoredReceipt {
                id,
                door_id: DoorId(door),
                receipt: Receipt::from_bytes(&receipt)?,
                created_at: from_ts(created),
                uploaded_at: uploaded.map(from_ts),
                scope: ReceiptScope::from_sql(&scope)?,
                set_aside,
            })
        })
        .collect()
    }

    /// Sets receipts aside with the backend's reason for refusing each: they stay for
    /// inspection and are never uploaded again.
    pub fn set_aside(&mut self, refused: &[(i64, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (id, reason) in refused {
            tx.execute(
                "UPDATE receipts SET set_aside = ?2 WHERE id = ?1 AND uploaded_at IS NULL",
                params![id, reason],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks receipts acknowledged by the backend. Idempotent.
    pub fn mark_uploaded(&mut self, ids: &[i64], now: UnixTime) -> Result<()> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE receipts SET uploaded_at = ?2 WHERE id = ?1 AND uploaded_at IS NULL",
                params![id, ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- guest keys this device issued ------------------------------------------------------

    pub fn add_issued_guest_key(&self, guest: &GuestKey, now: UnixTime) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO issued_guest_keys (key_id, parent, guest_key, issued_at) VALUES (?1, ?2, ?3, ?4)",
            params![guest.body.key_id.0 as i64, guest.body.parent.0 as i64, guest.to_bytes(), ts(now)],
        )?;
        Ok(())
    }

    pub fn mark_guest_key_registered(&self, key: KeyId) -> Result<()> {
        self.conn.execute("UPDATE issued_guest_keys SET registered = 1 WHERE key_id = ?1", [key.0 as i64])?;
        Ok(())
    }

    pub fn issued_guest_keys(&self) -> Result<Vec<IssuedGuestKey>> {
        let mut stmt = self
            .conn
            .prepare("SELECT guest_key, registered, issued_at FROM issued_guest_keys ORDER BY issued_at, key_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)?)))?;
        rows.map(|row| {
            let (g, registered, issued) = row?;
            Ok(IssuedGuestKey { guest_key: GuestKey::from_bytes(&g)?, registered, issued_at: from_ts(issued) })
        })
        .collect()
    }

    // ---- sync -------------------------------------------------------------------------------

    /// Applies one verified sync in a single transaction.
    pub fn apply_sync(&mut self, changes: &SyncChanges, now: UnixTime) -> Result<()> {
        let tx = self.conn.transaction()?;
        if let Some(anchors) = &changes.anchors {
            tx.execute("DELETE FROM anchors", [])?;
            for key in anchors.keys() {
                let id = keyway_protocol::credential::AuthorityKeyId::of(&key.0);
                tx.execute("INSERT INTO anchors (issuer, public_key) VALUES (?1, ?2)", params![&id.0[..], &key.0[..]])?;
            }
        }
        for (name, cert) in &changes.door_certs {
            tx.execute(
                "INSERT INTO door_certs (door_id, name, cert) VALUES (?1, ?2, ?3)
                 ON CONFLICT(door_id) DO UPDATE SET name = excluded.name, cert = excluded.cert",
                params![cert.body.door_id.0, name, cert.to_bytes()],
            )?;
        }
        for chain in &changes.keys {
            // The property's own key wins over an offered one that claimed its id.
            tx.execute("DELETE FROM offers WHERE key_id = ?1", [chain.leaf_key_id().0 as i64])?;
            put_key(&tx, chain, now)?;
        }
        for key in &changes.revoked_keys {
            tx.execute("UPDATE keys SET revoked = 1 WHERE key_id = ?1", [key.0 as i64])?;
        }
        for (door, head) in &changes.activity_heads {
            tx.execute(
                "INSERT INTO door_state (door_id, backend_activity) VALUES (?1, ?2)
                 ON CONFLICT(door_id) DO UPDATE SET backend_activity = MAX(backend_activity, excluded.backend_activity)",
                params![door.0, seq(*head)],
            )?;
        }
        for (door, batch) in &changes.pending {
            match batch {
                Some(batch) => {
                    tx.execute(
                        "INSERT INTO pending_updates (door_id, batch, first_seq, last_seq) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(door_id) DO UPDATE SET batch = excluded.batch, first_seq = excluded.first_seq,
                             last_seq = excluded.last_seq",
                        params![door.0, batch.to_bytes(), seq(batch.body.first_seq), seq(batch.body.last_seq())],
                    )?;
                }
                None => {
                    tx.execute("DELETE FROM pending_updates WHERE door_id = ?1", [door.0])?;
                }
            }
        }
        for key in &changes.registered_guest_keys {
            tx.execute("UPDATE issued_guest_keys SET registered = 1 WHERE key_id = ?1", [key.0 as i64])?;
        }
        if let Some(cursor) = &changes.cursor {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![META_CURSOR, cursor.as_bytes()],
            )?;
        }
        if let Some(time) = &changes.time
            && time_statement_in(&tx)?.is_none_or(|held| held.body.time < time.body.time)
        {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![META_TIME_STATEMENT, time.to_bytes()],
            )?;
        }
        let newest = changes.server_time.max(last_server_time_in(&tx)?.unwrap_or(UnixTime::EPOCH));
        tx.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![META_SERVER_TIME, &newest.0.to_be_bytes()[..]],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// The newest verified signed time from a sync (`None` before the first, or from a backend
/// that signs none). A stored value that no longer decodes is ignored, not an error: it is
/// only ever an aid for a door whose clock lags.
fn time_statement_in(conn: &Connection) -> Result<Option<TimeStatement>> {
    let v: Option<Vec<u8>> =
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [META_TIME_STATEMENT], |r| r.get(0)).optional()?;
    Ok(v.and_then(|v| TimeStatement::from_bytes(&v).ok()))
}

fn last_server_time_in(conn: &Connection) -> Result<Option<UnixTime>> {
    let v: Option<Vec<u8>> =
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [META_SERVER_TIME], |r| r.get(0)).optional()?;
    Ok(v.and_then(|v| <[u8; 8]>::try_from(v).ok()).map(|b| UnixTime(u64::from_be_bytes(b))))
}

fn put_key(conn: &Connection, chain: &KeyChain, now: UnixTime) -> Result<()> {
    let leaf = chain.leaf_key_id();
    let (validity, is_guest) = match chain.guest_link() {
        Some(g) => (g.body.validity, true),
        None => (chain.root().body.validity, false),
    };
    conn.execute(
        "INSERT INTO keys (key_id, chain, is_guest, start, expiry, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(key_id) DO UPDATE SET chain = excluded.chain, start = excluded.start, expiry = excluded.expiry",
        params![leaf.0 as i64, chain.to_bytes(), is_guest, ts(validity.start), ts(validity.expiry), ts(now)],
    )?;
    Ok(())
}
