//! The OpenAPI 3.1 document served at `GET /openapi.json`.
//!
//! It is generated, never written by hand: each handler in [`crate::routes`] carries its
//! operation (`#[utoipa::path]`: method, path, auth, request and answer types), the wire types
//! in `keyway_api` derive their schemas (feature `openapi`), and the router and the document
//! are built from the same list of routes ([`crate::routes::api`]), so a route cannot be
//! served without being documented. What every operation shares is added here: the bearer
//! schemes, the error body ([`keyway_api::ApiError`]) on every refusal, `Retry-After` on 429.

use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, Response, path::Operation};
use utoipa::{PartialSchema, ToSchema};

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| finish(crate::routes::api().into_openapi()))
}

/// The bearer schemes, by the name operations refer to them with.
pub const SCHEMES: [(&str, &str); 5] = [
    (
        "manager_token",
        "A manager's token (`mgr_…`), from property creation, `POST /v1/managers` or a rotation. \
         It expires (`expires_at`, 90 days by default); an expired or unknown token answers 401.",
    ),
    (
        "operator_token",
        "The operator token of a server that requires one to create properties (`mission-control \
         --operator-token-file`); a server started with open property creation needs none.",
    ),
    ("device_token", "A phone's device token (`dev_…`), from `POST /v1/phone/accept`."),
    ("doorcode_token", "The token of a doorcode holder's welcome message (outbox `token`)."),
    ("feed_session", "An internet-connected door's session token, from `POST /v1/door-feed/session`."),
];

/// What the generated paths lack: title, schemes, tags, shared schemas.
pub fn base() -> OpenApi {
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("Keyway Mission Control")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The reference backend of Keyway: the property manager's API, the phone API and the \
                     door feed. JSON in and out; signed objects travel as base64 of their canonical \
                     bytes. Every refusal is an `ApiError` with a status-mirroring `code`. Request \
                     bodies are read by field name and unknown fields are refused.",
                ))
                .build(),
        )
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, description) in SCHEMES {
        components.add_security_scheme(
            name,
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build(),
            ),
        );
    }
    doc
}

/// Adds what every operation shares, and the schemas of `keyway_protocol` types.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in keyway_api::openapi::protocol_schemas() {
        components.schemas.insert(name, schema);
    }
    let mut shared = Vec::new();
    <keyway_api::ApiError as ToSchema>::schemas(&mut shared);
    shared.push((keyway_api::ApiError::name().into(), keyway_api::ApiError::schema()));
    for (name, schema) in shared {
        components.schemas.insert(name, schema);
    }
    let error_ref = RefOr::Ref(utoipa::openapi::Ref::from_schema_name(keyway_api::ApiError::name()));
    let error = |description: &str| -> Response {
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content("application/json", utoipa::openapi::Content::new(Some(error_ref.clone())))
            .build()
    };
    let too_many = {
        let mut r = error("Too many requests of this kind from this credential: retry after `Retry-After` seconds");
        let header = utoipa::openapi::HeaderBuilder::new()
            .schema(Some(u64::schema()))
            .description(Some("Seconds to wait"))
            .build();
        r.headers.insert("Retry-After".into(), header.into());
        r
    };
    for (_, item) in doc.paths.paths.iter_mut() {
        for op in operations(item) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let responses = &mut op.responses.responses;
            let mut add = |status: &str, response: Response| {
                responses.entry(status.into()).or_insert(RefOr::T(response));
            };
            add("400", error("Malformed request: the message names the field or value"));
            if secured {
                add("401", error("Missing, unknown or expired bearer token"));
                add("403", error("The caller lacks the permission (the message says whom to ask)"));
            }
            add("404", error("Unknown id, or an id of another property"));
            add("409", error("The request conflicts with what is stored"));
            add("410", error("Gone for good"));
            add("413", error("Request body too large"));
            add("429", too_many.clone());
            add("500", error("A fault of the server; retrying may help"));
            add("503", error("The server is busy; retry shortly"));
        }
    }
    doc
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}
