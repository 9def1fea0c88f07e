//! The lock-sim door on its feed, against a real Mission Control on loopback: a revocation
//! reaches the door without any phone, a foreign batch changes nothing, and a door restarting
//! after applying a batch but before reporting it applies nothing twice.

use keyway_api::client::{ClientConfig, ManagerClient, SyncClient};
use keyway_api::*;
use keyway_protocol::credential::{DoorOp, DoorUpdate, KeyPair, Signed, UpdateBatchBody};
use lock_sim::{DoorFile, Feed, FeedLine};
use mission_control::Server;
use std::time::{Duration, Instant};

struct World {
    _dir: tempfile::TempDir,
    _server: Server,
    base: String,
    manager: ManagerClient,
    door: ProvisionedDoor,
    file: DoorFile,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let req = CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 60, manager_name: "Pat".into() };
    let manager = ManagerClient::create_property(&base, &req).await.unwrap().1;
    let door = manager.create_door("Lobby", true).await.unwrap();
    let file = DoorFile::new(dir.path().join("lobby.state"));
    let json = serde_json::to_string(&door).unwrap();
    file.provision(keyway_test_kit::install::provisioning_from_json(&json, keyway_api::clock::now()).unwrap()).unwrap();
    World { _dir: dir, _server: server, base, manager, door, file }
}

/// Ann, a resident with an accepted app key for the lobby.
async fn resident(w: &World) -> InviteResponse {
    let expiry = keyway_api::clock::now().saturating_add_secs(30 * 86_400);
    let req = InviteRequest {
        name: "Ann".into(),
        contact: "ann@example.com".into(),
        access: AccessKind::AppKey,
        keys: vec![KeyGrant { doors: vec![w.door.door_id], start: None, expiry: expiry.into() }],
        resident: true,
        may_share: false,
    };
    let answer = w.manager.invite(&req).await.unwrap();
    let token = w.manager.welcome_token(answer.person.person_id).await.unwrap().unwrap();
    SyncClient::new(ClientConfig::new(&w.base)).unwrap().accept_invite(&token, &KeyPair::generate()).await.unwrap();
    answer
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_the_door_on_its_feed_and_the_door_reports_it() {
    let w = world().await;
    let ann = resident(&w).await;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<FeedLine>::new()));
    let feed = Feed::new(&w.base, w.file.clone()).unwrap();
    let seen = lines.clone();
    let running = tokio::spawn(async move { feed.run(|l| seen.lock().unwrap().push(l.clone())).await });
    until("the feed to connect", async || {
        lines.lock().unwrap().iter().any(|l| matches!(l, FeedLine::Connected { .. }))
    })
    .await;

    w.manager.revoke_all_keys(ann.person.person_id).await.unwrap();
    let key = ann.person.keys[0].key_id;
    until("the revocation at the door", async || w.file.load().unwrap().revocations().key_until(key).is_some()).await;
    until("the door's own receipt", async || {
        let tasks = w.manager.door_updates(Some(w.door.door_id), None).await.unwrap();
        tasks.len() == 1 && tasks[0].state == TaskState::Delivered
    })
    .await;
    running.abort();
    let lines = lines.lock().unwrap();
    assert!(lines.iter().any(|l| matches!(l, FeedLine::Applied { seq_after: 1, .. })), "{lines:?}");
    assert!(lines.iter().any(|l| matches!(l, FeedLine::Reported { applied_seq: 1, .. })), "{lines:?}");
}

#[tokio::test]
async fn a_batch_signed_by_another_propertys_authority_changes_nothing() {
    let w = world().await;
    let feed = Feed::new(&w.base, w.file.clone()).unwrap();
    let before = w.file.load().unwrap().state().to_bytes();
    let stranger = KeyPair::generate();
    let issuer = keyway_protocol::credential::AuthorityKeyId::of(&stranger.public().0);
    let update = DoorUpdate::new(vec![DoorOp::SetUtcOffset { minutes: 120 }]).unwrap();
    let body = UpdateBatchBody::new(w.door.door_id, 1, keyway_api::clock::now(), issuer, vec![update]).unwrap();
    let line = feed.apply(&Signed::sign(body, &stranger)).unwrap();
    assert!(
        matches!(&line, FeedLine::Refused { reason, .. } if reason.contains("authority key this door does not know")),
        "{line:?}"
    );
    assert_eq!(w.file.load().unwrap().state().to_bytes(), before, "the door's state, log included, is untouched");
}

#[tokio::test]
async fn a_door_restarting_between_applying_and_reporting_applies_nothing_twice() {
    let w = world().await;
    let ann = resident(&w).await;
    w.manager.revoke_all_keys(ann.person.person_id).await.unwrap();
    // The first run applies the batch and stops before reporting (power lost).
    let first = Feed::new(&w.base, w.file.clone()).unwrap();
    let (token, seq) = first.session().await.unwrap();
    assert_eq!(seq, 0);
    let client = keyway_api::client::DoorFeedClient::new(ClientConfig::new(&w.base)).unwrap();
    let batch = client.updates(&token, 0, 0).await.unwrap().batch.unwrap().0;
    assert!(matches!(first.apply(&batch).unwrap(), FeedLine::Applied { seq_after: 1, .. }));
    drop(first);
    let activity_before = w.file.load().unwrap().activity().head();
    assert_eq!(w.manager.door_updates(Some(w.door.door_id), None).await.unwrap()[0].state, TaskState::Pending);

    // After the restart the feed resumes from the door's seq and reports what it applied.
    let again = Feed::new(&w.base, w.file.clone()).unwrap();
    let (token, seq) = again.session().await.unwrap();
    assert_eq!(seq, 1, "the door announces the seq it saved");
    let mut lines = Vec::new();
    again.step(&token, 0, &mut |l: &FeedLine| lines.push(l.clone())).await.unwrap();
    assert!(!lines.iter().any(|l| matches!(l, FeedLine::Applied { .. })), "nothing is applied twice: {lines:?}");
    assert!(lines.iter().any(|l| matches!(l, FeedLine::Reported { applied_seq: 1, .. })), "{lines:?}");
    let door = w.file.load().unwrap();
    assert_eq!((door.update_seq(), door.activity().head()), (1, activity_before));
    assert_eq!(w.manager.door_updates(Some(w.door.door_id), None).await.unwrap()[0].state, TaskState::Delivered);
}

#[tokio::test]
async fn a_door_whose_clock_ran_ahead_is_set_back_by_its_feed_and_the_drift_is_shown() {
    let w = world().await;
    let now = keyway_api::clock::now();
    w.file.with_door(|d| d.observe_time(now.saturating_add_secs(86_400))).unwrap();
    let feed = Feed::new(&w.base, w.file.clone()).unwrap();
    feed.session().await.unwrap();
    let clock = w.file.load().unwrap().clock();
    assert!(clock.0.abs_diff(keyway_api::clock::now().0) <= 5, "the clock is back: {clock} vs {now}");
    let doors = w.manager.doors().await.unwrap();
    let drift = doors.iter().find(|d| d.door_id == w.door.door_id).and_then(|d| d.clock_offset_secs);
    assert!(drift.is_some_and(|s| (86_390..=86_410).contains(&s)), "the drift it had is shown: {drift:?}");
}
