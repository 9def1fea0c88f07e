//! The manager's flows over real HTTP: provisioning, permissions, invites, edits, Revoke All
//! Keys and Delete Person with their cascade to guests, doorcodes, keycards.

mod common;

use common::*;
use keyway_api::*;
use keyway_protocol::credential::*;
use keyway_protocol::door::RevocationSet;
use keyway_protocol::unlock::Access;
use keyway_test_kit::door::hold_card;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn provisioning_issues_verifiable_door_certificates_and_hands_out_the_door_secrets() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let anchors = p.anchors();
    for door in [&p.lobby, &p.garage, &p.online] {
        let door_key = door.door_certificate.verify(&anchors).expect("door certificate verifies");
        assert_eq!(
            KeyPair::from_secret(&door.door_secret_key.0.0).public(),
            door_key,
            "returned secret matches the certified key"
        );
        assert_eq!(door.door_certificate.body.door_id, door.door_id);
        assert_eq!(door.trust_anchors.iter().map(|k| k.0).collect::<Vec<_>>(), vec![p.authority]);
        assert_eq!(door.utc_offset_minutes, 60);
    }
    assert_ne!(p.lobby.doorcode_secret.0, p.garage.doorcode_secret.0);
    let doors: Vec<DoorInfo> = mc.get("/v1/doors", &p.pm).await;
    assert_eq!(
        doors.iter().map(|d| (d.name.as_str(), d.online)).collect::<Vec<_>>(),
        vec![("Lobby", false), ("Garage", false), ("Gym", true)]
    );
    // Another property's certificate does not verify under this authority.
    let other = property(&mc, "Oak Row").await;
    assert!(other.lobby.door_certificate.verify(&anchors).is_err());
}

#[tokio::test]
async fn key_management_is_needed_and_only_a_portfolio_manager_grants_it() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let staff: ManagerCredentials = mc
        .ok(
            Method::POST,
            "/v1/managers",
            &p.pm,
            Some(CreateManagerRequest { name: "Sam".into(), portfolio_manager: false, key_management: false }),
        )
        .await;
    let invite_body = json!({ "name": "Ann", "contact": "ann@example.com", "access": "app_key", "keys": [{ "doors": [p.lobby.door_id.0], "expiry": "never" }] });

    let (status, err) = mc.refused(Method::POST, "/v1/invites", Some(&staff.token), Some(invite_body.clone())).await;
    assert_eq!(status, 403);
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("ask a Portfolio Manager"), "{}", err.message);
    // Nothing was written.
    assert!(mc.get::<Vec<PersonInfo>>("/v1/people?show_expired=true", &p.pm).await.is_empty());
    assert!(mc.get::<Vec<OutboxMessage>>("/v1/outbox", &p.pm).await.is_empty());

    // Staff cannot grant themselves the permission, nor provision doors.
    let path = format!("/v1/managers/{}/key-management", staff.manager_id);
    let (status, _) = mc.refused(Method::PUT, &path, Some(&staff.token), Some(json!({ "enabled": true }))).await;
    assert_eq!(status, 403);
    let (status, _) = mc
        .refused(Method::POST, "/v1/doors", Some(&staff.token), Some(json!({ "name": "Roof", "online": false })))
        .await;
    assert_eq!(status, 403);

    let info: ManagerInfo = mc.ok(Method::PUT, &path, &p.pm, Some(SetKeyManagementRequest { enabled: true })).await;
    assert!(info.key_management && !info.portfolio_manager);
    let me: ManagerInfo = mc.get("/v1/managers/me", &staff.token).await;
    assert!(me.key_management);
    let (status, _) = mc.call(Method::POST, "/v1/invites", Some(&staff.token), Some(invite_body.clone())).await;
    assert_eq!(status, 200);

    // And withdraws it again.
    let _: ManagerInfo = mc.ok(Method::PUT, &path, &p.pm, Some(SetKeyManagementRequest { enabled: false })).await;
    let (status, _) = mc.refused(Method::POST, "/v1/invites", Some(&staff.token), Some(invite_body)).await;
    assert_eq!(status, 403);

    // A manager of another property cannot touch this one's managers.
    let other = property(&mc, "Oak Row").await;
    let (status, _) = mc.refused(Method::PUT, &path, Some(&other.pm), Some(json!({ "enabled": true }))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_invite_with_a_future_start_sends_the_welcome_today_and_the_key_is_upcoming() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let start = now().saturating_add_secs(3 * DAY);
    let expiry = now().saturating_add_secs(30 * DAY);
    let (answer, token) = invite(
        &mc,
        &p.pm,
        "Ann",
        AccessKind::AppKey,
        vec![grant(&[p.lobby.door_id, p.online.door_id], Some(start), Some(expiry))],
        true,
    )
    .await;
    assert!(answer.updates.is_empty(), "an app key needs no door update");
    assert_eq!(answer.person.status, PersonStatus::Upcoming);
    assert_eq!(answer.person.keys[0].status, KeyStatus::Upcoming);
    assert!(!answer.person.accepted);
    let outbox: Vec<OutboxMessage> = mc.get("/v1/outbox", &p.pm).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, "Ann@example.com");
    assert!(outbox[0].body.contains("starts"), "{}", outbox[0].body);

    let phone = accept(&mc, &token).await;
    let key = &phone.accepted.sync.keys[0];
    assert_eq!(key.status, KeyStatus::Upcoming);
    let chain = KeyChain::resident(phone.cert(key.key_id));
    let v = chain.verify_structure(&p.anchors()).unwrap();
    assert_eq!(v.holder, phone.key.public());
    assert_eq!(v.validity, Validity { start, expiry });
    // The door admits it from its start, with no update.
    let door = p.lobby.door_id;
    assert!(matches!(
        chain.verify_for_door(&p.anchors(), door, now(), &NoRevocations),
        Err(ChainError::NotYetValid { .. })
    ));
    assert!(chain.verify_for_door(&p.anchors(), door, start.saturating_add_secs(1), &NoRevocations).is_ok());
    let person: PersonInfo = mc.get(&format!("/v1/people/{}", answer.person.person_id.0), &p.pm).await;
    assert!(person.accepted);
}

/// A resident who shared a guest key, set up over HTTP.
struct Household {
    p: Property,
    person: PersonId,
    key: KeyId,
    phone: Phone,
    guest_chain: KeyChain,
    expiry: keyway_protocol::UnixTime,
    /// Another resident of the same doors, whose phone carries the door updates.
    carrier: Phone,
}

async fn household(mc: &Mc) -> Household {
    let p = property(mc, "Elm Court").await;
    let expiry = now().saturating_add_secs(90 * DAY);
    let doors = [p.lobby.door_id, p.garage.door_id, p.online.door_id];
    let (answer, token) =
        invite(mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&doors, None, Some(expiry))], true).await;
    let phone = accept(mc, &token).await;
    let key = answer.person.keys[0].key_id;
    let cert = phone.cert(key);
    let window = Validity::new(now(), now().saturating_add_secs(7 * DAY)).unwrap();
    let (guest_chain, _) = share(&phone, &cert, &[p.lobby.door_id], window);
    let registered =
        mc.phone_client().register_guest_key(&phone.token, &guest_chain, Some("Dog walker")).await.unwrap();
    assert!(!registered.already_registered);
    assert_eq!(registered.guest.parent_key_id, key);
    let (_, carrier_token) = invite(mc, &p.pm, "Bob", AccessKind::AppKey, vec![grant(&doors, None, None)], false).await;
    let carrier = accept(mc, &carrier_token).await;
    Household { p, person: answer.person.person_id, key, phone, guest_chain, expiry, carrier }
}

/// The revocation state each offline door reaches by applying the batch a phone carries: the
/// real door engine, installed from the backend's provisioning answer.
async fn doors_after_sync(mc: &Mc, h: &Household) -> Vec<(DoorId, RevocationSet)> {
    let sync = mc.phone_client().sync(&h.carrier.token, None).await.unwrap();
    let mut out = Vec::new();
    for door in [&h.p.lobby, &h.p.garage] {
        let tasks = tasks(mc, &h.p.pm, door.door_id).await;
        let mut engine = keyway_test_kit::install::install(door, now()).expect("a genuine provisioning");
        let entry = sync.doors.iter().find(|d| d.door_id == door.door_id).expect("the carrier opens every door");
        if let Some(batch) = &entry.pending_updates {
            let report = engine.apply_batch(batch, now());
            assert_eq!(report.batch_rejected, None, "the batch verifies at the door");
            assert!(report.rejected_updates.is_empty(), "{:?}", report.rejected_updates);
            assert_eq!(report.seq_after, tasks.len() as u64, "the batch carries every pending update");
        } else {
            assert!(tasks.is_empty());
        }
        out.push((door.door_id, engine.revocations().clone()));
    }
    out
}

#[tokio::test]
async fn revoke_all_keys_revokes_each_key_at_each_offline_door_and_the_guests_fall_with_it() {
    let mc = Mc::start().await;
    let h = household(&mc).await;
    let p = &h.p;
    let path = format!("/v1/people/{}", h.person.0);
    let before: PersonInfo = mc.get(&path, &p.pm).await;
    assert_eq!(before.keys[0].guests.len(), 1);
    assert_eq!(before.keys[0].guests[0].status, KeyStatus::Active);

    let answer: RevocationResponse = mc.ok(Method::POST, &format!("{path}/revoke-all"), &p.pm, None::<()>).await;
    assert_eq!(answer.revoked_keys, vec![h.key]);
    // The revocation lasts as long as the key's certificate is fresh (the revalidation window),
    // not to the end of its lease.
    let fresh = h.phone.cert(h.key).body.fresh_until;
    assert!(fresh < h.expiry);
    let expected = DoorOp::RevokeKey { key: h.key, until: fresh };
    let mut doors_hit: Vec<DoorId> = answer.updates.iter().map(|u| u.door_id).collect();
    doors_hit.sort();
    assert_eq!(
        doors_hit,
        vec![p.lobby.door_id, p.garage.door_id, p.online.door_id],
        "every door the key opened, the internet-connected one too"
    );
    for u in &answer.updates {
        assert_eq!(u.seq, 1);
        assert_eq!(u.ops, vec![expected.clone()], "one RevokeKey, nothing for the guest");
    }
    for door in [p.lobby.door_id, p.garage.door_id, p.online.door_id] {
        let t = tasks(&mc, &p.pm, door).await;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].state, TaskState::Pending);
        assert_eq!(t[0].ops, vec![expected.clone()]);
    }

    // Door side: the resident and the guest are both refused after the update.
    let resident = KeyChain::resident(h.phone.cert(h.key));
    for (door, set) in doors_after_sync(&mc, &h).await {
        assert_eq!(
            resident.verify_for_door(&p.anchors(), door, now(), &set),
            Err(ChainError::Revoked(RevokedWhat::Key(h.key)))
        );
        if door == p.lobby.door_id {
            assert!(h.guest_chain.verify_for_door(&p.anchors(), door, now(), &NoRevocations).is_ok(), "valid before");
            assert_eq!(
                h.guest_chain.verify_for_door(&p.anchors(), door, now(), &set),
                Err(ChainError::Revoked(RevokedWhat::Key(h.key)))
            );
        }
    }

    // The person stays, with expired users shown, and their keys and guest show as revoked.
    let listed: Vec<PersonInfo> = mc.get("/v1/people", &p.pm).await;
    assert!(listed.iter().all(|x| x.person_id != h.person));
    let all: Vec<PersonInfo> = mc.get("/v1/people?show_expired=true", &p.pm).await;
    let ann = all.iter().find(|x| x.person_id == h.person).expect("listed with show_expired");
    assert_eq!(ann.status, PersonStatus::Expired);
    assert_eq!(ann.keys[0].status, KeyStatus::Revoked);
    assert_eq!(ann.keys[0].guests[0].status, KeyStatus::Revoked);

    // The phone learns it at its next sync.
    let cursor = h.phone.accepted.sync.cursor.clone();
    let sync = mc.phone_client().sync(&h.phone.token, Some(&cursor)).await.unwrap();
    assert!(!sync.full);
    assert!(sync.revocations.iter().any(|r| r.key_id == h.key && r.until == fresh));
    assert!(sync.revocations.iter().any(|r| r.key_id == h.guest_chain.leaf_key_id()));
    assert!(sync.doors.is_empty(), "no door left to open");

    // Granted again later: a new key id, which the doors' revocation set does not cover.
    let again: KeyChangeResponse =
        mc.ok(Method::POST, &format!("{path}/keys"), &p.pm, Some(grant(&[p.lobby.door_id], None, None))).await;
    assert_ne!(again.key.key_id, h.key);
    assert_eq!(again.key.validity.expiry, NO_EXPIRY);
    let sync = mc.phone_client().sync(&h.phone.token, Some(&sync.cursor)).await.unwrap();
    let new_cert = sync.keys.iter().find(|k| k.key_id == again.key.key_id).unwrap().certificate.clone().unwrap().0;
    let (door, set) = doors_after_sync(&mc, &h).await.remove(0);
    assert!(KeyChain::resident(new_cert).verify_for_door(&p.anchors(), door, now(), &set).is_ok());
    let listed: Vec<PersonInfo> = mc.get("/v1/people", &p.pm).await;
    assert!(listed.iter().any(|x| x.person_id == h.person));
}

#[tokio::test]
async fn delete_person_revokes_the_person_hides_them_and_keeps_their_activity() {
    let mc = Mc::start().await;
    let h = household(&mc).await;
    let p = &h.p;
    // Ann's unlock reaches the backend before the deletion.
    let r = receipt(&p.lobby, 0, vec![unlock(1, h.key, h.person, false)]);
    mc.phone_client().upload_receipts(&h.phone.token, &[r]).await.unwrap();

    let path = format!("/v1/people/{}", h.person.0);
    let answer: RevocationResponse = mc.ok(Method::DELETE, &path, &p.pm, None::<()>).await;
    let expected = DoorOp::RevokePerson { person: h.person, until: h.phone.cert(h.key).body.fresh_until };
    assert_eq!(answer.updates.len(), 3, "the two offline doors and the internet-connected one");
    assert!(answer.updates.iter().all(|u| u.ops == vec![expected.clone()]));

    for (door, set) in doors_after_sync(&mc, &h).await {
        let resident = KeyChain::resident(h.phone.cert(h.key));
        assert_eq!(
            resident.verify_for_door(&p.anchors(), door, now(), &set),
            Err(ChainError::Revoked(RevokedWhat::Person(h.person)))
        );
        if door == p.lobby.door_id {
            assert_eq!(
                h.guest_chain.verify_for_door(&p.anchors(), door, now(), &set),
                Err(ChainError::Revoked(RevokedWhat::Person(h.person)))
            );
        }
    }

    let all: Vec<PersonInfo> = mc.get("/v1/people?show_expired=true", &p.pm).await;
    assert!(all.iter().all(|x| x.person_id != h.person), "gone from the people list");
    let (status, _) = mc.refused(Method::GET, &path, Some(&p.pm), None).await;
    assert_eq!(status, 404);
    let activity: Vec<ActivityEntry> = mc.get(&format!("/v1/activity?person_id={}", h.person.0), &p.pm).await;
    assert_eq!(activity.len(), 1, "past activity stays");
    assert_eq!(activity[0].person_name.as_deref(), Some("Ann"));

    // No way back but a new invite.
    let (status, _) = mc
        .refused(
            Method::POST,
            &format!("{path}/keys"),
            Some(&p.pm),
            Some(json!({ "doors": [p.lobby.door_id.0], "expiry": "never" })),
        )
        .await;
    assert_eq!(status, 410);
    let (status, _) = mc.refused(Method::POST, &format!("{path}/revoke-all"), Some(&p.pm), None).await;
    assert_eq!(status, 410);
    let sync = mc.phone_client().sync(&h.phone.token, None).await.unwrap();
    assert!(sync.person_deleted);
    assert!(sync.doors.is_empty());
    assert!(sync.keys.iter().all(|k| k.status == KeyStatus::Revoked));
}

#[tokio::test]
async fn deleting_one_guest_key_revokes_only_that_key() {
    let mc = Mc::start().await;
    let h = household(&mc).await;
    let guest = h.guest_chain.leaf_key_id();
    let answer: RevocationResponse = mc.ok(Method::DELETE, &format!("/v1/keys/{}", guest.0), &h.p.pm, None::<()>).await;
    assert_eq!(answer.updates.len(), 1, "the guest key opens the lobby only");
    assert_eq!(answer.updates[0].door_id, h.p.lobby.door_id);
    let DoorOp::RevokeKey { key, until } = answer.updates[0].ops[0].clone() else { panic!("{:?}", answer.updates) };
    assert_eq!(key, guest);
    assert_eq!(until, h.guest_chain.guest_link().unwrap().body.validity.expiry);
    let (door, set) = doors_after_sync(&mc, &h).await.remove(0);
    assert_eq!(
        h.guest_chain.verify_for_door(&h.p.anchors(), door, now(), &set),
        Err(ChainError::Revoked(RevokedWhat::Key(guest)))
    );
    assert!(KeyChain::resident(h.phone.cert(h.key)).verify_for_door(&h.p.anchors(), door, now(), &set).is_ok());
    let (status, _) = mc.refused(Method::DELETE, &format!("/v1/keys/{}", guest.0), Some(&h.p.pm), None).await;
    assert_eq!(status, 409, "already revoked");
}

#[tokio::test]
async fn a_later_expiry_reissues_the_key_and_an_earlier_one_replaces_and_revokes_it() {
    let mc = Mc::start().await;
    let h = household(&mc).await;
    let p = &h.p;
    let later = h.expiry.saturating_add_secs(30 * DAY);
    let longer: KeyChangeResponse = mc
        .ok(Method::PATCH, &format!("/v1/keys/{}", h.key.0), &p.pm, Some(ChangeExpiryRequest { expiry: later.into() }))
        .await;
    assert_eq!(longer.key.key_id, h.key);
    assert!(longer.updates.is_empty(), "a longer window needs no door update");
    let sync = mc.phone_client().sync(&h.phone.token, Some(&h.phone.accepted.sync.cursor)).await.unwrap();
    let cert = sync.keys.iter().find(|k| k.key_id == h.key).unwrap().certificate.clone().unwrap().0;
    assert_eq!(cert.body.validity.expiry, later);
    assert!(cert.verify_signature(&p.authority).is_ok());

    let earlier = now().saturating_add_secs(10 * DAY);
    let shorter: KeyChangeResponse = mc
        .ok(
            Method::PATCH,
            &format!("/v1/keys/{}", h.key.0),
            &p.pm,
            Some(ChangeExpiryRequest { expiry: earlier.into() }),
        )
        .await;
    let new_id = shorter.key.key_id;
    assert_ne!(new_id, h.key, "an earlier expiry needs a new key id");
    assert_eq!(shorter.key.validity.expiry, earlier);
    assert_eq!(shorter.updates.len(), 3, "every door of the key, the internet-connected one too");
    for u in &shorter.updates {
        assert_eq!(u.ops, vec![DoorOp::RevokeKey { key: h.key, until: cert.body.fresh_until }]);
    }
    let person: PersonInfo = mc.get(&format!("/v1/people/{}", h.person.0), &p.pm).await;
    let old = person.keys.iter().find(|k| k.key_id == h.key).unwrap();
    assert_eq!(old.status, KeyStatus::Replaced);
    assert_eq!(old.replaced_by, Some(new_id));
    assert_eq!(old.guests[0].status, KeyStatus::Revoked, "guests of the old key fall with it");

    let sync2 = mc.phone_client().sync(&h.phone.token, Some(&sync.cursor)).await.unwrap();
    assert!(sync2.revocations.iter().any(|r| r.key_id == h.key));
    let new_cert = sync2.keys.iter().find(|k| k.key_id == new_id).unwrap().certificate.clone().unwrap().0;
    assert_eq!(new_cert.body.validity.expiry, earlier);
    // The old certificate (with the long expiry) is refused at the doors; the new one opens.
    for (door, set) in doors_after_sync(&mc, &h).await {
        assert!(KeyChain::resident(cert.clone()).verify_for_door(&p.anchors(), door, now(), &set).is_err());
        assert!(KeyChain::resident(new_cert.clone()).verify_for_door(&p.anchors(), door, now(), &set).is_ok());
    }
    // Expiry before the start is impossible.
    let (status, err) =
        mc.refused(Method::PATCH, &format!("/v1/keys/{}", new_id.0), Some(&p.pm), Some(json!({ "expiry": 5 }))).await;
    assert_eq!(status, 400, "{err:?}");
    // A replaced key can no longer be edited.
    let (status, _) = mc
        .refused(Method::PATCH, &format!("/v1/keys/{}", h.key.0), Some(&p.pm), Some(json!({ "expiry": later.0 })))
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn daily_doorcodes_get_a_slot_per_door_and_follow_edits_and_revocation() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let expiry = now().saturating_add_secs(20 * DAY);
    let (answer, token) = invite(
        &mc,
        &p.pm,
        "Cleo",
        AccessKind::DailyDoorcode,
        vec![grant(&[p.lobby.door_id, p.garage.door_id], None, Some(expiry))],
        false,
    )
    .await;
    let person = answer.person.person_id;
    assert_eq!(answer.updates.len(), 2);
    let mut slots = Vec::new();
    for u in &answer.updates {
        let [DoorOp::AddDoorcode { slot, person: who, validity }] = u.ops.as_slice() else { panic!("{:?}", u.ops) };
        assert_eq!(*who, person);
        assert_eq!(validity.expiry, expiry);
        slots.push((u.door_id, *slot));
    }

    // The holder looks up today's codes; they are what the door derives from its secret.
    let codes = mc.phone_client().doorcodes(&token).await.unwrap();
    assert_eq!(codes.codes.len(), 2);
    for c in &codes.codes {
        let door = if c.door_id == p.lobby.door_id { &p.lobby } else { &p.garage };
        let slot = slots.iter().find(|(d, _)| *d == c.door_id).unwrap().1;
        let expected = DoorcodeSecret::new(door.doorcode_secret.0.0).code_at(slot, codes.server_time, 60);
        assert_eq!(c.code, expected.to_string());
        assert_eq!(c.code.len(), keyway_protocol::credential::doorcode::DIGITS as usize);
    }
    // A doorcode invite cannot be accepted as an app key.
    let key = KeyPair::generate();
    let err = mc.phone_client().accept_invite(&token, &key).await.unwrap_err();
    assert!(matches!(err, keyway_api::client::SyncError::Rejected { status: 400, .. }), "{err:?}");

    // A new expiry removes and re-adds the slot with the new window.
    let key_id = answer.person.keys[0].key_id;
    let shorter = now().saturating_add_secs(5 * DAY);
    let changed: KeyChangeResponse = mc
        .ok(
            Method::PATCH,
            &format!("/v1/keys/{}", key_id.0),
            &p.pm,
            Some(ChangeExpiryRequest { expiry: shorter.into() }),
        )
        .await;
    for u in &changed.updates {
        let slot = slots.iter().find(|(d, _)| *d == u.door_id).unwrap().1;
        assert_eq!(u.seq, 2);
        assert_eq!(
            u.ops,
            vec![
                DoorOp::RemoveDoorcode { slot },
                DoorOp::AddDoorcode {
                    slot,
                    person,
                    validity: Validity::new(changed.key.validity.start, shorter).unwrap()
                }
            ]
        );
    }
    // Revoke All Keys removes the slots; the codes are gone.
    let revoked: RevocationResponse =
        mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", person.0), &p.pm, None::<()>).await;
    for u in &revoked.updates {
        let slot = slots.iter().find(|(d, _)| *d == u.door_id).unwrap().1;
        assert_eq!(u.ops, vec![DoorOp::RemoveDoorcode { slot }]);
    }
    assert!(mc.phone_client().doorcodes(&token).await.unwrap().codes.is_empty());
}

#[tokio::test]
async fn keycards_are_added_and_removed_by_door_updates() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (answer, _) =
        invite(&mc, &p.pm, "Dan", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let path = format!("/v1/people/{}/keycards", answer.person.person_id.0);
    let added: KeycardChangeResponse = mc
        .ok(
            Method::POST,
            &path,
            &p.pm,
            Some(AddKeycardRequest {
                card: "04a1b2c3d4e5f6".into(),
                doors: vec![p.lobby.door_id, p.online.door_id],
                start: None,
                expiry: Expiry::Never,
                kind: KeycardKind::UidOnly,
            }),
        )
        .await;
    assert_eq!(added.updates.len(), 2, "the lobby and the internet-connected door");
    let uid = hex::decode("04a1b2c3d4e5f6").unwrap();
    let lobby_update = added.updates.iter().find(|u| u.door_id == p.lobby.door_id).unwrap();
    let DoorOp::AddKeycard { card, person, .. } = &lobby_update.ops[0] else { panic!() };
    // The update names the card's keyed tag at that door, never its UID: a phone that carries
    // it, or reads it, learns nothing it could write to a blank card.
    let lobby_secret = DoorcodeSecret::new(p.lobby.doorcode_secret.0.0);
    assert_eq!(*card, lobby_secret.card_tag(&uid));
    assert!(!card.as_slice().windows(uid.len()).any(|w| w == uid.as_slice()));
    assert_eq!(*person, answer.person.person_id);
    let online_update = added.updates.iter().find(|u| u.door_id == p.online.door_id).unwrap();
    let DoorOp::AddKeycard { card: other, .. } = &online_update.ops[0] else { panic!() };
    assert_ne!(other, card, "each door has its own tag for the card");
    // At the door: the card opens, the tag written to a card does not.
    let mut door = keyway_test_kit::install::install(&p.lobby, now()).unwrap();
    let batch = mc
        .phone_client()
        .sync(
            &accept(
                &mc,
                &invite(&mc, &p.pm, "Cy", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false)
                    .await
                    .1,
            )
            .await
            .token,
            None,
        )
        .await
        .unwrap();
    let batch = batch.doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap().pending_updates.clone().unwrap().0;
    assert!(!batch.to_bytes().windows(uid.len()).any(|w| w == uid.as_slice()), "the carried batch holds no UID");
    door.apply_batch(&batch, now());
    assert!(hold_card(&mut door, &uid, None, now()).access.is_granted());
    assert!(!hold_card(&mut door, card.as_slice(), None, now()).access.is_granted());
    let (status, _) = mc
        .refused(
            Method::POST,
            &path,
            Some(&p.pm),
            Some(json!({ "card": "04a1b2c3d4e5f6", "doors": [p.lobby.door_id.0], "expiry": "never" })),
        )
        .await;
    assert_eq!(status, 409, "a card in use cannot be added twice");
    let (status, _) = mc
        .refused(
            Method::POST,
            &path,
            Some(&p.pm),
            Some(json!({ "card": "04a1", "doors": [p.lobby.door_id.0], "expiry": "never" })),
        )
        .await;
    assert_eq!(status, 400, "too short a card id");

    let removed: KeycardChangeResponse =
        mc.ok(Method::DELETE, &format!("{path}/04a1b2c3d4e5f6"), &p.pm, None::<()>).await;
    let removal = removed.updates.iter().find(|u| u.door_id == p.lobby.door_id).unwrap();
    assert!(matches!(&removal.ops[0], DoorOp::RemoveKeycard { card } if *card == lobby_secret.card_tag(&uid)));
    assert_eq!(removal.seq, 2);
    let info: PersonInfo = mc.get(&format!("/v1/people/{}", answer.person.person_id.0), &p.pm).await;
    assert!(info.keycards[0].removed_at.is_some());
}

/// The lobby's pending batch, as a phone of the property receives it from a sync.
async fn lobby_batch(mc: &Mc, p: &Property) -> UpdateBatch {
    let (_, token) =
        invite(mc, &p.pm, "Carrier", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(mc, &token).await;
    let sync = mc.phone_client().sync(&phone.token, None).await.unwrap();
    sync.doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap().pending_updates.clone().unwrap().0
}

/// New cards are secure unless asked otherwise: the manager who issues one gets its card file
/// once (its UID and its own key, diversified from the property's card key, which the file
/// never holds); the door update names the kind; the door admits the card that answers with
/// that key and refuses a copy of its UID. A UID-only card (on explicit request) gets no file
/// and is listed with a `weaker` marking.
#[tokio::test]
async fn a_secure_keycard_is_issued_with_its_card_file_and_listed_with_its_kind() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let property_key = p.lobby.card_key.clone().expect("a new door is provisioned with the card key").0;
    assert_eq!(p.garage.card_key.as_ref().map(|k| k.0.clone()), Some(property_key.clone()), "one key per property");
    let (answer, _) =
        invite(&mc, &p.pm, "Dan", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let path = format!("/v1/people/{}/keycards", answer.person.person_id.0);

    // No "kind": a secure card.
    let (status, body) = mc
        .call(
            Method::POST,
            &path,
            Some(&p.pm),
            Some(json!({ "card": "04A1B2C3D4E5F6", "doors": [p.lobby.door_id.0], "expiry": "never" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!text.contains(&hex::encode(property_key.as_bytes())), "the answer holds no property card key");
    let added: KeycardChangeResponse = serde_json::from_value(body).unwrap();
    let uid = hex::decode("04a1b2c3d4e5f6").unwrap();
    let file = added.card_file.expect("a secure card comes with its card file");
    assert_eq!(file.uid, "04a1b2c3d4e5f6");
    let card_key = file.key.expect("the card's own key");
    assert_eq!(card_key, property_key.card_key(&uid).unwrap(), "diversified from the property key and the UID");
    assert_ne!(card_key.as_bytes(), property_key.as_bytes());
    assert_eq!((added.keycard.kind, added.keycard.weaker.as_deref()), (KeycardKind::Secure, None));
    let [DoorOp::AddKeycard { card, kind, .. }] = added.updates[0].ops.as_slice() else {
        panic!("{:?}", added.updates)
    };
    assert_eq!((kind, card), (&CardKind::Secure, &DoorcodeSecret::new(p.lobby.doorcode_secret.0.0).card_tag(&uid)));

    // A legacy card, on explicit request.
    let legacy: KeycardChangeResponse = mc
        .ok(
            Method::POST,
            &path,
            &p.pm,
            Some(json!({ "card": "0a0b0c0d", "doors": [p.lobby.door_id.0], "expiry": "never", "kind": "uid_only" })),
        )
        .await;
    assert!(legacy.card_file.is_none(), "a UID-only card has no key to hand out");
    let [DoorOp::AddKeycard { kind: CardKind::UidOnly, .. }] = legacy.updates[0].ops.as_slice() else { panic!() };
    let (status, body) = mc
        .call(
            Method::POST,
            &path,
            Some(&p.pm),
            Some(json!({ "card": "0a0b0c0e", "doors": [p.lobby.door_id.0], "expiry": "never", "kind": "strong" })),
        )
        .await;
    assert_eq!(status, 400, "an unknown kind is refused: {body}");

    // The listing: the kind of each, the legacy card marked as weaker, no key anywhere.
    let (_, listed) =
        mc.call(Method::GET, &format!("/v1/people/{}", answer.person.person_id.0), Some(&p.pm), None).await;
    assert!(!listed.to_string().contains(&hex::encode(card_key.as_bytes())), "the listing holds no card key");
    let info: PersonInfo = serde_json::from_value(listed.clone()).unwrap();
    let kinds: Vec<_> = info.keycards.iter().map(|k| (k.card.as_str(), k.kind, k.weaker.is_some())).collect();
    assert_eq!(kinds, [("04a1b2c3d4e5f6", KeycardKind::Secure, false), ("0a0b0c0d", KeycardKind::UidOnly, true)]);
    assert_eq!(listed["keycards"][1]["kind"], "uid_only");
    assert!(listed["keycards"][1]["weaker"].as_str().unwrap().starts_with("uid-only: "), "{listed}");
    assert!(listed["keycards"][0].get("weaker").is_none());

    // At the door: the issued card opens, a blank card with the copied UID does not.
    let mut door = keyway_test_kit::install::install(&p.lobby, now()).unwrap();
    assert!(door.reads_secure_cards());
    door.apply_batch(&lobby_batch(&mc, &p).await, now());
    let entry = hold_card(&mut door, &uid, Some(&card_key), now());
    assert!(matches!(entry.record.event, ActivityEvent::SecureKeycardEntry { .. }), "{entry:?}");
    assert_eq!(hold_card(&mut door, &uid, None, now()).access, Access::Denied(DenialReason::BadProof));
    let legacy_entry = hold_card(&mut door, &[0x0a, 0x0b, 0x0c, 0x0d], None, now());
    assert!(matches!(legacy_entry.record.event, ActivityEvent::KeycardEntry { .. }), "{legacy_entry:?}");
}

/// A database from before secure keycards (here as schema v3 left it: no card key, no kinds,
/// secrets in clear) upgrades: its card is listed as UID-only (as its doors hold it), its door,
/// provisioned without the card key, refuses a secure card with a clear 409 but takes a UID-only
/// one, and a door installed afterwards gets the property's new card key, sealed like the other
/// secrets.
#[tokio::test]
async fn a_database_from_before_secure_keycards_upgrades_its_cards_as_uid_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        rusqlite_migration::Migrations::new(vec![
            rusqlite_migration::M::up(include_str!("../src/schema_v1.sql")),
            rusqlite_migration::M::up(include_str!("../src/schema_v2.sql")),
            rusqlite_migration::M::up(include_str!("../src/schema_v3.sql")),
        ])
        .to_latest(&mut conn)
        .unwrap();
        let authority = KeyPair::generate();
        let issuer = AuthorityKeyId::of(&authority.public().0);
        let t = now().0 as i64;
        let token_hash = <sha2::Sha256 as sha2::Digest>::digest(b"mgr_old").to_vec();
        let door =
            DoorCertificate::sign(DoorCertBody::new(DoorId(1), KeyPair::generate().public(), issuer), &authority);
        conn.execute_batch(&format!(
            "INSERT INTO properties (id, name, authority_secret, utc_offset_minutes, created_at) VALUES (1, 'Elm Court', x'{}', 60, {t});
             INSERT INTO managers (property_id, name, token_hash, portfolio_manager, key_management, created_at) VALUES (1, 'Pat', x'{}', 1, 1, {t});
             INSERT INTO doors (id, property_id, name, online, certificate, doorcode_secret, created_at) VALUES (1, 1, 'Lobby', 0, x'{}', x'{}', {t});
             INSERT INTO people (id, property_id, name, contact, access, resident, may_share, token_hash, changed_seq, created_at)
                 VALUES (1, 1, 'Dan', 'dan@example.com', 'app_key', 1, 0, x'00', 1, {t});
             INSERT INTO keycards (property_id, person_id, card, doors, start, expiry, created_at)
                 VALUES (1, 1, x'04a1b2c3d4e5f6', '[1]', 0, 253402300799, {t});",
            hex::encode(authority.secret()),
            hex::encode(token_hash),
            hex::encode(door.to_bytes()),
            hex::encode([7u8; 32]),
        ))
        .unwrap();
    }
    let server = mission_control::Server::start_with(
        path.clone(),
        "127.0.0.1:0".parse().unwrap(),
        mission_control::ServerOptions::open_property_creation(),
    )
    .await
    .unwrap();
    let mc = Mc { base: server.base_url(), server, dir, http: reqwest::Client::new() };
    let (person, pm, lobby) = (1, "mgr_old", DoorId(1));
    let info: PersonInfo = mc.get(&format!("/v1/people/{person}"), pm).await;
    assert_eq!(info.keycards.len(), 1);
    assert_eq!(info.keycards[0].kind, KeycardKind::UidOnly);
    assert!(info.keycards[0].weaker.is_some());

    let cards = format!("/v1/people/{person}/keycards");
    let card = |uid: &str, door: DoorId, kind: &str| json!({ "card": uid, "doors": [door.0], "expiry": "never", "kind": kind });
    let (status, body) = mc.call(Method::POST, &cards, Some(pm), Some(card("11223344", lobby, "secure"))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("installed before secure keycards"), "{body}");
    let (status, body) = mc.call(Method::POST, &cards, Some(pm), Some(card("11223344", lobby, "uid_only"))).await;
    assert_eq!(status, 200, "{body}");

    // A door installed now reads secure cards, with a key sealed in the database.
    let door: ProvisionedDoor =
        mc.ok(Method::POST, "/v1/doors", pm, Some(CreateDoorRequest { name: "Annex".into(), online: false })).await;
    let key = door.card_key.expect("provisioned with the property's card key").0;
    let added: KeycardChangeResponse =
        mc.ok(Method::POST, &cards, pm, Some(card("55667788", door.door_id, "secure"))).await;
    assert_eq!(added.card_file.unwrap().key.unwrap(), key.card_key(&[0x55, 0x66, 0x77, 0x88]).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sealed: Vec<u8> = conn.query_row("SELECT card_key FROM properties WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(sealed.len(), 1 + 24 + 16 + 16, "version, nonce, 16 bytes, tag");
    assert!(!sealed.windows(16).any(|w| w == key.as_bytes()), "the card key is sealed");
}

#[tokio::test]
async fn keys_never_certified_need_no_door_update_to_shorten_or_revoke() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (answer, token) =
        invite(&mc, &p.pm, "Eve", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let key = answer.person.keys[0].key_id;
    let shorter = now().saturating_add_secs(DAY);
    let changed: KeyChangeResponse = mc
        .ok(Method::PATCH, &format!("/v1/keys/{}", key.0), &p.pm, Some(ChangeExpiryRequest { expiry: shorter.into() }))
        .await;
    assert_eq!(changed.key.key_id, key, "not accepted yet: the window just changes");
    assert!(changed.updates.is_empty());
    // Accepting now certifies the shortened window.
    let phone = accept(&mc, &token).await;
    assert_eq!(phone.cert(key).body.validity.expiry, shorter);
    // Once certified, revoking needs a door update.
    let revoked: RevocationResponse =
        mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", answer.person.person_id.0), &p.pm, None::<()>).await;
    assert_eq!(revoked.updates.len(), 1);

    let (other, _) =
        invite(&mc, &p.pm, "Fay", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let revoked: RevocationResponse =
        mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", other.person.person_id.0), &p.pm, None::<()>).await;
    assert_eq!(revoked.revoked_keys.len(), 1);
    assert!(revoked.updates.is_empty(), "no certificate was ever issued");
}

#[tokio::test]
async fn concurrent_manager_actions_get_distinct_gap_free_seqs_that_never_change() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let mut keys = Vec::new();
    for i in 0..12 {
        let (answer, token) = invite(
            &mc,
            &p.pm,
            &format!("P{i}"),
            AccessKind::AppKey,
            vec![grant(&[p.lobby.door_id], None, None)],
            false,
        )
        .await;
        accept(&mc, &token).await;
        keys.push(answer.person.keys[0].key_id);
    }
    let mut handles = Vec::new();
    for key in &keys {
        let (http, url, token) = (mc.http.clone(), format!("{}/v1/keys/{}", mc.base, key.0), p.pm.clone());
        handles.push(tokio::spawn(async move {
            http.delete(url).bearer_auth(token).send().await.unwrap().status().as_u16()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let log = tasks(&mc, &p.pm, p.lobby.door_id).await;
    assert_eq!(log.iter().map(|t| t.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<u64>>());
    let mut revoked: Vec<KeyId> = log
        .iter()
        .map(|t| match t.ops.as_slice() {
            [DoorOp::RevokeKey { key, .. }] => *key,
            other => panic!("{other:?}"),
        })
        .collect();
    revoked.sort();
    keys.sort();
    assert_eq!(revoked, keys);
    // Later actions append; what a seq holds stays as it was.
    let (_, token) =
        invite(&mc, &p.pm, "Late", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let late = accept(&mc, &token).await;
    let _: RevocationResponse = mc
        .ok(
            Method::POST,
            &format!("/v1/people/{}/revoke-all", late.accepted.credentials.person_id.0),
            &p.pm,
            None::<()>,
        )
        .await;
    let after = tasks(&mc, &p.pm, p.lobby.door_id).await;
    assert_eq!(after.len(), 13);
    assert_eq!(
        after[..12].iter().map(|t| t.ops.clone()).collect::<Vec<_>>(),
        log.iter().map(|t| t.ops.clone()).collect::<Vec<_>>()
    );
}
