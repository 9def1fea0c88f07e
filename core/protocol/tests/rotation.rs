//! Rotation at the door and the phone: an authority key is replaced through door updates the
//! current key signs (no re-provisioning), a door certificate expires, and a door key is
//! replaced in place — after which what the old keys sign freshly is refused.

use keyway_protocol::credential::{
    AuthorityKeyId, ChainError, DenialReason, DoorCertBody, DoorOp, MAX_DOOR_ANCHORS, Signed, TrustAnchors,
};
use keyway_protocol::door::RekeyError;
use keyway_protocol::unlock::{PhoneSession, ProtocolError, UpdateRejection};
use keyway_test_kit::fixture::*;

/// The same property signing with another authority key (the door still trusts the first).
fn successor(p: &Property, seed: u8) -> Property {
    let authority = key(seed);
    let mut anchors = p.anchors.clone();
    anchors.add(authority.public());
    Property { authority, anchors }
}

#[test]
fn a_door_moves_to_a_new_authority_key_and_then_refuses_the_old_one() {
    let old = Property::new();
    let new = successor(&old, 2);
    let mut door = old.door(DOOR_A);
    let resident = new.resident(1, 1);
    // Before the rotation reaches the door, a certificate from the new key is unknown to it.
    let run = new.unlock(&mut door, &resident, None);
    assert_eq!(run.outcome.unwrap().denial, Some(DenialReason::UnknownIssuer));

    // The old key introduces the new one.
    let trust = old.batch(DOOR_A, 1, vec![vec![DoorOp::TrustAuthority { key: new.authority.public() }]]);
    let report = door.apply_batch(&trust, NOW);
    assert!(report.batch_rejected.is_none() && report.rejected_updates.is_empty(), "{report:?}");
    assert!(new.unlock(&mut door, &resident, None).outcome.unwrap().granted);
    assert!(old.unlock(&mut door, &old.resident(2, 2), None).outcome.unwrap().granted, "both work meanwhile");

    // The new key retires the old one: the old key's fresh certificates and batches are refused.
    let retire = new.batch(DOOR_A, 2, vec![vec![DoorOp::RetireAuthority { key: old.issuer() }]]);
    assert!(door.apply_batch(&retire, NOW).rejected_updates.is_empty());
    assert_eq!(door.state().anchors, TrustAnchors::new([new.authority.public()]));
    let stale = old.resident(3, 3);
    let err = stale.chain.verify_for_door(&door.state().anchors, DOOR_A, NOW, &door.state().revocations);
    assert!(matches!(err, Err(ChainError::UnknownIssuer { .. })));
    let forged = old.batch(DOOR_A, 3, vec![vec![revoke_key(1)]]);
    let report = door.apply_batch(&forged, NOW);
    assert!(report.batch_rejected.is_some() && door.state().update_seq == 2, "{report:?}");
    assert!(new.unlock(&mut door, &resident, None).outcome.unwrap().granted);
}

#[test]
fn a_door_never_retires_its_last_key_nor_trusts_too_many() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let last = p.batch(DOOR_A, 1, vec![vec![DoorOp::RetireAuthority { key: p.issuer() }]]);
    let report = door.apply_batch(&last, NOW);
    assert_eq!(report.rejected_updates[0].reason, UpdateRejection::InvalidOperation);
    assert_eq!(door.state().anchors, p.anchors, "the update was consumed and refused; the key stays");

    let many: Vec<DoorOp> =
        (0..MAX_DOOR_ANCHORS as u8).map(|i| DoorOp::TrustAuthority { key: key(50 + i).public() }).collect();
    let report = door.apply_batch(&p.batch(DOOR_A, 2, vec![many]), NOW);
    assert_eq!(report.rejected_updates[0].reason, UpdateRejection::StoreFull);
    assert_eq!(door.state().anchors.keys().count(), 1, "all or none");
    // Trusting a key twice stores it once; a swap in one update (trust, then retire) works.
    let swap = vec![
        DoorOp::TrustAuthority { key: key(2).public() },
        DoorOp::TrustAuthority { key: key(2).public() },
        DoorOp::RetireAuthority { key: p.issuer() },
    ];
    assert!(door.apply_batch(&p.batch(DOOR_A, 3, vec![swap]), NOW).rejected_updates.is_empty());
    assert_eq!(door.state().anchors, TrustAnchors::new([key(2).public()]));
}

#[test]
fn a_phone_refuses_an_expired_door_certificate() {
    let p = Property::new();
    let holder = p.resident(1, 1);
    let mut params = p.params(&holder, DOOR_A, None, 0, 1);
    let body = DoorCertBody::new(DOOR_A, Property::door_key(DOOR_A).public(), p.issuer()).expires(NOW);
    params.door_cert = Signed::sign(body.clone(), &p.authority);
    let err = PhoneSession::new(params.clone()).expect_err("an expired certificate is refused");
    assert_eq!(err, ProtocolError::DoorCertificate(ChainError::DoorCertificateExpired { door: DOOR_A, expired: NOW }));
    // One second before its end it is still good.
    params.door_cert = Signed::sign(body.expires(NOW.saturating_add_secs(1)), &p.authority);
    assert!(PhoneSession::new(params).is_ok());
}

#[test]
fn a_rekeyed_door_keeps_its_state_and_phones_refuse_its_old_key() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![revoke_key(9)]]), NOW);
    let new_key = key(77);
    let cert = Signed::sign(
        DoorCertBody::new(DOOR_A, new_key.public(), p.issuer()).expires(NOW.saturating_add_secs(DAY)),
        &p.authority,
    );

    // What the installer brings must be this door's, certified by an authority the door trusts.
    let stranger = key(66);
    let foreign =
        Signed::sign(DoorCertBody::new(DOOR_A, new_key.public(), AuthorityKeyId::of(&stranger.public().0)), &stranger);
    assert!(matches!(door.rekey(new_key.clone(), &foreign), Err(RekeyError::Certificate(_))));
    let other = Signed::sign(DoorCertBody::new(DOOR_B, new_key.public(), p.issuer()), &p.authority);
    assert!(matches!(door.rekey(new_key.clone(), &other), Err(RekeyError::OtherDoor { .. })));
    assert_eq!(door.rekey(key(78), &cert), Err(RekeyError::KeyMismatch));
    assert_eq!(door.door_public_key(), Property::door_key(DOOR_A).public(), "refusals change nothing");

    door.rekey(new_key.clone(), &cert).unwrap();
    assert_eq!((door.door_public_key(), door.state().update_seq), (new_key.public(), 1));
    // A phone that still holds the old certificate refuses the door's challenge (the door
    // proves a key it does not know), so an impostor with the extracted old key is refused the
    // same way once the phone has the new certificate.
    let run = p.unlock(&mut door, &p.resident(1, 1), None);
    assert!(run.outcome.is_err() && run.door_access.is_none(), "the phone stopped before its request");
    let mut params = p.params(&p.resident(1, 1), DOOR_A, None, 0, 2);
    params.door_cert = cert;
    let run = keyway_test_kit::sim::SimPair::new(Default::default()).run(
        PhoneSession::new(params).unwrap(),
        &mut door,
        NOW,
        [0xD1; 16],
    );
    assert!(run.outcome.unwrap().granted);
}
