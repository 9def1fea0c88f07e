//! The HTTP surface. Manager routes authenticate with a manager token, phone routes with a
//! device token (or a doorcode holder's token); every answer is JSON.

use crate::auth::{self, Bearer, Manager};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::feed::{self, FeedHub};
use crate::receipts::Uploader;
use crate::{access, guests, history, people, phone, provisioning, receipts, updates};
use axum::extract::State;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use keyway_api::*;
use keyway_protocol::UnixTime;
use rusqlite::Transaction;
use serde::Serialize;

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub feed: std::sync::Arc<FeedHub>,
    pub operators: std::sync::Arc<crate::operator::Operators>,
    /// Seconds a manager token works after it is issued or rotated.
    pub manager_token_lifetime: u64,
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({ "status": "ok" })) }))
        .route("/v1/properties", post(create_property))
        .route("/v1/property", get(property_settings).patch(set_property_settings))
        .route("/v1/property/authority", get(authority))
        .route("/v1/property/authority/rotation", post(rotate_authority))
        .route("/v1/doors", post(create_door).get(list_doors))
        .route("/v1/doors/{id}/rekey", post(rekey_door))
        .route("/v1/managers", post(create_manager).get(list_managers))
        .route("/v1/managers/me", get(me))
        .route("/v1/managers/me/rotate-token", post(rotate_token))
        .route("/v1/managers/{id}", axum::routing::delete(remove_manager))
        .route("/v1/managers/{id}/token", post(reissue_token))
        .route("/v1/managers/{id}/key-management", put(set_key_management))
        .route("/v1/invites", post(invite))
        .route("/v1/outbox", get(outbox))
        .route("/v1/people", get(list_people))
        .route("/v1/people/{id}", get(get_person).delete(delete_person))
        .route("/v1/people/{id}/keys", post(add_key))
        .route("/v1/people/{id}/revoke-all", post(revoke_all))
        .route("/v1/people/{id}/devices", get(list_devices))
        .route("/v1/people/{id}/devices/{device_id}", axum::routing::delete(remove_device))
        .route("/v1/people/{id}/device-codes", post(device_code_for_person))
        .route("/v1/phone/device-codes", post(device_code_for_self))
        .route("/v1/people/{id}/keycards", post(add_keycard))
        .route("/v1/people/{id}/keycards/{card}", axum::routing::delete(remove_keycard))
        .route("/v1/keys/{key_id}", patch(change_expiry).delete(delete_key))
        .route("/v1/door-updates", get(door_updates))
        .route("/v1/activity", get(activity))
        .route("/v1/phone/accept", post(accept))
        .route("/v1/phone/invite-preview", post(invite_preview))
        .route("/v1/phone/sync", post(sync))
        .route("/v1/phone/receipts", post(upload_receipts))
        .route("/v1/phone/guest-keys", post(register_guest_key))
        .route("/v1/guest-keys/refresh", post(refresh_guest_key))
        .route("/v1/doorcodes", get(doorcodes))
        .route("/v1/door-feed/challenge", post(feed_challenge))
        .route("/v1/door-feed/session", post(feed_session))
        .route("/v1/door-feed/updates", get(feed_updates))
        .route("/v1/door-feed/receipts", post(feed_receipts))
        .fallback(|| async { AppError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async { AppError::method_not_allowed() })
        .with_state(app)
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

async fn create_door(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<CreateDoorRequest>,
) -> AppResult<Json<ProvisionedDoor>> {
    as_manager(&app, bearer, move |tx, m, now| provisioning::create_door(tx, m, req, now)).await
}

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

async fn authority(State(app): State<App>, bearer: Bearer) -> AppResult<Json<AuthorityInfo>> {
    as_manager(&app, bearer, crate::rotation::status).await
}

async fn rotate_authority(State(app): State<App>, bearer: Bearer) -> AppResult<Json<AuthorityInfo>> {
    as_manager(&app, bearer, crate::rotation::start).await
}

async fn property_settings(State(app): State<App>, bearer: Bearer) -> AppResult<Json<PropertySettings>> {
    as_manager(&app, bearer, |tx, m, _| crate::settings::get(tx, m)).await
}

async fn set_property_settings(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<PropertySettingsRequest>,
) -> AppResult<Json<PropertySettings>> {
    as_manager(&app, bearer, move |tx, m, now| crate::settings::set(tx, m, req, now)).await
}

async fn list_doors(State(app): State<App>, bearer: Bearer) -> AppResult<Json<Vec<DoorInfo>>> {
    as_manager(&app, bearer, |tx, m, _| provisioning::list_doors(tx, m.property_id)).await
}

async fn create_manager(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<CreateManagerRequest>,
) -> AppResult<Json<ManagerCredentials>> {
    let lifetime = app.manager_token_lifetime;
    as_manager(&app, bearer, move |tx, m, now| provisioning::create_manager(tx, m, req, lifetime, now)).await
}

async fn list_managers(State(app): State<App>, bearer: Bearer) -> AppResult<Json<Vec<ManagerInfo>>> {
    as_manager(&app, bearer, |tx, m, _| provisioning::list_managers(tx, m)).await
}

async fn me(State(app): State<App>, bearer: Bearer) -> AppResult<Json<ManagerInfo>> {
    as_manager(&app, bearer, |tx, m, _| provisioning::me(tx, m)).await
}

async fn rotate_token(State(app): State<App>, bearer: Bearer) -> AppResult<Json<ManagerCredentials>> {
    let lifetime = app.manager_token_lifetime;
    as_manager(&app, bearer, move |tx, m, now| provisioning::rotate_token(tx, m, lifetime, now)).await
}

async fn reissue_token(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<ManagerCredentials>> {
    let lifetime = app.manager_token_lifetime;
    as_manager(&app, bearer, move |tx, m, now| provisioning::reissue_token(tx, m, id, lifetime, now)).await
}

async fn remove_manager(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<ManagerInfo>> {
    as_manager(&app, bearer, move |tx, m, _| provisioning::remove_manager(tx, m, id)).await
}

async fn set_key_management(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<SetKeyManagementRequest>,
) -> AppResult<Json<ManagerInfo>> {
    as_manager(&app, bearer, move |tx, m, _| provisioning::set_key_management(tx, m, id, req)).await
}

// ---- people and keys ----------------------------------------------------------------------

async fn invite(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<InviteRequest>,
) -> AppResult<Json<InviteResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::invite(tx, m, req, now).map(|(response, _token)| response)).await
}

async fn outbox(State(app): State<App>, bearer: Bearer) -> AppResult<Json<Vec<OutboxMessage>>> {
    as_manager(&app, bearer, |tx, m, _| history::outbox(tx, m)).await
}

async fn list_people(
    State(app): State<App>,
    bearer: Bearer,
    ApiQuery(q): ApiQuery<PeopleQuery>,
) -> AppResult<Json<Vec<PersonInfo>>> {
    as_manager(&app, bearer, move |tx, m, now| people::list(tx, m.property_id, q.show_expired, now)).await
}

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

async fn delete_person(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::delete_person(tx, m, id, now)).await
}

async fn add_key(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<AddKeyRequest>,
) -> AppResult<Json<KeyChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::add_key(tx, m, id, req, now)).await
}

async fn revoke_all(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::revoke_all(tx, m, id, now)).await
}

async fn add_keycard(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<AddKeycardRequest>,
) -> AppResult<Json<KeycardChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::add_keycard(tx, m, id, req, now)).await
}

async fn remove_keycard(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath((id, card)): ApiPath<(u64, String)>,
) -> AppResult<Json<KeycardChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::remove_keycard(tx, m, id, &card, now)).await
}

async fn change_expiry(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(key_id): ApiPath<u64>,
    ApiJson(req): ApiJson<ChangeExpiryRequest>,
) -> AppResult<Json<KeyChangeResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::change_expiry(tx, m, key_id, req, now)).await
}

async fn delete_key(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(key_id): ApiPath<u64>,
    ApiQuery(q): ApiQuery<DeleteKeyQuery>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| access::delete_key(tx, m, key_id, &q, now)).await
}

async fn door_updates(
    State(app): State<App>,
    bearer: Bearer,
    ApiQuery(q): ApiQuery<DoorUpdateQuery>,
) -> AppResult<Json<Vec<DoorUpdateTask>>> {
    as_manager(&app, bearer, move |tx, m, _| updates::tasks(tx, m.property_id, &q)).await
}

async fn activity(
    State(app): State<App>,
    bearer: Bearer,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> AppResult<Json<Vec<ActivityEntry>>> {
    as_manager(&app, bearer, move |tx, m, _| history::activity(tx, m.property_id, &q)).await
}

// ---- phones -------------------------------------------------------------------------------

async fn accept(
    State(app): State<App>,
    ApiJson(req): ApiJson<AcceptInviteRequest>,
) -> AppResult<Json<AcceptInviteResponse>> {
    app.db.run(move |tx| phone::accept(tx, req, keyway_api::clock::now())).await.map(Json)
}

async fn sync(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<SyncRequest>,
) -> AppResult<Json<SyncResponse>> {
    as_device(&app, bearer, move |tx, d, now| phone::sync(tx, d, req, now)).await
}

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

async fn list_devices(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<Vec<DeviceInfo>>> {
    as_manager(&app, bearer, move |tx, m, _| crate::devices::list(tx, m, id)).await
}

async fn remove_device(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath((id, device_id)): ApiPath<(u64, u64)>,
) -> AppResult<Json<RevocationResponse>> {
    as_manager(&app, bearer, move |tx, m, now| crate::devices::remove(tx, m, id, device_id, now)).await
}

async fn device_code_for_person(
    State(app): State<App>,
    bearer: Bearer,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<DeviceCode>> {
    as_manager(&app, bearer, move |tx, m, now| crate::devices::code_from_manager(tx, m, id, now)).await
}

async fn device_code_for_self(State(app): State<App>, bearer: Bearer) -> AppResult<Json<DeviceCode>> {
    as_device(&app, bearer, crate::devices::code_from_device).await
}

async fn invite_preview(
    State(app): State<App>,
    ApiJson(req): ApiJson<InvitePreviewRequest>,
) -> AppResult<Json<InvitePreview>> {
    app.db.run(move |tx| crate::phone::invite_preview(tx, req, keyway_api::clock::now())).await.map(Json)
}

async fn refresh_guest_key(
    State(app): State<App>,
    ApiJson(req): ApiJson<GuestRefreshRequest>,
) -> AppResult<Json<GuestRefreshResponse>> {
    app.db.run(move |tx| crate::guests::refresh(tx, req, keyway_api::clock::now())).await.map(Json)
}

async fn register_guest_key(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<RegisterGuestKeyRequest>,
) -> AppResult<Json<RegisterGuestKeyResponse>> {
    as_device(&app, bearer, move |tx, d, now| guests::register(tx, d, req, now)).await
}

async fn doorcodes(State(app): State<App>, bearer: Bearer) -> AppResult<Json<DoorcodesResponse>> {
    app.db.run(move |tx| phone::doorcodes(tx, &bearer, keyway_api::clock::now())).await.map(Json)
}

// ---- the door feed --------------------------------------------------------------------------

async fn feed_challenge(
    State(app): State<App>,
    ApiJson(req): ApiJson<FeedChallengeRequest>,
) -> AppResult<Json<FeedChallengeResponse>> {
    app.feed.challenge(req.door_id, keyway_api::clock::now()).map(Json)
}

async fn feed_session(
    State(app): State<App>,
    ApiJson(req): ApiJson<FeedSessionRequest>,
) -> AppResult<Json<FeedSessionResponse>> {
    let hub = app.feed.clone();
    app.db.run(move |tx| hub.authenticate(tx, &req.hello, keyway_api::clock::now())).await.map(Json)
}

/// Answers at once if the door's log holds an update after `after`, else when a manager's
/// change adds one, else empty after `wait_secs`.
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

async fn feed_receipts(
    State(app): State<App>,
    bearer: Bearer,
    ApiJson(req): ApiJson<UploadReceiptsRequest>,
) -> AppResult<Json<UploadReceiptsResponse>> {
    let session = app.feed.session(&bearer, keyway_api::clock::now())?;
    let from = Uploader::Door { property_id: session.property_id, door: session.door };
    upload_and_advance(&app, move |_| Ok(from), req).await
}
