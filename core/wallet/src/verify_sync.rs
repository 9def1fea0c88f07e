//! Turning a backend answer into store changes, after checking every signature in it.
//!
//! The backend is trusted for availability, not for integrity: a response with one bad
//! signature, a key for another device, a batch for the wrong door or an authority key no
//! rotation statement of a trusted key vouches for is refused whole, and the store keeps what
//! it had.

use crate::store::{StoredKey, SyncChanges};
use keyway_api::{KeyStatus, SyncResponse};
use keyway_protocol::credential::{
    AuthorityRotation, ChainError, KeyChain, KeyId, MAX_ROTATIONS, PublicKey, TrustAnchors,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSync {
    #[error("the backend sent no authority key")]
    NoAnchors,
    #[error("the backend sent an unusable authority key")]
    WeakAnchor,
    #[error("the backend's authority keys share none with the ones this wallet trusts (another property?)")]
    AnchorsReplaced,
    #[error("the backend's answer adds an authority key this wallet does not trust, with no rotation statement")]
    AnchorAdded,
    #[error("{what} for {subject} does not verify: {error}")]
    Signature { what: &'static str, subject: String, error: ChainError },
    #[error("the backend sent {0} authority rotation statements, more than {MAX_ROTATIONS}")]
    TooManyRotations(usize),
    #[error("key {0} is certified for another device")]
    NotOurKey(KeyId),
    #[error("the backend answered {answered} verdicts for {sent} uploaded receipts")]
    UploadAnswer { sent: usize, answered: usize },
}

/// Checks `resp` for the device `device` against the anchors already trusted (`trusted`, empty
/// before the first sync) and the keys already held.
pub fn verify_sync(
    resp: &SyncResponse,
    device: &PublicKey,
    trusted: &TrustAnchors,
    held: &[StoredKey],
) -> Result<SyncChanges, BadSync> {
    let mut anchors = TrustAnchors::default();
    for k in &resp.trust_anchors {
        if !k.is_acceptable() {
            return Err(BadSync::WeakAnchor);
        }
        anchors.add(**k);
    }
    if anchors.keys().next().is_none() {
        return Err(BadSync::NoAnchors);
    }
    if resp.rotations.len() > MAX_ROTATIONS {
        return Err(BadSync::TooManyRotations(resp.rotations.len()));
    }
    // Once enrolled, trust is never widened by an answer alone: one shared key would otherwise
    // carry in another, and with it certificates of an impostor door. An authority key this
    // wallet does not trust yet is accepted only when a rotation statement signed by one it
    // does (directly or through a chain of statements) names it; the answer's keys then
    // replace the trusted ones (a retired key is dropped).
    if trusted.keys().next().is_some() {
        let statements: Vec<_> = resp.rotations.iter().map(|r| (**r).clone()).collect();
        let reachable = AuthorityRotation::reachable(trusted, &statements);
        let known = |a: &PublicKey| reachable.keys().any(|r| r == a);
        if !anchors.keys().any(known) {
            return Err(BadSync::AnchorsReplaced);
        }
        if !anchors.keys().all(known) {
            return Err(BadSync::AnchorAdded);
        }
    }

    let mut changes =
        SyncChanges { anchors: Some(anchors.clone()), server_time: resp.server_time, ..Default::default() };
    changes.cursor = Some(resp.cursor.clone());

    for door in &resp.doors {
        door.certificate.verify(&anchors).map_err(|error| BadSync::Signature {
            what: "door certificate",
            subject: door.door_id.to_string(),
            error,
        })?;
        if door.certificate.body.door_id != door.door_id {
            return Err(BadSync::Signature {
                what: "door certificate",
                subject: door.door_id.to_string(),
                error: ChainError::Malformed { what: "door certificate", detail: "names another door".into() },
            });
        }
        changes.door_certs.push((door.name.clone(), (*door.certificate).clone()));
        let batch = match &door.pending_updates {
            Some(batch) => {
                batch.verify_for(&anchors, door.door_id).map_err(|error| BadSync::Signature {
                    what: "door update batch",
                    subject: door.door_id.to_string(),
                    error,
                })?;
                Some((**batch).clone())
            }
            None => None,
        };
        if !door.online || batch.is_some() {
            changes.pending.push((door.door_id, batch));
        }
        changes.activity_heads.push((door.door_id, door.known_activity_head));
    }

    if let Some(time) = &resp.time {
        let signed_time = || BadSync::Signature {
            what: "signed time",
            subject: "the property".into(),
            error: ChainError::Malformed { what: "time statement", detail: "bound to one door's exchange".into() },
        };
        // The statement a phone carries to every door: unbound, and signed by one of the
        // anchors, as a door will check. (Its time is what the authority signed; the answer's
        // unsigned `server_time` says nothing about it. The store keeps the newest.)
        if time.body.binding.is_some() {
            return Err(signed_time());
        }
        let issuer = anchors.get(time.body.issuer).ok_or_else(signed_time)?;
        time.verify_signature(&issuer).map_err(|error| BadSync::Signature {
            what: "signed time",
            subject: "the property".into(),
            error,
        })?;
        changes.time = Some((**time).clone());
    }

    for entry in &resp.keys {
        let revoked = resp.person_deleted || matches!(entry.status, KeyStatus::Revoked | KeyStatus::Replaced);
        if let Some(cert) = &entry.certificate {
            let chain = KeyChain::resident((**cert).clone());
            chain.verify_structure(&anchors).map_err(|error| BadSync::Signature {
                what: "key certificate",
                subject: entry.key_id.to_string(),
                error,
            })?;
            if cert.body.holder != *device {
                return Err(BadSync::NotOurKey(entry.key_id));
            }
            if cert.body.key_id != entry.key_id {
                return Err(BadSync::Signature {
                    what: "key certificate",
                    subject: entry.key_id.to_string(),
                    error: ChainError::Malformed {
                        what: "key certificate",
                        detail: "listed under another key id".into(),
                    },
                });
            }
            changes.keys.push(chain);
        }
        if revoked {
            changes.revoked_keys.push(entry.key_id);
        }
    }
    for r in &resp.revocations {
        changes.revoked_keys.push(r.key_id);
    }
    // A key that an answer merely leaves out is kept: only an explicit revocation, a revoked or
    // replaced status, or Delete Person ends a key here. A backend restored from an old backup
    // (a rolled-back cursor, a full sync that predates a grant) cannot take access away by
    // forgetting it; the door decides with the revocations it holds anyway.
    if resp.person_deleted {
        for k in held {
            if k.chain.guest_link().is_none() {
                changes.revoked_keys.push(k.chain.leaf_key_id());
            }
        }
    }
    for g in &resp.guest_keys {
        changes.registered_guest_keys.push(g.key_id);
    }
    Ok(changes)
}
