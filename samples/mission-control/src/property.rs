//! A property's authority key (sealed at rest, see [`crate::sealed`]) and its change counter.

use crate::error::{AppError, AppResult};
use crate::sealed;
use keyway_protocol::credential::{AuthorityKeyId, KeyPair, PublicKey, TrustAnchors};
use rusqlite::{Transaction, params};

pub struct Authority {
    pub key: KeyPair,
    pub utc_offset_minutes: i16,
    /// How long a key certificate stays fresh after the sync that issued it.
    pub revalidation_secs: u64,
}

impl Authority {
    pub fn load(tx: &Transaction, property_id: i64) -> AppResult<Self> {
        let (secret, offset, revalidation_secs): (Vec<u8>, i16, u64) = tx
            .query_row(
                "SELECT keyway_unseal('authority_secret', id, authority_secret), utc_offset_minutes, revalidation_secs
                 FROM properties WHERE id = ?1",
                params![property_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| sealed::refused(e, "stored authority key"))?;
        let secret = <[u8; 32]>::try_from(secret.as_slice())
            .map_err(|_| AppError::internal("stored authority key is damaged"))?;
        Ok(Authority { key: KeyPair::from_secret(&secret), utc_offset_minutes: offset, revalidation_secs })
    }

    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    pub fn key_id(&self) -> AuthorityKeyId {
        AuthorityKeyId::of(&self.key.public().0)
    }

    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.public()])
    }
}

/// Bumps the property's change counter and returns the new value, which the caller stamps on
/// every row it changes for phones to pick up at their next sync.
pub fn bump_change_seq(tx: &Transaction, property_id: i64) -> AppResult<i64> {
    Ok(tx.query_row(
        "UPDATE properties SET change_seq = change_seq + 1 WHERE id = ?1 RETURNING change_seq",
        params![property_id],
        |r| r.get(0),
    )?)
}

pub fn change_seq(tx: &Transaction, property_id: i64) -> AppResult<i64> {
    Ok(tx.query_row("SELECT change_seq FROM properties WHERE id = ?1", params![property_id], |r| r.get(0))?)
}
