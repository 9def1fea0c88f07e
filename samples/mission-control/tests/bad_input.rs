//! Bad input gets a 4xx with a JSON error body, never a 500 and never a partial write.

mod common;

use common::*;
use keyway_api::*;
use reqwest::Method;
use serde_json::json;

async fn expect(mc: &Mc, method: Method, path: &str, token: Option<&str>, body: Option<&str>, status: u16) -> ApiError {
    let (got, value) = mc.raw(method.clone(), path, token, body.map(str::to_string)).await;
    assert_eq!(got, status, "{method} {path} {body:?}: {value}");
    serde_json::from_value(value).expect("an ApiError body")
}

async fn nothing_written(mc: &Mc, p: &Property, people_before: usize, tasks_before: usize) {
    let people: Vec<PersonInfo> = mc.get("/v1/people?show_expired=true", &p.pm).await;
    assert_eq!(people.len(), people_before, "no person was written");
    let outbox: Vec<OutboxMessage> = mc.get("/v1/outbox", &p.pm).await;
    assert_eq!(outbox.len(), people_before, "no welcome message was written");
    let tasks: Vec<DoorUpdateTask> = mc.get("/v1/door-updates", &p.pm).await;
    assert_eq!(tasks.len(), tasks_before, "no door update was written");
}

#[tokio::test]
async fn malformed_bodies_wrong_tokens_and_unknown_routes_answer_json_4xx() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let pm = Some(p.pm.as_str());
    for body in
        ["{", "[]", "null", "{\"name\": 5}", "{\"name\":\"x\",\"contact\":\"y\",\"access\":\"telepathy\",\"keys\":[]}"]
    {
        let e = expect(&mc, Method::POST, "/v1/invites", pm, Some(body), 400).await;
        assert_eq!(e.code, ErrorCode::BadRequest);
    }
    expect(&mc, Method::POST, "/v1/properties", None, Some("{\"name\":"), 400).await;
    expect(
        &mc,
        Method::POST,
        "/v1/phone/accept",
        None,
        Some("{\"invite_token\":\"x\",\"device_key\":\"not base64!\"}"),
        400,
    )
    .await;
    expect(&mc, Method::POST, "/v1/phone/accept", None, Some("{\"invite_token\":\"x\",\"device_key\":\"AAAA\"}"), 400)
        .await;

    // Tokens: missing, malformed, unknown, of the wrong kind.
    let e = expect(&mc, Method::GET, "/v1/people", None, None, 401).await;
    assert_eq!(e.code, ErrorCode::Unauthorized);
    expect(&mc, Method::GET, "/v1/people", Some("mgr_unknown"), None, 401).await;
    let (_, token) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    expect(&mc, Method::GET, "/v1/people", Some(&phone.token), None, 401).await;
    expect(&mc, Method::POST, "/v1/phone/sync", Some(&p.pm), Some("{}"), 401).await;
    expect(&mc, Method::GET, "/v1/doorcodes", Some(&phone.token), None, 401).await;
    let (status, value) = mc.raw(Method::GET, "/v1/people", None, None).await;
    assert_eq!(status, 401, "{value}");
    let req = mc.http.get(format!("{}/v1/people", mc.base)).header("authorization", "Basic abc");
    assert_eq!(req.send().await.unwrap().status().as_u16(), 401);
    let req = mc.http.get(format!("{}/v1/people", mc.base)).header("authorization", format!("bearer {}", p.pm));
    assert_eq!(req.send().await.unwrap().status().as_u16(), 200, "the scheme is case-insensitive");

    // Routes and methods.
    let e = expect(&mc, Method::GET, "/v1/nothing-here", pm, None, 404).await;
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = expect(&mc, Method::PUT, "/v1/invites", pm, Some("{}"), 405).await;
    assert_eq!(e.code, ErrorCode::MethodNotAllowed);
    expect(&mc, Method::GET, "/v1/people/abc", pm, None, 400).await;
    expect(&mc, Method::GET, "/v1/people?show_expired=maybe", pm, None, 400).await;
    expect(&mc, Method::GET, "/v1/door-updates?state=lost", pm, None, 400).await;
    expect(&mc, Method::PATCH, "/v1/keys/-1", pm, Some("{\"expiry\":1}"), 400).await;

    // A body over the limit.
    let huge = format!("{{\"receipts\":[\"{}\"]}}", "A".repeat(3 * 1024 * 1024));
    let (status, value) = mc.raw(Method::POST, "/v1/phone/receipts", Some(&phone.token), Some(huge)).await;
    assert_eq!(status, 413, "{value}");
}

#[tokio::test]
async fn impossible_invites_are_refused_whole() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let other = property(&mc, "Oak Row").await;
    let pm = Some(p.pm.as_str());
    let t = now().0;
    let lobby = p.lobby.door_id.0;
    let cases = [
        ("empty door set", json!([{ "doors": [] }])),
        ("expiry before start", json!([{ "doors": [lobby], "start": t + 100, "expiry": t + 50 }])),
        ("expiry equal to start", json!([{ "doors": [lobby], "start": t + 100, "expiry": t + 100 }])),
        ("expiry already passed", json!([{ "doors": [lobby], "start": t - 100, "expiry": t - 50 }])),
        ("absurd expiry", json!([{ "doors": [lobby], "expiry": u64::MAX }])),
        ("door of another property", json!([{ "doors": [other.lobby.door_id.0] }])),
        ("unknown door", json!([{ "doors": [4_000_000] }])),
        (
            "one good key and one bad",
            json!([{ "doors": [lobby] }, { "doors": [lobby], "start": t + 100, "expiry": t + 50 }]),
        ),
        ("no keys", json!([])),
        ("too many doors", json!([{ "doors": (1..40).collect::<Vec<u32>>() }])),
    ];
    for (what, keys) in cases {
        let body = json!({ "name": "Ann", "contact": "ann@example.com", "access": "app_key", "keys": keys });
        let (status, err) = mc.refused(Method::POST, "/v1/invites", pm, Some(body)).await;
        assert_eq!(status, 400, "{what}: {err:?}");
        assert!(!err.message.is_empty());
    }
    for (what, body) in [
        ("empty name", json!({ "name": " ", "contact": "a@b", "access": "app_key", "keys": [{ "doors": [lobby] }] })),
        ("empty contact", json!({ "name": "Ann", "contact": "", "access": "app_key", "keys": [{ "doors": [lobby] }] })),
        (
            "shared doorcode",
            json!({ "name": "Ann", "contact": "a@b", "access": "daily_doorcode", "may_share": true, "keys": [{ "doors": [lobby] }] }),
        ),
    ] {
        let (status, err) = mc.refused(Method::POST, "/v1/invites", pm, Some(body)).await;
        assert_eq!(status, 400, "{what}: {err:?}");
    }
    nothing_written(&mc, &p, 0, 0).await;
    // A doorcode invite with one bad key writes no slot either.
    let body = json!({ "name": "Ann", "contact": "a@b", "access": "daily_doorcode", "keys": [{ "doors": [lobby] }, { "doors": [] }] });
    mc.refused(Method::POST, "/v1/invites", pm, Some(body)).await;
    nothing_written(&mc, &p, 0, 0).await;
}

#[tokio::test]
async fn unknown_ids_and_other_propertys_ids_are_not_found_and_write_nothing() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let other = property(&mc, "Oak Row").await;
    let (ann, _) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    let person = ann.person.person_id.0;
    let key = ann.person.keys[0].key_id.0;
    let theirs = Some(other.pm.as_str());
    for (method, path, body) in [
        (Method::GET, format!("/v1/people/{person}"), None),
        (Method::DELETE, format!("/v1/people/{person}"), None),
        (Method::POST, format!("/v1/people/{person}/revoke-all"), None),
        (Method::POST, format!("/v1/people/{person}/keys"), Some(json!({ "doors": [other.lobby.door_id.0] }))),
        (Method::PATCH, format!("/v1/keys/{key}"), Some(json!({ "expiry": now().0 + 100 }))),
        (Method::DELETE, format!("/v1/keys/{key}"), None),
        (Method::GET, "/v1/people/999999".to_string(), None),
        (Method::DELETE, format!("/v1/keys/{}", 1u64 << 63 | 5), None),
        (Method::PATCH, "/v1/keys/999999".to_string(), Some(json!({ "expiry": now().0 + 100 }))),
        (Method::PUT, "/v1/managers/999999/key-management".to_string(), Some(json!({ "enabled": true }))),
    ] {
        let (status, err) = mc.refused(method.clone(), &path, theirs, body).await;
        assert_eq!(status, 404, "{method} {path}: {err:?}");
    }
    // The own manager: adding a key to doors of another property, an empty set, bad windows.
    let pm = Some(p.pm.as_str());
    let t = now().0;
    for body in [
        json!({ "doors": [other.lobby.door_id.0] }),
        json!({ "doors": [] }),
        json!({ "doors": [p.lobby.door_id.0], "start": t + 10, "expiry": t + 5 }),
        json!({ "doors": "lobby" }),
    ] {
        let (status, err) =
            mc.refused(Method::POST, &format!("/v1/people/{person}/keys"), pm, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {err:?}");
    }
    let (status, _) =
        mc.refused(Method::PATCH, &format!("/v1/keys/{key}"), pm, Some(json!({ "expiry": "soon" }))).await;
    assert_eq!(status, 400);
    let (status, _) =
        mc.refused(Method::PATCH, &format!("/v1/keys/{key}"), pm, Some(json!({ "expiry": u64::MAX }))).await;
    assert_eq!(status, 400);
    let info: PersonInfo = mc.get(&format!("/v1/people/{person}"), &p.pm).await;
    assert_eq!(info.keys.len(), 1, "no key was added or changed");
    assert_eq!(info.keys[0].status, KeyStatus::Active);
    assert!(mc.get::<Vec<DoorUpdateTask>>("/v1/door-updates", &p.pm).await.is_empty());
}

/// A misspelt field is refused, never ignored: `expires` for `expiry` used to be dropped
/// silently and the key then ran until 9999-12-31. Every request type denies unknown fields
/// (queries included), and nothing is written.
#[tokio::test]
async fn a_misspelt_field_is_refused_rather_than_widening_access() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let pm = Some(p.pm.as_str());
    let door = p.lobby.door_id.0;
    let misspelt = format!(
        r#"{{"name":"Ann","contact":"ann@example.com","access":"app_key","resident":true,
            "keys":[{{"doors":[{door}],"expires":1800000000}}]}}"#
    );
    let e = expect(&mc, Method::POST, "/v1/invites", pm, Some(&misspelt), 400).await;
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("expires"), "the error names the field: {}", e.message);
    let top_level = format!(
        r#"{{"name":"Ann","contact":"ann@example.com","access":"app_key","keys":[{{"doors":[{door}]}}],"may_shar":true}}"#
    );
    expect(&mc, Method::POST, "/v1/invites", pm, Some(&top_level), 400).await;
    nothing_written(&mc, &p, 0, 0).await;
    expect(&mc, Method::GET, "/v1/people?show_expird=true", pm, None, 400).await;
    expect(
        &mc,
        Method::POST,
        "/v1/phone/accept",
        None,
        Some(r#"{"invite_token":"x","device_key":"AAAA","extra":1}"#),
        400,
    )
    .await;
}

/// Control characters and invisible formatting characters are refused in every name and
/// contact (they used to be stored as sent: NUL, CR/LF, ESC, DEL, a right-to-left override),
/// and a contact must be an email address or a phone number.
#[tokio::test]
async fn names_and_contacts_with_control_characters_are_refused() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let pm = Some(p.pm.as_str());
    let door = p.lobby.door_id.0;
    let invite = |name: &str, contact: &str| {
        json!({"name": name, "contact": contact, "access": "app_key", "keys": [{"doors": [door]}]}).to_string()
    };
    for bad in ["Ann\u{0}", "Ann\r\nBcc: x", "Ann\u{1b}[2J", "Ann\u{7f}", "nnA\u{202e}", "A\u{200b}nn", "An\u{85}n"] {
        let e = expect(&mc, Method::POST, "/v1/invites", pm, Some(&invite(bad, "ann@example.com")), 400).await;
        assert!(e.message.contains("invisible character"), "{bad:?}: {}", e.message);
        expect(&mc, Method::POST, "/v1/invites", pm, Some(&invite("Ann", &format!("ann{bad}@example.com"))), 400).await;
        expect(&mc, Method::POST, "/v1/doors", pm, Some(&json!({"name": bad, "online": false}).to_string()), 400).await;
        let property = json!({"name": bad, "utc_offset_minutes": 0, "manager_name": "Pat"}).to_string();
        expect(&mc, Method::POST, "/v1/properties", None, Some(&property), 400).await;
        let manager = json!({"name": bad, "portfolio_manager": false, "key_management": false}).to_string();
        expect(&mc, Method::POST, "/v1/managers", pm, Some(&manager), 400).await;
    }
    for not_a_contact in ["Ann", "ann@", "@example.com", "a@b@c", "ann @example.com", "+1 555", "555-CALL-NOW"] {
        expect(&mc, Method::POST, "/v1/invites", pm, Some(&invite("Ann", not_a_contact)), 400).await;
    }
    nothing_written(&mc, &p, 0, 0).await;
    // What a manager really types goes through.
    for contact in ["ann@example.com", "+1 555 0100", "(030) 1234-5678"] {
        let (status, value) = mc.raw(Method::POST, "/v1/invites", pm, Some(invite("Ann Øster-Ñúñez", contact))).await;
        assert_eq!(status, 200, "{contact}: {value}");
    }
}
