//! Bearer tokens and who they belong to. Tokens are 32 random bytes shown once; only their
//! SHA-256 is stored, so a copy of the database does not let anyone act as a manager or phone.

use crate::error::{AppError, AppResult};
use keyway_protocol::UnixTime;
use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    hex::encode(b)
}

/// A fresh token with a readable prefix naming its kind (`mgr`, `inv`, `dev`, `code`).
pub fn new_token(kind: &str) -> String {
    format!("{kind}_{}", random_hex(32))
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The bearer token of a request, as the extractor found it.
#[derive(Clone, Debug)]
pub struct Bearer(pub String);

#[derive(Clone, Debug)]
pub struct Manager {
    pub id: i64,
    pub property_id: i64,
    pub portfolio_manager: bool,
    pub key_management: bool,
}

pub const ASK_A_PORTFOLIO_MANAGER: &str =
    "this needs the Key Management permission: ask a Portfolio Manager to grant it to you";

impl Manager {
    pub fn require_key_management(&self) -> AppResult<()> {
        if self.key_management { Ok(()) } else { Err(AppError::forbidden(ASK_A_PORTFOLIO_MANAGER)) }
    }

    pub fn require_portfolio_manager(&self) -> AppResult<()> {
        if self.portfolio_manager {
            Ok(())
        } else {
            Err(AppError::forbidden("only a Portfolio Manager can do this: ask a Portfolio Manager"))
        }
    }
}

pub const MANAGER_TOKEN_EXPIRED: &str =
    "manager token expired: ask a Portfolio Manager for a new one, or rotate before it lapses";

/// The manager whose token `bearer` is, if it has not expired at `now` (401 otherwise: nothing
/// else of the request happens).
pub fn manager(tx: &Transaction, bearer: &Bearer, now: UnixTime) -> AppResult<Manager> {
    let (manager, expires_at) = tx
        .query_row(
            "SELECT id, property_id, portfolio_manager, key_management, token_expires_at FROM managers
             WHERE token_hash = ?1",
            params![token_hash(&bearer.0)],
            |r| {
                Ok((
                    Manager {
                        id: r.get(0)?,
                        property_id: r.get(1)?,
                        portfolio_manager: r.get(2)?,
                        key_management: r.get(3)?,
                    },
                    r.get::<_, u64>(4)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| AppError::unauthorized("unknown manager token"))?;
    if now.0 >= expires_at {
        return Err(AppError::unauthorized(MANAGER_TOKEN_EXPIRED));
    }
    Ok(manager)
}

#[derive(Clone, Debug)]
pub struct Device {
    pub id: i64,
    pub person_id: i64,
    pub property_id: i64,
    pub public_key: [u8; 32],
}

pub fn device(tx: &Transaction, bearer: &Bearer) -> AppResult<Device> {
    let row: Option<(i64, i64, i64, Vec<u8>)> = tx
        .query_row(
            "SELECT d.id, d.person_id, p.property_id, d.public_key FROM devices d JOIN people p ON p.id = d.person_id
             WHERE d.token_hash = ?1 AND d.removed_at IS NULL",
            params![token_hash(&bearer.0)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (id, person_id, property_id, key) = row.ok_or_else(|| AppError::unauthorized("unknown device token"))?;
    let public_key =
        <[u8; 32]>::try_from(key.as_slice()).map_err(|_| AppError::internal("stored device key is damaged"))?;
    Ok(Device { id, person_id, property_id, public_key })
}
