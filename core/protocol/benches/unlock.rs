//! The unlock's cryptographic cost on each side: building a request (phone), deciding it
//! (door), and the door's decision with Ed25519 batch verification against one strict verify.

// criterion_group! defines an undocumented public fn.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use keyway_protocol::codec;
use keyway_protocol::credential::{self, GuestKeyBody, KeyCertBody, KeyChain, SignedBody, label};
use keyway_protocol::door::DoorEngine;
use keyway_protocol::unlock::{UnlockRequest, message::chain_digest, message::proof_message};
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

fn request(h: &Holder) -> Vec<u8> {
    UnlockRequest::sign(DOOR_A, DOOR_NONCE, [0xA1; 16], 0, &h.chain, None, &h.device).unwrap().to_bytes()
}

fn build_request(c: &mut Criterion) {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let challenge = door.challenge(NOW, DOOR_NONCE).to_bytes();
    let mut g = c.benchmark_group("phone");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for case in cases(&p) {
        // Signing the proof and encoding the request.
        g.bench_function(format!("sign_request/{}", case.name), |b| b.iter(|| black_box(request(&case.holder))));
        // What the phone does when the challenge arrives: verify it, then sign the request.
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

/// The door's decision from the request bytes: decode, chain, scope, revocations, proof.
fn door_verify(c: &mut Criterion) {
    let p = Property::new();
    let mut g = c.benchmark_group("door");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for case in cases(&p) {
        let bytes = request(&case.holder);
        let mut door = p.door(DOOR_A);
        assert!(door.decide_unlock(&UnlockRequest::from_bytes(&bytes).unwrap(), &DOOR_NONCE, NOW).access.is_granted());
        g.bench_function(format!("decide_unlock/{}", case.name), |b| {
            b.iter(|| {
                let r = UnlockRequest::from_bytes(black_box(&bytes)).unwrap();
                black_box(door.decide_unlock(&r, &DOOR_NONCE, NOW))
            })
        });
        g.bench_function(format!("decide_unlock_batch_verify/{}", case.name), |b| {
            b.iter(|| black_box(batch_decide(&door, black_box(&bytes))))
        });
    }
    g.finish();
}

/// The door's signature work with one batch verification instead of one `verify_strict` per
/// signature. Batch verification accepts what cofactored verification accepts and does not
/// reject small-order keys, so every key goes through the weak-key check first (the same
/// `PublicKey::verifying_key` the strict path uses). Scope, validity and revocation checks are
/// the same as in the strict path and are left out here: they cost nanoseconds.
fn batch_decide(door: &DoorEngine, bytes: &[u8]) -> bool {
    let Ok(request) = UnlockRequest::from_bytes(bytes) else { return false };
    let Ok(chain) = KeyChain::from_bytes(&request.chain) else { return false };
    let root = chain.root();
    let Some(authority) = door.state().anchors.get(root.body.issuer) else { return false };
    let mut messages: Vec<Vec<u8>> = Vec::with_capacity(3);
    let mut signatures = Vec::with_capacity(3);
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(3);
    let mut push = |key: &credential::PublicKey, label: &[u8], body: Vec<u8>, sig: &codec::Bytes64| -> bool {
        let Some(vk) = key.verifying_key() else { return false };
        let mut m = label.to_vec();
        m.extend_from_slice(&body);
        messages.push(m);
        signatures.push(Signature::from_bytes(&sig.0));
        keys.push(vk);
        true
    };
    if !push(&authority, KeyCertBody::LABEL, codec::encode(&root.body), &root.signature) {
        return false;
    }
    let mut holder = root.body.holder;
    if let Some(g) = chain.guest_link() {
        if !push(&root.body.holder, GuestKeyBody::LABEL, codec::encode(&g.body), &g.signature) {
            return false;
        }
        holder = g.body.holder;
    }
    let proof = proof_message(
        door.door_id(),
        &request.door_nonce,
        &request.phone_nonce,
        &chain_digest(&request.chain),
        &request.batch_digest.unwrap_or([0; 32]),
        request.activity_after,
    );
    if !push(&holder, label::UNLOCK_PROOF, proof, &request.proof) {
        return false;
    }
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_ok()
}

/// One strict verification, the unit the door's cost is measured in.
fn one_verify(c: &mut Criterion) {
    let k = key(9);
    let msg = [0x42u8; 108];
    let sig = k.sign(label::UNLOCK_PROOF, &msg);
    let pk = k.public();
    let mut g = c.benchmark_group("ed25519");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    g.bench_function("verify_strict", |b| {
        b.iter(|| black_box(credential::verify(&pk, label::UNLOCK_PROOF, black_box(&msg), &sig)))
    });
    g.bench_function("sign", |b| b.iter(|| black_box(k.sign(label::UNLOCK_PROOF, black_box(&msg)))));
    g.finish();
}

fn check_batch_agrees(_: &mut Criterion) {
    // The batch path decides like the strict one on the cases benchmarked, and refuses a forgery.
    let p = Property::new();
    let door = p.door(DOOR_A);
    for case in cases(&p) {
        let mut bytes = request(&case.holder);
        assert!(batch_decide(&door, &bytes));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(!batch_decide(&door, &bytes));
    }
}

criterion_group!(benches, check_batch_agrees, build_request, door_verify, one_verify);
criterion_main!(benches);
