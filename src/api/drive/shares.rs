//! `/api/v1/shares`: create, list, read, change and delete shares.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Members, authorized, drive_caller, share_id};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::{ApiJson, ApiQuery};
use crate::api::pagination::PageQuery;
use crate::api::{AppState, blocking};
use crate::drive::{DrivePath, Permission, Share, ShareUpdate};
use crate::principals::double_option;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_shares, create_share)).routes(routes!(
        get_share,
        update_share,
        delete_share
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    name: String,
    quota_bytes: Option<u64>,
    /// Days versions and trash are kept (default 30).
    retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharePatch {
    name: Option<String>,
    /// `null` removes the quota.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>)]
    quota_bytes: Option<Option<u64>>,
    retention_days: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ShareList {
    #[schema(value_type = Vec<Object>)]
    shares: Vec<Share>,
    next_cursor: Option<String>,
}

fn check_retention(days: Option<u32>) -> Result<(), ApiError> {
    match days {
        Some(0) | Some(36_501..) => Err(ApiError::invalid("retention_days", "must be between 1 and 36500")),
        _ => Ok(()),
    }
}

/// Create a share; the caller gets `manage` on it.
#[utoipa::path(
    post, path = "/api/v1/shares", tag = "shares", request_body = NewShare, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody))
)]
async fn create_share(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewShare>,
) -> Result<(StatusCode, Json<Share>), ApiError> {
    check_retention(new.retention_days)?;
    let drive = state.drive.clone();
    let share = blocking(move || {
        Ok(drive.create_share(&new.name, new.quota_bytes, new.retention_days, Some(caller.user.id))?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(share)))
}

/// The shares the caller can read, in creation order.
#[utoipa::path(
    get, path = "/api/v1/shares", tag = "shares", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = ShareList), (status = 401, body = ErrorBody))
)]
async fn list_shares(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ShareList>, ApiError> {
    let (limit, after) = (page.limit()?, page.after()?);
    let (drive, members, who) = (state.drive.clone(), Members(state.principals.clone()), drive_caller(&caller));
    let mut shares = blocking(move || Ok(drive.readable_shares(who, &members)?)).await?;
    shares.sort_by_key(|s| s.id);
    let start = after.map_or(0, |after| shares.partition_point(|s| s.id.to_bytes() <= after));
    let mut page: Vec<Share> = shares.into_iter().skip(start).take(limit + 1).collect();
    let next = (page.len() > limit).then(|| {
        page.truncate(limit);
        page[limit - 1].id.to_bytes()
    });
    Ok(Json(ShareList { shares: page, next_cursor: crate::api::pagination::cursor(next) }))
}

/// One share, with its usage.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}", tag = "shares", security(("bearer" = [])),
    params(("id" = String, Path, description = "shr_ id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_share(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Share>, ApiError> {
    let id = share_id(&id)?;
    let share =
        authorized(&state, &caller, id, DrivePath::root(), Permission::Read, move |d, _, _| d.share(id)).await?;
    Ok(Json(share))
}

/// Rename a share, change its quota or retention (`manage`).
#[utoipa::path(
    patch, path = "/api/v1/shares/{id}", tag = "shares", request_body = SharePatch, security(("bearer" = [])),
    params(("id" = String, Path, description = "shr_ id")),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn update_share(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<SharePatch>,
) -> Result<Json<Share>, ApiError> {
    let id = share_id(&id)?;
    check_retention(patch.retention_days)?;
    let update = ShareUpdate { name: patch.name, quota_bytes: patch.quota_bytes, retention_days: patch.retention_days };
    let share = authorized(&state, &caller, id, DrivePath::root(), Permission::Manage, move |d, _, _| {
        d.update_share(id, update)
    })
    .await?;
    Ok(Json(share))
}

/// Delete a share (`manage`); refused while a connector targets it (`SHARE_IN_USE`).
#[utoipa::path(
    delete, path = "/api/v1/shares/{id}", tag = "shares", security(("bearer" = [])),
    params(("id" = String, Path, description = "shr_ id")),
    responses(
        (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
async fn delete_share(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = share_id(&id)?;
    let in_use = state.share_users.clone();
    authorized(&state, &caller, id, DrivePath::root(), Permission::Manage, move |d, _, _| {
        d.delete_share(id, &|share| in_use(share))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
