//! The connector APIs (`/api/v1/smb-connectors`, `/api/v1/sharepoint-connectors`). A connector is managed
//! by whoever may manage its target share (MANAGE_PERMISSIONS); anyone else gets 404 for it.

mod conflicts;
mod mappings;
mod run_routes;
mod runs;
mod sharepoint;
mod sharepoint_auth;
mod sharepoint_lookup;
mod smb;
mod status;
mod unmapped;

use axum::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;

use super::auth::Caller;
use super::error::ApiError;
use super::{AppState, blocking, parse_id};
use crate::actors::connectors::ConnectorsMessage;
use crate::connectors::{Connector, ConnectorKind, ConnectorsError};
use crate::drive::{self, DrivePath, Permission};
use crate::ids::{ConnectorId, ShareId};
use crate::sync::filters::PatternSet;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(smb::routes())
        .merge(sharepoint::routes())
        .merge(sharepoint_auth::routes())
        .merge(sharepoint_lookup::routes())
        .merge(mappings::smb::routes())
        .merge(mappings::smb_import::routes())
        .merge(mappings::sharepoint::routes())
        .merge(run_routes::smb::routes())
        .merge(run_routes::sharepoint::routes())
        .merge(status::routes())
        .merge(conflicts::routes())
        .merge(unmapped::routes())
}

/// The settings every connector shows, whatever its kind (flattened into each kind's view).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommonView {
    name: String,
    description: Option<String>,
    #[schema(value_type = String)]
    target_share_id: ShareId,
    target_path: String,
    sync_direction: String,
    sync_permissions: bool,
    sync_hidden_files: bool,
    sync_system_files: bool,
    #[schema(value_type = Object)]
    include_patterns: PatternSet,
    #[schema(value_type = Object)]
    exclude_patterns: PatternSet,
    conflict_resolution: String,
    sync_interval_minutes: u32,
    max_delete_percent: u8,
    max_bytes_per_second: Option<u64>,
    paused: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl CommonView {
    fn of(c: Connector) -> Self {
        let common = c.common;
        CommonView {
            name: common.name,
            description: common.description,
            target_share_id: common.target_share_id,
            target_path: common.target_path,
            sync_direction: common.sync_direction,
            sync_permissions: common.sync_permissions,
            sync_hidden_files: common.sync_hidden_files,
            sync_system_files: common.sync_system_files,
            include_patterns: common.include_patterns,
            exclude_patterns: common.exclude_patterns,
            conflict_resolution: common.conflict_resolution,
            sync_interval_minutes: common.sync_interval_minutes,
            max_delete_percent: common.max_delete_percent,
            max_bytes_per_second: common.max_bytes_per_second,
            paused: c.paused,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Whether the caller holds `manage` on the share (admins always do).
async fn manages(state: &AppState, caller: &Caller, share: ShareId) -> Result<bool, ApiError> {
    let drive = state.drive.clone();
    let members = super::drive::members(state);
    let who = drive::Caller { user: caller.user.id, admin: caller.is_admin() };
    blocking(move || match drive.authorize(share, &DrivePath::root(), who, Permission::Manage, &members) {
        Ok(_) => Ok(true),
        Err(drive::DriveError::NotFound(_) | drive::DriveError::PermissionDenied(_)) => Ok(false),
        Err(e) => Err(e.into()),
    })
    .await
}

/// Loads a connector the caller may manage; any other gets "not found", so its existence does not leak.
async fn managed_connector(state: &AppState, caller: &Caller, id: &str) -> Result<Connector, ApiError> {
    let id: ConnectorId = parse_id(id, "connector")?;
    let connectors = state.connectors.clone();
    let connector = blocking(move || Ok(connectors.get(id)?)).await?;
    if manages(state, caller, connector.common.target_share_id).await? {
        Ok(connector)
    } else {
        Err(ApiError::NotFound(format!("connector {id} not found")))
    }
}

/// [`managed_connector`] of one kind: under another kind's prefix a connector is "not found".
async fn managed_connector_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: ConnectorKind,
) -> Result<Connector, ApiError> {
    let connector = managed_connector(state, caller, id).await?;
    if connector.kind == kind {
        Ok(connector)
    } else {
        let what = match kind {
            ConnectorKind::Smb => "SMB",
            ConnectorKind::Sharepoint => "SharePoint",
        };
        Err(ApiError::NotFound(format!("{what} connector {id} not found")))
    }
}

/// The connectors of `kind` the caller manages, oldest first.
async fn visible_connectors(
    state: &AppState,
    caller: &Caller,
    kind: ConnectorKind,
) -> Result<Vec<Connector>, ApiError> {
    let connectors = state.connectors.clone();
    let all = blocking(move || Ok(connectors.list(kind)?)).await?;
    let mut visible = Vec::new();
    for connector in all {
        if manages(state, caller, connector.common.target_share_id).await? {
            visible.push(connector);
        }
    }
    Ok(visible)
}

/// Deletes a connector of `kind` and its identity mappings, run history and file states. What it synced stays in
/// ScaiDrive; the source is untouched.
async fn remove_connector(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: ConnectorKind,
) -> Result<StatusCode, ApiError> {
    let connector = managed_connector_of(state, caller, id, kind).await?;
    let connectors = state.connectors.clone();
    let acting = caller.acting();
    // The actor goes first, so no run starts on a connector that is being deleted.
    state.connector_actors.cast(ConnectorsMessage::Removed(connector.id)).map_err(ApiError::internal)?;
    blocking(move || Ok(connectors.delete(&acting, connector.id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<ConnectorsError> for ApiError {
    fn from(e: ConnectorsError) -> Self {
        match e {
            ConnectorsError::NotFound(id) => ApiError::NotFound(format!("connector {id} not found")),
            ConnectorsError::Invalid(problems) => ApiError::Validation(
                problems.into_iter().map(|p| super::error::FieldError { field: p.field, message: p.message }).collect(),
            ),
            ConnectorsError::Immutable(field) => ApiError::ImmutableField(field),
            ConnectorsError::Unseal(_) | ConnectorsError::Store(_) => ApiError::internal(e),
        }
    }
}
