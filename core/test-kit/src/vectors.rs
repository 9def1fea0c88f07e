//! Conformance vectors: JSON files under `vectors/` that a door written in C or a phone SDK
//! written natively can check itself against. Every vector is the real encoding of a message
//! made with the deterministic keys in `keys.json`, the input a receiver gets, and the outcome
//! a conforming receiver must reach (accept with the fields it reads, or reject with the
//! reason Keyway gives).
//!
//! The expected outcomes are written here by hand, case by case; [`check`] runs this crate's
//! own code on every vector and fails when it disagrees, and the committed files must equal
//! what [`generate`] writes (`core/test-kit/tests/vectors.rs`; regenerate with
//! `KEYWAY_WRITE_VECTORS=1 cargo test -p keyway-test-kit --test vectors`).

use crate::fixture::*;
use keyway_protocol::UnixTime;
use keyway_protocol::advert::DoorAdvert;
use keyway_protocol::credential::*;
use keyway_protocol::door::{DoorEngine, DoorSession};
use keyway_protocol::unlock::frame::{self, MessageKind};
use keyway_protocol::unlock::{Access, DoorChallenge, PhoneSession, UnlockRequest};
use serde_json::{Value, json};

/// One file of `vectors/`: its name and contents.
pub struct VectorFile {
    /// File name under `vectors/`.
    pub name: &'static str,
    /// The file's JSON.
    pub json: Value,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", s.len()));
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

fn reject(reason: impl std::fmt::Debug) -> Value {
    refuse(&format!("{reason:?}"))
}

fn refuse(name: &str) -> Value {
    json!({ "reject": name })
}

/// Seeds of the deterministic keys (see [`key`]).
const AUTHORITY_SEED: u8 = 1;
const STRANGER_SEED: u8 = 99;
const FAR: UnixTime = UnixTime(253_402_300_799);

fn keys_file(p: &Property) -> Value {
    let seed = |s: u8| hex(&[s; 32]);
    let doors: Vec<Value> = [DOOR_A, DOOR_B]
        .iter()
        .map(|d| {
            json!({
                "door_id": d.0,
                "seed": seed(100 + d.0 as u8),
                "public": hex(&Property::door_key(*d).public().0),
                "certificate": hex(&p.door_cert(*d).to_bytes()),
            })
        })
        .collect();
    let devices: Vec<Value> =
        [1u8, 2, 50].iter().map(|s| json!({ "seed": seed(10 + s), "public": hex(&key(10 + s).public().0) })).collect();
    let labels: Vec<String> = label::ALL.iter().map(|l| String::from_utf8_lossy(l).replace('\0', "\\0")).collect();
    json!({
        "about": "Ed25519 keys are RFC 8032 seeds; every vector below was made with these. Times are Unix seconds.",
        "now": NOW.0,
        "authority": { "seed": seed(AUTHORITY_SEED), "public": hex(&p.authority.public().0), "key_id": hex(&p.issuer().0) },
        "stranger_authority": { "seed": seed(STRANGER_SEED), "public": hex(&key(STRANGER_SEED).public().0) },
        "doors": doors,
        "devices": devices,
        "doorcode_secret": hex(&DOORCODE_SECRET),
        "utc_offset_minutes": 60,
        "labels": labels,
    })
}

/// A resident certificate for device seed `10 + person`, with explicit freshness.
fn cert(
    p: &Property,
    key_id: u64,
    person: u64,
    validity: Validity,
    fresh_until: UnixTime,
    share: bool,
) -> KeyCertificate {
    let body = KeyCertBody::new(
        KeyId(key_id),
        PersonId(person),
        key(10 + person as u8).public(),
        doors(&[DOOR_A]),
        validity,
        KeyFlags { resident: true, may_share: share },
        p.issuer(),
    )
    .fresh_until(fresh_until);
    Signed::sign(body, &p.authority)
}

fn chains(p: &Property) -> Vec<Value> {
    let lease = window(NOW.saturating_sub_secs(30 * DAY), FAR);
    let fresh = NOW.saturating_add_secs(7 * DAY);
    let resident = KeyChain::resident(cert(p, 1, 1, lease, fresh, true));
    let guest_of = |root: &KeyCertificate, id: u64, validity: Validity| {
        let body = GuestKeyBody::new(
            KeyId(id | KeyId::GUEST_BIT),
            root.body.key_id,
            key(60).public(),
            doors(&[DOOR_A]),
            validity,
        );
        KeyChain::guest(root.clone(), Signed::sign(body, &key(11)))
    };
    let root = cert(p, 1, 1, lease, fresh, true);
    let day = window(NOW.saturating_sub_secs(DAY), NOW.saturating_add_secs(DAY));
    let stale = KeyChain::resident(cert(p, 2, 1, lease, NOW.saturating_sub_secs(1), true));
    let expired = KeyChain::resident(cert(p, 3, 1, window(NOW.saturating_sub_secs(2 * DAY), NOW), NOW, true));
    let upcoming = KeyChain::resident(cert(p, 4, 1, window(NOW.saturating_add_secs(60), FAR), FAR, true));
    let stranger = Property { authority: key(STRANGER_SEED), anchors: p.anchors.clone() };
    let foreign = KeyChain::resident(cert(&stranger, 5, 1, lease, fresh, true));
    let mut tampered = resident.to_bytes();
    let at = tampered.len() - 10;
    tampered[at] ^= 1;
    let unshareable = cert(p, 6, 1, lease, fresh, false);
    let long_guest = guest_of(&root, 10, window(NOW.saturating_sub_secs(DAY), NOW.saturating_add_secs(366 * DAY)));
    let mut v1 = cert(p, 7, 1, lease, fresh, true).body;
    v1.version = 1;
    let format_1 = KeyChain::resident(Signed::sign(v1, &p.authority));
    type Case<'a> = (&'a str, Vec<u8>, DoorId, Vec<u64>, Value);
    let cases: Vec<Case> = vec![
        (
            "resident key",
            resident.to_bytes(),
            DOOR_A,
            vec![],
            json!({"accept": {"key_id": 1, "person_id": 1, "guest": false}}),
        ),
        (
            "guest key",
            guest_of(&root, 9, day).to_bytes(),
            DOOR_A,
            vec![],
            json!({"accept": {"key_id": 9 | KeyId::GUEST_BIT, "person_id": 1, "guest": true}}),
        ),
        ("at another door", resident.to_bytes(), DOOR_B, vec![], reject(DenialReason::WrongDoor)),
        ("key revoked", resident.to_bytes(), DOOR_A, vec![1], reject(DenialReason::RevokedKey)),
        (
            "guest of a revoked key",
            guest_of(&root, 9, day).to_bytes(),
            DOOR_A,
            vec![1],
            reject(DenialReason::RevokedKey),
        ),
        (
            "not revalidated: freshness ran out a second ago",
            stale.to_bytes(),
            DOOR_A,
            vec![],
            reject(DenialReason::NotRevalidated),
        ),
        ("expired", expired.to_bytes(), DOOR_A, vec![], reject(DenialReason::Expired)),
        ("not yet valid", upcoming.to_bytes(), DOOR_A, vec![], reject(DenialReason::NotYetValid)),
        (
            "signed by an authority the door does not trust",
            foreign.to_bytes(),
            DOOR_A,
            vec![],
            reject(DenialReason::UnknownIssuer),
        ),
        ("one bit of the signature flipped", tampered, DOOR_A, vec![], reject(DenialReason::BadSignature)),
        (
            "guest of a key without may-share",
            guest_of(&unshareable, 9, day).to_bytes(),
            DOOR_A,
            vec![],
            reject(DenialReason::SharingNotAllowed),
        ),
        (
            "guest window reaches past its host's lease",
            guest_of(
                &cert(p, 8, 1, day, NOW.saturating_add_secs(DAY), true),
                9,
                window(NOW, NOW.saturating_add_secs(2 * DAY)),
            )
            .to_bytes(),
            DOOR_A,
            vec![],
            reject(DenialReason::GuestScopeWider),
        ),
        (
            "guest window longer than 366 days",
            long_guest.to_bytes(),
            DOOR_A,
            vec![],
            reject(DenialReason::GuestScopeWider),
        ),
        (
            "key certificate of format 1 (no freshness)",
            format_1.to_bytes(),
            DOOR_A,
            vec![],
            reject(DenialReason::UnsupportedVersion),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, door, revoked, expect)| {
            json!({ "name": name, "chain": hex(&bytes), "door_id": door.0, "now": NOW.0, "revoked_keys": revoked, "expect": expect })
        })
        .collect()
}

fn check_chain(p: &Property, v: &Value) -> Result<Value, String> {
    struct Revoked(Vec<u64>);
    impl RevocationCheck for Revoked {
        fn key_revoked(&self, key: KeyId) -> bool {
            self.0.contains(&key.0)
        }
        fn person_revoked(&self, _: PersonId) -> bool {
            false
        }
    }
    let bytes = unhex(v["chain"].as_str().ok_or("chain")?)?;
    let revoked =
        Revoked(v["revoked_keys"].as_array().ok_or("revoked_keys")?.iter().filter_map(Value::as_u64).collect());
    let door = DoorId(v["door_id"].as_u64().ok_or("door_id")? as u32);
    let now = UnixTime(v["now"].as_u64().ok_or("now")?);
    let chain = match KeyChain::from_bytes(&bytes) {
        Ok(c) => c,
        Err(e) => return Ok(reject(DenialReason::from(&ChainError::from(e)))),
    };
    Ok(match chain.verify_for_door(&p.anchors, door, now, &revoked) {
        Ok(v) => json!({"accept": {"key_id": v.key_id.0, "person_id": v.person_id.0, "guest": v.is_guest}}),
        Err(e) => reject(DenialReason::from(&e)),
    })
}

/// The challenge a freshly installed door A sends with randomness `random` (the door's offer
/// and nonce derive from its key, its counter, its clock and that randomness).
fn fresh_challenge(p: &Property, random: [u8; 16]) -> (DoorEngine, DoorSession, Vec<u8>) {
    let mut door: DoorEngine = p.door(DOOR_A);
    let session = DoorSession::new(&mut door, NOW, random);
    let bytes = session.challenge().to_bytes();
    (door, session, bytes)
}

/// Requests decided by a freshly installed door A: each answers the challenge given with it.
fn requests(p: &Property) -> Vec<Value> {
    let alice = p.resident(1, 1);
    let random = [0xC5; 16];
    let (_, _, challenge) = fresh_challenge(p, random);
    let (_, _, other) = fresh_challenge(p, [0x11; 16]);
    let answer = |h: &Holder, device: &KeyPair, to: &[u8]| {
        let mut params = p.params(h, DOOR_A, None, 0, 0x7A);
        params.device_key = device.clone();
        let mut phone = PhoneSession::new(params).expect("door A's certificate");
        phone.handle_challenge(to).unwrap_or_default()
    };
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        ("resident, answering this challenge", answer(&alice, &alice.device, &challenge), json!("granted")),
        (
            "a recorded request replayed into a new challenge",
            answer(&alice, &alice.device, &other),
            reject(DenialReason::StaleChallenge),
        ),
        (
            "proof made by a device the certificate does not name",
            answer(&alice, &key(12), &challenge),
            reject(DenialReason::BadProof),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, expect)| {
            json!({ "name": name, "request": hex(&bytes), "door_id": DOOR_A.0, "door_random": hex(&random),
                    "challenge": hex(&challenge), "now": NOW.0, "expect": expect })
        })
        .collect()
}

fn check_request(p: &Property, v: &Value) -> Result<Value, String> {
    let bytes = unhex(v["request"].as_str().ok_or("request")?)?;
    let random: [u8; 16] = unhex(v["door_random"].as_str().ok_or("door_random")?)?.try_into().map_err(|_| "random")?;
    let now = UnixTime(v["now"].as_u64().ok_or("now")?);
    let (mut door, mut session, challenge) = fresh_challenge(p, random);
    if hex(&challenge) != v["challenge"].as_str().ok_or("challenge")? {
        return Err("door A made another challenge from the same key, clock and randomness".into());
    }
    UnlockRequest::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let frames = frame::split(MessageKind::Request, 0, &bytes, frame::MAX_MTU).map_err(|e| e.to_string())?;
    for fr in frames {
        let fed = crate::door::feed(&mut session, &mut door, &fr, now).map_err(|e| e.to_string())?;
        if let Some(entry) = fed.decided {
            return Ok(match entry.access {
                Access::Granted => json!("granted"),
                Access::Denied(reason) => reject(reason),
            });
        }
    }
    Err("the door decided nothing".into())
}

fn challenges(p: &Property) -> Vec<Value> {
    let mut door = p.door(DOOR_A);
    let genuine = door.challenge(NOW, [0xC5; 16]);
    let mut forged = genuine.clone();
    forged.offer.body.ephemeral[0] ^= 1;
    let mut by_b = genuine.clone();
    by_b.offer = Signed::sign(genuine.offer.body.clone(), &Property::door_key(DOOR_B));
    vec![
        json!({"name": "door A's challenge", "challenge": hex(&genuine.to_bytes()), "door_id": DOOR_A.0,
               "expect": {"accept": {"nonce": hex(&genuine.nonce), "update_seq": genuine.update_seq,
                                      "door_time": genuine.door_time.0, "activity_head": genuine.activity_head,
                                      "ephemeral": hex(&genuine.offer.body.ephemeral)}}}),
        json!({"name": "the offer's key changed after signing", "challenge": hex(&forged.to_bytes()), "door_id": DOOR_A.0, "expect": refuse("ChallengeSignature")}),
        json!({"name": "offer signed by door B's key, presented as door A", "challenge": hex(&by_b.to_bytes()), "door_id": DOOR_A.0, "expect": refuse("ChallengeSignature")}),
    ]
}

fn check_challenge(_: &Property, v: &Value) -> Result<Value, String> {
    let c =
        DoorChallenge::from_bytes(&unhex(v["challenge"].as_str().ok_or("challenge")?)?).map_err(|e| e.to_string())?;
    let door = DoorId(v["door_id"].as_u64().ok_or("door_id")? as u32);
    Ok(match c.offer.verify_signature(&Property::door_key(door).public()) {
        Ok(()) if c.door_id() == door => json!({"accept": {"nonce": hex(&c.nonce), "update_seq": c.update_seq,
                                      "door_time": c.door_time.0, "activity_head": c.activity_head,
                                      "ephemeral": hex(&c.offer.body.ephemeral)}}),
        _ => refuse("ChallengeSignature"),
    })
}

fn batches(p: &Property) -> Vec<Value> {
    let good = p.batch(DOOR_A, 1, vec![vec![revoke_key(40)], vec![DoorOp::SetUtcOffset { minutes: 120 }]]);
    let gap = p.batch(DOOR_A, 3, vec![vec![revoke_key(41)]]);
    let other_door = p.batch(DOOR_B, 1, vec![vec![revoke_key(42)]]);
    let stranger = Property { authority: key(STRANGER_SEED), anchors: p.anchors.clone() };
    let foreign = stranger.batch(DOOR_A, 1, vec![vec![revoke_key(43)]]);
    let mut tampered = good.clone();
    tampered.body.first_seq = 1;
    let mut bytes = tampered.to_bytes();
    let at = bytes.len() - 1;
    bytes[at] ^= 1;
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        ("two updates from seq 1", good.to_bytes(), json!({"seq_after": 2, "batch_rejected": null})),
        ("starts at seq 3 on a door at 0", gap.to_bytes(), json!({"seq_after": 0, "batch_rejected": "Gap"})),
        ("for another door", other_door.to_bytes(), json!({"seq_after": 0, "batch_rejected": "WrongDoor"})),
        (
            "signed by an authority the door does not trust",
            foreign.to_bytes(),
            json!({"seq_after": 0, "batch_rejected": "UnknownIssuer"}),
        ),
        ("signature damaged", bytes, json!({"seq_after": 0, "batch_rejected": "BadSignature"})),
        (
            "an authority rotation in one update: trust a successor, retire the current key",
            p.batch(
                DOOR_A,
                1,
                vec![vec![
                    DoorOp::TrustAuthority { key: key(2).public() },
                    DoorOp::RetireAuthority { key: p.issuer() },
                ]],
            )
            .to_bytes(),
            json!({"seq_after": 1, "batch_rejected": null}),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, expect)| json!({"name": name, "batch": hex(&bytes), "door_id": DOOR_A.0, "door_seq": 0, "now": NOW.0, "expect": expect}))
        .collect()
}

fn check_batch(p: &Property, v: &Value) -> Result<Value, String> {
    let bytes = unhex(v["batch"].as_str().ok_or("batch")?)?;
    let mut door = p.door(DOOR_A);
    let report = door.apply_batch_bytes(&bytes, UnixTime(v["now"].as_u64().ok_or("now")?));
    let rejected = report.batch_rejected.map(|r| {
        let text = format!("{r:?}");
        text.split([' ', '{', '(']).next().unwrap_or_default().to_string()
    });
    Ok(json!({"seq_after": report.seq_after, "batch_rejected": rejected}))
}

fn receipts(p: &Property) -> Vec<Value> {
    let mut door = p.door(DOOR_A);
    let genuine = door.receipt([0x7A; 16], 0);
    let by_b = Signed::sign(genuine.body.clone(), &Property::door_key(DOOR_B));
    vec![
        json!({"name": "door A's receipt", "receipt": hex(&genuine.to_bytes()), "door_id": DOOR_A.0,
               "expect": {"accept": {"applied_seq": genuine.body.applied_seq, "phone_nonce": hex(&genuine.body.phone_nonce)}}}),
        json!({"name": "door A's receipt body signed by door B", "receipt": hex(&by_b.to_bytes()), "door_id": DOOR_A.0, "expect": refuse("ReceiptSignature")}),
    ]
}

fn check_receipt(_: &Property, v: &Value) -> Result<Value, String> {
    let r = Receipt::from_bytes(&unhex(v["receipt"].as_str().ok_or("receipt")?)?).map_err(|e| e.to_string())?;
    let door = DoorId(v["door_id"].as_u64().ok_or("door_id")? as u32);
    Ok(match r.verify_signature(&Property::door_key(door).public()) {
        Ok(()) => json!({"accept": {"applied_seq": r.body.applied_seq, "phone_nonce": hex(&r.body.phone_nonce)}}),
        Err(_) => refuse("ReceiptSignature"),
    })
}

fn advertisements() -> Vec<Value> {
    let good = DoorAdvert::new(DOOR_A, 12).to_bytes();
    let mut newer = good;
    newer[0] = 2;
    vec![
        json!({"name": "door 7 at seq 12", "advertisement": hex(&good), "expect": {"accept": {"door_id": 7, "seq_hint": 12}}}),
        json!({"name": "a newer format", "advertisement": hex(&newer), "expect": refuse("Version(2)")}),
        json!({"name": "truncated", "advertisement": hex(&good[..8]), "expect": refuse("Length(8)")}),
    ]
}

fn check_advert(_: &Property, v: &Value) -> Result<Value, String> {
    Ok(match DoorAdvert::from_bytes(&unhex(v["advertisement"].as_str().ok_or("advertisement")?)?) {
        Ok(a) => json!({"accept": {"door_id": a.door_id.0, "seq_hint": a.seq_hint}}),
        Err(e) => reject(e),
    })
}

fn time_statements(p: &Property) -> Vec<Value> {
    let unbound = |t: UnixTime| TimeStatement::sign(TimeStatementBody::unbound(t, p.issuer()), &p.authority);
    let bound = |t: UnixTime, door: DoorId, n: [u8; 16]| {
        TimeStatement::sign(TimeStatementBody::bound(t, p.issuer(), door, n), &p.authority)
    };
    let nonce = [0xC5; 16];
    let behind = NOW.saturating_sub_secs(600);
    type Case<'a> = (&'a str, TimeStatement, UnixTime, Option<[u8; 16]>, Value);
    let cases: Vec<Case> = vec![
        (
            "unbound, ahead of a door ten minutes slow: forward",
            unbound(NOW),
            behind,
            None,
            json!({"clock_after": NOW.0}),
        ),
        (
            "unbound, behind the door's clock (an old one replayed): nothing",
            unbound(behind),
            NOW,
            None,
            json!({"clock_after": NOW.0}),
        ),
        (
            "bound to this door and exchange, behind: back",
            bound(behind, DOOR_A, nonce),
            NOW,
            Some(nonce),
            json!({"clock_after": behind.0}),
        ),
        ("bound to another exchange's nonce", bound(behind, DOOR_A, [0x11; 16]), NOW, Some(nonce), refuse("Malformed")),
        ("bound to another door", bound(behind, DOOR_B, nonce), NOW, Some(nonce), refuse("Malformed")),
        (
            "signed by a stranger",
            TimeStatement::sign(
                TimeStatementBody::unbound(NOW.saturating_add_secs(DAY), p.issuer()),
                &key(STRANGER_SEED),
            ),
            NOW,
            None,
            refuse("BadSignature"),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, s, rtc, n, expect)| {
            json!({"name": name, "statement": hex(&s.to_bytes()), "door_id": DOOR_A.0, "door_rtc": rtc.0,
                   "exchange_nonce": n.map(|n| hex(&n)), "expect": expect})
        })
        .collect()
}

fn check_time(p: &Property, v: &Value) -> Result<Value, String> {
    let s =
        TimeStatement::from_bytes(&unhex(v["statement"].as_str().ok_or("statement")?)?).map_err(|e| e.to_string())?;
    let rtc = UnixTime(v["door_rtc"].as_u64().ok_or("door_rtc")?);
    let nonce: Option<[u8; 16]> = match v["exchange_nonce"].as_str() {
        Some(h) => Some(unhex(h)?.try_into().map_err(|_| "nonce")?),
        None => None,
    };
    // A door installed an hour before `now` whose RTC reads `rtc` (corrected to it first).
    let mut door = p.door(DOOR_A);
    door.observe_time(rtc);
    Ok(match door.handle_time(&s, nonce.as_ref(), rtc) {
        Ok(_) => json!({"clock_after": door.clock().0}),
        Err(e) => refuse(match e {
            ChainError::Malformed { .. } => "Malformed",
            ChainError::BadSignature { .. } => "BadSignature",
            ChainError::UnknownIssuer { .. } => "UnknownIssuer",
            ChainError::UnsupportedVersion { .. } => "UnsupportedVersion",
            _ => "Other",
        }),
    })
}

/// The first word of a value's debug text: the variant name of an error.
fn variant(e: impl std::fmt::Debug) -> String {
    let text = format!("{e:?}");
    text.split([' ', '{', '(']).next().unwrap_or_default().to_string()
}

fn rotations(p: &Property) -> Vec<Value> {
    let successor = key(2);
    let stranger = key(STRANGER_SEED);
    let rotation = |old: AuthorityKeyId, new: PublicKey, signer: &KeyPair| {
        AuthorityRotation::sign(AuthorityRotationBody::new(old, new, NOW), signer)
    };
    let stranger_id = AuthorityKeyId::of(&stranger.public().0);
    let cases: Vec<(&str, AuthorityRotation, Value)> = vec![
        (
            "the trusted authority names its successor",
            rotation(p.issuer(), successor.public(), &p.authority),
            json!({"accept": {"new_key": hex(&successor.public().0)}}),
        ),
        (
            "a stranger's statement under the trusted key's id",
            rotation(p.issuer(), stranger.public(), &stranger),
            refuse("BadSignature"),
        ),
        (
            "a stranger authority names a key",
            rotation(stranger_id, successor.public(), &stranger),
            refuse("UnknownIssuer"),
        ),
        (
            "the trusted authority names itself",
            rotation(p.issuer(), p.authority.public(), &p.authority),
            refuse("WeakKey"),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, r, expect)| json!({"name": name, "statement": hex(&r.to_bytes()), "expect": expect}))
        .collect()
}

fn check_rotation(p: &Property, v: &Value) -> Result<Value, String> {
    let r = AuthorityRotation::from_bytes(&unhex(v["statement"].as_str().ok_or("statement")?)?)
        .map_err(|e| e.to_string())?;
    Ok(match r.verify(&p.anchors) {
        Ok(new) => json!({"accept": {"new_key": hex(&new.0)}}),
        Err(e) => refuse(&variant(e)),
    })
}

fn door_certificates(p: &Property) -> Vec<Value> {
    let door_key = Property::door_key(DOOR_A).public();
    let body = DoorCertBody::new(DOOR_A, door_key, p.issuer());
    let v1 = Signed::sign(
        DoorCertBodyV1 { version: DoorCertBodyV1::VERSION, door_id: DOOR_A, door_key, issuer: p.issuer() },
        &p.authority,
    );
    let stranger = key(STRANGER_SEED);
    let foreign = DoorCertBody::new(DOOR_A, door_key, AuthorityKeyId::of(&stranger.public().0));
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        (
            "good until one second after now",
            DoorCertificate::sign(body.clone().expires(NOW.saturating_add_secs(1)), &p.authority).to_bytes(),
            json!({"accept": {"door_id": DOOR_A.0, "door_key": hex(&door_key.0)}}),
        ),
        (
            "expired at now",
            DoorCertificate::sign(body.expires(NOW), &p.authority).to_bytes(),
            refuse("DoorCertificateExpired"),
        ),
        ("version 1 (no expiry): refused as such", v1.to_bytes(), refuse("UnsupportedVersion")),
        (
            "signed by a stranger authority",
            DoorCertificate::sign(foreign, &stranger).to_bytes(),
            refuse("UnknownIssuer"),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, expect)| json!({"name": name, "certificate": hex(&bytes), "now": NOW.0, "expect": expect}))
        .collect()
}

fn check_door_certificate(p: &Property, v: &Value) -> Result<Value, String> {
    let now = UnixTime(v["now"].as_u64().ok_or("now")?);
    let cert = match DoorCertificate::from_bytes(&unhex(v["certificate"].as_str().ok_or("certificate")?)?) {
        Ok(c) => c,
        Err(e) => return Ok(refuse(&variant(e))),
    };
    Ok(match cert.verify_at(&p.anchors, now) {
        Ok(key) => json!({"accept": {"door_id": cert.body.door_id.0, "door_key": hex(&key.0)}}),
        Err(e) => refuse(&variant(e)),
    })
}

fn doorcodes() -> Vec<Value> {
    let secret = DoorcodeSecret::new(DOORCODE_SECRET);
    [(1u32, NOW, 60i16), (1, NOW.saturating_add_secs(DAY), 60), (2, NOW, 60), (1, NOW, -300)]
        .iter()
        .map(|(slot, t, offset)| {
            json!({"slot": slot, "time": t.0, "utc_offset_minutes": offset, "expect": secret.code_at(*slot, *t, *offset).to_string()})
        })
        .collect()
}

fn check_doorcode(_: &Property, v: &Value) -> Result<Value, String> {
    let secret = DoorcodeSecret::new(DOORCODE_SECRET);
    let slot = v["slot"].as_u64().ok_or("slot")? as u32;
    let t = UnixTime(v["time"].as_u64().ok_or("time")?);
    let offset = v["utc_offset_minutes"].as_i64().ok_or("offset")? as i16;
    Ok(json!(secret.code_at(slot, t, offset).to_string()))
}

type Check = fn(&Property, &Value) -> Result<Value, String>;

/// What each file's vectors are run through.
const CHECKS: &[(&str, Check)] = &[
    ("chains.json", check_chain),
    ("requests.json", check_request),
    ("challenges.json", check_challenge),
    ("batches.json", check_batch),
    ("receipts.json", check_receipt),
    ("advertisements.json", check_advert),
    ("time_statements.json", check_time),
    ("doorcodes.json", check_doorcode),
    ("rotations.json", check_rotation),
    ("door_certificates.json", check_door_certificate),
];

/// Every vector file, as the current code encodes it.
pub fn generate() -> Vec<VectorFile> {
    let p = Property::new();
    let wrap = |about: &str, cases: Vec<Value>| json!({"about": about, "vectors": cases});
    vec![
        VectorFile { name: "keys.json", json: keys_file(&p) },
        VectorFile {
            name: "chains.json",
            json: wrap(
                "KeyChain bytes presented at a door (anchors: the authority in keys.json) at `now`, with the key ids the door holds revoked: accept with what the door reads, or the DenialReason it logs.",
                chains(&p),
            ),
        },
        VectorFile {
            name: "requests.json",
            json: wrap(
                "UnlockRequest bytes decided by door 7 freshly installed from keys.json, whose challenge carried `challenge_nonce`: granted, or the DenialReason.",
                requests(&p),
            ),
        },
        VectorFile {
            name: "challenges.json",
            json: wrap(
                "DoorChallenge bytes checked by a phone against the door key of `door_id` (its certificate in keys.json).",
                challenges(&p),
            ),
        },
        VectorFile {
            name: "batches.json",
            json: wrap(
                "UpdateBatch bytes applied to door 7 at update seq 0: its seq after and, when refused whole, the UpdateRejection.",
                batches(&p),
            ),
        },
        VectorFile {
            name: "receipts.json",
            json: wrap(
                "Receipt bytes checked by a phone or the backend against the door key of `door_id`.",
                receipts(&p),
            ),
        },
        VectorFile {
            name: "advertisements.json",
            json: wrap(
                "The 9-byte Keyway service data a door advertises: version 1, door id u32 BE, update seq hint u32 BE.",
                advertisements(),
            ),
        },
        VectorFile {
            name: "time_statements.json",
            json: wrap(
                "TimeStatement bytes taken by door 7 whose RTC reads `door_rtc`, in an exchange with `exchange_nonce` (null: outside any, as an unbound statement in an unlock is judged): the door's clock after, or why it was refused.",
                time_statements(&p),
            ),
        },
        VectorFile {
            name: "doorcodes.json",
            json: wrap(
                "Daily doorcodes of `doorcode_secret` (keys.json) for a slot at a time and UTC offset: 10 digits, zero-padded.",
                doorcodes(),
            ),
        },
        VectorFile {
            name: "rotations.json",
            json: wrap(
                "AuthorityRotation bytes checked by a phone that trusts the authority in keys.json: the successor key it may trust from then on, or why it may not.",
                rotations(&p),
            ),
        },
        VectorFile {
            name: "door_certificates.json",
            json: wrap(
                "DoorCertificate bytes checked by a phone at `now` against the authority in keys.json before it talks to the door: the door id and key, or why it refuses.",
                door_certificates(&p),
            ),
        },
    ]
}

/// Runs every vector of file `name` through this crate's code: the number checked, or the
/// first vector whose outcome differs from the expected one.
pub fn check(name: &str, file: &Value) -> Result<usize, String> {
    let Some((_, run)) = CHECKS.iter().find(|(n, _)| *n == name) else {
        return Ok(0);
    };
    let p = Property::new();
    let cases = file["vectors"].as_array().ok_or_else(|| format!("{name}: no vectors"))?;
    for case in cases {
        let got = run(&p, case)?;
        if got != case["expect"] {
            return Err(format!("{name}: {:?}: expected {}, the code says {got}", case["name"], case["expect"]));
        }
    }
    Ok(cases.len())
}
