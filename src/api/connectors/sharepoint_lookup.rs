//! Discovery for setting a SharePoint connector up, asked of Graph with the connector's credentials: sites by
//! search, a site's document libraries, and Azure AD users and groups for identity mappings (their `id` is what
//! an identity mapping's `smb_principal` takes).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::managed_connector_of;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::{ApiJson, ApiQuery};
use crate::connectors::ConnectorKind;
use crate::connectors::sharepoint::graph::GraphAccess;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_sites))
        .routes(routes!(list_drives))
        .routes(routes!(search_users))
        .routes(routes!(search_groups))
}

async fn access(state: &AppState, caller: &Caller, id: &str) -> Result<GraphAccess, ApiError> {
    let connector = managed_connector_of(state, caller, id, ConnectorKind::Sharepoint).await?;
    Ok(GraphAccess::open(&state.connectors, &connector, &state.config.sharepoint)?)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value[key].as_str().map(str::to_owned)
}

fn each(answer: &Value) -> impl Iterator<Item = &Value> {
    answer["value"].as_array().into_iter().flatten()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    /// Words of the site's name or URL.
    search: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Site {
    site_id: String,
    name: Option<String>,
    display_name: Option<String>,
    web_url: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteList {
    sites: Vec<Site>,
}

/// Sites the connector's app (or user) can reach whose name matches `search`.
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors/{id}/sites", tag = "sharepoint-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id"), SiteQuery),
    responses(
        (status = 200, body = SiteList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)
    )
)]
async fn search_sites(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SiteQuery>,
) -> Result<Json<SiteList>, ApiError> {
    let access = access(&state, &caller, &id).await?;
    let answer = access.search_sites(query.search.trim()).await?;
    let sites = each(&answer)
        .filter_map(|s| {
            Some(Site {
                site_id: text(s, "id")?,
                name: text(s, "name"),
                display_name: text(s, "displayName"),
                web_url: text(s, "webUrl"),
            })
        })
        .collect();
    Ok(Json(SiteList { sites }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DriveQuery {
    /// A `site_id` from `sites?search=`.
    site_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DriveInfo {
    drive_id: String,
    name: Option<String>,
    drive_type: Option<String>,
    web_url: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DriveList {
    drives: Vec<DriveInfo>,
}

/// The document libraries of a site (`drive_id` is what the connector's `drive_id` takes).
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors/{id}/drives", tag = "sharepoint-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id"), DriveQuery),
    responses(
        (status = 200, body = DriveList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)
    )
)]
async fn list_drives(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DriveQuery>,
) -> Result<Json<DriveList>, ApiError> {
    let access = access(&state, &caller, &id).await?;
    let answer = access.drives(query.site_id.trim()).await?;
    let drives = each(&answer)
        .filter_map(|d| {
            Some(DriveInfo {
                drive_id: text(d, "id")?,
                name: text(d, "name"),
                drive_type: text(d, "driveType"),
                web_url: text(d, "webUrl"),
            })
        })
        .collect();
    Ok(Json(DriveList { drives }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectorySearch {
    /// The start of a word of the display name.
    query: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DirectoryEntry {
    /// The Azure AD object id (an identity mapping's `smb_principal`).
    id: String,
    email: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<DirectoryEntry>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupList {
    groups: Vec<DirectoryEntry>,
}

async fn directory(
    state: &AppState,
    caller: &Caller,
    id: &str,
    collection: &str,
    query: &str,
) -> Result<Vec<DirectoryEntry>, ApiError> {
    if query.trim().is_empty() {
        return Err(ApiError::invalid("query", "must not be empty"));
    }
    let access = access(state, caller, id).await?;
    let answer = access.search_directory(collection, query.trim()).await?;
    Ok(each(&answer)
        .filter_map(|u| {
            Some(DirectoryEntry { id: text(u, "id")?, email: text(u, "mail"), name: text(u, "displayName") })
        })
        .collect())
}

/// Azure AD users whose display name matches, for identity mappings.
#[utoipa::path(
    post, path = "/api/v1/sharepoint-connectors/{id}/azure/users/search", tag = "sharepoint-connectors",
    request_body = DirectorySearch, security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 200, body = UserList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)
    )
)]
async fn search_users(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(search): ApiJson<DirectorySearch>,
) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList { users: directory(&state, &caller, &id, "users", &search.query).await? }))
}

/// Azure AD groups whose display name matches, for identity mappings.
#[utoipa::path(
    post, path = "/api/v1/sharepoint-connectors/{id}/azure/groups/search", tag = "sharepoint-connectors",
    request_body = DirectorySearch, security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 200, body = GroupList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)
    )
)]
async fn search_groups(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(search): ApiJson<DirectorySearch>,
) -> Result<Json<GroupList>, ApiError> {
    Ok(Json(GroupList { groups: directory(&state, &caller, &id, "groups", &search.query).await? }))
}
