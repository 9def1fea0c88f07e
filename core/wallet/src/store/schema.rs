//! The wallet's schema, as an ordered list of migrations (`PRAGMA user_version` tracks where a
//! database stands). Never edit a released migration: append a new one, and extend
//! `tests::every_version_upgrades_to_latest`.

use rusqlite_migration::{M, Migrations};

const V1: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE anchors (
    issuer     BLOB PRIMARY KEY,
    public_key BLOB NOT NULL
) STRICT;
CREATE TABLE door_certs (
    door_id INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    cert    BLOB NOT NULL
) STRICT;
-- Every key chain this device can present: its own keys and guest keys shared with it.
CREATE TABLE keys (
    key_id      INTEGER PRIMARY KEY,
    chain       BLOB NOT NULL,
    is_guest    INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    expiry      INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL
) STRICT;
-- Per door: the newest signed batch of pending door updates the backend asked us to carry.
CREATE TABLE pending_updates (
    door_id        INTEGER PRIMARY KEY,
    batch          BLOB NOT NULL,
    first_seq      INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL
) STRICT;
-- Outbox: door receipts not yet acknowledged by the backend.
CREATE TABLE receipts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    door_id     INTEGER NOT NULL,
    receipt     BLOB NOT NULL UNIQUE,
    applied_seq INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
";

/// v2: guest keys this device issued (so the resident can list and register them), what is
/// known of each door (highest update seq applied, highest activity seq the backend has), and
/// receipts kept after upload (an archive flag) with the last activity seq each carried.
const V2: &str = "
CREATE TABLE issued_guest_keys (
    key_id     INTEGER PRIMARY KEY,
    parent     INTEGER NOT NULL,
    guest_key  BLOB NOT NULL,
    registered INTEGER NOT NULL DEFAULT 0,
    issued_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE door_state (
    door_id          INTEGER PRIMARY KEY,
    applied_seq      INTEGER NOT NULL DEFAULT 0,
    backend_activity INTEGER NOT NULL DEFAULT 0
) STRICT;
ALTER TABLE receipts ADD COLUMN uploaded_at INTEGER;
ALTER TABLE receipts ADD COLUMN activity_last INTEGER NOT NULL DEFAULT 0;
CREATE INDEX receipts_pending ON receipts (uploaded_at) WHERE uploaded_at IS NULL;
";

/// v3: trust that arrived with a guest-key offer, kept with the offered key alone (never merged
/// into the property's anchors or door certificates); receipts by scope (a door known only from
/// an offer is not the property's, so its receipts are never uploaded) and receipts the backend
/// refused, set aside with its reason instead of being retried forever.
const V3: &str = "
CREATE TABLE offers (
    key_id      INTEGER PRIMARY KEY,
    offer       BLOB NOT NULL,
    accepted_at INTEGER NOT NULL
) STRICT;
ALTER TABLE receipts ADD COLUMN scope TEXT NOT NULL DEFAULT 'property' CHECK (scope IN ('property', 'offer'));
ALTER TABLE receipts ADD COLUMN set_aside TEXT;
";

/// v4: key certificates of format 1 carried no freshness (revalidation windows), and doors
/// refuse them. They cannot be upgraded here (only the authority can sign), so the property's
/// own are dropped and come back re-issued with the next sync, which is a full one (the cursor
/// is forgotten); a guest key offered with one is dropped with its offer (it must be offered
/// again). Byte 2 of a stored chain is its root certificate's format version.
const V4: &str = "
DELETE FROM offers WHERE key_id IN (SELECT key_id FROM keys WHERE substr(chain, 2, 1) = x'01');
DELETE FROM keys WHERE substr(chain, 2, 1) = x'01';
DELETE FROM meta WHERE name = 'sync_cursor';
";

/// v5: several properties in one wallet. A property is one backend (its URL and, when known,
/// its own property id) with its authority keys; everything a property's sync brings is kept
/// under its local id, and ids that only the property assigns (key ids, door ids) are unique
/// per property, not per wallet. The v4 wallet's data becomes property 1 (the device token and
/// backend address in secure storage keep their v4 names for it); offered keys and the
/// receipts of doors known only from offers belong to no property (0). Per-property meta
/// (cursor, server time, signed time, person, replaced keys) moves to `property_meta`.
const V5: &str = "
CREATE TABLE properties (
    id          INTEGER PRIMARY KEY,
    backend_url TEXT NOT NULL,
    remote_id   INTEGER,
    name        TEXT,
    joined_at   INTEGER NOT NULL,
    UNIQUE (backend_url, remote_id)
) STRICT;
INSERT INTO properties (id, backend_url, joined_at)
SELECT 1, COALESCE((SELECT CAST(value AS TEXT) FROM meta WHERE name = 'backend_url'), ''), 0
WHERE EXISTS (SELECT 1 FROM meta WHERE name = 'backend_url')
   OR EXISTS (SELECT 1 FROM anchors)
   OR EXISTS (SELECT 1 FROM keys WHERE key_id NOT IN (SELECT key_id FROM offers));

CREATE TABLE property_meta (
    property INTEGER NOT NULL,
    name     TEXT NOT NULL,
    value    BLOB NOT NULL,
    PRIMARY KEY (property, name)
) STRICT;
INSERT INTO property_meta (property, name, value)
SELECT 1, name, value FROM meta
WHERE name IN ('sync_cursor', 'last_server_time', 'time_statement', 'person_id') OR name LIKE 'replaced_by/%';
DELETE FROM meta
WHERE name IN ('sync_cursor', 'last_server_time', 'time_statement', 'person_id', 'backend_url')
   OR name LIKE 'replaced_by/%';

CREATE TABLE anchors_v5 (
    property   INTEGER NOT NULL,
    issuer     BLOB NOT NULL,
    public_key BLOB NOT NULL,
    PRIMARY KEY (property, issuer)
) STRICT;
INSERT INTO anchors_v5 SELECT 1, issuer, public_key FROM anchors;
DROP TABLE anchors;
ALTER TABLE anchors_v5 RENAME TO anchors;

CREATE TABLE door_certs_v5 (
    property INTEGER NOT NULL,
    door_id  INTEGER NOT NULL,
    name     TEXT NOT NULL,
    cert     BLOB NOT NULL,
    PRIMARY KEY (property, door_id)
) STRICT;
INSERT INTO door_certs_v5 SELECT 1, door_id, name, cert FROM door_certs;
DROP TABLE door_certs;
ALTER TABLE door_certs_v5 RENAME TO door_certs;

CREATE TABLE keys_v5 (
    property    INTEGER NOT NULL,
    key_id      INTEGER NOT NULL,
    chain       BLOB NOT NULL,
    is_guest    INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    expiry      INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (property, key_id)
) STRICT;
INSERT INTO keys_v5
SELECT CASE WHEN key_id IN (SELECT key_id FROM offers) THEN 0 ELSE 1 END,
       key_id, chain, is_guest, start, expiry, revoked, received_at
FROM keys;
DROP TABLE keys;
ALTER TABLE keys_v5 RENAME TO keys;

CREATE TABLE pending_updates_v5 (
    property  INTEGER NOT NULL,
    door_id   INTEGER NOT NULL,
    batch     BLOB NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (property, door_id)
) STRICT;
INSERT INTO pending_updates_v5 SELECT 1, door_id, batch, first_seq, last_seq FROM pending_updates;
DROP TABLE pending_updates;
ALTER TABLE pending_updates_v5 RENAME TO pending_updates;

CREATE TABLE door_state_v5 (
    property         INTEGER NOT NULL,
    door_id          INTEGER NOT NULL,
    applied_seq      INTEGER NOT NULL DEFAULT 0,
    backend_activity INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (property, door_id)
) STRICT;
INSERT INTO door_state_v5 SELECT 1, door_id, applied_seq, backend_activity FROM door_state;
DROP TABLE door_state;
ALTER TABLE door_state_v5 RENAME TO door_state;

ALTER TABLE receipts ADD COLUMN property INTEGER NOT NULL DEFAULT 1;
UPDATE receipts SET property = 0 WHERE scope = 'offer';
ALTER TABLE issued_guest_keys ADD COLUMN property INTEGER NOT NULL DEFAULT 1;
";

/// v6: resume tickets (unlock v2's repeat unlock), one per property, door and key; the
/// secret is stored masked with a pad from the device key (see `ResumeTicket::masked_secret`).
const V6: &str = "
CREATE TABLE resume_tickets (
    property  INTEGER NOT NULL,
    door_id   INTEGER NOT NULL,
    key_id    INTEGER NOT NULL,
    ticket    BLOB NOT NULL CHECK (length(ticket) = 16),
    masked    BLOB NOT NULL CHECK (length(masked) = 32),
    issued_at INTEGER NOT NULL,
    PRIMARY KEY (property, door_id, key_id)
) STRICT;
";

/// v7: the guest's name from the share request, sent with the guest key's registration so the
/// backend files the guest's activity under it (`NULL` for keys shared before, or with none).
const V7: &str = "
ALTER TABLE issued_guest_keys ADD COLUMN label TEXT;
";

const MIGRATIONS_SLICE: &[M<'static>] = &[M::up(V1), M::up(V2), M::up(V3), M::up(V4), M::up(V5), M::up(V6), M::up(V7)];

pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS_SLICE)
}

pub const LATEST_VERSION: usize = MIGRATIONS_SLICE.len();

/// Every table of the latest schema ([`super::Store::wipe`] empties them all; a test checks
/// the list against the database).
pub const TABLES: &[&str] = &[
    "meta",
    "anchors",
    "door_certs",
    "keys",
    "pending_updates",
    "receipts",
    "issued_guest_keys",
    "door_state",
    "offers",
    "properties",
    "property_meta",
    "resume_tickets",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OptionalExtension};

    #[test]
    fn tables_lists_every_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let mut stmt =
            conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").unwrap();
        let mut found: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        found.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed);
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    /// Builds a database at every earlier version with data in it, upgrades it to the latest
    /// and checks nothing was lost.
    #[test]
    fn every_version_upgrades_to_latest() {
        // Versions before 5 held one property; v5's own data is checked below.
        for from in 1..5 {
            let mut conn = Connection::open_in_memory().unwrap();
            migrations().to_version(&mut conn, from).unwrap();
            conn.execute("INSERT INTO meta (name, value) VALUES ('cursor', x'0102')", []).unwrap();
            conn.execute(
                "INSERT INTO receipts (door_id, receipt, applied_seq, created_at) VALUES (7, x'aa', 3, 100)",
                [],
            )
            .unwrap();
            conn.execute("INSERT INTO pending_updates VALUES (7, x'bb', 4, 6)", []).unwrap();
            // A chain whose root certificate is format 1, and one of format 2.
            conn.execute("INSERT INTO keys VALUES (1, x'0101aa', 0, 0, 10, 0, 5), (2, x'0102bb', 0, 0, 10, 0, 5)", [])
                .unwrap();
            conn.execute("INSERT INTO meta (name, value) VALUES ('sync_cursor', x'0304')", []).unwrap();
            migrations().to_latest(&mut conn).unwrap();
            let kept: Vec<i64> = conn
                .prepare("SELECT key_id FROM keys ORDER BY key_id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            if from < 4 {
                assert_eq!(kept, vec![2], "a format 1 certificate is dropped, to come back re-issued");
            }
            let cursor: Option<Vec<u8>> =
                conn.query_row("SELECT value FROM meta WHERE name='sync_cursor'", [], |r| r.get(0)).optional().unwrap();
            if from < 4 {
                assert_eq!(cursor, None, "the next sync is a full one");
            }
            let cursor: Vec<u8> =
                conn.query_row("SELECT value FROM meta WHERE name='cursor'", [], |r| r.get(0)).unwrap();
            assert_eq!(cursor, vec![1, 2]);
            let (seq, uploaded): (i64, Option<i64>) = conn
                .query_row("SELECT applied_seq, uploaded_at FROM receipts WHERE door_id=7", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!((seq, uploaded), (3, None), "an upgraded receipt is still waiting for upload");
            let last: i64 =
                conn.query_row("SELECT last_seq FROM pending_updates WHERE door_id=7", [], |r| r.get(0)).unwrap();
            assert_eq!(last, 6);
            let (scope, set_aside): (String, Option<String>) = conn
                .query_row("SELECT scope, set_aside FROM receipts WHERE door_id=7", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            assert_eq!((scope.as_str(), set_aside), ("property", None), "an upgraded receipt is the property's");
            let property: i64 =
                conn.query_row("SELECT property FROM receipts WHERE door_id=7", [], |r| r.get(0)).unwrap();
            assert_eq!(property, 1, "a one-property wallet's data becomes property 1");
            if from == 4 {
                let moved: Vec<u8> = conn
                    .query_row("SELECT value FROM property_meta WHERE property = 1 AND name = 'sync_cursor'", [], |r| {
                        r.get(0)
                    })
                    .unwrap();
                assert_eq!(moved, vec![3, 4], "the cursor is property 1's now");
            }
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(version as usize, LATEST_VERSION);
        }
    }

    /// A version-5 wallet with two properties upgrades with everything of both, and with no
    /// resume ticket (the first unlock at each door after the upgrade is a full one).
    #[test]
    fn version_5_upgrades_with_its_properties() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations().to_version(&mut conn, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO properties (id, backend_url, joined_at) VALUES (1, 'http://a', 0), (2, 'http://b', 0);
             INSERT INTO keys VALUES (1, 1, x'0102aa', 0, 0, 10, 0, 5), (2, 1, x'0102bb', 0, 0, 10, 0, 5);
             INSERT INTO pending_updates VALUES (2, 7, x'bb', 4, 6);",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let keys: i64 = conn.query_row("SELECT count(*) FROM keys", [], |r| r.get(0)).unwrap();
        assert_eq!(keys, 2);
        let last: i64 = conn
            .query_row("SELECT last_seq FROM pending_updates WHERE property = 2 AND door_id = 7", [], |r| r.get(0))
            .unwrap();
        assert_eq!(last, 6);
        let tickets: i64 = conn.query_row("SELECT count(*) FROM resume_tickets", [], |r| r.get(0)).unwrap();
        assert_eq!(tickets, 0);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version as usize, LATEST_VERSION);
    }
}
