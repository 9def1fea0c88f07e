//! Layer 3: the wallet's durable state in SQLite.
//!
//! Durability: WAL with `synchronous=FULL`, so every committed transaction survives power loss
//! (WAL with NORMAL may lose the last transactions, and those may be an acknowledged receipt or
//! a pending door update). Every operation that changes more than one row is one transaction:
//! a sync is applied whole or not at all; an unlock's receipt, the door's applied seq and the
//! dropping of delivered updates commit together.
//!
//! Several properties: every row a property's sync brings (authority keys, door certificates,
//! keys, pending updates, door state, receipts, issued guest keys, cursor and signed time) is
//! kept under the property's local id ([`PropertyId`], schema v5), and every lookup and
//! unique constraint over ids the property assigns (key ids, door ids) is per property: door 1
//! of one property is never door 1 of another. Keys and receipts that came with a guest-key
//! offer belong to no property (`property = 0` in SQL, `None` here).

mod offers;
pub mod schema;
pub mod secure;
mod tickets;

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

/// A property's local id in this wallet (1, 2, …; never reused while the property is joined).
/// Not the backend's own property id: two backends may both call theirs 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PropertyId(pub u32);

impl std::fmt::Display for PropertyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "property #{}", self.0)
    }
}

/// A property this wallet joined: one backend and its authority keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub id: PropertyId,
    /// The backend's address, as the invite was accepted at.
    pub backend_url: String,
    /// The backend's own id for the property (unknown for a property joined before schema v5).
    pub remote_id: Option<u64>,
    /// The property's name as its backend gave it, when known.
    pub name: Option<String>,
}

impl Property {
    /// How to name the property to a person: its name, else its backend's address.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.backend_url),
            None => self.backend_url.clone(),
        }
    }
}

/// A key chain held by this device, as stored.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The property whose sync brought the key (`None`: it came in a guest-key offer).
    pub property: Option<PropertyId>,
    pub chain: KeyChain,
    pub revoked: bool,
    pub received_at: UnixTime,
    /// Whether the key came in a guest-key offer (its trust is the offer's, not the property's).
    pub offered: bool,
}

/// A batch of door updates this device carries for a door.
#[derive(Clone, Debug)]
pub struct PendingBatch {
    pub property: PropertyId,
    pub door_id: DoorId,
    pub batch: UpdateBatch,
}

/// A receipt in the outbox or the archive.
#[derive(Clone, Debug)]
pub struct StoredReceipt {
    pub id: i64,
    /// The property whose door signed it (`None`: a door known only from a guest-key offer).
    pub property: Option<PropertyId>,
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
    /// The property of the key it was shared under (registered with that property's backend).
    pub property: PropertyId,
    pub guest_key: GuestKey,
    pub registered: bool,
    pub issued_at: UnixTime,
    /// The guest's name from their share request, if any.
    pub label: Option<String>,
}

/// Everything one sync of one property changes, already verified by the wallet. Applied in one
/// transaction.
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
/// The SQL value of "no property" (offered keys, receipts of offered doors).
const NO_PROPERTY: u32 = 0;

fn ts(t: UnixTime) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

fn from_ts(v: i64) -> UnixTime {
    UnixTime(u64::try_from(v).unwrap_or(0))
}

fn seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn property_of(v: u32) -> Option<PropertyId> {
    (v != NO_PROPERTY).then_some(PropertyId(v))
}

/// Every table that holds a property's rows, with the column naming it.
const PROPERTY_TABLES: &[&str] = &[
    "anchors",
    "door_certs",
    "keys",
    "pending_updates",
    "door_state",
    "receipts",
    "issued_guest_keys",
    "property_meta",
    "resume_tickets",
];

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

    // ---- properties -------------------------------------------------------------------

    /// Every property this wallet joined, oldest first.
    pub fn properties(&self) -> Result<Vec<Property>> {
        let mut stmt = self.conn.prepare("SELECT id, backend_url, remote_id, name FROM properties ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(Property {
                id: PropertyId(r.get(0)?),
                backend_url: r.get(1)?,
                remote_id: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                name: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn property(&self, p: PropertyId) -> Result<Option<Property>> {
        Ok(self.properties()?.into_iter().find(|q| q.id == p))
    }

    /// The first property joined: what the single-property accessors ([`Store::anchors`],
    /// [`Store::cursor`], …) read. `None` before any.
    pub fn primary_property(&self) -> Result<Option<PropertyId>> {
        let id: Option<u32> = self.conn.query_row("SELECT MIN(id) FROM properties", [], |r| r.get(0))?;
        Ok(id.map(PropertyId))
    }

    /// The primary property's id, or 1 (which holds nothing) before any: single-property reads
    /// then answer "nothing".
    fn primary(&self) -> Result<PropertyId> {
        Ok(self.primary_property()?.unwrap_or(PropertyId(1)))
    }

    /// Records a newly joined property and returns its local id (one more than the highest in
    /// use).
    pub fn add_property(
        &self,
        backend_url: &str,
        remote_id: Option<u64>,
        name: Option<&str>,
        now: UnixTime,
    ) -> Result<PropertyId> {
        let next: u32 = self.conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM properties", [], |r| r.get(0))?;
        self.insert_property(PropertyId(next), backend_url, remote_id, name, now)?;
        Ok(PropertyId(next))
    }

    /// Records a property under a given local id (restoring one from secure storage).
    pub fn insert_property(
        &self,
        id: PropertyId,
        backend_url: &str,
        remote_id: Option<u64>,
        name: Option<&str>,
        now: UnixTime,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO properties (id, backend_url, remote_id, name, joined_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id.0, backend_url, remote_id.map(|v| v as i64), name, ts(now)],
        )?;
        Ok(())
    }

    /// The highest local property id in use (0 before any).
    pub fn max_property_id(&self) -> Result<u32> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM properties", [], |r| r.get(0))?)
    }

    /// Sets the backend address of a property recorded without one.
    pub fn set_backend_url(&self, id: PropertyId, url: &str) -> Result<()> {
        self.conn.execute("UPDATE properties SET backend_url = ?2 WHERE id = ?1", params![id.0, url])?;
        Ok(())
    }

    /// Fills in what a later answer told of a property (its backend id, its name).
    pub fn update_property(&self, id: PropertyId, remote_id: Option<u64>, name: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE properties SET remote_id = COALESCE(?2, remote_id), name = COALESCE(?3, name) WHERE id = ?1",
            params![id.0, remote_id.map(|v| v as i64), name],
        )?;
        Ok(())
    }

    /// Leaves a property: every row it brought goes, in one transaction (receipts not uploaded
    /// yet included); other properties and offered keys stay.
    pub fn remove_property(&mut self, p: PropertyId) -> Result<()> {
        let tx = self.conn.transaction()?;
        for table in PROPERTY_TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE property = ?1"), [p.0])?;
        }
        tx.execute("DELETE FROM properties WHERE id = ?1", [p.0])?;
        tx.commit()?;
        Ok(())
    }

    /// A per-property value (cursor, signed time, person, replaced keys).
    pub fn property_meta(&self, p: PropertyId, name: &str) -> Result<Option<Vec<u8>>> {
        property_meta_in(&self.conn, p, name)
    }

    pub fn set_property_meta(&self, p: PropertyId, name: &str, value: &[u8]) -> Result<()> {
        set_property_meta_in(&self.conn, p, name, value)
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

    /// The primary property's sync cursor.
    pub fn cursor(&self) -> Result<Option<String>> {
        self.cursor_of(self.primary()?)
    }

    pub fn cursor_of(&self, p: PropertyId) -> Result<Option<String>> {
        match self.property_meta(p, META_CURSOR)? {
            None => Ok(None),
            Some(v) => {
                String::from_utf8(v).map(Some).map_err(|_| StoreError::CorruptValue("cursor is not UTF-8".into()))
            }
        }
    }

    /// The primary property's newest verified forward-only signed time, which unlocks carry
    /// to doors whose clocks lag.
    pub fn time_statement(&self) -> Result<Option<TimeStatement>> {
        self.time_statement_of(self.primary()?)
    }

    /// `p`'s newest verified signed time (its doors take no other property's).
    pub fn time_statement_of(&self, p: PropertyId) -> Result<Option<TimeStatement>> {
        time_statement_in(&self.conn, p)
    }

    /// The newest server time seen in a sync of any property; the wallet never reports key
    /// state from a clock earlier than this.
    pub fn last_server_time(&self) -> Result<Option<UnixTime>> {
        let mut stmt = self.conn.prepare("SELECT value FROM property_meta WHERE name = ?1")?;
        let mut newest: Option<UnixTime> = None;
        for v in stmt.query_map([META_SERVER_TIME], |r| r.get::<_, Vec<u8>>(0))? {
            let b: [u8; 8] = v?.try_into().map_err(|_| StoreError::CorruptValue("server time".into()))?;
            let t = UnixTime(u64::from_be_bytes(b));
            newest = Some(newest.map_or(t, |n| n.max(t)));
        }
        Ok(newest)
    }

    /// `p`'s newest server time.
    pub fn last_server_time_of(&self, p: PropertyId) -> Result<Option<UnixTime>> {
        last_server_time_in(&self.conn, p)
    }

    // ---- trust material ------------------------------------------------------------------

    /// The primary property's authority keys.
    pub fn anchors(&self) -> Result<TrustAnchors> {
        self.anchors_of(self.primary()?)
    }

    /// `p`'s authority keys (empty for a property not synced yet).
    pub fn anchors_of(&self, p: PropertyId) -> Result<TrustAnchors> {
        let mut stmt = self.conn.prepare("SELECT public_key FROM anchors WHERE property = ?1 ORDER BY rowid")?;
        let keys = stmt
            .query_map([p.0], |r| r.get::<_, Vec<u8>>(0))?
            .map(|k| {
                let k = k?;
                let arr: [u8; 32] = k.try_into().map_err(|_| StoreError::CorruptValue("authority key".into()))?;
                Ok(keyway_protocol::credential::PublicKey(arr))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TrustAnchors::new(keys))
    }

    /// The primary property's certificate of `door`.
    pub fn door_cert(&self, door: DoorId) -> Result<Option<(String, DoorCertificate)>> {
        self.door_cert_of(self.primary()?, door)
    }

    pub fn door_cert_of(&self, p: PropertyId, door: DoorId) -> Result<Option<(String, DoorCertificate)>> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row("SELECT name, cert FROM door_certs WHERE property = ?1 AND door_id = ?2", [p.0, door.0], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(name, cert)| Ok((name, DoorCertificate::from_bytes(&cert)?))).transpose()
    }

    /// The primary property's door certificates.
    pub fn door_certs(&self) -> Result<Vec<(String, DoorCertificate)>> {
        self.door_certs_of(self.primary()?)
    }

    pub fn door_certs_of(&self, p: PropertyId) -> Result<Vec<(String, DoorCertificate)>> {
        Ok(self.all_door_certs()?.into_iter().filter(|(q, _, _)| *q == p).map(|(_, n, c)| (n, c)).collect())
    }

    /// Every property's door certificates, by property then door id.
    pub fn all_door_certs(&self) -> Result<Vec<(PropertyId, String, DoorCertificate)>> {
        let mut stmt = self.conn.prepare("SELECT property, name, cert FROM door_certs ORDER BY property, door_id")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
        rows.map(|row| {
            let (p, name, cert) = row?;
            Ok((PropertyId(p), name, DoorCertificate::from_bytes(&cert)?))
        })
        .collect()
    }

    // ---- keys ---------------------------------------------------------------------------------

    /// Stores a verified chain under the primary property (a store filled without a backend:
    /// tests, benches).
    pub fn put_key(&self, chain: &KeyChain, now: UnixTime) -> Result<()> {
        put_key(&self.conn, self.primary()?.0, chain, now)
    }

    /// Every key this device holds, of every property and every offer.
    pub fn keys(&self) -> Result<Vec<StoredKey>> {
        self.keys_where("1", [])
    }

    /// The keys `p`'s syncs brought.
    pub fn keys_of(&self, p: PropertyId) -> Result<Vec<StoredKey>> {
        self.keys_where("property = ?1", [i64::from(p.0)])
    }

    /// Keys not revoked whose window contains `now`: the only candidates for an unlock, found
    /// without decoding every chain the wallet holds.
    pub fn usable_keys(&self, now: UnixTime) -> Result<Vec<StoredKey>> {
        self.keys_where("revoked = 0 AND start <= ?1 AND expiry > ?1", [ts(now)])
    }

    fn keys_where<P: rusqlite::Params>(&self, filter: &str, params: P) -> Result<Vec<StoredKey>> {
        let sql = format!(
            "SELECT property, chain, revoked, received_at,
                    property = 0 AND EXISTS (SELECT 1 FROM offers o WHERE o.key_id = keys.key_id)
             FROM keys WHERE {filter} ORDER BY is_guest, start, property, key_id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (property, chain, revoked, received_at, offered) = row?;
            Ok(StoredKey {
                property: property_of(property),
                chain: KeyChain::from_bytes(&chain)?,
                revoked,
                received_at: from_ts(received_at),
                offered,
            })
        })
        .collect()
    }

    // ---- door updates ---------------------------------------------------------------------

    /// The primary property's pending updates for `door`.
    pub fn pending(&self, door: DoorId) -> Result<Option<PendingBatch>> {
        self.pending_of(self.primary()?, door)
    }

    pub fn pending_of(&self, p: PropertyId, door: DoorId) -> Result<Option<PendingBatch>> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT batch FROM pending_updates WHERE property = ?1 AND door_id = ?2", [p.0, door.0], |r| {
                r.get(0)
            })
            .optional()?;
        row.map(|batch| Ok(PendingBatch { property: p, door_id: door, batch: UpdateBatch::from_bytes(&batch)? }))
            .transpose()
    }

    /// The activity seq after which `p`'s `door` should send records: the newest the backend
    /// has, or the newest this device already holds in a receipt, whichever is higher.
    pub fn activity_after_of(&self, p: PropertyId, door: DoorId) -> Result<u64> {
        let backend: Option<i64> = self
            .conn
            .query_row(
                "SELECT backend_activity FROM door_state WHERE property = ?1 AND door_id = ?2",
                [p.0, door.0],
                |r| r.get(0),
            )
            .optional()?;
        let held: Option<i64> = self.conn.query_row(
            "SELECT MAX(activity_last) FROM receipts WHERE property = ?1 AND door_id = ?2 AND scope = 'property'",
            [p.0, door.0],
            |r| r.get(0),
        )?;
        Ok(backend.unwrap_or(0).max(held.unwrap_or(0)).max(0) as u64)
    }

    /// The primary property's [`Store::activity_after_of`].
    pub fn activity_after(&self, door: DoorId) -> Result<u64> {
        self.activity_after_of(self.primary()?, door)
    }

    /// Every property's pending updates, by property then door.
    pub fn all_pending(&self) -> Result<Vec<PendingBatch>> {
        let mut stmt =
            self.conn.prepare("SELECT property, door_id, batch FROM pending_updates ORDER BY property, door_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
        rows.map(|row| {
            let (p, door, batch) = row?;
            Ok(PendingBatch { property: PropertyId(p), door_id: DoorId(door), batch: UpdateBatch::from_bytes(&batch)? })
        })
        .collect()
    }

    /// The highest update seq the primary property's `door` has shown applied in a receipt.
    pub fn door_applied_seq(&self, door: DoorId) -> Result<u64> {
        self.door_applied_seq_of(self.primary()?, door)
    }

    pub fn door_applied_seq_of(&self, p: PropertyId, door: DoorId) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT applied_seq FROM door_state WHERE property = ?1 AND door_id = ?2", [p.0, door.0], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }

    /// [`Store::record_receipt_in`] for the primary property.
    pub fn record_receipt(&mut self, receipt: &Receipt, now: UnixTime) -> Result<()> {
        let p = self.primary()?;
        self.record_receipt_in(p, receipt, now)
    }

    /// Records what an unlock at `p`'s door brought back, atomically: the receipt goes into the
    /// outbox, the door's applied seq advances, and the carried batch is dropped only if the
    /// receipt proves every update in it applied (otherwise it stays for the next unlock).
    pub fn record_receipt_in(&mut self, p: PropertyId, receipt: &Receipt, now: UnixTime) -> Result<()> {
        let door = receipt.body.door_id;
        let applied = receipt.body.applied_seq;
        let tx = self.conn.transaction()?;
        let activity_last = receipt.body.activity.iter().map(|r| r.seq).max().unwrap_or(0);
        tx.execute(
            "INSERT OR IGNORE INTO receipts (property, door_id, receipt, applied_seq, created_at, activity_last)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![p.0, door.0, receipt.to_bytes(), seq(applied), ts(now), seq(activity_last)],
        )?;
        tx.execute(
            "INSERT INTO door_state (property, door_id, applied_seq) VALUES (?1, ?2, ?3)
             ON CONFLICT(property, door_id) DO UPDATE SET applied_seq = MAX(applied_seq, excluded.applied_seq)",
            params![p.0, door.0, seq(applied)],
        )?;
        tx.execute(
            "DELETE FROM pending_updates WHERE property = ?1 AND door_id = ?2 AND last_seq <= ?3",
            params![p.0, door.0, seq(applied)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every property's receipts not yet acknowledged (nor refused) by its backend, oldest first.
    pub fn receipts_to_upload(&self) -> Result<Vec<StoredReceipt>> {
        self.receipts_where("uploaded_at IS NULL AND set_aside IS NULL AND scope = 'property'")
    }

    /// `p`'s receipts waiting for its backend, oldest first.
    pub fn receipts_to_upload_of(&self, p: PropertyId) -> Result<Vec<StoredReceipt>> {
        Ok(self.receipts_to_upload()?.into_iter().filter(|r| r.property == Some(p)).collect())
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
            "SELECT id, door_id, receipt, created_at, uploaded_at, scope, set_aside, property
             FROM receipts WHERE {filter} ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                (r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?),
                (r.get::<_, i64>(3)?, r.get::<_, Option<i64>>(4)?),
                (r.get::<_, String>(5)?, r.get::<_, Option<String>>(6)?, r.get::<_, u32>(7)?),
            ))
        })?;
        rows.map(|row| {
            let ((id, door, receipt), (created, uploaded), (scope, set_aside, property)) = row?;
            Ok(StoredReceipt {
                id,
                property: property_of(property),
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

    /// Records a guest key shared under a key of `p`.
    pub fn add_issued_guest_key(&self, p: PropertyId, guest: &GuestKey, now: UnixTime) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO issued_guest_keys (key_id, parent, guest_key, issued_at, property)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![guest.body.key_id.0 as i64, guest.body.parent.0 as i64, guest.to_bytes(), ts(now), p.0],
        )?;
        Ok(())
    }

    /// Names the guest of an issued guest key (the name from their share request).
    pub fn set_issued_guest_label(&self, key: KeyId, label: &str) -> Result<()> {
        self.conn.execute("UPDATE issued_guest_keys SET label = ?2 WHERE key_id = ?1", params![key.0 as i64, label])?;
        Ok(())
    }

    pub fn mark_guest_key_registered(&self, key: KeyId) -> Result<()> {
        self.conn.execute("UPDATE issued_guest_keys SET registered = 1 WHERE key_id = ?1", [key.0 as i64])?;
        Ok(())
    }

    pub fn issued_guest_keys(&self) -> Result<Vec<IssuedGuestKey>> {
        let mut stmt = self.conn.prepare(
            "SELECT guest_key, registered, issued_at, property, label FROM issued_guest_keys ORDER BY issued_at, key_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (g, registered, issued, p, label) = row?;
            Ok(IssuedGuestKey {
                property: PropertyId(p),
                guest_key: GuestKey::from_bytes(&g)?,
                registered,
                issued_at: from_ts(issued),
                label,
            })
        })
        .collect()
    }

    // ---- sync -------------------------------------------------------------------------------

    /// Applies one verified sync to the primary property, recording a property with no backend
    /// first if the store has none (a store filled without a backend: tests, benches).
    pub fn apply_sync(&mut self, changes: &SyncChanges, now: UnixTime) -> Result<()> {
        let p = match self.primary_property()? {
            Some(p) => p,
            None => self.add_property("", None, None, now)?,
        };
        self.apply_sync_in(p, changes, now)
    }

    /// Applies one verified sync of `p` in a single transaction.
    pub fn apply_sync_in(&mut self, p: PropertyId, changes: &SyncChanges, now: UnixTime) -> Result<()> {
        let tx = self.conn.transaction()?;
        let id = p.0;
        if let Some(anchors) = &changes.anchors {
            tx.execute("DELETE FROM anchors WHERE property = ?1", [id])?;
            for key in anchors.keys() {
                let issuer = keyway_protocol::credential::AuthorityKeyId::of(&key.0);
                tx.execute(
                    "INSERT INTO anchors (property, issuer, public_key) VALUES (?1, ?2, ?3)",
                    params![id, &issuer.0[..], &key.0[..]],
                )?;
            }
        }
        for (name, cert) in &changes.door_certs {
            tx.execute(
                "INSERT INTO door_certs (property, door_id, name, cert) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(property, door_id) DO UPDATE SET name = excluded.name, cert = excluded.cert",
                params![id, cert.body.door_id.0, name, cert.to_bytes()],
            )?;
        }
        for chain in &changes.keys {
            // The property's own key wins over an offered one that claimed its id.
            let leaf = chain.leaf_key_id().0 as i64;
            tx.execute("DELETE FROM keys WHERE property = 0 AND key_id = ?1", [leaf])?;
            tx.execute("DELETE FROM offers WHERE key_id = ?1", [leaf])?;
            put_key(&tx, id, chain, now)?;
        }
        for key in &changes.revoked_keys {
            tx.execute("UPDATE keys SET revoked = 1 WHERE property = ?1 AND key_id = ?2", params![id, key.0 as i64])?;
        }
        for (door, head) in &changes.activity_heads {
            tx.execute(
                "INSERT INTO door_state (property, door_id, backend_activity) VALUES (?1, ?2, ?3)
                 ON CONFLICT(property, door_id)
                 DO UPDATE SET backend_activity = MAX(backend_activity, excluded.backend_activity)",
                params![id, door.0, seq(*head)],
            )?;
        }
        for (door, batch) in &changes.pending {
            match batch {
                Some(batch) => {
                    tx.execute(
                        "INSERT INTO pending_updates (property, door_id, batch, first_seq, last_seq)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(property, door_id) DO UPDATE SET batch = excluded.batch,
                             first_seq = excluded.first_seq, last_seq = excluded.last_seq",
                        params![id, door.0, batch.to_bytes(), seq(batch.body.first_seq), seq(batch.body.last_seq())],
                    )?;
                }
                None => {
                    tx.execute("DELETE FROM pending_updates WHERE property = ?1 AND door_id = ?2", [id, door.0])?;
                }
            }
        }
        for key in &changes.registered_guest_keys {
            tx.execute(
                "UPDATE issued_guest_keys SET registered = 1 WHERE property = ?1 AND key_id = ?2",
                params![id, key.0 as i64],
            )?;
        }
        if let Some(cursor) = &changes.cursor {
            set_property_meta_in(&tx, p, META_CURSOR, cursor.as_bytes())?;
        }
        if let Some(time) = &changes.time
            && time_statement_in(&tx, p)?.is_none_or(|held| held.body.time < time.body.time)
        {
            set_property_meta_in(&tx, p, META_TIME_STATEMENT, &time.to_bytes())?;
        }
        let newest = changes.server_time.max(last_server_time_in(&tx, p)?.unwrap_or(UnixTime::EPOCH));
        set_property_meta_in(&tx, p, META_SERVER_TIME, &newest.0.to_be_bytes())?;
        tx.commit()?;
        Ok(())
    }
}

fn property_meta_in(conn: &Connection, p: PropertyId, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row("SELECT value FROM property_meta WHERE property = ?1 AND name = ?2", params![p.0, name], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set_property_meta_in(conn: &Connection, p: PropertyId, name: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO property_meta (property, name, value) VALUES (?1, ?2, ?3)
         ON CONFLICT(property, name) DO UPDATE SET value = excluded.value",
        params![p.0, name, value],
    )?;
    Ok(())
}

/// `p`'s newest verified signed time (`None` before the first, or from a backend that signs
/// none). A stored value that no longer decodes is ignored, not an error: it is only ever an
/// aid for a door whose clock lags.
fn time_statement_in(conn: &Connection, p: PropertyId) -> Result<Option<TimeStatement>> {
    Ok(property_meta_in(conn, p, META_TIME_STATEMENT)?.and_then(|v| TimeStatement::from_bytes(&v).ok()))
}

fn last_server_time_in(conn: &Connection, p: PropertyId) -> Result<Option<UnixTime>> {
    let v = property_meta_in(conn, p, META_SERVER_TIME)?;
    Ok(v.and_then(|v| <[u8; 8]>::try_from(v).ok()).map(|b| UnixTime(u64::from_be_bytes(b))))
}

fn put_key(conn: &Connection, property: u32, chain: &KeyChain, now: UnixTime) -> Result<()> {
    let leaf = chain.leaf_key_id();
    let (validity, is_guest) = match chain.guest_link() {
        Some(g) => (g.body.validity, true),
        None => (chain.root().body.validity, false),
    };
    conn.execute(
        "INSERT INTO keys (property, key_id, chain, is_guest, start, expiry, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(property, key_id) DO UPDATE SET chain = excluded.chain, start = excluded.start,
             expiry = excluded.expiry",
        params![property, leaf.0 as i64, chain.to_bytes(), is_guest, ts(validity.start), ts(validity.expiry), ts(now)],
    )?;
    Ok(())
}
