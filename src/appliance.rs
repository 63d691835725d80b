//! Builds the running appliance: opens the data directory, starts the actor tree, serves the API, and takes it
//! all down again in order. `Appliance::start` is what `serve` runs and what the test harness runs in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use tokio::task::JoinHandle;

use crate::actors::root::{self, ChildrenArgs, RootMessage, RootSupervisor};
use crate::api::{self, AppState};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::connectors::Connectors;
use crate::drive::{Drive, DriveError};
use crate::principals::Principals;
use crate::setup::{self, SetupError};
use crate::tls::{ReloadingTls, TlsError};
use crate::{metrics, systemd};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: SocketAddr, message: String },
    #[error("the file store did not open: {0}")]
    Drive(#[from] DriveError),
    #[error("the actor system did not start: {0}")]
    Actors(String),
}

/// What the environment provides besides the config; tests substitute a manual clock.
pub struct StartOptions {
    pub clock: SharedClock,
    /// How often the scheduler looks at the clock for due runs.
    pub schedule_tick: Duration,
    /// systemd's `$CREDENTIALS_DIRECTORY`, where `LoadCredential=` puts the sealing key.
    pub credentials_dir: Option<PathBuf>,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            schedule_tick: Duration::from_secs(20),
            credentials_dir: std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        }
    }
}

pub struct Appliance {
    local_addr: SocketAddr,
    https: bool,
    grace: Duration,
    server: axum_server::Handle<SocketAddr>,
    serving: JoinHandle<std::io::Result<()>>,
    root: ActorRef<RootMessage>,
    root_task: JoinHandle<()>,
    _tls: Option<ReloadingTls>,
}

impl Appliance {
    pub async fn start(config: Config) -> Result<Self, StartError> {
        Self::start_with(config, StartOptions::default()).await
    }

    pub async fn start_with(config: Config, options: StartOptions) -> Result<Self, StartError> {
        let opening = (config.clone(), options.credentials_dir.clone());
        let (store, sealer) =
            tokio::task::spawn_blocking(move || setup::open_for_service(&opening.0, opening.1.as_deref()))
                .await
                .map_err(|e| StartError::Actors(e.to_string()))??;
        let content_dir = config.content_dir();
        let (db, clock) = (store.shared_db(), options.clock.clone());
        let drive = tokio::task::spawn_blocking(move || Drive::open(db, &content_dir, clock))
            .await
            .map_err(|e| StartError::Actors(e.to_string()))??;
        let (root, root_task) =
            Actor::spawn(None, RootSupervisor, ()).await.map_err(|e| StartError::Actors(e.to_string()))?;
        let principals = Principals::new(store.clone(), options.clock.clone());
        let sealer = Arc::new(sealer);
        let connectors = Connectors::new(store.clone(), sealer.clone(), options.clock.clone());
        let args = ChildrenArgs {
            principals: principals.clone(),
            connectors: connectors.clone(),
            drive: drive.clone(),
            clock: options.clock.clone(),
            schedule_tick: options.schedule_tick,
        };
        let children = match root::start_children(&root, args).await {
            Ok(children) => children,
            Err(e) => {
                root.stop(None);
                return Err(StartError::Actors(e.to_string()));
            }
        };
        let share_users = {
            let connectors = connectors.clone();
            // A failed lookup counts as "in use": refusing a delete is the safe mistake.
            Arc::new(move |share| connectors.targets_share(share).unwrap_or(true))
        };
        let state = AppState {
            config: Arc::new(config.clone()),
            principals,
            store,
            sealer,
            metrics: metrics::handle(),
            root: root.clone(),
            scim: children.scim,
            throttle: children.throttle,
            drive,
            connectors,
            connector_actors: children.connectors,
            share_users,
        };
        let app = api::router(state).into_make_service();
        let server = axum_server::Handle::new();
        let tls = config.tls.as_ref().map(ReloadingTls::start).transpose()?;
        let serving = match &tls {
            Some(tls) => {
                let bound = axum_server::bind_rustls(config.listen, tls.config.clone()).handle(server.clone());
                tokio::spawn(async move { bound.serve(app).await })
            }
            None => {
                let bound = axum_server::bind(config.listen).handle(server.clone());
                tokio::spawn(async move { bound.serve(app).await })
            }
        };
        let Some(local_addr) = server.listening().await else {
            let message = match serving.await {
                Ok(Err(e)) => e.to_string(),
                _ => "the server stopped before listening".into(),
            };
            root.stop(None);
            return Err(StartError::Listen { addr: config.listen, message });
        };
        ::metrics::gauge!("scaidrive_up").set(1.0);
        systemd::notify_ready();
        systemd::spawn_watchdog(root.clone());
        tracing::info!(%local_addr, https = tls.is_some(), "serving");
        Ok(Self {
            local_addr,
            https: tls.is_some(),
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            server,
            serving,
            root,
            root_task,
            _tls: tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Stops taking requests, lets in-flight ones finish (up to the grace period), then stops the actors, which
    /// end their work at a safe point.
    pub async fn shutdown(self) {
        systemd::notify_stopping();
        self.server.graceful_shutdown(Some(self.grace));
        let _ = self.serving.await;
        self.root.stop(Some("shutdown".into()));
        let _ = self.root_task.await;
        ::metrics::gauge!("scaidrive_up").set(0.0);
        tracing::info!("stopped");
    }
}
