//! `/scim/v2/Users`: create, read, replace, patch and delete users. PATCH answers 200 with the resource (Okta
//! shows it); DELETE 204. `attributes`/`excludedAttributes` shape every body that carries a resource.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::{Scope, list};
use super::{Preconditions, ScimBody, ScimCaller, ScimQuery, not_modified, parse_id, read, resource_response, write};
use crate::actors::scim::{ScimWrite, ScimWritten};
use crate::api::AppState;
use crate::api::scim_error::ScimApiError;
use crate::ids::UserId;
use crate::scim::attrs::Projection;
use crate::scim::list::SearchRequest;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{ScimUser, ScimUserRecord, ignored_attributes, location};
use crate::scim::schema::USER_TYPE;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, replace_user, patch_user, delete_user))
        .routes(routes!(search_users))
}

fn user_response(status: StatusCode, record: &ScimUserRecord, base: &str, projection: &Projection) -> Response {
    let body = projection.apply(&USER_TYPE, record.to_json(base));
    let created = (status == StatusCode::CREATED).then(|| location(base, "/Users", &record.id.to_string()));
    resource_response(status, body, record.meta.version, created)
}

fn written_user(written: ScimWritten) -> Result<ScimUserRecord, ScimApiError> {
    match written {
        ScimWritten::User(record) => Ok(record),
        _ => Err(ScimApiError::internal("the SCIM actor answered a user write with something else")),
    }
}

/// RFC 7644 section 3.3: attributes no schema defines, and readOnly ones, are ignored; the log names them.
fn log_ignored(body: &serde_json::Value) {
    let ignored = ignored_attributes(&USER_TYPE, body);
    if !ignored.is_empty() {
        tracing::debug!(?ignored, "SCIM user body: attributes ignored");
    }
}

/// Users, filtered (`filter`), sorted (`sortBy`), paged (`startIndex`, `count`).
#[utoipa::path(
    get, path = "/scim/v2/Users", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse", content_type = "application/scim+json"))
)]
async fn list_users(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimQuery(q): ScimQuery,
) -> Result<Response, ScimApiError> {
    list(&state, caller.base, q, Scope::Users).await
}

/// `POST /Users/.search`: the query in the body, so it stays out of URLs and logs.
#[utoipa::path(
    post, path = "/scim/v2/Users/.search", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse", content_type = "application/scim+json"))
)]
async fn search_users(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    list(&state, caller.base, SearchRequest::from_json(&body)?, Scope::Users).await
}

/// Create a user (201). A user made just in time with the same externalId or userName is adopted.
#[utoipa::path(
    post, path = "/scim/v2/Users", tag = "scim", security(("bearer" = [])),
    responses((status = 201, description = "the User", content_type = "application/scim+json"))
)]
async fn create_user(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimQuery(q): ScimQuery,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let projection = q.projection(&USER_TYPE)?;
    log_ignored(&body);
    let user = ScimUser::from_json(&body)?;
    let record = written_user(write(&state, caller.acting, ScimWrite::CreateUser(user)).await?)?;
    Ok(user_response(StatusCode::CREATED, &record, &caller.base, &projection))
}

/// One user; 304 when `If-None-Match` names its version.
#[utoipa::path(
    get, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses((status = 200, description = "the User", content_type = "application/scim+json"))
)]
async fn get_user(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimQuery(q): ScimQuery,
    pre: Preconditions,
) -> Result<Response, ScimApiError> {
    let id: UserId = parse_id(&id, "user")?;
    let projection = q.projection(&USER_TYPE)?;
    let principals = state.principals.clone();
    let record = read(move || Ok(principals.scim_user(id)?)).await?;
    if pre.not_modified(record.meta.version) {
        return Ok(not_modified(record.meta.version));
    }
    Ok(user_response(StatusCode::OK, &record, &caller.base, &projection))
}

/// Replace a user: attributes left out of the body are cleared.
#[utoipa::path(
    put, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses((status = 200, description = "the User", content_type = "application/scim+json"))
)]
async fn replace_user(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimQuery(q): ScimQuery,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let id: UserId = parse_id(&id, "user")?;
    let projection = q.projection(&USER_TYPE)?;
    log_ignored(&body);
    let user = ScimUser::from_json(&body)?;
    let write_op = ScimWrite::ReplaceUser { id, user, if_match: pre.if_match };
    let record = written_user(write(&state, caller.acting, write_op).await?)?;
    Ok(user_response(StatusCode::OK, &record, &caller.base, &projection))
}

/// Patch a user (RFC 7644 section 3.5.2, with the identity providers' habits); 200 with the resource.
#[utoipa::path(
    patch, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses((status = 200, description = "the User", content_type = "application/scim+json"))
)]
async fn patch_user(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ScimQuery(q): ScimQuery,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let id: UserId = parse_id(&id, "user")?;
    let projection = q.projection(&USER_TYPE)?;
    let patch = PatchRequest::from_json(&body)?;
    let write_op = ScimWrite::PatchUser { id, patch, if_match: pre.if_match };
    let record = written_user(write(&state, caller.acting, write_op).await?)?;
    Ok(user_response(StatusCode::OK, &record, &caller.base, &projection))
}

/// Delete a user with its tokens and memberships (204).
#[utoipa::path(
    delete, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses((status = 204))
)]
async fn delete_user(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    pre: Preconditions,
) -> Result<StatusCode, ScimApiError> {
    let id: UserId = parse_id(&id, "user")?;
    write(&state, caller.acting, ScimWrite::DeleteUser { id, if_match: pre.if_match }).await?;
    Ok(StatusCode::NO_CONTENT)
}
