//! Encoded sizes of what a phone carries to a door. Targets from the design: a resident key
//! certificate naming up to 4 doors and a guest key each fit in 160 bytes, signature included.
//! The inputs are deliberately at the large end of realistic: door ids near 100,000, key ids
//! near 2^32, person ids in the millions, times in 2026-2036.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::CardKind;
use keyway_protocol::credential::ids::MAX_DOORS_PER_KEY;
use keyway_protocol::credential::{
    DoorCertBody, DoorCertificate, DoorId, DoorSet, GuestKey, GuestKeyBody, KeyCertificate, KeyChain, KeyFlags, KeyId,
    KeyPair, Validity,
};
use keyway_test_kit::authority::*;

const TARGET: usize = 160;

struct Measured {
    resident_cert: Vec<u8>,
    guest_key: Vec<u8>,
    resident_chain: Vec<u8>,
    guest_chain: Vec<u8>,
}

fn realistic() -> Measured {
    let authority = Authority::from_seed(21);
    let resident = KeyPair::from_secret(&[22; 32]);
    let guest = KeyPair::from_secret(&[23; 32]);
    let root = authority.issue(
        u32::MAX as u64 - 3,
        9_876_543,
        resident.public(),
        doors(&[99_017, 99_980, 99_999, 100_000]),
        window(day(2026, 3, 14).saturating_add_secs(41_234), day(2036, 3, 14).saturating_add_secs(41_234)),
        RESIDENT_SHARING,
    );
    let guest_key = share(
        &resident,
        &root,
        KeyId(KeyId::GUEST_BIT | 0x7fff_ffff_ffff_ffff),
        guest.public(),
        doors(&[99_017, 99_980, 99_999, 100_000]),
        window(day(2035, 12, 30).saturating_add_secs(7_777), day(2036, 1, 4).saturating_add_secs(7_777)),
    );
    Measured {
        resident_cert: root.to_bytes(),
        guest_key: guest_key.to_bytes(),
        resident_chain: KeyChain::resident(root.clone()).to_bytes(),
        guest_chain: KeyChain::guest(root, guest_key).to_bytes(),
    }
}

#[test]
fn resident_certificate_and_guest_key_fit_the_target() {
    let m = realistic();
    eprintln!("resident key certificate, 4 doors: {} bytes", m.resident_cert.len());
    eprintln!("guest key, 4 doors:                {} bytes", m.guest_key.len());
    eprintln!("resident key chain:                {} bytes", m.resident_chain.len());
    eprintln!("guest key chain:                   {} bytes", m.guest_chain.len());
    assert!(m.resident_cert.len() <= TARGET, "resident key certificate is {} bytes", m.resident_cert.len());
    assert!(m.guest_key.len() <= TARGET, "guest key is {} bytes", m.guest_key.len());
    // A chain is its links plus a version byte and a link count: nothing hidden.
    assert_eq!(m.resident_chain.len(), m.resident_cert.len() + 2);
    assert_eq!(m.guest_chain.len(), m.resident_cert.len() + m.guest_key.len() + 2);
    // The measured bytes are the real thing: they decode back.
    assert!(KeyCertificate::from_bytes(&m.resident_cert).is_ok());
    assert!(GuestKey::from_bytes(&m.guest_key).is_ok());
    assert!(KeyChain::from_bytes(&m.guest_chain).is_ok());
}

/// The decoders' length bounds must admit the largest legitimate value of each type, or a
/// valid credential could be refused.
#[test]
fn worst_case_encodings_are_within_the_decoders_bounds() {
    let authority = Authority::from_seed(31);
    let holder = KeyPair::from_secret(&[32; 32]);
    let widest = DoorSet::new((0..MAX_DOORS_PER_KEY as u32).map(|i| DoorId(u32::MAX - i)).collect()).expect("32 doors");
    let forever = Validity::new(UnixTime(u64::MAX - 1), UnixTime::MAX).expect("ordered");
    let cert = authority.issue(
        u64::MAX,
        u64::MAX,
        holder.public(),
        widest.clone(),
        forever,
        KeyFlags { resident: true, may_share: true },
    );
    let guest =
        GuestKey::sign(GuestKeyBody::new(KeyId(u64::MAX), KeyId(u64::MAX), holder.public(), widest, forever), &holder);
    let door_cert =
        DoorCertificate::sign(DoorCertBody::new(DoorId(u32::MAX), holder.public(), authority.id()), &authority.key);
    eprintln!(
        "worst case: key certificate {} bytes, guest key {} bytes, door certificate {} bytes",
        cert.to_bytes().len(),
        guest.to_bytes().len(),
        door_cert.to_bytes().len()
    );
    assert_eq!(KeyCertificate::from_bytes(&cert.to_bytes()).as_ref(), Ok(&cert));
    assert_eq!(GuestKey::from_bytes(&guest.to_bytes()).as_ref(), Ok(&guest));
    assert_eq!(DoorCertificate::from_bytes(&door_cert.to_bytes()).as_ref(), Ok(&door_cert));
    let longest = KeyChain::with_links(cert, vec![guest; 3]).expect("3 links");
    assert_eq!(KeyChain::from_bytes(&longest.to_bytes()).as_ref(), Ok(&longest));
}

fn keycard_updates(n: usize) -> Vec<keyway_protocol::credential::DoorUpdate> {
    use keyway_protocol::codec::BoundedVec;
    use keyway_protocol::credential::{DoorOp, DoorUpdate, PersonId};
    let card = BoundedVec::new(vec![0xa5; 16]).expect("16 bytes");
    let validity = Validity::new(UnixTime(u64::MAX - 1), UnixTime::MAX).expect("ordered");
    (0..n)
        .map(|i| {
            DoorUpdate::new(vec![DoorOp::AddKeycard {
                card: card.clone(),
                person: PersonId(u64::MAX - i as u64),
                validity,
                kind: CardKind::UidOnly,
            }])
            .expect("one op")
        })
        .collect()
}

/// A batch is only useful if a door can decode it: building one that exceeds the decoder's
/// bound is refused up front, so the backend splits it instead of signing dead bytes.
#[test]
fn update_batches_never_exceed_what_a_door_decodes() {
    use keyway_protocol::credential::{SignedBody, UpdateBatch, UpdateBatchBody};
    let authority = Authority::from_seed(33);
    let many = keycard_updates(keyway_protocol::credential::door_update::MAX_UPDATES_PER_BATCH);
    assert!(
        UpdateBatchBody::new(DoorId(1), 1, UnixTime(1_800_000_000), authority.id(), many).is_none(),
        "4096 keycard updates do not fit in {} bytes",
        UpdateBatchBody::MAX_LEN
    );
    // The largest batch `new` accepts decodes at the door.
    let mut n = 1;
    while UpdateBatchBody::new(DoorId(1), 1, UnixTime(1_800_000_000), authority.id(), keycard_updates(n * 2)).is_some()
    {
        n *= 2;
    }
    let (mut lo, mut hi) = (n, n * 2);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if UpdateBatchBody::new(DoorId(1), 1, UnixTime(1_800_000_000), authority.id(), keycard_updates(mid)).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let all = keycard_updates(4096);
    assert_eq!(UpdateBatchBody::fits_updates(DoorId(1), 1, UnixTime(1_800_000_000), authority.id(), &all), lo);
    let small = keycard_updates(10);
    assert_eq!(UpdateBatchBody::fits_updates(DoorId(1), 1, UnixTime(1_800_000_000), authority.id(), &small), 10);
    let body =
        UpdateBatchBody::new(DoorId(1), 1, UnixTime(1_800_000_000), authority.id(), keycard_updates(lo)).expect("fits");
    assert_eq!(body.signed_len(), UpdateBatch::sign(body.clone(), &authority.key).to_bytes().len());
    let batch = UpdateBatch::sign(body, &authority.key);
    let bytes = batch.to_bytes();
    eprintln!("largest batch of worst-case keycard updates: {lo} updates, {} bytes", bytes.len());
    assert!(bytes.len() <= UpdateBatchBody::MAX_LEN);
    assert_eq!(UpdateBatch::from_bytes(&bytes).as_ref(), Ok(&batch));
}

/// A receipt full of the largest activity records still decodes.
#[test]
fn worst_case_receipt_is_within_the_decoders_bound() {
    use keyway_protocol::codec::BoundedVec;
    use keyway_protocol::credential::receipt::MAX_ACTIVITY_PER_RECEIPT;
    use keyway_protocol::credential::{ActivityEvent, ActivityRecord, DenialReason, Receipt, ReceiptBody, SignedBody};
    let card = BoundedVec::new(vec![0xa5; 16]).expect("16 bytes");
    let activity = (0..MAX_ACTIVITY_PER_RECEIPT)
        .map(|i| ActivityRecord {
            seq: u64::MAX - i as u64,
            time: UnixTime::MAX,
            event: ActivityEvent::KeycardDenied { card: card.clone(), reason: DenialReason::UnknownCredential },
        })
        .collect();
    let body = ReceiptBody {
        version: ReceiptBody::VERSION,
        door_id: DoorId(u32::MAX),
        phone_nonce: [0xff; 16],
        door_time: UnixTime::MAX,
        applied_seq: u64::MAX,
        activity_head: u64::MAX,
        activity: BoundedVec::new(activity).expect("64 records"),
    };
    let receipt = Receipt::sign(body, &KeyPair::from_secret(&[34; 32]));
    let bytes = receipt.to_bytes();
    eprintln!(
        "worst-case receipt with {MAX_ACTIVITY_PER_RECEIPT} records: {} bytes (bound {})",
        bytes.len(),
        ReceiptBody::MAX_LEN
    );
    assert_eq!(Receipt::from_bytes(&bytes).as_ref(), Ok(&receipt));
}

/// The unlock requests as they go on the air: a resident's fits one ATT packet at MTU 247 (the
/// revalidation window's freshness costs 5 bytes of it).
#[test]
fn unlock_requests_fit_their_frames() {
    use keyway_protocol::unlock::{UnlockRequest, frame};
    use keyway_test_kit::fixture::*;
    let p = Property::new();
    let resident = p.resident(1, 1);
    let guest = Property::guest_of(&resident, 9, 50, doors(&[DOOR_A]), window(NOW, NOW.saturating_add_secs(DAY)));
    let challenge = p.door(DOOR_A).challenge(NOW, [1; 16]).to_bytes();
    let len = |h: &Holder| {
        let request = p.phone(h, DOOR_A, None).handle_challenge(&challenge).unwrap();
        assert!(UnlockRequest::from_bytes(&request).is_ok());
        request.len()
    };
    let (r, g) = (len(&resident), len(&guest));
    println!("unlock request: resident {r} bytes, guest {g} bytes");
    assert_eq!(frame::frame_count(r, 247).unwrap(), 1, "resident request {r} B");
    assert_eq!(frame::frame_count(g, 247).unwrap(), 2, "guest request {g} B");
}
