//! Mission Control: Keyway's reference backend.
//!
//! It keeps each property's authority key, provisions doors, lets managers invite people and
//! edit, revoke and delete their access, keeps every door's update log and the door-update
//! tasks, serves phones (invite acceptance, sync, receipt upload, guest-key registration) and
//! internet-connected doors (the door feed), and merges door activity from receipts. Storage is SQLite; every request
//! runs in one transaction. The wire types are `keyway_api`.
//!
//! Secrets at rest (authority and doorcode secrets) are sealed under a key kept outside the
//! database ([`SecretKeySource`]); creating a property needs an operator token
//! ([`PropertyCreation`]).
//!
//! Run it with `cargo run -p mission-control -- --db mission-control.db --listen 127.0.0.1:8787`,
//! or in-process with [`Server::start`] (open property creation, loopback only) or
//! [`Server::start_with`].

mod access;
mod auth;
mod cards;
mod console;
mod db;
mod devices;
mod door_certs;
mod error;
mod extract;
mod feed;
mod guests;
mod history;
mod import;
mod keys;
mod openapi;
mod operator;
mod options;
mod paging;
mod people;
mod phone;
mod property;
mod provisioning;
mod prune;
mod rate_limit;
mod receipts;
mod resync;
mod rotation;
mod routes;
mod sealed;
mod secret_key;
mod settings;
mod updates;
mod validate;
mod webhooks;

pub use auth::ASK_A_PORTFOLIO_MANAGER;
pub use console::ConsoleOptions;
pub use db::OpenError;
pub use operator::OperatorError;
pub use options::{OperatorSettings, PropertyCreation, ServerOptions};
pub use secret_key::{ENV_VAR as SECRET_KEY_ENV_VAR, KeyError, SecretKey, SecretKeySource, key_file_path};
pub use webhooks::WebhookOptions;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Operator(#[from] OperatorError),
    #[error("open property creation is for loopback only, not {0}: use an operator token")]
    OpenOffLoopback(SocketAddr),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// A server running in the background of the current tokio runtime. Dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    operator_token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// Opens (or creates and migrates) the database and listens on `listen`; port 0 picks a
    /// free port, see [`Server::addr`]. This is the in-process server of tests and demos: the
    /// secret key comes from `KEYWAY_MC_SECRET_KEY` or `<db path>.key`, and anyone who reaches
    /// it may create properties ([`ServerOptions::open_property_creation`]), so it only listens
    /// on loopback. Use [`Server::start_with`] and [`ServerOptions::default`] for operator
    /// tokens, as the binary does.
    pub async fn start(db_path: impl AsRef<Path>, listen: SocketAddr) -> Result<Server, ServeError> {
        Self::start_with(db_path, listen, ServerOptions::open_property_creation()).await
    }

    /// [`Server::start`] on a bound listener.
    pub async fn start_on(db_path: impl AsRef<Path>, listener: TcpListener) -> Result<Server, ServeError> {
        Self::start_on_with(db_path, listener, ServerOptions::open_property_creation()).await
    }

    pub async fn start_with(
        db_path: impl AsRef<Path>,
        listen: SocketAddr,
        options: ServerOptions,
    ) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(listen).await?;
        Self::start_on_with(db_path, listener, options).await
    }

    pub async fn start_on_with(
        db_path: impl AsRef<Path>,
        listener: TcpListener,
        options: ServerOptions,
    ) -> Result<Server, ServeError> {
        let addr = listener.local_addr()?;
        if matches!(options.property_creation, PropertyCreation::Open) && !addr.ip().is_loopback() {
            return Err(ServeError::OpenOffLoopback(addr));
        }
        // Open once here so that a bad database or key is reported to the caller, not the task.
        let db = db::Db::open(db_path.as_ref(), &options.secret_key)?;
        let public_url = options.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        db.set_public_url(public_url.trim().trim_end_matches('/'))
            .await
            .map_err(|e| std::io::Error::other(format!("cannot record the public URL: {e:?}")))?;
        let (operators, operator_token) = operator::Operators::start(&db, &options.property_creation).await?;
        let state = routes::App {
            db,
            feed: Default::default(),
            operators: Arc::new(operators),
            manager_token_lifetime: options.manager_token_lifetime_secs(),
            webhooks: Arc::new(options.webhooks.clone()),
        };
        // Webhook deliveries run as long as the server does.
        let deliveries = tokio::spawn(webhooks::run(state.db.clone(), options.webhooks.clone()));
        let app = routes::router(state.clone()).merge(console::router(state, options.console.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _stop_deliveries = AbortOnDrop(deliveries);
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await?;
            Ok(())
        });
        Ok(Server { addr, operator_token, stop: Some(stop), task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operator token generated at this start (the first start of a database with operator
    /// tokens required and none given): the only time it can be read, since only its hash is
    /// stored.
    pub fn operator_token(&self) -> Option<&str> {
        self.operator_token.as_deref()
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes the requests in flight, and returns.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| ServeError::Io(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Aborts the task when dropped (the server's task ending, or being dropped).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
