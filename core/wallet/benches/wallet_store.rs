//! The wallet at scale: a sync delivering 10,000 key chains into a fresh store, and choosing
//! the key to present at a door among them.

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use keyway_api::{AccessKind, DoorEntry, KeyEntry, KeyStatus, SyncResponse};
use keyway_protocol::credential::{DoorId, KeyChain, KeyFlags};
use keyway_test_kit::fixture::*;
use keyway_wallet::key_state::pick_key;
use keyway_wallet::store::{Store, StoredKey, SyncChanges};
use keyway_wallet::verify_sync::verify_sync;
use std::time::Duration;

const KEYS: u64 = 10_000;

/// 10,000 resident keys for one device, spread over 200 doors (two each), validity windows
/// staggered so that about a third are upcoming or expired at `NOW`.
fn chains(p: &Property, device: &keyway_protocol::credential::KeyPair) -> Vec<KeyChain> {
    (0..KEYS)
        .map(|i| {
            let a = DoorId(100 + (i % 200) as u32);
            let b = DoorId(100 + ((i + 1) % 200) as u32);
            let start = NOW.saturating_sub_secs(DAY * 20).saturating_add_secs(DAY * (i % 30));
            let validity = window(start, start.saturating_add_secs(DAY * 30));
            let cert = p.key_cert(4_000_000 + i, 1_000_000 + i, device, doors(&[a.min(b), a.max(b)]), validity, true);
            KeyChain::resident(cert)
        })
        .collect()
}

fn changes(p: &Property, chains: &[KeyChain]) -> SyncChanges {
    SyncChanges {
        anchors: Some(p.anchors.clone()),
        door_certs: vec![("Front door".into(), p.door_cert(DOOR_A))],
        keys: chains.to_vec(),
        server_time: NOW,
        ..Default::default()
    }
}

fn response(p: &Property, chains: &[KeyChain]) -> SyncResponse {
    SyncResponse {
        cursor: "c1".into(),
        full: true,
        server_time: NOW,
        person_id: keyway_protocol::credential::PersonId(1_000_000),
        access: AccessKind::AppKey,
        person_deleted: false,
        trust_anchors: vec![p.authority.public().into()],
        keys: chains
            .iter()
            .map(|c| {
                let b = &c.root().body;
                KeyEntry {
                    key_id: b.key_id,
                    status: KeyStatus::Active,
                    doors: b.doors.doors().to_vec(),
                    validity: b.validity,
                    flags: KeyFlags { resident: true, may_share: true },
                    certificate: Some(c.root().clone().into()),
                    replaced_by: None,
                }
            })
            .collect(),
        guest_keys: vec![],
        revocations: vec![],
        doors: vec![DoorEntry {
            door_id: DOOR_A,
            name: "Front door".into(),
            online: false,
            certificate: p.door_cert(DOOR_A).into(),
            pending_updates: None,
            known_activity_head: 0,
            delivered_seq: 0,
        }],
        time: None,
        rotations: Vec::new(),
    }
}

fn sync(c: &mut Criterion) {
    let p = Property::new();
    let device = key(11);
    let chains = chains(&p, &device);
    let changes = changes(&p, &chains);
    let resp = response(&p, &chains);
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0u32;
    let mut fresh_file = || {
        n += 1;
        Store::open(&dir.path().join(format!("wallet-{n}.db"))).unwrap()
    };
    {
        let mut s = fresh_file();
        s.apply_sync(&changes, NOW).unwrap();
        assert_eq!(s.keys().unwrap().len(), KEYS as usize);
        assert_eq!(verify_sync(&resp, &device.public(), &Default::default(), &[]).unwrap().keys.len(), KEYS as usize);
    }
    let mut g = c.benchmark_group("wallet");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    // The store's part: one transaction writing 10,000 chains to a WAL database on disk
    // (synchronous=FULL).
    g.bench_function("apply_sync_10000_keys/file", |b| {
        b.iter_batched(
            &mut fresh_file,
            |mut s| s.apply_sync(black_box(&changes), NOW).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("apply_sync_10000_keys/memory", |b| {
        b.iter_batched(
            || Store::open_in_memory().unwrap(),
            |mut s| s.apply_sync(black_box(&changes), NOW).unwrap(),
            BatchSize::PerIteration,
        )
    });
    // The whole sync as the wallet runs it after the HTTP answer: every certificate's signature
    // and structure checked, then the store transaction.
    g.bench_function("verify_and_apply_sync_10000_keys/file", |b| {
        b.iter_batched(
            &mut fresh_file,
            |mut s| {
                let ch = verify_sync(black_box(&resp), &device.public(), &Default::default(), &[]).unwrap();
                s.apply_sync(&ch, NOW).unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn pick(c: &mut Criterion) {
    let p = Property::new();
    let device = key(11);
    let chains = chains(&p, &device);
    let mut store = Store::open_in_memory().unwrap();
    store.apply_sync(&changes(&p, &chains), NOW).unwrap();
    let held: Vec<StoredKey> = store.keys().unwrap();
    let door = DoorId(150);
    let picked = pick_key(held.iter().map(|k| (&k.chain, k.revoked)), door, NOW).unwrap();
    assert!(picked.root().body.doors.contains(door));
    let mut g = c.benchmark_group("wallet");
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    // Among keys already in memory.
    g.bench_function("pick_key_among_10000", |b| {
        b.iter(|| {
            black_box(
                pick_key(held.iter().map(|k| (&k.chain, k.revoked)), black_box(door), NOW).map(|c| c.leaf_key_id()),
            )
        })
    });
    // As `Wallet::unlock` does it: load the usable keys (here all 10,000 are), then pick.
    g.sample_size(20);
    g.bench_function("load_and_pick_key_among_10000", |b| {
        b.iter(|| {
            let keys = store.usable_keys(NOW).unwrap();
            black_box(pick_key(keys.iter().map(|k| (&k.chain, k.revoked)), door, NOW).map(|c| c.leaf_key_id()))
        })
    });
    g.finish();
}

criterion_group!(benches, sync, pick);
criterion_main!(benches);
