//! `lock-sim card --card-file`: a secure card answers the door's challenge with the key in its
//! card file; a blank card written with a copied UID (no key) is refused at a secure enrolment,
//! and a UID-only card still opens, reported as weaker.

use keyway_api::{B64, CardFile, ProvisionedDoor, Secret32};
use keyway_protocol::credential::door_update::UpdateBatchBody;
use keyway_protocol::credential::*;
use lock_sim::{CardCheck, DoorFile, EntryReport};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lock-sim");
const CARD_KEY: [u8; 16] = [0x42; 16];
const SECURE_UID: &str = "04a1b2c3d4e5f6";
const LEGACY_UID: &str = "0a0b0c0d";

/// A door installed from a provisioning answer with the property's card key, its two cards
/// enrolled by an authority-signed batch (one secure, one UID-only).
fn door_with_cards(dir: &Path) -> std::path::PathBuf {
    let authority = KeyPair::generate();
    let door_key = KeyPair::generate();
    let issuer = AuthorityKeyId::of(&authority.public().0);
    let door_id = DoorId(5);
    let door = ProvisionedDoor {
        door_id,
        name: "Garage".into(),
        online: false,
        door_certificate: B64(DoorCertificate::sign(DoorCertBody::new(door_id, door_key.public(), issuer), &authority)),
        door_secret_key: B64(Secret32(*door_key.secret())),
        doorcode_secret: B64(Secret32([7; 32])),
        card_key: Some(B64(PropertyCardKey::new(CARD_KEY))),
        trust_anchors: vec![B64(authority.public())],
        utc_offset_minutes: 60,
    };
    let json = dir.join("garage.json");
    std::fs::write(&json, serde_json::to_string(&door).unwrap()).unwrap();
    let state = dir.join("garage.state");
    let out =
        Command::new(BIN).args(["provision", "--state"]).arg(&state).arg("--provision").arg(&json).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let now = keyway_api::clock::now();
    let validity = Validity::new(now.saturating_sub_secs(60), now.saturating_add_secs(3_600)).unwrap();
    let secret = DoorcodeSecret::new([7; 32]);
    let add = |uid: &str, person, kind| DoorOp::AddKeycard {
        card: secret.card_tag(&hex::decode(uid).unwrap()),
        person: PersonId(person),
        validity,
        kind,
    };
    let updates = vec![
        DoorUpdate::new(vec![add(SECURE_UID, 11, CardKind::Secure)]).unwrap(),
        DoorUpdate::new(vec![add(LEGACY_UID, 12, CardKind::UidOnly)]).unwrap(),
    ];
    let batch = Signed::sign(UpdateBatchBody::new(door_id, 1, now, issuer, updates).unwrap(), &authority);
    let file = DoorFile::new(&state);
    let report = file.with_door(|door| door.apply_batch(&batch, now)).unwrap();
    assert!(report.rejected_updates.is_empty() && report.seq_after == 2, "{report:?}");
    state
}

fn card(state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("card").args(args).arg("--state").arg(state).output().unwrap()
}

fn card_json(state: &Path, args: &[&str]) -> EntryReport {
    let mut all = args.to_vec();
    all.push("--json");
    let out = card(state, &all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn write_card(dir: &Path, name: &str, file: &CardFile) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(file).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_card_file_with_its_key_opens_and_a_copied_uid_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let state = door_with_cards(dir.path());
    let uid = hex::decode(SECURE_UID).unwrap();

    // The card as Mission Control issues it: its UID and its own key (not the property's).
    let key = PropertyCardKey::new(CARD_KEY).card_key(&uid).unwrap();
    let issued = write_card(dir.path(), "cleo.json", &CardFile { uid: SECURE_UID.into(), key: Some(key) });
    let text = std::fs::read_to_string(&issued).unwrap();
    assert!(text.starts_with(r#"{"uid":"04a1b2c3d4e5f6","key":""#), "{text}");
    assert!(!text.contains(&hex::encode(CARD_KEY)), "the card file holds no property key");
    let entry = card_json(&state, &["--card-file", &issued]);
    assert!(entry.granted, "{entry:?}");
    assert_eq!((entry.person_id, entry.card_check), (Some(11), Some(CardCheck::Answered)));

    // A blank card written with the copied UID, as a file without a key or as a bare UID.
    let copy = write_card(dir.path(), "copy.json", &CardFile { uid: SECURE_UID.into(), key: None });
    for args in [&["--card-file", copy.as_str()][..], &["--card", SECURE_UID]] {
        let entry = card_json(&state, args);
        assert!(!entry.granted);
        assert_eq!(entry.denial.as_deref(), Some("BadProof"));
        assert_eq!(entry.card_check, Some(CardCheck::NoAnswer));
    }
    let out = card(&state, &["--card", SECURE_UID]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("refused: BadProof, challenge not answered"), "{line}");

    // A key of another card, or of another property, answers wrongly.
    let other_uid = PropertyCardKey::new(CARD_KEY).card_key(&hex::decode("04a1b2c3d4e5f7").unwrap()).unwrap();
    let other_property = PropertyCardKey::new([0x43; 16]).card_key(&uid).unwrap();
    for (name, key) in [("other-uid.json", other_uid), ("other-property.json", other_property)] {
        let forged = write_card(dir.path(), name, &CardFile { uid: SECURE_UID.into(), key: Some(key) });
        let entry = card_json(&state, &["--card-file", &forged]);
        assert_eq!((entry.granted, entry.denial.as_deref()), (false, Some("BadProof")), "{name}");
    }
    // Five refusals so far: the reader is locked now, even for the genuine card.
    let entry = card_json(&state, &["--card-file", &issued]);
    assert_eq!(entry.denial.as_deref(), Some("RateLimited"));
}

#[test]
fn a_uid_only_card_opens_by_its_uid_and_is_reported_as_weaker() {
    let dir = tempfile::tempdir().unwrap();
    let state = door_with_cards(dir.path());
    let entry = card_json(&state, &["--card", LEGACY_UID]);
    assert!(entry.granted);
    assert_eq!((entry.person_id, entry.card_check), (Some(12), Some(CardCheck::Uid)));
    let out = card(&state, &["--card", LEGACY_UID]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("accepted (person 12, UID only: weaker)"), "{line}");
    // The door's status counts the kinds.
    let out = Command::new(BIN).args(["status", "--json", "--state"]).arg(&state).output().unwrap();
    let status: lock_sim::cli::DoorStatus = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((status.keycards, status.secure_keycards, status.reads_secure_cards), (2, 1, true));
}

#[test]
fn a_bad_card_file_is_one_line_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let state = door_with_cards(dir.path());
    let cases = [
        ("not-json.json", "{ nope", "not a card file"),
        ("short-key.json", r#"{"uid":"04a1b2c3d4e5f6","key":"0011"}"#, "32 hex digits"),
        ("extra.json", r#"{"uid":"04a1b2c3d4e5f6","master":"00"}"#, "unknown field"),
        ("bad-uid.json", r#"{"uid":"zz"}"#, "not hex"),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = card(&state, &["--card-file", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("lock-sim: ") && err.contains(expected) && err.trim().lines().count() == 1, "{err}");
    }
    let out = card(&state, &[]);
    assert_eq!(out.status.code(), Some(1));
    let out = card(&state, &["--card", LEGACY_UID, "--card-file", "x.json"]);
    assert_eq!(out.status.code(), Some(1));
}
