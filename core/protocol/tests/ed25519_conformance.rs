//! Every Wycheproof and CCTV Ed25519 vector, run through `credential::keys::verify_raw`, which
//! goes through `credential::verify`: the same strict check a door applies to every signature.
//! The vectors and their attribution live in `core/testdata/ed25519/`.

use keyway_protocol::credential::keys::verify_raw;
use serde_json::Value;
use std::collections::BTreeSet;

fn testdata(name: &str) -> Value {
    let path = format!("{}/testdata/ed25519/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn hex_field(v: &Value, field: &str) -> Vec<u8> {
    let s = v[field].as_str().unwrap_or_else(|| panic!("missing string field {field} in {v}"));
    hex::decode(s).unwrap_or_else(|e| panic!("field {field} is not hex: {e}"))
}

fn key32(bytes: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).ok()
}

#[test]
fn wycheproof_results_match_exactly() {
    let doc = testdata("wycheproof_ed25519_test.json");
    let groups = doc["testGroups"].as_array().expect("testGroups");
    let (mut total, mut valid, mut invalid) = (0, 0, 0);
    let mut mismatches = Vec::new();
    let mut ids = BTreeSet::new();
    for group in groups {
        let pk_bytes = hex_field(&group["publicKey"], "pk");
        let pk = key32(&pk_bytes).expect("Wycheproof public keys are 32 bytes");
        for test in group["tests"].as_array().expect("tests") {
            let id = test["tcId"].as_u64().expect("tcId");
            assert!(ids.insert(id), "duplicate tcId {id}");
            let msg = hex_field(test, "msg");
            let sig = hex_field(test, "sig");
            let expected = match test["result"].as_str() {
                Some("valid") => {
                    valid += 1;
                    true
                }
                Some("invalid") => {
                    invalid += 1;
                    false
                }
                other => panic!("tcId {id}: unexpected result {other:?}"),
            };
            total += 1;
            if verify_raw(&pk, &msg, &sig) != expected {
                mismatches.push((id, test["comment"].as_str().unwrap_or("").to_owned(), expected));
            }
        }
    }
    assert_eq!(doc["numberOfTests"].as_u64(), Some(151));
    assert_eq!((total, valid, invalid), (151, 88, 63), "vector counts as stated in testdata/ed25519/README.md");
    assert!(mismatches.is_empty(), "verify disagrees with Wycheproof on (tcId, comment, expected): {mismatches:?}");
}

/// Flags with which a strict verifier must refuse a CCTV vector.
const MUST_REJECT: [&str; 4] = ["low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R"];

#[test]
fn cctv_strict_expectations() {
    let doc = testdata("cctv_ed25519vectors.json");
    let vectors = doc.as_array().expect("a list of vectors");
    assert_eq!(vectors.len(), 914);
    let mut accepted = BTreeSet::new();
    let mut predicted = BTreeSet::new();
    let mut accepted_flagged = Vec::new();
    let mut must_reject_count = 0;
    for v in vectors {
        let number = v["number"].as_u64().expect("number");
        let key = hex_field(v, "key");
        let sig = hex_field(v, "sig");
        // CCTV messages are text, signed as their UTF-8 bytes.
        let msg = v["msg"].as_str().expect("msg").as_bytes();
        let flags: Vec<&str> =
            v["flags"].as_array().map(|f| f.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let must_reject = flags.iter().any(|f| MUST_REJECT.contains(f));
        if must_reject {
            must_reject_count += 1;
        }
        // verify_strict checks the cofactorless equation [S]B = R + [k]A. A vector flagged
        // `low_order_residue` satisfies only the cofactored equation (its R - [S]B + [k]A is a
        // non-zero small-order point), so a strict verifier refuses it as well. Everything else,
        // including keys and R with a small-order *component* (mixed order), verifies.
        if !must_reject && !flags.contains(&"low_order_residue") {
            predicted.insert(number);
        }
        let ok = key32(&key).is_some_and(|pk| verify_raw(&pk, msg, &sig));
        if ok {
            accepted.insert(number);
            if must_reject {
                accepted_flagged.push((number, flags.clone()));
            }
        }
    }
    assert!(accepted_flagged.is_empty(), "accepted vectors a strict verifier must reject: {accepted_flagged:?}");
    assert_eq!(must_reject_count, 808, "vectors flagged low-order or non-canonical A or R");
    assert_eq!(accepted.len(), 43, "accepted vector numbers: {accepted:?}");
    assert_eq!(
        accepted, predicted,
        "the accepted set is exactly the vectors with no must-reject flag and no low-order residue"
    );
    // Mixed-order keys are accepted: small-order checks refuse only keys *of* small order.
    let mixed_order_accepted = vectors
        .iter()
        .filter(|v| v["number"].as_u64().is_some_and(|n| accepted.contains(&n)))
        .filter(|v| v["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "low_order_component_A")))
        .count();
    assert_eq!(mixed_order_accepted, 42);
}

#[test]
fn malformed_lengths_are_rejected_not_panics() {
    let doc = testdata("wycheproof_ed25519_test.json");
    let group = &doc["testGroups"][0];
    let pk = key32(&hex_field(&group["publicKey"], "pk")).expect("32-byte key");
    let test = &group["tests"][0];
    let msg = hex_field(test, "msg");
    let sig = hex_field(test, "sig");
    assert!(verify_raw(&pk, &msg, &sig), "tcId 1 is valid");
    for len in [0, 1, 32, 63, 65, 128] {
        let mut s = sig.clone();
        s.resize(len, 0);
        assert!(!verify_raw(&pk, &msg, &s), "a {len}-byte signature must be refused");
    }
}
