//! Files and folders by path or id: listing, lookup, new folders, moves and deletes (to the trash).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{authorized, parse_path, share_id};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::{ApiJson, ApiQuery};
use crate::api::{AppState, blocking, parse_id};
use crate::drive::{DrivePath, Entry, EntryRef, Origin, Permission, Precondition};
use crate::ids::EntryId;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_or_get_entry, delete_entry))
        .routes(routes!(get_entry_by_id))
        .routes(routes!(create_folder))
        .routes(routes!(move_entry))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A folder (its children are listed) or a file (its entry is returned). Default `/`.
    path: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFolder {
    path: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The entry to move, by path...
    from: Option<String>,
    /// ...or by id.
    entry_id: Option<String>,
    to: String,
}

/// `If-Match` and `If-None-Match: *` as a drive precondition.
pub fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::to_owned).map_err(|_| ApiError::invalid(name, "is not ASCII")))
            .transpose()
    };
    match (text("if-match")?, text("if-none-match")?) {
        (Some(_), Some(_)) => Err(ApiError::invalid("If-Match", "cannot be combined with If-None-Match")),
        (Some(tag), None) => Ok(Precondition::IfMatch(tag)),
        (None, Some(star)) if star.trim() == "*" => Ok(Precondition::MustNotExist),
        (None, Some(_)) => Err(ApiError::invalid("If-None-Match", "only `*` is supported on writes")),
        (None, None) => Ok(Precondition::None),
    }
}

/// A folder's children (paginated, in name order), or one file's entry when `path` names a file.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/entries", tag = "entries", params(("id" = String, Path), ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_or_get_entry(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(query.path.as_deref().unwrap_or("/"))?;
    let limit = crate::api::pagination::PageQuery { limit: query.limit, cursor: None }.limit()?;
    let cursor = query.cursor;
    let listed = authorized(&state, &caller, share, path, Permission::Read, move |d, path, _| {
        let entry = d.entry(share, &EntryRef::Path(path.clone()))?;
        if entry.is_folder() { Ok(Err(d.list_folder(share, path, cursor.as_deref(), limit)?)) } else { Ok(Ok(entry)) }
    })
    .await?;
    Ok(match listed {
        Ok(file) => Json(file).into_response(),
        Err(page) => Json(page).into_response(),
    })
}

/// One entry by its stable id.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/entries/{entry_id}", tag = "entries", security(("bearer" = [])),
    params(("id" = String, Path), ("entry_id" = String, Path, description = "ent_ id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_entry_by_id(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, entry_id)): Path<(String, String)>,
) -> Result<Json<Entry>, ApiError> {
    let share = share_id(&id)?;
    let entry_id: EntryId = parse_id(&entry_id, "entry")?;
    let path = path_of(&state, share, entry_id).await?;
    Ok(Json(
        authorized(&state, &caller, share, path, Permission::Read, move |d, _, _| {
            d.entry(share, &EntryRef::Id(entry_id))
        })
        .await?,
    ))
}

/// The current path of an entry, to check access there.
pub async fn path_of(state: &AppState, share: crate::ids::ShareId, entry: EntryId) -> Result<DrivePath, ApiError> {
    let drive = state.drive.clone();
    blocking(move || Ok(drive.entry(share, &EntryRef::Id(entry))?.path)).await
}

/// Move an entry (with its subtree) to the share's trash. `If-Match` makes it conditional.
#[utoipa::path(
    delete, path = "/api/v1/shares/{id}/entries", tag = "entries", params(("id" = String, Path), super::PathQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Object, description = "the trash record"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)
    )
)]
async fn delete_entry(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<super::PathQuery>,
) -> Result<Response, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let precondition = precondition(&headers)?;
    let origin = Origin::user(caller.user.id);
    let trashed = authorized(&state, &caller, share, path, Permission::Write, move |d, path, _| {
        d.delete_entry(share, &EntryRef::Path(path.clone()), &precondition, &origin)
    })
    .await?;
    Ok(Json(trashed).into_response())
}

/// Create a folder; missing parents are created too.
#[utoipa::path(
    post, path = "/api/v1/shares/{id}/folders", tag = "entries", params(("id" = String, Path)),
    request_body = NewFolder, security(("bearer" = [])),
    responses(
        (status = 201, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn create_folder(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewFolder>,
) -> Result<(StatusCode, Json<Entry>), ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&new.path)?;
    let origin = Origin::user(caller.user.id);
    let folder = authorized(&state, &caller, share, path, Permission::Write, move |d, path, _| {
        d.create_folder(share, path, &origin)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(folder)))
}

/// Move or rename an entry; it keeps its id, versions, metadata and ACEs.
#[utoipa::path(
    post, path = "/api/v1/shares/{id}/move", tag = "entries", params(("id" = String, Path)),
    request_body = MoveRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn move_entry(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MoveRequest>,
) -> Result<Json<Entry>, ApiError> {
    let share = share_id(&id)?;
    let to = parse_path(&request.to)?;
    let from = match (request.from, request.entry_id) {
        (Some(from), None) => parse_path(&from)?,
        (None, Some(entry)) => path_of(&state, share, parse_id(&entry, "entry")?).await?,
        _ => return Err(ApiError::invalid("from", "give exactly one of `from` and `entry_id`")),
    };
    // Writing at both ends: the source disappears from its folder, the target appears in another.
    let to_check = to.clone();
    authorized(&state, &caller, share, to_check, Permission::Write, |_, _, _| Ok(())).await?;
    let origin = Origin::user(caller.user.id);
    let moved = authorized(&state, &caller, share, from, Permission::Write, move |d, from, _| {
        d.move_entry(share, &EntryRef::Path(from.clone()), &to, &origin)
    })
    .await?;
    Ok(Json(moved))
}
