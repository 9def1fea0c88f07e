//! The manager's web console over HTTP: security headers, the session cookie, CSRF, sign-in by
//! manager token, and actions that go through the API's own domain functions (checked through
//! the JSON API). The browser test (tests/browser) clicks through the same pages in Chromium.

mod common;

use common::*;
use keyway_api::*;
use mission_control::{ConsoleOptions, ServerOptions};
use reqwest::{Method, StatusCode, redirect};

const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A browser without a cookie jar: the test carries the session cookie itself.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn set_cookie(&self) -> Option<&str> {
        self.headers.get("set-cookie").and_then(|v| v.to_str().ok())
    }
    /// The first CSRF token on the page.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..at + 64].to_string()
    }
}

impl Browser {
    fn new(mc: &Mc) -> Browser {
        let http = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();
        Browser { http, base: mc.base.clone(), cookie: None }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(form) = form {
            let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
            req = req.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let resp = req.send().await.unwrap();
        let answer =
            Answer { status: resp.status(), headers: resp.headers().clone(), body: resp.text().await.unwrap() };
        if let Some(set) = answer.set_cookie() {
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        answer
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    /// Signs in with `token`; returns the property's people page path.
    async fn sign_in(&mut self, token: &str) -> String {
        let page = self.get("/sign-in").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = page.csrf();
        let done = self.post("/sign-in", &[("csrf", &csrf), ("token", token)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        done.location().to_string()
    }
}

fn assert_security_headers(a: &Answer) {
    assert_eq!(a.headers["content-security-policy"], CSP);
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
    assert_eq!(a.headers["referrer-policy"], "same-origin");
}

#[tokio::test]
async fn every_answer_has_the_security_headers_and_the_cookie_is_strict_and_http_only() {
    let mc = Mc::start().await;
    let mut b = Browser::new(&mc);
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/sign-in");
    assert_security_headers(&home);
    let page = b.get("/sign-in").await;
    assert_security_headers(&page);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(!page.body.contains("<script"), "no script at all");
    let cookie = page.set_cookie().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|p| p == part), "{part}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure ({cookie})");
    let css = b.get("/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_security_headers(&css);

    // Behind a TLS-terminating proxy the cookie is Secure.
    let mut proxied = Browser::new(&mc);
    let page = proxied.send(Method::GET, "/sign-in", None, &[("x-forwarded-proto", "https")]).await;
    assert!(page.set_cookie().unwrap().ends_with("; Secure"), "{:?}", page.set_cookie());
    drop(mc);

    let options =
        ServerOptions { console: ConsoleOptions { secure_cookies: true }, ..ServerOptions::open_property_creation() };
    let mc = Mc::start_with(options).await;
    let page = Browser::new(&mc).get("/sign-in").await;
    assert!(page.set_cookie().unwrap().ends_with("; Secure"), "{:?}", page.set_cookie());
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let mut b = Browser::new(&mc);
    // No session at all.
    let refused = b.post("/sign-in", &[("token", &p.pm)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_security_headers(&refused);
    let page = b.get("/sign-in").await;
    let csrf = page.csrf();
    // A session, but no token or another one.
    let refused = b.post("/sign-in", &[("token", &p.pm)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("no CSRF token"), "{}", refused.body);
    let refused = b.post("/sign-in", &[("token", &p.pm), ("csrf", &"0".repeat(64))]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // A wrong manager token: the API's message beside the form.
    let wrong = b.post("/sign-in", &[("csrf", &csrf), ("token", "mgr_nope")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("unknown manager token"), "{}", wrong.body);

    let anonymous = b.cookie.clone().unwrap();
    let people = b.sign_in(&p.pm).await;
    assert_eq!(people, format!("/p/{}/people", p.id));
    assert_ne!(b.cookie.as_deref(), Some(anonymous.as_str()), "sign-in gives a new session id");
    let page = b.get(&people).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Elm Court") && page.body.contains("People"));

    // A forged invite without the token writes nothing.
    let invite = [
        ("name", "Mallory"),
        ("contact", "m@example.com"),
        ("access", "app_key"),
        ("key1_door", "1"),
        ("key1_never", "on"),
    ];
    let refused = b.post(&format!("/p/{}/invite", p.id), &invite).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let listed: Vec<PersonInfo> = mc.get("/v1/people?show_expired=true", &p.pm).await;
    assert!(listed.is_empty(), "{listed:?}");

    // The pre-sign-in session is worth nothing now.
    let mut old = Browser::new(&mc);
    old.cookie = Some(anonymous);
    assert_eq!(old.get(&people).await.location(), "/sign-in");

    // Sign-out ends the session.
    let signed_in = b.cookie.clone();
    let csrf = b.get(&people).await.csrf();
    let out = b.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie().unwrap().contains("Max-Age=0"));
    assert_eq!(b.cookie, None);
    let mut replay = Browser::new(&mc);
    replay.cookie = signed_in;
    assert_eq!(replay.get(&people).await.location(), "/sign-in");
}

#[tokio::test]
async fn the_console_invites_through_the_api_and_key_management_is_enforced_by_the_server() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let mut b = Browser::new(&mc);
    b.sign_in(&p.pm).await;
    let invite_path = format!("/p/{}/invite", p.id);
    let csrf = b.get(&invite_path).await.csrf();
    let lobby = p.lobby.door_id.0.to_string();
    let done = b
        .post(
            &invite_path,
            &[
                ("csrf", &csrf),
                ("name", "Ann"),
                ("contact", "ann@example.com"),
                ("access", "app_key"),
                ("key1_door", &lobby),
                ("key1_start", "2031-01-01T09:00"),
                ("key1_expiry", "2032-01-01T09:00"),
                ("resident", "on"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let people: Vec<PersonInfo> = mc.get("/v1/people", &p.pm).await;
    assert_eq!(people.len(), 1);
    let ann = &people[0];
    assert_eq!((ann.name.as_str(), ann.resident, ann.status), ("Ann", true, PersonStatus::Upcoming));
    // The property is at UTC+01:00: 09:00 there is 08:00 UTC.
    assert_eq!(ann.keys[0].validity.start.to_string(), "2031-01-01T08:00:00Z");
    let page = b.get(done.location()).await;
    assert!(page.body.contains("Invited Ann"), "{}", page.body);
    assert!(page.body.contains("Their access starts 2031-01-01 09:00"), "{}", page.body);

    // A grant without an expiration is refused beside the form, as the API refuses it.
    let csrf = b.get(&invite_path).await.csrf();
    let refused = b
        .post(&invite_path, &[("csrf", &csrf), ("name", "Bo"), ("contact", "bo@example.com"), ("key1_door", &lobby)])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("give an expiration"), "{}", refused.body);
    assert!(refused.body.contains("value=\"Bo\""), "the form keeps what was typed");

    // A manager without Key Management: the actions are disabled with the article's words and
    // the server refuses them anyway.
    let sam: ManagerCredentials = mc
        .ok(
            Method::POST,
            "/v1/managers",
            &p.pm,
            Some(CreateManagerRequest { name: "Sam".into(), portfolio_manager: false, key_management: false }),
        )
        .await;
    let mut s = Browser::new(&mc);
    s.sign_in(&sam.token).await;
    let form = s.get(&invite_path).await;
    assert!(form.body.contains("contact a Portfolio Manager and request they add Key Management permissions"));
    assert!(form.body.contains("disabled"), "{}", form.body);
    let refused = s
        .post(
            &invite_path,
            &[
                ("csrf", &form.csrf()),
                ("name", "Eve"),
                ("contact", "eve@example.com"),
                ("key1_door", &lobby),
                ("key1_never", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains(mission_control::ASK_A_PORTFOLIO_MANAGER), "{}", refused.body);
    let people: Vec<PersonInfo> = mc.get("/v1/people?show_expired=true", &p.pm).await;
    assert_eq!(people.len(), 1, "nothing was written");
    let person = format!("/p/{}/people/{}", p.id, ann.person_id.0);
    let csrf = s.get(&person).await.csrf();
    let refused = s.post(&format!("{person}/revoke-all"), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A rotated token no longer signs the console in.
    let _: ManagerCredentials = mc.ok(Method::POST, "/v1/managers/me/rotate-token", &sam.token, None::<()>).await;
    let gone = s.get(&invite_path).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert!(gone.body.contains("Sign in again"));
}

#[tokio::test]
async fn the_people_list_pages_searches_and_hides_the_expired_and_the_deleted() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let start = now();
    for i in 0..120 {
        let expiry = if i % 10 == 0 { start.saturating_add_secs(2) } else { start.saturating_add_secs(DAY) };
        let req = InviteRequest {
            name: format!("Resident {i:03}"),
            contact: format!("r{i}@example.com"),
            access: AccessKind::AppKey,
            keys: vec![KeyGrant { doors: vec![p.lobby.door_id], start: None, expiry: Expiry::At(expiry) }],
            resident: true,
            may_share: false,
        };
        let _: InviteResponse = mc.ok(Method::POST, "/v1/invites", &p.pm, Some(req)).await;
    }
    let gone: Vec<PersonInfo> = mc.get("/v1/people", &p.pm).await;
    let deleted = gone.iter().find(|p| p.name == "Resident 001").unwrap().person_id.0;
    let _: RevocationResponse = mc.ok(Method::DELETE, &format!("/v1/people/{deleted}"), &p.pm, None::<()>).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    let mut b = Browser::new(&mc);
    let people = b.sign_in(&p.pm).await;
    let rows = |a: &Answer| a.body.matches("<tr data-person=").count();
    // 119 left, 12 of them expired: 107 shown, 50 a page.
    let first = b.get(&people).await;
    assert!(first.body.contains("107 people with active or upcoming access"), "{}", first.body);
    assert_eq!(rows(&first), 50);
    assert!(first.body.contains("Page 1 of 3"));
    assert!(!first.body.contains("Resident 000"), "expired");
    assert!(!first.body.contains("Resident 001"), "deleted");
    let last = b.get(&format!("{people}?page=3")).await;
    assert_eq!(rows(&last), 7);
    let all = b.get(&format!("{people}?show_expired=on&page=3")).await;
    assert!(all.body.contains("119 people"), "{}", all.body);
    assert_eq!(rows(&all), 19);
    let found = b.get(&format!("{people}?q=resident+1&show_expired=on")).await;
    // "resident 1" is in the names of 100..119 only.
    assert_eq!(rows(&found), 20, "{}", found.body);
    let by_contact = b.get(&format!("{people}?q=R42%40EXAMPLE")).await;
    assert_eq!(rows(&by_contact), 1);
    assert!(by_contact.body.contains("Resident 042"));
    let shown = b.get(&format!("{people}?q=resident+000&show_expired=on")).await;
    assert!(shown.body.contains("Resident 000") && shown.body.contains("expired"));

    // The same query on the JSON API.
    let page: Vec<PersonInfo> = mc.get("/v1/people?q=RESIDENT+1&per_page=8&page=3", &p.pm).await;
    let names: Vec<&str> = page.iter().map(|p| p.name.as_str()).collect();
    // 100..=119 less the expired 100 and 110: 18 people, so page 3 of 8 holds the last two.
    assert_eq!(names, ["Resident 118", "Resident 119"]);
    let all: Vec<PersonInfo> = mc.get("/v1/people?show_expired=true", &p.pm).await;
    assert_eq!(all.len(), 119, "no paging asked: the whole list");
    let (status, _) = mc.call(Method::GET, "/v1/people?per_page=0", Some(&p.pm), None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_import_page_invites_each_good_row_and_reports_the_others() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let mut b = Browser::new(&mc);
    let people = b.sign_in(&p.pm).await;
    let import = people.replace("/people", "/import");
    let form = b.get(&import).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Import people"), "{}", form.body);
    let csrf = form.csrf();
    let csv =
        "name,contact,doors,expiry,resident\nAnn,ann@example.com,Lobby,never,yes\nBob,bob@example.com,Attic,never,no\n";
    let done = b.post(&import, &[("csrf", &csrf), ("csv", csv)]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("2 rows read: 1 imported, 1 refused."), "{}", done.body);
    assert!(done.body.contains("this property has no door named &quot;Attic&quot;"), "{}", done.body);
    let listed: Vec<PersonInfo> = mc.get("/v1/people", &p.pm).await;
    assert_eq!(listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["Ann"]);

    // All or nothing: the bad row keeps Cy out too.
    let csv = "name,contact,doors,expiry\nCy,cy@example.com,Lobby,never\nDi,di@example.com,Attic,never\n";
    let done = b.post(&import, &[("csrf", &csrf), ("csv", csv), ("all_or_nothing", "on")]).await;
    assert!(done.body.contains("Nothing was imported."), "{}", done.body);
    let listed: Vec<PersonInfo> = mc.get("/v1/people", &p.pm).await;
    assert_eq!(listed.len(), 1);

    // Without Key Management the server refuses, whatever the button shows.
    let clerk: ManagerCredentials = mc
        .ok(
            Method::POST,
            "/v1/managers",
            &p.pm,
            Some(CreateManagerRequest { name: "Clerk".into(), portfolio_manager: false, key_management: false }),
        )
        .await;
    let mut c = Browser::new(&mc);
    let path = c.sign_in(&clerk.token).await.replace("/people", "/import");
    let form = c.get(&path).await;
    assert!(form.body.contains("request they add Key Management permissions"), "{}", form.body);
    let refused = c.post(&path, &[("csrf", &form.csrf()), ("csv", csv)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
}
