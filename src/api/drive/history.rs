//! What nothing-is-lost rests on: a file's versions (list, download, restore) and the share's trash (list,
//! restore).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::content::serve_content;
use super::entries::path_of;
use super::{PathQuery, authorized, parse_path, share_id};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::{ApiQuery, parse_json};
use crate::api::{AppState, blocking, parse_id};
use crate::drive::{DrivePath, Entry, EntryRef, Origin, Permission, TrashItem, Version};
use crate::ids::{ShareId, TrashId, VersionId};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_versions))
        .routes(routes!(download_version))
        .routes(routes!(restore_version))
        .routes(routes!(list_trash))
        .routes(routes!(restore_trash))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionList {
    #[schema(value_type = Vec<Object>)]
    versions: Vec<Version>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TrashList {
    #[schema(value_type = Vec<Object>)]
    trash: Vec<TrashItem>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreTrash {
    /// Where to restore; default the original path. A taken name gets a ` (restored)` suffix.
    path: Option<String>,
}

/// The path of the file a version belongs to, to check access there.
async fn path_of_version(state: &AppState, share: ShareId, version: VersionId) -> Result<DrivePath, ApiError> {
    let drive = state.drive.clone();
    let (found, _) = blocking(move || Ok(drive.read_version(share, version)?)).await?;
    path_of(state, share, found.entry_id).await
}

/// A file's versions, newest (the current content) first.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/versions", tag = "versions", params(("id" = String, Path), PathQuery),
    security(("bearer" = [])),
    responses((status = 200, body = VersionList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_versions(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Json<VersionList>, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let versions = authorized(&state, &caller, share, path, Permission::Read, move |d, p, _| {
        d.versions(share, &EntryRef::Path(p.clone()))
    })
    .await?;
    Ok(Json(VersionList { versions }))
}

/// Download one version's content.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/versions/{version_id}/content", tag = "versions", security(("bearer" = [])),
    params(("id" = String, Path), ("version_id" = String, Path, description = "ver_ id")),
    responses(
        (status = 200, content_type = "application/octet-stream"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
async fn download_version(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, version_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let share = share_id(&id)?;
    let version: VersionId = parse_id(&version_id, "version")?;
    let path = path_of_version(&state, share, version).await?;
    let (found, reader) =
        authorized(&state, &caller, share, path, Permission::Read, move |d, _, _| d.read_version(share, version))
            .await?;
    serve_content(&headers, &found.id.to_string(), found.modified_at, reader).await
}

/// Make a version current again; the current content becomes a version.
#[utoipa::path(
    post, path = "/api/v1/shares/{id}/versions/{version_id}/restore", tag = "versions", security(("bearer" = [])),
    params(("id" = String, Path), ("version_id" = String, Path, description = "ver_ id")),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)
    )
)]
async fn restore_version(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, version_id)): Path<(String, String)>,
) -> Result<Json<Entry>, ApiError> {
    let share = share_id(&id)?;
    let version: VersionId = parse_id(&version_id, "version")?;
    let path = path_of_version(&state, share, version).await?;
    let origin = Origin::user(caller.user.id);
    let entry = authorized(&state, &caller, share, path, Permission::Write, move |d, _, _| {
        d.restore_version(share, version, &origin)
    })
    .await?;
    Ok(Json(entry))
}

/// The share's deleted entries, oldest deletion first (readers of the share root).
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/trash", tag = "trash", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = TrashList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_trash(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TrashList>, ApiError> {
    let share = share_id(&id)?;
    let trash =
        authorized(&state, &caller, share, DrivePath::root(), Permission::Read, move |d, _, _| d.trash(share)).await?;
    Ok(Json(TrashList { trash }))
}

/// Bring a deleted entry back, to its original path or to `path`.
#[utoipa::path(
    post, path = "/api/v1/shares/{id}/trash/{trash_id}/restore", tag = "trash", security(("bearer" = [])),
    params(("id" = String, Path), ("trash_id" = String, Path, description = "trs_ id")),
    request_body(content = Option<RestoreTrash>),
    responses(
        (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn restore_trash(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, trash_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Entry>, ApiError> {
    let share = share_id(&id)?;
    let trash_id: TrashId = parse_id(&trash_id, "trash record")?;
    // The body is optional: empty means "to where it was".
    let request: RestoreTrash = if body.is_empty() { RestoreTrash::default() } else { parse_json(&body)? };
    let to = request.path.map(|p| parse_path(&p)).transpose()?;
    // Access is checked where the entry comes back: its original folder, or the one asked for.
    let drive = state.drive.clone();
    let original = blocking(move || {
        let items = drive.trash(share)?;
        let item = items.into_iter().find(|i| i.id == trash_id);
        item.ok_or_else(|| ApiError::NotFound(format!("trash record {trash_id} not found")))
    })
    .await?;
    let destination = match &to {
        Some(path) => path.clone(),
        None => parse_path(&original.original_path)?,
    };
    let origin = Origin::user(caller.user.id);
    let entry = authorized(&state, &caller, share, destination, Permission::Write, move |d, _, _| {
        d.restore_trash(share, trash_id, to.as_ref(), &origin)
    })
    .await?;
    Ok(Json(entry))
}
