//! How a server starts: where its secret key comes from, who may create properties, and how
//! long a manager token lasts.

use crate::secret_key::SecretKeySource;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub secret_key: SecretKeySource,
    pub property_creation: PropertyCreation,
    /// How long a manager token works after it is issued or rotated (whole seconds, at least
    /// one); then it answers 401 "manager token expired". Default
    /// [`ServerOptions::DEFAULT_MANAGER_TOKEN_LIFETIME`].
    pub manager_token_lifetime: Duration,
    /// How the manager's web console is served (its session cookie).
    pub console: crate::ConsoleOptions,
    /// How webhooks are delivered, and whether their targets may be private addresses.
    pub webhooks: crate::WebhookOptions,
    /// The URL phones and doorcode holders reach this server at (e.g.
    /// `https://keys.example.com`), named in every welcome message. `None`: `http://` and the
    /// address the server listens on, right for a server on this machine only.
    pub public_url: Option<String>,
}

impl ServerOptions {
    /// 90 days.
    pub const DEFAULT_MANAGER_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 86_400);

    /// Anyone who reaches the server may create properties, as before operator tokens: for
    /// in-process servers of tests and demos only (refused on a non-loopback address).
    pub fn open_property_creation() -> Self {
        // Loopback only, so webhook receivers on this machine are allowed too.
        let webhooks = crate::WebhookOptions { allow_private_targets: true, ..Default::default() };
        ServerOptions { property_creation: PropertyCreation::Open, webhooks, ..Self::default() }
    }

    /// The manager token lifetime in whole seconds, at least 1.
    pub(crate) fn manager_token_lifetime_secs(&self) -> u64 {
        self.manager_token_lifetime.as_secs().max(1)
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            secret_key: SecretKeySource::default(),
            property_creation: PropertyCreation::default(),
            manager_token_lifetime: Self::DEFAULT_MANAGER_TOKEN_LIFETIME,
            console: crate::ConsoleOptions::default(),
            webhooks: crate::WebhookOptions::default(),
            public_url: None,
        }
    }
}

/// Who may `POST /v1/properties`.
#[derive(Clone, Debug)]
pub enum PropertyCreation {
    /// Anyone, with no quota (loopback only).
    Open,
    /// The holder of an operator token, within its quota and rate.
    Operator(OperatorSettings),
}

impl Default for PropertyCreation {
    fn default() -> Self {
        PropertyCreation::Operator(OperatorSettings::default())
    }
}

#[derive(Clone, Debug)]
pub struct OperatorSettings {
    /// The operator token to accept (registered by its hash). Without one, a token is generated
    /// on the first start of a database that has no operator yet, and shown once by
    /// [`crate::Server::operator_token`].
    pub token: Option<String>,
    /// At most this many properties per operator token.
    pub max_properties: u32,
    /// Property creations a minute per operator token (bursts up to the same number).
    pub creations_per_minute: u32,
}

impl OperatorSettings {
    pub const DEFAULT_MAX_PROPERTIES: u32 = 100;
    pub const DEFAULT_CREATIONS_PER_MINUTE: u32 = 10;
}

impl Default for OperatorSettings {
    fn default() -> Self {
        OperatorSettings {
            token: None,
            max_properties: Self::DEFAULT_MAX_PROPERTIES,
            creations_per_minute: Self::DEFAULT_CREATIONS_PER_MINUTE,
        }
    }
}
