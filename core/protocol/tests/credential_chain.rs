//! The chain rules a door applies, one test per `ChainError` variant, plus the happy paths and
//! authority key rotation.

use keyway_protocol::UnixTime;
use keyway_protocol::codec;
use keyway_protocol::credential::{
    ChainError, DenialReason, DoorId, GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate, KeyChain, KeyFlags, KeyId,
    KeyPair, NoRevocations, PersonId, RevocationCheck, RevokedWhat, SignedBody, TrustAnchors,
};
use keyway_test_kit::authority::*;

const ROOT_KEY: u64 = 4_000_000_001;
const PERSON: u64 = 90_210;
const GUEST_KEY: KeyId = KeyId(KeyId::GUEST_BIT | 0x5eed_0001);
const FRONT: DoorId = DoorId(1042);
const GARAGE: DoorId = DoorId(100_000);
const GYM: DoorId = DoorId(65_000);
const NEIGHBOUR: DoorId = DoorId(1043);

struct World {
    authority: Authority,
    anchors: TrustAnchors,
    resident: KeyPair,
    guest: KeyPair,
    root: KeyCertificate,
    guest_key: GuestKey,
}

fn world() -> World {
    let authority = Authority::from_seed(1);
    let resident = KeyPair::from_secret(&[2; 32]);
    let guest = KeyPair::from_secret(&[3; 32]);
    let root = authority.issue(
        ROOT_KEY,
        PERSON,
        resident.public(),
        doors(&[17, 1042, 65_000, 100_000]),
        window(day(2026, 12, 1), day(2027, 12, 1)),
        RESIDENT_SHARING,
    );
    let guest_key = share(
        &resident,
        &root,
        GUEST_KEY,
        guest.public(),
        doors(&[1042, 100_000]),
        window(day(2026, 12, 24), day(2026, 12, 27)),
    );
    World { anchors: authority.anchors(), authority, resident, guest, root, guest_key }
}

fn christmas() -> UnixTime {
    day(2026, 12, 25).saturating_add_secs(10 * 3600)
}

impl World {
    fn resident_chain(&self) -> KeyChain {
        KeyChain::resident(self.root.clone())
    }
    fn guest_chain(&self) -> KeyChain {
        KeyChain::guest(self.root.clone(), self.guest_key.clone())
    }
    fn guest_with(&self, doors_: &[u32], start: UnixTime, expiry: UnixTime) -> KeyChain {
        let g = share(&self.resident, &self.root, GUEST_KEY, self.guest.public(), doors(doors_), window(start, expiry));
        KeyChain::guest(self.root.clone(), g)
    }
    fn at_front(&self, chain: &KeyChain, now: UnixTime, rev: &impl RevocationCheck) -> Result<(), ChainError> {
        chain.verify_for_door(&self.anchors, FRONT, now, rev).map(|_| ())
    }
}

/// Every chain also survives its own encoding: the rules give the same answer on decoded bytes.
fn decoded(chain: &KeyChain) -> KeyChain {
    let bytes = chain.to_bytes();
    let back = KeyChain::from_bytes(&bytes).expect("a chain decodes from its own bytes");
    assert_eq!(&back, chain);
    back
}

#[test]
fn resident_chain_opens_its_doors() {
    let w = world();
    let chain = decoded(&w.resident_chain());
    for door in [DoorId(17), FRONT, GYM, GARAGE] {
        let v = chain.verify_for_door(&w.anchors, door, christmas(), &Revoked::default()).expect("resident opens");
        assert_eq!(v.key_id, KeyId(ROOT_KEY));
        assert_eq!(v.root_key_id, KeyId(ROOT_KEY));
        assert_eq!(v.person_id, PersonId(PERSON));
        assert_eq!(v.holder, w.resident.public());
        assert!(!v.is_guest);
        assert!(v.flags.resident && v.flags.may_share);
    }
    // The window is start <= t < expiry.
    assert!(w.at_front(&chain, day(2026, 12, 1), &Revoked::default()).is_ok());
    assert!(w.at_front(&chain, day(2027, 12, 1).saturating_sub_secs(1), &Revoked::default()).is_ok());
}

#[test]
fn guest_chain_opens_only_as_the_guest() {
    let w = world();
    let chain = decoded(&w.guest_chain());
    let v = chain.verify_for_door(&w.anchors, GARAGE, christmas(), &Revoked::default()).expect("guest opens");
    assert_eq!(v.key_id, GUEST_KEY);
    assert_eq!(v.root_key_id, KeyId(ROOT_KEY));
    assert_eq!(v.person_id, PersonId(PERSON));
    assert_eq!(v.holder, w.guest.public(), "the guest's device signs the unlock proof, not the resident's");
    assert_eq!(v.doors, doors(&[1042, 100_000]));
    assert!(v.is_guest);
    assert_eq!(v.flags, KeyFlags { resident: false, may_share: false });
    assert_eq!(chain.leaf_key_id(), GUEST_KEY);
    assert_ne!(chain.digest(), w.resident_chain().digest());
}

#[test]
fn bad_signature_on_root_or_guest() {
    let w = world();
    let mut root = w.root.clone();
    root.body.doors = doors(&[17, 1042, 65_000, 100_000, 100_001]);
    let err = KeyChain::resident(root).verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::BadSignature { what: KeyCertBody::WHAT });

    let mut root = w.root.clone();
    root.signature.0[5] ^= 0x40;
    let err = KeyChain::resident(root).verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::BadSignature { what: KeyCertBody::WHAT });

    // A guest key signed by someone other than the parent's holder.
    let stranger = KeyPair::from_secret(&[9; 32]);
    let forged = share(
        &stranger,
        &w.root,
        GUEST_KEY,
        w.guest.public(),
        doors(&[1042]),
        window(day(2026, 12, 24), day(2026, 12, 27)),
    );
    let err = KeyChain::guest(w.root.clone(), forged).verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::BadSignature { what: GuestKeyBody::WHAT });

    // A guest key body edited after signing (extended by a day).
    let mut stretched = w.guest_key.clone();
    stretched.body.validity.expiry = day(2026, 12, 28);
    let err =
        KeyChain::guest(w.root.clone(), stretched).verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::BadSignature { what: GuestKeyBody::WHAT });

    // An authority signature over the same body but under another label (a door certificate's)
    // does not verify as a key certificate.
    let mut relabelled = w.root.clone();
    relabelled.signature =
        w.authority.key.sign(keyway_protocol::credential::label::DOOR_CERT, &codec::encode(&w.root.body));
    let err = KeyChain::resident(relabelled).verify_structure(&w.anchors);
    assert_eq!(err.unwrap_err(), ChainError::BadSignature { what: KeyCertBody::WHAT });
}

#[test]
fn unknown_issuer() {
    let w = world();
    let other = Authority::from_seed(7);
    let err = w.resident_chain().verify_for_door(&other.anchors(), FRONT, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::UnknownIssuer { what: KeyCertBody::WHAT });
    let err = w.guest_chain().verify_for_door(&TrustAnchors::default(), FRONT, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::UnknownIssuer { what: KeyCertBody::WHAT });
}

#[test]
fn wrong_door() {
    let w = world();
    let err = w.resident_chain().verify_for_door(&w.anchors, NEIGHBOUR, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::WrongDoor { key: KeyId(ROOT_KEY), door: NEIGHBOUR });
    // The parent opens the gym; the guest does not.
    assert!(w.resident_chain().verify_for_door(&w.anchors, GYM, christmas(), &NoRevocations).is_ok());
    let err = w.guest_chain().verify_for_door(&w.anchors, GYM, christmas(), &NoRevocations);
    assert_eq!(err.unwrap_err(), ChainError::WrongDoor { key: GUEST_KEY, door: GYM });
}

#[test]
fn not_yet_valid_and_expired() {
    let w = world();
    let none = Revoked::default();
    let early = day(2026, 12, 1).saturating_sub_secs(1);
    assert_eq!(
        w.at_front(&w.resident_chain(), early, &none).unwrap_err(),
        ChainError::NotYetValid { key: KeyId(ROOT_KEY), start: day(2026, 12, 1) }
    );
    assert_eq!(
        w.at_front(&w.resident_chain(), day(2027, 12, 1), &none).unwrap_err(),
        ChainError::Expired { key: KeyId(ROOT_KEY), expiry: day(2027, 12, 1) }
    );
    // The guest's own window applies, although the parent is valid then.
    assert_eq!(
        w.at_front(&w.guest_chain(), day(2026, 12, 23), &none).unwrap_err(),
        ChainError::NotYetValid { key: GUEST_KEY, start: day(2026, 12, 24) }
    );
    assert_eq!(
        w.at_front(&w.guest_chain(), day(2026, 12, 27), &none).unwrap_err(),
        ChainError::Expired { key: GUEST_KEY, expiry: day(2026, 12, 27) }
    );
    assert!(w.at_front(&w.guest_chain(), day(2026, 12, 27).saturating_sub_secs(1), &none).is_ok());
}

#[test]
fn revocation_anywhere_in_the_chain() {
    let w = world();
    let root_key = Revoked { keys: vec![KeyId(ROOT_KEY)], ..Default::default() };
    let person = Revoked { persons: vec![PersonId(PERSON)], ..Default::default() };
    let guest = Revoked { keys: vec![GUEST_KEY], ..Default::default() };
    let unrelated =
        Revoked { keys: vec![KeyId(ROOT_KEY + 1), KeyId(KeyId::GUEST_BIT | 1)], persons: vec![PersonId(PERSON + 1)] };

    let key_revoked = ChainError::Revoked(RevokedWhat::Key(KeyId(ROOT_KEY)));
    let person_revoked = ChainError::Revoked(RevokedWhat::Person(PersonId(PERSON)));
    assert_eq!(w.at_front(&w.resident_chain(), christmas(), &root_key).unwrap_err(), key_revoked);
    assert_eq!(w.at_front(&w.resident_chain(), christmas(), &person).unwrap_err(), person_revoked);
    assert!(w.at_front(&w.resident_chain(), christmas(), &guest).is_ok(), "revoking a guest leaves the parent alone");
    assert!(w.at_front(&w.resident_chain(), christmas(), &unrelated).is_ok());

    // A guest falls with its parent key and with the parent's person.
    assert_eq!(w.at_front(&w.guest_chain(), christmas(), &root_key).unwrap_err(), key_revoked);
    assert_eq!(w.at_front(&w.guest_chain(), christmas(), &person).unwrap_err(), person_revoked);
    assert_eq!(
        w.at_front(&w.guest_chain(), christmas(), &guest).unwrap_err(),
        ChainError::Revoked(RevokedWhat::Key(GUEST_KEY))
    );
    assert!(w.at_front(&w.guest_chain(), christmas(), &unrelated).is_ok());

    let denial = DenialReason::from(&key_revoked);
    assert_eq!(denial, DenialReason::RevokedKey);
    assert_eq!(DenialReason::from(&person_revoked), DenialReason::RevokedPerson);
}

#[test]
fn sharing_not_allowed() {
    let w = world();
    let root = w.authority.issue(
        ROOT_KEY,
        PERSON,
        w.resident.public(),
        doors(&[1042]),
        window(day(2026, 12, 1), day(2027, 12, 1)),
        RESIDENT_NO_SHARING,
    );
    let g = share(
        &w.resident,
        &root,
        GUEST_KEY,
        w.guest.public(),
        doors(&[1042]),
        window(day(2026, 12, 24), day(2026, 12, 27)),
    );
    let chain = KeyChain::guest(root.clone(), g);
    assert_eq!(
        chain.verify_structure(&w.anchors).unwrap_err(),
        ChainError::SharingNotAllowed { parent: KeyId(ROOT_KEY) }
    );
    // The key itself still works for its holder.
    assert!(KeyChain::resident(root).verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations).is_ok());
}

#[test]
fn guest_scope_wider_than_parent() {
    let w = world();
    let doors_err = ChainError::GuestScopeWider { guest: GUEST_KEY, what: "doors" };
    let window_err = ChainError::GuestScopeWider { guest: GUEST_KEY, what: "validity window" };
    let (s, e) = (day(2026, 12, 24), day(2026, 12, 27));
    // A door the parent lacks, even when presented at a door the parent has.
    let chain = w.guest_with(&[1042, 1043], s, e);
    assert_eq!(w.at_front(&chain, christmas(), &NoRevocations).unwrap_err(), doors_err);
    // Starting before the parent.
    let chain = w.guest_with(&[1042], day(2026, 11, 30), e);
    assert_eq!(w.at_front(&chain, christmas(), &NoRevocations).unwrap_err(), window_err);
    // Ending after the parent.
    let chain = w.guest_with(&[1042], s, day(2027, 12, 1).saturating_add_secs(1));
    assert_eq!(w.at_front(&chain, christmas(), &NoRevocations).unwrap_err(), window_err);
    // Exactly the parent's scope is not wider.
    let chain = w.guest_with(&[17, 1042, 65_000, 100_000], day(2026, 12, 1), day(2027, 12, 1));
    assert!(w.at_front(&chain, christmas(), &NoRevocations).is_ok());
}

#[test]
fn re_sharing_by_a_guest() {
    let w = world();
    let third = KeyPair::from_secret(&[4; 32]);
    let second = GuestKey::sign(
        GuestKeyBody::new(
            KeyId(KeyId::GUEST_BIT | 2),
            GUEST_KEY,
            third.public(),
            doors(&[1042]),
            window(day(2026, 12, 24), day(2026, 12, 26)),
        ),
        &w.guest,
    );
    let chain =
        KeyChain::with_links(w.root.clone(), vec![w.guest_key.clone(), second]).expect("within the decoder's bound");
    let chain = decoded(&chain);
    assert_eq!(
        chain.verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations).unwrap_err(),
        ChainError::ReSharingByGuest
    );
    assert!(KeyChain::with_links(w.root.clone(), vec![w.guest_key.clone(); 4]).is_none());
}

#[test]
fn parent_mismatch() {
    let w = world();
    let other_root = w.authority.issue(
        ROOT_KEY + 7,
        PERSON,
        w.resident.public(),
        doors(&[1042]),
        window(day(2026, 12, 1), day(2027, 12, 1)),
        RESIDENT_SHARING,
    );
    // A real guest key of another key of the same resident, stapled to this root.
    let g = share(
        &w.resident,
        &other_root,
        GUEST_KEY,
        w.guest.public(),
        doors(&[1042]),
        window(day(2026, 12, 24), day(2026, 12, 27)),
    );
    let err =
        KeyChain::guest(w.root.clone(), g).verify_for_door(&w.anchors, FRONT, christmas(), &NoRevocations).unwrap_err();
    assert_eq!(
        err,
        ChainError::ParentMismatch { guest: GUEST_KEY, named: KeyId(ROOT_KEY + 7), actual: KeyId(ROOT_KEY) }
    );
}

#[test]
fn unsupported_version() {
    let w = world();
    // Of the chain envelope.
    let mut bytes = w.resident_chain().to_bytes();
    bytes[0] = 2;
    let err = ChainError::from(KeyChain::from_bytes(&bytes).unwrap_err());
    assert_eq!(err, ChainError::UnsupportedVersion { what: "key chain", found: 2 });
    // Of a standalone key certificate.
    let mut bytes = w.root.to_bytes();
    bytes[0] = 3;
    let err = ChainError::from(KeyCertificate::from_bytes(&bytes).unwrap_err());
    assert_eq!(err, ChainError::UnsupportedVersion { what: KeyCertBody::WHAT, found: 3 });
    // Of a certificate inside a chain, even one correctly signed by the authority.
    // (Version 1 is the format before revalidation windows, whose certificates had no
    // freshness: a door refuses them.)
    let mut body = w.root.body.clone();
    body.version = 1;
    let chain = decoded(&KeyChain::resident(KeyCertificate::sign(body, &w.authority.key)));
    assert_eq!(
        chain.verify_structure(&w.anchors).unwrap_err(),
        ChainError::UnsupportedVersion { what: KeyCertBody::WHAT, found: 1 }
    );
    // Of a guest key inside a chain, correctly signed by the parent's holder.
    let mut body = w.guest_key.body.clone();
    body.version = 9;
    let chain = decoded(&KeyChain::guest(w.root.clone(), GuestKey::sign(body, &w.resident)));
    assert_eq!(
        chain.verify_structure(&w.anchors).unwrap_err(),
        ChainError::UnsupportedVersion { what: GuestKeyBody::WHAT, found: 9 }
    );
}

#[test]
fn malformed_input() {
    let w = world();
    let bytes = w.guest_chain().to_bytes();
    let err = ChainError::from(KeyChain::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err());
    assert!(matches!(err, ChainError::Malformed { what: "key chain", .. }), "{err:?}");
    let err = ChainError::from(KeyChain::from_bytes(&[]).unwrap_err());
    assert!(matches!(err, ChainError::Malformed { .. }), "{err:?}");
    // An authority-signed certificate that carries a guest id is refused as malformed.
    let bad = w.authority.issue(
        KeyId::GUEST_BIT | 5,
        PERSON,
        w.resident.public(),
        doors(&[1042]),
        window(day(2026, 12, 1), day(2027, 1, 1)),
        RESIDENT_SHARING,
    );
    assert!(matches!(KeyChain::resident(bad).verify_structure(&w.anchors), Err(ChainError::Malformed { .. })));
    // A guest key without the guest bit.
    let bad = share(
        &w.resident,
        &w.root,
        KeyId(77),
        w.guest.public(),
        doors(&[1042]),
        window(day(2026, 12, 24), day(2026, 12, 27)),
    );
    assert!(matches!(
        KeyChain::guest(w.root.clone(), bad).verify_structure(&w.anchors),
        Err(ChainError::Malformed { .. })
    ));
    // A door set out of order (hand-made bytes that would otherwise be a valid certificate).
    let mut body = codec::encode(&w.root.body);
    let pos = body
        .windows(3)
        .position(|x| x == [4, 17, 0x92])
        .expect("door set [17, 1042, ...] is encoded as 4, 17, 0x92 0x08");
    body.swap(pos + 1, pos + 2);
    assert!(codec::decode::<KeyCertBody>("key certificate", &body, 400).is_err());
}

#[test]
fn weak_keys_are_refused() {
    let w = world();
    // A resident key whose holder is a small-order point: nobody can sign for it, and it must
    // not even get that far.
    let root = w.authority.issue(
        ROOT_KEY,
        PERSON,
        WEAK_KEY,
        doors(&[1042]),
        window(day(2026, 12, 1), day(2027, 12, 1)),
        RESIDENT_SHARING,
    );
    assert_eq!(
        KeyChain::resident(root).verify_structure(&w.anchors).unwrap_err(),
        ChainError::WeakKey { what: KeyCertBody::WHAT }
    );
    // A guest key handed to a small-order holder key.
    let g =
        share(&w.resident, &w.root, GUEST_KEY, WEAK_KEY, doors(&[1042]), window(day(2026, 12, 24), day(2026, 12, 27)));
    assert_eq!(
        KeyChain::guest(w.root.clone(), g).verify_structure(&w.anchors).unwrap_err(),
        ChainError::WeakKey { what: GuestKeyBody::WHAT }
    );
    // A weak trust anchor.
    let weak_anchor = TrustAnchors::new([WEAK_KEY]);
    let mut body = w.root.body.clone();
    body.issuer = keyway_protocol::credential::AuthorityKeyId::of(&WEAK_KEY.0);
    let cert = KeyCertificate::sign(body, &w.authority.key);
    assert_eq!(
        KeyChain::resident(cert).verify_structure(&weak_anchor).unwrap_err(),
        ChainError::WeakKey { what: KeyCertBody::WHAT }
    );
    assert!(!WEAK_KEY.is_acceptable());
    assert!(w.resident.public().is_acceptable());
}

#[test]
fn authority_key_rotation() {
    let old = Authority::from_seed(1);
    let new = Authority::from_seed(11);
    let w = world();
    let from_new = new.issue(
        ROOT_KEY + 1,
        PERSON,
        w.resident.public(),
        doors(&[1042]),
        window(day(2027, 1, 1), day(2028, 1, 1)),
        RESIDENT_SHARING,
    );
    let at = day(2027, 6, 1);

    // During rotation the door trusts both keys.
    let mut anchors = TrustAnchors::new([old.key.public(), new.key.public()]);
    assert!(w.resident_chain().verify_for_door(&anchors, FRONT, at, &NoRevocations).is_ok());
    assert!(w.guest_chain().verify_structure(&anchors).is_ok());
    assert!(KeyChain::resident(from_new.clone()).verify_for_door(&anchors, FRONT, at, &NoRevocations).is_ok());
    assert_eq!(anchors.keys().count(), 2);
    anchors.add(old.key.public());
    assert_eq!(anchors.keys().count(), 2, "adding a known key again changes nothing");

    // Once the old key is removed, its certificates (and guests under them) name an unknown issuer.
    anchors.remove(old.id());
    assert_eq!(anchors.get(old.id()), None);
    let unknown = ChainError::UnknownIssuer { what: KeyCertBody::WHAT };
    assert_eq!(w.resident_chain().verify_for_door(&anchors, FRONT, at, &NoRevocations).unwrap_err(), unknown);
    assert_eq!(w.guest_chain().verify_for_door(&anchors, FRONT, christmas(), &NoRevocations).unwrap_err(), unknown);
    assert!(KeyChain::resident(from_new.clone()).verify_for_door(&anchors, FRONT, at, &NoRevocations).is_ok());

    // A certificate naming the new key's id but signed by the old key is a bad signature.
    let mut body = from_new.body.clone();
    body.key_id = KeyId(ROOT_KEY + 2);
    let mislabelled = KeyCertificate::sign(body, &old.key);
    assert_eq!(
        KeyChain::resident(mislabelled).verify_structure(&anchors).unwrap_err(),
        ChainError::BadSignature { what: KeyCertBody::WHAT }
    );
}

#[test]
fn every_chain_error_maps_to_a_denial_reason() {
    use DenialReason as D;
    let cases = [
        (ChainError::BadSignature { what: "x" }, D::BadSignature),
        (ChainError::UnknownIssuer { what: "x" }, D::UnknownIssuer),
        (ChainError::WrongDoor { key: KeyId(1), door: FRONT }, D::WrongDoor),
        (ChainError::NotYetValid { key: KeyId(1), start: UnixTime(1) }, D::NotYetValid),
        (ChainError::Expired { key: KeyId(1), expiry: UnixTime(1) }, D::Expired),
        (ChainError::SharingNotAllowed { parent: KeyId(1) }, D::SharingNotAllowed),
        (ChainError::GuestScopeWider { guest: KeyId(1), what: "doors" }, D::GuestScopeWider),
        (ChainError::ReSharingByGuest, D::ReSharingByGuest),
        (ChainError::UnsupportedVersion { what: "x", found: 2 }, D::UnsupportedVersion),
        (ChainError::Malformed { what: "x", detail: String::new() }, D::Malformed),
        (ChainError::WeakKey { what: "x" }, D::WeakKey),
    ];
    for (err, reason) in cases {
        assert_eq!(DenialReason::from(&err), reason, "{err}");
    }
}

#[test]
fn errors_read_well() {
    assert_eq!(ChainError::Revoked(RevokedWhat::Key(KeyId(4_000_000_001))).to_string(), "key k4000000001 is revoked");
    assert_eq!(ChainError::Revoked(RevokedWhat::Person(PersonId(90_210))).to_string(), "person 90210 is revoked");
    assert_eq!(ChainError::Revoked(RevokedWhat::Key(GUEST_KEY)).to_string(), "key g5eed0001 is revoked");
}
