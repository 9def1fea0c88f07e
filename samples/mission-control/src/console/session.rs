//! Console sessions: in memory only, so a restart of Mission Control signs everyone out (a
//! manager signs in again with their token).
//!
//! A session id is 32 random bytes (hex in the cookie); the store keys sessions by the id's
//! SHA-256, so a lookup compares digests, never the secret itself. A session holds the manager
//! tokens it was signed in with (one per property: the left menu's property list) and is
//! judged by them on every request through [`crate::auth::manager`], exactly as a bearer
//! token is: a token that was rotated, reissued or expired, or a removed manager, stops the
//! session's access to that property at once. Before sign-in a session holds no token and
//! serves only the sign-in form's CSRF token.

use crate::auth::random_hex;
use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The cookie's name.
pub const COOKIE: &str = "keyway_console";
/// A signed-in session lasts this long from sign-in, however busy (then: sign in again).
pub const SIGNED_IN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// A session that has not signed in yet (the sign-in form's CSRF token) lasts this long.
pub const ANONYMOUS_LIFETIME: Duration = Duration::from_secs(3600);
/// Most sessions held at once; past it the oldest sessions that never signed in go first,
/// then the oldest of all.
pub const MAX_SESSIONS: usize = 10_000;

/// One property a session is signed in to.
#[derive(Clone)]
pub struct Login {
    pub property_id: i64,
    pub property_name: String,
    /// The manager token, kept to judge every request by it (memory only).
    pub token: Zeroizing<String>,
}

#[derive(Clone)]
pub struct Session {
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub logins: Vec<Login>,
    /// A one-shot message for the next page ("Invited Ann").
    pub flash: Option<String>,
    expires: Instant,
    created: Instant,
}

impl Session {
    fn new(lifetime: Duration) -> Self {
        let now = Instant::now();
        Session { csrf: random_hex(32), logins: Vec::new(), flash: None, expires: now + lifetime, created: now }
    }

    pub fn login(&self, property_id: i64) -> Option<&Login> {
        self.logins.iter().find(|l| l.property_id == property_id)
    }
}

/// The store. Cloning a [`Session`] out of it is how handlers read one.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<[u8; 32], Session>>);

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session with a fresh id and CSRF token, signed in to `logins` (none: anonymous).
    /// Returns its id, for the cookie.
    pub fn create(&self, logins: Vec<Login>) -> (String, Session) {
        let lifetime = if logins.is_empty() { ANONYMOUS_LIFETIME } else { SIGNED_IN_LIFETIME };
        let mut session = Session::new(lifetime);
        session.logins = logins;
        let id = random_hex(32);
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        while map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| (!s.logins.is_empty(), s.created))
                .map(|(k, _)| *k)
                .expect("the map is not empty");
            map.remove(&oldest);
        }
        map.insert(key(&id), session.clone());
        (id, session)
    }

    /// The live session of `id`.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        let k = key(id);
        match map.get(&k) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Changes the live session of `id` in place.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.lock().get_mut(&key(id)) {
            f(s);
        }
    }

    /// Takes the session's one-shot message.
    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.lock().get_mut(&key(id)).and_then(|s| s.flash.take())
    }

    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().remove(&key(id))
    }

    #[cfg(test)]
    pub fn expire_now(&self, id: &str) {
        self.update(id, |s| s.expires = Instant::now());
    }
}

/// The session id in the request's `Cookie` headers, if any (64 hex digits).
pub fn id_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(_, value)| value.to_string())
}

/// Whether the cookie gets `Secure`: always when the server is told it sits behind TLS
/// ([`super::ConsoleOptions::secure_cookies`]), else when the request says it came over TLS
/// (`X-Forwarded-Proto: https` from a TLS-terminating proxy, or `Forwarded: proto=https`).
/// Over plain HTTP a `Secure` cookie would never come back, so it is not set there.
pub fn over_tls(headers: &HeaderMap, always: bool) -> bool {
    if always {
        return true;
    }
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').next().unwrap_or("").split(';').any(|part| {
            part.trim().split_once('=').is_some_and(|(k, val)| {
                k.trim().eq_ignore_ascii_case("proto") && val.trim().trim_matches('"').eq_ignore_ascii_case("https")
            })
        })
    });
    forwarded_proto || forwarded
}

/// The `Set-Cookie` value that sets session `id` (`None`: clears it).
pub fn set_cookie(id: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = match id {
        Some(id) => {
            format!(
                "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
                SIGNED_IN_LIFETIME.as_secs()
            )
        }
        None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).expect("a cookie of hex digits is a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_only_over_tls() {
        let id = "ab".repeat(32);
        let plain = set_cookie(Some(&id), false);
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with(&format!("{COOKIE}={id};")), "{plain}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(plain.split("; ").any(|p| p == part), "{part} missing: {plain}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        let tls = set_cookie(Some(&id), true);
        assert!(tls.to_str().unwrap().ends_with("; Secure"), "{tls:?}");
        let cleared = set_cookie(None, false);
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"), "{cleared:?}");
    }

    #[test]
    fn tls_is_judged_by_the_setting_or_the_forwarded_protocol() {
        assert!(!over_tls(&headers(&[]), false));
        assert!(over_tls(&headers(&[]), true));
        assert!(over_tls(&headers(&[("x-forwarded-proto", "https")]), false));
        assert!(over_tls(&headers(&[("x-forwarded-proto", "HTTPS, http")]), false));
        assert!(!over_tls(&headers(&[("x-forwarded-proto", "http")]), false));
        assert!(over_tls(&headers(&[("forwarded", "for=192.0.2.1;proto=https;by=x")]), false));
        assert!(over_tls(&headers(&[("forwarded", "proto=\"https\"")]), false));
        assert!(!over_tls(&headers(&[("forwarded", "proto=http")]), false));
    }

    #[test]
    fn the_session_id_is_read_only_from_its_own_well_formed_cookie() {
        let id = "0f".repeat(32);
        assert_eq!(id_from(&headers(&[("cookie", &format!("a=b; {COOKIE}={id}; c=d"))])), Some(id.clone()));
        assert_eq!(id_from(&headers(&[("cookie", "a=b"), ("cookie", &format!("{COOKIE}={id}"))])), Some(id));
        assert_eq!(id_from(&headers(&[("cookie", &format!("{COOKIE}=short"))])), None);
        assert_eq!(id_from(&headers(&[("cookie", &format!("x{COOKIE}={}", "0f".repeat(32)))])), None);
    }

    #[test]
    fn sessions_expire_and_are_keyed_by_a_fresh_random_id() {
        let store = Sessions::default();
        let (a, sa) = store.create(vec![]);
        let (b, sb) = store.create(vec![]);
        assert_ne!(a, b);
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!(a.len(), 64);
        assert!(store.get(&a).is_some());
        store.expire_now(&a);
        assert!(store.get(&a).is_none(), "an expired session is gone");
        assert!(store.get(&b).is_some());
        assert!(store.remove(&b).is_some());
        assert!(store.get(&b).is_none(), "a signed-out session is gone");
    }
}
