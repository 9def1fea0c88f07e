//! Sign-in with the manager's own token (the one `POST /v1/properties` or a Portfolio Manager
//! gave them), checked by [`crate::auth::manager`] as any API request is, and sign-out.
//!
//! The sign-in form is itself CSRF-protected: showing it starts an anonymous session whose
//! token the form carries. A successful sign-in replaces the session by a new one (new id, new
//! CSRF token: a session id known before sign-in is worth nothing after it) holding the token,
//! beside the properties the session was already signed in to.

use super::session::{self, Login};
use super::{Console, Visit, bare_page, csrf_field, form_error, page_with};
use crate::auth::{self, Bearer};
use crate::error::AppError;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use zeroize::Zeroizing;

use super::Fields;

fn render(csrf: &str, signed_in: &[Login], error: Option<&AppError>) -> maud::Markup {
    bare_page(
        "Sign in",
        html! {
            h1 { "Mission Control" }
            @if !signed_in.is_empty() {
                p { "Signed in to: "
                    @for (i, l) in signed_in.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={"/p/" (l.property_id) "/people"} { (l.property_name) }
                    }
                    ". Add another property with its manager token."
                }
            }
            form.card method="post" action="/sign-in" {
                (csrf_field(csrf))
                label for="token" { "Manager token" }
                input #token type="password" name="token" autocomplete="off" required;
                p.hint { "Paste the manager token a Portfolio Manager gave you (it starts with " code { "mgr_" } "). "
                    "The console keeps it in memory for this session only: a restart of Mission Control signs everyone out." }
                (form_error(error))
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// `GET /sign-in`: the form, in the request's session or a new anonymous one.
pub async fn form(State(st): State<Console>, headers: HeaderMap, visit: Option<Visit>) -> Response {
    match visit {
        Some(v) => page_with(StatusCode::OK, render(&v.session.csrf, &v.session.logins, None)),
        None => {
            let (sid, session) = st.sessions.create(vec![]);
            let mut response = page_with(StatusCode::OK, render(&session.csrf, &[], None));
            let secure = session::over_tls(&headers, st.options.secure_cookies);
            response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(Some(&sid), secure));
            response
        }
    }
}

/// `POST /sign-in`.
pub async fn submit(
    State(st): State<Console>,
    headers: HeaderMap,
    Extension(visit): Extension<Visit>,
    Extension(fields): Extension<Fields>,
) -> Response {
    let token = Zeroizing::new(fields.text("token").trim().to_string());
    let bearer = Bearer(token.to_string());
    let checked = st
        .app
        .db
        .run(move |tx| {
            let now = keyway_api::clock::now();
            if bearer.0.is_empty() {
                return Err(AppError::unauthorized("paste your manager token"));
            }
            let manager = auth::manager(tx, &bearer, now)?;
            let property = crate::settings::get(tx, &manager)?;
            Ok((manager.property_id, property.name))
        })
        .await;
    let (property_id, property_name) = match checked {
        Ok(found) => found,
        Err(e) => return page_with(e.status, render(&visit.session.csrf, &visit.session.logins, Some(&e))),
    };
    let mut logins: Vec<Login> =
        visit.session.logins.iter().filter(|l| l.property_id != property_id).cloned().collect();
    logins.push(Login { property_id, property_name, token });
    logins.sort_by(|a, b| a.property_name.cmp(&b.property_name).then(a.property_id.cmp(&b.property_id)));
    st.sessions.remove(&visit.sid);
    let (sid, _) = st.sessions.create(logins);
    let secure = session::over_tls(&headers, st.options.secure_cookies);
    let mut response = Redirect::to(&format!("/p/{property_id}/people")).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(Some(&sid), secure));
    response
}

/// `POST /sign-out`: the session is gone from memory and the cookie cleared.
pub async fn sign_out(State(st): State<Console>, headers: HeaderMap, Extension(visit): Extension<Visit>) -> Response {
    st.sessions.remove(&visit.sid);
    let secure = session::over_tls(&headers, st.options.secure_cookies);
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(None, secure));
    response
}
