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
        ("empty door set", json!([{ "doors": [], "expiry": "never" }])),
        ("expiry before start", json!([{ "doors": [lobby], "start": t + 100, "expiry": t + 50 }])),
        ("expiry equal to start", json!([{ "doors": [lobby], "start": t + 100, "expiry": t + 100 }])),
        ("expiry already passed", json!([{ "doors": [lobby], "start": t - 100, "expiry": t - 50 }])),
        ("absurd expiry", json!([{ "doors": [lobby], "expiry": u64::MAX }])),
        ("door of another property", json!([{ "doors": [other.lobby.door_id.0], "expiry": "never" }])),
        ("unknown door", json!([{ "doors": [4_000_000], "expiry": "never" }])),
        (
            "one good key and one bad",
            json!([{ "doors": [lobby], "expiry": "never" }, { "doors": [lobby], "start": t + 100, "expiry": t + 50 }]),
        ),
        ("no keys", json!([])),
        ("too many doors", json!([{ "doors": (1..40).collect::<Vec<u32>>(), "expiry": "never" }])),
    ];
    for (what, keys) in cases {
        let body = json!({ "name": "Ann", "contact": "ann@example.com", "access": "app_key", "keys": keys });
        let (status, err) = mc.refused(Method::POST, "/v1/invites", pm, Some(body)).await;
        assert_eq!(status, 400, "{what}: {err:?}");
        assert!(!err.message.is_empty());
    }
    for (what, body) in [
        (
            "empty name",
            json!({ "name": " ", "contact": "a@b", "access": "app_key", "keys": [{ "doors": [lobby], "expiry": "never" }] }),
        ),
        (
            "empty contact",
            json!({ "name": "Ann", "contact": "", "access": "app_key", "keys": [{ "doors": [lobby], "expiry": "never" }] }),
        ),
        (
            "shared doorcode",
            json!({ "name": "Ann", "contact": "a@b", "access": "daily_doorcode", "may_share": true, "keys": [{ "doors": [lobby], "expiry": "never" }] }),
        ),
    ] {
        let (status, err) = mc.refused(Method::POST, "/v1/invites", pm, Some(body)).await;
        assert_eq!(status, 400, "{what}: {err:?}");
    }
    nothing_written(&mc, &p, 0, 0).await;
    // A doorcode invite with one bad key writes no slot either.
    let body = json!({ "name": "Ann", "contact": "a@b", "access": "daily_doorcode", "keys": [{ "doors": [lobby], "expiry": "never" }, { "doors": [], "expiry": "never" }] });
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
        (
            Method::POST,
            format!("/v1/people/{person}/keys"),
            Some(json!({ "doors": [other.lobby.door_id.0], "expiry": "never" })),
        ),
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
        json!({ "doors": [other.lobby.door_id.0], "expiry": "never" }),
        json!({ "doors": [], "expiry": "never" }),
        json!({ "doors": [p.lobby.door_id.0], "start": t + 10, "expiry": t + 5 }),
        json!({ "doors": "lobby", "expiry": "never" }),
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
        r#"{{"name":"Ann","contact":"ann@example.com","access":"app_key","keys":[{{"doors":[{door}],"expiry":"never"}}],"may_shar":true}}"#
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
        json!({"name": name, "contact": contact, "access": "app_key", "keys": [{"doors": [door], "expiry": "never"}]})
            .to_string()
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

/// serde_json reads a struct from an array of its field values in order, so a body could be sent
/// positionally, without a single field name (and so past `deny_unknown_fields`). Every body is
/// read by name only: an array where an object is expected is refused at the top and at any
/// depth, with a 400 that says so, and nothing is written.
#[tokio::test]
async fn a_positional_array_for_a_struct_is_refused_and_writes_nothing() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let pm = Some(p.pm.as_str());
    let door = p.lobby.door_id.0;
    let later = now().0 + 30 * DAY;
    let (ann, token) = invite(
        &mc,
        &p.pm,
        "Ann",
        AccessKind::AppKey,
        vec![grant(&[p.lobby.door_id], None, Some(keyway_protocol::UnixTime(later)))],
        false,
    )
    .await;
    let person = ann.person.person_id.0;
    let key = ann.person.keys[0].key_id.0;
    let phone = accept(&mc, &token).await;
    let doors_before = mc.get::<Vec<DoorInfo>>("/v1/doors", &p.pm).await.len();

    let named = |e: &ApiError| {
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("invalid type: sequence, expected an object with named fields"), "{}", e.message);
    };
    let invites = [
        // The whole invite, positionally: name, contact, access, keys, resident, may_share.
        format!(r#"["Bob","bob@example.com","app_key",[[[{door}],null,{later}]],true,true]"#),
        // Named at the top, a key positionally (doors, start, expiry).
        format!(r#"{{"name":"Bob","contact":"bob@example.com","access":"app_key","keys":[[[{door}],null,"never"]]}}"#),
        // The second key only.
        format!(
            r#"{{"name":"Bob","contact":"bob@example.com","access":"app_key",
                 "keys":[{{"doors":[{door}],"expiry":"never"}},[[{door}],null,"never"]]}}"#
        ),
    ];
    for body in &invites {
        let e = expect(&mc, Method::POST, "/v1/invites", pm, Some(body), 400).await;
        named(&e);
    }
    let keys = format!("/v1/people/{person}/keys");
    named(&expect(&mc, Method::POST, &keys, pm, Some(&format!(r#"[[{door}],null,"never"]"#)), 400).await);
    let cards = format!("/v1/people/{person}/keycards");
    named(&expect(&mc, Method::POST, &cards, pm, Some(&format!(r#"["04a1b2c3",[{door}],null,"never"]"#)), 400).await);
    named(&expect(&mc, Method::PATCH, &format!("/v1/keys/{key}"), pm, Some(&format!("[{}]", later + DAY)), 400).await);
    named(&expect(&mc, Method::POST, "/v1/doors", pm, Some(r#"["Side door",false]"#), 400).await);
    named(&expect(&mc, Method::POST, "/v1/managers", pm, Some(r#"["Sam",true,true]"#), 400).await);
    let me: ManagerInfo = mc.get("/v1/managers/me", &p.pm).await;
    let km = format!("/v1/managers/{}/key-management", me.manager_id);
    named(&expect(&mc, Method::PUT, &km, pm, Some("[true]"), 400).await);
    named(&expect(&mc, Method::POST, "/v1/properties", None, Some(r#"["Oak Row",0,"Pat"]"#), 400).await);
    let device = Some(phone.token.as_str());
    named(&expect(&mc, Method::POST, "/v1/phone/sync", device, Some("[null]"), 400).await);
    named(&expect(&mc, Method::POST, "/v1/phone/receipts", device, Some("[[]]"), 400).await);
    named(&expect(&mc, Method::POST, "/v1/phone/accept", None, Some(r#"["inv_x","AAAA","AAAA"]"#), 400).await);
    named(&expect(&mc, Method::POST, "/v1/door-feed/challenge", None, Some(&format!("[{door}]")), 400).await);

    // Nothing was written: no person, message, key, card, door or manager, no changed window.
    nothing_written(&mc, &p, 1, 0).await;
    let info: PersonInfo = mc.get(&format!("/v1/people/{person}"), &p.pm).await;
    assert_eq!(info.keys.len(), 1);
    assert_eq!(info.keys[0].validity.expiry.0, later);
    assert!(info.keycards.is_empty());
    assert_eq!(mc.get::<Vec<DoorInfo>>("/v1/doors", &p.pm).await.len(), doors_before);
    assert_eq!(mc.get::<Vec<ManagerInfo>>("/v1/managers", &p.pm).await.len(), 1);
    // The same requests by name still work.
    let body = format!(r#"{{"doors":[{door}],"start":null,"expiry":"never"}}"#);
    let (status, value) = mc.raw(Method::POST, &keys, pm, Some(body)).await;
    assert_eq!(status, 200, "{value}");
}

/// A grant without an expiry used to run until 9999-12-31. Every request that grants access
/// must state one: a time, or explicitly "never". A missing expiry is a 400 naming the field,
/// and nothing is written.
#[tokio::test]
async fn a_grant_without_an_expiry_is_refused_and_never_must_be_said() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let pm = Some(p.pm.as_str());
    let door = p.lobby.door_id.0;
    let missing = |e: &ApiError, path: &str| {
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains(&format!("{path}missing field `expiry`")), "{}", e.message);
    };
    for access in ["app_key", "daily_doorcode"] {
        let body =
            json!({ "name": "Ann", "contact": "ann@example.com", "access": access, "keys": [{ "doors": [door] }] });
        missing(&expect(&mc, Method::POST, "/v1/invites", pm, Some(&body.to_string()), 400).await, "keys[0]: ");
        let body = json!({ "name": "Ann", "contact": "ann@example.com", "access": access,
                           "keys": [{ "doors": [door], "expiry": "never" }, { "doors": [door], "start": now().0 }] });
        missing(&expect(&mc, Method::POST, "/v1/invites", pm, Some(&body.to_string()), 400).await, "keys[1]: ");
    }
    for wrong in [json!(null), json!("Never"), json!("none"), json!(""), json!(-1), json!({})] {
        let body = json!({ "name": "Ann", "contact": "ann@example.com", "access": "app_key",
                           "keys": [{ "doors": [door], "expiry": wrong }] });
        let e = expect(&mc, Method::POST, "/v1/invites", pm, Some(&body.to_string()), 400).await;
        assert!(
            e.message.contains(
                "expected an expiry: an RFC 3339 time (2027-01-01T00:00:00Z), seconds since 1970 or \"never\""
            ),
            "{wrong}: {}",
            e.message
        );
    }
    nothing_written(&mc, &p, 0, 0).await;

    // Explicitly "never": a key without an end.
    let body = json!({ "name": "Ann", "contact": "ann@example.com", "access": "app_key",
                       "keys": [{ "doors": [door], "expiry": "never" }] });
    let (status, value) = mc.raw(Method::POST, "/v1/invites", pm, Some(body.to_string())).await;
    assert_eq!(status, 200, "{value}");
    let ann: InviteResponse = serde_json::from_value(value).unwrap();
    assert_eq!(ann.person.keys[0].validity.expiry, NO_EXPIRY);
    let person = ann.person.person_id.0;

    // Adding a key, a keycard, or changing an expiry: the same.
    let keys = format!("/v1/people/{person}/keys");
    let cards = format!("/v1/people/{person}/keycards");
    missing(&expect(&mc, Method::POST, &keys, pm, Some(&json!({ "doors": [door] }).to_string()), 400).await, "");
    let card = json!({ "card": "04a1b2c3", "doors": [door] }).to_string();
    missing(&expect(&mc, Method::POST, &cards, pm, Some(&card), 400).await, "");
    let key = ann.person.keys[0].key_id.0;
    missing(&expect(&mc, Method::PATCH, &format!("/v1/keys/{key}"), pm, Some("{}"), 400).await, "");
    let info: PersonInfo = mc.get(&format!("/v1/people/{person}"), &p.pm).await;
    assert_eq!((info.keys.len(), info.keycards.len()), (1, 0), "nothing was added");
    assert!(mc.get::<Vec<DoorUpdateTask>>("/v1/door-updates", &p.pm).await.is_empty());

    let soon = now().0 + 7 * DAY;
    let added: KeyChangeResponse =
        mc.ok(Method::POST, &keys, &p.pm, Some(json!({ "doors": [door], "expiry": soon }))).await;
    assert_eq!(added.key.validity.expiry.0, soon);
    let changed: KeyChangeResponse = mc
        .ok(Method::PATCH, &format!("/v1/keys/{}", added.key.key_id.0), &p.pm, Some(json!({ "expiry": "never" })))
        .await;
    assert_eq!(changed.key.validity.expiry, NO_EXPIRY, "\"never\" extends a key");
    let carded: KeycardChangeResponse = mc
        .ok(Method::POST, &cards, &p.pm, Some(json!({ "card": "04a1b2c3", "doors": [door], "expiry": "never" })))
        .await;
    assert_eq!(carded.keycard.validity.expiry, NO_EXPIRY);
}
