//! SQLite storage: one connection behind a mutex, schema migrations, and one transaction per
//! request (committed only if the request succeeds, so a refusal never leaves a partial write).

use crate::error::{AppError, AppResult};
use rusqlite::{Connection, Transaction};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::sync::{Arc, Mutex};

const SCHEMA_V1: &str = include_str!("schema_v1.sql");
/// Guest keys registered per parent key: their ids are only unique under it.
const SCHEMA_V2: &str = include_str!("schema_v2.sql");
/// The door feed, numbering above the door's own seq, rejected updates.
const SCHEMA_V3: &str = include_str!("schema_v3.sql");

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(SCHEMA_V1), M::up(SCHEMA_V2), M::up(SCHEMA_V3)])
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot migrate the database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
}

#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations().to_latest(&mut conn)?;
        Self::ensure_instance_id(&conn)?;
        Ok(Db(Arc::new(Mutex::new(conn))))
    }

    /// A random id of this database, part of every sync cursor: a cursor from another
    /// database (or one restored from elsewhere) is unknown and gives a full sync.
    fn ensure_instance_id(conn: &Connection) -> Result<(), rusqlite::Error> {
        let id = crate::auth::random_hex(8);
        conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('instance_id', ?1)", [id])?;
        Ok(())
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

    #[test]
    fn migrations_are_valid() {
        assert!(migrations().validate().is_ok());
    }
}
