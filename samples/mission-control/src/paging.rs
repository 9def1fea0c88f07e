//! Keyset paging of list endpoints (`?limit=&after=`): additive, so a request without either
//! gets the whole list as before, and the JSON body stays a plain array. The next page's cursor
//! travels in headers: `X-Next-Cursor: <cursor>` and `Link: <path?...&after=<cursor>>;
//! rel="next"`, both absent on the last page. A cursor is opaque to clients (today the sort key
//! of the page's last entry); a malformed one is a 400.

use crate::error::{AppError, AppResult};
use axum::Json;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest page; `after` without `limit` pages by this.
pub const MAX_LIMIT: u32 = 500;

/// The paging parameters, as documented (read by [`Paged`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Page size, 1 to 500. Without `limit` and `after` the whole list comes back.
    limit: Option<u32>,
    /// The `X-Next-Cursor` of the previous page.
    after: Option<String>,
}

/// Which slice of a list to read.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub limit: Option<u32>,
    pub after: Option<String>,
}

impl Page {
    /// The whole list.
    pub const ALL: Page = Page { limit: None, after: None };

    /// `LIMIT` for SQL: one more than the page, to know whether another follows (-1: none).
    pub fn sql_limit(&self) -> i64 {
        self.limit.map_or(-1, |l| i64::from(l) + 1)
    }

    /// The cursor's `N` numbers, or `None` on the first page.
    pub fn after<const N: usize>(&self) -> AppResult<Option<[i64; N]>> {
        let Some(cursor) = &self.after else { return Ok(None) };
        let bad = || AppError::bad_request(format!("invalid query: after: {cursor:?} is not a cursor of this list"));
        let parts = cursor.split('.').map(|p| p.parse::<i64>().map_err(|_| bad())).collect::<AppResult<Vec<_>>>()?;
        parts.try_into().map(Some).map_err(|_| bad())
    }

    /// Cuts `rows` (read with [`Page::sql_limit`]) to the page; the next cursor if more follow.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
        match self.limit {
            Some(limit) if rows.len() > limit as usize => {
                rows.truncate(limit as usize);
                let next = rows.last().map(key);
                (rows, next)
            }
            _ => (rows, None),
        }
    }
}

/// A list query `T` plus `limit` and `after`, which are taken out before `T` reads the rest
/// (so `T` may deny unknown fields).
pub struct Paged<T> {
    pub query: T,
    pub page: Page,
    /// The request's path and its other parameters, for the `Link` header.
    path: String,
    rest: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Paged<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut page = Page::default();
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            match &*k {
                "limit" => {
                    let limit = v.parse::<u32>().ok().filter(|l| (1..=MAX_LIMIT).contains(l)).ok_or_else(|| {
                        AppError::bad_request(format!("invalid query: limit: expected 1 to {MAX_LIMIT}, not {v:?}"))
                    })?;
                    page.limit = Some(limit);
                }
                "after" => page.after = Some(v.into_owned()),
                _ => {
                    rest.append_pair(&k, &v);
                }
            }
        }
        if page.after.is_some() && page.limit.is_none() {
            page.limit = Some(MAX_LIMIT);
        }
        let rest = rest.finish();
        let uri: Uri = format!("/?{rest}").parse().map_err(|_| AppError::bad_request("invalid query"))?;
        let query = Query::<T>::try_from_uri(&uri)
            .map_err(|r| AppError::bad_request(format!("invalid query: {}", r.body_text())))?
            .0;
        Ok(Paged { query, page, path: parts.uri.path().to_string(), rest })
    }
}

impl<T> Paged<T> {
    /// The JSON array, with the next page's headers when one follows.
    pub fn answer<R: Serialize>(&self, (rows, next): (Vec<R>, Option<String>)) -> Response {
        let mut response = Json(rows).into_response();
        if let Some(next) = next {
            let mut query = form_urlencoded::Serializer::new(self.rest.clone());
            query.append_pair("limit", &self.page.limit.unwrap_or(MAX_LIMIT).to_string());
            query.append_pair("after", &next);
            let link = format!("<{}?{}>; rel=\"next\"", self.path, query.finish());
            let h = response.headers_mut();
            if let (Ok(cursor), Ok(link)) = (HeaderValue::from_str(&next), HeaderValue::from_str(&link)) {
                h.insert("x-next-cursor", cursor);
                h.insert(axum::http::header::LINK, link);
            }
        }
        response
    }
}
