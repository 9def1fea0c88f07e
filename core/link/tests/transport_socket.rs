//! A whole unlock over the socket link on loopback: the phone pump on one thread, the door
//! pump on another; and the durable door, which persists before its receipt leaves.

use keyway_link::socket::{DoorListener, SocketLink};
use keyway_link::{DoorHooks, DoorServer, ServeError, UnlockError, run_unlock};
use keyway_protocol::credential::*;
use keyway_protocol::door::{DoorEngine, DoorProvisioning, Entry};
use keyway_protocol::unlock::{PhoneSession, UnlockParams};

/// Hooks that record the activity head the door saved, or fail to save.
struct Recording {
    saved: Arc<Mutex<Option<u64>>>,
    fail: Option<&'static str>,
}

impl DoorHooks for Recording {
    fn actuate(&mut self, _: &Entry) {}
    fn persist(&mut self, door: &DoorEngine) -> Result<(), String> {
        if let Some(e) = self.fail {
            return Err(e.into());
        }
        *self.saved.lock().unwrap() = Some(door.activity().head());
        Ok(())
    }
}
use keyway_test_kit::authority::*;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

struct Fixture {
    authority: Authority,
    door: DoorEngine,
    cert: DoorCertificate,
    phone: KeyPair,
    chain: KeyChain,
}

fn fixture() -> Fixture {
    let authority = Authority::from_seed(4);
    let door_key = KeyPair::from_secret(&[5; 32]);
    let cert = DoorCertificate::sign(DoorCertBody::new(DoorId(7), door_key.public(), authority.id()), &authority.key);
    let now = keyway_api::clock::now();
    let door = DoorEngine::new(DoorProvisioning {
        door_id: DoorId(7),
        door_key,
        anchors: authority.anchors(),
        doorcode_secret: DoorcodeSecret::new([1; 32]),
        card_key: None,
        utc_offset_minutes: 0,
        clock: now,
    });
    let phone = KeyPair::from_secret(&[6; 32]);
    let cert_key = authority.issue(
        3_000_001,
        2_000_001,
        phone.public(),
        doors(&[7]),
        window(now.saturating_sub_secs(60), now.saturating_add_secs(3600)),
        RESIDENT_NO_SHARING,
    );
    Fixture { chain: KeyChain::resident(cert_key), authority, door, cert, phone }
}

fn session(f: &Fixture) -> PhoneSession {
    PhoneSession::new(UnlockParams {
        chain: f.chain.clone(),
        device_key: f.phone.clone(),
        door_cert: f.cert.clone(),
        anchors: f.authority.anchors(),
        batch: None,
        activity_after: 0,
        time: None,
        nonce: [9; 16],
        now: keyway_api::clock::now(),
        resume: None,
    })
    .unwrap()
}

#[test]
fn an_unlock_over_the_socket_link_is_one_round_trip_and_the_door_persists_before_the_receipt() {
    for mtu in [23, 185, 247, 517] {
        let f = fixture();
        let listener = DoorListener::bind("127.0.0.1:0".parse().unwrap(), 517).unwrap();
        let addr = listener.local_addr().unwrap();
        let saved = Arc::new(Mutex::new(None));
        let saved_door = saved.clone();
        let mut engine = f.door.clone();
        let door = thread::spawn(move || {
            let mut link = listener.accept().unwrap();
            let mut hooks = Recording { saved: saved_door, fail: None };
            DoorServer::new()
                .with_timeout(T)
                .serve(&mut link, &mut engine, keyway_api::clock::now(), [8; 16], &mut hooks)
                .unwrap()
        });
        let mut link = SocketLink::connect(addr, mtu, T).unwrap();
        let outcome = run_unlock(&mut link, session(&f), Duration::from_secs(10)).unwrap();
        let report = door.join().unwrap();
        assert!(outcome.granted && report.decision.access.is_granted(), "MTU {mtu}");
        assert_eq!(
            *saved.lock().unwrap(),
            Some(outcome.receipt.as_ref().unwrap().body.activity_head),
            "persisted what the receipt shows"
        );
        let s = link.stats();
        assert_eq!(s.round_trips, 1, "MTU {mtu}");
        assert!(s.frames_sent >= s.bytes_sent.div_ceil(mtu - 3), "frames are bounded by the MTU");
    }
}

#[test]
fn a_door_that_cannot_persist_withholds_its_result() {
    let f = fixture();
    let listener = DoorListener::bind("127.0.0.1:0".parse().unwrap(), 247).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut engine = f.door.clone();
    let door = thread::spawn(move || {
        let mut link = listener.accept().unwrap();
        let mut hooks = Recording { saved: Arc::new(Mutex::new(None)), fail: Some("disk full") };
        let r = DoorServer::new().with_timeout(T).serve(
            &mut link,
            &mut engine,
            keyway_api::clock::now(),
            [8; 16],
            &mut hooks,
        );
        drop(link);
        r
    });
    let mut link = SocketLink::connect(addr, 247, T).unwrap();
    let phone = run_unlock(&mut link, session(&f), Duration::from_secs(10));
    assert_eq!(door.join().unwrap().unwrap_err(), ServeError::Persist("disk full".into()));
    assert!(
        matches!(phone, Err(UnlockError::Link(_)) | Err(UnlockError::Timeout(_))),
        "no receipt reached the phone: {phone:?}"
    );
}
