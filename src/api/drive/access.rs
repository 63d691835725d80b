//! Per-entry metadata (SharePoint column values land here) and access entries, with effective access.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Members, PathQuery, authorized, parse_path, share_id};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::{ApiJson, ApiQuery};
use crate::api::{AppState, blocking};
use crate::drive::{Access, Ace, EntryRef, Metadata, Permission, PrincipalId};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_metadata, replace_metadata, merge_metadata))
        .routes(routes!(get_aces, put_aces))
        .routes(routes!(effective_access))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AceList {
    #[schema(value_type = Vec<Object>)]
    aces: Vec<Ace>,
    /// `false` breaks inheritance from the folders above.
    #[serde(default = "yes")]
    inherit: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    path: String,
    /// `usr_…` or `grp_…`; default the caller.
    principal_id: Option<String>,
}

/// An entry's metadata: a JSON object of string keys.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/metadata", tag = "metadata", params(("id" = String, Path), PathQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_metadata(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Json<Metadata>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let found = authorized(&state, &caller, share, path, Permission::Read, move |d, p, _| {
        d.metadata(share, &EntryRef::Path(p.clone()))
    })
    .await?;
    Ok(Json(found))
}

/// Replace an entry's metadata.
#[utoipa::path(
    put, path = "/api/v1/shares/{id}/metadata", tag = "metadata", params(("id" = String, Path), PathQuery),
    request_body = Object, security(("bearer" = [])),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn replace_metadata(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
    ApiJson(object): ApiJson<Metadata>,
) -> Result<Json<Metadata>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let stored = authorized(&state, &caller, share, path, Permission::Write, move |d, p, _| {
        d.replace_metadata(share, &EntryRef::Path(p.clone()), object)
    })
    .await?;
    Ok(Json(stored))
}

/// Merge keys into an entry's metadata (`null` removes a key).
#[utoipa::path(
    patch, path = "/api/v1/shares/{id}/metadata", tag = "metadata", params(("id" = String, Path), PathQuery),
    request_body = Object, security(("bearer" = [])),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn merge_metadata(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
    ApiJson(patch): ApiJson<Metadata>,
) -> Result<Json<Metadata>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let stored = authorized(&state, &caller, share, path, Permission::Write, move |d, p, _| {
        d.merge_metadata(share, &EntryRef::Path(p.clone()), patch)
    })
    .await?;
    Ok(Json(stored))
}

/// The access entries set on the share root (`path=/`) or an entry, and whether it inherits.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/aces", tag = "access", params(("id" = String, Path), PathQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AceList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_aces(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Json<AceList>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let (aces, inherit) = authorized(&state, &caller, share, path, Permission::Read, move |d, p, _| {
        d.aces(share, &EntryRef::Path(p.clone()))
    })
    .await?;
    Ok(Json(AceList { aces, inherit }))
}

/// Replace the access entries of the share root or an entry (`manage`).
#[utoipa::path(
    put, path = "/api/v1/shares/{id}/aces", tag = "access", params(("id" = String, Path), PathQuery),
    request_body = AceList, security(("bearer" = [])),
    responses(
        (status = 200, body = AceList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn put_aces(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
    ApiJson(list): ApiJson<AceList>,
) -> Result<Json<AceList>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let (aces, inherit) = (list.aces, list.inherit);
    let stored = authorized(&state, &caller, share, path, Permission::Manage, move |d, p, _| {
        let target = EntryRef::Path(p.clone());
        d.set_aces(share, &target, &aces, inherit)?;
        d.aces(share, &target)
    })
    .await?;
    Ok(Json(AceList { aces: stored.0, inherit: stored.1 }))
}

/// What a principal may do at a path, after groups, inheritance and deny. Asking about someone else needs
/// `manage` there.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/effective-access", tag = "access", params(("id" = String, Path), AccessQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
async fn effective_access(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<AccessQuery>,
) -> Result<Json<Access>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let principal = match query.principal_id {
        Some(text) => text.parse::<PrincipalId>().map_err(|e| ApiError::invalid("principal_id", e.to_string()))?,
        None => PrincipalId::User(caller.user.id),
    };
    let needed = if principal == PrincipalId::User(caller.user.id) { Permission::Read } else { Permission::Manage };
    authorized(&state, &caller, share, path.clone(), needed, |_, _, _| Ok(())).await?;
    let (drive, members) = (state.drive.clone(), Members(state.principals.clone()));
    let access = blocking(move || Ok(drive.effective_access(share, &path, principal, &members)?)).await?;
    Ok(Json(access))
}
