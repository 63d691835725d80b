//! An in-process Microsoft Graph and identity-platform emulator, faithful to `shared/reference/GRAPH.md`: the
//! SharePoint connector's tests, benches and demo talk to it instead of Microsoft.
//!
//! `GraphEmulator::start(seed, "127.0.0.1:0")` binds, serves in the background and returns a handle with the
//! base URL (Graph at `{base}/v1.0`, tokens at `{base}/{tenant}/oauth2/v2.0/token`), the test knobs and
//! `shutdown`. The knobs are also reachable over HTTP under `/_emulator/` (see `admin.rs`), off the Graph path:
//!
//! ```text
//! let emulator = GraphEmulator::start(Seed::from_json(&text)?, "127.0.0.1:0").await?;
//! // point the connector at emulator.base_url for both the login and the Graph base
//! emulator.knob(serde_json::from_value(json!({"knob": "throttle", "count": 3, "retry_after": 2}))?)?;
//! emulator.counters(); // requests per route, e.g. "GET /v1.0/drives/{d}/root/delta" -> 4
//! ```
//!
//! Layout: `routes.rs` parses Graph paths into routes and `server.rs` dispatches them; one file per family of
//! operations (`sites`, `items`, `delta`, `content`, `changes`, `copy`, `versions`, `fields`, `permissions`,
//! `checkout`, `directory`, `batch`); `state.rs` and `drive.rs` hold the world; `auth.rs` and `client_auth.rs`
//! the identity platform; `budget.rs` SharePoint's resource units; `errors.rs` the error shapes; `seed.rs` the
//! seed format; `admin.rs` the knobs; `tls.rs` the optional TLS.
//!
//! Known gaps: no `$orderby`, `$filter` on items, `$expand=permissions`, thumbnails, sharing-link creation,
//! `Prefer: hierarchicalsharing`, recycle-bin restore, or national-cloud hosts; reads never show a holder their
//! own check-out draft.

pub mod admin;
pub mod auth;
mod batch;
mod budget;
mod changes;
mod checkout;
mod client_auth;
pub mod content;
mod copy;
mod delta;
mod directory;
mod drive;
pub mod errors;
mod fields;
mod items;
mod permissions;
mod routes;
pub mod seed;
mod server;
mod sites;
pub mod state;
mod tls;
pub mod upload_session;
mod versions;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use time::{Duration, OffsetDateTime};

use crate::clock::{SharedClock, SystemClock};

pub use seed::Seed;
pub use server::TlsFiles;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the seed is invalid: {0}")]
    Seed(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

struct Shared {
    world: Mutex<World>,
    clock: SharedClock,
    /// Seconds added to the clock by the "advance time" knob.
    offset_seconds: AtomicI64,
}

use state::World;

/// The shared emulator state handed to every handler.
#[derive(Clone)]
pub struct Emulator(Arc<Shared>);

impl Emulator {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.0.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The emulator's time: the injected clock plus whatever the tests advanced it by.
    pub fn now(&self) -> OffsetDateTime {
        self.0.clock.now() + Duration::seconds(self.0.offset_seconds.load(Ordering::SeqCst))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.offset_seconds.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Count a request against its route key (`GET /drives/{d}/root/delta`).
    pub fn count(&self, route: &str) {
        *self.lock().counters.entry(route.to_string()).or_insert(0) += 1;
    }
}

/// The entry point.
pub struct GraphEmulator;

impl GraphEmulator {
    /// Start on `addr` (use port 0 for an ephemeral port) with the system clock.
    pub async fn start(seed: Seed, addr: &str) -> Result<EmulatorHandle, StartError> {
        Self::start_with(seed, addr, Arc::new(SystemClock), None).await
    }

    /// Start with an injected clock and optionally TLS (`server::TlsFiles`).
    pub async fn start_with(
        seed: Seed,
        addr: &str,
        clock: SharedClock,
        tls: Option<server::TlsFiles>,
    ) -> Result<EmulatorHandle, StartError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = seed.public_base_url.clone().unwrap_or_else(|| format!("{scheme}://{local}"));
        let world = seed.build(base_url.clone(), clock.now()).map_err(StartError::Seed)?;
        let emulator =
            Emulator(Arc::new(Shared { world: Mutex::new(world), clock, offset_seconds: AtomicI64::new(0) }));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let task = server::serve(emulator.clone(), listener, tls, stop_rx).await.map_err(StartError::Tls)?;
        Ok(EmulatorHandle { base_url, addr: local, emulator, stop: Some(stop_tx), task: Some(task) })
    }
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    pub base_url: String,
    pub addr: SocketAddr,
    pub emulator: Emulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The Graph base, `{base_url}/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base_url)
    }

    /// The token endpoint for a tenant.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }

    /// Requests counted per route key.
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.emulator.lock().counters.clone()
    }

    /// Total Graph requests (token endpoint and knobs excluded).
    pub fn graph_requests(&self) -> u64 {
        self.emulator
            .lock()
            .counters
            .iter()
            .filter(|(k, _)| k.contains(" /v1.0/") || k.contains("/_"))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn reset_counters(&self) {
        self.emulator.lock().counters.clear();
    }

    /// Apply a knob, the same JSON the `POST /_emulator/...` routes take.
    pub fn knob(&self, knob: admin::Knob) -> Result<serde_json::Value, errors::GraphError> {
        admin::apply(&self.emulator, knob)
    }

    /// Apply a knob by name with its fields as JSON, exactly as `POST /_emulator/{name}` does.
    pub fn knob_json(
        &self,
        name: &str,
        mut fields: serde_json::Value,
    ) -> Result<serde_json::Value, errors::GraphError> {
        if !fields.is_object() {
            fields = serde_json::json!({});
        }
        fields["knob"] = serde_json::json!(name);
        let knob: admin::Knob = serde_json::from_value(fields)
            .map_err(|e| errors::GraphError::invalid_request(format!("bad knob: {e}")))?;
        admin::apply(&self.emulator, knob)
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
