//! The simulated BLE link and the blocking pumps: `run_unlock` against a shared simulated door,
//! `serve_session` against `run_unlock` over a two-thread link, loss, drops and disconnects.

use keyway_link::{DoorServer, Link, LinkError, UnlockError, Volatile, run_unlock};
use keyway_protocol::door::DoorSessionError;
use keyway_protocol::unlock::ProtocolError;
use keyway_protocol::unlock::frame::FrameError;
use keyway_test_kit::fixture::*;
use keyway_test_kit::sim::{SimConfig, SimDoorLink, SimFailure, SimPair};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[test]
fn run_unlock_opens_a_shared_simulated_door_and_reports_the_cost() {
    let p = Property::new();
    let door = Arc::new(Mutex::new(p.door(DOOR_A)));
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 1, vec![vec![revoke_key(40)]]);
    let mut link = SimDoorLink::connect(door.clone(), SimConfig::default(), NOW, [3; 16]);
    let outcome = run_unlock(&mut link, p.phone(&alice, DOOR_A, Some(batch)), T).unwrap();
    assert!(outcome.granted);
    assert_eq!(outcome.updates.seq_after, 1);
    assert_eq!(door.lock().unwrap().update_seq(), 1);
    let s = link.stats().clone();
    assert!(link.door_access().unwrap().is_granted());
    // Down: challenge (127 bytes) and sealed result (144 bytes), one frame each. Up: the
    // sealed request with the batch digest (247 bytes: 2 frames), then the one-update batch,
    // sealed (89 + 16 bytes: 1 frame). Each frame adds its 5-byte header.
    assert_eq!((s.frames_door_to_phone, s.frames_phone_to_door), (2, 3));
    assert_eq!((s.bytes_phone_to_door, s.bytes_door_to_phone), (247 + 105 + 3 * 5, 127 + 144 + 2 * 5));
    // Each message waits for the next connection event: three round legs.
    assert_eq!(s.connection_events, 3);
    assert_eq!(s.modeled_time, Duration::from_millis(90));
    // The same door serves the next phone.
    let mut link = SimDoorLink::connect(door.clone(), SimConfig::with_mtu(23), NOW, [4; 16]);
    let o = run_unlock(&mut link, p.phone(&p.resident(2, 2), DOOR_A, None), T).unwrap();
    assert!(o.granted);
    // 215 bytes (two doors, with the certificate's freshness) in 15-byte pieces.
    assert_eq!(link.stats().frames_phone_to_door, 15, "the resident request in 15-byte pieces");
}

#[test]
fn the_door_decides_before_a_large_batch_has_arrived() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 1, (0..1000).map(|i| vec![revoke_key(100 + i)]).collect());
    let mut door = p.door(DOOR_A);
    let run = SimPair::new(SimConfig::default()).run(p.phone(&alice, DOOR_A, Some(batch)), &mut door, NOW, [1; 16]);
    let decided = run.door_decided_at.unwrap();
    // The request goes out in the first event after the challenge; the batch takes ~12 more.
    assert_eq!(decided, Duration::from_millis(60));
    assert!(run.stats.modeled_time >= Duration::from_millis(300), "{:?}", run.stats.modeled_time);
    let o = run.outcome.unwrap();
    assert!(o.granted);
    assert_eq!(o.updates.seq_after, 1000);
}

#[test]
fn runs_are_deterministic_and_link_layer_loss_only_costs_time() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 1, (0..50).map(|i| vec![revoke_key(100 + i)]).collect());
    let run = |cfg: SimConfig| {
        let mut door = p.door(DOOR_A);
        SimPair::new(cfg).run(p.phone(&alice, DOOR_A, Some(batch.clone())), &mut door, NOW, [1; 16])
    };
    let clean = run(SimConfig::default());
    let lossy_cfg = SimConfig { loss_per_mille: 300, seed: 42, ..Default::default() };
    let lossy = run(lossy_cfg.clone());
    let again = run(lossy_cfg);
    assert_eq!(lossy.stats, again.stats);
    assert_eq!(lossy.frames, again.frames);
    assert!(lossy.stats.retransmissions > 0);
    assert!(lossy.stats.modeled_time > clean.stats.modeled_time);
    assert_eq!(lossy.outcome.unwrap(), clean.outcome.unwrap());
}

#[test]
fn dropped_frames_are_detected_not_misassembled() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 1, (0..50).map(|i| vec![revoke_key(100 + i)]).collect());
    let mut saw_missing = false;
    for seed in 0..40 {
        let mut door = p.door(DOOR_A);
        let cfg = SimConfig { mtu: 23, loss_per_mille: 50, drop_lost: true, seed, ..Default::default() };
        let run = SimPair::new(cfg).run(p.phone(&alice, DOOR_A, Some(batch.clone())), &mut door, NOW, [1; 16]);
        match run.outcome {
            Ok(o) => assert!(o.granted && run.stats.frames_dropped == 0),
            Err(SimFailure::Door(DoorSessionError::Frame(FrameError::Missing { .. })))
            | Err(SimFailure::Phone(ProtocolError::Frame(FrameError::Missing { .. }))) => {
                saw_missing = true;
                assert!(run.stats.frames_dropped > 0);
            }
            // The first frame of a message was lost.
            Err(SimFailure::Door(DoorSessionError::Frame(FrameError::NoMessageInProgress)))
            | Err(SimFailure::Phone(ProtocolError::Frame(FrameError::NoMessageInProgress))) => {
                assert!(run.stats.frames_dropped > 0);
            }
            // The last frame of the request was lost and the batch's first frame came next.
            Err(SimFailure::Door(DoorSessionError::Frame(FrameError::UnexpectedKind { .. }))) => {
                assert!(run.stats.frames_dropped > 0);
            }
            Err(SimFailure::Stalled) => assert!(run.stats.frames_dropped > 0),
            Err(e) => panic!("seed {seed}: {e:?}"),
        }
    }
    assert!(saw_missing);
}

#[test]
fn a_disconnect_after_the_decision_loses_only_the_receipt_and_a_retry_is_idempotent() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 1, vec![vec![revoke_key(40)], vec![revoke_key(41)]]);
    let door = Arc::new(Mutex::new(p.door(DOOR_A)));
    // Enough bytes for challenge and request, not for the result.
    let request_bytes = {
        let mut probe = SimDoorLink::connect(Arc::new(Mutex::new(p.door(DOOR_A))), SimConfig::default(), NOW, [1; 16]);
        run_unlock(&mut probe, p.phone(&alice, DOOR_A, Some(batch.clone())), T).unwrap();
        probe.stats().bytes_door_to_phone + probe.stats().bytes_phone_to_door - 10
    };
    let cfg = SimConfig { disconnect_after_bytes: Some(request_bytes), ..Default::default() };
    let mut link = SimDoorLink::connect(door.clone(), cfg, NOW, [1; 16]);
    let err = run_unlock(&mut link, p.phone(&alice, DOOR_A, Some(batch.clone())), T).unwrap_err();
    assert_eq!(err, UnlockError::Link(LinkError::Disconnected));
    assert!(link.door_access().unwrap().is_granted(), "the door opened");
    assert_eq!(door.lock().unwrap().update_seq(), 2, "and applied the updates");
    // The phone still holds the batch and retries: nothing applies twice, a receipt comes back.
    let mut link = SimDoorLink::connect(door.clone(), SimConfig::default(), NOW, [2; 16]);
    let o = run_unlock(&mut link, p.phone(&alice, DOOR_A, Some(batch)), T).unwrap();
    assert!(!o.batch_carried);
    assert_eq!(o.receipt.as_ref().unwrap().body.applied_seq, 2);
    assert_eq!(door.lock().unwrap().revocations().len(), 2);

    // A disconnect during the request: the door never decides.
    let early = SimConfig { disconnect_after_bytes: Some(120), ..Default::default() };
    let mut link = SimDoorLink::connect(door.clone(), early, NOW, [3; 16]);
    assert!(run_unlock(&mut link, p.phone(&alice, DOOR_A, None), T).is_err());
    assert_eq!(link.door_access(), None);
}

#[test]
fn an_oversize_frame_is_refused_by_the_link() {
    let p = Property::new();
    let door = Arc::new(Mutex::new(p.door(DOOR_A)));
    let mut link = SimDoorLink::connect(door, SimConfig::with_mtu(23), NOW, [1; 16]);
    assert_eq!(link.send(&[0u8; 21]), Err(LinkError::FrameTooLarge { len: 21, max: 20 }));
}

/// One end of an in-process link between two threads.
struct ThreadLink {
    mtu: usize,
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

fn thread_pair(mtu: usize) -> (ThreadLink, ThreadLink) {
    let (a_tx, b_rx) = channel();
    let (b_tx, a_rx) = channel();
    (ThreadLink { mtu, tx: a_tx, rx: a_rx }, ThreadLink { mtu, tx: b_tx, rx: b_rx })
}

impl Link for ThreadLink {
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() > self.mtu - 3 {
            return Err(LinkError::FrameTooLarge { len: frame.len(), max: self.mtu - 3 });
        }
        self.tx.send(frame.to_vec()).map_err(|_| LinkError::Disconnected)
    }
    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => LinkError::Timeout,
            std::sync::mpsc::RecvTimeoutError::Disconnected => LinkError::Disconnected,
        })
    }
}

#[test]
fn the_door_server_and_run_unlock_talk_over_a_real_two_thread_link() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 1, (0..300).map(|i| vec![revoke_key(100 + i)]).collect());
    let (mut phone_end, mut door_end) = thread_pair(185);
    let mut door = p.door(DOOR_A);
    let server = std::thread::spawn(move || {
        let report = DoorServer::new().serve(&mut door_end, &mut door, NOW, [9; 16], &mut Volatile);
        (report, door)
    });
    let outcome = run_unlock(&mut phone_end, p.phone(&alice, DOOR_A, Some(batch)), T).unwrap();
    let (report, door) = server.join().unwrap();
    let report = report.unwrap();
    assert!(outcome.granted && report.decision.access.is_granted());
    assert_eq!(outcome.receipt, report.result.receipt);
    assert_eq!(door.update_seq(), 300);
}

#[test]
fn run_unlock_times_out_when_the_door_is_silent() {
    let p = Property::new();
    let (mut phone_end, _door_end) = thread_pair(247);
    let err =
        run_unlock(&mut phone_end, p.phone(&p.resident(1, 1), DOOR_A, None), Duration::from_millis(50)).unwrap_err();
    assert!(matches!(err, UnlockError::Timeout(_)));
    let (mut phone_end, door_end) = thread_pair(247);
    drop(door_end);
    let err = run_unlock(&mut phone_end, p.phone(&p.resident(1, 1), DOOR_A, None), T).unwrap_err();
    assert_eq!(err, UnlockError::Link(LinkError::Disconnected));
}
