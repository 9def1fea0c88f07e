//! The JSON an integrator sees, read as raw JSON rather than through the Rust types: times in
//! RFC 3339 (seconds since 1970 still accepted), 64-bit ids as strings, door operations and
//! activity events in snake_case, and welcome messages that say where to go.

mod common;

use common::*;
use keyway_api::*;
use keyway_protocol::credential::*;
use reqwest::Method;
use serde_json::{Value, json};

fn is_id_string(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

#[tokio::test]
async fn times_are_rfc3339_ids_are_strings_and_ops_and_events_are_snake_case() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let pm = Some(p.pm.as_str());
    let lobby = p.lobby.door_id.0;

    // A doorcode person with an RFC 3339 expiry (refused before as "expected u64").
    let body = json!({ "name": "Dana", "contact": "dana@example.com", "access": "daily_doorcode",
                       "keys": [{ "doors": [lobby], "expiry": "2099-01-01T00:00:00Z" }] });
    let (status, dana) = mc.call(Method::POST, "/v1/invites", pm, Some(body)).await;
    assert_eq!(status, 200, "{dana}");
    let person = &dana["person"];
    assert!(is_id_string(&person["person_id"]), "{person}");
    assert!(is_id_string(&person["keys"][0]["key_id"]), "{person}");
    assert_eq!(person["keys"][0]["validity"]["expiry"], "2099-01-01T00:00:00Z");
    let start = person["keys"][0]["validity"]["start"].as_str().unwrap();
    assert!(start.len() == 20 && start.ends_with('Z'), "{start}");
    let op = &dana["updates"][0]["ops"][0]["add_doorcode"];
    assert_eq!(op["person"], person["person_id"], "{}", dana["updates"]);
    assert_eq!(op["validity"]["expiry"], "2099-01-01T00:00:00Z");

    // An app-key person with an expiry in seconds since 1970, as before; an offset is read too.
    let body = json!({ "name": "Ann", "contact": "ann@example.com", "access": "app_key", "may_share": true,
                       "keys": [{ "doors": [lobby], "expiry": 4_070_908_800u64 },
                                { "doors": [lobby], "expiry": "2099-01-01T01:00:00+01:00" }] });
    let (status, ann) = mc.call(Method::POST, "/v1/invites", pm, Some(body)).await;
    assert_eq!(status, 200, "{ann}");
    for key in ann["person"]["keys"].as_array().unwrap() {
        assert_eq!(key["validity"]["expiry"], "2099-01-01T00:00:00Z", "{key}");
    }
    // Ids are read as strings or numbers alike.
    let person_id = ann["person"]["person_id"].as_str().unwrap().to_string();
    let key_id = ann["person"]["keys"][0]["key_id"].as_str().unwrap().to_string();
    let extra = json!({ "doors": [lobby], "expiry": "never" });
    let (status, added) = mc.call(Method::POST, &format!("/v1/people/{person_id}/keys"), pm, Some(extra)).await;
    assert_eq!(status, 200, "{added}");

    // The welcome messages say where to go.
    let (_, outbox) = mc.call(Method::GET, "/v1/outbox", pm, None).await;
    let outbox: Vec<OutboxMessage> = serde_json::from_value(outbox).unwrap();
    let to_dana = outbox.iter().find(|m| m.access == AccessKind::DailyDoorcode).unwrap();
    assert!(to_dana.body.contains(&format!("{}/v1/doorcodes", mc.base)), "{}", to_dana.body);
    let to_ann = outbox.iter().find(|m| m.access == AccessKind::AppKey).unwrap();
    let server = mc.base.replace(':', "%3A").replace('/', "%2F");
    let link = format!("keyway://invite?server={server}&code={}", to_ann.token);
    assert!(to_ann.body.contains(&link), "{}", to_ann.body);
    assert!(to_ann.body.contains(&format!("Server: {}", mc.base)), "{}", to_ann.body);

    // Revoking one of Ann's keys: a snake_case operation with a string key id and RFC 3339 time.
    let phone = accept(&mc, &to_ann.token).await;
    let (status, revoked) = mc.call(Method::DELETE, &format!("/v1/keys/{key_id}"), pm, None).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["revoked_keys"], json!([key_id]));
    let (_, tasks) = mc.call(Method::GET, &format!("/v1/door-updates?door_id={lobby}"), pm, None).await;
    let revoke = tasks
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["ops"].as_array().unwrap())
        .find_map(|op| op.get("revoke_key"))
        .unwrap_or_else(|| panic!("no revoke_key in {tasks}"));
    assert_eq!(revoke["key"], json!(key_id));
    assert!(revoke["until"].as_str().is_some_and(|t| t.len() == 20 && t.ends_with('Z')), "{revoke}");
    assert!(tasks[0]["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{tasks}");

    // An activity event: snake_case, string ids, RFC 3339 times.
    let guest = KeyId(KeyId::GUEST_BIT | 5);
    let person = PersonId(person_id.parse().unwrap());
    let r = receipt(&p.lobby, 0, vec![unlock(1, guest, person, true)]);
    mc.phone_client().upload_receipts(&phone.token, &[r]).await.unwrap();
    let (_, activity) = mc.call(Method::GET, "/v1/activity", pm, None).await;
    let entry = &activity[0];
    assert_eq!(entry["person_id"], json!(person_id), "{activity}");
    let event = &entry["event"]["app_unlock"];
    assert_eq!(event["key"], json!(guest.0.to_string()), "above 2^53, exact as a string: {entry}");
    assert_eq!(event["person"], json!(person_id));
    assert!(entry["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{entry}");
    assert_eq!(entry["who"], "a guest of Ann", "an unregistered guest key names its host: {entry}");

    // SQLite keeps the protocol's own JSON of the event (what rows written before this change
    // hold too), and the API reads it.
    let db = rusqlite::Connection::open(mc.dir.path().join("mc.db")).unwrap();
    let stored: String = db.query_row("SELECT event FROM activity", [], |r| r.get(0)).unwrap();
    assert!(stored.starts_with(r#"{"AppUnlock":{"key":"#), "{stored}");
    let read: Vec<ActivityEntry> = serde_json::from_value(activity.clone()).unwrap();
    assert_eq!(read[0].event, ActivityEvent::AppUnlock { key: guest, person, guest: true });
}
