//! The operator credential: who may create properties. An operator token is shown once (or
//! given by the operator) and stored only as its SHA-256, like manager tokens; each token may
//! create a bounded number of properties, at a bounded rate.

use crate::auth::{self, Bearer};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::options::{OperatorSettings, PropertyCreation};
use crate::rate_limit::RateLimit;
use keyway_protocol::UnixTime;
use rusqlite::{OptionalExtension, Transaction, params};
use std::time::Instant;

/// Shortest operator token accepted from the operator (generated ones are 67 characters).
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest, as for any bearer token.
const MAX_TOKEN_LEN: usize = 200;

pub enum Operators {
    Open,
    Required { max_properties: u32, rate: RateLimit },
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("the operator token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} printable characters without spaces")]
    BadToken,
    #[error("cannot register the operator token: {0}")]
    Register(String),
}

impl Operators {
    /// The policy of `creation`, with its token registered in `db`; returns the token generated
    /// now, if one was (the first start of a database without an operator and with no token
    /// given).
    pub async fn start(db: &Db, creation: &PropertyCreation) -> Result<(Operators, Option<String>), OperatorError> {
        let settings = match creation {
            PropertyCreation::Open => return Ok((Operators::Open, None)),
            PropertyCreation::Operator(settings) => settings.clone(),
        };
        if let Some(token) = &settings.token
            && !well_formed(token)
        {
            return Err(OperatorError::BadToken);
        }
        let token = settings.token.clone();
        let generated = db
            .run(move |tx| register(tx, token.as_deref(), keyway_api::clock::now()))
            .await
            .map_err(|e| OperatorError::Register(e.body.message))?;
        Ok((Self::required(&settings), generated))
    }

    fn required(settings: &OperatorSettings) -> Operators {
        Operators::Required {
            max_properties: settings.max_properties,
            rate: RateLimit::new(settings.creations_per_minute),
        }
    }

    /// The operator allowed to create one more property now: `None` when creation is open.
    /// Refusals: 401 without a known operator token, 429 above the rate, 403 at the quota.
    pub fn authorize(&self, tx: &Transaction, bearer: Result<&Bearer, &AppError>) -> AppResult<Option<i64>> {
        let (max_properties, rate) = match self {
            Operators::Open => return Ok(None),
            Operators::Required { max_properties, rate } => (*max_properties, rate),
        };
        let bearer = bearer.map_err(|_| {
            AppError::unauthorized(
                "creating a property needs the operator token: Authorization: Bearer <operator token>",
            )
        })?;
        let operator: i64 = tx
            .query_row("SELECT id FROM operators WHERE token_hash = ?1", params![auth::token_hash(&bearer.0)], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| AppError::unauthorized("unknown operator token"))?;
        rate.take(operator, Instant::now()).map_err(|wait| {
            AppError::too_many_requests(
                format!("this operator token may create {} properties a minute", rate.per_minute()),
                wait.as_secs() + 1,
            )
        })?;
        let created: i64 =
            tx.query_row("SELECT count(*) FROM properties WHERE operator_id = ?1", params![operator], |r| r.get(0))?;
        if created >= i64::from(max_properties) {
            return Err(AppError::forbidden(format!(
                "quota reached: this operator token has created {created} properties, the most it may \
                 ({max_properties}); the operator of this Mission Control can raise the quota"
            )));
        }
        Ok(Some(operator))
    }
}

fn well_formed(token: &str) -> bool {
    (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Registers `token` (kept if already known); without one, generates a token if the database has
/// no operator yet and returns it: the only time it is ever shown.
fn register(tx: &Transaction, token: Option<&str>, now: UnixTime) -> AppResult<Option<String>> {
    let insert = "INSERT OR IGNORE INTO operators (token_hash, created_at) VALUES (?1, ?2)";
    if let Some(token) = token {
        tx.execute(insert, params![auth::token_hash(token), now.0])?;
        return Ok(None);
    }
    let any: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM operators)", [], |r| r.get(0))?;
    if any {
        return Ok(None);
    }
    let token = auth::new_token("op");
    tx.execute(insert, params![auth::token_hash(&token), now.0])?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_tokens_must_be_long_printable_and_unspaced() {
        assert!(well_formed(&auth::new_token("op")));
        assert!(well_formed("0123456789abcdef"));
        assert!(!well_formed("short"));
        assert!(!well_formed("0123456789 abcdef"));
        assert!(!well_formed(&"x".repeat(MAX_TOKEN_LEN + 1)));
    }
}
