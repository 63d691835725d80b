//! The connector APIs (`/api/v1/smb-connectors`, later `/api/v1/sharepoint-connectors`). A connector is managed
//! by whoever may manage its target share (MANAGE_PERMISSIONS); anyone else gets 404 for it.

mod conflicts;
mod mappings;
mod runs;
mod smb;
mod status;
mod unmapped;

use utoipa_axum::router::OpenApiRouter;

use super::auth::Caller;
use super::error::ApiError;
use super::{AppState, blocking, parse_id};
use crate::connectors::{Connector, ConnectorsError};
use crate::drive::{self, DrivePath, Permission};
use crate::ids::{ConnectorId, ShareId};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(smb::routes())
        .merge(mappings::routes())
        .merge(runs::routes())
        .merge(status::routes())
        .merge(conflicts::routes())
        .merge(unmapped::routes())
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
