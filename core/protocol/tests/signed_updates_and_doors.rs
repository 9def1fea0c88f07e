//! The checks on authority-signed door updates and door certificates.

use keyway_protocol::credential::{
    ChainError, DoorCertBody, DoorCertificate, DoorId, DoorOp, DoorUpdate, KeyId, KeyPair, SignedBody, TrustAnchors,
    UpdateBatch, UpdateBatchBody,
};
use keyway_test_kit::authority::*;

const FRONT: DoorId = DoorId(1042);

fn revoke(key: u64) -> DoorUpdate {
    DoorUpdate::new(vec![DoorOp::RevokeKey { key: KeyId(key), until: day(2027, 12, 1) }]).expect("one op")
}

fn batch(a: &Authority, door: DoorId, first_seq: u64, n: u64) -> UpdateBatch {
    let updates = (0..n).map(|i| revoke(1_000 + i)).collect();
    UpdateBatch::sign(UpdateBatchBody::new(door, first_seq, day(2026, 12, 2), a.id(), updates).expect("small"), &a.key)
}

#[test]
fn a_batch_is_for_one_door_from_a_known_authority() {
    let a = Authority::from_seed(61);
    let b = batch(&a, FRONT, 41, 3);
    assert_eq!(b.verify_for(&a.anchors(), FRONT), Ok(()));
    assert_eq!(b.body.last_seq(), 43);
    assert_eq!(b.body.numbered().map(|(s, _)| s).collect::<Vec<_>>(), vec![41, 42, 43]);
    assert!(matches!(b.verify_for(&a.anchors(), DoorId(1043)), Err(ChainError::Malformed { .. })));
    assert_eq!(
        b.verify_for(&Authority::from_seed(62).anchors(), FRONT),
        Err(ChainError::UnknownIssuer { what: UpdateBatchBody::WHAT })
    );
    // A courier phone cannot renumber, drop or add updates.
    let mut renumbered = b.clone();
    renumbered.body.first_seq = 40;
    assert_eq!(
        renumbered.verify_for(&a.anchors(), FRONT),
        Err(ChainError::BadSignature { what: UpdateBatchBody::WHAT })
    );
    let mut dropped = b.clone();
    dropped.body.updates = keyway_protocol::codec::BoundedVec::new(b.body.updates[1..].to_vec()).expect("2");
    assert_eq!(dropped.verify_for(&a.anchors(), FRONT), Err(ChainError::BadSignature { what: UpdateBatchBody::WHAT }));
    let mut retargeted = b.clone();
    retargeted.body.door_id = DoorId(1043);
    assert_eq!(
        retargeted.verify_for(&a.anchors(), DoorId(1043)),
        Err(ChainError::BadSignature { what: UpdateBatchBody::WHAT })
    );
}

#[test]
fn seqs_start_at_one_and_stay_in_range() {
    let a = Authority::from_seed(61);
    assert!(matches!(batch(&a, FRONT, 0, 1).verify_for(&a.anchors(), FRONT), Err(ChainError::Malformed { .. })));
    // A batch whose seqs would wrap around is refused, and numbering it never panics.
    let b = batch(&a, FRONT, u64::MAX - 1, 3);
    assert!(matches!(b.verify_for(&a.anchors(), FRONT), Err(ChainError::Malformed { .. })));
    assert_eq!(b.body.last_seq(), u64::MAX - 1);
    assert_eq!(b.body.numbered().count(), 3);
    assert!(batch(&a, FRONT, u64::MAX - 3, 3).verify_for(&a.anchors(), FRONT).is_ok());
    // An empty batch states the door is current at `first_seq - 1`.
    let empty = batch(&a, FRONT, 8, 0);
    assert_eq!(empty.body.last_seq(), 7);
    assert!(empty.verify_for(&a.anchors(), FRONT).is_ok());
}

#[test]
fn batch_versions_are_checked() {
    let a = Authority::from_seed(61);
    let mut body = batch(&a, FRONT, 1, 1).body;
    body.version = 2;
    let b = UpdateBatch::sign(body, &a.key);
    assert_eq!(
        b.verify_for(&a.anchors(), FRONT),
        Err(ChainError::UnsupportedVersion { what: UpdateBatchBody::WHAT, found: 2 })
    );
}

#[test]
fn door_certificates() {
    let a = Authority::from_seed(63);
    let door = KeyPair::from_secret(&[64; 32]);
    let cert = DoorCertificate::sign(DoorCertBody::new(FRONT, door.public(), a.id()), &a.key);
    assert_eq!(cert.verify(&a.anchors()), Ok(door.public()));
    let decoded = DoorCertificate::from_bytes(&cert.to_bytes()).expect("decodes");
    assert_eq!(decoded.verify(&a.anchors()), Ok(door.public()));
    assert_eq!(cert.verify(&TrustAnchors::default()), Err(ChainError::UnknownIssuer { what: DoorCertBody::WHAT }));
    // An impostor door's key, substituted into a genuine certificate.
    let mut swapped = cert.clone();
    swapped.body.door_key = KeyPair::from_secret(&[65; 32]).public();
    assert_eq!(swapped.verify(&a.anchors()), Err(ChainError::BadSignature { what: DoorCertBody::WHAT }));
    let weak = DoorCertificate::sign(DoorCertBody::new(FRONT, WEAK_KEY, a.id()), &a.key);
    assert_eq!(weak.verify(&a.anchors()), Err(ChainError::WeakKey { what: DoorCertBody::WHAT }));
    let mut body = cert.body.clone();
    body.version = 5;
    let v5 = DoorCertificate::sign(body, &a.key);
    assert_eq!(v5.verify(&a.anchors()), Err(ChainError::UnsupportedVersion { what: DoorCertBody::WHAT, found: 5 }));
}
