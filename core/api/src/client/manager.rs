//! The manager's face of the client (feature `manager`): typed calls for the manager's
//! endpoints, for consoles, integrations, the walkthrough and tests that drive Mission Control
//! the way the manager's console would. Same transport and errors as the phone's face
//! ([`SyncClient`](super::SyncClient)), but no retries: a manager action such as an invite is
//! not idempotent, so a failure is reported and the caller decides.

use super::error::SyncError;
use super::http::Http;
use super::{ClientConfig, RetryPolicy};
use crate::*;
use keyway_protocol::credential::{DoorId, KeyId, PersonId};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A manager's session with Mission Control. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct ManagerClient {
    http: Http,
    token: String,
}

type Result<T> = std::result::Result<T, SyncError>;

impl ManagerClient {
    /// `base_url` such as `http://127.0.0.1:8787`; `token` a manager's bearer token (empty for
    /// no credential).
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Self> {
        Ok(ManagerClient { http: Http::new(&ClientConfig::new(base_url))?, token: token.into() })
    }

    /// The backend's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    /// Creates a property without a credential, which only a server with open property creation
    /// accepts (an in-process test server); the answer holds the first (Portfolio) manager's
    /// credentials.
    pub async fn create_property(
        base_url: &str,
        req: &CreatePropertyRequest,
    ) -> Result<(CreatePropertyResponse, ManagerClient)> {
        Self::create_property_as_operator(base_url, "", req).await
    }

    /// Creates a property with the server's operator token (401 without a known one; 403 once
    /// the token's quota of properties is reached; above its rate
    /// [`SyncError::TooManyRequests`] with the wait).
    pub async fn create_property_as_operator(
        base_url: &str,
        operator_token: &str,
        req: &CreatePropertyRequest,
    ) -> Result<(CreatePropertyResponse, ManagerClient)> {
        let operator = ManagerClient::new(base_url, operator_token)?;
        let created: CreatePropertyResponse = operator.call(Method::POST, "/v1/properties", Some(req)).await?;
        let client = operator.with_token(&created.manager.token);
        Ok((created, client))
    }

    /// The same server as another manager.
    pub fn with_token(&self, token: &str) -> ManagerClient {
        ManagerClient { http: self.http.clone(), token: token.to_string() }
    }

    pub async fn create_door(&self, name: &str, online: bool) -> Result<ProvisionedDoor> {
        self.call(Method::POST, "/v1/doors", Some(&CreateDoorRequest { name: name.into(), online })).await
    }

    pub async fn doors(&self) -> Result<Vec<DoorInfo>> {
        self.get("/v1/doors").await
    }

    /// Replaces a door's key (Portfolio Manager): the answer is the install for the door's
    /// re-provisioning in place (`DoorEngine::rekey`, `lock-sim rekey`); phones refuse the old
    /// key from their next sync on.
    pub async fn rekey_door(&self, door: DoorId) -> Result<ProvisionedDoor> {
        self.call::<(), _>(Method::POST, &format!("/v1/doors/{}/rekey", door.0), None).await
    }

    /// The authority key and the latest rotation (Portfolio Manager).
    pub async fn authority(&self) -> Result<AuthorityInfo> {
        self.get("/v1/property/authority").await
    }

    /// Starts replacing the property's authority key (Portfolio Manager); the rotation then
    /// moves on by itself as doors apply its updates.
    pub async fn rotate_authority(&self) -> Result<AuthorityInfo> {
        self.call::<(), _>(Method::POST, "/v1/property/authority/rotation", None).await
    }

    /// The property's settings.
    pub async fn property_settings(&self) -> Result<PropertySettings> {
        self.get("/v1/property").await
    }

    /// Changes the property's UTC offset (Portfolio Manager); every door gets a
    /// `SetUtcOffset` update.
    pub async fn set_utc_offset(&self, minutes: i16) -> Result<PropertySettings> {
        let req = PropertySettingsRequest { utc_offset_minutes: Some(minutes), ..Default::default() };
        self.call(Method::PATCH, "/v1/property", Some(&req)).await
    }

    /// Sets the property's revalidation window (Portfolio Manager), 1 to 90 days.
    pub async fn set_revalidation_days(&self, days: u32) -> Result<PropertySettings> {
        let req = PropertySettingsRequest { revalidation_days: Some(days), ..Default::default() };
        self.call(Method::PATCH, "/v1/property", Some(&req)).await
    }

    pub async fn create_manager(&self, req: &CreateManagerRequest) -> Result<ManagerCredentials> {
        self.call(Method::POST, "/v1/managers", Some(req)).await
    }

    pub async fn managers(&self) -> Result<Vec<ManagerInfo>> {
        self.get("/v1/managers").await
    }

    pub async fn me(&self) -> Result<ManagerInfo> {
        self.get("/v1/managers/me").await
    }

    /// Removes a manager (Portfolio Manager only); their token is refused at once. The last
    /// Portfolio Manager and the last manager with Key Management cannot be removed (409).
    pub async fn remove_manager(&self, manager_id: u64) -> Result<ManagerInfo> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/managers/{manager_id}"), None).await
    }

    /// A fresh token for this manager, with a fresh lifetime (see
    /// [`ManagerCredentials::expires_at`]); this client's token stops working (continue with
    /// [`with_token`](Self::with_token) and the new one). An expired token cannot rotate.
    pub async fn rotate_token(&self) -> Result<ManagerCredentials> {
        self.call::<(), _>(Method::POST, "/v1/managers/me/rotate-token", None).await
    }

    /// A new token for another manager of the property (Portfolio Manager only), with a fresh
    /// lifetime: how a manager whose token expired or was lost gets back in. Their old token
    /// stops working.
    pub async fn reissue_token(&self, manager_id: u64) -> Result<ManagerCredentials> {
        self.call::<(), _>(Method::POST, &format!("/v1/managers/{manager_id}/token"), None).await
    }

    pub async fn set_key_management(&self, manager_id: u64, enabled: bool) -> Result<ManagerInfo> {
        self.call(
            Method::PUT,
            &format!("/v1/managers/{manager_id}/key-management"),
            Some(&SetKeyManagementRequest { enabled }),
        )
        .await
    }

    pub async fn invite(&self, req: &InviteRequest) -> Result<InviteResponse> {
        self.call(Method::POST, "/v1/invites", Some(req)).await
    }

    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>> {
        self.get("/v1/outbox").await
    }

    /// The token of the newest welcome message to `person` (what the email would carry), while
    /// it is still shown: `None` once it was used or withdrawn.
    pub async fn welcome_token(&self, person: PersonId) -> Result<Option<String>> {
        let newest = self.outbox().await?.into_iter().rev().find(|m| m.person_id == person);
        Ok(newest.map(|m| m.token).filter(|t| !t.is_empty()))
    }

    /// Deletes a guest key id registered under `parent` (needed when several keys of the
    /// property hold a guest key of that id).
    pub async fn delete_guest_key(&self, parent: KeyId, guest: KeyId) -> Result<RevocationResponse> {
        let path = format!("/v1/keys/{}?parent_key_id={}", guest.0, parent.0);
        self.call::<(), _>(Method::DELETE, &path, None).await
    }

    pub async fn people(&self, show_expired: bool) -> Result<Vec<PersonInfo>> {
        self.get(&format!("/v1/people?show_expired={show_expired}")).await
    }

    pub async fn person(&self, person: PersonId) -> Result<PersonInfo> {
        self.get(&format!("/v1/people/{}", person.0)).await
    }

    pub async fn add_key(&self, person: PersonId, grant: &KeyGrant) -> Result<KeyChangeResponse> {
        self.call(Method::POST, &format!("/v1/people/{}/keys", person.0), Some(grant)).await
    }

    /// A new expiry for `key`: a time (`UnixTime` converts) or [`Expiry::Never`].
    pub async fn change_expiry(&self, key: KeyId, expiry: impl Into<Expiry>) -> Result<KeyChangeResponse> {
        let body = ChangeExpiryRequest { expiry: expiry.into() };
        self.call(Method::PATCH, &format!("/v1/keys/{}", key.0), Some(&body)).await
    }

    /// Deletes an authority-issued key or a registered guest key.
    pub async fn delete_key(&self, key: KeyId) -> Result<RevocationResponse> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/keys/{}", key.0), None).await
    }

    /// A one-time code that enrols another phone of `person` (Key Management).
    pub async fn device_code(&self, person: PersonId) -> Result<DeviceCode> {
        self.call::<(), _>(Method::POST, &format!("/v1/people/{}/device-codes", person.0), None).await
    }

    /// The person's devices, removed ones included.
    pub async fn devices(&self, person: PersonId) -> Result<Vec<DeviceInfo>> {
        self.get(&format!("/v1/people/{}/devices", person.0)).await
    }

    /// Removes a lost device (Key Management): refused at once by Mission Control and, through a
    /// `RevokeDevice` update, at the doors.
    pub async fn remove_device(&self, person: PersonId, device_id: u64) -> Result<RevocationResponse> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/people/{}/devices/{device_id}", person.0), None).await
    }

    pub async fn revoke_all_keys(&self, person: PersonId) -> Result<RevocationResponse> {
        self.call::<(), _>(Method::POST, &format!("/v1/people/{}/revoke-all", person.0), None).await
    }

    pub async fn delete_person(&self, person: PersonId) -> Result<RevocationResponse> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/people/{}", person.0), None).await
    }

    pub async fn add_keycard(&self, person: PersonId, req: &AddKeycardRequest) -> Result<KeycardChangeResponse> {
        self.call(Method::POST, &format!("/v1/people/{}/keycards", person.0), Some(req)).await
    }

    pub async fn remove_keycard(&self, person: PersonId, card_hex: &str) -> Result<KeycardChangeResponse> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/people/{}/keycards/{card_hex}", person.0), None).await
    }

    pub async fn door_updates(&self, door: Option<DoorId>, state: Option<TaskState>) -> Result<Vec<DoorUpdateTask>> {
        let mut query = Vec::new();
        if let Some(d) = door {
            query.push(format!("door_id={}", d.0));
        }
        if let Some(s) = state {
            query.push(format!("state={}", if s == TaskState::Pending { "pending" } else { "delivered" }));
        }
        self.get(&format!("/v1/door-updates?{}", query.join("&"))).await
    }

    pub async fn activity(&self, door: Option<DoorId>, person: Option<PersonId>) -> Result<Vec<ActivityEntry>> {
        let mut query = Vec::new();
        if let Some(d) = door {
            query.push(format!("door_id={}", d.0));
        }
        if let Some(p) = person {
            query.push(format!("person_id={}", p.0));
        }
        self.get(&format!("/v1/activity?{}", query.join("&"))).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let bearer = (!self.token.is_empty()).then_some(self.token.as_str());
        self.http.call(method, path, bearer, body, &RetryPolicy::none()).await
    }
}
