//! The `keyway` process killed with SIGKILL at random points during sync, unlock and upload,
//! against the reference Mission Control and a door simulator. After every kill the next run
//! must pick up where the last left off; at the end nothing the manager did or the door logged
//! is lost or counted twice, and the wallet's SQLite file is intact.

use keyway_api::client::ManagerClient;
use keyway_api::*;
use keyway_link::socket::DoorListener;
use keyway_wallet::store::Store;
use lock_sim::{DoorFile, serve_door};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_keyway");
/// Kill rounds; each round kills a sync, an unlock and an upload once.
const ROUNDS: usize = 20;

/// A small deterministic generator, so a failing kill schedule can be replayed.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Runs `keyway` and SIGKILLs it after `after` (if it has not finished). Returns whether it
/// was killed.
fn run_killed(wallet: &Path, args: &[&str], after: Duration) -> bool {
    let mut child = Command::new(BIN)
        .arg("--wallet")
        .arg(wallet)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    killed
}

fn run_ok(wallet: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--wallet").arg(wallet).args(args).output().unwrap();
    assert!(out.status.success(), "keyway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_sync_unlock_and_upload_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        mission_control::Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let property =
        CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 0, manager_name: "Pat".into() };
    let (_, pm) = ManagerClient::create_property(&base, &property).await.unwrap();
    let door = pm.create_door("Garage", false).await.unwrap();
    let expiry = keyway_api::clock::now().saturating_add_secs(86_400 * 30);
    let grant = KeyGrant { doors: vec![door.door_id], start: None, expiry: expiry.into() };
    let invite = |name: &str| InviteRequest {
        name: name.into(),
        contact: format!("{name}@example.com"),
        access: AccessKind::AppKey,
        keys: vec![grant.clone()],
        resident: true,
        may_share: false,
    };
    let ann = pm.invite(&invite("Ann")).await.unwrap();
    let cleo = pm.invite(&invite("Cleo")).await.unwrap();
    let token = pm.welcome_token(ann.person.person_id).await.unwrap().unwrap();

    let state = DoorFile::new(dir.path().join("garage.state"));
    state.provision(keyway_test_kit::install::provisioning_from(&door, keyway_api::clock::now()).unwrap()).unwrap();
    let listener = DoorListener::bind("127.0.0.1:0".parse().unwrap(), 247).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let door_file = state.clone();
    std::thread::spawn(move || serve_door(&listener, &door_file, |_| {}));

    let wallet = dir.path().join("ann");
    let door_arg = door.door_id.0.to_string();
    let mut rng = Lcg(0x6b65_7977_6179);
    let mut kills = 0usize;
    for round in 0..ROUNDS {
        // The manager does something an offline door must learn: a new keycard for Cleo.
        let card = format!("04{round:02x}a1b2c3");
        let keycard = AddKeycardRequest {
            card,
            doors: vec![door.door_id],
            start: None,
            expiry: expiry.into(),
            kind: keyway_api::KeycardKind::Secure,
        };
        pm.add_keycard(cleo.person.person_id, &keycard).await.unwrap();
        let (w, b, t, a, d) = (wallet.clone(), base.clone(), token.clone(), addr.clone(), door_arg.clone());
        let delays = [rng.below(30), rng.below(30), rng.below(30)];
        kills += tokio::task::spawn_blocking(move || {
            let mut k = 0;
            if round == 0 {
                k += run_killed(&w, &["accept", "--backend", &b, "--token", &t], Duration::from_millis(delays[0]))
                    as usize;
                // Accepting again finishes an accept the kill interrupted; when the killed one
                // had finished, the wallet has joined the property and refuses the invite
                // unspent ("already joined"), which is as good.
                let out = Command::new(BIN)
                    .arg("--wallet")
                    .arg(&w)
                    .args(["accept", "--backend", &b, "--token", &t])
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success() || err.contains("already joined"), "keyway accept: {err}");
            }
            k += run_killed(&w, &["sync"], Duration::from_millis(delays[0])) as usize;
            k += run_killed(&w, &["unlock", "--door", &d, "--addr", &a], Duration::from_millis(delays[1])) as usize;
            k += run_killed(&w, &["upload"], Duration::from_millis(delays[2])) as usize;
            k
        })
        .await
        .unwrap();
    }
    // Let every step finish once, uninterrupted.
    let (w, a, d) = (wallet.clone(), addr.clone(), door_arg.clone());
    tokio::task::spawn_blocking(move || {
        run_ok(&w, &["sync"]);
        run_ok(&w, &["unlock", "--door", &d, "--addr", &a]);
        run_ok(&w, &["upload"]);
        run_ok(&w, &["sync"]);
    })
    .await
    .unwrap();
    eprintln!("{ROUNDS} rounds, {kills} processes killed mid-operation");
    assert!(kills >= ROUNDS / 4, "the schedule must actually interrupt work ({kills} kills)");

    // Every update the manager queued reached the door exactly once, in order.
    let engine = state.load().unwrap();
    let doors = pm.doors().await.unwrap();
    let info = doors.iter().find(|d| d.door_id == door.door_id).unwrap();
    assert_eq!(info.log_head, ROUNDS as u64);
    assert_eq!(engine.update_seq(), info.log_head, "no update lost");
    assert_eq!(info.delivered_seq, info.log_head, "every task delivered");
    let tasks = pm.door_updates(Some(door.door_id), None).await.unwrap();
    assert!(tasks.iter().all(|t| t.state == TaskState::Delivered), "{tasks:?}");

    // Every activity record the door logged reached the backend once, with no gap.
    let activity = pm.activity(Some(door.door_id), None).await.unwrap();
    let seqs: HashSet<u64> = activity.iter().map(|a| a.seq).collect();
    assert_eq!(seqs.len(), activity.len(), "no activity record counted twice");
    let head = engine.activity().head();
    assert_eq!(info.activity_head, head);
    assert_eq!(seqs, (1..=head).collect::<HashSet<u64>>(), "no activity record lost");

    // The wallet's database is intact, holds nothing unacknowledged, and no duplicate receipt.
    let store = Store::open(&wallet.join("wallet.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert!(store.receipts_to_upload().unwrap().is_empty());
    assert!(store.all_pending().unwrap().is_empty(), "nothing left to carry");
    let receipts = store.all_receipts().unwrap();
    let distinct: HashSet<Vec<u8>> = receipts.iter().map(|r| r.receipt.to_bytes()).collect();
    assert_eq!(distinct.len(), receipts.len());
    server.shutdown().await.unwrap();
}
