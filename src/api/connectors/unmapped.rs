//! `GET /api/v1/smb-connectors/{id}/unmapped-principals`: the source principals that map to nobody in
//! ScaiDrive, over every entry the connector syncs permissions for, most frequent first, so an admin knows
//! which mappings to add. Each row counts the entries naming the principal (`count`) and those it owns
//! (`owner_count`: they fell back to the connector's service account). The permission pass keeps this view
//! current entry by entry (`identity::states`); a job shows its own run's share in `unmapped_principals`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::managed_connector_of;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{AppState, blocking};
use crate::connectors::ConnectorKind;
use crate::identity::resolve::UnmappedPrincipal;
use crate::identity::states;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_unmapped_principals))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnmappedList {
    unmapped_principals: Vec<UnmappedPrincipal>,
    next_cursor: Option<String>,
}

/// Principals found in the connector's ACLs that map to no ScaiDrive user or group, with counts.
#[utoipa::path(
    get, path = "/api/v1/smb-connectors/{id}/unmapped-principals", tag = "smb-connectors",
    security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = UnmappedList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_unmapped_principals(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UnmappedList>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, ConnectorKind::Smb).await?;
    let store = state.store.clone();
    let summary = blocking(move || Ok(states::summary(&store, connector.id)?)).await?;
    Ok(Json(UnmappedList { unmapped_principals: summary.unmapped.to_list(), next_cursor: None }))
}
