//! The `keyway` binary against a real Mission Control and a door simulator on loopback:
//! accept, keys, unlock (carrying a door update), pending, activity, upload, guest sharing;
//! and bad input as one line with exit code 1.

use keyway_api::client::ManagerClient;
use keyway_api::*;
use keyway_link::socket::DoorListener;
use lock_sim::{DoorFile, serve_door};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_keyway");

fn keyway(wallet: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--wallet").arg(wallet).args(args).output().unwrap()
}

fn ok(wallet: &Path, args: &[&str]) -> String {
    let out = keyway(wallet, args);
    assert!(out.status.success(), "keyway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.starts_with("keyway: ") && err.trim_end().lines().count() == 1, "not one line: {err:?}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_accepts_unlocks_a_simulated_door_and_shares_a_guest_key() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        mission_control::Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let property =
        CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 0, manager_name: "Pat".into() };
    let (_, pm) = ManagerClient::create_property(&base, &property).await.unwrap();
    let door = pm.create_door("Garage", false).await.unwrap();
    let grant = KeyGrant {
        doors: vec![door.door_id],
        start: None,
        expiry: keyway_api::clock::now().saturating_add_secs(86_400 * 30).into(),
    };
    let invite = |name: &str, access| {
        let app = access == AccessKind::AppKey;
        InviteRequest {
            name: name.into(),
            contact: format!("{name}@example.com"),
            access,
            keys: vec![grant.clone()],
            resident: app,
            may_share: app,
        }
    };
    let ann = pm.invite(&invite("Ann", AccessKind::AppKey)).await.unwrap();
    // A doorcode person queues a door update for the Garage, which Ann's phone will carry.
    pm.invite(&invite("Cleo", AccessKind::DailyDoorcode)).await.unwrap();
    let token = pm.welcome_token(ann.person.person_id).await.unwrap().unwrap();

    // The door simulator, in-process on a thread, on its own state file.
    let state = DoorFile::new(dir.path().join("garage.state"));
    state.provision(keyway_test_kit::install::provisioning_from(&door, keyway_api::clock::now()).unwrap()).unwrap();
    let listener = DoorListener::bind("127.0.0.1:0".parse().unwrap(), 247).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let door_file = state.clone();
    std::thread::spawn(move || serve_door(&listener, &door_file, |_| {}));

    let wallet = dir.path().join("ann");
    let (w, base2, token2) = (wallet.clone(), base.clone(), token.clone());
    let out = tokio::task::spawn_blocking(move || ok(&w, &["accept", "--backend", &base2, "--token", &token2]))
        .await
        .unwrap();
    assert!(out.contains("invite accepted: 1 key(s)"), "{out}");
    let w = wallet.clone();
    let (keys, pending) = tokio::task::spawn_blocking(move || (ok(&w, &["keys"]), ok(&w, &["pending"]))).await.unwrap();
    assert!(keys.contains("KEY") && keys.contains("Garage") && keys.contains("active"), "{keys}");
    assert!(pending.contains("Garage") && pending.contains("seq 1..=1"), "{pending}");

    let w = wallet.clone();
    let door_arg = door.door_id.0.to_string();
    let (unlock, activity, upload, pending) = tokio::task::spawn_blocking(move || {
        let unlock = ok(&w, &["unlock", "--door", &door_arg, "--addr", &addr, "--mtu", "185"]);
        (unlock, ok(&w, &["activity"]), ok(&w, &["upload"]), ok(&w, &["pending"]))
    })
    .await
    .unwrap();
    assert!(
        unlock.contains("Garage")
            && unlock.contains("unlocked")
            && unlock.contains("seq 0 → 1")
            && unlock.contains("1 round trip"),
        "{unlock}"
    );
    assert!(activity.contains("app unlock"), "{activity}");
    assert!(upload.contains("uploaded 1 receipt(s)") && upload.contains("1 door update(s) confirmed"), "{upload}");
    assert!(pending.contains("no door updates"), "{pending}");
    assert_eq!(state.load().unwrap().update_seq(), 1, "the door applied the carried update");

    // Guest sharing between two wallets, all through the command line.
    let guest = dir.path().join("gus");
    let w = wallet.clone();
    let (g, door_arg) = (guest.clone(), door.door_id.0.to_string());
    let ann_key = ann.person.keys[0].key_id.to_string();
    let accepted = tokio::task::spawn_blocking(move || {
        let request = ok(&g, &["share-request", "--name", "Gus"]);
        let offer =
            ok(&w, &["share", "--key", &ann_key, "--request", request.trim(), "--doors", &door_arg, "--until", "+2d"]);
        let wide = keyway(
            &w,
            &["share", "--key", &ann_key, "--request", request.trim(), "--doors", &door_arg, "--until", "+90d"],
        );
        let err = one_line_error(&wide);
        assert!(err.contains("outside the key being shared"), "{err}");
        ok(&g, &["accept-guest-key", offer.trim()])
    })
    .await
    .unwrap();
    assert!(accepted.contains("guest key g") && accepted.contains("active"), "{accepted}");
    server.shutdown().await.unwrap();
}

/// A usage error is clap's whole message: what is wrong, its tip or usage line, and where to
/// read more (the old code printed the first line only).
fn usage_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(err.contains("For more information, try '--help'."), "not clap's whole message: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_input_is_one_clear_line_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    let err = usage_error(&keyway(&w, &["unlock", "--door", "front", "--addr", "127.0.0.1:1"]));
    assert!(err.contains("front") && err.contains("not a door number"), "{err}");
    let err = usage_error(&keyway(&w, &["unlock", "--door", "2", "--addr", "127.0.0.1:1", "--mtu", "600"]));
    assert!(err.contains("600"), "{err}");
    // Neither --addr nor --ble: clap names the choice.
    let err = usage_error(&keyway(&w, &["unlock", "--door", "2"]));
    assert!(err.contains("--addr") && err.contains("--ble") && err.contains("Usage: keyway unlock"), "{err}");
    let err = usage_error(&keyway(&w, &["unlock", "--door", "2", "--addr", "127.0.0.1:1", "--ble"]));
    assert!(err.contains("cannot be used with"), "{err}");
    let err = one_line_error(&keyway(&w, &["sync"]));
    assert!(err.contains("has not accepted an invite"), "{err}");
    let err = one_line_error(&keyway(&w, &["accept-guest-key", "hello"]));
    assert!(err.contains("KWGK1."), "{err}");
    let err = usage_error(&keyway(&w, &["share", "--key", "k1", "--request", "x", "--doors", "1", "--until", "soon"]));
    assert!(err.contains("soon"), "{err}");
    let err = one_line_error(&keyway(&w, &["unlock", "--door", "2", "--addr", "127.0.0.1:1"]));
    assert!(err.contains("door-2"), "{err}");
    // --ble refuses before touching the radio when no key opens the door.
    let err = one_line_error(&keyway(&w, &["unlock", "--door", "2", "--ble"]));
    assert!(err.contains("door-2"), "{err}");
    assert!(ok(&w, &["keys"]).contains("no keys"));
}

#[test]
fn unlock_help_says_the_radio_path_cannot_run_here() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(dir.path(), &["unlock", "--help"]);
    assert!(help.contains("--ble") && help.contains("cannot run on this development machine"), "{help}");
}
