//! Hostile bytes at every decoder: every truncation of every valid encoding, random byte
//! strings (raw, and behind a plausible version byte), and single-byte mutations. A decoder
//! must answer with an error, never a panic; bytes that do decode to *something* must then fail
//! verification, so nothing but the genuine encoding is ever trusted.

use keyway_protocol::codec::{self, BoundedVec, Bytes64};
use keyway_protocol::credential::{
    ActivityEvent, ActivityRecord, CardKind, DenialReason, DoorCertBody, DoorCertificate, DoorId, DoorOp, DoorSet,
    DoorUpdate, GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate, KeyChain, KeyId, KeyPair, PersonId, Receipt,
    ReceiptBody, SignedBody, TrustAnchors, UpdateBatch, UpdateBatchBody, Validity,
};
use keyway_test_kit::authority::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Fixture {
    anchors: TrustAnchors,
    resident: KeyPair,
    door: KeyPair,
    /// (decoder name, valid encoding)
    encodings: Vec<(&'static str, Vec<u8>)>,
}

fn fixture() -> Fixture {
    let authority = Authority::from_seed(51);
    let resident = KeyPair::from_secret(&[52; 32]);
    let guest = KeyPair::from_secret(&[53; 32]);
    let door = KeyPair::from_secret(&[54; 32]);
    let validity = window(day(2026, 12, 1), day(2027, 12, 1));
    let root = authority.issue(
        4_000_000_000,
        1_234_567,
        resident.public(),
        doors(&[17, 1042, 65_000, 100_000]),
        validity,
        RESIDENT_SHARING,
    );
    let guest_key = share(
        &resident,
        &root,
        KeyId(KeyId::GUEST_BIT | 99),
        guest.public(),
        doors(&[1042]),
        window(day(2026, 12, 24), day(2026, 12, 27)),
    );
    let re_shared = GuestKey::sign(
        GuestKeyBody::new(
            KeyId(KeyId::GUEST_BIT | 100),
            KeyId(KeyId::GUEST_BIT | 99),
            resident.public(),
            doors(&[1042]),
            validity,
        ),
        &guest,
    );
    let door_cert =
        DoorCertificate::sign(DoorCertBody::new(DoorId(1042), door.public(), authority.id()), &authority.key);
    let card = BoundedVec::new(vec![0x04, 0xa2, 0x3b, 0x91, 0x5c, 0x11, 0x80]).expect("7-byte UID");
    let ops = vec![
        DoorOp::RevokeKey { key: KeyId(4_000_000_000), until: day(2027, 12, 1) },
        DoorOp::RevokePerson { person: PersonId(1_234_567), until: day(2028, 1, 1) },
        DoorOp::AddDoorcode { slot: 12, person: PersonId(77), validity },
        DoorOp::RemoveDoorcode { slot: 3 },
        DoorOp::AddKeycard { card: card.clone(), person: PersonId(77), validity, kind: CardKind::UidOnly },
        DoorOp::RemoveKeycard { card: card.clone() },
        DoorOp::SetClock { now: day(2026, 12, 2) },
        DoorOp::PruneRevocations { before: day(2026, 11, 1) },
        DoorOp::SetUtcOffset { minutes: -300 },
    ];
    let updates = vec![
        DoorUpdate::new(ops[..3].to_vec()).expect("3 ops"),
        DoorUpdate::new(ops[3..].to_vec()).expect("6 ops"),
        DoorUpdate::new(vec![]).expect("empty"),
    ];
    let batch = UpdateBatch::sign(
        UpdateBatchBody::new(DoorId(1042), 41, day(2026, 12, 2), authority.id(), updates).expect("3 updates"),
        &authority.key,
    );
    let events = vec![
        ActivityEvent::AppUnlock { key: KeyId(4_000_000_000), person: PersonId(1_234_567), guest: false },
        ActivityEvent::AppDenied { key: Some(KeyId(5)), person: None, reason: DenialReason::Expired },
        ActivityEvent::DoorcodeEntry { slot: 12, person: PersonId(77) },
        ActivityEvent::DoorcodeDenied { reason: DenialReason::UnknownCredential },
        ActivityEvent::KeycardEntry { card: card.clone(), person: PersonId(77) },
        ActivityEvent::KeycardDenied { card, reason: DenialReason::RevokedPerson },
        ActivityEvent::UpdateRejected { seq: 40, reason: DenialReason::BadSignature },
    ];
    let activity = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| ActivityRecord {
            seq: 100 + i as u64,
            time: day(2026, 12, 2).saturating_add_secs(i as u64 * 60),
            event,
        })
        .collect();
    let receipt = Receipt::sign(
        ReceiptBody {
            version: ReceiptBody::VERSION,
            door_id: DoorId(1042),
            phone_nonce: [0x5a; 16],
            door_time: day(2026, 12, 2),
            applied_seq: 43,
            activity_head: 106,
            activity: BoundedVec::new(activity).expect("7 records"),
        },
        &door,
    );
    let encodings = vec![
        ("key certificate", root.to_bytes()),
        ("guest key", guest_key.to_bytes()),
        ("key chain", KeyChain::resident(root.clone()).to_bytes()),
        ("key chain", KeyChain::guest(root.clone(), guest_key.clone()).to_bytes()),
        ("key chain", KeyChain::with_links(root, vec![guest_key, re_shared]).expect("2 links").to_bytes()),
        ("door certificate", door_cert.to_bytes()),
        ("door update batch", batch.to_bytes()),
        ("door receipt", receipt.to_bytes()),
    ];
    Fixture { anchors: authority.anchors(), resident, door, encodings }
}

/// What the decoders made of some bytes.
#[derive(Default, Debug)]
struct Outcome {
    /// Signed or chained decoders that produced a value.
    decoded: Vec<&'static str>,
    /// ... and whose value then verified against the fixture's keys.
    verified: Vec<&'static str>,
}

fn feed(f: &Fixture, bytes: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    let mut note = |name: &'static str, verified: bool| {
        out.decoded.push(name);
        if verified {
            out.verified.push(name);
        }
    };
    if let Ok(v) = KeyCertificate::from_bytes(bytes) {
        note("key certificate", v.verify_signature(&f.anchors.keys().next().copied().expect("one anchor")).is_ok());
    }
    if let Ok(v) = GuestKey::from_bytes(bytes) {
        note("guest key", v.verify_signature(&f.resident.public()).is_ok());
    }
    if let Ok(v) = KeyChain::from_bytes(bytes) {
        // A re-shared chain is refused by the rules, so only structure that verifies counts.
        note("key chain", v.verify_structure(&f.anchors).is_ok());
    }
    if let Ok(v) = DoorCertificate::from_bytes(bytes) {
        note("door certificate", v.verify(&f.anchors).is_ok());
    }
    if let Ok(v) = UpdateBatch::from_bytes(bytes) {
        note("door update batch", v.verify_for(&f.anchors, v.body.door_id).is_ok());
    }
    if let Ok(v) = Receipt::from_bytes(bytes) {
        note("door receipt", v.verify_signature(&f.door.public()).is_ok());
    }
    // The unsigned building blocks: any answer but a panic is acceptable, and anything accepted
    // must be canonical.
    fn plain<T: serde::de::DeserializeOwned + serde::Serialize>(bytes: &[u8]) {
        if let Ok(v) = codec::decode::<T>("part", bytes, 1 << 20) {
            assert_eq!(codec::encode(&v), bytes, "{} accepted a non-canonical spelling", std::any::type_name::<T>());
        }
    }
    plain::<KeyCertBody>(bytes);
    plain::<GuestKeyBody>(bytes);
    plain::<DoorCertBody>(bytes);
    plain::<UpdateBatchBody>(bytes);
    plain::<ReceiptBody>(bytes);
    plain::<DoorSet>(bytes);
    plain::<DoorOp>(bytes);
    plain::<DoorUpdate>(bytes);
    plain::<Validity>(bytes);
    plain::<ActivityRecord>(bytes);
    plain::<Bytes64>(bytes);
    out
}

#[test]
fn the_fixture_is_genuine() {
    let f = fixture();
    for (name, bytes) in &f.encodings {
        let out = feed(&f, bytes);
        assert!(out.decoded.contains(name), "{name} does not decode its own encoding");
        if bytes != &f.encodings[4].1 {
            assert!(out.verified.contains(name), "{name} does not verify");
        }
    }
}

/// A truncation is never accepted by its own decoder (postcard encodings of one type are
/// prefix-free and trailing bytes are refused). Another type's decoder may read it: encodings
/// carry no type tag, and a door certificate is any 1 + varint + 104 bytes. Such a value never
/// verifies, because every signature covers its own type's domain-separation label.
#[test]
fn every_truncation_is_refused_and_never_verifies() {
    let f = fixture();
    let (mut fed, mut cross) = (0, Vec::new());
    for (name, bytes) in &f.encodings {
        for len in 0..bytes.len() {
            let out = feed(&f, &bytes[..len]);
            assert!(!out.decoded.contains(name), "{name} truncated to {len} bytes decoded as itself");
            assert!(out.verified.is_empty(), "{name} truncated to {len} bytes verified as {:?}", out.verified);
            cross.extend(out.decoded.iter().map(|other| format!("{name}[..{len}] as {other}")));
            fed += 1;
        }
    }
    eprintln!(
        "{fed} truncations refused by their own decoder; read (and refused at verification) by another: {cross:?}"
    );
}

#[test]
fn random_bytes_never_verify() {
    let f = fixture();
    let mut rng = StdRng::seed_from_u64(0x6b65_7977_6179);
    let mut decoded = 0;
    let rounds = 20_000;
    for round in 0..rounds {
        let len = rng.gen_range(0..700);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
        // Half the inputs carry the current version byte, so they get past the first check.
        if let Some(b) = bytes.first_mut().filter(|_| round % 2 == 0) {
            *b = 1;
        }
        let out = feed(&f, &bytes);
        assert!(out.verified.is_empty(), "random bytes verified as {:?}: {bytes:02x?}", out.verified);
        decoded += out.decoded.len();
    }
    eprintln!("{rounds} random inputs: {decoded} decoded to some value, none verified");
}

#[test]
fn valid_prefixes_with_random_tails_never_verify() {
    let f = fixture();
    let mut rng = StdRng::seed_from_u64(7);
    for (name, bytes) in &f.encodings {
        for _ in 0..200 {
            let cut = rng.gen_range(0..bytes.len());
            let tail = rng.gen_range(0..80);
            let mut b = bytes[..cut].to_vec();
            b.extend((0..tail).map(|_| rng.r#gen::<u8>()));
            if b == *bytes {
                continue;
            }
            let out = feed(&f, &b);
            assert!(
                out.verified.is_empty(),
                "{name} cut at {cut} + {tail} random bytes verified as {:?}",
                out.verified
            );
        }
    }
}

#[test]
fn single_byte_mutations_fail_decoding_or_verification() {
    let f = fixture();
    let mut rng = StdRng::seed_from_u64(11);
    let (mut mutations, mut still_decoded) = (0, 0);
    for (name, bytes) in &f.encodings {
        for pos in 0..bytes.len() {
            let random: u8 = rng.gen_range(1..=255);
            for mask in [0x01u8, 0x80, 0xff, random] {
                let mut b = bytes.clone();
                b[pos] ^= mask;
                let out = feed(&f, &b);
                assert!(out.verified.is_empty(), "{name} with byte {pos} ^ {mask:#04x} verified as {:?}", out.verified);
                mutations += 1;
                still_decoded += out.decoded.len();
            }
        }
    }
    eprintln!("{mutations} single-byte mutations: {still_decoded} still decoded, none verified");
}

#[test]
fn oversized_and_hostile_lengths_are_refused_before_reading() {
    let f = fixture();
    // Longer than any bound: refused as too long, whatever follows.
    let huge = vec![1u8; 200 * 1024];
    assert!(feed(&f, &huge).decoded.is_empty());
    assert!(matches!(KeyChain::from_bytes(&huge), Err(codec::DecodeError::TooLong { .. })));
    // A batch header announcing u32::MAX updates: refused from the length prefix alone.
    let batch = &f.encodings[6].1;
    let body = UpdateBatch::from_bytes(batch).expect("genuine").body;
    let header_len = codec::encode(&(body.version, body.door_id, body.first_seq, body.issued_at, body.issuer)).len();
    let mut hostile = batch[..header_len].to_vec();
    hostile.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(UpdateBatch::from_bytes(&hostile).is_err());
    // A door set announcing more than 32 doors.
    assert!(codec::decode::<DoorSet>("doors", &[33, 1, 2, 3], 200).is_err());
    // Version bytes this build does not read are named as such by every signed decoder.
    let cert = &f.encodings[0].1;
    let mut v3 = cert.clone();
    v3[0] = 3;
    assert!(matches!(KeyCertificate::from_bytes(&v3), Err(codec::DecodeError::UnsupportedVersion { found: 3, .. })));
    assert_eq!(KeyCertBody::VERSION, 2);
}
