//! Time a door can trust, as Mission Control serves it: every sync hands the phone the
//! authority's forward-only signed time; a door's own record of a correction shows in the door
//! list as its measured drift; a phone's late upload is not mistaken for drift; and a changed
//! UTC offset reaches every door as a `SetUtcOffset` update.

mod common;

use common::*;
use keyway_api::*;
use keyway_protocol::credential::*;
use reqwest::Method;

#[tokio::test]
async fn every_sync_carries_the_authoritys_forward_only_signed_time() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (_ann, t) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.garage.door_id], None, None)], false).await;
    let phone = accept(&mc, &t).await;
    let before = now();
    let sync = mc.phone_client().sync(&phone.token, None).await.unwrap();
    let time = sync.time.expect("a signed time in every sync").0;
    assert!(time.body.binding.is_none(), "a sync's time is for any door, forward only");
    assert_eq!(time.body.time, sync.server_time);
    assert!(time.body.time >= before);
    let authority = p.anchors().get(time.body.issuer).expect("signed by the property's authority");
    time.verify_signature(&authority).unwrap();
}

/// A door's signed ClockSet record (carried by a phone) is the drift the door list shows; the
/// receipt's own clock, uploaded an hour late by a phone, is not read as an hour of drift.
#[tokio::test]
async fn the_door_list_shows_the_correction_the_door_logged_not_a_phones_upload_delay() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (_ann, t) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.garage.door_id], None, None)], false).await;
    let phone = accept(&mc, &t).await;
    let corrected = now().saturating_sub_secs(3600);
    let record = ActivityRecord {
        seq: 1,
        time: corrected,
        event: ActivityEvent::ClockSet { before: corrected.saturating_sub_secs(600), after: corrected },
    };
    // Signed an hour ago (door_time an hour behind Mission Control's clock), uploaded now.
    let mut late = receipt(&p.garage, 0, vec![record]);
    late.body.door_time = corrected;
    let late = Receipt::sign(late.body, &KeyPair::from_secret(&p.garage.door_secret_key.0.0));
    let up = mc.phone_client().upload_receipts(&phone.token, &[late]).await.unwrap();
    assert_eq!(up.results[0].verdict, ReceiptVerdict::Accepted);

    let doors: Vec<DoorInfo> = mc.get("/v1/doors", &p.pm).await;
    let garage = doors.iter().find(|d| d.door_id == p.garage.door_id).unwrap();
    assert_eq!(garage.clock_set, Some(ClockSet { at: corrected, by_secs: 600 }));
    assert_eq!(garage.clock_offset_secs, None, "a phone's upload says nothing of the door's clock now");
    let lobby = doors.iter().find(|d| d.door_id == p.lobby.door_id).unwrap();
    assert_eq!(lobby.clock_set, None);
}

#[tokio::test]
async fn a_changed_utc_offset_reaches_every_door_as_an_update() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let settings: PropertySettings = mc.get("/v1/property", &p.pm).await;
    assert_eq!(settings.utc_offset_minutes, 60);
    let all = [p.lobby.door_id, p.garage.door_id, p.online.door_id];
    let (_ann, t) = invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&all, None, None)], false).await;
    let phone = accept(&mc, &t).await;

    // Summer time: UTC+2. Every door, the internet-connected one included, gets the update.
    let changed: PropertySettings = mc
        .ok(
            Method::PATCH,
            "/v1/property",
            &p.pm,
            Some(PropertySettingsRequest { utc_offset_minutes: Some(120), ..Default::default() }),
        )
        .await;
    assert_eq!((changed.utc_offset_minutes, changed.doors_updated), (120, 3));
    let sync = mc.phone_client().sync(&phone.token, None).await.unwrap();
    for door in [&p.lobby, &p.garage, &p.online] {
        let tasks = tasks(&mc, &p.pm, door.door_id).await;
        assert_eq!(tasks.len(), 1, "{}", door.door_id);
        assert_eq!(tasks[0].ops, vec![DoorOp::SetUtcOffset { minutes: 120 }]);
        // The door takes it from the batch a phone carries: its doorcodes follow the new day.
        let entry = sync.doors.iter().find(|d| d.door_id == door.door_id).expect("the door in the sync");
        let batch = entry.pending_updates.clone().expect("the update, for phones to carry").0;
        let mut engine = keyway_test_kit::install::install(door, now()).unwrap();
        assert_eq!(engine.utc_offset_minutes(), 60);
        assert_eq!(engine.apply_batch(&batch, now()).seq_after, 1);
        assert_eq!(engine.utc_offset_minutes(), 120);
    }
    // The same offset again queues nothing.
    let same: PropertySettings = mc
        .ok(
            Method::PATCH,
            "/v1/property",
            &p.pm,
            Some(PropertySettingsRequest { utc_offset_minutes: Some(120), ..Default::default() }),
        )
        .await;
    assert_eq!(same.doors_updated, 0);
    assert_eq!(tasks(&mc, &p.pm, p.garage.door_id).await.len(), 1);
}

#[tokio::test]
async fn only_a_portfolio_manager_changes_the_offset_and_only_within_14_hours() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let sam: ManagerCredentials = mc
        .ok(
            Method::POST,
            "/v1/managers",
            &p.pm,
            Some(CreateManagerRequest { name: "Sam".into(), portfolio_manager: false, key_management: true }),
        )
        .await;
    let body = serde_json::json!({ "utc_offset_minutes": 120 });
    let (status, _) = mc.call(Method::PATCH, "/v1/property", Some(&sam.token), Some(body)).await;
    assert_eq!(status, 403);
    let (status, err) = mc
        .call(Method::PATCH, "/v1/property", Some(&p.pm), Some(serde_json::json!({ "utc_offset_minutes": 900 })))
        .await;
    assert_eq!(status, 400, "{err}");
    let settings: PropertySettings = mc.get("/v1/property", &p.pm).await;
    assert_eq!(settings.utc_offset_minutes, 60, "nothing changed");
    assert!(tasks(&mc, &p.pm, p.garage.door_id).await.is_empty());
}
