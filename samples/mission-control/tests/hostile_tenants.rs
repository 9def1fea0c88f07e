//! Tenants attacking each other: another property's people in a door's activity, guest-key ids
//! registered first by someone else, live tokens read from the outbox, managers who cannot be
//! removed and tokens that never change.

mod common;

use common::*;
use keyway_api::client::SyncError;
use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use mission_control::{ASK_A_PORTFOLIO_MANAGER, Server};
use reqwest::Method;
use rusqlite::{Connection, params};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// A second connection to the server's database, for what no endpoint can do.
fn db(mc: &Mc) -> Connection {
    let conn = Connection::open(mc.dir.path().join("mc.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn status_of(e: &SyncError) -> u16 {
    match e {
        SyncError::Rejected { status, .. } => *status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn week() -> Validity {
    Validity::new(now(), now().saturating_add_secs(7 * DAY)).unwrap()
}

/// A guest key with the chosen id, shared from `parent` by the phone holding it.
fn share_as(phone: &Phone, parent: &KeyCertificate, doors: &[DoorId], id: KeyId) -> KeyChain {
    let body = GuestKeyBody::new(
        id,
        parent.body.key_id,
        KeyPair::generate().public(),
        DoorSet::new(doors.to_vec()).unwrap(),
        week(),
    );
    KeyChain::guest(parent.clone(), GuestKey::sign(body, &phone.key))
}

/// A resident who may share, with an accepted phone and one key to the lobby.
struct Resident {
    person: PersonId,
    key: KeyId,
    phone: Phone,
}

impl Resident {
    fn cert(&self) -> KeyCertificate {
        self.phone.cert(self.key)
    }
}

async fn resident(mc: &Mc, p: &Property, name: &str) -> Resident {
    let expiry = now().saturating_add_secs(30 * DAY);
    let (answer, token) =
        invite(mc, &p.pm, name, AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, Some(expiry))], true).await;
    let phone = accept(mc, &token).await;
    Resident { person: answer.person.person_id, key: answer.person.keys[0].key_id, phone }
}

async fn person(mc: &Mc, token: &str, person: PersonId) -> PersonInfo {
    mc.get(&format!("/v1/people/{}", person.0), token).await
}

async fn staff(mc: &Mc, p: &Property, portfolio_manager: bool, key_management: bool) -> ManagerCredentials {
    let req = CreateManagerRequest { name: "Sam".into(), portfolio_manager, key_management };
    mc.ok(Method::POST, "/v1/managers", &p.pm, Some(req)).await
}

// ---- 1. activity names only people of the door's property ---------------------------------

/// A door-signed record stored for `door` that names `who`.
fn record_unlock(mc: &Mc, door: DoorId, seq: u64, who: PersonId) {
    let event = ActivityEvent::AppUnlock { key: KeyId(1), person: who, guest: false };
    db(mc)
        .execute(
            "INSERT INTO activity (door_id, seq, time, event, person_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                door.0,
                seq as i64,
                now().0 as i64,
                serde_json::to_string(&event).unwrap(),
                who.0 as i64,
                now().0 as i64
            ],
        )
        .unwrap();
}

#[tokio::test]
async fn activity_never_names_a_person_of_another_property() {
    let mc = Mc::start().await;
    let a = property(&mc, "Elm Court").await;
    let b = property(&mc, "Oak Row").await;
    let (ann, _) =
        invite(&mc, &a.pm, "Ann", AccessKind::AppKey, vec![grant(&[a.lobby.door_id], None, None)], false).await;
    let (bella, _) =
        invite(&mc, &b.pm, "Bella", AccessKind::AppKey, vec![grant(&[b.lobby.door_id], None, None)], false).await;
    record_unlock(&mc, a.lobby.door_id, 1, ann.person.person_id);
    // Elm Court's lobby names an id of Oak Row (a door can sign whatever it was told).
    record_unlock(&mc, a.lobby.door_id, 2, bella.person.person_id);

    let seen: Vec<ActivityEntry> = mc.get("/v1/activity", &a.pm).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].person_name.as_deref(), Some("Ann"), "a person of the property is named");
    assert_eq!(seen[1].person_name, None, "Oak Row's person is not named to Elm Court: {:?}", seen[1]);
    let filtered: Vec<ActivityEntry> =
        mc.get(&format!("/v1/activity?person_id={}", bella.person.person_id.0), &a.pm).await;
    assert!(filtered.iter().all(|e| e.person_name.is_none()), "{filtered:?}");
    assert!(mc.get::<Vec<ActivityEntry>>("/v1/activity", &b.pm).await.is_empty(), "Oak Row's doors saw nothing");
}

// ---- 2. guest-key ids belong to their parent key ------------------------------------------

#[tokio::test]
async fn a_guest_key_id_registered_in_another_property_does_not_block_its_owner() {
    let mc = Mc::start().await;
    let elm = property(&mc, "Elm Court").await;
    let oak = property(&mc, "Oak Row").await;
    let squatter = resident(&mc, &oak, "Xavier").await;
    let owner = resident(&mc, &elm, "Yara").await;
    let id = KeyId::random_guest();
    let client = mc.phone_client();

    let first = share_as(&squatter.phone, &squatter.cert(), &[oak.lobby.door_id], id);
    client.register_guest_key(&squatter.phone.token, &first, Some("Squat")).await.unwrap();
    let mine = share_as(&owner.phone, &owner.cert(), &[elm.lobby.door_id], id);
    let registered = client.register_guest_key(&owner.phone.token, &mine, Some("Dog walker")).await.unwrap();
    assert!(!registered.already_registered);
    assert_eq!((registered.guest.key_id, registered.guest.parent_key_id), (id, owner.key));

    let yara = person(&mc, &elm.pm, owner.person).await;
    assert_eq!(
        yara.keys[0].guests.iter().map(|g| (g.key_id, g.label.as_deref())).collect::<Vec<_>>(),
        vec![(id, Some("Dog walker"))]
    );
    let xavier = person(&mc, &oak.pm, squatter.person).await;
    assert_eq!(xavier.keys[0].guests.iter().map(|g| g.label.as_deref()).collect::<Vec<_>>(), vec![Some("Squat")]);
    // Registering again is still a no-op for each of them.
    assert!(client.register_guest_key(&owner.phone.token, &mine, None).await.unwrap().already_registered);
    assert!(client.register_guest_key(&squatter.phone.token, &first, None).await.unwrap().already_registered);

    // Oak Row deleting its guest key touches nothing of Elm Court's.
    let _: RevocationResponse = mc.ok(Method::DELETE, &format!("/v1/keys/{}", id.0), &oak.pm, None::<()>).await;
    let yara = person(&mc, &elm.pm, owner.person).await;
    assert_eq!(yara.keys[0].guests[0].status, KeyStatus::Active);
    let sync = client.sync(&owner.phone.token, Some(&owner.phone.accepted.sync.cursor)).await.unwrap();
    assert!(sync.revocations.is_empty(), "{:?}", sync.revocations);
    assert_eq!(sync.guest_keys.iter().map(|g| (g.key_id, g.status)).collect::<Vec<_>>(), vec![(id, KeyStatus::Active)]);
}

#[tokio::test]
async fn a_guest_key_id_registered_by_a_neighbour_does_not_block_its_owner() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let squatter = resident(&mc, &p, "Xavier").await;
    let owner = resident(&mc, &p, "Yara").await;
    let id = KeyId::random_guest();
    let client = mc.phone_client();

    let first = share_as(&squatter.phone, &squatter.cert(), &[p.lobby.door_id], id);
    client.register_guest_key(&squatter.phone.token, &first, Some("Squat")).await.unwrap();
    let mine = share_as(&owner.phone, &owner.cert(), &[p.lobby.door_id], id);
    let registered = client.register_guest_key(&owner.phone.token, &mine, Some("Dog walker")).await.unwrap();
    assert!(!registered.already_registered);
    assert_eq!(registered.guest.parent_key_id, owner.key);
    let yara = person(&mc, &p.pm, owner.person).await;
    assert_eq!(yara.keys[0].guests.iter().map(|g| g.label.as_deref()).collect::<Vec<_>>(), vec![Some("Dog walker")]);
    let xavier = person(&mc, &p.pm, squatter.person).await;
    assert_eq!(xavier.keys[0].guests.iter().map(|g| g.label.as_deref()).collect::<Vec<_>>(), vec![Some("Squat")]);

    // The id alone no longer names one guest key here: the manager names the parent key.
    let path = format!("/v1/keys/{}", id.0);
    let (status, err) = mc.refused(Method::DELETE, &path, Some(&p.pm), None).await;
    assert_eq!((status, err.code), (409, ErrorCode::Conflict), "{}", err.message);
    assert!(err.message.contains("parent_key_id"), "{}", err.message);
    let answer: RevocationResponse =
        mc.ok(Method::DELETE, &format!("{path}?parent_key_id={}", squatter.key.0), &p.pm, None::<()>).await;
    assert_eq!((answer.person_id, answer.revoked_keys), (squatter.person, vec![id]));
    let xavier = person(&mc, &p.pm, squatter.person).await;
    assert_eq!(xavier.keys[0].guests[0].status, KeyStatus::Revoked);
    let yara = person(&mc, &p.pm, owner.person).await;
    assert_eq!(yara.keys[0].guests[0].status, KeyStatus::Active, "the owner's registration is untouched");
    let sync = client.sync(&owner.phone.token, Some(&owner.phone.accepted.sync.cursor)).await.unwrap();
    assert!(sync.revocations.is_empty(), "{:?}", sync.revocations);
    let again = format!("{path}?parent_key_id={}", squatter.key.0);
    assert_eq!(mc.refused(Method::DELETE, &again, Some(&p.pm), None).await.0, 409, "already revoked");
    // A parent key with no guest key of that id names nothing.
    let none = format!("/v1/keys/{}?parent_key_id={}", KeyId::random_guest().0, owner.key.0);
    assert_eq!(mc.refused(Method::DELETE, &none, Some(&p.pm), None).await.0, 404);
}

/// A database as version 1 of the schema left it: a property, its manager (token `mgr_v1`),
/// a door, Xavier with a device, a key and the guest key `guest`, and Yara invited (token
/// `inv_yara`) with a key to the same door; both welcome messages still hold their tokens.
fn database_at_v1(path: &Path, guest: KeyId) -> (PersonId, PersonId, KeyId) {
    let mut conn = Connection::open(path).unwrap();
    rusqlite_migration::Migrations::new(vec![rusqlite_migration::M::up(include_str!("../src/schema_v1.sql"))])
        .to_latest(&mut conn)
        .unwrap();
    let authority = KeyPair::generate();
    let issuer = AuthorityKeyId::of(&authority.public().0);
    let t = now().0 as i64;
    let hash = |token: &str| Sha256::digest(token.as_bytes()).to_vec();
    conn.execute(
        "INSERT INTO properties (id, name, authority_secret, utc_offset_minutes, change_seq, created_at) VALUES (1, 'Elm Court', ?1, 0, 5, ?2)",
        params![authority.secret().to_vec(), t],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO managers (property_id, name, token_hash, portfolio_manager, key_management, created_at) VALUES (1, 'Pat', ?1, 1, 1, ?2)",
        params![hash("mgr_v1"), t],
    )
    .unwrap();
    let door = DoorCertificate::sign(DoorCertBody::new(DoorId(1), KeyPair::generate().public(), issuer), &authority);
    conn.execute(
        "INSERT INTO doors (id, property_id, name, online, certificate, doorcode_secret, created_at) VALUES (1, 1, 'Lobby', 0, ?1, ?2, ?3)",
        params![door.to_bytes(), vec![7u8; 32], t],
    )
    .unwrap();
    let person_sql = "INSERT INTO people (id, property_id, name, contact, access, resident, may_share, token_hash, changed_seq, created_at)
                      VALUES (?1, 1, ?2, ?3, 'app_key', 1, 1, ?4, 1, ?5)";
    conn.execute(person_sql, params![1, "Xavier", "x@example.com", hash("inv_xavier"), t]).unwrap();
    conn.execute(person_sql, params![2, "Yara", "y@example.com", hash("inv_yara"), t]).unwrap();
    let outbox_sql = "INSERT INTO outbox (property_id, person_id, recipient, subject, body, token, access, created_at)
                      VALUES (1, ?1, 'someone@example.com', 'Your key', ?2, ?3, 'app_key', ?4)";
    for (person, token) in [(1, "inv_xavier"), (2, "inv_yara")] {
        conn.execute(outbox_sql, params![person, format!("Enter this code:\n\n{token}\n"), token, t]).unwrap();
    }
    let device = KeyPair::generate();
    conn.execute(
        "INSERT INTO devices (person_id, public_key, token_hash, created_at) VALUES (1, ?1, ?2, ?3)",
        params![device.public().0.to_vec(), hash("dev_xavier"), t],
    )
    .unwrap();
    let validity = Validity::new(UnixTime(now().0 - DAY), now().saturating_add_secs(30 * DAY)).unwrap();
    let lobby = DoorSet::new(vec![DoorId(1)]).unwrap();
    let flags = KeyFlags { resident: true, may_share: true };
    let cert = KeyCertificate::sign(
        KeyCertBody::new(KeyId(1), PersonId(1), device.public(), lobby.clone(), validity, flags, issuer),
        &authority,
    );
    let key_sql = "INSERT INTO keys (id, person_id, doors, start, expiry, resident, may_share, certificate, changed_seq, created_at)
                   VALUES (?1, ?2, '[1]', ?3, ?4, 1, 1, ?5, 2, ?6)";
    let (start, expiry) = (validity.start.0 as i64, validity.expiry.0 as i64);
    conn.execute(key_sql, params![1, 1, start, expiry, Some(cert.to_bytes()), t]).unwrap();
    conn.execute(key_sql, params![2, 2, start, expiry, None::<Vec<u8>>, t]).unwrap();
    let body = GuestKeyBody::new(guest, KeyId(1), KeyPair::generate().public(), lobby, week());
    let chain = KeyChain::guest(cert, GuestKey::sign(body, &device));
    conn.execute(
        "INSERT INTO guest_keys (id, parent_key_id, person_id, chain, doors, start, expiry, label, changed_seq, created_at)
         VALUES (?1, 1, 1, ?2, '[1]', ?3, ?4, 'Plumber', 3, ?5)",
        params![guest.0 as i64, chain.to_bytes(), week().start.0 as i64, week().expiry.0 as i64, t],
    )
    .unwrap();
    (PersonId(1), PersonId(2), KeyId(2))
}

#[tokio::test]
async fn a_database_at_schema_v1_upgrades_with_its_guest_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    let id = KeyId::random_guest();
    let (xavier, yara, yara_key) = database_at_v1(&path, id);
    let server = Server::start(&path, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mc = Mc { base: server.base_url(), server, dir, http: reqwest::Client::new() };

    let before = person(&mc, "mgr_v1", xavier).await;
    let kept = &before.keys[0].guests;
    assert_eq!(
        kept.iter().map(|g| (g.key_id, g.label.as_deref(), g.status)).collect::<Vec<_>>(),
        vec![(id, Some("Plumber"), KeyStatus::Active)]
    );
    let outbox: Vec<OutboxMessage> = mc.get("/v1/outbox", "mgr_v1").await;
    let tokens: Vec<(PersonId, &str, bool)> =
        outbox.iter().map(|m| (m.person_id, m.token.as_str(), m.body.contains("inv_"))).collect();
    assert_eq!(tokens, vec![(xavier, "", false), (yara, "inv_yara", true)], "an accepted invite's token is forgotten");
    let sync = mc.phone_client().sync("dev_xavier", None).await.unwrap();
    assert_eq!(sync.guest_keys.iter().map(|g| g.key_id).collect::<Vec<_>>(), vec![id]);

    // Yara accepts after the upgrade and registers her own guest key under the same id.
    let phone = accept(&mc, "inv_yara").await;
    let mine = share_as(&phone, &phone.cert(yara_key), &[DoorId(1)], id);
    let registered = mc.phone_client().register_guest_key(&phone.token, &mine, Some("Nanny")).await.unwrap();
    assert_eq!(registered.guest.parent_key_id, yara_key);
    assert_eq!(person(&mc, "mgr_v1", yara).await.keys[0].guests.len(), 1);
    assert_eq!(person(&mc, "mgr_v1", xavier).await.keys[0].guests[0].label.as_deref(), Some("Plumber"));
    let version: i64 = db(&mc).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert!(version >= 2, "upgraded past the guest-key migration: {version}");
}

// ---- 3. the outbox does not hand out live tokens ------------------------------------------

#[tokio::test]
async fn the_outbox_needs_key_management() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    for (portfolio, key_management) in [(false, false), (true, false)] {
        let m = staff(&mc, &p, portfolio, key_management).await;
        let (status, err) = mc.refused(Method::GET, "/v1/outbox", Some(&m.token), None).await;
        assert_eq!((status, err.code), (403, ErrorCode::Forbidden));
        assert_eq!(err.message, ASK_A_PORTFOLIO_MANAGER);
    }
    let m = staff(&mc, &p, false, true).await;
    assert_eq!(mc.get::<Vec<OutboxMessage>>("/v1/outbox", &m.token).await.len(), 1);
}

async fn welcome(mc: &Mc, p: &Property, person: PersonId) -> OutboxMessage {
    let outbox: Vec<OutboxMessage> = mc.get("/v1/outbox", &p.pm).await;
    outbox.into_iter().find(|m| m.person_id == person).expect("a welcome message")
}

#[tokio::test]
async fn the_outbox_forgets_an_invite_token_once_it_is_accepted() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    accept(&mc, &token).await;
    let message = welcome(&mc, &p, ann.person.person_id).await;
    assert!(message.token.is_empty(), "the used invite token is still handed out: {}", message.token);
    assert!(!message.body.contains(&token), "{}", message.body);
    assert!(message.body.contains("Hello Ann"), "the rest of the message stays: {}", message.body);
    let stored: i64 = db(&mc)
        .query_row("SELECT COUNT(*) FROM outbox WHERE token = ?1 OR instr(body, ?1) > 0", params![token], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 0, "the used token is not kept in clear in the database");
}

#[tokio::test]
async fn a_used_invite_token_is_refused() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (_, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    let client = mc.phone_client();
    // Another device: refused at once.
    let e = client.accept_invite(&token, &KeyPair::generate()).await.unwrap_err();
    assert_eq!(status_of(&e), 409, "{e:?}");
    // The same device retrying soon after a lost answer still gets fresh credentials …
    let retry = client.accept_invite(&token, &phone.key).await.unwrap();
    // … but once that retry window is over the token is spent, even with the device's key.
    db(&mc).execute("UPDATE devices SET created_at = created_at - 3600", []).unwrap();
    let e = client.accept_invite(&token, &phone.key).await.unwrap_err();
    let SyncError::Rejected { status, error } = &e else { panic!("expected a refusal, got {e:?}") };
    assert_eq!((*status, error.code), (410, ErrorCode::Gone), "{e:?}");
    assert!(error.message.contains("already used"), "{}", error.message);
    client.sync(&retry.credentials.device_token, None).await.expect("the device's credentials still work");
}

#[tokio::test]
async fn the_outbox_forgets_a_doorcode_token_once_it_is_used_and_when_the_person_is_deleted() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let expiry = now().saturating_add_secs(DAY);
    let (cleo, token) = invite(
        &mc,
        &p.pm,
        "Cleo",
        AccessKind::DailyDoorcode,
        vec![grant(&[p.lobby.door_id], None, Some(expiry))],
        false,
    )
    .await;
    let (dan, dan_token) = invite(
        &mc,
        &p.pm,
        "Dan",
        AccessKind::DailyDoorcode,
        vec![grant(&[p.lobby.door_id], None, Some(expiry))],
        false,
    )
    .await;
    assert_eq!(welcome(&mc, &p, cleo.person.person_id).await.token, token, "shown until it is used");
    let codes = mc.phone_client().doorcodes(&token).await.unwrap();
    assert_eq!(codes.codes.len(), 1);
    let message = welcome(&mc, &p, cleo.person.person_id).await;
    assert!(message.token.is_empty() && !message.body.contains(&token), "{message:?}");
    mc.phone_client().doorcodes(&token).await.expect("the holder keeps using it");

    let _: RevocationResponse =
        mc.ok(Method::DELETE, &format!("/v1/people/{}", dan.person.person_id.0), &p.pm, None::<()>).await;
    let message = welcome(&mc, &p, dan.person.person_id).await;
    assert!(message.token.is_empty() && !message.body.contains(&dan_token), "{message:?}");
}

// ---- 4. managers can be removed and their tokens rotated ----------------------------------

#[tokio::test]
async fn a_removed_manager_is_refused_at_once() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let other = property(&mc, "Oak Row").await;
    let sam = staff(&mc, &p, false, true).await;
    let sam_path = format!("/v1/managers/{}", sam.manager_id);
    let me: ManagerInfo = mc.get("/v1/managers/me", &p.pm).await;
    let pat_path = format!("/v1/managers/{}", me.manager_id);

    // Only a Portfolio Manager removes managers, and only their own property's.
    let (status, _) = mc.refused(Method::DELETE, &pat_path, Some(&sam.token), None).await;
    assert_eq!(status, 403);
    assert_eq!(mc.refused(Method::DELETE, &sam_path, Some(&other.pm), None).await.0, 404);
    // Nobody removes the last Portfolio Manager.
    let (status, err) = mc.refused(Method::DELETE, &pat_path, Some(&p.pm), None).await;
    assert_eq!((status, err.code), (409, ErrorCode::Conflict), "{}", err.message);

    let removed: ManagerInfo = mc.ok(Method::DELETE, &sam_path, &p.pm, None::<()>).await;
    assert_eq!(removed.manager_id, sam.manager_id);
    let (status, err) = mc.refused(Method::GET, "/v1/managers/me", Some(&sam.token), None).await;
    assert_eq!((status, err.code), (401, ErrorCode::Unauthorized));
    assert_eq!(mc.get::<Vec<ManagerInfo>>("/v1/managers", &p.pm).await.len(), 1);
    assert_eq!(mc.refused(Method::DELETE, &sam_path, Some(&p.pm), None).await.0, 404, "already removed");
}

#[tokio::test]
async fn the_last_manager_with_key_management_cannot_be_removed() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let me: ManagerInfo = mc.get("/v1/managers/me", &p.pm).await;
    let pm2 = staff(&mc, &p, true, false).await;
    // Pat is the only one with Key Management: even another Portfolio Manager cannot remove Pat.
    let (status, err) =
        mc.refused(Method::DELETE, &format!("/v1/managers/{}", me.manager_id), Some(&pm2.token), None).await;
    assert_eq!((status, err.code), (409, ErrorCode::Conflict), "{}", err.message);
    assert!(err.message.contains("Key Management"), "{}", err.message);
    // Once someone else holds it, Pat may go.
    let path = format!("/v1/managers/{}/key-management", pm2.manager_id);
    let _: ManagerInfo = mc.ok(Method::PUT, &path, &p.pm, Some(json!({ "enabled": true }))).await;
    let _: ManagerInfo =
        mc.ok(Method::DELETE, &format!("/v1/managers/{}", me.manager_id), &pm2.token, None::<()>).await;
    assert_eq!(mc.refused(Method::GET, "/v1/doors", Some(&p.pm), None).await.0, 401);
}

#[tokio::test]
async fn a_rotated_manager_token_replaces_the_old_one() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let fresh: ManagerCredentials = mc.ok(Method::POST, "/v1/managers/me/rotate-token", &p.pm, None::<()>).await;
    assert_ne!(fresh.token, p.pm);
    let me: ManagerInfo = mc.get("/v1/managers/me", &fresh.token).await;
    assert_eq!(me.manager_id, fresh.manager_id);
    assert!(me.portfolio_manager && me.key_management, "the permissions stay");
    let (status, err) = mc.refused(Method::GET, "/v1/managers/me", Some(&p.pm), None).await;
    assert_eq!((status, err.code), (401, ErrorCode::Unauthorized));
}

// ---- 5. manager tokens expire ------------------------------------------------------------------

const EXPIRED: &str = "manager token expired: ask a Portfolio Manager for a new one, or rotate before it lapses";
const LIFETIME: u64 = 90 * DAY;

/// Moves the stored expiry of `manager`'s token: the clock a test can set.
fn age_token(mc: &Mc, manager: u64, expires_at: u64) {
    db(mc).execute("UPDATE managers SET token_expires_at = ?1 WHERE id = ?2", params![expires_at, manager]).unwrap();
}

fn close_to(t: UnixTime, expected: u64) -> bool {
    t.0.abs_diff(expected) <= 5
}

/// Every token shows when it lapses; at that second it answers 401 with what to do, and the
/// request does nothing, rotation with it included. Real time here: a server whose tokens last
/// one second, and a wait of at most two.
#[tokio::test]
async fn an_expired_manager_token_is_refused_and_does_nothing() {
    let options = mission_control::ServerOptions {
        manager_token_lifetime: Duration::from_secs(1),
        ..mission_control::ServerOptions::open_property_creation()
    };
    let mc = Mc::start_with(options).await;
    let issued = now().0;
    let created: CreatePropertyResponse = mc
        .ok(
            Method::POST,
            "/v1/properties",
            "",
            Some(CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 0, manager_name: "Pat".into() }),
        )
        .await;
    let pm = created.manager.token.clone();
    let expires_at = created.manager.expires_at;
    assert!((issued + 1..=now().0 + 1).contains(&expires_at.0), "one second after issue: {expires_at}");
    while now() < expires_at {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (method, path, body) in [
        (Method::GET, "/v1/managers/me", None),
        (Method::POST, "/v1/doors", Some(json!({ "name": "Lobby", "online": false }))),
        (Method::POST, "/v1/managers", Some(json!({ "name": "Sam" }))),
        (Method::POST, "/v1/managers/me/rotate-token", None),
        (Method::POST, &format!("/v1/managers/{}/token", created.manager.manager_id), None),
    ] {
        let (status, err) = mc.refused(method.clone(), path, Some(&pm), body).await;
        assert_eq!(
            (status, err.code, err.message.as_str()),
            (401, ErrorCode::Unauthorized, EXPIRED),
            "{method} {path}"
        );
    }
    let conn = db(&mc);
    let count = |table: &str| conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0));
    assert_eq!((count("doors").unwrap(), count("managers").unwrap()), (0, 1), "nothing was created");
    let (hash, stored): (Vec<u8>, u64) = conn
        .query_row("SELECT token_hash, token_expires_at FROM managers", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((hash, stored), (Sha256::digest(pm.as_bytes()).to_vec(), expires_at.0), "the token was not rotated");
}

/// The default lifetime is 90 days; rotating before it lapses and a Portfolio Manager's reissue
/// both give a fresh lifetime and end the old token.
#[tokio::test]
async fn rotation_and_a_portfolio_managers_reissue_give_a_fresh_lifetime() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let other = property(&mc, "Oak Row").await;
    let me: ManagerInfo = mc.get("/v1/managers/me", &p.pm).await;
    assert!(close_to(me.token_expires_at, now().0 + LIFETIME), "{}", me.token_expires_at);
    let sam = staff(&mc, &p, false, true).await;
    assert!(close_to(sam.expires_at, now().0 + LIFETIME), "shown when issued: {}", sam.expires_at);
    let helper = staff(&mc, &p, false, true).await;

    // Pat's token is about to lapse: rotation gives a fresh 90 days.
    let soon = now().0 + 60;
    age_token(&mc, me.manager_id, soon);
    assert_eq!(mc.get::<ManagerInfo>("/v1/managers/me", &p.pm).await.token_expires_at.0, soon);
    let fresh: ManagerCredentials = mc.ok(Method::POST, "/v1/managers/me/rotate-token", &p.pm, None::<()>).await;
    assert!(close_to(fresh.expires_at, now().0 + LIFETIME), "{}", fresh.expires_at);
    assert_eq!(mc.get::<ManagerInfo>("/v1/managers/me", &fresh.token).await.token_expires_at, fresh.expires_at);
    let (status, err) = mc.refused(Method::GET, "/v1/managers/me", Some(&p.pm), None).await;
    assert_eq!((status, err.message.as_str()), (401, "unknown manager token"));

    // Sam's lapsed: refused until a Portfolio Manager reissues it. Sam cannot, nor another
    // property's Portfolio Manager.
    age_token(&mc, sam.manager_id, now().0);
    let (status, err) = mc.refused(Method::GET, "/v1/people", Some(&sam.token), None).await;
    assert_eq!((status, err.message.as_str()), (401, EXPIRED));
    let reissue = format!("/v1/managers/{}/token", sam.manager_id);
    assert_eq!(mc.refused(Method::POST, &reissue, Some(&other.pm), None).await.0, 404);
    assert_eq!(mc.refused(Method::POST, &reissue, Some(&helper.token), None).await.0, 403);
    let again: ManagerCredentials = mc.ok(Method::POST, &reissue, &fresh.token, None::<()>).await;
    assert_eq!(again.manager_id, sam.manager_id);
    assert!(close_to(again.expires_at, now().0 + LIFETIME), "{}", again.expires_at);
    let back: ManagerInfo = mc.get("/v1/managers/me", &again.token).await;
    assert!(back.key_management && !back.portfolio_manager, "the permissions stay");
    assert_eq!(mc.refused(Method::GET, "/v1/people", Some(&sam.token), None).await.0, 401, "the old token is gone");
    let listed: Vec<ManagerInfo> = mc.get("/v1/managers", &fresh.token).await;
    assert!(listed.iter().all(|m| close_to(m.token_expires_at, now().0 + LIFETIME)), "{listed:?}");
}
