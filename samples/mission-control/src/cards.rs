//! Keycards at the doors: a door knows a card only by its keyed tag under that door's secret
//! (`DoorcodeSecret::card_tag`), so every door update names the tag, never the UID the
//! manager entered. Phones carrying updates and receipts carrying activity learn nothing that
//! could be written to a blank card.
//!
//! A card is secure (the default) or UID-only. A secure card holds its own AES-128 key,
//! diversified from the property's card key and its UID (`PropertyCardKey::card_key`), and must
//! answer each door's challenge with it: a copy of its UID opens nothing. Mission Control keeps
//! the property's card key sealed (schema v6), provisions every new door with it, and hands the
//! card's file (its UID and its own key, never the property's key) to the manager who issues
//! the card, once. A UID-only card, for legacy cards that hold no key, is admitted by its UID
//! alone and listed as weaker.

use crate::error::{AppError, AppResult};
use crate::provisioning;
use crate::sealed;
use crate::updates::UpdatePlan;
use keyway_api::{CardFile, KeycardKind};
use keyway_protocol::credential::card::CARD_KEY_LEN;
use keyway_protocol::credential::{CardId, DoorOp, DoorSet, PropertyCardKey};
use rusqlite::{OptionalExtension, Transaction, params};

/// The kind as the `keycards.kind` column stores it.
pub fn kind_name(kind: KeycardKind) -> &'static str {
    match kind {
        KeycardKind::Secure => "secure",
        KeycardKind::UidOnly => "uid_only",
    }
}

/// The kind a `keycards.kind` value names.
pub fn kind_from_name(name: &str) -> AppResult<KeycardKind> {
    match name {
        "secure" => Ok(KeycardKind::Secure),
        "uid_only" => Ok(KeycardKind::UidOnly),
        _ => Err(AppError::internal("stored keycard kind is damaged")),
    }
}

/// The property's card key, opened from its sealed form; a property without one yet (created
/// before schema v6) gets a fresh key from the operating system's RNG, sealed to its row.
pub fn property_card_key(tx: &Transaction, property_id: i64) -> AppResult<PropertyCardKey> {
    let stored: Option<Vec<u8>> = tx
        .query_row(
            "SELECT keyway_unseal('card_key', id, card_key) FROM properties WHERE id = ?1 AND card_key IS NOT NULL",
            params![property_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| sealed::refused(e, "stored card key"))?;
    if let Some(bytes) = stored {
        let bytes = zeroize::Zeroizing::new(bytes);
        let key = <[u8; CARD_KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| AppError::internal("stored card key is damaged"))?;
        return Ok(PropertyCardKey::new(key));
    }
    let key = PropertyCardKey::generate();
    let updated = tx.execute(
        "UPDATE properties SET card_key = keyway_seal('card_key', id, ?1) WHERE id = ?2",
        params![key.as_bytes().as_slice(), property_id],
    )?;
    if updated != 1 {
        return Err(AppError::internal("a keycard names a property that is gone"));
    }
    Ok(key)
}

/// Refuses a secure card for doors installed before secure keycards (they hold no card key and
/// would refuse the update), naming the first such door.
pub fn require_secure_readers(tx: &Transaction, property_id: i64, doors: &DoorSet) -> AppResult<()> {
    for door in doors.doors() {
        let (name, secure): (String, bool) = tx.query_row(
            "SELECT name, reads_secure_cards FROM doors WHERE id = ?1 AND property_id = ?2",
            params![door.0, property_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if !secure {
            return Err(AppError::conflict(format!(
                "{door} ({name}) was installed before secure keycards and cannot check one: issue the card as \
                 \"uid_only\" or install the door again"
            )));
        }
    }
    Ok(())
}

/// The file to encode onto the secure card `uid`: its UID and its own key, derived from the
/// property's card key (which the file never holds).
pub fn card_file(tx: &Transaction, property_id: i64, uid: &[u8]) -> AppResult<CardFile> {
    let key = property_card_key(tx, property_id)?
        .card_key(uid)
        .ok_or_else(|| AppError::bad_request("card ids are 4 to 16 bytes"))?;
    Ok(CardFile { uid: hex::encode(uid), key: Some(key) })
}

/// The tag of card `uid` at each door of `doors`.
fn tags(
    tx: &Transaction,
    property_id: i64,
    doors: &DoorSet,
    uid: &[u8],
) -> AppResult<Vec<(keyway_protocol::credential::DoorId, CardId)>> {
    doors
        .doors()
        .iter()
        .map(|door| {
            let row = provisioning::door(tx, property_id, *door)?
                .ok_or_else(|| AppError::internal("a keycard names a door that is gone"))?;
            Ok((*door, row.doorcode_secret.card_tag(uid)))
        })
        .collect()
}

/// Plans `op(tag)` at every door of `doors`, each with that door's tag of `uid`.
pub fn plan_at_each(
    tx: &Transaction,
    property_id: i64,
    doors: &DoorSet,
    uid: &[u8],
    plan: &mut UpdatePlan,
    op: impl Fn(CardId) -> DoorOp,
) -> AppResult<()> {
    for (door, tag) in tags(tx, property_id, doors, uid)? {
        plan.add(door, op(tag));
    }
    Ok(())
}
