//! The manager's web console, served by Mission Control itself: server-rendered HTML (maud,
//! compile-time templates) and plain HTML forms, no script at all, one stylesheet served from
//! the binary. See ARCHITECTURE.md, "Mission Control's console".
//!
//! Every action goes through the same domain functions as the JSON API (`access`, `people`,
//! `provisioning`, `updates`, `history`, ...), judged by the signed-in manager's own token
//! ([`crate::auth::manager`]) in one transaction, so permissions, validation and messages are
//! the API's. A refusal re-renders the page with the server's message beside the form it
//! concerns, with the refusal's own status code.
//!
//! Every POST carries the session's CSRF token ([`csrf::guard`]: refused 403 without it), every
//! response carries the security headers of [`security_headers`] (a Content-Security-Policy
//! that allows no script at all).

mod csrf;
mod doors;
mod import;
mod managers;
mod people;
mod session;
mod sign_in;

use crate::auth::{self, Bearer, Manager};
use crate::error::{AppError, AppResult};
use crate::routes::App;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use keyway_api::NO_EXPIRY;
use keyway_protocol::UnixTime;
use maud::{DOCTYPE, Markup, html};
use rusqlite::Transaction;
use session::{Session, Sessions};
use std::sync::Arc;

pub use csrf::Fields;

/// How the console is served.
#[derive(Clone, Debug, Default)]
pub struct ConsoleOptions {
    /// Mark the session cookie `Secure` on every answer: set it when Mission Control is served
    /// over TLS (by a proxy in front of it, which this plain-HTTP server cannot see unless the
    /// proxy sends `X-Forwarded-Proto: https`, which also marks it).
    pub secure_cookies: bool,
}

/// The Content-Security-Policy of every console answer: nothing but the console's own
/// stylesheet and images, no script of any kind, forms only to the console, no framing.
pub const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("console.css");

/// The text shown beside a key-management action the manager may not take (the help article's).
pub const NEEDS_KEY_MANAGEMENT: &str =
    "To do this, contact a Portfolio Manager and request they add Key Management permissions.";

#[derive(Clone)]
pub struct Console {
    app: App,
    sessions: Arc<Sessions>,
    options: ConsoleOptions,
}

/// The console's routes, to merge into the API's router (they share no path: the API is under
/// `/v1/` and `/health`).
pub fn router(app: App, options: ConsoleOptions) -> Router {
    let state = Console { app, sessions: Arc::default(), options };
    Router::new()
        .route("/", get(home))
        .route("/console.css", get(css))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/p/{pid}/people", get(people::list))
        .route("/p/{pid}/invite", get(people::invite_form).post(people::invite))
        .route("/p/{pid}/import", get(import::form).post(import::submit))
        .route("/p/{pid}/people/{id}", get(people::person))
        .route("/p/{pid}/people/{id}/updates", get(people::person_updates))
        .route("/p/{pid}/people/{id}/keys", post(people::add_key))
        .route("/p/{pid}/people/{id}/keys/{key}/expiry", post(people::change_expiry))
        .route("/p/{pid}/people/{id}/keys/{key}/delete", post(people::delete_key))
        .route("/p/{pid}/people/{id}/revoke-all", get(people::revoke_all_confirm).post(people::revoke_all))
        .route("/p/{pid}/people/{id}/delete", get(people::delete_confirm).post(people::delete))
        .route("/p/{pid}/doors", get(doors::list))
        .route("/p/{pid}/door-updates", get(doors::tasks))
        .route("/p/{pid}/activity", get(doors::activity))
        .route("/p/{pid}/outbox", get(doors::outbox))
        .route("/p/{pid}/managers", get(managers::list).post(managers::create))
        .route("/p/{pid}/managers/{id}/key-management", post(managers::set_key_management))
        .layer(from_fn_with_state(state.clone(), csrf::guard))
        .layer(from_fn(security_headers))
        .with_state(state)
}

/// `Content-Security-Policy` ([`CSP`]), `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: same-origin`, and no caching of pages that show a person's access.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")], CSS).into_response()
}

async fn home(visit: Option<Visit>) -> Response {
    match visit.and_then(|v| v.session.logins.first().map(|l| l.property_id)) {
        Some(pid) => Redirect::to(&format!("/p/{pid}/people")).into_response(),
        None => Redirect::to("/sign-in").into_response(),
    }
}

// ---- who is asking -------------------------------------------------------------------------

/// The request's live session (a POST's, as the CSRF guard found it; a GET's from its cookie).
/// Without one, a page redirects to the sign-in form.
#[derive(Clone)]
pub struct Visit {
    pub sid: String,
    pub session: Session,
}

impl FromRequestParts<Console> for Visit {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &Console) -> Result<Self, Response> {
        if let Some(visit) = parts.extensions.get::<Visit>() {
            return Ok(visit.clone());
        }
        session::id_from(&parts.headers)
            .and_then(|sid| st.sessions.get(&sid).map(|session| Visit { sid, session }))
            .ok_or_else(|| Redirect::to("/sign-in").into_response())
    }
}

impl axum::extract::OptionalFromRequestParts<Console> for Visit {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, st: &Console) -> Result<Option<Self>, Self::Rejection> {
        Ok(<Visit as FromRequestParts<Console>>::from_request_parts(parts, st).await.ok())
    }
}

/// What every page of a property shows around its content.
#[derive(Clone)]
pub struct Ctx {
    pub pid: i64,
    pub csrf: String,
    /// The properties this session is signed in to (id, name), for the left menu.
    pub properties: Vec<(i64, String)>,
    pub property_name: String,
    pub manager_name: String,
    pub manager: Manager,
    /// The property's offset from UTC, in minutes: times are shown and read in it.
    pub offset: i16,
    pub flash: Option<String>,
}

impl Ctx {
    pub fn url(&self, rest: &str) -> String {
        format!("/p/{}{rest}", self.pid)
    }
}

/// A page that could not be shown: its answer.
pub type PageResult = Result<Response, Response>;

impl Console {
    /// Runs `f` as the session's manager of property `pid` in one transaction that only
    /// commits if `f` succeeds, exactly as the JSON API's handlers run (then waiting door feeds
    /// look again, as after any manager's change).
    async fn act<T, F>(&self, visit: &Visit, pid: i64, f: F) -> Result<AppResult<T>, Response>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction, &Manager, UnixTime) -> AppResult<T> + Send + 'static,
    {
        let bearer = self.bearer(visit, pid).map_err(|r| r.into_response())?;
        let answer = self
            .app
            .db
            .run(move |tx| {
                let now = keyway_api::clock::now();
                let manager = auth::manager(tx, &bearer, now)?;
                f(tx, &manager, now)
            })
            .await;
        match answer {
            Ok(t) => {
                self.app.feed.notify();
                Ok(Ok(t))
            }
            // Only the token is judged 401 (the actions answer 403 for a permission).
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(self.signed_out_of(visit, pid, &e)),
            Err(e) => Ok(Err(e)),
        }
    }

    /// Reads what a page of property `pid` shows, with its [`Ctx`], in one transaction.
    async fn view<T, F>(&self, visit: &Visit, pid: i64, f: F) -> Result<(Ctx, T), Response>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction, &Manager, UnixTime) -> AppResult<T> + Send + 'static,
    {
        let bearer = self.bearer(visit, pid).map_err(|r| r.into_response())?;
        let answer = self
            .app
            .db
            .run(move |tx| {
                let now = keyway_api::clock::now();
                let manager = auth::manager(tx, &bearer, now)?;
                let me = crate::provisioning::me(tx, &manager)?;
                let settings = crate::settings::get(tx, &manager)?;
                let t = f(tx, &manager, now)?;
                Ok((manager, me.name, settings, t))
            })
            .await;
        match answer {
            Ok((manager, manager_name, settings, t)) => {
                let ctx = Ctx {
                    pid,
                    csrf: visit.session.csrf.clone(),
                    properties: visit.session.logins.iter().map(|l| (l.property_id, l.property_name.clone())).collect(),
                    property_name: settings.name,
                    manager_name,
                    manager,
                    offset: settings.utc_offset_minutes,
                    flash: self.sessions.take_flash(&visit.sid),
                };
                Ok((ctx, t))
            }
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(self.signed_out_of(visit, pid, &e)),
            Err(e) => Err(error_page(&e)),
        }
    }

    /// The session's token for property `pid`; none: sign in (to it) first.
    fn bearer(&self, visit: &Visit, pid: i64) -> Result<Bearer, Box<Redirect>> {
        match visit.session.login(pid) {
            Some(login) => Ok(Bearer(login.token.to_string())),
            None => Err(Box::new(Redirect::to("/sign-in"))),
        }
    }

    /// The property's token no longer works (rotated, reissued, expired, manager removed): the
    /// session forgets it and the manager is asked to sign in again.
    fn signed_out_of(&self, visit: &Visit, pid: i64, error: &AppError) -> Response {
        self.sessions.update(&visit.sid, |s| s.logins.retain(|l| l.property_id != pid));
        let body = html! {
            h1 { "Sign in again" }
            p.error role="alert" { (error.body.message) }
            p { a href="/sign-in" { "Sign in with your manager token" } }
        };
        page_with(StatusCode::UNAUTHORIZED, bare_page("Sign in again", body))
    }

    fn flash(&self, visit: &Visit, message: impl Into<String>) {
        let message = message.into();
        self.sessions.update(&visit.sid, |s| s.flash = Some(message));
    }
}

// ---- rendering -----------------------------------------------------------------------------

/// The refusal's status with the page.
pub fn page_with(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

pub fn ok_page(markup: Markup) -> Response {
    page_with(StatusCode::OK, markup)
}

/// A page that shows only why it could not be shown.
fn error_page(error: &AppError) -> Response {
    let body = html! {
        h1 { "Not possible" }
        p.error role="alert" { (error.body.message) }
        p { a href="/" { "Back to the console" } }
    };
    page_with(error.status, bare_page("Not possible", body))
}

/// A page outside any property (sign-in, refusals).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Mission Control" }
                link rel="stylesheet" href="/console.css";
            }
            body.bare { main { (body) } }
        }
    }
}

/// The left menu's entries, by the help article's names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Menu {
    People,
    Invite,
    Import,
    Doors,
    DoorUpdates,
    Activity,
    Outbox,
    Managers,
}

/// A page of a property: the left menu (the property list, then the property's pages) and the
/// content.
pub fn layout(ctx: &Ctx, title: &str, active: Menu, body: Markup) -> Markup {
    let item = |menu: Menu, href: String, label: &str| {
        html! { li { a href=(href) aria-current=[(menu == active).then_some("page")] { (label) } } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (ctx.property_name) " · Mission Control" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                nav.menu aria-label="Properties" {
                    p.brand { "Mission Control" }
                    h2 { "Properties" }
                    ul.properties {
                        @for (pid, name) in &ctx.properties {
                            li { a href={"/p/" (pid) "/people"} aria-current=[(*pid == ctx.pid).then_some("true")] { (name) } }
                        }
                        li.add { a href="/sign-in" { "+ Sign in to another property" } }
                    }
                    h2 { (ctx.property_name) }
                    ul {
                        (item(Menu::People, ctx.url("/people"), "People"))
                        (item(Menu::Invite, ctx.url("/invite"), "Invite"))
                        (item(Menu::Import, ctx.url("/import"), "Import"))
                        (item(Menu::Doors, ctx.url("/doors"), "Doors"))
                        (item(Menu::DoorUpdates, ctx.url("/door-updates"), "Door update tasks"))
                        (item(Menu::Activity, ctx.url("/activity"), "Activity"))
                        (item(Menu::Outbox, ctx.url("/outbox"), "Welcome messages"))
                        (item(Menu::Managers, ctx.url("/managers"), "Managers"))
                    }
                    p.who {
                        "Signed in as " strong { (ctx.manager_name) }
                        @if ctx.manager.portfolio_manager { br; "Portfolio Manager" }
                        @if ctx.manager.key_management { br; "Key Management" }
                    }
                    form method="post" action="/sign-out" {
                        (csrf_field(&ctx.csrf))
                        button type="submit" { "Sign out" }
                    }
                }
                main {
                    @if let Some(flash) = &ctx.flash { p.flash role="status" { (flash) } }
                    (body)
                    p.tz { "Times are the property's local time (" (offset_label(ctx.offset)) ")." }
                }
            }
        }
    }
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(token); }
}

/// The server's message beside the form it concerns.
pub fn form_error(error: Option<&AppError>) -> Markup {
    html! { @if let Some(e) = error { p.error role="alert" { (e.body.message) } } }
}

/// A key-management action's button: disabled, with the article's words, for a manager without
/// Key Management (the server refuses the action anyway).
pub fn km_button(ctx: &Ctx, label: &str, class: &str) -> Markup {
    html! {
        @if ctx.manager.key_management {
            button type="submit" class=(class) { (label) }
        } @else {
            button type="submit" class=(class) disabled { (label) }
            span.needs-km { (NEEDS_KEY_MANAGEMENT) }
        }
    }
}

// ---- times in the property's local time ----------------------------------------------------

pub fn offset_label(minutes: i16) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

fn local(t: UnixTime, offset: i16) -> Option<chrono::NaiveDateTime> {
    let secs = i64::try_from(t.0).ok()?.checked_add(i64::from(offset) * 60)?;
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
}

/// `2027-01-01 09:00` in the property's time; "never" for no expiry.
pub fn show_time(t: UnixTime, offset: i16) -> String {
    if t >= NO_EXPIRY {
        return "never".into();
    }
    local(t, offset).map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d %H:%M").to_string())
}

/// The value of a `datetime-local` input showing `t`.
pub fn input_time(t: UnixTime, offset: i16) -> String {
    if t >= NO_EXPIRY {
        return String::new();
    }
    local(t, offset).map_or_else(String::new, |d| d.format("%Y-%m-%dT%H:%M").to_string())
}

/// A `datetime-local` value (`2027-01-01T09:00`, seconds optional) read in the property's
/// time; `Ok(None)` for an empty field.
pub fn parse_time(field: &str, text: &str, offset: i16) -> AppResult<Option<UnixTime>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| AppError::bad_request(format!("{field}: expected a date and time like 2027-01-31T09:00")))?;
    let secs = naive.and_utc().timestamp() - i64::from(offset) * 60;
    u64::try_from(secs)
        .map(|s| Some(UnixTime(s)))
        .map_err(|_| AppError::bad_request(format!("{field}: dates before 1970 are not possible")))
}

#[cfg(test)]
mod tests;
