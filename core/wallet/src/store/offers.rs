//! Guest-key offers: each offered key with the trust that came with it, kept apart from the
//! property's. An offer's authority keys and door certificates vouch for that key's doors
//! alone; they never join the wallet's trusted set, never replace a door certificate or a key
//! the wallet holds, and never stand in the way of enrolling with the wallet's own backend.

use super::{NO_PROPERTY, ReceiptScope, Result, Store, from_ts, put_key, seq, ts};
use crate::share::GuestKeyOffer;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{KeyId, Receipt};
use rusqlite::{OptionalExtension, params};

/// What importing an offer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferImport {
    /// The key is new and is now held with its offer.
    Stored,
    /// The wallet already holds exactly this key; nothing changed.
    AlreadyHeld,
    /// The wallet holds another key under this id; nothing changed.
    IdTaken(KeyId),
}

impl Store {
    /// Stores a verified offer's key with the offer itself (under no property), unless a key
    /// with its id is held (by any property: a key id shown to the resident names one key).
    pub fn put_offered_key(&mut self, offer: &GuestKeyOffer, now: UnixTime) -> Result<OfferImport> {
        let key = offer.chain.leaf_key_id();
        let tx = self.conn.transaction()?;
        let held: Option<Vec<u8>> =
            tx.query_row("SELECT chain FROM keys WHERE key_id = ?1", [key.0 as i64], |r| r.get(0)).optional()?;
        let outcome = match held {
            Some(chain) if chain == offer.chain.to_bytes() => OfferImport::AlreadyHeld,
            Some(_) => OfferImport::IdTaken(key),
            None => {
                put_key(&tx, NO_PROPERTY, &offer.chain, now)?;
                tx.execute(
                    "INSERT INTO offers (key_id, offer, accepted_at) VALUES (?1, ?2, ?3)",
                    params![key.0 as i64, offer.to_bytes(), ts(now)],
                )?;
                OfferImport::Stored
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Puts `renewed` (an offer this wallet holds, with its host's newer certificate) in place
    /// of the held one. `false` when the wallet holds no offer of that key.
    pub fn renew_offer(&mut self, renewed: &GuestKeyOffer) -> Result<bool> {
        let key = renewed.chain.leaf_key_id().0 as i64;
        let tx = self.conn.transaction()?;
        let n = tx.execute("UPDATE offers SET offer = ?1 WHERE key_id = ?2", params![renewed.to_bytes(), key])?;
        if n == 1 {
            tx.execute(
                "UPDATE keys SET chain = ?1 WHERE property = 0 AND key_id = ?2",
                params![renewed.chain.to_bytes(), key],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Every offer whose key this wallet holds, oldest first.
    pub fn offers(&self) -> Result<Vec<(GuestKeyOffer, UnixTime)>> {
        let mut stmt = self.conn.prepare("SELECT offer, accepted_at FROM offers ORDER BY accepted_at, key_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|row| {
            let (offer, at) = row?;
            Ok((GuestKeyOffer::from_bytes(&offer)?, from_ts(at)))
        })
        .collect()
    }

    /// Keeps the receipt of a door known only from an offer: on the device, never uploaded, and
    /// without touching what the wallet knows of the property's door with the same id.
    pub fn record_offer_receipt(&mut self, receipt: &Receipt, now: UnixTime) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO receipts (door_id, receipt, applied_seq, created_at, activity_last, scope, property)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, 0)",
            params![
                receipt.body.door_id.0,
                receipt.to_bytes(),
                seq(receipt.body.applied_seq),
                ts(now),
                ReceiptScope::Offer.as_sql()
            ],
        )?;
        Ok(())
    }
}
