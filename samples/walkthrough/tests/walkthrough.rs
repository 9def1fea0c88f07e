//! The README's main command, run whole as part of the test suite: every step must pass, the
//! JSON report must say so, and the figures in it must describe real unlocks.

use serde_json::Value;
use std::process::Command;

#[test]
fn the_walkthrough_runs_the_whole_story_green() {
    let out = Command::new(env!("CARGO_BIN_EXE_keyway-walkthrough")).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not a JSON report ({e}); stderr: {stderr}"));
    let failures: Vec<&Value> = report["steps"].as_array().unwrap().iter().filter(|s| s["passed"] != true).collect();
    assert!(failures.is_empty(), "failed steps: {failures:#?}\nstderr: {stderr}");
    assert!(out.status.success(), "{stderr}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["steps"].as_array().unwrap().len(), 10);

    let unlocks = report["unlocks"].as_array().unwrap();
    assert!(unlocks.len() >= 12, "{unlocks:#?}");
    for u in unlocks {
        // A phone that has not synced since its key was revoked presents the ticket the
        // revocation ended: the door refuses the ticket, and the full request follows in the
        // same session (two round trips, for a key that opens nothing anyway).
        let most = if u["granted"] == true { 1 } else { 2 };
        assert!(u["round_trips"].as_u64().unwrap() <= most, "a granted unlock is one round trip: {u}");
        assert!(u["bytes_door_to_phone"].as_u64().unwrap() > 150, "a challenge and a sealed result: {u}");
    }
    // A repeat unlock (a ticket from the key's last session at that door) is one packet up.
    assert!(
        unlocks.iter().any(|u| u["granted"] == true && u["bytes_phone_to_door"].as_u64().unwrap() < 100),
        "no repeat unlock: {unlocks:#?}"
    );

    let refused: Vec<&str> =
        unlocks.iter().filter(|u| u["granted"] == false).filter_map(|u| u["denial"].as_str()).collect();
    for reason in ["GuestScopeWider", "RevokedKey"] {
        assert!(refused.contains(&reason), "no unlock was refused with {reason}: {refused:?}");
    }
    assert!(unlocks.iter().any(|u| u["updates_carried"] == true && u["guest"] == false));
    let updates = report["updates"].as_array().unwrap();
    assert!(updates.len() >= 4 && updates.iter().all(|u| u["delivered"] == true), "{updates:#?}");
}

#[test]
fn the_narrative_ends_with_the_summary_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_keyway-walkthrough")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "== 1. A property",
        "refused (403)",
        "== 8. Activity",
        "== 9. A door whose clock runs slow",
        "corrected by +",
        "== 10. A lost phone",
        "Steps passed: 10/10",
        "round trip",
        "The walkthrough passed.",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
