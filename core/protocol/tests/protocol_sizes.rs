//! Measured message sizes (run with `--nocapture` to see the figures). The assertions hold the
//! design's targets: a resident request within 320 bytes, a guest request within 480.

use keyway_protocol::credential::{DoorUpdate, UpdateBatch};
use keyway_protocol::unlock::UnlockRequest;
use keyway_protocol::unlock::frame::{self, MessageKind};
use keyway_test_kit::door::*;
use keyway_test_kit::fixture::*;

fn request_len(p: &Property, h: &Holder, batch: Option<UpdateBatch>) -> (usize, UnlockRequest) {
    let mut door = p.door(DOOR_A);
    let challenge = door.challenge(NOW, [1; 16]);
    let bytes = p.phone(h, DOOR_A, batch).handle_challenge(&challenge.to_bytes()).unwrap();
    (bytes.len(), UnlockRequest::from_bytes(&bytes).unwrap())
}

#[test]
fn unlock_request_sizes_meet_the_targets() {
    let p = Property::new();
    // Realistic ids: backend key and person ids in the millions, two doors on the key.
    let alice = p.resident_with(4_000_123, 1_000_456, doors(&[DOOR_A, DOOR_B]), current(), true);
    let guest = Property::guest_of(&alice, 0x1234_5678_9abc, 52, doors(&[DOOR_A]), current());
    let (resident, r) = request_len(&p, &alice, None);
    let (guest_len, g) = request_len(&p, &guest, None);
    println!(
        "resident request: {resident} bytes (chain {} bytes, sealed body {} bytes)",
        alice.chain.to_bytes().len(),
        r.sealed.len()
    );
    println!(
        "guest request:    {guest_len} bytes (chain {} bytes, sealed body {} bytes)",
        guest.chain.to_bytes().len(),
        g.sealed.len()
    );
    for mtu in [23, 185, 247, 517] {
        println!(
            "  MTU {mtu}: resident {} frames, guest {} frames",
            frame::frame_count(resident, mtu).unwrap(),
            frame::frame_count(guest_len, mtu).unwrap()
        );
    }
    assert!(resident <= 320, "resident request {resident} bytes");
    assert!(guest_len <= 480, "guest request {guest_len} bytes");
    assert_eq!(frame::frame_count(resident, 247).unwrap(), 1);
    assert!(frame::frame_count(guest_len, 247).unwrap() <= 2);

    // Challenge and result.
    let mut door = p.door(DOOR_A);
    let mut s = MessageSession::new(&mut door, NOW, [1; 16]);
    let challenge = s.challenge().to_bytes();
    let req = p.phone(&alice, DOOR_A, None).handle_challenge(&challenge).unwrap();
    s.request(&mut door, &req, NOW).unwrap();
    let result = s.result().unwrap();
    assert_eq!(result.receipt.as_ref().unwrap().body.activity.len(), 1);
    let plain = result.to_bytes().len();
    // On the air: the version byte, the variant, the sealed bytes' length, the AEAD tag.
    let mut message = Vec::new();
    while let Some(f) = s.session.poll_transmit(frame::MAX_MTU) {
        message.push(f);
    }
    let on_air: usize = message[1..].iter().map(|f| f.len() - frame::HEADER_LEN).sum();
    println!(
        "challenge: {} bytes; result with one activity record: {on_air} bytes ({plain} bytes before sealing)",
        challenge.len()
    );
    assert_eq!(on_air, plain + 2 + 2 + keyway_protocol::unlock::seal::TAG_LEN);
    assert_eq!(frame::split(MessageKind::Challenge, 0, &challenge, 185).unwrap().len(), 1);
}

#[test]
fn revocation_batch_sizes() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let (bare, _) = request_len(&p, &alice, None);
    for n in [1u64, 100, 1000] {
        // One update per revocation (separate manager actions), realistic key ids.
        let batch = p.batch(DOOR_A, 1, (0..n).map(|i| vec![revoke_key(4_000_000 + i)]).collect());
        let batch_len = batch.to_bytes().len();
        let (with, _) = request_len(&p, &alice, Some(batch));
        assert_eq!(with, bare + 32, "the request only grows by the batch digest");
        // The batch goes on the air sealed: its bytes and the AEAD tag.
        let sealed_len = batch_len + keyway_protocol::unlock::seal::TAG_LEN;
        let frames = |mtu| frame::frame_count(with, mtu).unwrap() + frame::frame_count(sealed_len, mtu).unwrap();
        println!(
            "{n} revocations as {n} updates: batch message {batch_len} bytes; request {with} bytes; request + batch {} frames at MTU 185, {} at 247",
            frames(185),
            frames(247)
        );
        assert!(batch_len <= 100 + 12 * n as usize, "{batch_len} bytes");
        if n <= 256 {
            // One manager action revoking n keys.
            let ops = (0..n).map(|i| revoke_key(4_000_000 + i)).collect();
            let mut one = p.batch(DOOR_A, 1, vec![]);
            one.body.updates = keyway_protocol::codec::BoundedVec::new(vec![DoorUpdate::new(ops).unwrap()]).unwrap();
            let one = keyway_protocol::credential::Signed::sign(one.body, &p.authority);
            println!("{n} revocations in one update: batch message {} bytes", one.to_bytes().len());
        }
    }
}

#[test]
fn modeled_unlock_time_over_the_simulated_link() {
    use keyway_test_kit::sim::{SimConfig, SimPair};
    let p = Property::new();
    let alice = p.resident(1, 1);
    let guest = Property::guest_of(&alice, 2, 52, doors(&[DOOR_A]), current());
    let big = p.batch(DOOR_A, 1, (0..1000).map(|i| vec![revoke_key(4_000_000 + i)]).collect());
    for mtu in [185, 247] {
        for (name, holder, batch) in [
            ("resident", &alice, None),
            ("guest", &guest, None),
            ("resident + 1000 revocations", &alice, Some(big.clone())),
        ] {
            let mut door = p.door(DOOR_A);
            let run =
                SimPair::new(SimConfig::with_mtu(mtu)).run(p.phone(holder, DOOR_A, batch), &mut door, NOW, [1; 16]);
            let s = &run.stats;
            println!(
                "MTU {mtu} {name}: {} B up / {} B down, {} / {} frames, {} connection events, {:?} (30 ms interval, 4 packets/event)",
                s.bytes_phone_to_door,
                s.bytes_door_to_phone,
                s.frames_phone_to_door,
                s.frames_door_to_phone,
                s.connection_events,
                s.modeled_time
            );
            assert!(run.outcome.unwrap().granted);
        }
    }
}

#[test]
fn documented_message_bounds() {
    use keyway_protocol::credential::SignedBody;
    use keyway_protocol::unlock::{DoorChallenge, DoorResult, ResultMessage};
    println!(
        "bounds: request {}, challenge {}, result {} (message {})",
        UnlockRequest::MAX_LEN,
        DoorChallenge::MAX_LEN,
        DoorResult::MAX_LEN,
        ResultMessage::MAX_LEN
    );
    assert_eq!(UnlockRequest::MAX_LEN, 1343);
    assert_eq!(DoorResult::MAX_LEN, 10_309);
    assert_eq!(ResultMessage::MAX_LEN, 10_330);
    assert_eq!(DoorChallenge::MAX_LEN, 159);
    const { assert!(keyway_protocol::credential::door_update::UpdateBatchBody::MAX_LEN <= frame::MAX_MESSAGE_LEN) };
}
