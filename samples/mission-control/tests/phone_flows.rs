//! The phone API over real HTTP through keyway-core's sync client: invite acceptance, sync
//! with a cursor, receipts and door-update task states, activity, guest-key registration.

mod common;

use common::*;
use keyway_api::client::SyncError;
use keyway_api::*;
use keyway_protocol::credential::*;
use reqwest::Method;

fn status_of(e: &SyncError) -> u16 {
    match e {
        SyncError::Rejected { status, .. } => *status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn accepting_an_invite_refuses_weak_keys_is_one_use_and_safe_to_retry() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (_, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let client = mc.phone_client();

    // The identity point and a small-order point are refused.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    for weak in [PublicKey(identity), PublicKey([0u8; 32])] {
        let body = serde_json::json!({
            "invite_token": token,
            "device_key": B64(weak),
            "proof": B64(keyway_protocol::codec::Bytes64([0; 64])),
        });
        let (status, answer) = mc.call(Method::POST, "/v1/phone/accept", None, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
    }
    assert_eq!(status_of(&client.accept_invite("inv_nope", &KeyPair::generate()).await.unwrap_err()), 404);

    let device = KeyPair::generate();
    let first = client.accept_invite(&token, &device).await.unwrap();
    let sync = &first.sync;
    assert!(sync.full);
    assert_eq!(sync.trust_anchors.iter().map(|k| k.0).collect::<Vec<_>>(), vec![p.authority]);
    assert_eq!(sync.keys.len(), 1);
    let cert = sync.keys[0].certificate.clone().unwrap().0;
    assert_eq!(cert.body.holder, device.public());
    KeyChain::resident(cert).verify_structure(&p.anchors()).unwrap();
    assert_eq!(sync.doors.len(), 1);
    assert_eq!(sync.doors[0].door_id, p.lobby.door_id);
    assert_eq!(
        sync.doors[0].certificate.verify(&p.anchors()).unwrap(),
        KeyPair::from_secret(&p.lobby.door_secret_key.0.0).public()
    );

    // Another device cannot use the invite; the same device retrying gets fresh credentials.
    assert_eq!(status_of(&client.accept_invite(&token, &KeyPair::generate()).await.unwrap_err()), 409);
    let retry = client.accept_invite(&token, &device).await.unwrap();
    assert_eq!(retry.credentials.person_id, first.credentials.person_id);
    assert_eq!(retry.credentials.device_id, first.credentials.device_id);
    assert_ne!(retry.credentials.device_token, first.credentials.device_token);
    assert!(client.sync(&first.credentials.device_token, None).await.unwrap_err().is_unauthorized());
    client.sync(&retry.credentials.device_token, None).await.unwrap();
}

#[tokio::test]
async fn sync_is_incremental_with_a_cursor_and_full_without_a_known_one() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (answer, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    let client = mc.phone_client();
    let c0 = phone.accepted.sync.cursor.clone();

    let quiet = client.sync(&phone.token, Some(&c0)).await.unwrap();
    assert!(!quiet.full);
    assert!(quiet.keys.is_empty() && quiet.revocations.is_empty());
    assert_eq!(quiet.cursor, c0, "nothing changed");
    assert_eq!(quiet.doors.len(), 1, "doors are always listed in full");
    // Idempotent: the same request gives the same answer.
    let again = client.sync(&phone.token, Some(&c0)).await.unwrap();
    assert_eq!((again.cursor.clone(), again.keys.len(), again.doors.len()), (quiet.cursor.clone(), 0, 1));

    let added: KeyChangeResponse = mc
        .ok(
            Method::POST,
            &format!("/v1/people/{}/keys", answer.person.person_id.0),
            &p.pm,
            Some(grant(&[p.garage.door_id], None, None)),
        )
        .await;
    let inc = client.sync(&phone.token, Some(&c0)).await.unwrap();
    assert!(!inc.full);
    assert_eq!(inc.keys.iter().map(|k| k.key_id).collect::<Vec<_>>(), vec![added.key.key_id], "only the change");
    assert!(inc.keys[0].certificate.is_some(), "certified for the accepted device at once");
    assert_eq!(inc.doors.iter().map(|d| d.door_id).collect::<Vec<_>>(), vec![p.lobby.door_id, p.garage.door_id]);
    assert_ne!(inc.cursor, c0);

    // Unknown, foreign or rolled-back (ahead of the server) cursors give a full sync.
    let (prefix, _) = inc.cursor.rsplit_once('.').unwrap();
    for cursor in ["garbage".to_string(), "v1.0000000000000000.1".to_string(), format!("{prefix}.999")] {
        let full = client.sync(&phone.token, Some(&cursor)).await.unwrap();
        assert!(full.full, "{cursor}");
        assert_eq!(full.keys.len(), 2);
    }
    // Another database's cursors are unknown too.
    let other = Mc::start().await;
    let op = property(&other, "Elm Court").await;
    let (_, t) =
        invite(&other, &op.pm, "Ann", AccessKind::AppKey, vec![grant(&[op.lobby.door_id], None, None)], false).await;
    let foreign = accept(&other, &t).await;
    assert!(client.sync(&phone.token, Some(&foreign.accepted.sync.cursor)).await.unwrap().full);
}

#[tokio::test]
async fn a_signed_receipt_moves_door_update_tasks_from_pending_to_delivered_once() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, ann_token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let (cleo, cleo_token) =
        invite(&mc, &p.pm, "Cleo", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    accept(&mc, &ann_token).await;
    accept(&mc, &cleo_token).await;
    let (_, bob_token) =
        invite(&mc, &p.pm, "Bob", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let bob = accept(&mc, &bob_token).await;
    let client = mc.phone_client();
    for person in [ann.person.person_id, cleo.person.person_id] {
        let _: RevocationResponse =
            mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", person.0), &p.pm, None::<()>).await;
    }
    let t = tasks(&mc, &p.pm, p.lobby.door_id).await;
    assert_eq!(
        t.iter().map(|t| (t.seq, t.state)).collect::<Vec<_>>(),
        vec![(1, TaskState::Pending), (2, TaskState::Pending)]
    );

    // Bob's phone carries both, freshly signed, for the lobby only.
    let sync = client.sync(&bob.token, None).await.unwrap();
    let lobby = sync.doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap();
    let batch = lobby.pending_updates.clone().unwrap().0;
    batch.verify_for(&p.anchors(), p.lobby.door_id).unwrap();
    assert!(batch.verify_for(&p.anchors(), p.garage.door_id).is_err());
    assert_eq!((batch.body.first_seq, batch.body.last_seq()), (1, 2));

    // The door applied only seq 1 in this session (receipt signed with the door's key).
    let first = receipt(&p.lobby, 1, vec![unlock(1, KeyId(99), bob.accepted.credentials.person_id, false)]);
    let up = client.upload_receipts(&bob.token, std::slice::from_ref(&first)).await.unwrap();
    assert_eq!(up.results[0].newly_delivered, vec![1]);
    assert_eq!(up.results[0].new_activity, 1);
    assert!(!up.results[0].duplicate);
    let t = tasks(&mc, &p.pm, p.lobby.door_id).await;
    assert_eq!(t[0].state, TaskState::Delivered);
    assert!(t[0].delivered_at.is_some());
    assert_eq!(t[0].receipt_door_time, Some(first.body.door_time));
    assert_eq!(t[1].state, TaskState::Pending);
    let pending: Vec<DoorUpdateTask> = mc.get("/v1/door-updates?state=pending", &p.pm).await;
    assert_eq!(pending.iter().map(|t| t.seq).collect::<Vec<_>>(), vec![2]);

    // The next sync carries only what is left.
    let sync = client.sync(&bob.token, None).await.unwrap();
    let lobby = sync.doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap();
    assert_eq!(lobby.delivered_seq, 1);
    assert_eq!(lobby.known_activity_head, 1);
    let batch = lobby.pending_updates.clone().unwrap().0;
    assert_eq!((batch.body.first_seq, batch.body.last_seq()), (2, 2));

    // Uploading the same receipt again changes nothing.
    let delivered_at = t[0].delivered_at;
    let again = client.upload_receipts(&bob.token, &[first]).await.unwrap();
    assert!(again.results[0].duplicate);
    assert!(again.results[0].newly_delivered.is_empty());
    assert_eq!(again.results[0].new_activity, 0);
    let t = tasks(&mc, &p.pm, p.lobby.door_id).await;
    assert_eq!(t[0].delivered_at, delivered_at);
    assert_eq!(mc.get::<Vec<ActivityEntry>>("/v1/activity", &p.pm).await.len(), 1);

    // The rest arrives with a later session; overlapping activity is merged once.
    let second = receipt(
        &p.lobby,
        2,
        vec![
            unlock(1, KeyId(99), bob.accepted.credentials.person_id, false),
            unlock(2, KeyId(99), bob.accepted.credentials.person_id, false),
        ],
    );
    let up = client.upload_receipts(&bob.token, &[second]).await.unwrap();
    assert_eq!(up.results[0].newly_delivered, vec![2]);
    assert_eq!(up.results[0].new_activity, 1);
    assert!(tasks(&mc, &p.pm, p.lobby.door_id).await.iter().all(|t| t.state == TaskState::Delivered));
    let sync = client.sync(&bob.token, None).await.unwrap();
    let lobby = sync.doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap();
    assert!(lobby.pending_updates.is_none());
    assert_eq!(lobby.known_activity_head, 2);
    let doors: Vec<DoorInfo> = mc.get("/v1/doors", &p.pm).await;
    let info = doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap();
    assert_eq!((info.log_head, info.delivered_seq, info.activity_head), (2, 2, 2));
}

#[tokio::test]
async fn each_receipt_gets_its_own_verdict_and_a_refused_one_holds_back_nothing() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    let _: RevocationResponse =
        mc.ok(Method::DELETE, &format!("/v1/keys/{}", ann.person.keys[0].key_id.0), &p.pm, None::<()>).await;
    let client = mc.phone_client();
    let person = ann.person.person_id;

    let good = receipt(&p.lobby, 1, vec![unlock(1, KeyId(1), person, false)]);
    // Signed by the garage's key but naming the lobby (an impostor, or a re-keyed door).
    let mut forged = receipt(&p.garage, 1, vec![unlock(2, KeyId(1), person, false)]);
    forged.body.door_id = p.lobby.door_id;
    let forged = Receipt::sign(forged.body, &KeyPair::from_secret(&p.garage.door_secret_key.0.0));
    let mut tampered = good.clone();
    tampered.body.applied_seq = 7;
    // A door of another property.
    let other = property(&mc, "Oak Row").await;
    let foreign = receipt(&other.lobby, 1, vec![]);

    let sent = [forged, good.clone(), tampered, foreign];
    let answer = client.upload_receipts(&phone.token, &sent).await.unwrap();
    let verdicts: Vec<&ReceiptVerdict> = answer.results.iter().map(|r| &r.verdict).collect();
    assert_eq!(verdicts.len(), 4, "one verdict per receipt, in order");
    assert_eq!(verdicts[1], &ReceiptVerdict::Accepted);
    for (i, v) in verdicts.iter().enumerate().filter(|(i, _)| *i != 1) {
        assert!(matches!(v, ReceiptVerdict::Refused { reason } if !reason.is_empty()), "receipt {i}: {v:?}");
    }
    assert_eq!(answer.results[1].newly_delivered, vec![1]);
    assert_eq!(tasks(&mc, &p.pm, p.lobby.door_id).await[0].state, TaskState::Delivered, "the good receipt applied");
    let activity = mc.get::<Vec<ActivityEntry>>("/v1/activity", &p.pm).await;
    assert_eq!(activity.len(), 1, "only the verified receipt's record: {activity:?}");
    assert_eq!(activity[0].seq, 1);
    assert_eq!(status_of(&client.upload_receipts("dev_wrong", std::slice::from_ref(&good)).await.unwrap_err()), 401);

    // Sent again, the refused ones are refused again and the good one is a duplicate.
    let again = client.upload_receipts(&phone.token, &sent).await.unwrap();
    assert!(again.results[1].duplicate);
    assert!(matches!(again.results[0].verdict, ReceiptVerdict::Refused { .. }));
}

#[tokio::test]
async fn a_record_naming_another_propertys_person_links_to_no_one() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let other = property(&mc, "Oak Row").await;
    let (_, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let (stranger, _) =
        invite(&mc, &other.pm, "Zed", AccessKind::AppKey, vec![grant(&[other.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    // Elm Court's own door signs a record naming Oak Row's person (anyone holding a door's key,
    // such as whoever provisioned it, can make it say so).
    let r = receipt(&p.lobby, 0, vec![unlock(1, KeyId(5), stranger.person.person_id, false)]);
    mc.phone_client().upload_receipts(&phone.token, &[r]).await.unwrap();
    let activity = mc.get::<Vec<ActivityEntry>>("/v1/activity", &p.pm).await;
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].person_name, None, "{activity:?}");
    assert_eq!(activity[0].person_id, None, "a foreign person id is dropped at ingestion");
}

#[tokio::test]
async fn activity_is_listed_per_door_and_per_person() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, token) = invite(
        &mc,
        &p.pm,
        "Ann",
        AccessKind::AppKey,
        vec![grant(&[p.lobby.door_id, p.garage.door_id], None, None)],
        false,
    )
    .await;
    let (bob, _) =
        invite(&mc, &p.pm, "Bob", AccessKind::DailyDoorcode, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    let (a, b) = (ann.person.person_id, bob.person.person_id);
    let key = ann.person.keys[0].key_id;
    let lobby = receipt(
        &p.lobby,
        0,
        vec![
            unlock(1, key, a, false),
            ActivityRecord { seq: 2, time: now(), event: ActivityEvent::DoorcodeEntry { slot: 1, person: b } },
            ActivityRecord {
                seq: 3,
                time: now(),
                event: ActivityEvent::AppDenied { key: Some(key), person: Some(a), reason: DenialReason::Expired },
            },
            ActivityRecord {
                seq: 4,
                time: now(),
                event: ActivityEvent::KeycardDenied {
                    card: CardId::new(vec![1, 2, 3, 4]).unwrap(),
                    reason: DenialReason::UnknownCredential,
                },
            },
        ],
    );
    let garage = receipt(&p.garage, 0, vec![unlock(1, key, a, false)]);
    mc.phone_client().upload_receipts(&phone.token, &[lobby, garage]).await.unwrap();

    let by_door: Vec<ActivityEntry> = mc.get(&format!("/v1/activity?door_id={}", p.lobby.door_id.0), &p.pm).await;
    assert_eq!(by_door.iter().map(|e| e.seq).collect::<Vec<_>>().len(), 4);
    assert!(by_door.iter().all(|e| e.door_name == "Lobby"));
    let by_ann: Vec<ActivityEntry> = mc.get(&format!("/v1/activity?person_id={}", a.0), &p.pm).await;
    assert_eq!(by_ann.len(), 3);
    assert!(by_ann.iter().any(|e| matches!(e.event, ActivityEvent::AppDenied { reason: DenialReason::Expired, .. })));
    let by_bob: Vec<ActivityEntry> = mc.get(&format!("/v1/activity?person_id={}", b.0), &p.pm).await;
    assert_eq!(by_bob.len(), 1);
    assert_eq!(by_bob[0].person_name.as_deref(), Some("Bob"));
    // Another property's manager sees none of it.
    let other = property(&mc, "Oak Row").await;
    assert!(mc.get::<Vec<ActivityEntry>>("/v1/activity", &other.pm).await.is_empty());
}

#[tokio::test]
async fn guest_keys_are_registered_only_when_their_chain_holds() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, token) = invite(
        &mc,
        &p.pm,
        "Ann",
        AccessKind::AppKey,
        vec![grant(&[p.lobby.door_id, p.garage.door_id], None, Some(now().saturating_add_secs(30 * DAY)))],
        true,
    )
    .await;
    let (_, bob_token) =
        invite(&mc, &p.pm, "Bob", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let ann_phone = accept(&mc, &token).await;
    let bob_phone = accept(&mc, &bob_token).await;
    let client = mc.phone_client();
    let cert = ann_phone.cert(ann.person.keys[0].key_id);
    let week = Validity::new(now(), now().saturating_add_secs(7 * DAY)).unwrap();

    let (chain, _) = share(&ann_phone, &cert, &[p.lobby.door_id], week);
    let first = client.register_guest_key(&ann_phone.token, &chain, Some("Plumber")).await.unwrap();
    assert!(!first.already_registered);
    assert_eq!(first.guest.status, KeyStatus::Active);
    let again = client.register_guest_key(&ann_phone.token, &chain, Some("Plumber")).await.unwrap();
    assert!(again.already_registered, "registering twice is a no-op");
    let info: PersonInfo = mc.get(&format!("/v1/people/{}", ann.person.person_id.0), &p.pm).await;
    assert_eq!(info.keys[0].guests.len(), 1);
    assert_eq!(info.keys[0].guests[0].label.as_deref(), Some("Plumber"));
    assert_eq!(info.keys[0].guests[0].doors, vec![p.lobby.door_id]);

    // Wider than the parent, signed by someone else, registered by another device, not shared.
    let too_long = Validity::new(now(), now().saturating_add_secs(60 * DAY)).unwrap();
    let (wide, _) = share(&ann_phone, &cert, &[p.lobby.door_id], too_long);
    assert_eq!(status_of(&client.register_guest_key(&ann_phone.token, &wide, None).await.unwrap_err()), 400);
    let imposter =
        Phone { key: KeyPair::generate(), token: ann_phone.token.clone(), accepted: ann_phone.accepted.clone() };
    let (forged, _) = share(&imposter, &cert, &[p.lobby.door_id], week);
    assert_eq!(status_of(&client.register_guest_key(&ann_phone.token, &forged, None).await.unwrap_err()), 400);
    let (ok_chain, _) = share(&ann_phone, &cert, &[p.lobby.door_id], week);
    assert_eq!(status_of(&client.register_guest_key(&bob_phone.token, &ok_chain, None).await.unwrap_err()), 400);
    let bob_cert = bob_phone.cert(bob_phone.accepted.sync.keys[0].key_id);
    let (unshareable, _) = share(&bob_phone, &bob_cert, &[p.lobby.door_id], week);
    assert_eq!(status_of(&client.register_guest_key(&bob_phone.token, &unshareable, None).await.unwrap_err()), 400);
    let resident_only = KeyChain::resident(cert.clone());
    assert_eq!(status_of(&client.register_guest_key(&ann_phone.token, &resident_only, None).await.unwrap_err()), 400);
    let info: PersonInfo = mc.get(&format!("/v1/people/{}", ann.person.person_id.0), &p.pm).await;
    assert_eq!(info.keys[0].guests.len(), 1, "nothing else was registered");

    // The guest shows up in the resident's next sync.
    let sync = client.sync(&ann_phone.token, Some(&ann_phone.accepted.sync.cursor)).await.unwrap();
    assert_eq!(sync.guest_keys.iter().map(|g| g.key_id).collect::<Vec<_>>(), vec![chain.leaf_key_id()]);
}

/// A device's public key is in every certificate a door sees and every guest chain: on its own
/// it must enrol nothing. (Before, re-accepting with the resident's public key issued a fresh
/// device token and voided the resident's own.)
#[tokio::test]
async fn accepting_an_invite_needs_proof_of_the_device_key() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (_, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let ann = accept(&mc, &token).await;
    // Someone who learnt Ann's public key (and her invite link) signs with another key.
    let mut forged = AcceptInviteRequest::signed(&token, &KeyPair::generate());
    forged.device_key = B64(ann.key.public());
    let (status, answer) =
        mc.call(Method::POST, "/v1/phone/accept", None, Some(serde_json::to_value(&forged).unwrap())).await;
    assert_eq!(status, 401, "{answer}");
    // A proof for another invite token does not carry over either.
    let mut moved = AcceptInviteRequest::signed("inv_other", &ann.key);
    moved.invite_token = token.clone();
    let (status, _) =
        mc.call(Method::POST, "/v1/phone/accept", None, Some(serde_json::to_value(&moved).unwrap())).await;
    assert_eq!(status, 401);
    // Ann's own device token still works.
    mc.phone_client().sync(&ann.token, None).await.unwrap();
}
