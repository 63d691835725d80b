//! `/scim/v2/Groups`: create, read, replace, patch and delete groups. Membership pushed by SCIM overwrites;
//! PATCH answers 204 (Entra recommends not echoing member lists), or 200 with the projection when the request
//! names `attributes`/`excludedAttributes`. Reads that drop `members` never build the member list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::{Scope, list};
use super::{Preconditions, ScimBody, ScimCaller, ScimQuery, not_modified, parse_id, read, resource_response, write};
use crate::actors::scim::{ScimWrite, ScimWritten};
use crate::api::AppState;
use crate::api::scim_error::ScimApiError;
use crate::ids::GroupId;
use crate::scim::attrs::Projection;
use crate::scim::group::{ScimGroup, ScimGroupRecord};
use crate::scim::list::SearchRequest;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::location;
use crate::scim::schema::GROUP_TYPE;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, replace_group, patch_group, delete_group))
        .routes(routes!(search_groups))
}

fn group_response(status: StatusCode, record: &ScimGroupRecord, base: &str, projection: &Projection) -> Response {
    let body = projection.apply(&GROUP_TYPE, record.to_json(base));
    let created = (status == StatusCode::CREATED).then(|| location(base, "/Groups", &record.id.to_string()));
    resource_response(status, body, record.meta.version, created)
}

fn written_group(written: ScimWritten) -> Result<ScimGroupRecord, ScimApiError> {
    match written {
        ScimWritten::Group(record) => Ok(record),
        _ => Err(ScimApiError::internal("the SCIM actor answered a group write with something else")),
    }
}

/// Groups, filtered, sorted and paged.
#[utoipa::path(
    get, path = "/scim/v2/Groups", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse", content_type = "application/scim+json"))
)]
async fn list_groups(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimQuery(q): ScimQuery,
) -> Result<Response, ScimApiError> {
    list(&state, caller.base, q, Scope::Groups).await
}

/// `POST /Groups/.search`.
#[utoipa::path(
    post, path = "/scim/v2/Groups/.search", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse", content_type = "application/scim+json"))
)]
async fn search_groups(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    list(&state, caller.base, SearchRequest::from_json(&body)?, Scope::Groups).await
}

/// Create a group (201); its display name must be free (compared case-insensitively).
#[utoipa::path(
    post, path = "/scim/v2/Groups", tag = "scim", security(("bearer" = [])),
    responses((status = 201, description = "the Group", content_type = "application/scim+json"))
)]
async fn create_group(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimQuery(q): ScimQuery,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let projection = q.projection(&GROUP_TYPE)?;
    let group = ScimGroup::from_json(&body)?;
    let record = written_group(write(&state, caller.acting, ScimWrite::CreateGroup(group)).await?)?;
    Ok(group_response(StatusCode::CREATED, &record, &caller.base, &projection))
}

/// One group; `excludedAttributes=members` skips the member list.
#[utoipa::path(
    get, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses((status = 200, description = "the Group", content_type = "application/scim+json"))
)]
async fn get_group(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimQuery(q): ScimQuery,
    pre: Preconditions,
) -> Result<Response, ScimApiError> {
    let id: GroupId = parse_id(&id, "group")?;
    let projection = q.projection(&GROUP_TYPE)?;
    let with_members = !projection.drops_members(&GROUP_TYPE);
    let principals = state.principals.clone();
    let record = read(move || Ok(principals.scim_group(id, with_members)?)).await?;
    if pre.not_modified(record.meta.version) {
        return Ok(not_modified(record.meta.version));
    }
    Ok(group_response(StatusCode::OK, &record, &caller.base, &projection))
}

/// Replace a group, its member list included.
#[utoipa::path(
    put, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses((status = 200, description = "the Group", content_type = "application/scim+json"))
)]
async fn replace_group(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimQuery(q): ScimQuery,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let id: GroupId = parse_id(&id, "group")?;
    let projection = q.projection(&GROUP_TYPE)?;
    let group = ScimGroup::from_json(&body)?;
    let write_op = ScimWrite::ReplaceGroup { id, group, if_match: pre.if_match };
    let record = written_group(write(&state, caller.acting, write_op).await?)?;
    Ok(group_response(StatusCode::OK, &record, &caller.base, &projection))
}

/// Patch a group: 204, or 200 with the projection asked for.
#[utoipa::path(
    patch, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses((status = 204), (status = 200, description = "the Group", content_type = "application/scim+json"))
)]
async fn patch_group(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimQuery(q): ScimQuery,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let id: GroupId = parse_id(&id, "group")?;
    let projection = q.projection(&GROUP_TYPE)?;
    let patch = PatchRequest::from_json(&body)?;
    write(&state, caller.acting, ScimWrite::PatchGroup { id, patch, if_match: pre.if_match }).await?;
    if q.attributes.is_none() && q.excluded_attributes.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let with_members = !projection.drops_members(&GROUP_TYPE);
    let principals = state.principals.clone();
    let record = read(move || Ok(principals.scim_group(id, with_members)?)).await?;
    Ok(group_response(StatusCode::OK, &record, &caller.base, &projection))
}

/// Delete a group: its memberships are revoked, share grants naming it stay (204).
#[utoipa::path(
    delete, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "grp_ id")),
    responses((status = 204))
)]
async fn delete_group(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    pre: Preconditions,
) -> Result<StatusCode, ScimApiError> {
    let id: GroupId = parse_id(&id, "group")?;
    write(&state, caller.acting, ScimWrite::DeleteGroup { id, if_match: pre.if_match }).await?;
    Ok(StatusCode::NO_CONTENT)
}
