//! `/api/v1/smb-connectors/{id}/identity-mappings`: explicit SMB principal -> ScaiDrive principal mappings.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::managed_connector;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::ApiJson;
use crate::api::{AppState, blocking, parse_id};
use crate::connectors::ConnectorsError;
use crate::connectors::mappings::{IdentityMapping, NewMapping};
use crate::ids::{GroupId, MappingId, UserId};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_mappings, create_mapping)).routes(routes!(delete_mapping))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MappingList {
    identity_mappings: Vec<IdentityMapping>,
    next_cursor: Option<String>,
}

/// Map an SMB principal (`DOMAIN\name` or a SID) to a ScaiDrive user or group.
#[utoipa::path(
    post, path = "/api/v1/smb-connectors/{id}/identity-mappings", tag = "smb-connectors", request_body = NewMapping,
    security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 201, body = IdentityMapping), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
async fn create_mapping(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewMapping>,
) -> Result<(StatusCode, Json<IdentityMapping>), ApiError> {
    let connector = managed_connector(&state, &caller, &id).await?;
    let (connectors, principals, acting) = (state.connectors.clone(), state.principals.clone(), caller.acting());
    let created = blocking(move || {
        let exists = |id: &str| match (id.parse::<UserId>(), id.parse::<GroupId>()) {
            (Ok(user), _) => principals.get_user(user).is_ok(),
            (_, Ok(group)) => principals.get_group(group).is_ok(),
            _ => false,
        };
        new.validate(exists).map_err(ConnectorsError::Invalid)?;
        Ok(connectors.add_mapping(&acting, connector.id, new)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The connector's identity mappings.
#[utoipa::path(
    get, path = "/api/v1/smb-connectors/{id}/identity-mappings", tag = "smb-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = MappingList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_mappings(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MappingList>, ApiError> {
    let connector = managed_connector(&state, &caller, &id).await?;
    let connectors = state.connectors.clone();
    let identity_mappings = blocking(move || Ok(connectors.mappings(connector.id)?)).await?;
    Ok(Json(MappingList { identity_mappings, next_cursor: None }))
}

/// Remove a mapping.
#[utoipa::path(
    delete, path = "/api/v1/smb-connectors/{id}/identity-mappings/{mapping_id}", tag = "smb-connectors",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id"), ("mapping_id" = String, Path, description = "map_ id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn delete_mapping(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, mapping_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let connector = managed_connector(&state, &caller, &id).await?;
    let mapping: MappingId = parse_id(&mapping_id, "identity mapping")?;
    let (connectors, acting) = (state.connectors.clone(), caller.acting());
    let removed = blocking(move || Ok(connectors.remove_mapping(&acting, connector.id, mapping)?)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("identity mapping {mapping} not found")))
    }
}
