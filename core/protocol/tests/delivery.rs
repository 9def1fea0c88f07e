//! Delivery sessions: a phone passing a door hands over the door's pending updates and takes
//! its signed receipt without unlocking — the same one round trip, no actuation, no record in
//! the door's log; refused to a holder the door would not admit, whose batch is dropped.

use keyway_protocol::credential::{DenialReason, DoorOp, KeyId, RevocationCheck};
use keyway_protocol::unlock::PhoneSession;
use keyway_test_kit::fixture::*;
use keyway_test_kit::sim::{SimConfig, SimPair};

fn deliver(
    p: &Property,
    door: &mut keyway_protocol::door::DoorEngine,
    h: &Holder,
    batch: bool,
) -> keyway_test_kit::sim::SimRun {
    let batch = batch.then(|| p.batch(door.door_id(), door.update_seq() + 1, vec![vec![revoke_key(40)]]));
    let mut params = p.params(h, door.door_id(), batch, 0, 0x5A);
    params.activity_after = 0;
    let phone = PhoneSession::deliver(params).unwrap();
    SimPair::new(SimConfig::default()).run(phone, door, NOW, [0xD5; 16])
}

#[test]
fn an_admitted_phone_delivers_updates_and_takes_the_receipt_without_opening_the_door() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    assert!(p.unlock(&mut door, &alice, None).outcome.unwrap().granted);
    let head = door.activity().head();
    let run = deliver(&p, &mut door, &p.resident(2, 2), true);
    let outcome = run.outcome.unwrap();
    assert!(outcome.granted && outcome.batch_carried, "admitted: {outcome:?}");
    assert_eq!(run.door_access, None, "no decision, so nothing for the lock to actuate");
    assert_eq!((door.update_seq(), outcome.receipt.body.applied_seq), (1, 1));
    assert!(door.revocations().key_revoked(KeyId(40)));
    assert_eq!(door.activity().head(), head, "a delivery logs nothing");
    assert_eq!(outcome.receipt.body.activity.len() as u64, head, "the admitted holder gets the door's activity");
    // Nothing to carry: still a receipt (the activity alone).
    let run = deliver(&p, &mut door, &alice, false);
    assert!(run.outcome.unwrap().granted && run.door_access.is_none());
}

#[test]
fn a_holder_the_door_would_not_admit_delivers_nothing_and_reads_nothing() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    assert!(p.unlock(&mut door, &p.resident(1, 1), None).outcome.unwrap().granted);
    let head = door.activity().head();
    // Mallory's key is for door B only; a revoked resident likewise.
    let mallory = p.resident_with(2, 2, doors(&[DOOR_B]), current(), false);
    let run = deliver(&p, &mut door, &mallory, true);
    let outcome = run.outcome.unwrap();
    assert_eq!((outcome.granted, outcome.denial), (false, Some(DenialReason::WrongDoor)));
    assert_eq!(door.update_seq(), 0, "the batch was read and dropped");
    assert!(outcome.receipt.body.activity.is_empty() && door.activity().head() == head);
    door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![DoorOp::RevokeKey { key: KeyId(3), until: FAR_UNTIL }]]), NOW);
    let run = deliver(&p, &mut door, &p.resident(3, 3), true);
    assert_eq!(run.outcome.unwrap().denial, Some(DenialReason::RevokedKey));
    assert_eq!((door.update_seq(), door.activity().head()), (1, head));
}

const FAR_UNTIL: keyway_protocol::UnixTime = keyway_protocol::UnixTime(NOW.0 + 30 * DAY);

#[test]
fn an_unlock_proof_never_passes_for_a_delivery_nor_the_other_way_round() {
    use keyway_protocol::unlock::{Access, UnlockRequest};
    let p = Property::new();
    let alice = p.resident(1, 1);
    let mut door = p.door(DOOR_A);
    let challenge = door.clone().challenge(NOW, [1; 16]);
    let unlock =
        UnlockRequest::sign(DOOR_A, challenge.body.nonce, [2; 16], 0, &alice.chain, None, &alice.device).unwrap();
    assert_eq!(door.admit_delivery(&unlock, &challenge.body.nonce, NOW), Access::Denied(DenialReason::BadProof));
    let delivery =
        UnlockRequest::sign_delivery(DOOR_A, challenge.body.nonce, [2; 16], 0, &alice.chain, None, &alice.device)
            .unwrap();
    assert_eq!(door.admit_delivery(&delivery, &challenge.body.nonce, NOW), Access::Granted);
    // A delivery request presented as an unlock does not open the door.
    let entry = door.decide_unlock(&delivery, &challenge.body.nonce, NOW);
    assert_eq!(entry.access, Access::Denied(DenialReason::BadProof));
}
