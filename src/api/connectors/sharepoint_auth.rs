//! Signing a SharePoint connector in: `test` (can it sign in, reach its site and library, with which
//! permissions), `authorize` (the consent URL for `user_auth`) and the OAuth callback Microsoft sends the
//! browser back to. The callback carries no bearer token, only the single-use `state` that `authorize` issued,
//! and answers the browser with a short page.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::managed_connector_of;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{AppState, blocking};
use crate::audit::{self, AuditActor, AuditEvent};
use crate::connectors::sharepoint::graph::{AccessError, GraphAccess, granted_permissions};
use crate::connectors::sharepoint::oauth;
use crate::connectors::{AuthType, ConnectorKind};
use crate::sides::sharepoint::client::encode_segment;
use crate::sync::side::ErrorCode;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_connection)).routes(routes!(authorize)).routes(routes!(oauth_callback))
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::NotReady { field, message } => ApiError::invalid(field, message),
            AccessError::Graph(e) if e.code == ErrorCode::NotFound => ApiError::NotFound(e.message),
            AccessError::Graph(e) => ApiError::Upstream { code: e.code.as_str(), message: e.message },
            AccessError::Connectors(e) => e.into(),
        }
    }
}

/// A failure as `test` reports it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    code: String,
    message: String,
}

impl From<AccessError> for Problem {
    fn from(e: AccessError) -> Self {
        Problem { code: e.code().to_owned(), message: e.to_string() }
    }
}

/// What `test` found, step by step; later steps are false when an earlier one failed. `success` and `message`
/// are what every connector kind's `test` answers; the rest is SharePoint's detail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    /// Signed in, and the configured site and library (those that are set) answered.
    success: bool,
    /// What was reached, or what went wrong.
    message: String,
    /// The connector signed in to Azure AD.
    connected: bool,
    /// The configured site answered (false when `site_id` is not set).
    site_accessible: bool,
    /// The configured library answered (false when `drive_id` is not set).
    drive_accessible: bool,
    /// The Graph permissions the token grants (application roles, or the user's delegated scopes).
    permissions: Vec<String>,
    /// The first failure, if any.
    error: Option<Problem>,
}

/// Test the connection: sign in, reach the site and the library, and list the permissions granted. Always 200
/// with the report; failures are in it.
#[utoipa::path(
    post, path = "/api/v1/sharepoint-connectors/{id}/test", tag = "sharepoint-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = TestReport), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn test_connection(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TestReport>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, ConnectorKind::Sharepoint).await?;
    let mut report = TestReport {
        success: false,
        message: String::new(),
        connected: false,
        site_accessible: false,
        drive_accessible: false,
        permissions: vec![],
        error: None,
    };
    let access = match GraphAccess::open(&state.connectors, &connector, &state.config.sharepoint) {
        Ok(access) => access,
        Err(e) => return Ok(Json(report.failed(e))),
    };
    match access.sign_in().await {
        Ok(token) => {
            report.connected = true;
            report.permissions = granted_permissions(&token);
        }
        Err(e) => return Ok(Json(report.failed(e))),
    }
    if let Some(site) = &access.settings.site_id {
        match access.get(&format!("/sites/{}", encode_segment(site)), &[]).await {
            Ok(_) => report.site_accessible = true,
            Err(e) => return Ok(Json(report.failed(e))),
        }
    }
    if let Some(drive) = &access.settings.drive_id {
        match access.get(&format!("/drives/{}/root", encode_segment(drive)), &[]).await {
            Ok(_) => report.drive_accessible = true,
            Err(e) => return Ok(Json(report.failed(e))),
        }
    }
    report.success = true;
    let who = match access.settings.auth_type {
        AuthType::AppAuth => "the app itself",
        AuthType::UserAuth => "the user who consented",
    };
    report.message = format!(
        "Signed in to tenant {} through app {} as {who}{}{}",
        access.settings.azure_tenant_id,
        access.settings.azure_client_id,
        if report.site_accessible { "; the site answered" } else { "; no site_id set" },
        if report.drive_accessible { "; the library answered" } else { "; no drive_id set" },
    );
    Ok(Json(report))
}

impl TestReport {
    fn failed(mut self, e: AccessError) -> Self {
        self.message = e.to_string();
        self.error = Some(e.into());
        self
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationStarted {
    /// Send the user here; Microsoft brings the browser back to the appliance's callback afterwards.
    authorization_url: String,
}

/// Start the `user_auth` consent: the URL to send the consenting user to. Needs `[sharepoint] redirect_uri` in the
/// appliance's configuration (`VALIDATION_FAILED` naming it otherwise).
#[utoipa::path(
    post, path = "/api/v1/sharepoint-connectors/{id}/authorize", tag = "sharepoint-connectors",
    security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 200, body = AuthorizationStarted), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn authorize(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AuthorizationStarted>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, ConnectorKind::Sharepoint).await?;
    if connector.sharepoint.as_ref().is_some_and(|s| s.auth_type != AuthType::UserAuth) {
        return Err(ApiError::invalid("auth_type", "authorize is for user_auth connectors; this one uses app_auth"));
    }
    let (connectors, endpoints) = (state.connectors.clone(), state.config.sharepoint.clone());
    let authorization_url =
        blocking(move || oauth::begin(&connectors, &connector, &endpoints).map_err(ApiError::from)).await?;
    Ok(Json(AuthorizationStarted { authorization_url }))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where Microsoft sends the browser after consent (no bearer token: the single-use `state` identifies the
/// pending authorization). Answers the browser with a page saying whether the connector is now authorized.
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors/oauth/callback", tag = "sharepoint-connectors", params(CallbackQuery),
    responses((status = 200, description = "A page telling the user the outcome", content_type = "text/html"))
)]
async fn oauth_callback(State(state): State<AppState>, Query(query): Query<CallbackQuery>) -> Html<String> {
    let outcome = match (&query.code, &query.state, &query.error) {
        (_, _, Some(error)) => Err(format!(
            "Microsoft did not authorize the connector: {error} {}",
            query.error_description.as_deref().unwrap_or("")
        )),
        (Some(code), Some(oauth_state), None) => {
            oauth::complete(&state.connectors, &state.config.sharepoint, oauth_state, code)
                .await
                .map_err(|e| e.to_string())
        }
        _ => Err("this page is where Microsoft returns after a consent; it was opened without one".to_owned()),
    };
    let connector = query.state.as_deref().and_then(oauth::connector_of_state);
    if let Some(connector) = connector {
        let (event_type, details) = match &outcome {
            Ok(_) => ("connector.authorized", serde_json::json!({})),
            Err(message) => ("connector.auth_failed", serde_json::json!({ "message": message })),
        };
        let event = AuditEvent::new(
            event_type,
            AuditActor::Connector(connector),
            Some(connector.to_string()),
            state.connectors.clock().now(),
        )
        .with_details(details);
        let store = state.store.clone();
        let recorded = blocking(move || {
            let txn = store.db().begin_write().map_err(ApiError::internal)?;
            audit::record(&txn, &event)?;
            txn.commit().map_err(ApiError::internal)?;
            Ok(())
        })
        .await;
        if let Err(error) = recorded {
            tracing::error!(%error, "could not record the authorization's outcome");
        }
    }
    let text = match outcome {
        Ok(id) => format!("The SharePoint connector {id} is authorized. You can close this page."),
        Err(message) => format!("Authorization failed: {message}"),
    };
    Html(format!("<!doctype html><meta charset=\"utf-8\"><title>ScaiDrive</title><p>{}</p>", html_escape(&text)))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
