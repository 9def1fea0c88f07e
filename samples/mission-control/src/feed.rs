//! The door feed: internet-connected doors prove their door key on a fresh challenge, then
//! long-poll their update log and post their own receipts (see `keyway_api::door`).
//!
//! Challenges and sessions live in memory: a restart of Mission Control ends every session
//! and the doors authenticate again. Both tables are bounded; a challenge is single-use and
//! lives [`FEED_CHALLENGE_SECS`]; a session lives [`SESSION_SECS`]. Session tokens are kept
//! only as their SHA-256. Every manager request wakes the waiting polls ([`FeedHub::notify`]),
//! which look at their door's log again. Each session answer carries the backend's time signed
//! for the door's nonce, so the door's clock follows Mission Control's (backwards too); a door
//! whose clock ran ahead gets what it should hold queued again, since it may have pruned live
//! revocations early.

use crate::auth::{Bearer, random_hex, token_hash};
use crate::error::{AppError, AppResult};
use crate::property::Authority;
use crate::{provisioning, receipts, updates};
use keyway_api::{B64, FEED_CHALLENGE_SECS, FeedChallengeResponse, FeedSessionResponse, FeedUpdatesResponse, Nonce32};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, FeedHello, FeedHelloBody, SignedBody, TimeStatement, TimeStatementBody};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::watch;

/// How long a feed session lasts before the door must prove its key again.
pub const SESSION_SECS: u64 = 24 * 3_600;
/// Outstanding challenges kept at most (anyone may ask for one).
const MAX_CHALLENGES: usize = 4_096;
/// Open sessions kept at most.
const MAX_SESSIONS: usize = 65_536;
/// A door clock this far ahead of Mission Control's may have pruned live revocations early.
const CLOCK_AHEAD_SECS: u64 = 300;

/// An authenticated door.
#[derive(Clone, Copy, Debug)]
pub struct DoorSession {
    pub property_id: i64,
    pub door: DoorId,
    expires: UnixTime,
}

pub struct FeedHub {
    changes: watch::Sender<u64>,
    challenges: Mutex<HashMap<[u8; 32], (DoorId, UnixTime)>>,
    sessions: Mutex<HashMap<Vec<u8>, DoorSession>>,
}

impl Default for FeedHub {
    fn default() -> Self {
        FeedHub { changes: watch::channel(0).0, challenges: Default::default(), sessions: Default::default() }
    }
}

impl FeedHub {
    /// Something may have been added to some door's log: waiting polls look again.
    pub fn notify(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// A fresh challenge for `door`. Whether the door exists is not revealed.
    pub fn challenge(&self, door: DoorId, now: UnixTime) -> AppResult<FeedChallengeResponse> {
        let mut nonce = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let expires_at = now.saturating_add_secs(FEED_CHALLENGE_SECS);
        let mut challenges = self.challenges.lock().unwrap_or_else(|p| p.into_inner());
        challenges.retain(|_, (_, expires)| *expires > now);
        if challenges.len() >= MAX_CHALLENGES {
            return Err(AppError::unavailable("too many door feed challenges outstanding: retry shortly"));
        }
        challenges.insert(nonce, (door, expires_at));
        Ok(FeedChallengeResponse { nonce: B64(Nonce32(nonce)), expires_at })
    }

    /// Spends the challenge `hello` answers: it must exist, be for the same door and be fresh.
    fn take_challenge(&self, hello: &FeedHelloBody, now: UnixTime) -> AppResult<()> {
        let mut challenges = self.challenges.lock().unwrap_or_else(|p| p.into_inner());
        match challenges.remove(&hello.server_nonce) {
            Some((door, expires)) if door == hello.door_id && expires > now => Ok(()),
            _ => Err(AppError::unauthorized("unknown, spent or expired door feed challenge")),
        }
    }

    /// A new session token for `door` and when it expires.
    fn open_session(&self, property_id: i64, door: DoorId, now: UnixTime) -> AppResult<(String, UnixTime)> {
        let token = format!("feed_{}", random_hex(32));
        let expires_at = now.saturating_add_secs(SESSION_SECS);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            return Err(AppError::unavailable("too many door feed sessions: retry shortly"));
        }
        sessions.insert(token_hash(&token), DoorSession { property_id, door, expires: expires_at });
        Ok((token, expires_at))
    }

    /// The door holding `bearer`.
    pub fn session(&self, bearer: &Bearer, now: UnixTime) -> AppResult<DoorSession> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&token_hash(&bearer.0)) {
            Some(s) if s.expires > now => Ok(*s),
            _ => Err(AppError::unauthorized("unknown or expired door feed session: authenticate again")),
        }
    }

    /// Checks the door-signed `hello` against the door's certificate and opens a session.
    pub fn authenticate(&self, tx: &Transaction, hello: &FeedHello, now: UnixTime) -> AppResult<FeedSessionResponse> {
        let body = &hello.body;
        if body.version != FeedHelloBody::VERSION {
            return Err(AppError::bad_request("unsupported door feed hello version"));
        }
        self.take_challenge(body, now)?;
        let refused = || AppError::unauthorized("the door feed hello is not signed by the door's certified key");
        let property_id: i64 = tx
            .query_row("SELECT property_id FROM doors WHERE id = ?1", params![body.door_id.0], |r| r.get(0))
            .optional()?
            .ok_or_else(refused)?;
        let authority = Authority::load(tx, property_id)?;
        let door = provisioning::door(tx, property_id, body.door_id)?.ok_or_else(refused)?;
        hello.verify_signature(&door.door_key(&authority.anchors())?).map_err(|_| refused())?;
        receipts::door_reported(tx, body.door_id, body.update_seq, Some(body.door_time), now)?;
        tx.execute("UPDATE doors SET feed_seen_at = ?1 WHERE id = ?2", params![now.0, body.door_id.0])?;
        if body.door_time > now.saturating_add_secs(CLOCK_AHEAD_SECS) {
            // The door's clock ran ahead and may have pruned revocations that are still live:
            // its clock is set back below, and what it should hold is queued again.
            crate::resync::clock_was_ahead(tx, property_id, body.door_id, now)?;
        }
        let time = TimeStatementBody::bound(now, authority.key_id(), body.door_id, body.door_nonce);
        let (session_token, expires_at) = self.open_session(property_id, body.door_id, now)?;
        Ok(FeedSessionResponse { session_token, expires_at, time: B64(TimeStatement::sign(time, &authority.key)) })
    }
}

/// One look at `session`'s log after `after`: the next batch if there is one. Every waiting
/// poll runs this on every manager request, so the authority key is unsealed only when an
/// update after `after` exists.
pub fn poll(tx: &Transaction, session: &DoorSession, after: u64, now: UnixTime) -> AppResult<FeedUpdatesResponse> {
    let (log_head, activity_head, receipted_seq): (u64, u64, u64) = tx
        .query_row(
            "SELECT log_head, activity_head,
                    (SELECT COALESCE(MAX(applied_seq), 0) FROM receipts WHERE door_id = ?1)
             FROM doors WHERE id = ?1 AND property_id = ?2",
            params![session.door.0, session.property_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| AppError::gone("this door is no longer provisioned"))?;
    tx.execute("UPDATE doors SET feed_seen_at = ?1 WHERE id = ?2", params![now.0, session.door.0])?;
    let batch = if log_head > after {
        updates::pending_batch(tx, &Authority::load(tx, session.property_id)?, session.door, after, now)?
    } else {
        None
    };
    Ok(FeedUpdatesResponse {
        batch: batch.map(B64),
        log_head,
        receipted_seq,
        known_activity_head: activity_head,
        server_time: now,
    })
}
