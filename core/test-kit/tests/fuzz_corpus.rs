//! The fuzz targets' oracles as regular tests: every committed seed and every crash reproducer
//! under `fuzz/` goes through the same checks the fuzz targets apply (`keyway_test_kit::oracles`),
//! and the committed seeds must be the current real encodings.
//!
//! Regenerate the seeds after a format change: `KEYWAY_WRITE_FUZZ_SEEDS=1 cargo test -p
//! keyway-test-kit --test fuzz_corpus`.

use keyway_test_kit::oracles;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

#[test]
fn committed_seeds_are_the_current_real_encodings() {
    let write = std::env::var_os("KEYWAY_WRITE_FUZZ_SEEDS").is_some();
    let seeds = oracles::seeds();
    for (target, _) in oracles::TARGETS {
        assert!(seeds.iter().any(|(t, _, _)| t == target), "no seed for {target}");
    }
    for (target, name, bytes) in seeds {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (regenerate the seeds)", path.display()));
        assert!(committed == bytes, "{} is stale (regenerate the seeds)", path.display());
    }
}

#[test]
fn corpus_and_reproducers_pass_the_oracles() {
    let mut ran = 0;
    for (target, check) in oracles::TARGETS {
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&bytes));
                assert!(outcome.is_ok(), "{target}: {} fails its oracle", path.display());
                ran += 1;
            }
        }
    }
    assert!(ran >= oracles::TARGETS.len(), "only {ran} inputs found");
}

#[test]
fn genuine_sessions_open_the_door_and_apply_their_batch() {
    // The door-session oracle is not vacuous: the genuine sessions it is seeded with do grant
    // (to the holders the door admits) and do move the door's seq.
    let f = oracles::Fixture::get();
    let g = oracles::Genuine::get();
    assert!(g.requests.iter().any(|(_, admit, batch)| *admit && batch.is_some()));
    let (request, _, batch) = g.requests.iter().find(|(_, admit, batch)| *admit && batch.is_some()).unwrap();
    let mut door = f.door.clone();
    let mut s = keyway_test_kit::door::MessageSession::new(&mut door, oracles::NOW, oracles::DOOR_NONCE);
    assert!(s.request(&mut door, request, oracles::NOW).unwrap().is_granted());
    s.batch(&mut door, batch.as_ref().unwrap(), oracles::NOW).unwrap();
    let result = s.result().unwrap().clone();
    assert_eq!(result.updates.seq_after, f.next_batch.body.last_seq());
    assert_eq!(door.update_seq(), f.next_batch.body.last_seq());
}
