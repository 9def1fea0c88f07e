//! CSRF protection: every form carries its session's random token in a hidden field, and every
//! POST to the console is refused (403) unless that field matches the session of the request's
//! cookie. The check is a layer over the whole console router, so no handler can forget it:
//! handlers read the form only as the [`Fields`] this guard parsed. `SameSite=Strict` on the
//! cookie is the second fence (a cross-site form post carries no cookie at all).

use super::session;
use super::{Console, Visit, bare_page, page_with};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use maud::html;

/// The hidden field's name.
pub const FIELD: &str = "csrf";
/// Largest form body the console reads.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// A POSTed form's fields, in order (a field may repeat: checkboxes of doors).
#[derive(Clone, Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or "" without one.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A checkbox: present and not "off".
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "off")
    }
}

/// Equal strings, in time that depends only on their lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a POST needs before any handler sees it: a live session (from its cookie) and that
/// session's CSRF token in the form. Anything else is refused with 403 and changes nothing.
/// Other methods pass untouched (the console's GET pages change nothing).
pub async fn guard(State(st): State<Console>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let visit =
        session::id_from(req.headers()).and_then(|sid| st.sessions.get(&sid).map(|session| Visit { sid, session }));
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "This form is too large."),
    };
    let fields = Fields::parse(&bytes);
    let Some(visit) = visit else {
        return refuse(
            StatusCode::FORBIDDEN,
            "Your console session has ended or your browser sent no session cookie: open the page again and retry.",
        );
    };
    match fields.get(FIELD) {
        Some(sent) if same(sent, &visit.session.csrf) => {}
        Some(_) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "This form's CSRF token is not this session's: open the page again and retry.",
            );
        }
        None => return refuse(StatusCode::FORBIDDEN, "This form carries no CSRF token: the request was refused."),
    }
    let mut req = Request::from_parts(parts, Body::empty());
    req.extensions_mut().insert(fields);
    req.extensions_mut().insert(visit);
    next.run(req).await
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "Request refused" }
        p.error role="alert" { (message) }
        p { a href="/" { "Back to the console" } }
    };
    page_with(status, bare_page("Request refused", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_order_and_repeats() {
        let f = Fields::parse(b"csrf=ab&door=1&door=2&name=Ann+Lee&resident=on&empty=");
        assert_eq!(f.get("csrf"), Some("ab"));
        assert_eq!(f.all("door"), vec!["1", "2"]);
        assert_eq!(f.text("name"), "Ann Lee");
        assert!(f.checked("resident"));
        assert!(!f.checked("may_share"));
        assert_eq!(f.text("missing"), "");
        assert_eq!(f.get("empty"), Some(""));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abcd", "abcd"));
        assert!(!same("abcd", "abce"));
        assert!(!same("abcd", "abc"));
        assert!(!same("", "a"));
    }
}
