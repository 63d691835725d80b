//! The HTTP edge. Handlers authenticate, validate, call the layer below and map the answer to JSON or to the
//! error envelope; nothing else. Every route is registered through `utoipa_axum::routes!`, so the OpenAPI
//! document at `/api/v1/openapi.json` is generated from the same list the router serves and cannot drift.

mod audit_events;
pub mod auth;
mod connectors;
mod drive;
pub mod error;
mod groups;
mod health;
pub mod json;
pub mod pagination;
mod scim;
pub mod scim_error;
mod scim_token;
mod tokens;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use ractor::ActorRef;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::actors::root::RootMessage;
use crate::actors::scim::ScimMessage;
use crate::actors::throttle::ThrottleMessage;
use crate::config::Config;
use crate::ids::ShareId;
use crate::principals::Principals;
use crate::scim::error::ScimError;
use crate::secrets::Sealer;
use crate::store::Store;
use error::ApiError;
use json::BodyLimit;
use scim_error::ScimApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub principals: Principals,
    pub sealer: Arc<Sealer>,
    pub metrics: PrometheusHandle,
    pub root: ActorRef<RootMessage>,
    /// Performs the SCIM writes.
    pub scim: ActorRef<ScimMessage>,
    /// Paces callers (SCIM: 600 requests a minute per token).
    pub throttle: ActorRef<ThrottleMessage>,
    pub drive: crate::drive::Drive,
    pub connectors: crate::connectors::Connectors,
    /// The connectors supervisor: each connector's actor runs its syncs.
    pub connector_actors: ActorRef<crate::actors::connectors::ConnectorsMessage>,
    /// Whether something (a connector) targets a share, which then cannot be deleted.
    pub share_users: Arc<dyn Fn(ShareId) -> bool + Send + Sync>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "scaidrive-connectors", description = "ScaiDrive store and connectors appliance API"),
    modifiers(&BearerAuth),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every route with its documentation, before state is attached.
pub fn openapi_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(tokens::routes())
        .merge(audit_events::routes())
        .merge(scim_token::routes())
        .merge(scim::routes())
        .merge(drive::routes())
        .merge(connectors::routes())
}

/// The OpenAPI document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi_router().into_openapi()
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.limits.max_json_body_bytes;
    let (router, _) = openapi_router().split_for_parts();
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(BodyLimit(limit)))
        .layer(middleware::from_fn(count_requests))
        .with_state(state)
}

/// Unknown URLs answer in the error shape of the API they are under: SCIM's below `/scim/v2`.
async fn not_found(request: Request) -> Response {
    let message = format!("no route for {} {}", request.method(), request.uri().path());
    if scim::is_scim_path(request.uri().path()) {
        return ScimApiError::from(ScimError::NotFound(message)).into_response();
    }
    ApiError::NotFound(message).into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let message = format!("{} is not allowed on {}", request.method(), request.uri().path());
    if scim::is_scim_path(request.uri().path()) {
        return ScimApiError::from(ScimError::MethodNotAllowed(message)).into_response();
    }
    ApiError::MethodNotAllowed(message).into_response()
}

/// Request counts, latencies and a debug log line per route template (never the raw path or query, which would
/// put ids into metric labels and user data into logs).
async fn count_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    tracing::debug!(%method, %route, %status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    metrics::counter!("scaidrive_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("scaidrive_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Runs a blocking store call on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?
}

/// Parses a path id; a malformed one is simply an object that does not exist.
pub fn parse_id<T: std::str::FromStr>(text: &str, kind: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound(format!("{kind} {text} not found")))
}
