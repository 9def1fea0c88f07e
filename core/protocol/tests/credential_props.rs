//! Property tests: every credential type round-trips through its canonical encoding, no guest
//! key wider than its parent ever verifies, and alternative spellings of valid bytes are refused.

use keyway_protocol::UnixTime;
use keyway_protocol::codec::{self, BoundedVec};
use keyway_protocol::credential::{
    ActivityEvent, ActivityRecord, AuthorityKeyId, CardId, CardKind, ChainError, DenialReason, DoorCertBody,
    DoorCertificate, DoorId, DoorOp, DoorSet, DoorUpdate, GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate,
    KeyChain, KeyFlags, KeyId, KeyPair, NoRevocations, PersonId, PublicKey, Receipt, ReceiptBody, SignedBody,
    UpdateBatch, UpdateBatchBody, Validity,
};
use keyway_test_kit::authority::*;
use proptest::prelude::*;

fn authority() -> Authority {
    Authority::from_seed(41)
}

fn arb_time() -> impl Strategy<Value = UnixTime> {
    prop_oneof![
        (1_767_225_600u64..2_082_758_400).prop_map(UnixTime), // 2026..2036
        any::<u64>().prop_map(UnixTime),
    ]
}

fn arb_validity() -> impl Strategy<Value = Validity> {
    (arb_time(), arb_time()).prop_filter_map("start < expiry", |(a, b)| Validity::new(a.min(b), a.max(b)))
}

fn arb_doors() -> impl Strategy<Value = DoorSet> {
    proptest::collection::vec(any::<u32>(), 1..=32)
        .prop_filter_map("non-empty", |v| DoorSet::new(v.into_iter().map(DoorId).collect()))
}

fn arb_public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn arb_flags() -> impl Strategy<Value = KeyFlags> {
    (any::<bool>(), any::<bool>()).prop_map(|(resident, may_share)| KeyFlags { resident, may_share })
}

fn arb_key_cert() -> impl Strategy<Value = KeyCertificate> {
    (any::<u64>(), any::<u64>(), arb_public_key(), arb_doors(), arb_validity(), arb_flags()).prop_map(
        |(key, person, holder, doors, validity, flags)| {
            let a = authority();
            KeyCertificate::sign(
                KeyCertBody::new(KeyId(key), PersonId(person), holder, doors, validity, flags, a.id()),
                &a.key,
            )
        },
    )
}

fn arb_guest_key() -> impl Strategy<Value = GuestKey> {
    (any::<u64>(), any::<u64>(), arb_public_key(), arb_doors(), arb_validity(), any::<[u8; 32]>()).prop_map(
        |(key, parent, holder, doors, validity, seed)| {
            GuestKey::sign(
                GuestKeyBody::new(KeyId(key), KeyId(parent), holder, doors, validity),
                &KeyPair::from_secret(&seed),
            )
        },
    )
}

fn arb_card() -> impl Strategy<Value = CardId> {
    proptest::collection::vec(any::<u8>(), 0..=16).prop_filter_map("≤ 16 bytes", BoundedVec::new)
}

fn arb_op() -> impl Strategy<Value = DoorOp> {
    prop_oneof![
        (any::<u64>(), arb_time()).prop_map(|(k, until)| DoorOp::RevokeKey { key: KeyId(k), until }),
        (any::<u64>(), arb_time()).prop_map(|(p, until)| DoorOp::RevokePerson { person: PersonId(p), until }),
        (any::<u32>(), any::<u64>(), arb_validity()).prop_map(|(slot, p, validity)| DoorOp::AddDoorcode {
            slot,
            person: PersonId(p),
            validity
        }),
        any::<u32>().prop_map(|slot| DoorOp::RemoveDoorcode { slot }),
        (arb_card(), any::<u64>(), arb_validity()).prop_map(|(card, p, validity)| DoorOp::AddKeycard {
            card,
            person: PersonId(p),
            validity,
            kind: CardKind::UidOnly
        }),
        arb_card().prop_map(|card| DoorOp::RemoveKeycard { card }),
        arb_time().prop_map(|now| DoorOp::SetClock { now }),
        arb_time().prop_map(|before| DoorOp::PruneRevocations { before }),
        any::<i16>().prop_map(|minutes| DoorOp::SetUtcOffset { minutes }),
        (any::<[u8; 8]>(), arb_time())
            .prop_map(|(d, until)| DoorOp::RevokeDevice { device: keyway_protocol::credential::DeviceId(d), until }),
    ]
}

fn arb_batch() -> impl Strategy<Value = UpdateBatch> {
    (
        any::<u32>(),
        1u64..u64::MAX / 2,
        arb_time(),
        proptest::collection::vec(proptest::collection::vec(arb_op(), 0..6), 0..6),
    )
        .prop_map(|(door, first_seq, issued_at, updates)| {
            let a = authority();
            let updates = updates.into_iter().map(|ops| DoorUpdate::new(ops).expect("≤ 256 ops")).collect();
            let body =
                UpdateBatchBody::new(DoorId(door), first_seq, issued_at, a.id(), updates).expect("≤ 4096 updates");
            UpdateBatch::sign(body, &a.key)
        })
}

fn arb_denial() -> impl Strategy<Value = DenialReason> {
    use DenialReason::*;
    proptest::sample::select(vec![
        BadSignature,
        UnknownIssuer,
        WrongDoor,
        NotYetValid,
        Expired,
        RevokedKey,
        RevokedPerson,
        SharingNotAllowed,
        GuestScopeWider,
        ReSharingByGuest,
        BadProof,
        StaleChallenge,
        Malformed,
        UnsupportedVersion,
        WeakKey,
        RateLimited,
        UnknownCredential,
    ])
}

fn arb_event() -> impl Strategy<Value = ActivityEvent> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(k, p, guest)| ActivityEvent::AppUnlock {
            key: KeyId(k),
            person: PersonId(p),
            guest
        }),
        (proptest::option::of(any::<u64>()), proptest::option::of(any::<u64>()), arb_denial()).prop_map(
            |(k, p, reason)| { ActivityEvent::AppDenied { key: k.map(KeyId), person: p.map(PersonId), reason } }
        ),
        (any::<u32>(), any::<u64>()).prop_map(|(slot, p)| ActivityEvent::DoorcodeEntry { slot, person: PersonId(p) }),
        arb_denial().prop_map(|reason| ActivityEvent::DoorcodeDenied { reason }),
        (arb_card(), any::<u64>()).prop_map(|(card, p)| ActivityEvent::KeycardEntry { card, person: PersonId(p) }),
        (arb_card(), arb_denial()).prop_map(|(card, reason)| ActivityEvent::KeycardDenied { card, reason }),
        (any::<u64>(), arb_denial()).prop_map(|(seq, reason)| ActivityEvent::UpdateRejected { seq, reason }),
    ]
}

fn arb_receipt() -> impl Strategy<Value = Receipt> {
    (
        any::<u32>(),
        any::<[u8; 16]>(),
        arb_time(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec((any::<u64>(), arb_time(), arb_event()), 0..=64),
    )
        .prop_map(|(door, nonce, door_time, applied_seq, activity_head, records)| {
            let activity = records.into_iter().map(|(seq, time, event)| ActivityRecord { seq, time, event }).collect();
            let body = ReceiptBody {
                version: ReceiptBody::VERSION,
                door_id: DoorId(door),
                phone_nonce: nonce,
                door_time,
                applied_seq,
                activity_head,
                activity: BoundedVec::new(activity).expect("≤ 64 records"),
            };
            Receipt::sign(body, &KeyPair::from_secret(&[42; 32]))
        })
}

/// Bytes → value → the same bytes, through the public decoder.
macro_rules! round_trip {
    ($value:expr, $decode:expr) => {{
        let value = $value;
        let bytes = value.to_bytes();
        let back = $decode(&bytes).expect("decodes its own encoding");
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(back.to_bytes(), bytes);
    }};
}

proptest! {
    #[test]
    fn key_certificates_round_trip(cert in arb_key_cert()) {
        round_trip!(cert.clone(), KeyCertificate::from_bytes);
        prop_assert!(cert.verify_signature(&authority().key.public()).is_ok());
    }

    #[test]
    fn guest_keys_round_trip(g in arb_guest_key()) {
        round_trip!(g, GuestKey::from_bytes);
    }

    #[test]
    fn key_chains_round_trip(cert in arb_key_cert(), guests in proptest::collection::vec(arb_guest_key(), 0..=3)) {
        let chain = KeyChain::with_links(cert, guests).expect("≤ 3 links");
        round_trip!(chain, KeyChain::from_bytes);
    }

    #[test]
    fn door_certificates_round_trip(door in any::<u32>(), key in arb_public_key()) {
        let a = authority();
        round_trip!(DoorCertificate::sign(DoorCertBody::new(DoorId(door), key, a.id()), &a.key), DoorCertificate::from_bytes);
    }

    #[test]
    fn update_batches_round_trip(batch in arb_batch()) {
        round_trip!(batch.clone(), UpdateBatch::from_bytes);
        prop_assert!(batch.verify_for(&authority().anchors(), batch.body.door_id).is_ok());
        let numbered: Vec<u64> = batch.body.numbered().map(|(seq, _)| seq).collect();
        let expected: Vec<u64> = (0..batch.body.updates.len() as u64).map(|i| batch.body.first_seq + i).collect();
        prop_assert_eq!(numbered, expected);
        prop_assert_eq!(batch.body.last_seq(), batch.body.first_seq + batch.body.updates.len() as u64 - 1);
    }

    #[test]
    fn receipts_round_trip(receipt in arb_receipt()) {
        round_trip!(receipt, Receipt::from_bytes);
    }
}

/// A small universe of doors and times so that generated parent and guest scopes overlap,
/// nest and straddle each other often.
fn small_doors() -> impl Strategy<Value = DoorSet> {
    proptest::collection::vec(0u32..8, 1..=5)
        .prop_filter_map("non-empty", |v| DoorSet::new(v.into_iter().map(|d| DoorId(100_000 - d)).collect()))
}

const T0: u64 = 1_800_000_000;

fn small_window() -> impl Strategy<Value = Validity> {
    (0u64..12, 1u64..12).prop_map(|(s, len)| window(UnixTime(T0 + s * 3600), UnixTime(T0 + (s + len) * 3600)))
}

/// One generated case of the delegation rule. Each part of the guest's scope is derived from
/// the parent's most of the time (so that chains which should open are common) and arbitrary
/// otherwise (so that every way of being wider is common too).
#[derive(Debug, Clone)]
struct GuestCase {
    parent_doors: DoorSet,
    parent_window: Validity,
    may_share: bool,
    guest_doors: DoorSet,
    guest_window: Validity,
    door: DoorId,
    now: UnixTime,
}

fn guest_case() -> impl Strategy<Value = GuestCase> {
    (
        (small_doors(), small_window(), any::<bool>()),
        (0u8..4, proptest::collection::vec(any::<bool>(), 8), small_doors()),
        (0u8..4, 0.0f64..1.0, 0.0f64..1.0, small_window()),
        (0u8..4, any::<usize>(), 0u32..8),
        (0u8..4, 0.0f64..1.0, 0u64..26 * 3600),
    )
        .prop_map(
            |(
                (parent_doors, parent_window, may_share),
                (nd, mask, any_doors),
                (nw, a, b, any_window),
                (nk, pick, any_door),
                (nt, frac, any_time),
            )| {
                let guest_doors = if nd > 0 {
                    let kept: Vec<DoorId> = parent_doors
                        .doors()
                        .iter()
                        .zip(mask.iter().cycle())
                        .filter(|(_, keep)| **keep)
                        .map(|(d, _)| *d)
                        .collect();
                    DoorSet::new(kept).unwrap_or_else(|| DoorSet::new(vec![parent_doors.doors()[0]]).expect("one door"))
                } else {
                    any_doors
                };
                let guest_window = if nw > 0 {
                    let span = (parent_window.expiry.0 - parent_window.start.0) as f64;
                    let (lo, hi) = (a.min(b), a.max(b));
                    let start = parent_window.start.0 + (lo * span) as u64;
                    let expiry =
                        (parent_window.start.0 + (hi * span).ceil() as u64).clamp(start + 1, parent_window.expiry.0);
                    window(UnixTime(start), UnixTime(expiry))
                } else {
                    any_window
                };
                let door = if nk > 0 {
                    guest_doors.doors()[pick % guest_doors.doors().len()]
                } else {
                    DoorId(100_000 - any_door)
                };
                let now = if nt > 0 {
                    let span = (guest_window.expiry.0 - guest_window.start.0) as f64;
                    UnixTime(
                        guest_window.start.0
                            + ((frac * span) as u64).min(guest_window.expiry.0 - guest_window.start.0 - 1),
                    )
                } else {
                    UnixTime(T0 + any_time)
                };
                GuestCase { parent_doors, parent_window, may_share, guest_doors, guest_window, door, now }
            },
        )
}

/// The delegation rule: a guest chain opens door `d` at time `t` exactly when the parent may
/// share, the guest's doors and window lie within the parent's, and `d` and `t` are in the
/// guest's own scope. In particular no guest key wider than its parent ever verifies.
#[test]
fn guest_chain_verifies_only_within_its_parent() {
    use proptest::test_runner::{Config, TestRunner};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (opened, wider, refused) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let a = authority();
    let resident = KeyPair::from_secret(&[43; 32]);
    let guest = KeyPair::from_secret(&[44; 32]);
    let mut runner = TestRunner::new(Config::with_cases(2048));
    let outcome = runner.run(&guest_case(), |c| {
        let flags = KeyFlags { resident: true, may_share: c.may_share };
        let root = a.issue(1_000, 7, resident.public(), c.parent_doors.clone(), c.parent_window, flags);
        let gk =
            share(&resident, &root, KeyId(KeyId::GUEST_BIT | 1), guest.public(), c.guest_doors.clone(), c.guest_window);
        let chain = KeyChain::guest(root, gk);
        let result = chain.verify_for_door(&a.anchors(), c.door, c.now, &NoRevocations);

        let within = c.guest_doors.is_subset_of(&c.parent_doors) && c.guest_window.is_within(&c.parent_window);
        let expected = c.may_share && within && c.guest_doors.contains(c.door) && c.guest_window.contains(c.now);
        prop_assert_eq!(result.is_ok(), expected, "result {:?}", result);
        if !c.may_share {
            let refused_sharing = matches!(result, Err(ChainError::SharingNotAllowed { .. }));
            prop_assert!(refused_sharing, "{:?}", result);
        } else if !within {
            let refused_scope = matches!(result, Err(ChainError::GuestScopeWider { .. }));
            prop_assert!(refused_scope, "{:?}", result);
            wider.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(v) = &result {
            prop_assert!(v.doors.is_subset_of(&c.parent_doors));
            prop_assert!(v.validity.is_within(&c.parent_window));
            prop_assert_eq!(v.holder, guest.public());
            opened.fetch_add(1, Ordering::Relaxed);
        } else {
            refused.fetch_add(1, Ordering::Relaxed);
        }
        // The rule is the same on the wire.
        let decoded = KeyChain::from_bytes(&chain.to_bytes()).expect("round trip");
        prop_assert_eq!(decoded.verify_for_door(&a.anchors(), c.door, c.now, &NoRevocations).is_ok(), expected);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let (opened, wider, refused) = (opened.into_inner(), wider.into_inner(), refused.into_inner());
    eprintln!("2048 guest chains: {opened} opened, {refused} refused ({wider} for a scope wider than the parent's)");
    // Both directions of the rule were exercised substantially.
    assert!(opened >= 200 && wider >= 200 && refused >= 200, "{opened} opened, {wider} wider, {refused} refused");
}

/// `value` spelled as a postcard varint padded with `extra` redundant continuation bytes.
fn overlong_varint(mut value: u64, extra: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    if extra > 0 {
        let last = out.len() - 1;
        out[last] |= 0x80;
        out.extend(std::iter::repeat_n(0x80, extra - 1));
        out.push(0);
    }
    out
}

proptest! {
    /// The key id (right after the version byte) re-spelled with redundant varint bytes decodes
    /// to the same value under a lax decoder; the canonical decoder must refuse it, or one
    /// certificate would have many byte strings.
    #[test]
    fn overlong_varints_are_refused(cert in arb_key_cert(), key_id in 0u64..1 << 42, extra in 1usize..4) {
        // Key ids below 2^42 take at most 6 varint bytes, leaving room for padding within 10.
        let mut body = cert.body.clone();
        body.key_id = KeyId(key_id);
        let cert = KeyCertificate::sign(body, &authority().key);
        let bytes = cert.to_bytes();
        let normal = overlong_varint(cert.body.key_id.0, 0);
        prop_assert_eq!(&bytes[1..1 + normal.len()], &normal[..]);
        let padded = overlong_varint(cert.body.key_id.0, extra);
        prop_assert!(padded.len() <= 10);
        let mut respelled = bytes[..1].to_vec();
        respelled.extend_from_slice(&padded);
        respelled.extend_from_slice(&bytes[1 + normal.len()..]);
        // postcard alone reads the re-spelling as the very same certificate, signature and all:
        // only the canonical check stands between it and a second valid encoding.
        let lax: Result<KeyCertificate, _> = postcard::from_bytes(&respelled);
        prop_assert_eq!(lax.ok(), Some(cert.clone()));
        prop_assert!(KeyCertificate::from_bytes(&respelled).is_err());
        // The same certificate inside a chain: chain version, certificate, no guest links.
        let chain = KeyChain::resident(cert).to_bytes();
        prop_assert_eq!(&chain[1..chain.len() - 1], &bytes[..]);
        let mut respelled_chain = vec![chain[0]];
        respelled_chain.extend_from_slice(&respelled);
        respelled_chain.push(0);
        prop_assert!(KeyChain::from_bytes(&respelled_chain).is_err());
    }

    #[test]
    fn trailing_bytes_are_refused(cert in arb_key_cert(), tail in proptest::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = cert.to_bytes();
        bytes.extend_from_slice(&tail);
        prop_assert!(KeyCertificate::from_bytes(&bytes).is_err());
        let mut chain = KeyChain::resident(cert).to_bytes();
        chain.extend_from_slice(&tail);
        prop_assert!(KeyChain::from_bytes(&chain).is_err());
    }

    /// Whatever the decoders accept, they accept in exactly one spelling.
    #[test]
    fn anything_accepted_re_encodes_to_the_same_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(v) = KeyCertificate::from_bytes(&bytes) { prop_assert_eq!(v.to_bytes(), bytes.clone()); }
        if let Ok(v) = GuestKey::from_bytes(&bytes) { prop_assert_eq!(v.to_bytes(), bytes.clone()); }
        if let Ok(v) = KeyChain::from_bytes(&bytes) { prop_assert_eq!(v.to_bytes(), bytes.clone()); }
        if let Ok(v) = DoorCertificate::from_bytes(&bytes) { prop_assert_eq!(v.to_bytes(), bytes.clone()); }
        if let Ok(v) = UpdateBatch::from_bytes(&bytes) { prop_assert_eq!(v.to_bytes(), bytes.clone()); }
        if let Ok(v) = Receipt::from_bytes(&bytes) { prop_assert_eq!(v.to_bytes(), bytes.clone()); }
        if let Ok(v) = codec::decode::<DoorSet>("doors", &bytes, 200) { prop_assert_eq!(codec::encode(&v), bytes.clone()); }
    }

    /// Door sets have one spelling: unsorted or repeated ids are refused.
    #[test]
    fn unsorted_door_sets_are_refused(ids in proptest::collection::vec(any::<u32>(), 2..10)) {
        let raw = BoundedVec::<DoorId, 32>::new(ids.iter().copied().map(DoorId).collect()).expect("≤ 32");
        let bytes = codec::encode(&raw);
        let strictly_ascending = ids.windows(2).all(|w| w[0] < w[1]);
        prop_assert_eq!(codec::decode::<DoorSet>("doors", &bytes, 200).is_ok(), strictly_ascending);
    }

    /// Unknown flag bits are refused, never ignored.
    #[test]
    fn unknown_key_flag_bits_are_refused(bits in any::<u8>()) {
        let decoded = codec::decode::<KeyFlags>("flags", &codec::encode(&bits), 2);
        prop_assert_eq!(decoded.is_ok(), bits < 4);
    }
}

proptest! {
    /// Certificates name their issuer by the first 8 bytes of SHA-256 over its public key.
    #[test]
    fn authority_key_id_is_the_key_digest_prefix(key in any::<[u8; 32]>()) {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key);
        prop_assert_eq!(&AuthorityKeyId::of(&key).0[..], &digest[..8]);
    }
}
