//! Resume tickets: one per property, door and key, for the next repeat unlock (unlock v2).
//! The secret is stored masked (see `ResumeTicket::masked_secret`); a ticket is used once, so
//! a session that used one replaces it with the ticket its result named, or drops it.

use super::{Result, Store, seq, ts};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, KeyId};
use rusqlite::{OptionalExtension, params};

impl Store {
    /// The stored ticket for `key` at `door` under `property` (0 for a door known from an
    /// offer): its id and masked secret.
    pub fn resume_ticket(&self, property: i64, door: DoorId, key: KeyId) -> Result<Option<([u8; 16], [u8; 32])>> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT ticket, masked FROM resume_tickets WHERE property = ?1 AND door_id = ?2 AND key_id = ?3",
                params![property, door.0, seq(key.0)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(id, masked)| Some((id.try_into().ok()?, masked.try_into().ok()?))))
    }

    /// Keeps the ticket a door handed out (replacing the key's previous one at that door), or
    /// forgets the used one when the door handed out none.
    pub fn set_resume_ticket(
        &mut self,
        property: i64,
        door: DoorId,
        key: KeyId,
        ticket: Option<([u8; 16], [u8; 32])>,
        now: UnixTime,
    ) -> Result<()> {
        match ticket {
            Some((id, masked)) => self.conn.execute(
                "INSERT INTO resume_tickets (property, door_id, key_id, ticket, masked, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (property, door_id, key_id)
                 DO UPDATE SET ticket = excluded.ticket, masked = excluded.masked, issued_at = excluded.issued_at",
                params![property, door.0, seq(key.0), &id[..], &masked[..], ts(now)],
            )?,
            None => self.conn.execute(
                "DELETE FROM resume_tickets WHERE property = ?1 AND door_id = ?2 AND key_id = ?3",
                params![property, door.0, seq(key.0)],
            )?,
        };
        Ok(())
    }
}
