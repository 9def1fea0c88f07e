//! The unlock's cryptographic cost on each side: answering a challenge (phone: the offer's
//! signature, two key agreements, the sealed request and its proof), deciding a request (door:
//! two key agreements, the chain's signatures, the proof), and a whole door session without a
//! batch (the decision, then the signed receipt and the sealed result).

// criterion_group! defines an undocumented public fn.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use keyway_protocol::credential::{self, UpdateBatch, label};
use keyway_protocol::door::{DoorEngine, DoorSession, DoorStep};
use keyway_protocol::unlock::frame::{self, MessageKind};
use keyway_test_kit::fixture::*;
use std::time::Duration;

const DOOR_NONCE: [u8; 16] = [0xD0; 16];

struct Case {
    name: &'static str,
    holder: Holder,
}

fn cases(p: &Property) -> Vec<Case> {
    // Backend-sized ids and a two-door key, as in the size tests.
    let resident = p.resident_with(4_000_123, 1_000_456, doors(&[DOOR_A, DOOR_B]), current(), true);
    let guest = Property::guest_of(&resident, 0x1234_5678_9abc, 52, doors(&[DOOR_A]), current());
    vec![Case { name: "resident", holder: resident }, Case { name: "guest", holder: guest }]
}

/// A door with its offer signed ahead of time (as when idle), and the request frames `h`'s phone
/// sends to the challenge of its next session (`batch`: announced, so the door decides on the
/// request alone and waits for the batch).
fn prepared(p: &Property, h: &Holder, batch: Option<UpdateBatch>) -> (DoorEngine, Vec<Vec<u8>>) {
    let mut door = p.door(DOOR_A);
    assert!(door.prepare_offer(NOW, [1; 16]));
    let challenge = DoorSession::new(&mut door.clone(), NOW, DOOR_NONCE).challenge().to_bytes();
    let request = p.phone(h, DOOR_A, batch).handle_challenge(&challenge).unwrap();
    (door, frame::split(MessageKind::Request, 0, &request, frame::MAX_MTU).unwrap())
}

/// Feeds the request frames to a new session of `door`; true once it granted.
fn granted(door: &mut DoorEngine, frames: &[Vec<u8>]) -> bool {
    let mut s = DoorSession::new(door, NOW, DOOR_NONCE);
    let mut granted = false;
    for f in frames {
        match s.handle_frame(door, f, NOW) {
            Ok(DoorStep::Decided(entry)) => granted = entry.access.is_granted(),
            Ok(DoorStep::Finished { decided, result }) => {
                granted = decided.is_some_and(|e| e.access.is_granted());
                let _ = s.handle_saved(door, result);
            }
            Ok(DoorStep::NeedMore) => {}
            Err(_) => return false,
        }
    }
    granted
}

fn build_request(c: &mut Criterion) {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let challenge = door.challenge(NOW, DOOR_NONCE).to_bytes();
    let mut g = c.benchmark_group("phone");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for case in cases(&p) {
        // What the phone does when the challenge arrives: verify the offer, agree the keys,
        // seal the request and make its proof.
        g.bench_function(format!("handle_challenge/{}", case.name), |b| {
            b.iter_batched(
                || p.phone(&case.holder, DOOR_A, None),
                |mut s| black_box(s.handle_challenge(&challenge).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// The door's work before the lock actuates (the request announces a batch, so nothing after
/// the decision is in it), and a whole session without a batch.
fn door_decide(c: &mut Criterion) {
    let p = Property::new();
    let batch = p.batch(DOOR_A, 1, vec![vec![revoke_key(40)]]);
    let mut g = c.benchmark_group("door");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for case in cases(&p) {
        for (what, batch) in [("decide", Some(batch.clone())), ("session", None)] {
            let (door, frames) = prepared(&p, &case.holder, batch);
            assert!(granted(&mut door.clone(), &frames));
            g.bench_function(format!("{what}/{}", case.name), |b| {
                b.iter_batched(|| door.clone(), |mut d| black_box(granted(&mut d, &frames)), BatchSize::SmallInput)
            });
        }
    }
    g.finish();
}

/// A repeat unlock at the door: the resume request opened with the ticket's secret (no
/// public-key operation), the decision, the next ticket; then the whole session.
fn door_resume(c: &mut Criterion) {
    let p = Property::new();
    let mut g = c.benchmark_group("door");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for case in cases(&p) {
        // A first unlock leaves a ticket at the door and on the phone.
        let mut door = p.door(DOOR_A);
        let mut first = p.phone(&case.holder, DOOR_A, None);
        let mut s = DoorSession::new(&mut door, NOW, DOOR_NONCE);
        let challenge = s.poll_transmit(frame::MAX_MTU).unwrap();
        first.handle_frame(&challenge).unwrap();
        let mut ticket = None;
        while let Some(f) = first.poll_transmit(frame::MAX_MTU) {
            if let Ok(DoorStep::Finished { result, .. }) = s.handle_frame(&mut door, &f, NOW) {
                s.handle_saved(&mut door, result).unwrap();
            }
        }
        while let Some(f) = s.poll_transmit(frame::MAX_MTU) {
            if let Ok(Some(o)) = first.handle_frame(&f) {
                ticket = o.ticket;
            }
        }
        door.prepare_offer(NOW, [2; 16]);
        let mut params = p.params(&case.holder, DOOR_A, None, 0, 0xA2);
        params.resume = ticket;
        let challenge = DoorSession::new(&mut door.clone(), NOW, DOOR_NONCE).challenge().to_bytes();
        let request = keyway_protocol::unlock::PhoneSession::new(params).unwrap().handle_challenge(&challenge).unwrap();
        let frames = frame::split(MessageKind::Resume, 0, &request, frame::MAX_MTU).unwrap();
        let before = door.crypto_ops();
        assert!(granted(&mut door.clone(), &frames));
        let mut probe = door.clone();
        granted(&mut probe, &frames);
        assert_eq!(probe.crypto_ops().key_agreements, before.key_agreements, "a repeat unlock agrees no key");
        g.bench_function(format!("resume_session/{}", case.name), |b| {
            b.iter_batched(|| door.clone(), |mut d| black_box(granted(&mut d, &frames)), BatchSize::SmallInput)
        });
    }
    g.finish();
}

/// One strict verification and one signature, the units the door's cost is measured in.
fn one_verify(c: &mut Criterion) {
    let k = key(9);
    let msg = [0x42u8; 108];
    let sig = k.sign(label::KEY_CERT, &msg);
    let pk = k.public();
    let mut g = c.benchmark_group("ed25519");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    g.bench_function("verify_strict", |b| {
        b.iter(|| black_box(credential::verify(&pk, label::KEY_CERT, black_box(&msg), &sig)))
    });
    g.bench_function("sign", |b| b.iter(|| black_box(k.sign(label::KEY_CERT, black_box(&msg)))));
    g.finish();
    let mut g = c.benchmark_group("x25519");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    let secret = x25519_dalek::StaticSecret::from([7u8; 32]);
    let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([9u8; 32]));
    g.bench_function("diffie_hellman", |b| b.iter(|| black_box(secret.diffie_hellman(black_box(&public)))));
    g.finish();
}

fn check_cases(_: &mut Criterion) {
    // The benchmarked sessions grant, and a flipped byte in the request does not.
    let p = Property::new();
    for case in cases(&p) {
        let (door, mut frames) = prepared(&p, &case.holder, None);
        assert!(granted(&mut door.clone(), &frames));
        let last = frames.last_mut().unwrap();
        let end = last.len() - 1;
        last[end] ^= 1;
        assert!(!granted(&mut door.clone(), &frames));
    }
}

criterion_group!(benches, check_cases, build_request, door_decide, door_resume, one_verify);
criterion_main!(benches);
