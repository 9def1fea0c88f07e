//! Secrets at rest: the authority secret, the doorcode secrets and the card key are sealed with
//! XChaCha20-Poly1305 under the secret key (see [`crate::secret_key`]), with a random nonce per
//! value and the row they belong to as associated data, so a sealed value copied to another row
//! or column does not open.
//!
//! SQL reaches the key only through two functions registered on the connection, which is how
//! every transaction of this connection (and the schema migration) can seal and open without
//! the key being stored anywhere in the database:
//! `keyway_seal(purpose, row_id, clear)` and `keyway_unseal(purpose, row_id, sealed)`.

use crate::error::AppError;
use crate::secret_key::SecretKey;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Format of a sealed value: `VERSION || nonce (24 bytes) || ciphertext || tag (16 bytes)`.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The message of a sealed value that does not open; SQLite hands it back as the error's text.
const UNOPENABLE: &str = "a sealed value does not open: another key, another row, or damaged";

/// What a sealed value is; with the row's id, it is the value's associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `properties.authority_secret`, by property id.
    AuthoritySecret,
    /// `doors.doorcode_secret`, by door id.
    DoorcodeSecret,
    /// `properties.card_key`, by property id.
    CardKey,
    /// `meta.secret_key_check`, row 0: proves at open that the key is this database's.
    KeyCheck,
    /// `authority_rotations.new_secret`, by rotation id: the successor authority key until
    /// Mission Control switches to it.
    RotationSecret,
    /// `webhook_endpoints.secret`, by endpoint id: the key its deliveries are signed with.
    WebhookSecret,
}

impl Purpose {
    /// The name SQL passes as `purpose`.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::AuthoritySecret => "authority_secret",
            Purpose::DoorcodeSecret => "doorcode_secret",
            Purpose::CardKey => "card_key",
            Purpose::KeyCheck => "key_check",
            Purpose::RotationSecret => "rotation_secret",
            Purpose::WebhookSecret => "webhook_secret",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Purpose::AuthoritySecret,
            Purpose::DoorcodeSecret,
            Purpose::CardKey,
            Purpose::KeyCheck,
            Purpose::RotationSecret,
            Purpose::WebhookSecret,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }

    fn column(self) -> &'static str {
        match self {
            Purpose::AuthoritySecret => "properties.authority_secret",
            Purpose::DoorcodeSecret => "doors.doorcode_secret",
            Purpose::CardKey => "properties.card_key",
            Purpose::KeyCheck => "meta.secret_key_check",
            Purpose::RotationSecret => "authority_rotations.new_secret",
            Purpose::WebhookSecret => "webhook_endpoints.secret",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("unknown kind of sealed value {0:?}")]
    Purpose(String),
    #[error("{UNOPENABLE}")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// The cipher under the secret key.
pub struct Sealer(XChaCha20Poly1305);

impl Sealer {
    pub fn new(key: &SecretKey) -> Self {
        Sealer(XChaCha20Poly1305::new(key.as_bytes().into()))
    }

    pub fn seal(&self, purpose: Purpose, row_id: i64, clear: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let aad = associated_data(purpose, row_id);
        let sealed = self
            .0
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: clear, aad: &aad })
            .map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, purpose: Purpose, row_id: i64, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let aad = associated_data(purpose, row_id);
        self.0
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }
}

fn associated_data(purpose: Purpose, row_id: i64) -> Vec<u8> {
    format!("keyway-mission-control:{}:{row_id}", purpose.column()).into_bytes()
}

/// Registers `keyway_seal` and `keyway_unseal` on `conn`. They may only be called from SQL
/// statements themselves (not from triggers or views a tampered schema might add).
pub fn install(conn: &Connection, sealer: Arc<Sealer>) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    let for_seal = sealer.clone();
    conn.create_scalar_function("keyway_seal", 3, flags, move |ctx| {
        let (purpose, row_id) = (purpose_arg(ctx)?, ctx.get::<i64>(1)?);
        let clear = ctx.get_raw(2).as_blob().map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
        for_seal.seal(purpose, row_id, clear).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))
    })?;
    conn.create_scalar_function("keyway_unseal", 3, flags | FunctionFlags::SQLITE_DETERMINISTIC, move |ctx| {
        let (purpose, row_id) = (purpose_arg(ctx)?, ctx.get::<i64>(1)?);
        let stored = ctx.get_raw(2).as_blob().map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
        let clear = sealer.open(purpose, row_id, stored).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
        Ok(clear.to_vec())
    })
}

fn purpose_arg(ctx: &rusqlite::functions::Context<'_>) -> rusqlite::Result<Purpose> {
    let name = ctx.get::<String>(0)?;
    Purpose::parse(&name).ok_or_else(|| rusqlite::Error::UserFunctionError(SealError::Purpose(name).into()))
}

/// Whether `e` is a sealed value that did not open (rather than any other storage error).
pub fn is_unopenable(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(message)) if message == UNOPENABLE)
}

/// The refusal for a query that opens `what`: a sealed value that does not open is named as
/// such (and logged), any other error is a storage error.
pub fn refused(e: rusqlite::Error, what: &str) -> AppError {
    if is_unopenable(&e) {
        tracing::error!(error = %e, "{what} does not open under the secret key");
        return AppError::internal(format!("{what} cannot be opened with this server's secret key"));
    }
    AppError::from(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&SecretKey::generate())
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_row_and_purpose_under_its_key() {
        let s = sealer();
        let sealed = s.seal(Purpose::DoorcodeSecret, 7, &[9; 32]).unwrap();
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 32 + TAG_LEN);
        assert_eq!(s.open(Purpose::DoorcodeSecret, 7, &sealed).unwrap().as_slice(), &[9; 32]);
        assert!(s.open(Purpose::DoorcodeSecret, 8, &sealed).is_err(), "another row");
        assert!(s.open(Purpose::AuthoritySecret, 7, &sealed).is_err(), "another column");
        assert!(sealer().open(Purpose::DoorcodeSecret, 7, &sealed).is_err(), "another key");
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(s.open(Purpose::DoorcodeSecret, 7, &flipped).is_err(), "tampered");
        assert!(s.open(Purpose::DoorcodeSecret, 7, &[9; 32]).is_err(), "a clear value is not a sealed one");
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        let s = sealer();
        assert_ne!(s.seal(Purpose::KeyCheck, 0, &[0; 32]).unwrap(), s.seal(Purpose::KeyCheck, 0, &[0; 32]).unwrap());
    }

    #[test]
    fn sql_seals_and_opens_through_the_registered_functions() {
        let conn = Connection::open_in_memory().unwrap();
        install(&conn, Arc::new(sealer())).unwrap();
        let clear: Vec<u8> = conn
            .query_row(
                "SELECT keyway_unseal('doorcode_secret', 3, keyway_seal('doorcode_secret', 3, x'0102'))",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(clear, vec![1, 2]);
        let moved = conn.query_row(
            "SELECT keyway_unseal('doorcode_secret', 4, keyway_seal('doorcode_secret', 3, x'0102'))",
            [],
            |r| r.get::<_, Vec<u8>>(0),
        );
        assert!(moved.as_ref().is_err_and(is_unopenable), "{moved:?}");
        assert!(conn.query_row("SELECT keyway_seal('password', 1, x'00')", [], |r| r.get::<_, Vec<u8>>(0)).is_err());
    }
}
