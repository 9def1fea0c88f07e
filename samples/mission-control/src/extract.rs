//! Request extractors whose refusals are JSON [`AppError`]s (axum's own answer plain text).

use crate::auth::Bearer;
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body (`Content-Type: application/json` or `application/*+json`), read by
/// [`keyway_api::json::from_slice`]: structs by field name only, so a positional array where an
/// object is expected is refused, at any depth, as are unknown fields. Malformed or mistyped
/// JSON answers 400 naming the path of the value (413 when too large).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !json_content_type(req.headers()) {
            return Err(AppError::bad_request("invalid JSON body: expected Content-Type: application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::payload_too_large("request body too large")
            } else {
                AppError::bad_request(format!("cannot read the request body: {}", r.body_text()))
            }
        })?;
        keyway_api::json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// `application/json` or `application/<anything>+json`, parameters (`; charset=utf-8`) aside.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Path parameters; a non-numeric id answers 400.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| AppError::bad_request(format!("invalid path: {}", r.body_text())))
    }
}

/// Query parameters; bad values answer 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| AppError::bad_request(format!("invalid query: {}", r.body_text())))
    }
}

/// `Authorization: Bearer <token>`; missing or malformed answers 401.
impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| AppError::unauthorized("missing Authorization: Bearer token"))?;
        let text = value.to_str().map_err(|_| AppError::unauthorized("malformed Authorization header"))?;
        // The scheme name is case-insensitive (RFC 9110).
        let token = text
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| AppError::unauthorized("malformed Authorization header: expected Bearer <token>"))?;
        Ok(Bearer(token.to_string()))
    }
}
