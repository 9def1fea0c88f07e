//! `POST /v1/people/import`: a CSV rent roll, row by row, through the invite's own function.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Posts `csv` as `text/csv`; the status and the JSON answer.
async fn import(mc: &Mc, token: &str, query: &str, csv: &str) -> (u16, Value) {
    let resp = mc
        .http
        .post(format!("{}/v1/people/import{query}", mc.base))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}")))
}

/// An id as text, whether the wire sends it as a number or a string.
fn id(v: &Value) -> String {
    v.as_u64().map(|n| n.to_string()).or_else(|| v.as_str().map(str::to_string)).unwrap_or_else(|| panic!("{v}"))
}

async fn names(mc: &Mc, token: &str) -> Vec<String> {
    let people: Value = mc.get("/v1/people", token).await;
    people.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

fn refused(report: &Value) -> Vec<(u64, Option<String>, String)> {
    report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["column"].as_str().map(str::to_string),
                r["message"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn good_rows_become_invites_with_welcomes_and_webhooks() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    // An endpoint that is never reachable: its delivery log still lists every event.
    let hook: Value =
        mc.ok(Method::POST, "/v1/webhooks", &p.pm, Some(json!({"url": "http://127.0.0.1:9/hooks"}))).await;
    let hook = id(&hook["endpoint"]["webhook_id"]);
    let garage = p.garage.door_id.0;
    let csv = format!(
        "Name,Contact,Doors,Start,Expiry,Resident,Access\n\
         Ann Lee,ann@example.com,Lobby;{garage},,2099-01-01,yes,\n\
         \"Bo, Jr.\",+44 20 7946 0000,lobby,2098-06-01 09:00,never,no,daily_doorcode\n"
    );
    let (status, report) = import(&mc, &p.pm, "", &csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["rows"], 2);
    assert_eq!(report["committed"], true);
    assert!(refused(&report).is_empty(), "{report}");
    let imported = report["imported"].as_array().unwrap();
    assert_eq!(imported.iter().map(|r| r["row"].as_u64().unwrap()).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(imported[0]["person"]["resident"], true);
    assert_eq!(imported[0]["person"]["keys"][0]["doors"].as_array().unwrap().len(), 2);
    assert_eq!(imported[1]["person"]["name"], "Bo, Jr.");

    assert_eq!(names(&mc, &p.pm).await, vec!["Ann Lee", "Bo, Jr."]);
    let outbox: Value = mc.get("/v1/outbox", &p.pm).await;
    assert_eq!(outbox.as_array().unwrap().len(), 2);
    let log: Value = mc.get(&format!("/v1/webhooks/{hook}/deliveries"), &p.pm).await;
    let kinds: Vec<&str> = log.as_array().unwrap().iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["person.invited", "person.invited"], "{log}");
}

#[tokio::test]
async fn bad_rows_are_reported_with_their_row_and_column_and_the_rest_imported() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let csv = "name,contact,doors,expiry,resident\n\
               Ann,ann@example.com,Lobby,never,yes\n\
               Bob,not a contact,Lobby,never,no\n\
               Cy,cy@example.com,Penthouse,never,no\n\
               Di,di@example.com,Lobby,2001-01-01,no\n\
               Ed,ed@example.com,Lobby,never,perhaps\n\
               Fay,fay@example.com,Lobby\n\
               ,gil@example.com,Lobby,never,no\n\
               Hal,hal@example.com,Garage,never,no\n";
    let (status, report) = import(&mc, &p.pm, "", csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["rows"], 8);
    assert_eq!(report["committed"], true);
    let refused = refused(&report);
    let at: Vec<(u64, Option<&str>)> = refused.iter().map(|(r, c, _)| (*r, c.as_deref())).collect();
    assert_eq!(
        at,
        vec![
            (3, Some("contact")),
            (4, Some("doors")),
            (5, Some("expiry")),
            (6, Some("resident")),
            (7, None),
            (8, Some("name")),
        ],
        "{report}"
    );
    assert!(refused[0].2.contains("email address or a phone number"), "{refused:?}");
    assert!(refused[1].2.contains("no door named \"Penthouse\""), "{refused:?}");
    assert!(refused[2].2.contains("already passed") || refused[2].2.contains("not after start"), "{refused:?}");
    assert!(refused[4].2.contains("3 fields"), "{refused:?}");
    assert_eq!(names(&mc, &p.pm).await, vec!["Ann", "Hal"]);
}

#[tokio::test]
async fn all_or_nothing_refuses_every_row_when_one_fails() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let hook: Value =
        mc.ok(Method::POST, "/v1/webhooks", &p.pm, Some(json!({"url": "http://127.0.0.1:9/hooks"}))).await;
    let hook = id(&hook["endpoint"]["webhook_id"]);
    let csv = "name,contact,doors,expiry\nAnn,ann@example.com,Lobby,never\nBob,bob@example.com,Nowhere,never\n";
    let (status, report) = import(&mc, &p.pm, "?all_or_nothing=true", csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["committed"], false);
    assert!(report["imported"].as_array().unwrap().is_empty());
    assert_eq!(refused(&report).iter().map(|r| r.0).collect::<Vec<_>>(), vec![3]);
    assert!(names(&mc, &p.pm).await.is_empty(), "nothing of Ann's row stays");
    let outbox: Value = mc.get("/v1/outbox", &p.pm).await;
    assert!(outbox.as_array().unwrap().is_empty());
    let log: Value = mc.get(&format!("/v1/webhooks/{hook}/deliveries"), &p.pm).await;
    assert!(log.as_array().unwrap().is_empty(), "no event for a rolled-back row: {log}");

    // The same file without the bad row goes in whole.
    let csv = "name,contact,doors,expiry\nAnn,ann@example.com,Lobby,never\n";
    let (_, report) = import(&mc, &p.pm, "?all_or_nothing=true", csv).await;
    assert_eq!(report["committed"], true, "{report}");
    assert_eq!(names(&mc, &p.pm).await, vec!["Ann"]);
}

#[tokio::test]
async fn a_door_of_another_property_is_refused() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let other = property(&mc, "Oak House").await;
    let foreign = other.lobby.door_id.0;
    let csv = format!("name,contact,doors,expiry\nAnn,ann@example.com,Lobby;{foreign},never\n");
    let (status, report) = import(&mc, &p.pm, "", &csv).await;
    assert_eq!(status, 200, "{report}");
    let refused = refused(&report);
    assert_eq!(refused.len(), 1, "{report}");
    assert_eq!(refused[0].1.as_deref(), Some("doors"));
    assert!(refused[0].2.contains("not a door of this property"), "{refused:?}");
    assert_eq!(report["committed"], false);
    assert!(names(&mc, &p.pm).await.is_empty());
    assert!(names(&mc, &other.pm).await.is_empty());
}

#[tokio::test]
async fn the_request_itself_is_checked() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let csv = "name,contact,doors,expiry\nAnn,ann@example.com,Lobby,never\n";
    // Key Management, as for an invite.
    let clerk: Value = mc
        .ok(
            Method::POST,
            "/v1/managers",
            &p.pm,
            Some(json!({"name": "Clerk", "portfolio_manager": false, "key_management": false})),
        )
        .await;
    let (status, body) = import(&mc, clerk["token"].as_str().unwrap(), "", csv).await;
    assert_eq!(status, 403, "{body}");
    // A header that is not the rent roll's.
    let (status, body) = import(&mc, &p.pm, "", "name,contact,doors,expiry,rent\n").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("unknown column \"rent\""), "{body}");
    let (status, body) = import(&mc, &p.pm, "", "name,contact,doors\n").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("\"expiry\" is missing"), "{body}");
    // Not CSV; too large; no token.
    let (status, _) = mc.raw(Method::POST, "/v1/people/import", Some(&p.pm), Some("{}".into())).await;
    assert_eq!(status, 400);
    let big = format!("name,contact,doors,expiry\n{}", "x".repeat(1024 * 1024 + 1));
    let (status, _) = import(&mc, &p.pm, "", &big).await;
    assert_eq!(status, 413);
    let (status, _) = mc.raw(Method::POST, "/v1/people/import", None, None).await;
    assert_eq!(status, 401);
    assert!(names(&mc, &p.pm).await.is_empty());
}
