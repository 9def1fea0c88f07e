//! The conformance vectors under `vectors/`: the committed files must be what the current code
//! writes, and every vector's expected outcome must be what the code does.
//!
//! Regenerate after a format change: `KEYWAY_WRITE_VECTORS=1 cargo test -p keyway-test-kit
//! --test vectors` (then read the diff: an expectation that changed is a protocol change).

use keyway_test_kit::vectors;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

#[test]
fn committed_vectors_are_current_and_the_code_meets_every_expectation() {
    let write = std::env::var_os("KEYWAY_WRITE_VECTORS").is_some();
    let mut checked = 0;
    for file in vectors::generate() {
        checked += vectors::check(file.name, &file.json).unwrap_or_else(|e| panic!("{e}"));
        let text = serde_json::to_string_pretty(&file.json).unwrap() + "\n";
        let path = dir().join(file.name);
        if write {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (regenerate the vectors)", path.display()));
        assert!(committed == text, "{} is stale (regenerate the vectors)", path.display());
        // The committed file, read back, passes too (what an implementer would load).
        let parsed: serde_json::Value = serde_json::from_str(&committed).unwrap();
        vectors::check(file.name, &parsed).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(checked >= 40, "only {checked} vectors");
}

/// The checks are not vacuous: a vector whose expectation is altered is caught.
#[test]
fn an_altered_expectation_is_caught() {
    let mut chains = vectors::generate().into_iter().find(|f| f.name == "chains.json").unwrap().json;
    chains["vectors"][0]["expect"] = serde_json::json!({"reject": "Expired"});
    assert!(vectors::check("chains.json", &chains).is_err());
}
