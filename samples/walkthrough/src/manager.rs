//! A small typed client for Mission Control's manager endpoints (the console's side of
//! `keyway_api::manager`).

use keyway_api::*;
use keyway_protocol::credential::{DoorId, KeyId, PersonId};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("Mission Control refused ({status}): {}", .error.message)]
    Refused { status: u16, error: ApiError },
    #[error("Mission Control: {0}")]
    Http(#[from] reqwest::Error),
    #[error("Mission Control answered {status} with an unreadable body: {detail}")]
    BadAnswer { status: u16, detail: String },
}

/// The console of one manager (one bearer token) at one Mission Control.
#[derive(Clone, Debug)]
pub struct ManagerClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ManagerClient {
    pub fn new(base_url: &str, token: &str) -> Self {
        ManagerClient {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// The same console signed in as another manager.
    pub fn as_manager(&self, token: &str) -> Self {
        ManagerClient { token: token.to_string(), ..self.clone() }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<T, ManagerError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&bytes).map_err(|e| ManagerError::BadAnswer { status, detail: e.to_string() })
        } else {
            match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(error) => Err(ManagerError::Refused { status, error }),
                Err(e) => Err(ManagerError::BadAnswer { status, detail: e.to_string() }),
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ManagerError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// Creates a property and its first (Portfolio) manager; works without a token.
    pub async fn create_property(
        base_url: &str,
        req: &CreatePropertyRequest,
    ) -> Result<CreatePropertyResponse, ManagerError> {
        ManagerClient::new(base_url, "").call(Method::POST, "/v1/properties", Some(req)).await
    }

    pub async fn create_door(&self, name: &str, online: bool) -> Result<ProvisionedDoor, ManagerError> {
        self.call(Method::POST, "/v1/doors", Some(&CreateDoorRequest { name: name.into(), online })).await
    }

    pub async fn doors(&self) -> Result<Vec<DoorInfo>, ManagerError> {
        self.get("/v1/doors").await
    }

    pub async fn create_manager(&self, req: &CreateManagerRequest) -> Result<ManagerCredentials, ManagerError> {
        self.call(Method::POST, "/v1/managers", Some(req)).await
    }

    pub async fn me(&self) -> Result<ManagerInfo, ManagerError> {
        self.get("/v1/managers/me").await
    }

    pub async fn invite(&self, req: &InviteRequest) -> Result<InviteResponse, ManagerError> {
        self.call(Method::POST, "/v1/invites", Some(req)).await
    }

    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, ManagerError> {
        self.get("/v1/outbox").await
    }

    pub async fn people(&self, show_expired: bool) -> Result<Vec<PersonInfo>, ManagerError> {
        self.get(&format!("/v1/people?show_expired={show_expired}")).await
    }

    pub async fn person(&self, person: PersonId) -> Result<PersonInfo, ManagerError> {
        self.get(&format!("/v1/people/{}", person.0)).await
    }

    pub async fn change_expiry(
        &self,
        key: KeyId,
        expiry: keyway_protocol::UnixTime,
    ) -> Result<KeyChangeResponse, ManagerError> {
        self.call(Method::PATCH, &format!("/v1/keys/{}", key.0), Some(&ChangeExpiryRequest { expiry })).await
    }

    pub async fn revoke_all(&self, person: PersonId) -> Result<RevocationResponse, ManagerError> {
        self.call(Method::POST, &format!("/v1/people/{}/revoke-all", person.0), None::<&()>).await
    }

    pub async fn delete_person(&self, person: PersonId) -> Result<RevocationResponse, ManagerError> {
        self.call(Method::DELETE, &format!("/v1/people/{}", person.0), None::<&()>).await
    }

    pub async fn door_updates(&self, door: DoorId) -> Result<Vec<DoorUpdateTask>, ManagerError> {
        self.get(&format!("/v1/door-updates?door_id={}", door.0)).await
    }

    pub async fn activity_at(&self, door: DoorId) -> Result<Vec<ActivityEntry>, ManagerError> {
        self.get(&format!("/v1/activity?door_id={}", door.0)).await
    }

    pub async fn activity_of(&self, person: PersonId) -> Result<Vec<ActivityEntry>, ManagerError> {
        self.get(&format!("/v1/activity?person_id={}", person.0)).await
    }
}
