//! SQLite storage: one connection behind a mutex, schema migrations, and one transaction per
//! request (committed only if the request succeeds, so a refusal never leaves a partial write).
//! The connection carries the secret key's seal and unseal functions (see [`crate::sealed`]).

use crate::error::{AppError, AppResult};
use crate::sealed::{self, Purpose, Sealer};
use crate::secret_key::{self, KeyError, SecretKeySource};
use rusqlite::{Connection, OptionalExtension, Transaction};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::sync::{Arc, Mutex};

const SCHEMA_V1: &str = include_str!("schema_v1.sql");
/// Guest keys registered per parent key: their ids are only unique under it.
const SCHEMA_V2: &str = include_str!("schema_v2.sql");
/// The door feed, numbering above the door's own seq, rejected updates.
const SCHEMA_V3: &str = include_str!("schema_v3.sql");
/// Secrets sealed under the secret key; operators.
const SCHEMA_V4: &str = include_str!("schema_v4.sql");
/// Manager tokens expire.
const SCHEMA_V5: &str = include_str!("schema_v5.sql");
/// Secure keycards: the property's card key (sealed), doors that read secure cards, card kinds.
const SCHEMA_V6: &str = include_str!("schema_v6.sql");
/// Key certificates fresh for the property's revalidation window.
const SCHEMA_V7: &str = include_str!("schema_v7.sql");
/// Several devices per person, a certificate per device, device codes.
const SCHEMA_V8: &str = include_str!("schema_v8.sql");
/// Authority rotation; door certificates expire (the hook re-signs version-1 ones).
const SCHEMA_V9: &str = include_str!("schema_v9.sql");
/// Webhooks: endpoints, the event outbox, deliveries.
const SCHEMA_V10: &str = include_str!("schema_v10.sql");
/// The first schema version whose secrets are sealed.
const SEALED_SINCE: i64 = 4;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(SCHEMA_V1),
        M::up(SCHEMA_V2),
        M::up(SCHEMA_V3),
        M::up(SCHEMA_V4),
        M::up(SCHEMA_V5),
        M::up(SCHEMA_V6),
        M::up(SCHEMA_V7),
        M::up(SCHEMA_V8),
        M::up_with_hook(SCHEMA_V9, |tx: &rusqlite::Transaction| {
            crate::door_certs::upgrade_v1(tx, keyway_api::clock::now())
                .map(|_| ())
                .map_err(rusqlite_migration::HookError::Hook)
        }),
        M::up(SCHEMA_V10),
    ])
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot migrate the database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("the database holds {0} references to rows that do not exist")]
    Dangling(i64),
    #[error(transparent)]
    SecretKey(#[from] KeyError),
    #[error("the database's secrets are sealed but its key check value is missing or damaged")]
    KeyCheck,
}

#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    /// Opens (creating and migrating if needed) the database at `path`, with the secret key from
    /// `key`. A key that does not open the database's secrets is refused here, before any request.
    pub fn open(path: &Path, key: &SecretKeySource) -> Result<Self, OpenError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Overwrite what is deleted or replaced: a clear secret sealed by the migration leaves
        // no copy in free space.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let check = Self::key_check(&conn)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let key = secret_key::resolve(key, path, check.is_some() || version >= SEALED_SINCE)?;
        let sealer = Arc::new(Sealer::new(&key));
        if let Some(check) = &check {
            sealer.open(Purpose::KeyCheck, 0, check).map_err(|_| KeyError::Wrong)?;
        }
        sealed::install(&conn, sealer.clone())?;
        // Migrations run with foreign keys off (a table rebuild drops a referenced table), as
        // SQLite prescribes, and are checked for dangling references before any request.
        migrations().to_latest(&mut conn)?;
        let dangling: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
        if dangling > 0 {
            return Err(OpenError::Dangling(dangling));
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let check = Self::key_check(&conn)?.ok_or(OpenError::KeyCheck)?;
        sealer.open(Purpose::KeyCheck, 0, &check).map_err(|_| OpenError::KeyCheck)?;
        Self::ensure_instance_id(&conn)?;
        Ok(Db(Arc::new(Mutex::new(conn))))
    }

    /// The sealed key check value, if the database has one.
    fn key_check(conn: &Connection) -> Result<Option<Vec<u8>>, OpenError> {
        let has_meta: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )?;
        if !has_meta {
            return Ok(None);
        }
        let value: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE name = 'secret_key_check'", [], |r| r.get(0)).optional()?;
        value.map(|v| hex::decode(v).map_err(|_| OpenError::KeyCheck)).transpose()
    }

    /// A random id of this database, part of every sync cursor: a cursor from another
    /// database (or one restored from elsewhere) is unknown and gives a full sync.
    fn ensure_instance_id(conn: &Connection) -> Result<(), rusqlite::Error> {
        let id = crate::auth::random_hex(8);
        conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('instance_id', ?1)", [id])?;
        Ok(())
    }

    /// Records the URL this server is reached at (`ServerOptions::public_url`), which the
    /// welcome messages name ([`public_url`]). Set at every start.
    pub async fn set_public_url(&self, url: &str) -> AppResult<()> {
        let url = url.to_string();
        self.run(move |tx| {
            tx.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('public_url', ?1)", [url])?;
            Ok(())
        })
        .await
    }

    /// Runs `f` in a transaction on a blocking thread; commits only if `f` succeeds.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> AppResult<T> + Send + 'static,
    {
        let conn = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable: its transaction
            // was rolled back when dropped.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let tx = conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "request worker failed");
            AppError::internal("request worker failed")
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_key::SecretKey;

    #[test]
    fn migrations_run_on_an_empty_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        sealed::install(&conn, Arc::new(Sealer::new(&SecretKey::generate()))).unwrap();
        migrations().to_latest(&mut conn).unwrap();
    }

    /// The upgrade gives existing manager tokens the default lifetime, written out in SQL.
    #[test]
    fn the_token_expiry_migration_uses_the_default_lifetime() {
        let days = crate::ServerOptions::DEFAULT_MANAGER_TOKEN_LIFETIME.as_secs() / 86_400;
        assert!(SCHEMA_V5.contains(&format!("+ {days} * 86400;")), "{SCHEMA_V5}");
    }

    /// A database at schema version 4 with a property and two managers, whose tokens never
    /// expired: the upgrade gives each the default lifetime from the time of the upgrade, and the
    /// tokens work until then.
    #[test]
    fn a_database_at_v4_upgrades_its_manager_tokens_to_the_default_lifetime() {
        use crate::auth::{self, Bearer};
        let mut conn = Connection::open_in_memory().unwrap();
        sealed::install(&conn, Arc::new(Sealer::new(&SecretKey::generate()))).unwrap();
        migrations().to_version(&mut conn, 4).unwrap();
        let hash = |t: &str| auth::token_hash(t);
        conn.execute_batch(
            "INSERT INTO properties (id, name, authority_secret, utc_offset_minutes, created_at)
             VALUES (1, 'Elm Court', keyway_seal('authority_secret', 1, zeroblob(32)), 0, 1700000000);",
        )
        .unwrap();
        for (name, token) in [("Pat", "mgr_pat"), ("Sam", "mgr_sam")] {
            conn.execute(
                "INSERT INTO managers (property_id, name, token_hash, portfolio_manager, key_management, created_at)
                 VALUES (1, ?1, ?2, 1, 1, 1700000000)",
                rusqlite::params![name, hash(token)],
            )
            .unwrap();
        }
        let before = keyway_api::clock::now().0;
        migrations().to_latest(&mut conn).unwrap();
        let after = keyway_api::clock::now().0;
        let lifetime = crate::ServerOptions::DEFAULT_MANAGER_TOKEN_LIFETIME.as_secs();
        let tx = conn.transaction().unwrap();
        for token in ["mgr_pat", "mgr_sam"] {
            let expires_at: u64 = tx
                .query_row("SELECT token_expires_at FROM managers WHERE token_hash = ?1", [hash(token)], |r| r.get(0))
                .unwrap();
            assert!((before + lifetime..=after + lifetime).contains(&expires_at), "{token}: {expires_at}");
            let bearer = Bearer(token.to_string());
            let manager = auth::manager(&tx, &bearer, keyway_api::clock::now()).unwrap();
            assert_eq!(manager.property_id, 1);
            let lapsed = auth::manager(&tx, &bearer, keyway_protocol::UnixTime(expires_at)).unwrap_err();
            assert_eq!(lapsed.body.message, auth::MANAGER_TOKEN_EXPIRED);
        }
    }

    /// A database at schema version 8 holds version-1 door certificates (no expiry): the
    /// upgrade re-signs each as version 2, by the property's authority key, for the same door
    /// key, expiring a certificate lifetime after the upgrade.
    #[test]
    fn a_database_at_v8_gets_expiring_door_certificates() {
        use keyway_protocol::credential::{
            AuthorityKeyId, DoorCertBodyV1, DoorCertificate, DoorId, KeyPair, Signed, SignedBody, TrustAnchors,
        };
        let mut conn = Connection::open_in_memory().unwrap();
        sealed::install(&conn, Arc::new(Sealer::new(&SecretKey::generate()))).unwrap();
        migrations().to_version(&mut conn, 8).unwrap();
        conn.execute_batch(
            "INSERT INTO properties (id, name, authority_secret, utc_offset_minutes, created_at)
             VALUES (1, 'Elm Court', keyway_seal('authority_secret', 1, zeroblob(32)), 0, 1700000000);",
        )
        .unwrap();
        let authority = KeyPair::from_secret(&[0; 32]);
        let issuer = AuthorityKeyId::of(&authority.public().0);
        let door_key = KeyPair::generate();
        let v1 = Signed::sign(
            DoorCertBodyV1 {
                version: DoorCertBodyV1::VERSION,
                door_id: DoorId(1),
                door_key: door_key.public(),
                issuer,
            },
            &authority,
        );
        conn.execute(
            "INSERT INTO doors (id, property_id, name, online, certificate, doorcode_secret, created_at)
             VALUES (1, 1, 'Front door', 0, ?1, keyway_seal('doorcode_secret', 1, zeroblob(32)), 1700000000)",
            [v1.to_bytes()],
        )
        .unwrap();
        assert!(DoorCertificate::from_bytes(&v1.to_bytes()).is_err(), "a version-1 certificate is refused as such");
        let before = keyway_api::clock::now();
        migrations().to_latest(&mut conn).unwrap();
        let bytes: Vec<u8> = conn.query_row("SELECT certificate FROM doors WHERE id = 1", [], |r| r.get(0)).unwrap();
        let cert = DoorCertificate::from_bytes(&bytes).unwrap();
        assert_eq!(cert.verify(&TrustAnchors::new([authority.public()])), Ok(door_key.public()));
        let lifetime = crate::door_certs::LIFETIME_SECS;
        assert!(cert.body.expires >= before.saturating_add_secs(lifetime), "{}", cert.body.expires);
        assert!(cert.body.expires <= keyway_api::clock::now().saturating_add_secs(lifetime));
    }

    /// A database at schema version 9 with a property, a manager and a door: the upgrade adds
    /// the webhook tables, an endpoint registered after it gets the events emitted in the
    /// domain change's transaction (and none of a rolled-back one), and a door silent past the
    /// endpoint's threshold is reported once per silence.
    #[test]
    fn a_database_at_v9_gets_webhooks() {
        use crate::webhooks;
        let mut conn = Connection::open_in_memory().unwrap();
        sealed::install(&conn, Arc::new(Sealer::new(&SecretKey::generate()))).unwrap();
        migrations().to_version(&mut conn, 9).unwrap();
        conn.execute_batch(
            "INSERT INTO properties (id, name, authority_secret, utc_offset_minutes, created_at)
             VALUES (1, 'Elm Court', keyway_seal('authority_secret', 1, zeroblob(32)), 0, 1700000000);
             INSERT INTO managers (id, property_id, name, token_hash, portfolio_manager, key_management, created_at, token_expires_at)
             VALUES (1, 1, 'Pat', x'00', 1, 1, 1700000000, 1800000000);
             INSERT INTO doors (id, property_id, name, online, certificate, doorcode_secret, created_at)
             VALUES (1, 1, 'Front door', 0, x'00', keyway_seal('doorcode_secret', 1, zeroblob(32)), 1700000000);",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let manager = crate::auth::Manager { id: 1, property_id: 1, portfolio_manager: true, key_management: true };
        let now = keyway_protocol::UnixTime(1_700_000_100);
        let tx = conn.transaction().unwrap();
        let req = webhooks::CreateWebhookRequest {
            url: "https://pms.example.com/hook".into(),
            events: None,
            door_silent_after_secs: Some(3600),
        };
        let created = webhooks::create(&tx, &manager, req, false, now).unwrap();
        assert!(created.secret.starts_with("whsec_"));
        let stored: Vec<u8> = tx.query_row("SELECT secret FROM webhook_endpoints", [], |r| r.get(0)).unwrap();
        assert!(!stored.windows(created.secret.len()).any(|w| w == created.secret.as_bytes()), "sealed at rest");
        tx.commit().unwrap();
        // A change that is rolled back leaves no event behind.
        let tx = conn.transaction().unwrap();
        webhooks::emit(&tx, 1, webhooks::PERSON_DELETED, serde_json::json!({"person_id": 9}), now).unwrap();
        drop(tx);
        let tx = conn.transaction().unwrap();
        webhooks::emit(&tx, 1, webhooks::PERSON_INVITED, serde_json::json!({"person_id": 7}), now).unwrap();
        // Silent since its provisioning: not yet at +1 h - 1 s, reported at +1 h, once.
        webhooks::find_silent_doors(&tx, keyway_protocol::UnixTime(1_700_000_000 + 3599)).unwrap();
        webhooks::find_silent_doors(&tx, keyway_protocol::UnixTime(1_700_000_000 + 3600)).unwrap();
        webhooks::find_silent_doors(&tx, keyway_protocol::UnixTime(1_700_000_000 + 7200)).unwrap();
        tx.commit().unwrap();
        let tx = conn.transaction().unwrap();
        let log = webhooks::deliveries(&tx, &manager, created.endpoint.webhook_id).unwrap();
        let kinds: Vec<&str> = log.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, [webhooks::PERSON_INVITED, webhooks::DOOR_SILENT]);
        assert!(log.iter().all(|d| d.state == "pending" && d.attempts == 0));
        let data: String =
            tx.query_row("SELECT data FROM webhook_events WHERE type = 'door.silent'", [], |r| r.get(0)).unwrap();
        assert!(data.contains("\"silent_for_secs\":3600"), "{data}");
    }

    #[test]
    fn the_sealing_migration_needs_the_key() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(migrations().to_latest(&mut conn).is_err());
    }
}
