//! Liveness, readiness, Prometheus metrics and the OpenAPI document: the unauthenticated operational routes.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::actors::root::RootMessage;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
        .routes(routes!(openapi_json))
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The appliance can do work: its database is open and its actor tree answers.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let answered = state.root.call(RootMessage::Ping, Some(Duration::from_secs(2))).await;
    match answered {
        Ok(ractor::rpc::CallResult::Success(())) => (StatusCode::OK, Json(Health { status: "ready" })),
        _ => (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "not_ready" })),
    }
}

/// Prometheus text exposition of the appliance's metrics.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// This document: every route of the API, generated from the handlers.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", responses((status = 200, body = Object)))]
async fn openapi_json() -> Json<serde_json::Value> {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    Json(DOC.get_or_init(|| serde_json::to_value(super::openapi()).unwrap_or_default()).clone())
}
