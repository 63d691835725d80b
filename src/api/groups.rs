//! `/api/v1/groups`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::json::{ApiJson, ApiQuery};
use super::pagination::{PageQuery, cursor};
use super::{AppState, blocking, parse_id};
use crate::ids::GroupId;
use crate::principals::{Group, GroupPatch, NewGroup, Role};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_groups, create_group)).routes(routes!(
        get_group,
        update_group,
        delete_group
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupList {
    groups: Vec<Group>,
    next_cursor: Option<String>,
}

/// All groups, in creation order (any user: groups are what shares are granted to).
#[utoipa::path(
    get, path = "/api/v1/groups", tag = "groups", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = GroupList), (status = 401, body = ErrorBody))
)]
async fn list_groups(
    _caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<GroupList>, ApiError> {
    let (limit, after) = (page.limit()?, page.after()?.map(GroupId::from_bytes));
    let (groups, next) = blocking(move || Ok(state.principals.list_groups(after, limit)?)).await?;
    Ok(Json(GroupList { groups, next_cursor: cursor(next.map(GroupId::to_bytes)) }))
}

/// Create a group (admins).
#[utoipa::path(
    post, path = "/api/v1/groups", tag = "groups", request_body = NewGroup, security(("bearer" = [])),
    responses(
        (status = 201, body = Group), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn create_group(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewGroup>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    caller.require(Role::Admin)?;
    let group = blocking(move || Ok(state.principals.create_group(&caller.acting(), new)?)).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// One group with its members.
#[utoipa::path(
    get, path = "/api/v1/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses((status = 200, body = Group), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_group(
    _caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Group>, ApiError> {
    let id: GroupId = parse_id(&id, "group")?;
    Ok(Json(blocking(move || Ok(state.principals.get_group(id)?)).await?))
}

/// Change a group (admins); `members` replaces the list. SCIM-managed groups are refused (`SCIM_MANAGED`).
#[utoipa::path(
    patch, path = "/api/v1/groups/{id}", tag = "groups", request_body = GroupPatch, security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses(
        (status = 200, body = Group), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn update_group(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<GroupPatch>,
) -> Result<Json<Group>, ApiError> {
    caller.require(Role::Admin)?;
    let id: GroupId = parse_id(&id, "group")?;
    Ok(Json(blocking(move || Ok(state.principals.update_group(&caller.acting(), id, patch)?)).await?))
}

/// Delete a group and revoke its memberships (admins).
#[utoipa::path(
    delete, path = "/api/v1/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses(
        (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
async fn delete_group(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let id: GroupId = parse_id(&id, "group")?;
    blocking(move || Ok(state.principals.delete_group(&caller.acting(), id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
