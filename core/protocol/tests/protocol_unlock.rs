//! Full unlocks through the sans-IO sessions over the simulated link: resident, guest, every
//! denial reason an app unlock can meet, and door updates delivered with a verifiable receipt.

use keyway_protocol::credential::{ActivityEvent, CardKind, DenialReason, DoorOp, KeyId, PersonId, RevocationCheck};
use keyway_protocol::unlock::{UnlockOutcome, UpdateRejection};
use keyway_test_kit::door::hold_card;
use keyway_test_kit::fixture::*;

mod support;

fn outcome(run: keyway_test_kit::sim::SimRun) -> UnlockOutcome {
    run.outcome.expect("the exchange completes")
}

#[test]
fn resident_unlock_is_granted_with_a_bound_receipt() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let run = p.unlock(&mut door, &alice, None);
    assert!(run.door_access.unwrap().is_granted());
    let o = outcome(run);
    assert!(o.granted);
    assert_eq!(o.denial, None);
    assert_eq!(o.receipt.as_ref().unwrap().body.phone_nonce, [0xA1; 16]);
    assert_eq!(o.receipt.as_ref().unwrap().body.door_id, DOOR_A);
    assert_eq!(o.receipt.as_ref().unwrap().body.door_time, NOW);
    let last = o.receipt.as_ref().unwrap().body.activity.last().unwrap();
    assert_eq!(last.event, ActivityEvent::AppUnlock { key: KeyId(1), person: PersonId(1), guest: false });
    assert_eq!(o.receipt.as_ref().unwrap().body.activity_head, door.activity().head());
    assert!(!o.batch_carried);
    assert!(o.decision_in_receipt);
    assert_eq!(o.door_clock_skew_secs, 0);
}

#[test]
fn guest_unlock_is_granted_and_logged_as_guest() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let guest = Property::guest_of(&alice, 9, 50, doors(&[DOOR_A]), window(NOW, NOW.saturating_add_secs(DAY)));
    let o = outcome(p.unlock(&mut door, &guest, None));
    assert!(o.granted, "{:?}", o.denial);
    let last = o.receipt.as_ref().unwrap().body.activity.last().unwrap();
    assert_eq!(
        last.event,
        ActivityEvent::AppUnlock { key: KeyId(9 | KeyId::GUEST_BIT), person: PersonId(1), guest: true }
    );
}

fn denial_of(p: &Property, door: &mut keyway_protocol::door::DoorEngine, h: &Holder) -> DenialReason {
    let run = p.unlock(door, h, None);
    let o = outcome(run);
    assert!(!o.granted);
    assert!(o.receipt.is_none(), "a refused presenter gets no receipt");
    // The door logged the same reason it reported (a repeat of the same unattributed refusal
    // folds into the record before it).
    match &door.activity().records().last().unwrap().event {
        ActivityEvent::AppDenied { reason, .. } | ActivityEvent::DeniedRepeatedly { reason, .. } => {
            assert_eq!(Some(*reason), o.denial)
        }
        other => panic!("unexpected record {other:?}"),
    }
    o.denial.unwrap()
}

#[test]
fn each_denial_reason_is_reported_and_logged() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let only_b = p.resident_with(2, 2, doors(&[DOOR_B]), current(), false);
    assert_eq!(denial_of(&p, &mut door, &only_b), DenialReason::WrongDoor);

    let future = p.resident_with(
        3,
        3,
        doors(&[DOOR_A]),
        window(NOW.saturating_add_secs(DAY), NOW.saturating_add_secs(2 * DAY)),
        false,
    );
    assert_eq!(denial_of(&p, &mut door, &future), DenialReason::NotYetValid);

    let past = p.resident_with(
        4,
        4,
        doors(&[DOOR_A]),
        window(NOW.saturating_sub_secs(2 * DAY), NOW.saturating_sub_secs(DAY)),
        false,
    );
    assert_eq!(denial_of(&p, &mut door, &past), DenialReason::Expired);

    // An authority this door does not trust.
    let rogue = Property { authority: key(2), anchors: p.anchors.clone() };
    let forged = rogue.resident(5, 5);
    assert_eq!(denial_of(&p, &mut door, &forged), DenialReason::UnknownIssuer);

    // A key not allowed to share, shared anyway.
    let no_share = p.resident_with(6, 6, doors(&[DOOR_A]), current(), false);
    let guest = Property::guest_of(&no_share, 1, 51, doors(&[DOOR_A]), current());
    assert_eq!(denial_of(&p, &mut door, &guest), DenialReason::SharingNotAllowed);

    // A guest key reaching beyond its parent's window.
    let alice = p.resident(1, 1);
    let wide = Property::guest_of(&alice, 2, 52, doors(&[DOOR_A]), window(NOW, NOW.saturating_add_secs(365 * DAY)));
    assert_eq!(denial_of(&p, &mut door, &wide), DenialReason::GuestScopeWider);

    // A chain whose device key is not the one signing the proof.
    let mut stolen = p.resident(7, 7);
    stolen.device = key(99);
    assert_eq!(denial_of(&p, &mut door, &stolen), DenialReason::BadProof);

    // Revocations arrive by update.
    let revoked = p.resident(8, 8);
    let mut bob = p.resident(9, 9);
    let batch = p.batch(
        DOOR_A,
        1,
        vec![
            vec![revoke_key(8)],
            vec![DoorOp::RevokePerson { person: PersonId(9), until: NOW.saturating_add_secs(30 * DAY) }],
        ],
    );
    assert!(outcome(p.unlock(&mut door, &alice, Some(batch))).granted);
    assert_eq!(denial_of(&p, &mut door, &revoked), DenialReason::RevokedKey);
    assert_eq!(denial_of(&p, &mut door, &bob), DenialReason::RevokedPerson);
    bob.device = key(98);
    assert_eq!(denial_of(&p, &mut door, &bob), DenialReason::RevokedPerson, "revocation is checked before the proof");
    // Both of Bob's refusals came before any verification: one unattributed record.
    assert!(matches!(
        door.activity().records().last().unwrap().event,
        ActivityEvent::DeniedRepeatedly { reason: DenialReason::RevokedPerson, count: 2, .. }
    ));
}

#[test]
fn re_shared_guest_key_is_refused() {
    use keyway_protocol::credential::{GuestKeyBody, KeyChain, Signed};
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let guest = Property::guest_of(&alice, 2, 52, doors(&[DOOR_A]), current());
    let g2_device = key(53);
    let g2 = Signed::sign(
        GuestKeyBody::new(
            KeyId(3 | KeyId::GUEST_BIT),
            KeyId(2 | KeyId::GUEST_BIT),
            g2_device.public(),
            doors(&[DOOR_A]),
            current(),
        ),
        &guest.device,
    );
    let chain =
        KeyChain::with_links(alice.chain.root().clone(), vec![guest.chain.guest_link().unwrap().clone(), g2]).unwrap();
    let resharer = Holder { chain, device: g2_device };
    assert_eq!(denial_of(&p, &mut door, &resharer), DenialReason::ReSharingByGuest);
}

#[test]
fn updates_apply_in_order_and_the_backend_can_verify_the_receipt() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let card = keyway_protocol::codec::BoundedVec::new(vec![1, 2, 3, 4]).unwrap();
    let batch = p.batch(
        DOOR_A,
        1,
        vec![
            vec![DoorOp::AddKeycard {
                card: card.clone(),
                person: PersonId(1),
                validity: current(),
                kind: CardKind::UidOnly,
            }],
            vec![revoke_key(40)],
            vec![DoorOp::RemoveKeycard { card }],
            vec![DoorOp::SetClock { now: NOW.saturating_add_secs(10) }],
        ],
    );
    let o = outcome(p.unlock(&mut door, &alice, Some(batch.clone())));
    assert!(o.granted && o.batch_carried);
    assert_eq!((o.updates.seq_before, o.updates.seq_after), (0, 4));
    assert_eq!(o.updates.applied_seqs().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(o.updates.batch_rejected.is_none() && o.updates.rejected_updates.is_empty());
    assert_eq!(door.update_seq(), 4);
    assert!(door.revocations().key_revoked(KeyId(40)));
    assert!(door.state().keycards.is_empty(), "add then remove, in order");
    assert_eq!(door.clock(), NOW.saturating_add_secs(10));

    // The backend's check: door certificate against its own anchors, then the receipt.
    let door_key = p.door_cert(DOOR_A).verify(&p.anchors).unwrap();
    let receipt = keyway_protocol::credential::Receipt::from_bytes(&o.receipt.as_ref().unwrap().to_bytes()).unwrap();
    receipt.verify_signature(&door_key).unwrap();
    assert_eq!(receipt.body.applied_seq, 4);
    assert_eq!(receipt.body.door_id, DOOR_A);
    // Activity seqs are gap-free from 1.
    let seqs: Vec<u64> = receipt.body.activity.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=receipt.body.activity_head).collect::<Vec<_>>());

    // The next phone carrying the same batch has nothing to deliver and does not carry it.
    let o2 = outcome(p.unlock(&mut door, &alice, Some(batch)));
    assert!(o2.granted && !o2.batch_carried);
    assert_eq!(o2.updates.seq_after, 4);
}

#[test]
fn a_denied_but_authentic_holder_still_delivers_updates_and_a_strangers_batch_is_dropped() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let mallory = p.resident(66, 66);
    // Mallory carries the batch that revokes her own key.
    let batch = p.batch(DOOR_A, 1, vec![vec![revoke_key(66)]]);
    let first = outcome(p.unlock(&mut door, &mallory, Some(batch.clone())));
    assert!(first.granted, "the decision is made before the updates are applied");
    assert_eq!(first.updates.seq_after, 1);
    // A holder whose chain verified and who proved its key, refused afterwards: its batch
    // applies (it is the authority's, whoever carries it), but it gets no receipt.
    let stale = support::not_revalidated(&p, 67, 67);
    let batch2 = p.batch(DOOR_A, 1, vec![vec![revoke_key(66)], vec![revoke_key(68)]]);
    let o = outcome(p.unlock(&mut door, &stale, Some(batch2)));
    assert_eq!(o.denial, Some(DenialReason::NotRevalidated));
    assert!(o.batch_carried);
    assert_eq!((o.updates.seq_before, o.updates.seq_after), (1, 2));
    assert!(door.revocations().key_revoked(KeyId(68)));
    assert_eq!(door.update_seq(), 2);
    assert!(o.receipt.is_none(), "a refused presenter gets no receipt");
    assert!(matches!(
        door.activity().records().last().unwrap().event,
        ActivityEvent::AppDenied {
            key: Some(KeyId(67)),
            person: Some(PersonId(67)),
            reason: DenialReason::NotRevalidated
        }
    ));
    assert_eq!(denial_of(&p, &mut door, &mallory), DenialReason::RevokedKey);
    // A presenter refused before any verification (an expired key, by its own word) carries a
    // genuine batch: the door reads it and drops it, unverified.
    let expired = p.resident_with(
        69,
        69,
        doors(&[DOOR_A]),
        window(NOW.saturating_sub_secs(2 * DAY), NOW.saturating_sub_secs(DAY)),
        false,
    );
    let batch3 = p.batch(DOOR_A, 1, vec![vec![revoke_key(66)], vec![revoke_key(68)], vec![revoke_key(70)]]);
    let o = outcome(p.unlock(&mut door, &expired, Some(batch3)));
    assert_eq!(o.denial, Some(DenialReason::Expired));
    assert!(o.batch_carried);
    assert_eq!((o.updates.seq_before, o.updates.seq_after), (2, 2), "the stranger's batch was dropped");
    assert!(!door.revocations().key_revoked(KeyId(70)));
    assert_eq!(door.update_seq(), 2);
    assert!(o.receipt.is_none());
}

#[test]
fn a_rejected_update_is_reported_and_does_not_stop_the_unlock_or_later_updates() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let back = NOW.saturating_sub_secs(7 * DAY);
    let batch = p.batch(
        DOOR_A,
        1,
        vec![vec![revoke_key(40)], vec![DoorOp::SetClock { now: back }, revoke_key(41)], vec![revoke_key(42)]],
    );
    let o = outcome(p.unlock(&mut door, &alice, Some(batch)));
    assert!(o.granted);
    assert_eq!(o.updates.seq_after, 3);
    assert_eq!(o.updates.applied_seqs().collect::<Vec<_>>(), vec![1, 3]);
    let rejected = &o.updates.rejected_updates[0];
    assert_eq!(rejected.seq, 2);
    assert!(matches!(rejected.reason, UpdateRejection::ClockBackwards { requested, .. } if requested == back));
    // The update was atomic: its other op did not apply either.
    assert!(!door.revocations().key_revoked(KeyId(41)));
    assert!(door.revocations().key_revoked(KeyId(42)));
    assert!(door.clock() >= NOW);
    assert!(
        o.receipt
            .as_ref()
            .unwrap()
            .body
            .activity
            .iter()
            .any(|r| matches!(r.event, ActivityEvent::UpdateRejected { seq: 2, .. }))
    );
}

#[test]
fn the_receipt_carries_activity_after_the_backends_mark() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    // 100 records that are not refusals (refusals of the same kind would fold into one).
    let enrol = DoorOp::AddKeycard {
        card: card_tag(&[9, 9, 9, 9]),
        person: PersonId(5),
        validity: current(),
        kind: CardKind::UidOnly,
    };
    assert!(door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![enrol]]), NOW).rejected_updates.is_empty());
    for _ in 0..100 {
        assert!(hold_card(&mut door, &[9, 9, 9, 9], None, NOW).access.is_granted());
    }
    let head = door.activity().head();
    assert_eq!(head, 100);
    let mut phone = p.params(&alice, DOOR_A, None, 0, 1);
    let run = keyway_test_kit::sim::SimPair::new(Default::default()).run(
        keyway_protocol::unlock::PhoneSession::new(phone.clone()).unwrap(),
        &mut door,
        NOW,
        [1; 16],
    );
    let o = outcome(run);
    let seqs: Vec<u64> = o.receipt.as_ref().unwrap().body.activity.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=64).collect::<Vec<_>>(), "oldest first, at most 64");
    assert!(!o.decision_in_receipt, "this session's record (101) did not fit");
    assert_eq!(o.receipt.as_ref().unwrap().body.activity_head, 101);
    phone.activity_after = 64;
    phone.nonce = [2; 16];
    let run = keyway_test_kit::sim::SimPair::new(Default::default()).run(
        keyway_protocol::unlock::PhoneSession::new(phone).unwrap(),
        &mut door,
        NOW,
        [2; 16],
    );
    let o = outcome(run);
    let seqs: Vec<u64> = o.receipt.as_ref().unwrap().body.activity.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (65..=102).collect::<Vec<_>>());
    assert!(o.decision_in_receipt);
}

/// A request carrying arbitrary chain bytes, sealed for `challenge` with a valid proof by
/// `device` (no `PhoneSession` sends a chain it cannot read: the key schedule is written out in
/// `support::v2`).
fn request_with_chain(chain: Vec<u8>, device: &keyway_protocol::credential::KeyPair, challenge: &[u8]) -> Vec<u8> {
    use keyway_protocol::unlock::frame::MessageKind;
    support::v2::request(MessageKind::Request, challenge, &[0x3C; 32], device, &support::v2::body(chain, 0))
}

/// The challenge `door`'s next session with randomness `random` issues.
fn next_challenge(door: &keyway_protocol::door::DoorEngine, random: [u8; 16]) -> Vec<u8> {
    door.clone().challenge(NOW, random).to_bytes()
}

fn decide_bytes(
    door: &mut keyway_protocol::door::DoorEngine,
    request: &[u8],
    nonce: [u8; 16],
) -> keyway_protocol::unlock::Access {
    let mut s = keyway_test_kit::door::MessageSession::new(door, NOW, nonce);
    let access = s.request(door, request, NOW).unwrap();
    let result = s.result().unwrap().clone();
    assert_eq!(result.access, access);
    assert!(result.receipt.is_none(), "a refused presenter gets no receipt");
    // Refused before anything verified: the record names no one.
    assert!(matches!(
        door.activity().records().last().unwrap().event,
        ActivityEvent::AppDenied { key: None, person: None, .. }
    ));
    access
}

#[test]
fn unreadable_unknown_version_and_weak_key_chains_are_denied_with_their_reason() {
    use keyway_protocol::credential::{GuestKeyBody, KeyChain, PublicKey, Signed};
    use keyway_protocol::unlock::Access;
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let nonce = [4; 16];
    // The hand-sealed request with a readable chain is granted: the refusals below are the
    // chains', not the sealing's.
    {
        let mut door = door.clone();
        let r = request_with_chain(alice.chain.to_bytes(), &alice.device, &next_challenge(&door, nonce));
        let mut s = keyway_test_kit::door::MessageSession::new(&mut door, NOW, nonce);
        assert_eq!(s.request(&mut door, &r, NOW).unwrap(), Access::Granted);
    }
    assert_eq!(
        {
            let r = request_with_chain(vec![1, 2, 3], &alice.device, &next_challenge(&door, nonce));
            decide_bytes(&mut door, &r, nonce)
        },
        Access::Denied(DenialReason::Malformed)
    );
    let mut future = alice.chain.to_bytes();
    future[0] = 2;
    assert_eq!(
        {
            let r = request_with_chain(future, &alice.device, &next_challenge(&door, nonce));
            decide_bytes(&mut door, &r, nonce)
        },
        Access::Denied(DenialReason::UnsupportedVersion)
    );
    // An authority certificate naming a small-order holder key, "sharing" a guest key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = PublicKey(identity);
    let cert = Signed::sign(
        keyway_protocol::credential::KeyCertBody::new(
            keyway_protocol::credential::KeyId(3),
            PersonId(3),
            weak,
            doors(&[DOOR_A]),
            current(),
            keyway_protocol::credential::KeyFlags { resident: true, may_share: true },
            p.issuer(),
        ),
        &p.authority,
    );
    let guest_device = key(60);
    let guest = keyway_protocol::credential::GuestKey {
        body: GuestKeyBody::new(
            KeyId(1 | KeyId::GUEST_BIT),
            KeyId(3),
            guest_device.public(),
            doors(&[DOOR_A]),
            current(),
        ),
        signature: keyway_protocol::codec::Bytes64([0; 64]),
    };
    let chain = KeyChain::guest(cert, guest).to_bytes();
    assert_eq!(
        {
            let r = request_with_chain(chain, &guest_device, &next_challenge(&door, nonce));
            decide_bytes(&mut door, &r, nonce)
        },
        Access::Denied(DenialReason::WeakKey)
    );
}
