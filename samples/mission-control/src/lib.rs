//! Mission Control: Keyway's reference backend.
//!
//! It keeps each property's authority key, provisions doors, lets managers invite people and
//! edit, revoke and delete their access, keeps every door's update log and the door-update
//! tasks, serves phones (invite acceptance, sync, receipt upload, guest-key registration) and
//! internet-connected doors (the door feed), and merges door activity from receipts. Storage is SQLite; every request
//! runs in one transaction. The wire types are `keyway_api`.
//!
//! Run it with `cargo run -p mission-control -- --db mission-control.db --listen 127.0.0.1:8787`,
//! or in-process with [`Server::start`].

mod access;
mod auth;
mod db;
mod error;
mod extract;
mod feed;
mod guests;
mod history;
mod keys;
mod people;
mod phone;
mod property;
mod provisioning;
mod receipts;
mod resync;
mod routes;
mod updates;
mod validate;

pub use auth::ASK_A_PORTFOLIO_MANAGER;
pub use db::OpenError;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    db_path: &Path,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let db = db::Db::open(db_path)?;
    let app = routes::router(routes::App { db, feed: Default::default() });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// A server running in the background of the current tokio runtime. Dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// Opens (or creates and migrates) the database and listens on `listen`; port 0 picks a
    /// free port, see [`Server::addr`].
    pub async fn start(db_path: impl AsRef<Path>, listen: SocketAddr) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(listen).await?;
        Self::start_on(db_path, listener).await
    }

    pub async fn start_on(db_path: impl AsRef<Path>, listener: TcpListener) -> Result<Server, ServeError> {
        let addr = listener.local_addr()?;
        // Open once here so that a bad database is reported to the caller, not the task.
        let db = db::Db::open(db_path.as_ref())?;
        let app = routes::router(routes::App { db, feed: Default::default() });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await?;
            Ok(())
        });
        Ok(Server { addr, stop: Some(stop), task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
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
