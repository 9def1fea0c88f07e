//! The door SDK's feed against a real Mission Control on loopback: a controller (a Rust one
//! here; the Python and Kotlin tests write theirs in those languages) provisioned from Mission
//! Control's answer starts its feed, a manager revokes a key, and the door applies it within
//! seconds with no phone involved: saved through the controller's store before its receipt is
//! posted, the actuator untouched, and Mission Control shows the update delivered. `stop()`
//! ends the feed, and so does dropping its handle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyway_api::client::{ClientConfig, ManagerClient, SyncClient};
use keyway_api::*;
use keyway_ffi::door::{DoorActuator, DoorCallbackError, DoorController, DoorEntry, DoorStore};
use keyway_ffi::door_feed::{DoorFeedEvent, DoorFeedListener};
use keyway_protocol::credential::KeyPair;
use mission_control::Server;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct MemStore {
    bytes: Mutex<Option<Vec<u8>>>,
}

impl MemStore {
    fn saved_seq(&self) -> u64 {
        let bytes = self.bytes.lock().unwrap().clone().expect("a door is saved");
        keyway_ffi::door_install::engine_from_bytes(&bytes).unwrap().update_seq()
    }
}

impl DoorStore for MemStore {
    fn load(&self) -> Result<Option<Vec<u8>>, DoorCallbackError> {
        Ok(self.bytes.lock().unwrap().clone())
    }
    fn save(&self, state: Vec<u8>) -> Result<(), DoorCallbackError> {
        *self.bytes.lock().unwrap() = Some(state);
        Ok(())
    }
}

#[derive(Default)]
struct CountingActuator(AtomicU64);

impl DoorActuator for CountingActuator {
    fn open(&self, _: DoorEntry) -> Result<(), DoorCallbackError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Records each event with the seq the store held when it arrived.
struct Recorder {
    store: Arc<MemStore>,
    events: Mutex<Vec<(DoorFeedEvent, u64)>>,
}

impl DoorFeedListener for Recorder {
    fn on_event(&self, event: DoorFeedEvent) -> Result<(), DoorCallbackError> {
        let saved = self.store.saved_seq();
        self.events.lock().unwrap().push((event, saved));
        Ok(())
    }
}

impl Recorder {
    fn events(&self) -> Vec<(DoorFeedEvent, u64)> {
        self.events.lock().unwrap().clone()
    }
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_the_sdk_door_on_its_feed_saved_before_the_receipt_and_stop_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let req = CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 60, manager_name: "Pat".into() };
    let manager = ManagerClient::create_property(&base, &req).await.unwrap().1;
    let provisioned = manager.create_door("Lobby", true).await.unwrap();

    let store = Arc::new(MemStore::default());
    let actuator = Arc::new(CountingActuator::default());
    let json = serde_json::to_string(&provisioned).unwrap();
    let door = DoorController::provision(json, store.clone(), actuator.clone()).unwrap();
    let nobody = Arc::new(Recorder { store: store.clone(), events: Mutex::new(Vec::new()) });
    let refused = door.start_feed("ftp://127.0.0.1/".into(), nobody).await;
    assert!(matches!(refused, Err(keyway_ffi::door::DoorError::InvalidInput { .. })), "only http(s)");

    // Two residents with app keys for the lobby, accepted on their phones.
    let mut people = Vec::new();
    for name in ["Ann", "Bea"] {
        let invite = InviteRequest {
            name: name.into(),
            contact: format!("{name}@example.com"),
            access: AccessKind::AppKey,
            keys: vec![KeyGrant {
                doors: vec![provisioned.door_id],
                start: None,
                expiry: keyway_api::clock::now().saturating_add_secs(30 * 86_400).into(),
            }],
            resident: true,
            may_share: false,
        };
        let answer = manager.invite(&invite).await.unwrap();
        let token = manager.welcome_token(answer.person.person_id).await.unwrap().unwrap();
        SyncClient::new(ClientConfig::new(&base)).unwrap().accept_invite(&token, &KeyPair::generate()).await.unwrap();
        people.push(answer);
    }

    let recorder = Arc::new(Recorder { store: store.clone(), events: Mutex::new(Vec::new()) });
    let feed = door.start_feed(base.clone(), recorder.clone()).await.unwrap();
    until("the feed to connect", async || {
        recorder.events().iter().any(|(e, _)| matches!(e, DoorFeedEvent::Connected { update_seq: 0 }))
    })
    .await;

    let revoked_at = Instant::now();
    manager.revoke_all_keys(people[0].person.person_id).await.unwrap();
    until("the door's receipt at Mission Control", async || {
        let tasks = manager.door_updates(Some(provisioned.door_id), None).await.unwrap();
        tasks.len() == 1 && tasks[0].state == TaskState::Delivered
    })
    .await;
    let delivered_in = revoked_at.elapsed();
    assert!(delivered_in < Duration::from_secs(5), "delivered within seconds: {delivered_in:?}");
    println!("revocation to delivered receipt over the SDK feed: {} ms", delivered_in.as_millis());

    let events = recorder.events();
    let applied = events.iter().find(|(e, _)| matches!(e, DoorFeedEvent::Applied { .. }));
    assert!(
        matches!(applied, Some((DoorFeedEvent::Applied { seq_before: 0, seq_after: 1, rejected_updates }, 1)) if rejected_updates.is_empty()),
        "applied, and already saved when the listener heard it: {events:?}"
    );
    let reported = events.iter().find(|(e, _)| matches!(e, DoorFeedEvent::Reported { .. }));
    assert!(
        matches!(reported, Some((DoorFeedEvent::Reported { applied_seq: 1, newly_delivered }, 1)) if newly_delivered == &vec![1]),
        "{events:?}"
    );
    let key = people[0].person.keys[0].key_id;
    assert!(door.status().revocations >= 1 && store.saved_seq() == 1 && door.update_seq() == 1);
    let restored = keyway_ffi::door_install::engine_from_bytes(&store.bytes.lock().unwrap().clone().unwrap()).unwrap();
    assert!(restored.revocations().key_until(key).is_some(), "the revocation is in the saved state");
    assert_eq!(actuator.0.load(Ordering::SeqCst), 0, "the feed never opens the lock");
    assert!(feed.is_running());

    // Stopped: the next revocation stays pending and the door hears nothing more.
    feed.stop();
    until("the feed to end", async || !feed.is_running()).await;
    let heard = recorder.events().len();
    manager.revoke_all_keys(people[1].person.person_id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(door.update_seq(), 1, "a stopped feed applies nothing");
    assert_eq!(recorder.events().len(), heard, "{:?}", recorder.events());
    let pending = manager.door_updates(Some(provisioned.door_id), Some(TaskState::Pending)).await.unwrap();
    assert_eq!(pending.len(), 1);

    // Dropping a handle ends its feed as well; a new feed resumes from the saved seq.
    let again = door.start_feed(base.clone(), recorder.clone()).await.unwrap();
    until("the second revocation at the door", async || store.saved_seq() == 2).await;
    drop(again);
    until("the second receipt", async || {
        manager.door_updates(Some(provisioned.door_id), Some(TaskState::Pending)).await.unwrap().is_empty()
    })
    .await;
}
