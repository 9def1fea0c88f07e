//! Keyset paging of the activity, door-update and outbox lists: `?limit=&after=`, the next
//! page in `X-Next-Cursor` and `Link: <...>; rel="next"`, the whole list without either.

mod common;

use common::*;
use keyway_api::AccessKind;
use reqwest::Method;
use serde_json::Value;

/// GET `path`: the JSON array, `X-Next-Cursor` and the `Link` target.
async fn page(mc: &Mc, token: &str, path: &str) -> (Vec<Value>, Option<String>, Option<String>) {
    let resp = mc.http.get(format!("{}{path}", mc.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let cursor = header("x-next-cursor");
    let link = header("link").map(|l| {
        let target = l.strip_prefix('<').and_then(|l| l.split_once(">; rel=\"next\"")).expect("a next link").0;
        target.to_string()
    });
    assert_eq!(cursor.is_some(), link.is_some(), "{path}");
    let body: Value = resp.json().await.unwrap();
    (body.as_array().unwrap().clone(), cursor, link)
}

/// Every page from `first`, following the `Link` headers; checks each page's size.
async fn walk(mc: &Mc, token: &str, first: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let (rows, cursor, link) = page(mc, token, &path).await;
        assert!(rows.len() <= limit, "{path}: {} rows", rows.len());
        if let Some(c) = &cursor {
            assert_eq!(rows.len(), limit, "a page before the last is full");
            assert!(link.as_ref().unwrap().contains(&format!("after={c}")), "{link:?}");
        }
        all.extend(rows);
        next = link;
        pages += 1;
        assert!(pages < 100);
    }
    all
}

#[tokio::test]
async fn outbox_door_updates_and_activity_page_by_keyset() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let lobby = p.lobby.door_id;
    // Doorcode invites queue one update per invite at the lobby, and a welcome each.
    for name in ["Ann", "Bob", "Cy", "Di", "Ed"] {
        invite(&mc, &p.pm, name, AccessKind::DailyDoorcode, vec![grant(&[lobby, p.garage.door_id], None, None)], false)
            .await;
    }
    let (gus, token) = invite(&mc, &p.pm, "Gus", AccessKind::AppKey, vec![grant(&[lobby], None, None)], false).await;
    let phone = accept(&mc, &token).await;
    let key = gus.person.keys[0].key_id;
    let records = (1..=7).map(|seq| unlock(seq, key, gus.person.person_id, false)).collect();
    mc.phone_client().upload_receipts(&phone.token, &[receipt(&p.lobby, 0, records)]).await.unwrap();

    for (path, limit) in [
        ("/v1/outbox", 2),
        ("/v1/outbox", 6),
        ("/v1/door-updates", 3),
        (&format!("/v1/door-updates?door_id={}", lobby.0), 2),
        ("/v1/door-updates?state=pending", 4),
        ("/v1/activity", 3),
        (&format!("/v1/activity?door_id={}", lobby.0), 7),
    ] {
        let (whole, cursor, _) = page(&mc, &p.pm, path).await;
        assert!(cursor.is_none(), "no paging without limit");
        assert!(whole.len() >= 5, "{path}: {whole:?}");
        let sep = if path.contains('?') { '&' } else { '?' };
        let paged = walk(&mc, &p.pm, &format!("{path}{sep}limit={limit}"), limit).await;
        assert_eq!(paged, whole, "{path} by {limit}");
    }
    // `after` alone pages by the largest page; a cursor from the middle skips what came before.
    let (first, cursor, _) = page(&mc, &p.pm, "/v1/activity?limit=2").await;
    let (rest, none, _) = page(&mc, &p.pm, &format!("/v1/activity?after={}", cursor.unwrap())).await;
    assert!(none.is_none());
    assert_eq!(first.len() + rest.len(), 7);
    assert_eq!(rest[0]["seq"], first[1]["seq"].as_u64().unwrap() + 1);
}

#[tokio::test]
async fn bad_paging_parameters_are_refused() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    for path in [
        "/v1/activity?limit=0",
        "/v1/activity?limit=501",
        "/v1/outbox?limit=ten",
        "/v1/door-updates?after=nope",
        "/v1/activity?after=1.2",
        "/v1/outbox?after=1.2",
        "/v1/activity?limit=2&colour=red",
    ] {
        let (status, error) = mc.refused(Method::GET, path, Some(&p.pm), None).await;
        assert_eq!(status, 400, "{path}");
        assert!(error.message.starts_with("invalid query"), "{path}: {}", error.message);
    }
}
