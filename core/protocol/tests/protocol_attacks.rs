//! The attack classes of the unlock exchange, each driven through the real sessions.

use keyway_protocol::credential::{
    CardKind, DenialReason, DoorOp, KeyCertificate, KeyChain, KeyId, PersonId, Receipt, RevocationCheck, Signed,
    UpdateBatch, label,
};
use keyway_protocol::door::DoorEngine;
use keyway_protocol::door::DoorSession;
use keyway_protocol::unlock::frame::{self, MessageKind, Reassembler};
use keyway_protocol::unlock::{
    Access, DoorChallenge, PhoneSession, ProtocolError, ResultMessage, UnlockParams, UnlockRequest, UpdateRejection,
};
use keyway_test_kit::door::*;
use keyway_test_kit::fixture::*;
use keyway_test_kit::sim::Direction;

mod support;

/// The phone's request bytes answering the challenge `door`'s next session with randomness
/// `nonce` will issue (made on a copy of the door: its challenge counter does not move, so a
/// session opened next with the same randomness issues this very challenge).
fn request_for(
    p: &Property,
    door: &mut DoorEngine,
    h: &Holder,
    batch: Option<UpdateBatch>,
    nonce: [u8; 16],
) -> Vec<u8> {
    request_with(door, p.params(h, door.door_id(), batch, 0, 0xA1), nonce)
}

/// As [`request_for`], from the phone's parameters.
fn request_with(door: &DoorEngine, params: UnlockParams, nonce: [u8; 16]) -> Vec<u8> {
    let challenge = door.clone().challenge(NOW, nonce);
    PhoneSession::new(params).unwrap().handle_challenge(&challenge.to_bytes()).unwrap()
}

/// The result message a door session released, reassembled from its frames (the challenge's
/// frame, if still queued, is skipped).
fn result_message(session: &mut DoorSession) -> Vec<u8> {
    let max_frame = frame::MAX_MTU - frame::ATT_OVERHEAD;
    let mut r = Reassembler::new(MessageKind::Result, ResultMessage::MAX_LEN, max_frame);
    let mut message = None;
    while let Some(f) = session.poll_transmit(frame::MAX_MTU) {
        if let Ok(Some(m)) = r.push(&f) {
            message = Some(m);
        }
    }
    message.expect("the session released its result")
}

/// A phone session for `h` (phone nonce `0xA1`) that has answered a fresh door session's
/// challenge, the door session having decided: (phone, door session, challenge bytes, the
/// phone's ephemeral secret).
fn answered(p: &Property, door: &mut DoorEngine, h: &Holder) -> (PhoneSession, MessageSession, Vec<u8>, [u8; 32]) {
    let mut phone = p.phone(h, DOOR_A, None);
    let mut session = MessageSession::new(door, NOW, [9; 16]);
    let challenge = session.challenge().to_bytes();
    let request = phone.handle_challenge(&challenge).unwrap();
    session.request(door, &request, NOW).unwrap();
    let ephemeral = support::v2::phone_ephemeral(&h.device, &[0xA1; 16]);
    // The hand-written key schedule is the library's: it opens the door's own result.
    assert_eq!(UnlockRequest::from_bytes(&request).unwrap().ephemeral, support::v2::x25519_public(&ephemeral));
    (phone, session, challenge, ephemeral)
}

/// What a door session with `nonce` decides for `request` (None: the session failed).
fn decide(door: &mut DoorEngine, request: &[u8], nonce: [u8; 16]) -> Option<Access> {
    let mut s = MessageSession::new(door, NOW, nonce);
    let access = s.request(door, request, NOW).ok()?;
    assert!(s.result().is_some());
    Some(access)
}

#[test]
fn a_recorded_session_replayed_at_the_same_door_is_refused() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let run = p.unlock(&mut door, &alice, None);
    assert!(run.outcome.unwrap().granted);
    let recorded: Vec<Vec<u8>> =
        run.frames.iter().filter(|(d, _)| *d == Direction::PhoneToDoor).map(|(_, f)| f.clone()).collect();
    let mut replay = DoorSession::new(&mut door, NOW, [0xD1; 16]);
    let mut decision = None;
    for f in &recorded {
        decision = feed(&mut replay, &mut door, f, NOW).unwrap().decided.map(|e| e.access).or(decision);
    }
    assert_eq!(decision, Some(Access::Denied(DenialReason::StaleChallenge)));
}

#[test]
fn a_recorded_request_replayed_at_another_door_is_refused_even_with_the_same_nonce() {
    let p = Property::new();
    let mut door_a = p.door(DOOR_A);
    let mut door_b = p.door(DOOR_B);
    let alice = p.resident(1, 1); // opens both doors
    let request = request_for(&p, &mut door_a, &alice, None, [0x33; 16]);
    assert_eq!(decide(&mut door_a.clone_state(), &request, [0x33; 16]), Some(Access::Granted));
    // Door B drawing the very same randomness issues another nonce and another offer (its id
    // and key are mixed in), and the request is sealed to door A's offer and challenge.
    assert_eq!(decide(&mut door_b, &request, [0x33; 16]), Some(Access::Denied(DenialReason::StaleChallenge)));
    assert_eq!(decide(&mut door_b, &request, [0x34; 16]), Some(Access::Denied(DenialReason::StaleChallenge)));
}

trait CloneState {
    fn clone_state(&self) -> DoorEngine;
}
impl CloneState for DoorEngine {
    fn clone_state(&self) -> DoorEngine {
        DoorEngine::from_state(self.state().clone(), keyway_protocol::door::DoorLimits::STANDARD).unwrap()
    }
}

#[test]
fn no_single_bit_flip_in_a_request_opens_the_door() {
    let p = Property::new();
    let door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let guest = Property::guest_of(&alice, 2, 52, doors(&[DOOR_A]), current());
    for holder in [&alice, &guest] {
        let request = request_for(&p, &mut door.clone_state(), holder, None, [5; 16]);
        assert_eq!(decide(&mut door.clone_state(), &request, [5; 16]), Some(Access::Granted));
        for i in 0..request.len() {
            for bit in [0x01u8, 0x80] {
                let mut tampered = request.clone();
                tampered[i] ^= bit;
                let got = decide(&mut door.clone_state(), &tampered, [5; 16]);
                assert!(got.is_none_or(|a| !a.is_granted()), "flip of bit {bit:#x} at byte {i} opened the door");
            }
        }
    }
}

#[test]
fn a_tampered_chain_signed_by_the_attackers_own_device_is_refused() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    // Mallory's key opens door B only; she widens it to door A and extends it.
    let mallory = p.resident_with(5, 5, doors(&[DOOR_B]), current(), false);
    let mut cert: KeyCertificate = mallory.chain.root().clone();
    cert.body.doors = doors(&[DOOR_A, DOOR_B]);
    let tampered = Holder { chain: KeyChain::resident(cert), device: mallory.device.clone() };
    let request = request_for(&p, &mut door, &tampered, None, [6; 16]);
    assert_eq!(decide(&mut door, &request, [6; 16]), Some(Access::Denied(DenialReason::BadSignature)));
}

#[test]
fn signatures_of_one_kind_never_verify_as_another() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let door_key = Property::door_key(DOOR_A).public();
    let alice = p.resident(1, 1);
    let challenge: DoorChallenge = door.challenge(NOW, [7; 16]);
    challenge.offer.verify_signature(&door_key).unwrap();
    let receipt = door.receipt([7; 16], 0);
    // An offer signature presented as a receipt.
    let forged: Receipt = Signed { body: receipt.body.clone(), signature: challenge.offer.signature };
    assert!(forged.verify_signature(&door_key).is_err());
    // A receipt signature presented as an offer.
    let offer = Signed { body: challenge.offer.body.clone(), signature: receipt.signature };
    assert!(offer.verify_signature(&door_key).is_err());
    // The door key signing the receipt's bytes as an offer does not make a receipt.
    let as_offer = Property::door_key(DOOR_A).sign(label::DOOR_OFFER, &keyway_protocol::codec::encode(&receipt.body));
    assert!(Receipt { body: receipt.body.clone(), signature: as_offer }.verify_signature(&door_key).is_err());
    receipt.verify_signature(&door_key).unwrap();
    // (v1's unlock proof was a device-key signature, checked here against the guest-key label;
    // v2's proof is a MAC under the key agreement, and the device key signs nothing in an
    // unlock.)
    // A key certificate's signature presented as a door certificate's.
    let mut door_cert = p.door_cert(DOOR_A);
    door_cert.signature = alice.chain.root().signature;
    assert!(door_cert.verify(&p.anchors).is_err());
}

/// Inside the seal, the phone still checks the receipt's signature: a result sealed for the
/// session (as only the door can) whose receipt carries the offer's signature is refused.
#[test]
fn the_phone_refuses_a_result_with_an_offer_signature_as_receipt() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let (mut phone, mut session, challenge, ephemeral) = answered(&p, &mut door, &alice);
    let genuine = result_message(&mut session.session);
    let mut result = session.result().unwrap().clone();
    let opened = support::v2::open_result(MessageKind::Request, &challenge, &ephemeral, &genuine);
    assert_eq!(opened.as_ref(), Some(&result), "the door's result opens under the written-out schedule");
    result.receipt.as_mut().unwrap().signature = session.challenge().offer.signature;
    let forged = support::v2::sealed_result(MessageKind::Request, &challenge, &ephemeral, &result);
    assert!(matches!(phone.handle_result(&forged), Err(ProtocolError::ReceiptSignature(_))));
}

/// On the air the decision is sealed: no flipped byte of the result is accepted. And a result
/// sealed for the session whose decision contradicts its receipt (a grant without a receipt,
/// a denial over a receipt that records the grant) is refused by the phone.
#[test]
fn a_flipped_decision_over_the_link_is_refused_and_one_that_contradicts_the_receipt_is_caught() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let mallory = p.resident_with(2, 2, doors(&[DOOR_B]), current(), false);
    for (holder, forged) in [(&alice, Access::Denied(DenialReason::Expired)), (&mallory, Access::Granted)] {
        let mut door = p.door(DOOR_A);
        let (mut phone, mut session, challenge, ephemeral) = answered(&p, &mut door, holder);
        let genuine = result_message(&mut session.session);
        // A phone in the same state as `phone`, for each attempt (a refused result fails it).
        let fresh = || {
            let mut phone = p.phone(holder, DOOR_A, None);
            phone.handle_challenge(&challenge).unwrap();
            phone
        };
        for i in 0..genuine.len() {
            let mut flipped = genuine.clone();
            flipped[i] ^= 0x01;
            assert!(fresh().handle_result(&flipped).is_err(), "flipped byte {i} of the result was accepted");
        }
        let mut result = session.result().unwrap().clone();
        result.access = forged;
        let sealed = support::v2::sealed_result(MessageKind::Request, &challenge, &ephemeral, &result);
        assert_eq!(fresh().handle_result(&sealed), Err(ProtocolError::DecisionContradictsReceipt));
        // The genuine result is accepted, with the door's decision.
        let outcome = phone.handle_result(&genuine).unwrap().unwrap();
        assert_eq!(outcome.granted, std::ptr::eq(holder, &alice));
    }
}

#[test]
fn a_result_from_an_earlier_session_is_not_accepted() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let old = p.unlock(&mut door, &alice, None);
    let down: Vec<Vec<u8>> =
        old.frames.iter().filter(|(d, _)| *d == Direction::DoorToPhone).map(|(_, f)| f.clone()).collect();
    let old_challenge: Vec<u8> = down[0][5..].to_vec();
    let old_result: Vec<u8> = down[1..].iter().flat_map(|f| f[5..].to_vec()).collect();
    assert!(ResultMessage::from_bytes(&old_result).is_ok());
    // A new phone session (new nonce) fed a fresh challenge, then the recorded result: sealed
    // for another session, it does not open.
    let mut phone = PhoneSession::new(p.params(&alice, DOOR_A, None, 0, 0xA2)).unwrap();
    let challenge = door.challenge(NOW, [0x44; 16]).to_bytes();
    phone.handle_challenge(&challenge).unwrap();
    assert_eq!(phone.handle_result(&old_result), Err(ProtocolError::ResultNotSealed));
    // Even sealed for the new session (by the door), the old receipt is bound to the old nonce.
    let old_ephemeral = support::v2::phone_ephemeral(&alice.device, &[0xA1; 16]);
    let opened = support::v2::open_result(MessageKind::Request, &old_challenge, &old_ephemeral, &old_result).unwrap();
    assert!(opened.receipt.is_some());
    let ephemeral = support::v2::phone_ephemeral(&alice.device, &[0xA2; 16]);
    let resealed = support::v2::sealed_result(MessageKind::Request, &challenge, &ephemeral, &opened);
    let mut phone = PhoneSession::new(p.params(&alice, DOOR_A, None, 0, 0xA2)).unwrap();
    phone.handle_challenge(&challenge).unwrap();
    assert_eq!(phone.handle_result(&resealed), Err(ProtocolError::ReceiptNotBound));
}

#[test]
fn an_impostor_door_is_detected_by_the_phone() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    // Door B answering a phone that wants door A: another door, said before its signature is
    // even checked.
    let mut impostor = p.door(DOOR_B);
    let fake = impostor.challenge(NOW, [1; 16]);
    let mut phone = p.phone(&alice, DOOR_A, None);
    let wrong = phone.handle_challenge(&fake.to_bytes());
    assert_eq!(wrong, Err(ProtocolError::WrongDoor { expected: DOOR_A, got: DOOR_B }));
    assert_eq!(wrong.unwrap_err().category(), keyway_protocol::unlock::ErrorCategory::WrongDoor);
    // A device that is not door A signs an offer naming door A: an impostor.
    let mut claims_a = fake.clone();
    claims_a.offer.body.door_id = DOOR_A;
    claims_a.offer = Signed::sign(claims_a.offer.body.clone(), &Property::door_key(DOOR_B));
    let mut phone = p.phone(&alice, DOOR_A, None);
    assert!(matches!(phone.handle_challenge(&claims_a.to_bytes()), Err(ProtocolError::ChallengeSignature(_))));
    // Door A's genuine offer with another ephemeral key put in (to agree a key with the
    // impostor): the signature no longer covers it.
    let mut door_a = p.door(DOOR_A);
    let mut swapped = door_a.challenge(NOW, [2; 16]);
    swapped.offer.body.ephemeral = fake.offer.body.ephemeral;
    let mut phone = p.phone(&alice, DOOR_A, None);
    assert!(matches!(phone.handle_challenge(&swapped.to_bytes()), Err(ProtocolError::ChallengeSignature(_))));
    // A door certified for B answering a phone that was told it is B, but claiming A.
    let mut phone = p.phone(&alice, DOOR_B, None);
    assert_eq!(
        phone.handle_challenge(&claims_a.to_bytes()),
        Err(ProtocolError::WrongDoor { expected: DOOR_B, got: DOOR_A })
    );
}

#[test]
fn replayed_and_rolled_back_updates_change_nothing() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let card = keyway_protocol::codec::BoundedVec::new(vec![7, 7, 7, 7]).unwrap();
    let add = vec![DoorOp::AddKeycard {
        card: card.clone(),
        person: PersonId(3),
        validity: current(),
        kind: CardKind::UidOnly,
    }];
    let old = p.batch(DOOR_A, 1, vec![add.clone(), vec![revoke_key(40)]]);
    let newer = p.batch(DOOR_A, 1, vec![add, vec![revoke_key(40)], vec![DoorOp::RemoveKeycard { card }]]);
    assert_eq!(door.apply_batch(&newer, NOW).seq_after, 3);
    let before = door.state().clone();
    // The older batch (what a phone that synced earlier still carries) is a no-op.
    let r = door.apply_batch(&old, NOW);
    assert_eq!((r.seq_before, r.seq_after, r.batch_rejected), (3, 3, None));
    assert_eq!(door.state(), &before, "the removed keycard is not re-added");
    let r = door.apply_batch(&newer, NOW);
    assert_eq!(r.seq_after, 3);
    assert_eq!(door.state(), &before);
}

#[test]
fn a_sequence_gap_is_refused_without_applying_anything() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let batch = p.batch(DOOR_A, 3, vec![vec![revoke_key(40)]]);
    let o = p.unlock(&mut door, &alice, Some(batch)).outcome.unwrap();
    assert!(o.granted);
    assert_eq!(o.updates.batch_rejected, Some(UpdateRejection::Gap { door_seq: 0, first_seq: 3 }));
    assert_eq!(o.updates.seq_after, 0);
    assert!(!door.revocations().key_revoked(KeyId(40)));
}

#[test]
fn forged_and_misaddressed_batches_are_refused() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    // For another door.
    let other = p.batch(DOOR_B, 1, vec![vec![revoke_key(40)]]);
    assert_eq!(door.apply_batch(&other, NOW).batch_rejected, Some(UpdateRejection::WrongDoor { batch_door: DOOR_B }));
    // By an authority the door does not trust.
    let rogue = Property { authority: key(2), anchors: p.anchors.clone() };
    assert_eq!(
        door.apply_batch(&rogue.batch(DOOR_A, 1, vec![vec![revoke_key(40)]]), NOW).batch_rejected,
        Some(UpdateRejection::UnknownIssuer)
    );
    // Tampered by the courier: a malicious phone names and seals the tampered bytes, the unlock
    // itself is fine, the batch is not applied.
    let mut tampered = p.batch(DOOR_A, 1, vec![vec![revoke_key(40)]]);
    tampered.body.first_seq = 1;
    tampered.body.updates = keyway_protocol::codec::BoundedVec::new(vec![
        keyway_protocol::credential::DoorUpdate::new(vec![revoke_key(1)]).unwrap(),
    ])
    .unwrap();
    let mut phone = p.phone(&alice, DOOR_A, Some(tampered));
    let mut s = MessageSession::new(&mut door, NOW, [3; 16]);
    let req = phone.handle_challenge(&s.challenge().to_bytes()).unwrap();
    assert_eq!(s.request(&mut door, &req, NOW).unwrap(), Access::Granted);
    s.batch(&mut door, &phone.sealed_batch().expect("the tampered batch is carried"), NOW).unwrap();
    let result = s.result().unwrap().clone();
    assert_eq!(result.updates.batch_rejected, Some(UpdateRejection::BadSignature));
    assert_eq!(door.update_seq(), 0);
    assert!(!door.revocations().key_revoked(KeyId(1)));
    // Garbage batch bytes.
    assert_eq!(door.apply_batch_bytes(&[1, 2, 3], NOW).batch_rejected, Some(UpdateRejection::Malformed));
}

#[test]
fn a_batch_swapped_in_transit_is_not_applied_and_the_unlock_stands() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let announced = p.batch(DOOR_A, 1, vec![vec![revoke_key(40)]]);
    // A genuine, authority-signed batch, but not the one the phone's request names: in clear,
    // and sealed for another session.
    let other = p.batch(DOOR_A, 1, vec![vec![revoke_key(41)]]);
    let sealed_elsewhere = {
        let mut phone = p.phone(&alice, DOOR_A, Some(other.clone()));
        phone.handle_challenge(&door.clone().challenge(NOW, [4; 16]).to_bytes()).unwrap();
        phone.sealed_batch().unwrap()
    };
    for swapped in [other.to_bytes(), sealed_elsewhere] {
        let mut door = door.clone();
        let mut phone = p.phone(&alice, DOOR_A, Some(announced.clone()));
        let mut s = MessageSession::new(&mut door, NOW, [3; 16]);
        let request = phone.handle_challenge(&s.challenge().to_bytes()).unwrap();
        assert!(phone.carried_batch().is_some());
        assert_eq!(s.request(&mut door, &request, NOW).unwrap(), Access::Granted);
        assert!(s.result().is_none(), "the announced batch is awaited");
        s.batch(&mut door, &swapped, NOW).unwrap();
        let result = s.result().unwrap().clone();
        assert_eq!(result.updates.batch_rejected, Some(UpdateRejection::DigestMismatch));
        assert!(!door.revocations().key_revoked(KeyId(41)));
        let outcome = phone.handle_result(&result_message(&mut s.session)).unwrap().unwrap();
        assert!(outcome.granted);
        assert_eq!(outcome.updates.batch_rejected, Some(UpdateRejection::DigestMismatch));
    }
    // The batch as the phone sealed it applies.
    let mut phone = p.phone(&alice, DOOR_A, Some(announced));
    let mut s = MessageSession::new(&mut door, NOW, [3; 16]);
    let request = phone.handle_challenge(&s.challenge().to_bytes()).unwrap();
    assert_eq!(s.request(&mut door, &request, NOW).unwrap(), Access::Granted);
    s.batch(&mut door, &phone.sealed_batch().unwrap(), NOW).unwrap();
    assert!(door.revocations().key_revoked(KeyId(40)));
}

#[test]
fn the_clock_never_goes_backwards() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let expiry = alice.chain.root().body.validity.expiry;
    // The authority moves the clock past the key's expiry.
    door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![DoorOp::SetClock { now: expiry }]]), NOW);
    // The door's RTC (or a reset) then reports an earlier time: the key stays expired.
    let run = p.unlock(&mut door, &alice, None);
    assert_eq!(run.outcome.unwrap().denial, Some(DenialReason::Expired));
    assert_eq!(door.observe_time(NOW), expiry);
    // A SetClock backwards is refused.
    let r = door.apply_batch(&p.batch(DOOR_A, 2, vec![vec![DoorOp::SetClock { now: NOW }]]), NOW);
    assert!(matches!(r.rejected_updates[0].reason, UpdateRejection::ClockBackwards { .. }));
    assert_eq!(door.clock(), expiry);
}

#[test]
fn a_guest_cannot_escalate_its_scope() {
    let p = Property::new();
    let mut door_b = p.door(DOOR_B);
    let parent = p.resident_with(1, 1, doors(&[DOOR_A]), current(), true);
    // A guest key naming a door its parent does not open.
    let wider = Property::guest_of(&parent, 2, 52, doors(&[DOOR_A, DOOR_B]), current());
    let req = request_for(&p, &mut door_b, &wider, None, [1; 16]);
    assert_eq!(decide(&mut door_b, &req, [1; 16]), Some(Access::Denied(DenialReason::GuestScopeWider)));
    // A guest editing its own guest key after signing.
    let guest = Property::guest_of(&parent, 3, 53, doors(&[DOOR_A]), window(NOW, NOW.saturating_add_secs(3600)));
    let mut link = guest.chain.guest_link().unwrap().clone();
    link.body.validity = current();
    let edited = Holder { chain: KeyChain::guest(parent.chain.root().clone(), link), device: guest.device.clone() };
    let mut door_a = p.door(DOOR_A);
    let req = request_for(&p, &mut door_a, &edited, None, [2; 16]);
    assert_eq!(decide(&mut door_a, &req, [2; 16]), Some(Access::Denied(DenialReason::BadSignature)));
    // A guest key grafted onto another resident's certificate.
    let other = p.resident_with(4, 4, doors(&[DOOR_A]), current(), true);
    let grafted = Holder {
        chain: KeyChain::guest(other.chain.root().clone(), guest.chain.guest_link().unwrap().clone()),
        device: guest.device.clone(),
    };
    let req = request_for(&p, &mut door_a, &grafted, None, [3; 16]);
    assert!(!decide(&mut door_a, &req, [3; 16]).unwrap().is_granted());
    // A guest presenting itself with the parent's chain but its own device key.
    let as_parent = Holder { chain: parent.chain.clone(), device: guest.device.clone() };
    let req = request_for(&p, &mut door_a, &as_parent, None, [4; 16]);
    assert_eq!(decide(&mut door_a, &req, [4; 16]), Some(Access::Denied(DenialReason::BadProof)));
}

#[test]
fn revoking_the_parent_or_the_person_stops_a_live_guest_key() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let guest = Property::guest_of(&alice, 2, 52, doors(&[DOOR_A]), current());
    let guest_id = 2 | KeyId::GUEST_BIT;
    let until = NOW.saturating_add_secs(30 * DAY);
    for (op, reason) in [
        (revoke_key(1), DenialReason::RevokedKey),
        (DoorOp::RevokePerson { person: PersonId(1), until }, DenialReason::RevokedPerson),
        (DoorOp::RevokeKey { key: KeyId(guest_id), until }, DenialReason::RevokedKey),
    ] {
        let mut door = p.door(DOOR_A);
        assert!(p.unlock(&mut door, &guest, None).outcome.unwrap().granted);
        door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![op]]), NOW);
        assert_eq!(p.unlock(&mut door, &guest, None).outcome.unwrap().denial, Some(reason));
        assert!(door.revocations().len() == 1);
    }
}

#[test]
fn forged_proof_bytes_and_wrong_device_are_refused() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let mut req = UnlockRequest::from_bytes(&request_for(&p, &mut door, &alice, None, [1; 16])).unwrap();
    req.proof = [0; 16];
    assert_eq!(decide(&mut door, &req.to_bytes(), [1; 16]), Some(Access::Denied(DenialReason::BadProof)));
    // Another request's valid proof (same holder, same challenge, another phone nonce) does not
    // carry over to this request's sealed body.
    let mut req = UnlockRequest::from_bytes(&request_for(&p, &mut door, &alice, None, [2; 16])).unwrap();
    let other =
        UnlockRequest::from_bytes(&request_with(&door, p.params(&alice, DOOR_A, None, 0, 0x5E), [2; 16])).unwrap();
    assert_ne!(other.proof, req.proof);
    req.proof = other.proof;
    assert_eq!(decide(&mut door, &req.to_bytes(), [2; 16]), Some(Access::Denied(DenialReason::BadProof)));
    // A changed sealed body (a different activity mark, say) does not open at all.
    let mut req = UnlockRequest::from_bytes(&request_for(&p, &mut door, &alice, None, [3; 16])).unwrap();
    let mut sealed = req.sealed.to_vec();
    sealed[17] ^= 0x01;
    req.sealed = keyway_protocol::codec::BoundedBytes::new(sealed).unwrap();
    assert_eq!(decide(&mut door, &req.to_bytes(), [3; 16]), Some(Access::Denied(DenialReason::StaleChallenge)));
    // Alice's chain with a device key the certificate does not name.
    let wrong_device = Holder { chain: alice.chain.clone(), device: key(99) };
    let req = request_for(&p, &mut door, &wrong_device, None, [4; 16]);
    assert_eq!(decide(&mut door, &req, [4; 16]), Some(Access::Denied(DenialReason::BadProof)));
    assert!(!door.revocations().key_revoked(KeyId(1)));
}

/// Bob's chain recorded off the air and presented by someone without his device key is refused
/// — and the door's log does not say "Bob refused": nothing is attributed to a person before
/// their own key was proven. A chain the door refuses on its own words (wrong door, expired,
/// revoked) is refused before any verification, unattributed even for its holder. A holder who
/// proves the key and is refused by a later rule is named.
#[test]
fn a_refusal_names_no_one_who_did_not_prove_the_key() {
    use keyway_protocol::credential::ActivityEvent;
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let bob = p.resident(2, 2);
    let mallory = key(66);
    let last_denial = |door: &DoorEngine| match door.activity().after(0, 64).last().map(|r| r.event.clone()) {
        Some(ActivityEvent::AppDenied { key, person, reason }) => (key, person, reason, 1),
        Some(ActivityEvent::DeniedRepeatedly { reason, count, .. }) => (None, None, reason, count),
        other => panic!("expected a denial, logged {other:?}"),
    };
    // Bob's chain with a proof by Mallory's key.
    let replayed = Holder { chain: bob.chain.clone(), device: mallory.clone() };
    let request = request_for(&p, &mut door, &replayed, None, [7; 16]);
    assert_eq!(decide(&mut door, &request, [7; 16]), Some(Access::Denied(DenialReason::BadProof)));
    assert_eq!(last_denial(&door), (None, None, DenialReason::BadProof, 1));
    // Bob's chain for a door it does not open, again without his key: the reason, no name.
    let mut door_b = p.door(DOOR_B);
    let wrong_door = p.resident_with(3, 3, doors(&[DOOR_A]), current(), false);
    let replayed = Holder { chain: wrong_door.chain.clone(), device: mallory };
    let request = request_for(&p, &mut door_b, &replayed, None, [8; 16]);
    assert_eq!(decide(&mut door_b, &request, [8; 16]), Some(Access::Denied(DenialReason::WrongDoor)));
    assert_eq!(last_denial(&door_b), (None, None, DenialReason::WrongDoor, 1));
    // The holder herself at the wrong door: refused before her key is checked, so unnamed
    // too (the same refusal, folded into the record before it).
    let request = request_for(&p, &mut door_b, &wrong_door, None, [9; 16]);
    assert_eq!(decide(&mut door_b, &request, [9; 16]), Some(Access::Denied(DenialReason::WrongDoor)));
    assert_eq!(last_denial(&door_b), (None, None, DenialReason::WrongDoor, 2));
    // A holder who proves her key and is refused after it (not revalidated): named.
    let stale = support::not_revalidated(&p, 4, 4);
    let request = request_for(&p, &mut door, &stale, None, [10; 16]);
    assert_eq!(decide(&mut door, &request, [10; 16]), Some(Access::Denied(DenialReason::NotRevalidated)));
    assert_eq!(last_denial(&door), (Some(KeyId(4)), Some(PersonId(4)), DenialReason::NotRevalidated, 1));
    // Her chain without her key: the same rule, unnamed.
    let replayed = Holder { chain: stale.chain.clone(), device: key(67) };
    let request = request_for(&p, &mut door, &replayed, None, [11; 16]);
    assert_eq!(decide(&mut door, &request, [11; 16]), Some(Access::Denied(DenialReason::NotRevalidated)));
    assert_eq!(last_denial(&door), (None, None, DenialReason::NotRevalidated, 1));
}

/// A door whose RNG repeats itself (stuck or weak) issued the same challenge nonce every
/// session, so a request recorded off the air opened it again later. The nonce (and the
/// offer's ephemeral key) now mix a counter the door saves and its clock: the recorded request
/// answers no later challenge, and neither after the door restarts from its saved state.
#[test]
fn a_door_with_a_repeating_rng_never_repeats_a_challenge() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let stuck = [0x42; 16];
    let first = door.clone().challenge(NOW, stuck);
    let request = p.phone(&alice, DOOR_A, None).handle_challenge(&first.to_bytes()).unwrap();
    assert_eq!(decide(&mut door, &request, stuck), Some(Access::Granted));
    // The same randomness, the same second: another nonce, and the recording is refused.
    assert_eq!(decide(&mut door, &request, stuck), Some(Access::Denied(DenialReason::StaleChallenge)));
    let mut restarted = DoorEngine::from_state(door.state().clone(), *door.limits()).unwrap();
    let again = restarted.challenge(NOW, stuck);
    assert_ne!(again.nonce, first.nonce);
    assert_ne!(again.offer.body.ephemeral, first.offer.body.ephemeral, "nor its offer's key");
    assert_eq!(decide(&mut restarted, &request, stuck), Some(Access::Denied(DenialReason::StaleChallenge)));
}

/// Anyone could download the door's activity log: a stranger with a garbage chain got a signed
/// receipt with up to 64 records after an `activity_after` of its choosing. Now a refused
/// presenter gets no receipt at all (the decision alone, sealed for it); an admitted holder
/// gets what it asked for.
#[test]
fn a_refused_presenter_reads_nothing_of_the_doors_activity() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    for _ in 0..3 {
        assert!(p.unlock(&mut door, &alice, None).outcome.unwrap().granted);
    }
    // A stranger's request: a garbage chain, activity wanted from the start, properly sealed.
    let challenge = door.clone().challenge(NOW, [7; 16]).to_bytes();
    let body = support::v2::body(vec![1, 2, 3], 0);
    let garbage = support::v2::request(MessageKind::Request, &challenge, &[0x3C; 32], &key(66), &body);
    let mut s = MessageSession::new(&mut door, NOW, [7; 16]);
    assert_eq!(s.request(&mut door, &garbage, NOW).unwrap(), Access::Denied(DenialReason::Malformed));
    assert_eq!(s.result().unwrap().receipt, None, "no receipt, so none of the door's records");
    // A refused key holder (Mallory is not a resident of door A) likewise.
    let mallory = p.resident_with(2, 2, doors(&[DOOR_B]), current(), false);
    let mut params = p.params(&mallory, DOOR_A, None, 0, 3);
    params.activity_after = 0;
    let mut phone = PhoneSession::new(params).unwrap();
    let mut s = MessageSession::new(&mut door, NOW, [8; 16]);
    let request = phone.handle_challenge(&s.challenge().to_bytes()).unwrap();
    assert_eq!(s.request(&mut door, &request, NOW).unwrap(), Access::Denied(DenialReason::WrongDoor));
    assert_eq!(s.result().unwrap().receipt, None);
    let outcome = phone.handle_result(&result_message(&mut s.session)).unwrap().unwrap();
    assert_eq!((outcome.denial, outcome.receipt), (Some(DenialReason::WrongDoor), None));
    // Alice, admitted, gets the log from where she asked.
    let mut params = p.params(&alice, DOOR_A, None, 0, 4);
    params.activity_after = 0;
    let mut phone = PhoneSession::new(params).unwrap();
    let mut s = MessageSession::new(&mut door, NOW, [9; 16]);
    let request = phone.handle_challenge(&s.challenge().to_bytes()).unwrap();
    assert_eq!(s.request(&mut door, &request, NOW).unwrap(), Access::Granted);
    let receipt = s.result().unwrap().receipt.clone().unwrap();
    assert_eq!(receipt.body.activity.len() as u64, door.activity().head());
    assert_eq!(door.activity().head(), 6, "three grants, two refusals, this grant");
}
