//! `/api/v1/sharepoint-connectors`: create, read, list, update and delete SharePoint connectors. The client
//! secret is write-only: reads say `azure_client_secret_set`, and `user_authorized` once a user has consented
//! (`authorize` and its callback, in `sharepoint_auth.rs`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::status::{ConnectorStatus, status_of};
use super::{CommonView, managed_connector_of, manages, remove_connector, visible_connectors};
use crate::actors::connectors::ConnectorsMessage;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::ApiJson;
use crate::api::{AppState, blocking};
use crate::connectors::settings::SHAREPOINT;
use crate::connectors::sharepoint::{CLIENT_SECRET, REFRESH_TOKEN};
use crate::connectors::{AuthType, Connector, ConnectorKind, ConnectorsError, Problems, SharePointInput};
use crate::ids::ConnectorId;
use crate::secrets::Plaintext;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connectors, create_connector))
        .routes(routes!(get_connector, update_connector, delete_connector))
        .routes(routes!(get_status))
}

/// A SharePoint connector as the API shows it: every setting, and flags instead of the secrets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SharePointConnectorView {
    #[schema(value_type = String)]
    id: ConnectorId,
    site_url: String,
    site_id: Option<String>,
    drive_id: Option<String>,
    library_name: Option<String>,
    base_path: String,
    azure_tenant_id: String,
    azure_client_id: String,
    azure_client_secret_set: bool,
    auth_type: AuthType,
    /// `user_auth`: a user has consented and the connector holds a refresh token.
    user_authorized: bool,
    sync_versions: bool,
    sync_metadata: bool,
    #[serde(flatten)]
    common: CommonView,
}

fn view(c: Connector) -> Result<SharePointConnectorView, ApiError> {
    let (secret_set, authorized) = (c.has_secret(CLIENT_SECRET), c.has_secret(REFRESH_TOKEN));
    let sp = c.sharepoint.clone().ok_or_else(|| ApiError::internal("a SharePoint connector without its settings"))?;
    Ok(SharePointConnectorView {
        id: c.id,
        site_url: sp.site_url,
        site_id: sp.site_id,
        drive_id: sp.drive_id,
        library_name: sp.library_name,
        base_path: sp.base_path,
        azure_tenant_id: sp.azure_tenant_id,
        azure_client_id: sp.azure_client_id,
        azure_client_secret_set: secret_set,
        auth_type: sp.auth_type,
        user_authorized: authorized,
        sync_versions: sp.sync_versions,
        sync_metadata: sp.sync_metadata,
        common: CommonView::of(c),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SharePointConnectorList {
    connectors: Vec<SharePointConnectorView>,
    next_cursor: Option<String>,
}

/// Create a SharePoint connector. Needs `manage` on the target share. `site_id` and `drive_id` may follow later
/// (PATCH), once `sites?search=` and `drives?site_id=` have found them.
#[utoipa::path(
    post, path = "/api/v1/sharepoint-connectors", tag = "sharepoint-connectors", request_body = SharePointInput,
    security(("bearer" = [])),
    responses(
        (status = 201, body = SharePointConnectorView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn create_connector(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SharePointInput>,
) -> Result<(StatusCode, Json<SharePointConnectorView>), ApiError> {
    let mut problems = Problems::default();
    let sharepoint = input.create_sharepoint(&mut problems);
    let secret = input.azure_client_secret.clone().map(Plaintext::new);
    let common = input.common.create(SHAREPOINT, &mut problems);
    let (Some(common), true) = (common, problems.0.is_empty()) else {
        return Err(ConnectorsError::Invalid(problems.0).into());
    };
    if !manages(&state, &caller, common.target_share_id).await? {
        return Err(ApiError::Forbidden("creating a connector needs manage permission on the target share".into()));
    }
    let connectors = state.connectors.clone();
    let acting = caller.acting();
    let created =
        blocking(move || Ok(connectors.create_sharepoint(&acting, common, sharepoint, secret.as_ref())?)).await?;
    state.connector_actors.cast(ConnectorsMessage::Added(created.id)).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(view(created)?)))
}

/// The SharePoint connectors the caller manages.
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors", tag = "sharepoint-connectors", security(("bearer" = [])),
    responses((status = 200, body = SharePointConnectorList), (status = 401, body = ErrorBody))
)]
async fn list_connectors(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<SharePointConnectorList>, ApiError> {
    let connectors = visible_connectors(&state, &caller, ConnectorKind::Sharepoint).await?;
    let connectors = connectors.into_iter().map(view).collect::<Result<_, _>>()?;
    Ok(Json(SharePointConnectorList { connectors, next_cursor: None }))
}

/// One SharePoint connector.
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors/{id}", tag = "sharepoint-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 200, body = SharePointConnectorView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
async fn get_connector(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SharePointConnectorView>, ApiError> {
    Ok(Json(view(managed_connector_of(&state, &caller, &id, ConnectorKind::Sharepoint).await?)?))
}

/// Change settings or rotate the client secret (the next run signs in with the new one). `target_share_id`
/// cannot change (`IMMUTABLE_FIELD`).
#[utoipa::path(
    patch, path = "/api/v1/sharepoint-connectors/{id}", tag = "sharepoint-connectors",
    request_body = SharePointInput, security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 200, body = SharePointConnectorView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn update_connector(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SharePointInput>,
) -> Result<Json<SharePointConnectorView>, ApiError> {
    let current = managed_connector_of(&state, &caller, &id, ConnectorKind::Sharepoint).await?;
    if input.common.target_share_id.as_ref().is_some_and(|t| *t != current.common.target_share_id.to_string()) {
        return Err(ConnectorsError::Immutable("target_share_id").into());
    }
    let fields = input.present_fields().into_iter().map(str::to_owned).collect();
    let secret = input.azure_client_secret.clone().map(Plaintext::new);
    let connectors = state.connectors.clone();
    let acting = caller.acting();
    let updated = blocking(move || {
        let new_secret = secret.as_ref().map(|s| (CLIENT_SECRET, s));
        Ok(connectors.update(&acting, current.id, fields, new_secret, move |connector| {
            let mut problems = Problems::default();
            let sharepoint = connector.sharepoint.clone().ok_or(ConnectorsError::NotFound(connector.id))?;
            let sharepoint = input.apply_sharepoint(sharepoint, &mut problems);
            if sharepoint.auth_type == AuthType::AppAuth
                && !connector.has_secret(CLIENT_SECRET)
                && input.azure_client_secret.is_none()
            {
                problems.add(CLIENT_SECRET, "is required for app_auth");
            }
            let mut common_input = input.common;
            common_input.target_share_id = None;
            let common = common_input.apply_to(connector.common.clone(), SHAREPOINT, &mut problems);
            if !problems.0.is_empty() {
                return Err(ConnectorsError::Invalid(problems.0));
            }
            connector.sharepoint = Some(sharepoint);
            connector.common = common;
            Ok(())
        })?)
    })
    .await?;
    Ok(Json(view(updated)?))
}

/// Delete a connector, its identity mappings and its run history. What it synced stays in ScaiDrive; the
/// SharePoint library is untouched.
#[utoipa::path(
    delete, path = "/api/v1/sharepoint-connectors/{id}", tag = "sharepoint-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn delete_connector(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    remove_connector(&state, &caller, &id, ConnectorKind::Sharepoint).await
}

/// The connector's state, the live progress of its current job, its last successful run, files synced and
/// errors over the last day, week and month, the paths waiting for a retry, and the storage it fills (the same
/// report as SMB's).
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors/{id}/status", tag = "sharepoint-connectors",
    security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = ConnectorStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_status(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConnectorStatus>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, ConnectorKind::Sharepoint).await?;
    Ok(Json(status_of(&state, connector).await?))
}
