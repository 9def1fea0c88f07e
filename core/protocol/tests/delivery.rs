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
    assert_eq!((door.update_seq(), outcome.receipt.as_ref().unwrap().body.applied_seq), (1, 1));
    assert!(door.revocations().key_revoked(KeyId(40)));
    assert_eq!(door.activity().head(), head, "a delivery logs nothing");
    assert_eq!(
        outcome.receipt.as_ref().unwrap().body.activity.len() as u64,
        head,
        "the admitted holder gets the door's activity"
    );
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
    assert!(outcome.receipt.is_none() && door.activity().head() == head, "no receipt, no activity, no record");
    door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![DoorOp::RevokeKey { key: KeyId(3), until: FAR_UNTIL }]]), NOW);
    let run = deliver(&p, &mut door, &p.resident(3, 3), true);
    assert_eq!(run.outcome.unwrap().denial, Some(DenialReason::RevokedKey));
    assert_eq!((door.update_seq(), door.activity().head()), (1, head));
}

const FAR_UNTIL: keyway_protocol::UnixTime = keyway_protocol::UnixTime(NOW.0 + 30 * DAY);

/// The request's kind is in the transcript its keys derive from: an unlock request presented
/// as a delivery does not open (nor a delivery request as an unlock), so a recorded delivery
/// never opens the door and a recorded unlock never takes the door's activity without its
/// record.
#[test]
fn an_unlock_request_never_passes_for_a_delivery_nor_the_other_way_round() {
    use keyway_protocol::unlock::Access;
    use keyway_protocol::unlock::frame::MessageKind;
    use keyway_test_kit::door::feed_message;
    let p = Property::new();
    let alice = p.resident(1, 1);
    let door = p.door(DOOR_A);
    let answer = |delivery: bool, sent_as: MessageKind| {
        let mut door = door.clone();
        let mut session = keyway_protocol::door::DoorSession::new(&mut door, NOW, [1; 16]);
        let params = p.params(&alice, DOOR_A, None, 0, 2);
        let mut phone = if delivery { PhoneSession::deliver(params) } else { PhoneSession::new(params) }.unwrap();
        let request = phone.handle_challenge(&session.challenge().to_bytes()).unwrap();
        assert_eq!(phone.request_kind(), if delivery { MessageKind::Deliver } else { MessageKind::Request });
        let fed = feed_message(&mut session, &mut door, sent_as, &request, NOW).unwrap();
        (fed.decided.map(|e| e.access), fed.result.unwrap().access)
    };
    assert_eq!(answer(true, MessageKind::Deliver), (None, Access::Granted), "a delivery as a delivery: admitted");
    assert_eq!(answer(false, MessageKind::Request).0, Some(Access::Granted), "an unlock as an unlock: opens");
    let stale = Access::Denied(DenialReason::StaleChallenge);
    assert_eq!(answer(false, MessageKind::Deliver), (None, stale), "an unlock as a delivery");
    assert_eq!(answer(true, MessageKind::Request), (Some(stale), stale), "a delivery as an unlock does not open");
}
