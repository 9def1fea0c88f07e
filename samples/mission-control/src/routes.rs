//! The HTTP surface. Manager routes authenticate with a manager token, phone routes with a
//! device token (or a doorcode holder's token); every answer is JSON.

use crate::auth::{self, Bearer, Manager};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::feed::{self, FeedHub};
use crate::paging::Paged;
use crate::receipts::Uploader;
use crate::webhooks::{self, CreateWebhookRequest, CreatedWebhook, WebhookDelivery, WebhookEndpoint};
use crate::{access, guests, history, people, phone, provisioning, receipts, updates};
use axum::extract::State;
use axum::{Json, Router};
use keyway_api::*;
use keyway_protocol::UnixTime;
use rusqlite::Transaction;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub feed: std::sync::Arc<FeedHub>,
    pub operators: std::sync::Arc<crate::operator::Operators>,
    /// Seconds a manager token works after it is issued or rotated.
    pub manager_token_lifetime: u64,
    /// Webhook delivery settings (whether private targets are accepted).
    pub webhooks: std::sync::Arc<crate::WebhookOptions>,
}

/// Every route, each with its OpenAPI operation (`#[utoipa::path]` on its handler): the
/// router and the document at `/openapi.json` come from this one list ([`crate::openapi`]).
pub(crate) fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(create_property))
        .routes(routes!(property_settings, set_property_settings))
        .routes(routes!(authority))
        .routes(routes!(rotate_authority))
        .routes(routes!(create_door, list_doors))
        .routes(routes!(rekey_door))
        .routes(routes!(create_manager, list_managers))
        .routes(routes!(me))
        .routes(routes!(rotate_token))
        .routes(routes!(remove_manager))
        .routes(routes!(reissue_token))
        .routes(routes!(set_key_management))
        .routes(routes!(invite))
        .routes(routes!(import_people))
        .routes(routes!(outbox))
        .routes(routes!(list_people))
        .routes(routes!(get_person, delete_person))
        .routes(routes!(add_key))
        .routes(routes!(revoke_all))
        .routes(routes!(list_devices))
        .routes(routes!(remove_device))
        .routes(routes!(device_code_for_person))
        .routes(routes!(add_keycard))
        .routes(routes!(remove_keycard))
        .routes(routes!(change_expiry, delete_key))
        .routes(routes!(door_updates))
        .routes(routes!(activity))
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(delete_webhook))
        .routes(routes!(webhook_deliveries))
        .routes(routes!(accept))
        .routes(routes!(invite_preview))
        .routes(routes!(sync))
        .routes(routes!(upload_receipts))
        .routes(routes!(register_guest_key))
        .routes(routes!(device_code_for_self))
        .routes(routes!(refresh_guest_key))
        .routes(routes!(doorcodes))
        .routes(routes!(feed_challenge))
        .routes(routes!(feed_session))
        .routes(routes!(feed_updates))
        .routes(routes!(feed_receipts))
}

pub fn router(app: App) -> Router {
    let (router, _doc) = api().split_for_parts();
    router
        .fallback(|| async { AppError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async { AppError::method_not_allowed() })
        .with_state(app)
}

#[utoipa::path(get, path = "/health", tag = "meta", summary = "Liveness", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// `{"status": "ok"}` while the server runs.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: String,
}

/// This document: OpenAPI 3.1, generated from the handlers and the wire types.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", summary = "The OpenAPI document of this API",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

/// Runs `f` for the manager holding `bearer`, in one transaction.
async fn as_manager<T, F>(app: &App, bearer: Bearer, f: F) -> AppResult<Json<T>>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&Transaction, &Manager, UnixTime) -> AppResult<T> + Send + 'static,
{
    let answer = app
        .db
        .run(move |tx| {
            let now = keyway_api::clock::now();
            let manager = auth::manager(tx, &bearer, now)?;
            f(tx, &manager, now)
        })
        .await
        .map(Json);
    // A manager's change may have added to some door's log: waiting door feeds look again.
    if answer.is_ok() {
        app.feed.notify();
    }
    answer
}

/// Runs `f` for the device holding `bearer`, in one transaction.
async fn as_device<T, F>(app: &App, bearer: Bearer, f: F) -> AppResult<Json<T>>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&Transaction, &auth::Device, UnixTime) -> AppResult<T> + Send + 'static,
{
    app.db
        .run(move |tx| {
            let device = auth::device(tx, &bearer)?;
            f(tx, &device, keyway_api::clock::now())
        })
        .await
        .map(Json)
}

// ---- provisioning and managers ------------------------------------------------------------

/// The operator token is judged before the body: without it a caller learns nothing of its request.
#[utoipa::path(
    post,
    path = "/v1/properties",
    tag = "provisioning",
    summary = "Create a property and its first Portfolio Manager",
    security(("operator_token" = []), ()),
    request_body = CreatePropertyRequest,
    responses((status = 200, body = CreatePropertyResponse))
)]
async fn create_property(
    State(app): State<App>,
    bearer: Result<Bearer, AppError>,
    req: Result<ApiJson<CreatePropertyRequest>, AppError>,
) -> AppResult<Json<CreatePropertyResponse>> {
    let operators = app.operators.clone();
    let lifetime = app.manager_token_lifetime;
    app.db
        .run(move |tx| {
            let operator = operators.authorize(tx, bearer.as_ref())?;
            provisioning::create_property(tx, req?.0, operator, lifetime, keyway_api::clock::now())
        })
        .await
        .map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/doors",
    tag = "doors",
    summary = "Provision a door (Portfolio Manager); its secrets appear in this answer only",
    security(("manager_token" = [])),
    request_body = CreateDoorRequest,
    responses((status = 200, body = ProvisionedDoor))
)]
async fn create_door(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<CreateDoorRequest>,
) -> AppResult<Json<ProvisionedDoor>> {
    as_manager(&app, bearer, move |tx, m, now| provisioning::create_door(tx, m, req, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/doors/{id}/rekey",
    tag = "doors",
    summary = "Give a door a new key (Portfolio Manager)",
    security(("manager_token" = [])),
    params(("id" = u32, Path, description = "the door")),
    responses((status = 200, body = ProvisionedDoor))
)]
async fn rekey_door(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u32>,
) -> AppResult<Json<ProvisionedDoor>> {
    as_manager(&app, bearer, move |tx, m, now| {
        provisioning::rekey_door(tx, m, keyway_protocol::credential::DoorId(id), now)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/property/authority",
    tag = "provisioning",
    summary = "The authority key and the latest rotation",
    security(("manager_token" = [])),
    responses((status = 200, body = AuthorityInfo))
)]
async fn authority(State(app): State<App>, bearer: Bearer) -> AppResult<Json<AuthorityInfo>> {
    as_manager(&app, bearer, crate::rotation::status).await
}

#[utoipa::path(
    post,
    path = "/v1/property/authority/rotation",
    tag = "provisioning",
    summary = "Start an authority key rotation (Portfolio Manager)",
    security(("manager_token" = [])),
    responses((status = 200, body = AuthorityInfo))
)]
async fn rotate_authority(State(app): State<App>, bearer: Bearer) -> AppResult<Json<AuthorityInfo>> {
    as_manager(&app, bearer, crate::rotation::start).await
}

#[utoipa::path(
    get,
    path = "/v1/property",
    tag = "provisioning",
    summary = "The manager's property and its settings",
    security(("manager_token" = [])),
    responses((status = 200, body = PropertySettings))
)]
async fn property_settings(State(app): State<App>, bearer: Bearer) -> AppResult<Json<PropertySettings>> {
    as_manager(&app, bearer, |tx, m, _| crate::settings::get(tx, m)).await
}

#[utoipa::path(
    patch,
    path = "/v1/property",
    tag = "provisioning",
    summary = "Change property settings (Portfolio Manager)",
    security(("manager_token" = [])),
    request_body = PropertySettingsRequest,
    responses((status = 200, body = PropertySettings))
)]
async fn set_property_settings(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<PropertySettingsRequest>,
) -> AppResult<Json<PropertySettings>> {
    as_manager(&app, bearer, move |tx, m, now| crate::settings::set(tx, m, req, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/doors",
    tag = "doors",
    summary = "The doors of the property",
    security(("manager_token" = [])),
    responses((status = 200, body = Vec<DoorInfo>))
)]
async fn list_doors(State(app): State<App>, bearer: Bearer) -> AppResult<Json<Vec<DoorInfo>>> {
    as_manager(&app, bearer, |tx, m, _| provisioning::list_doors(tx, m.property_id)).await
}

#[utoipa::path(
    post,
    path = "/v1/managers",
    tag = "managers",
    summary = "Add a manager (Portfolio Manager)",
    security(("manager_token" = [])),
    request_body = CreateManagerRequest,
    responses((status = 200, body = ManagerCredentials))
)]
async fn create_manager(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<CreateManagerRequest>,
) -> AppResult<Json<ManagerCredentials>> {
    let lifetime = app.manager_token_lifetime;
    as_manager(&app, bearer, move |tx, m, now| provisioning::create_manager(tx, m, req, lifetime, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/managers",
    tag = "managers",
    summary = "The managers of the property",
    security(("manager_token" = [])),
    responses((status = 200, body = Vec<ManagerInfo>))
)]
async fn list_managers(State(app): State<App>, bearer: Bearer) -> AppResult<Json<Vec<ManagerInfo>>> {
    as_manager(&app, bearer, |tx, m, _| provisioning::list_managers(tx, m)).await
}

#[utoipa::path(
    get,
    path = "/v1/managers/me",
    tag = "managers",
    summary = "The manager holding the token",
    security(("manager_token" = [])),
    responses((status = 200, body = ManagerInfo))
)]
async fn me(State(app): State<App>, bearer: Bearer) -> AppResult<Json<ManagerInfo>> {
    as_manager(&app, bearer, |tx, m, _| provisioning::me(tx, m)).await
}

#[utoipa::path(
    post,
    path = "/v1/managers/me/rotate-token",
    tag = "managers",
    summary = "Replace the caller's token with a fresh one",
    security(("manager_token" = [])),
    responses((status = 200, body = ManagerCredentials))
)]
async fn rotate_token(State(app): State<App>, bearer: Bearer) -> AppResult<Json<ManagerCredentials>> {
    let lifetime = app.manager_token_lifetime;
    as_manager(&app, bearer, move |tx, m, now| provisioning::rotate_token(tx, m, lifetime, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/managers/{id}/token",
    tag = "managers",
    summary = "Issue a manager a new token (Portfolio Manager)",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the manager")),
    responses((status = 200, body = ManagerCredentials))
)]
async fn reissue_token(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<ManagerCredentials>> {
    let lifetime = app.manager_token_lifetime;
    as_manager(&app, bearer, move |tx, m, now| provisioning::reissue_token(tx, m, id, lifetime, now)).await
}

#[utoipa::path(
    delete,
    path = "/v1/managers/{id}",
    tag = "managers",
    summary = "Remove a manager (Portfolio Manager)",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the manager")),
    responses((status = 200, body = ManagerInfo))
)]
async fn remove_manager(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<ManagerInfo>> {
    as_manager(&app, bearer, move |tx, m, _| provisioning::remove_manager(tx, m, id)).await
}

#[utoipa::path(
    put,
    path = "/v1/managers/{id}/key-management",
    tag = "managers",
    summary = "Grant or withdraw Key Management (Portfolio Manager)",
    security(("manager_token" = [])),
    request_body = SetKeyManagementRequest,
    params(("id" = u64, Path, description = "the manager")),
    responses((status = 200, body = ManagerInfo))
)]
async fn set_key_management(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<SetKeyManagementRequest>,
) -> AppResult<Json<ManagerInfo>> {
    as_manager(&app, bearer, move |tx, m, _| provisioning::set_key_management(tx, m, id, req)).await
}

// ---- people and keys ----------------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/v1/invites",
    tag = "people",
    summary = "Invite a person (Key Management): keys, and a welcome message in the outbox",
    security(("manager_token" = [])),
    request_body = InviteRequest,
    responses((status = 200, body = InviteResponse))
)]
async fn invite(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<InviteRequest>,
) -> AppResult<Json<InviteResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::invite(tx, m, req, now).map(|(response, _token)| response)).await
}

/// One row, one invite (through the invite's own function: keys, welcome messages and the
/// `person.invited` webhook as for `POST /v1/invites`), every row checked and reported; the
/// accepted rows commit in one transaction. Columns: `name`, `contact`, `doors` (names or ids,
/// `;`-separated), `start`, `expiry` (or `never`), `resident`, `access`, `may_share`.
#[utoipa::path(
    post,
    path = "/v1/people/import",
    tag = "people",
    summary = "Import people from a CSV rent roll (Key Management), with a report of refused rows",
    security(("manager_token" = [])),
    params(crate::import::ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "a header row, then one person per row (at most 1 MiB, 5,000 rows)"),
    responses((status = 200, body = crate::import::ImportReport))
)]
async fn import_people(
    State(app): State<App>,
    bearer: Bearer,
    ApiQuery(q): ApiQuery<crate::import::ImportQuery>,
    crate::import::CsvBody(csv): crate::import::CsvBody,
) -> AppResult<Json<crate::import::ImportReport>> {
    as_manager(&app, bearer, move |tx, m, now| crate::import::import(tx, m, &csv, q.all_or_nothing, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/outbox",
    tag = "people",
    summary = "Welcome messages that would be emailed or texted (Key Management)",
    security(("manager_token" = [])),
    params(crate::paging::PageParams),
    responses((status = 200, body = Vec<OutboxMessage>, headers(("X-Next-Cursor" = String, description = "the `after` of the next page; absent on the last"), ("Link" = String, description = "`<the next page's URL>; rel=\"next\"`; absent on the last page"))))
)]
async fn outbox(
    State(app): State<App>,
    bearer: Bearer,
    paged: Paged<serde::de::IgnoredAny>,
) -> AppResult<axum::response::Response> {
    let page = paged.page.clone();
    let answer = as_manager(&app, bearer, move |tx, m, _| history::outbox_page(tx, m, &page)).await?;
    Ok(paged.answer(answer.0))
}

#[utoipa::path(
    get,
    path = "/v1/people",
    tag = "people",
    summary = "The people of the property",
    security(("manager_token" = [])),
    params(PeopleQuery),
    responses((status = 200, body = Vec<PersonInfo>))
)]
async fn list_people(
    State(app): State<App>,
    bearer: Bearer,
    ApiQuery(q): ApiQuery<PeopleQuery>,
) -> AppResult<Json<Vec<PersonInfo>>> {
    as_manager(&app, bearer, move |tx, m, now| people::list_query(tx, m.property_id, &q, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/people/{id}",
    tag = "people",
    summary = "One person, with keys, guests and keycards",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = PersonInfo))
)]
async fn get_person(State(app): State<App>, bearer: Bearer, ApiPath(id): ApiPath<u64>) -> AppResult<Json<PersonInfo>> {
    as_manager(&app, bearer, move |tx, m, now| {
        let person = people::in_property(tx, m.property_id, id)?;
        if person.deleted_at.is_some() {
            return Err(AppError::not_found(format!("unknown person {id}")));
        }
        people::info(tx, &person, now)
    })
    .await
}

#[utoipa::path(
    delete,
    path = "/v1/people/{id}",
    tag = "people",
    summary = "Delete Person (Key Management): every key ends; activity stays",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = RevocationResponse))
)]
async fn delete_person(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::delete_person(tx, m, id, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/people/{id}/keys",
    tag = "people",
    summary = "Grant a person one more key (Key Management)",
    security(("manager_token" = [])),
    request_body = AddKeyRequest,
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = KeyChangeResponse))
)]
async fn add_key(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<AddKeyRequest>,
) -> AppResult<Json<KeyChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::add_key(tx, m, id, req, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/people/{id}/revoke-all",
    tag = "people",
    summary = "Revoke All Keys (Key Management): the person's guests are revoked too",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = RevocationResponse))
)]
async fn revoke_all(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::revoke_all(tx, m, id, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/people/{id}/keycards",
    tag = "people",
    summary = "Issue a keycard (Key Management)",
    security(("manager_token" = [])),
    request_body = AddKeycardRequest,
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = KeycardChangeResponse))
)]
async fn add_keycard(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<AddKeycardRequest>,
) -> AppResult<Json<KeycardChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::add_keycard(tx, m, id, req, now)).await
}

#[utoipa::path(
    delete,
    path = "/v1/people/{id}/keycards/{card}",
    tag = "people",
    summary = "Remove a keycard (Key Management)",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person"), ("card" = String, Path, description = "the card id as hex")),
    responses((status = 200, body = KeycardChangeResponse))
)]
async fn remove_keycard(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath((id, card)): ApiPath<(u64, String)>,
) -> AppResult<Json<KeycardChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::remove_keycard(tx, m, id, &card, now)).await
}

#[utoipa::path(
    patch,
    path = "/v1/keys/{key_id}",
    tag = "people",
    summary = "Change a key's expiration (Key Management)",
    security(("manager_token" = [])),
    request_body = ChangeExpiryRequest,
    params(("key_id" = u64, Path, description = "the key")),
    responses((status = 200, body = KeyChangeResponse))
)]
async fn change_expiry(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(key_id): ApiPath<u64>,
    ApiJson(req): ApiJson<ChangeExpiryRequest>,
) -> AppResult<Json<KeyChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::change_expiry(tx, m, key_id, req, now)).await
}

#[utoipa::path(
    delete,
    path = "/v1/keys/{key_id}",
    tag = "people",
    summary = "Delete a key or a guest key (Key Management)",
    security(("manager_token" = [])),
    params(("key_id" = u64, Path, description = "the key (or a guest key)"), DeleteKeyQuery),
    responses((status = 200, body = RevocationResponse))
)]
async fn delete_key(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(key_id): ApiPath<u64>,
    ApiQuery(q): ApiQuery<DeleteKeyQuery>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::delete_key(tx, m, key_id, &q, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/door-updates",
    tag = "activity",
    summary = "Door update tasks: pending, delivered or rejected",
    security(("manager_token" = [])),
    params(DoorUpdateQuery, crate::paging::PageParams),
    responses((status = 200, body = Vec<DoorUpdateTask>, headers(("X-Next-Cursor" = String, description = "the `after` of the next page; absent on the last"), ("Link" = String, description = "`<the next page's URL>; rel=\"next\"`; absent on the last page"))))
)]
async fn door_updates(
    State(app): State<App>,
    bearer: Bearer,
    paged: Paged<DoorUpdateQuery>,
) -> AppResult<axum::response::Response> {
    let (q, page) = (paged.query.clone(), paged.page.clone());
    let answer = as_manager(&app, bearer, move |tx, m, _| updates::tasks_page(tx, m.property_id, &q, &page)).await?;
    Ok(paged.answer(answer.0))
}

#[utoipa::path(
    get,
    path = "/v1/activity",
    tag = "activity",
    summary = "Door activity from verified receipts",
    security(("manager_token" = [])),
    params(ActivityQuery, crate::paging::PageParams),
    responses((status = 200, body = Vec<ActivityEntry>, headers(("X-Next-Cursor" = String, description = "the `after` of the next page; absent on the last"), ("Link" = String, description = "`<the next page's URL>; rel=\"next\"`; absent on the last page"))))
)]
async fn activity(
    State(app): State<App>,
    bearer: Bearer,
    paged: Paged<ActivityQuery>,
) -> AppResult<axum::response::Response> {
    let (q, page) = (paged.query.clone(), paged.page.clone());
    let answer = as_manager(&app, bearer, move |tx, m, _| history::activity_page(tx, m.property_id, &q, &page)).await?;
    Ok(paged.answer(answer.0))
}

// ---- webhooks -----------------------------------------------------------------------------

/// The answer holds the endpoint's signing secret: the only time it is shown. Events are
/// posted with `X-Keyway-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    summary = "Register a webhook endpoint (Portfolio Manager)",
    security(("manager_token" = [])),
    request_body = CreateWebhookRequest,
    responses((status = 200, body = CreatedWebhook))
)]
async fn create_webhook(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<CreateWebhookRequest>,
) -> AppResult<Json<CreatedWebhook>> {
    let allow_private = app.webhooks.allow_private_targets;
    as_manager(&app, bearer, move |tx, m, now| webhooks::create(tx, m, req, allow_private, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "webhooks",
    summary = "The property's webhook endpoints (Portfolio Manager)",
    security(("manager_token" = [])),
    responses((status = 200, body = Vec<WebhookEndpoint>))
)]
async fn list_webhooks(State(app): State<App>, bearer: Bearer) -> AppResult<Json<Vec<WebhookEndpoint>>> {
    as_manager(&app, bearer, |tx, m, _| webhooks::list(tx, m)).await
}

#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Delete a webhook endpoint: nothing more is sent to it (Portfolio Manager)",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the endpoint")),
    responses((status = 200, body = WebhookEndpoint))
)]
async fn delete_webhook(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<WebhookEndpoint>> {
    as_manager(&app, bearer, move |tx, m, now| webhooks::delete(tx, m, id, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "An endpoint's delivery log: attempts, statuses, errors (Portfolio Manager)",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the endpoint")),
    responses((status = 200, body = Vec<WebhookDelivery>))
)]
async fn webhook_deliveries(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<Vec<WebhookDelivery>>> {
    as_manager(&app, bearer, move |tx, m, _| webhooks::deliveries(tx, m, id)).await
}

// ---- phones -------------------------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/v1/phone/accept",
    tag = "phone",
    summary = "Redeem an invite token or device code with the phone's device key",
    request_body = AcceptInviteRequest,
    responses((status = 200, body = AcceptInviteResponse))
)]
async fn accept(
    State(app): State<App>,
    ApiJson(req): ApiJson<AcceptInviteRequest>,
) -> AppResult<Json<AcceptInviteResponse>> {
    app.db.run(move |tx| phone::accept(tx, req, keyway_api::clock::now())).await.map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/phone/sync",
    tag = "phone",
    summary = "The device's keys, doors and pending door updates since its cursor",
    security(("device_token" = [])),
    request_body = SyncRequest,
    responses((status = 200, body = SyncResponse))
)]
async fn sync(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<SyncRequest>,
) -> AppResult<Json<SyncResponse>> {
    as_device(&app, bearer, move |tx, d, now| phone::sync(tx, d, req, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/phone/receipts",
    tag = "phone",
    summary = "Door receipts carried by the phone",
    security(("device_token" = [])),
    request_body = UploadReceiptsRequest,
    responses((status = 200, body = UploadReceiptsResponse))
)]
async fn upload_receipts(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<UploadReceiptsRequest>,
) -> AppResult<Json<UploadReceiptsResponse>> {
    upload_and_advance(&app, move |tx| Ok(Uploader::of_device(&auth::device(tx, &bearer)?)), req).await
}

/// Takes verified receipts, then moves the property's authority rotation on as far as the
/// doors they show allow (a rotation that moved queued updates for every door: waiting door
/// feeds look again).
async fn upload_and_advance(
    app: &App,
    from: impl FnOnce(&Transaction) -> AppResult<Uploader> + Send + 'static,
    req: UploadReceiptsRequest,
) -> AppResult<Json<UploadReceiptsResponse>> {
    let (answer, moved) = app
        .db
        .run(move |tx| {
            let from = from(tx)?;
            let now = keyway_api::clock::now();
            let answer = receipts::upload(tx, from, req, now)?;
            Ok((answer, crate::rotation::advance(tx, from.property_id(), now)?))
        })
        .await?;
    if moved {
        app.feed.notify();
    }
    Ok(Json(answer))
}

#[utoipa::path(
    get,
    path = "/v1/people/{id}/devices",
    tag = "people",
    summary = "A person's phones",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = Vec<DeviceInfo>))
)]
async fn list_devices(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<Vec<DeviceInfo>>> {
    as_manager(&app, bearer, move |tx, m, _| crate::devices::list(tx, m, id)).await
}

#[utoipa::path(
    delete,
    path = "/v1/people/{id}/devices/{device_id}",
    tag = "people",
    summary = "Remove a lost phone (Key Management)",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person"), ("device_id" = u64, Path, description = "the device")),
    responses((status = 200, body = RevocationResponse))
)]
async fn remove_device(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath((id, device_id)): ApiPath<(u64, u64)>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| crate::devices::remove(tx, m, id, device_id, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/people/{id}/device-codes",
    tag = "people",
    summary = "A one-time code that enrols another phone of the person",
    security(("manager_token" = [])),
    params(("id" = u64, Path, description = "the person")),
    responses((status = 200, body = DeviceCode))
)]
async fn device_code_for_person(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<DeviceCode>> {
    as_manager(&app, bearer, move |tx, m, now| crate::devices::code_from_manager(tx, m, id, now)).await
}

#[utoipa::path(
    post,
    path = "/v1/phone/device-codes",
    tag = "phone",
    summary = "A one-time code that enrols another phone of the same person",
    security(("device_token" = [])),
    responses((status = 200, body = DeviceCode))
)]
async fn device_code_for_self(State(app): State<App>, bearer: Bearer) -> AppResult<Json<DeviceCode>> {
    as_device(&app, bearer, crate::devices::code_from_device).await
}

#[utoipa::path(
    post,
    path = "/v1/phone/invite-preview",
    tag = "phone",
    summary = "What an invite token is for, before it is spent",
    request_body = InvitePreviewRequest,
    responses((status = 200, body = InvitePreview))
)]
async fn invite_preview(
    State(app): State<App>,
    ApiJson(req): ApiJson<InvitePreviewRequest>,
) -> AppResult<Json<InvitePreview>> {
    app.db.run(move |tx| crate::phone::invite_preview(tx, req, keyway_api::clock::now())).await.map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/guest-keys/refresh",
    tag = "phone",
    summary = "A guest's phone revalidates: the host key's current certificate",
    request_body = GuestRefreshRequest,
    responses((status = 200, body = GuestRefreshResponse))
)]
async fn refresh_guest_key(
    State(app): State<App>,
    ApiJson(req): ApiJson<GuestRefreshRequest>,
) -> AppResult<Json<GuestRefreshResponse>> {
    app.db.run(move |tx| crate::guests::refresh(tx, req, keyway_api::clock::now())).await.map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/phone/guest-keys",
    tag = "phone",
    summary = "Register a guest key the resident shared",
    security(("device_token" = [])),
    request_body = RegisterGuestKeyRequest,
    responses((status = 200, body = RegisterGuestKeyResponse))
)]
async fn register_guest_key(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<RegisterGuestKeyRequest>,
) -> AppResult<Json<RegisterGuestKeyResponse>> {
    as_device(&app, bearer, move |tx, d, now| guests::register(tx, d, req, now)).await
}

#[utoipa::path(
    get,
    path = "/v1/doorcodes",
    tag = "phone",
    summary = "Today's doorcodes of a doorcode holder",
    security(("doorcode_token" = [])),
    responses((status = 200, body = DoorcodesResponse))
)]
async fn doorcodes(State(app): State<App>, bearer: Bearer) -> AppResult<Json<DoorcodesResponse>> {
    app.db.run(move |tx| phone::doorcodes(tx, &bearer, keyway_api::clock::now())).await.map(Json)
}

// ---- the door feed --------------------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/v1/door-feed/challenge",
    tag = "door feed",
    summary = "A fresh challenge for an internet-connected door",
    request_body = FeedChallengeRequest,
    responses((status = 200, body = FeedChallengeResponse))
)]
async fn feed_challenge(
    State(app): State<App>,
    ApiJson(req): ApiJson<FeedChallengeRequest>,
) -> AppResult<Json<FeedChallengeResponse>> {
    app.feed.challenge(req.door_id, keyway_api::clock::now()).map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/door-feed/session",
    tag = "door feed",
    summary = "The door proves its key: a session token",
    request_body = FeedSessionRequest,
    responses((status = 200, body = FeedSessionResponse))
)]
async fn feed_session(
    State(app): State<App>,
    ApiJson(req): ApiJson<FeedSessionRequest>,
) -> AppResult<Json<FeedSessionResponse>> {
    let hub = app.feed.clone();
    app.db.run(move |tx| hub.authenticate(tx, &req.hello, keyway_api::clock::now())).await.map(Json)
}

/// Answers at once if the door's log holds an update after `after`, else when a manager's
/// change adds one, else empty after `wait_secs`.
#[utoipa::path(
    get,
    path = "/v1/door-feed/updates",
    tag = "door feed",
    summary = "Long-poll the door's update log",
    security(("feed_session" = [])),
    params(FeedUpdatesQuery),
    responses((status = 200, body = FeedUpdatesResponse))
)]
async fn feed_updates(
    State(app): State<App>,
    bearer: Bearer,
    ApiQuery(q): ApiQuery<FeedUpdatesQuery>,
) -> AppResult<Json<FeedUpdatesResponse>> {
    let session = app.feed.session(&bearer, keyway_api::clock::now())?;
    let wait = std::time::Duration::from_secs(u64::from(q.wait_secs.min(MAX_FEED_WAIT_SECS)));
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = app.feed.subscribe();
    loop {
        changes.borrow_and_update();
        let answer = app.db.run(move |tx| feed::poll(tx, &session, q.after, keyway_api::clock::now())).await?;
        if answer.batch.is_some() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(answer));
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(Json(answer)),
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/door-feed/receipts",
    tag = "door feed",
    summary = "The door's own receipts",
    security(("feed_session" = [])),
    request_body = UploadReceiptsRequest,
    responses((status = 200, body = UploadReceiptsResponse))
)]
async fn feed_receipts(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<UploadReceiptsRequest>,
) -> AppResult<Json<UploadReceiptsResponse>> {
    let session = app.feed.session(&bearer, keyway_api::clock::now())?;
    let from = Uploader::Door { property_id: session.property_id, door: session.door };
    upload_and_advance(&app, move |_| Ok(from), req).await
}
