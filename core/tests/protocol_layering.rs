//! The protocol and door modules stay sans-IO and light for lock vendors: no async runtime, HTTP,
//! SQL or BLE crate, and no clock, randomness, thread, socket or file access of their own
//! (time and nonces come from the caller).

use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio", "reqwest", "rusqlite", "btleplug", "Instant", "SystemTime", "UnixTime::now", "std::thread", "std::net",
    "std::fs", "OsRng", "thread_rng", "generate()",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn protocol_and_door_modules_do_no_io_of_their_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root.join("protocol"), &mut files);
    sources(&root.join("door"), &mut files);
    assert!(files.len() >= 10, "found {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in FORBIDDEN {
            assert!(!text.contains(word), "{} uses {word}", file.display());
        }
    }
}
