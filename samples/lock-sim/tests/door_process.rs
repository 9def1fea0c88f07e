//! The `lock-sim` binary as a parent process drives it: provisioned from Mission Control's
//! JSON, serving a real unlock over the socket link, persisting across restarts, keypad input
//! and one-line errors for bad input.

use keyway_api::{B64, ProvisionedDoor, Secret32};
use keyway_link::run_unlock;
use keyway_link::socket::SocketLink;
use keyway_protocol::credential::*;
use keyway_protocol::unlock::{PhoneSession, UnlockParams};
use lock_sim::EntryReport;
use lock_sim::cli::DoorStatus;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lock-sim");

struct Install {
    authority: KeyPair,
    door: ProvisionedDoor,
}

fn install(door_id: u32) -> Install {
    let authority = KeyPair::generate();
    let door_key = KeyPair::generate();
    let issuer = AuthorityKeyId::of(&authority.public().0);
    let cert = DoorCertificate::sign(DoorCertBody::new(DoorId(door_id), door_key.public(), issuer), &authority);
    let door = ProvisionedDoor {
        door_id: DoorId(door_id),
        name: "Garage".into(),
        online: false,
        door_certificate: B64(cert),
        door_secret_key: B64(Secret32(*door_key.secret())),
        doorcode_secret: B64(Secret32([7; 32])),
        card_key: None,
        trust_anchors: vec![B64(authority.public())],
        utc_offset_minutes: 60,
    };
    Install { authority, door }
}

struct Served(Child, SocketAddr);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(state: &Path, provision: &Path) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--print-addr", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .arg("--provision")
        .arg(provision)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().parse().unwrap_or_else(|_| panic!("ready line {line:?}"));
    Served(child, addr)
}

fn lock_sim(args: &[&str], state: &Path) -> std::process::Output {
    Command::new(BIN).args(args).arg("--state").arg(state).output().unwrap()
}

fn status(state: &Path) -> DoorStatus {
    let out = lock_sim(&["status", "--json"], state);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn resident_unlock(i: &Install, addr: SocketAddr, mtu: usize) -> (bool, keyway_link::socket::SocketStats) {
    let phone = KeyPair::generate();
    let now = keyway_api::clock::now();
    let body = KeyCertBody::new(
        KeyId(41),
        PersonId(5),
        phone.public(),
        DoorSet::new(vec![i.door.door_id]).unwrap(),
        Validity::new(now.saturating_sub_secs(60), now.saturating_add_secs(3600)).unwrap(),
        KeyFlags { resident: true, may_share: false },
        AuthorityKeyId::of(&i.authority.public().0),
    );
    let chain = KeyChain::resident(KeyCertificate::sign(body, &i.authority));
    let session = PhoneSession::new(UnlockParams {
        chain,
        device_key: phone,
        door_cert: i.door.door_certificate.0.clone(),
        anchors: TrustAnchors::new([i.authority.public()]),
        batch: None,
        activity_after: 0,
        time: None,
        nonce: [3; 16],
        now,
        resume: None,
    })
    .unwrap();
    let mut link = SocketLink::connect(addr, mtu, Duration::from_secs(5)).unwrap();
    let outcome = run_unlock(&mut link, session, Duration::from_secs(10)).unwrap();
    (outcome.granted, link.stats())
}

#[test]
fn a_provisioned_door_process_serves_an_unlock_and_remembers_it_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let i = install(9);
    let json = dir.path().join("garage.json");
    std::fs::write(&json, serde_json::to_string(&i.door).unwrap()).unwrap();
    let state = dir.path().join("garage.state");

    let served = serve(&state, &json);
    let (granted, stats) = resident_unlock(&i, served.1, 185);
    assert!(granted);
    assert_eq!(stats.round_trips, 1, "one round trip after the challenge");
    assert!(stats.frames_sent >= 2, "a resident request needs two frames at MTU 185");
    drop(served);

    let st = status(&state);
    assert_eq!((st.door_id, st.activity_head, st.update_seq), (9, 1, 0));
    assert!(!dir.path().join("garage.state.tmp").exists(), "no temporary file left behind");

    // Restarted on the same state (the provisioning file is ignored now): the log continues.
    let served = serve(&state, &json);
    assert!(resident_unlock(&i, served.1, 247).0);
    drop(served);
    assert_eq!(status(&state).activity_head, 2);

    // The keypad: an unknown code is a decision (exit 0), logged like any entry.
    let out = lock_sim(&["keypad", "--code", "1234567890", "--json"], &state);
    assert!(out.status.success());
    let entry: EntryReport = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!entry.granted);
    assert_eq!(entry.denial.as_deref(), Some("UnknownCredential"));
    assert_eq!(entry.activity_seq, 3);
    let out = lock_sim(&["card", "--card", "04a1b2c3"], &state);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused"));
}

#[test]
fn bad_input_is_one_line_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("none.state");
    let out = lock_sim(&["keypad", "--code", "1"], &state);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("lock-sim: ") && err.contains("no door state") && err.trim().lines().count() == 1, "{err}");

    // Provisioning whose certificate names another key is refused before anything is written.
    let mut i = install(3);
    i.door.door_secret_key = B64(Secret32([9; 32]));
    let json = dir.path().join("bad.json");
    std::fs::write(&json, serde_json::to_string(&i.door).unwrap()).unwrap();
    let out =
        Command::new(BIN).args(["provision", "--state"]).arg(&state).arg("--provision").arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another door or another key"));
    assert!(!state.exists());

    std::fs::write(&json, "{ not json").unwrap();
    let out = Command::new(BIN).args(["serve", "--state"]).arg(&state).arg("--provision").arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a door from Mission Control"));

    // A state file is not silently reused for another door.
    let good = install(3);
    std::fs::write(&json, serde_json::to_string(&good.door).unwrap()).unwrap();
    let other = install(4);
    let other_json = dir.path().join("other.json");
    std::fs::write(&other_json, serde_json::to_string(&other.door).unwrap()).unwrap();
    let out =
        Command::new(BIN).args(["provision", "--state"]).arg(&state).arg("--provision").arg(&json).output().unwrap();
    assert!(out.status.success());
    let out =
        Command::new(BIN).args(["serve", "--state"]).arg(&state).arg("--provision").arg(&other_json).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds door-3, but"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = lock_sim(&["card", "--card", "zz"], &state);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not hex"));
}

/// `lock-sim rekey` replaces the door key in place from a re-keying answer: the state (seq,
/// activity) stays; an answer certified by another authority, or for another door, is refused
/// in one line and changes nothing.
#[test]
fn a_door_is_rekeyed_in_place_and_refuses_a_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let (state, json) = (dir.path().join("door.state"), dir.path().join("door.json"));
    let i = install(5);
    std::fs::write(&json, serde_json::to_string(&i.door).unwrap()).unwrap();
    assert!(
        Command::new(BIN)
            .args(["provision", "--state"])
            .arg(&state)
            .arg("--provision")
            .arg(&json)
            .status()
            .unwrap()
            .success()
    );
    let before = status(&state);

    let rekey = |door: &ProvisionedDoor| {
        let path = dir.path().join("rekey.json");
        std::fs::write(&path, serde_json::to_string(door).unwrap()).unwrap();
        Command::new(BIN).args(["rekey", "--state"]).arg(&state).arg("--provision").arg(&path).output().unwrap()
    };
    let new_key = KeyPair::generate();
    let mut answer = i.door.clone();
    let issuer = AuthorityKeyId::of(&i.authority.public().0);
    answer.door_secret_key = B64(Secret32(*new_key.secret()));
    answer.door_certificate =
        B64(DoorCertificate::sign(DoorCertBody::new(DoorId(5), new_key.public(), issuer), &i.authority));

    let foreign = install(5);
    let out = rekey(&foreign.door);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not verify") && err.lines().count() == 1, "{err}");
    let mut other_door = answer.clone();
    let other = DoorCertificate::sign(DoorCertBody::new(DoorId(6), new_key.public(), issuer), &i.authority);
    other_door.door_certificate = B64(other);
    assert!(!rekey(&other_door).status.success());
    assert_eq!(status(&state), before, "refusals change nothing");

    let out = rekey(&answer);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&hex::encode(new_key.public().0)));
    let after = status(&state);
    assert_eq!((after.door_id, after.update_seq), (before.door_id, before.update_seq));
}
