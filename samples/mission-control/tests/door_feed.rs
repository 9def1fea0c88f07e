//! The door feed: an internet-connected door proves its door key on a fresh challenge,
//! receives its log as soon as a manager acts, and its own receipt marks the task delivered.
//! Also: what the feed refuses, and a database restored from an older backup.

mod common;

use common::*;
use keyway_api::client::{ClientConfig, DoorFeedClient, RetryPolicy, SyncError};
use keyway_api::*;
use keyway_protocol::credential::*;
use keyway_protocol::door::DoorEngine;
use reqwest::Method;
use std::time::Duration;

fn feed_client(mc: &Mc) -> DoorFeedClient {
    DoorFeedClient::new(ClientConfig {
        base_url: mc.base.clone(),
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        },
    })
    .unwrap()
}

fn install(door: &ProvisionedDoor) -> DoorEngine {
    keyway_test_kit::install::install(door, now()).expect("a genuine provisioning")
}

/// Opens a feed session for `engine`.
async fn session(feed: &DoorFeedClient, engine: &mut DoorEngine) -> String {
    let challenge = feed.challenge(engine.door_id()).await.unwrap();
    let hello = engine.feed_hello(challenge.nonce.0.0, [5; 16], now());
    feed.session(&hello).await.unwrap().session_token
}

fn status(e: &SyncError) -> u16 {
    match e {
        SyncError::Rejected { status, .. } => *status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_internet_connected_door_hears_a_revocation_at_once_and_reports_it_itself() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, t) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.online.door_id], None, None)], false).await;
    accept(&mc, &t).await;
    let feed = feed_client(&mc);
    let mut door = install(&p.online);
    let token = session(&feed, &mut door).await;
    // Nothing pending yet: the poll waits, and a manager's Revoke All Keys answers it.
    let waiting = {
        let feed = feed.clone();
        let token = token.clone();
        tokio::spawn(async move { feed.updates(&token, 0, 20).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let _: RevocationResponse =
        mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", ann.person.person_id.0), &p.pm, None::<()>).await;
    let answer = waiting.await.unwrap().unwrap();
    eprintln!("revocation reached the waiting feed in {:?}", started.elapsed());
    let batch = answer.batch.expect("the revocation, pushed").0;
    assert_eq!(answer.log_head, 1);
    let report = door.apply_batch(&batch, now());
    assert_eq!((report.seq_after, report.batch_rejected), (1, None));
    assert!(door.revocations().key_until(ann.person.keys[0].key_id).is_some());

    // The door posts its own receipt: the task is delivered on the door's word.
    let receipt = door.receipt([1; 16], answer.known_activity_head);
    let posted = feed.receipts(&token, &[receipt]).await.unwrap();
    assert_eq!(posted.results[0].verdict, ReceiptVerdict::Accepted);
    assert_eq!(posted.results[0].newly_delivered, vec![1]);
    let task = &tasks(&mc, &p.pm, p.online.door_id).await[0];
    assert_eq!(task.state, TaskState::Delivered);
    // Nothing more: a poll with no wait answers empty.
    assert!(feed.updates(&token, 1, 0).await.unwrap().batch.is_none());
    let doors: Vec<DoorInfo> = mc.get("/v1/doors", &p.pm).await;
    let info = doors.iter().find(|d| d.door_id == p.online.door_id).unwrap();
    assert!(info.feed_seen_at.is_some());
    assert_eq!((info.delivered_seq, info.reported_seq), (1, 1));
}

#[tokio::test]
async fn the_feed_trusts_only_the_certified_door_key_and_fresh_single_use_challenges() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let feed = feed_client(&mc);
    let mut door = install(&p.online);

    // A hello signed by another key, for the door's id.
    let challenge = feed.challenge(door.door_id()).await.unwrap();
    let body = door.feed_hello(challenge.nonce.0.0, [5; 16], now()).body;
    let forged = FeedHello::sign(body.clone(), &KeyPair::generate());
    assert_eq!(status(&feed.session(&forged).await.unwrap_err()), 401);
    // The challenge was spent by that attempt: the genuine hello for it is refused too.
    let genuine = FeedHello::sign(body, &KeyPair::from_secret(&p.online.door_secret_key.0.0));
    assert_eq!(status(&feed.session(&genuine).await.unwrap_err()), 401);
    // A nonce the server never issued, and a challenge issued for another door.
    assert_eq!(status(&feed.session(&door.feed_hello([9; 32], [5; 16], now())).await.unwrap_err()), 401);
    let other = feed.challenge(p.lobby.door_id).await.unwrap();
    assert_eq!(status(&feed.session(&door.feed_hello(other.nonce.0.0, [5; 16], now())).await.unwrap_err()), 401);
    // Replaying a hello that worked.
    let challenge = feed.challenge(door.door_id()).await.unwrap();
    let hello = door.feed_hello(challenge.nonce.0.0, [5; 16], now());
    let token = feed.session(&hello).await.unwrap().session_token;
    assert_eq!(status(&feed.session(&hello).await.unwrap_err()), 401);

    // The session is the door's alone: another door's receipt is refused, and a made-up token
    // gets nothing.
    let lobby_receipt = receipt(&p.lobby, 0, vec![]);
    let answer = feed.receipts(&token, &[lobby_receipt]).await.unwrap();
    assert!(matches!(answer.results[0].verdict, ReceiptVerdict::Refused { .. }), "{answer:?}");
    assert_eq!(status(&feed.updates("feed_0000", 0, 0).await.unwrap_err()), 401);
    // A phone's device token is no feed session either.
    let (_, t) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &t).await;
    assert_eq!(status(&feed.updates(&phone.token, 0, 0).await.unwrap_err()), 401);
}

/// The door is at seq 3 when the database is restored from a backup taken at seq 0: a
/// receipt shows the door ahead; the next manager action is numbered above the door, what the
/// door should hold is queued again, and a task reads delivered only when the door applied it.
#[tokio::test]
async fn a_restored_database_numbers_above_the_door_and_reports_truthfully() {
    let mut mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let lobby = p.lobby.door_id;
    let (ann, t) = invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[lobby], None, None)], false).await;
    accept(&mc, &t).await;
    let (bob, t) = invite(&mc, &p.pm, "Bob", AccessKind::AppKey, vec![grant(&[lobby], None, None)], false).await;
    accept(&mc, &t).await;
    let (_, carrier) = invite(&mc, &p.pm, "Cy", AccessKind::AppKey, vec![grant(&[lobby], None, None)], false).await;
    let cy = accept(&mc, &carrier).await;
    let backup = mc.dir.path().join("backup.db");
    {
        let conn = rusqlite::Connection::open(mc.dir.path().join("mc.db")).unwrap();
        conn.execute("VACUUM INTO ?1", [backup.to_str().unwrap()]).unwrap();
    }
    // After the backup: Ann's keys are revoked and the door applies it (and two more updates).
    let mut door = install(&p.lobby);
    let revoke = |id: PersonId| format!("/v1/people/{}/revoke-all", id.0);
    let _: RevocationResponse = mc.ok(Method::POST, &revoke(ann.person.person_id), &p.pm, None::<()>).await;
    for name in ["Dee", "Eve"] {
        invite(&mc, &p.pm, name, AccessKind::DailyDoorcode, vec![grant(&[lobby], None, None)], false).await;
    }
    let sync = mc.phone_client().sync(&cy.token, None).await.unwrap();
    let batch = sync.doors.iter().find(|d| d.door_id == lobby).unwrap().pending_updates.clone().unwrap().0;
    assert_eq!(door.apply_batch(&batch, now()).seq_after, 3);

    // The database is restored from the backup (log head 0, Ann's key live again).
    mc.server.shutdown().await.unwrap();
    std::fs::copy(&backup, mc.dir.path().join("mc.db")).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(mc.dir.path().join(format!("mc.db{suffix}")));
    }
    mc.server =
        mission_control::Server::start(mc.dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    mc.base = mc.server.base_url();

    // Cy's phone brings the door's receipt (applied seq 3): the door is ahead of the log.
    let receipt = door.receipt([2; 16], 0);
    let up = mc.phone_client().upload_receipts(&cy.token, &[receipt]).await.unwrap();
    assert_eq!(up.results[0].verdict, ReceiptVerdict::Accepted);
    let doors: Vec<DoorInfo> = mc.get("/v1/doors", &p.pm).await;
    let info = doors.iter().find(|d| d.door_id == lobby).unwrap();
    assert_eq!(info.reported_seq, 3);
    assert!(info.diverged_at.is_some(), "the door list flags the door: {info:?}");

    // The manager acts again: Revoke All Keys for Bob, numbered above the door's seq.
    let answer: RevocationResponse = mc.ok(Method::POST, &revoke(bob.person.person_id), &p.pm, None::<()>).await;
    let bob_seq = answer.updates.iter().find(|u| u.door_id == lobby).unwrap().seq;
    assert!(bob_seq > 3, "numbered above the door, not from the restored head: {bob_seq}");
    let sync = mc.phone_client().sync(&cy.token, None).await.unwrap();
    let batch = sync.doors.iter().find(|d| d.door_id == lobby).unwrap().pending_updates.clone().unwrap().0;
    assert_eq!(batch.body.first_seq, 4);
    let report = door.apply_batch(&batch, now());
    assert_eq!((report.batch_rejected, report.seq_after), (None, bob_seq));
    assert!(door.revocations().key_revoked(bob.person.keys[0].key_id), "Bob's revocation applied at the door");
    let up = mc.phone_client().upload_receipts(&cy.token, &[door.receipt([3; 16], 0)]).await.unwrap();
    assert!(up.results[0].newly_delivered.contains(&bob_seq));
    let task = tasks(&mc, &p.pm, lobby).await.into_iter().find(|t| t.seq == bob_seq).unwrap();
    assert_eq!(task.state, TaskState::Delivered);
}

/// A door whose revocation table is full refuses the update and says so in its signed log: the
/// task reads rejected with the reason, not delivered.
#[tokio::test]
async fn an_update_the_door_refused_is_a_rejected_task_with_its_reason() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let lobby = p.lobby.door_id;
    let mut people = Vec::new();
    for name in ["Ann", "Bob"] {
        let (answer, t) = invite(&mc, &p.pm, name, AccessKind::AppKey, vec![grant(&[lobby], None, None)], false).await;
        accept(&mc, &t).await;
        people.push(answer.person.person_id);
    }
    for person in &people {
        let _: RevocationResponse =
            mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", person.0), &p.pm, None::<()>).await;
    }
    let limits = keyway_protocol::door::DoorLimits { revocations: 1, ..keyway_protocol::door::DoorLimits::STANDARD };
    let mut door = install(&p.lobby).with_limits(limits).unwrap();
    let (_, t) = invite(&mc, &p.pm, "Cy", AccessKind::AppKey, vec![grant(&[lobby], None, None)], false).await;
    let cy = accept(&mc, &t).await;
    let sync = mc.phone_client().sync(&cy.token, None).await.unwrap();
    let batch = sync.doors.iter().find(|d| d.door_id == lobby).unwrap().pending_updates.clone().unwrap().0;
    let report = door.apply_batch(&batch, now());
    assert_eq!(report.seq_after, 2);
    assert_eq!(report.rejected_updates.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2]);
    let up = mc.phone_client().upload_receipts(&cy.token, &[door.receipt([4; 16], 0)]).await.unwrap();
    assert_eq!(up.results[0].newly_delivered, vec![1], "the refused update is not delivered");
    let tasks = tasks(&mc, &p.pm, lobby).await;
    assert_eq!(tasks[0].state, TaskState::Delivered);
    assert_eq!(tasks[1].state, TaskState::Rejected, "{tasks:?}");
    assert!(tasks[1].rejection.as_deref().unwrap_or("").contains("table is full"), "{:?}", tasks[1].rejection);
}

/// An expired doorcode slot and keycard leave the door with the next change to its log, once:
/// a busy door does not fill up with what no longer opens anything.
#[tokio::test]
async fn lapsed_slots_and_cards_are_removed_with_the_next_change_to_the_door() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let lobby = p.lobby.door_id;
    let soon = now().saturating_add_secs(2);
    let (dee, _) =
        invite(&mc, &p.pm, "Dee", AccessKind::DailyDoorcode, vec![grant(&[lobby], None, Some(soon))], false).await;
    let slot = match dee.updates.iter().find(|u| u.door_id == lobby).map(|u| u.ops.as_slice()) {
        Some([DoorOp::AddDoorcode { slot, .. }]) => *slot,
        other => panic!("{other:?}"),
    };
    let card = AddKeycardRequest {
        card: "0a0b0c0d".into(),
        doors: vec![lobby],
        start: None,
        expiry: Expiry::At(soon),
        kind: KeycardKind::Secure,
    };
    let _: KeycardChangeResponse =
        mc.ok(Method::POST, &format!("/v1/people/{}/keycards", dee.person.person_id.0), &p.pm, Some(card)).await;
    while now() < soon {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Any later change to the lobby's log brings the removals first.
    let (eve, _) = invite(&mc, &p.pm, "Eve", AccessKind::DailyDoorcode, vec![grant(&[lobby], None, None)], false).await;
    let ops: Vec<DoorOp> = eve.updates.iter().filter(|u| u.door_id == lobby).flat_map(|u| u.ops.clone()).collect();
    let tag = DoorcodeSecret::new(p.lobby.doorcode_secret.0.0).card_tag(&[0x0a, 0x0b, 0x0c, 0x0d]);
    assert_eq!(ops[0], DoorOp::RemoveDoorcode { slot });
    assert_eq!(ops[1], DoorOp::RemoveKeycard { card: tag });
    assert!(matches!(ops[2], DoorOp::AddDoorcode { .. }), "{ops:?}");
    // And only once.
    let (fay, _) = invite(&mc, &p.pm, "Fay", AccessKind::DailyDoorcode, vec![grant(&[lobby], None, None)], false).await;
    let ops: Vec<DoorOp> = fay.updates.iter().flat_map(|u| u.ops.clone()).collect();
    assert!(matches!(ops.as_slice(), [DoorOp::AddDoorcode { .. }]), "{ops:?}");
}
