//! The manager's access flows: invite, edit access (add a key, change an expiry, delete a
//! key), Revoke All Keys, Delete Person, keycards. Each runs in the request's transaction and
//! turns into door updates for the offline doors concerned.

use crate::auth::{self, Manager};
use crate::cards;
use crate::error::{AppError, AppResult};
use crate::history::{self, Forget};
use crate::keys::{self, GuestRow, KeyRow};
use crate::people::{self, PersonRow};
use crate::property::{Authority, bump_change_seq};
use crate::updates::UpdatePlan;
use crate::validate;
use crate::webhooks;
use keyway_api::{
    AccessKind, AddKeycardRequest, ChangeExpiryRequest, DeleteKeyQuery, InviteRequest, InviteResponse,
    KeyChangeResponse, KeyGrant, KeycardChangeResponse, KeycardKind, NO_EXPIRY, QueuedUpdate, RevocationResponse,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorOp, KeyFlags, KeyId, Validity};
use rusqlite::{Transaction, params};

/// Most keys one invite may grant.
pub const MAX_KEYS_PER_INVITE: usize = 32;

pub fn invite(
    tx: &Transaction,
    manager: &Manager,
    req: InviteRequest,
    now: UnixTime,
) -> AppResult<(InviteResponse, String)> {
    manager.require_key_management()?;
    let name = validate::text("name", &req.name, 200)?;
    let contact = validate::contact(&req.contact)?;
    if req.keys.is_empty() {
        return Err(AppError::bad_request("an invite needs at least one key"));
    }
    if req.keys.len() > MAX_KEYS_PER_INVITE {
        return Err(AppError::bad_request(format!("an invite grants at most {MAX_KEYS_PER_INVITE} keys")));
    }
    if req.access == AccessKind::DailyDoorcode && req.may_share {
        return Err(AppError::bad_request("a daily doorcode cannot be shared"));
    }
    let grants = req
        .keys
        .iter()
        .map(|g| Ok((validate::doors(tx, manager.property_id, &g.doors)?, validate::window(g.start, g.expiry, now)?)))
        .collect::<AppResult<Vec<_>>>()?;

    let seq = bump_change_seq(tx, manager.property_id)?;
    let token = auth::new_token(match req.access {
        AccessKind::AppKey => "inv",
        AccessKind::DailyDoorcode => "code",
    });
    tx.execute(
        "INSERT INTO people (property_id, name, contact, access, resident, may_share, token_hash, changed_seq, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![manager.property_id, name, contact, people::access_to_str(req.access), req.resident, req.may_share, auth::token_hash(&token), seq, now.0],
    )?;
    let person = people::by_id(tx, tx.last_insert_rowid())?;
    let flags = KeyFlags { resident: req.resident, may_share: req.may_share };
    let mut plan = UpdatePlan::default();
    for (doors, validity) in &grants {
        let key = keys::insert_key(tx, person.id, doors, *validity, flags, seq, now)?;
        plan_new_key(tx, &person, &key, &mut plan)?;
    }
    let updates = plan.commit(tx, now)?;

    let earliest = grants.iter().map(|(_, v)| v.start).min().unwrap_or(now);
    let message_id = write_welcome(tx, manager.property_id, &person, &token, earliest, now)?;
    let info = people::info(tx, &person, now)?;
    let event = serde_json::json!({
        "person_id": info.person_id, "name": info.name, "access": info.access, "resident": info.resident,
        "key_ids": info.keys.iter().map(|k| k.key_id).collect::<Vec<_>>(),
    });
    webhooks::emit(tx, manager.property_id, webhooks::PERSON_INVITED, event, now)?;
    Ok((InviteResponse { person: info, welcome_message_id: message_id, updates }, token))
}

/// What doors must learn of a new key: nothing for an app key (its certificate is the grant),
/// a slot at each door for a doorcode.
fn plan_new_key(tx: &Transaction, person: &PersonRow, key: &KeyRow, plan: &mut UpdatePlan) -> AppResult<()> {
    if person.access == AccessKind::DailyDoorcode {
        for (door, slot) in people::assign_slots(tx, key)? {
            plan.add(door, DoorOp::AddDoorcode { slot, person: person.person_id(), validity: key.validity });
        }
    }
    Ok(())
}

/// The URL this server is reached at, as recorded at its start (`ServerOptions::public_url`).
pub(crate) fn public_url(tx: &Transaction) -> AppResult<String> {
    use rusqlite::OptionalExtension;
    let url: Option<String> =
        tx.query_row("SELECT value FROM meta WHERE name = 'public_url'", [], |r| r.get(0)).optional()?;
    Ok(url.unwrap_or_else(|| "http://127.0.0.1:8787".into()))
}

/// The app's deep link for an invite: `keyway://invite?server=<url>&code=<token>`, both
/// percent-encoded.
pub fn invite_link(server: &str, token: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("server", server)
        .append_pair("code", token)
        .finish();
    format!("keyway://invite?{query}")
}

fn write_welcome(
    tx: &Transaction,
    property_id: i64,
    person: &PersonRow,
    token: &str,
    start: UnixTime,
    now: UnixTime,
) -> AppResult<u64> {
    let property: String =
        tx.query_row("SELECT name FROM properties WHERE id = ?1", params![property_id], |r| r.get(0))?;
    let starts = if start > now { format!(" Your access starts {start}.") } else { String::new() };
    let backend = public_url(tx)?;
    let (subject, body) = match person.access {
        AccessKind::AppKey => (
            format!("Your key to {property}"),
            format!(
                "Hello {},\n\nYou have been given access to {property}.{starts} Install the Keyway app and open this link on your phone:\n\n{}\n\nor enter the server address and invite code by hand:\n\nServer: {backend}\nInvite code: {token}\n",
                person.name,
                invite_link(&backend, token),
            ),
        ),
        AccessKind::DailyDoorcode => (
            format!("Your doorcode for {property}"),
            format!(
                "Hello {},\n\nYou have been given a daily doorcode for {property}.{starts} Your code changes every day; look it up at\n\n{backend}/v1/doorcodes\n\nwith this code (sent as \"Authorization: Bearer <code>\"):\n\n{token}\n",
                person.name
            ),
        ),
    };
    tx.execute(
        "INSERT INTO outbox (property_id, person_id, recipient, subject, body, token, access, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![property_id, person.id, person.contact, subject, body, token, people::access_to_str(person.access), now.0],
    )?;
    Ok(tx.last_insert_rowid() as u64)
}

pub fn add_key(
    tx: &Transaction,
    manager: &Manager,
    person_id: u64,
    grant: KeyGrant,
    now: UnixTime,
) -> AppResult<KeyChangeResponse> {
    manager.require_key_management()?;
    let person = people::live_in_property(tx, manager.property_id, person_id)?;
    let doors = validate::doors(tx, manager.property_id, &grant.doors)?;
    let validity = validate::window(grant.start, grant.expiry, now)?;
    let seq = bump_change_seq(tx, manager.property_id)?;
    let flags = KeyFlags { resident: person.resident, may_share: person.may_share };
    let mut key = keys::insert_key(tx, person.id, &doors, validity, flags, seq, now)?;
    let devices = crate::devices::live(tx, person.id)?;
    if !devices.is_empty() {
        let authority = Authority::load(tx, manager.property_id)?;
        for device in devices {
            keys::certify(tx, &authority, &mut key, device, seq, now)?;
        }
    }
    let mut plan = UpdatePlan::default();
    plan_new_key(tx, &person, &key, &mut plan)?;
    let updates = plan.commit(tx, now)?;
    Ok(KeyChangeResponse { key: key.info(vec![], now), updates })
}

fn live_key(tx: &Transaction, manager: &Manager, key_id: u64) -> AppResult<(PersonRow, KeyRow)> {
    let id = i64::try_from(key_id).map_err(|_| {
        AppError::bad_request("guest keys are changed by the resident who shared them; they can only be deleted here")
    })?;
    let key = keys::key_in_property(tx, manager.property_id, id)?
        .ok_or_else(|| AppError::not_found(format!("unknown key {}", KeyId(key_id))))?;
    let person = people::live_in_property(tx, manager.property_id, key.person_id as u64)?;
    if !key.is_live() {
        return Err(AppError::conflict(format!("key {} was already revoked", key.key_id())));
    }
    Ok((person, key))
}

/// Door updates that end `key` before its expiry, and the key marked revoked (or replaced).
fn revoke_key(
    tx: &Transaction,
    person: &PersonRow,
    key: &mut KeyRow,
    replaced_by: Option<i64>,
    plan: &mut UpdatePlan,
    seq: i64,
    now: UnixTime,
) -> AppResult<()> {
    if now < key.validity.expiry {
        match person.access {
            // A key whose certificate was never issued cannot be shown at a door.
            AccessKind::AppKey if key.certified_until.is_none() => {}
            AccessKind::AppKey => {
                plan.add_to_all(&key.doors, DoorOp::RevokeKey { key: key.key_id(), until: key.revocation_until() })
            }
            AccessKind::DailyDoorcode => {
                for (door, slot) in people::slots_of_key(tx, key.id)? {
                    plan.add(door, DoorOp::RemoveDoorcode { slot });
                }
            }
        }
    }
    keys::mark_revoked(tx, key, replaced_by, seq, now)
}

/// See [`ChangeExpiryRequest`]: a later expiry re-signs the same key id; an earlier one
/// revokes the old key id at its doors and issues a new key id (unless no certificate was
/// issued yet: then the window simply changes). A doorcode's slot is removed and added again
/// with the new window.
pub fn change_expiry(
    tx: &Transaction,
    manager: &Manager,
    key_id: u64,
    req: ChangeExpiryRequest,
    now: UnixTime,
) -> AppResult<KeyChangeResponse> {
    manager.require_key_management()?;
    let (person, mut key) = live_key(tx, manager, key_id)?;
    let expiry = req.expiry.time();
    if expiry > NO_EXPIRY {
        return Err(AppError::bad_request(format!("times must lie before {NO_EXPIRY}")));
    }
    let new_validity = Validity::new(key.validity.start, expiry).ok_or_else(|| {
        AppError::bad_request(format!("expiry {expiry} is not after the key's start {}", key.validity.start))
    })?;
    let seq = bump_change_seq(tx, manager.property_id)?;
    let authority = Authority::load(tx, manager.property_id)?;
    let devices = crate::devices::live(tx, person.id)?;
    let mut plan = UpdatePlan::default();
    let result = match person.access {
        AccessKind::DailyDoorcode => {
            for (door, slot) in people::slots_of_key(tx, key.id)? {
                plan.add(door, DoorOp::RemoveDoorcode { slot });
                plan.add(door, DoorOp::AddDoorcode { slot, person: person.person_id(), validity: new_validity });
            }
            keys::set_expiry(tx, &mut key, expiry, seq)?;
            key
        }
        // Later, or no certificate issued yet (the invite is not accepted): same key id.
        AccessKind::AppKey if expiry >= key.validity.expiry || key.certified_until.is_none() => {
            keys::set_expiry(tx, &mut key, expiry, seq)?;
            for device in &devices {
                keys::certify(tx, &authority, &mut key, *device, seq, now)?;
            }
            key
        }
        AccessKind::AppKey => {
            let mut new_key = keys::insert_key(tx, person.id, &key.doors, new_validity, key.flags, seq, now)?;
            for device in &devices {
                keys::certify(tx, &authority, &mut new_key, *device, seq, now)?;
            }
            revoke_key(tx, &person, &mut key, Some(new_key.id), &mut plan, seq, now)?;
            new_key
        }
    };
    let updates = plan.commit(tx, now)?;
    Ok(KeyChangeResponse { key: result.info(vec![], now), updates })
}

/// Deletes one key: an authority-issued key (its guests fall with it) or a registered guest key.
pub fn delete_key(
    tx: &Transaction,
    manager: &Manager,
    key_id: u64,
    query: &DeleteKeyQuery,
    now: UnixTime,
) -> AppResult<RevocationResponse> {
    manager.require_key_management()?;
    let id = KeyId(key_id);
    let mut plan = UpdatePlan::default();
    let person_id = if id.is_guest_id() {
        delete_guest_key(tx, manager, id, query.parent_key_id, &mut plan, now)?
    } else {
        let (person, mut key) = live_key(tx, manager, key_id)?;
        let seq = bump_change_seq(tx, manager.property_id)?;
        revoke_key(tx, &person, &mut key, None, &mut plan, seq, now)?;
        person.id
    };
    let updates = plan.commit(tx, now)?;
    let event = serde_json::json!({ "person_id": person_id, "revoked_keys": [id], "why": "key deleted" });
    webhooks::emit(tx, manager.property_id, webhooks::KEYS_REVOKED, event, now)?;
    Ok(RevocationResponse {
        person_id: keyway_protocol::credential::PersonId(person_id as u64),
        revoked_keys: vec![id],
        updates,
    })
}

/// Revokes one registration of a guest key; returns the id of the person who shared it.
fn delete_guest_key(
    tx: &Transaction,
    manager: &Manager,
    id: KeyId,
    parent: Option<KeyId>,
    plan: &mut UpdatePlan,
    now: UnixTime,
) -> AppResult<i64> {
    let guest = guest_meant(tx, manager.property_id, id, parent)?;
    people::live_in_property(tx, manager.property_id, guest.person_id as u64)?;
    if guest.revoked_at.is_some() {
        return Err(AppError::conflict(format!("key {id} was already revoked")));
    }
    let seq = bump_change_seq(tx, manager.property_id)?;
    if now < guest.validity.expiry {
        plan.add_to_all(&guest.doors, DoorOp::RevokeKey { key: id, until: guest.validity.expiry });
    }
    keys::revoke_guest(tx, &guest, seq, now)?;
    Ok(guest.person_id)
}

/// The registration of guest key `id` the manager means: the one under `parent` if named,
/// else the only one in the property (the id is the sharing phone's choice, unique only under
/// its parent key).
fn guest_meant(tx: &Transaction, property_id: i64, id: KeyId, parent: Option<KeyId>) -> AppResult<GuestRow> {
    let unknown = || AppError::not_found(format!("unknown key {id}"));
    if let Some(parent) = parent {
        let parent = i64::try_from(parent.0).map_err(|_| unknown())?;
        return keys::guest_under_parent(tx, property_id, parent, id)?.ok_or_else(unknown);
    }
    let mut found = keys::guests_in_property(tx, property_id, id)?;
    if found.len() > 1 {
        let parents: Vec<String> = found.iter().map(|g| g.parent.0.to_string()).collect();
        return Err(AppError::conflict(format!(
            "guest key {id} is registered under several keys ({}): name one with ?parent_key_id=",
            parents.join(", ")
        )));
    }
    found.pop().ok_or_else(unknown)
}

/// Revoke All Keys: every current key of the person ends (guests with it) and every keycard is
/// removed. The person stays (listed with "show expired users") and can be granted keys again.
pub fn revoke_all(tx: &Transaction, manager: &Manager, person_id: u64, now: UnixTime) -> AppResult<RevocationResponse> {
    manager.require_key_management()?;
    let person = people::live_in_property(tx, manager.property_id, person_id)?;
    let seq = bump_change_seq(tx, manager.property_id)?;
    let mut plan = UpdatePlan::default();
    let mut revoked = Vec::new();
    for mut key in keys::keys_of_person(tx, person.id)? {
        if key.is_current(now) {
            revoke_key(tx, &person, &mut key, None, &mut plan, seq, now)?;
            revoked.push(key.key_id());
        }
    }
    remove_keycards(tx, &person, &mut plan, now)?;
    tx.execute("UPDATE people SET changed_seq = ?1 WHERE id = ?2", params![seq, person.id])?;
    let updates = plan.commit(tx, now)?;
    let event =
        serde_json::json!({ "person_id": person.person_id(), "revoked_keys": revoked, "why": "revoke all keys" });
    webhooks::emit(tx, manager.property_id, webhooks::KEYS_REVOKED, event, now)?;
    Ok(RevocationResponse { person_id: person.person_id(), revoked_keys: revoked, updates })
}

fn remove_keycards(tx: &Transaction, person: &PersonRow, plan: &mut UpdatePlan, now: UnixTime) -> AppResult<()> {
    for card in people::keycards_of_person(tx, person.id)? {
        if card.removed_at.is_none() {
            cards::plan_at_each(tx, person.property_id, &card.doors, &card.card, plan, |card| DoorOp::RemoveKeycard {
                card,
            })?;
            tx.execute("UPDATE keycards SET removed_at = ?1 WHERE id = ?2", params![now.0, card.id])?;
        }
    }
    Ok(())
}

/// Delete Person: `RevokePerson` (until the latest expiry among their keys) at every offline
/// door they or their guests could open, doorcode slots and keycards removed. The person leaves
/// the people list; their activity stays; a new invite (a new person id) is needed to return.
pub fn delete_person(
    tx: &Transaction,
    manager: &Manager,
    person_id: u64,
    now: UnixTime,
) -> AppResult<RevocationResponse> {
    manager.require_key_management()?;
    let person = people::live_in_property(tx, manager.property_id, person_id)?;
    let seq = bump_change_seq(tx, manager.property_id)?;
    let mut plan = UpdatePlan::default();
    let mut revoked = Vec::new();
    let all_keys = keys::keys_of_person(tx, person.id)?;
    let current: Vec<KeyRow> = all_keys.into_iter().filter(|k| k.is_current(now)).collect();
    // A certified key's certificates lapse at their freshness; a doorcode's slots and a
    // keycard at the key's expiry.
    let until_of = |k: &KeyRow| match person.access {
        AccessKind::AppKey => k.revocation_until(),
        AccessKind::DailyDoorcode => k.validity.expiry,
    };
    if let Some(until) = current.iter().map(until_of).max() {
        let mut doors: Vec<_> = current.iter().flat_map(|k| k.doors.doors().iter().copied()).collect();
        doors.sort();
        doors.dedup();
        for door in doors {
            plan.add(door, DoorOp::RevokePerson { person: person.person_id(), until });
        }
    }
    for mut key in current {
        if person.access == AccessKind::DailyDoorcode {
            for (door, slot) in people::slots_of_key(tx, key.id)? {
                plan.add(door, DoorOp::RemoveDoorcode { slot });
            }
        }
        keys::mark_revoked(tx, &mut key, None, seq, now)?;
        revoked.push(key.key_id());
    }
    remove_keycards(tx, &person, &mut plan, now)?;
    tx.execute("UPDATE people SET deleted_at = ?1, changed_seq = ?2 WHERE id = ?3", params![now.0, seq, person.id])?;
    history::forget_token(tx, person.id, Forget::Withdrawn)?;
    let updates = plan.commit(tx, now)?;
    let event = serde_json::json!({ "person_id": person.person_id(), "revoked_keys": revoked });
    webhooks::emit(tx, manager.property_id, webhooks::PERSON_DELETED, event, now)?;
    Ok(RevocationResponse { person_id: person.person_id(), revoked_keys: revoked, updates })
}

fn parse_card(text: &str) -> AppResult<Vec<u8>> {
    let bytes = hex::decode(text.trim()).map_err(|_| AppError::bad_request("card must be hex"))?;
    if !(4..=16).contains(&bytes.len()) {
        return Err(AppError::bad_request("card ids are 4 to 16 bytes"));
    }
    Ok(bytes)
}

pub fn add_keycard(
    tx: &Transaction,
    manager: &Manager,
    person_id: u64,
    req: AddKeycardRequest,
    now: UnixTime,
) -> AppResult<KeycardChangeResponse> {
    manager.require_key_management()?;
    let person = people::live_in_property(tx, manager.property_id, person_id)?;
    let card = parse_card(&req.card)?;
    let doors = validate::doors(tx, manager.property_id, &req.doors)?;
    let validity = validate::window(req.start, req.expiry, now)?;
    let in_use: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM keycards WHERE property_id = ?1 AND card = ?2 AND removed_at IS NULL)",
        params![manager.property_id, card],
        |r| r.get(0),
    )?;
    if in_use {
        return Err(AppError::conflict("this card is already in use at this property"));
    }
    // Secure unless the manager asks for a UID-only (legacy) card.
    let kind = req.kind;
    let card_file = match kind {
        KeycardKind::Secure => {
            cards::require_secure_readers(tx, manager.property_id, &doors)?;
            Some(cards::card_file(tx, manager.property_id, &card)?)
        }
        KeycardKind::UidOnly => None,
    };
    tx.execute(
        "INSERT INTO keycards (property_id, person_id, card, doors, start, expiry, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            manager.property_id,
            person.id,
            card,
            validate::doors_to_json(&doors),
            validity.start.0,
            validity.expiry.0,
            cards::kind_name(kind),
            now.0
        ],
    )?;
    let mut plan = UpdatePlan::default();
    let holder = person.person_id();
    cards::plan_at_each(tx, manager.property_id, &doors, &card, &mut plan, |card| DoorOp::AddKeycard {
        card,
        person: holder,
        validity,
        kind: kind.into(),
    })?;
    let updates = plan.commit(tx, now)?;
    let row = people::keycards_of_person(tx, person.id)?.into_iter().find(|c| c.card == card && c.removed_at.is_none());
    let keycard = row.ok_or_else(|| AppError::internal("keycard vanished"))?.info();
    Ok(KeycardChangeResponse { keycard, updates, card_file })
}

pub fn remove_keycard(
    tx: &Transaction,
    manager: &Manager,
    person_id: u64,
    card_hex: &str,
    now: UnixTime,
) -> AppResult<KeycardChangeResponse> {
    manager.require_key_management()?;
    let person = people::live_in_property(tx, manager.property_id, person_id)?;
    let card = parse_card(card_hex)?;
    let row = people::keycards_of_person(tx, person.id)?
        .into_iter()
        .find(|c| c.card == card && c.removed_at.is_none())
        .ok_or_else(|| AppError::not_found("this person holds no such card"))?;
    let mut plan = UpdatePlan::default();
    cards::plan_at_each(tx, manager.property_id, &row.doors, &card, &mut plan, |card| DoorOp::RemoveKeycard { card })?;
    tx.execute("UPDATE keycards SET removed_at = ?1 WHERE id = ?2", params![now.0, row.id])?;
    let updates: Vec<QueuedUpdate> = plan.commit(tx, now)?;
    let mut info = row.info();
    info.removed_at = Some(now);
    Ok(KeycardChangeResponse { keycard: info, updates, card_file: None })
}
