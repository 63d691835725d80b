//! The one handler path of `/Users` and `/Groups`: list, search, create, get, replace, patch and delete are
//! written once here, over `ScimResource`, which each resource file implements with what is truly its own
//! (schema, how to parse a body, which actor write, how to read one back). The RFC behaviour every resource
//! shares lives here: `attributes`/`excludedAttributes` on every body that carries a resource, `ETag` and
//! `If-None-Match` (304) on reads, `If-Match` passed to the actor (412), `Location` on create, DELETE 204.
//!
//! utoipa wants one annotated function per path and method, and its `routes!` cannot name a generic function,
//! so `scim_resource_routes!` writes, per resource, the seven thin documented handlers that forward here.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::search::{Scope, list as run_list};
use super::{Preconditions, ScimBody, ScimCaller, ScimQuery, not_modified, parse_id, read, resource_response, write};
use crate::actors::scim::{ScimOp, ScimWrite, ScimWritten};
use crate::api::AppState;
use crate::api::scim_error::ScimApiError;
use crate::principals::{Principals, ScimStoreError};
use crate::scim::attrs::Projection;
use crate::scim::error::ScimError;
use crate::scim::list::SearchRequest;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::location;
use crate::scim::schema::ResourceType;

/// What one SCIM resource type brings to the shared handlers.
pub trait ScimResource: 'static {
    type Id: std::str::FromStr + Copy + Send + 'static;
    /// The parsed body of a POST or PUT.
    type Input;
    /// The resource as the store reads it back.
    type Record: Send + 'static;
    const TYPE: &'static ResourceType;
    /// The noun of "not found" answers: `user`.
    const KIND: &'static str;
    /// Which resources a list of this endpoint covers.
    const SCOPE: Scope;
    /// Whether PATCH answers 200 with the resource when the request names no attributes (else 204).
    const PATCH_ECHOES: bool;

    fn input(body: &Value) -> Result<Self::Input, ScimError>;
    fn write(op: ScimOp<Self::Id, Self::Input>) -> ScimWrite;
    /// The record a write answered with; `None` when the write answers nothing (the handler reads it back).
    fn written(written: ScimWritten) -> Option<Self::Record>;
    /// One resource; `with_members: false` when the response drops `members` anyway.
    fn read(p: &Principals, id: Self::Id, with_members: bool) -> Result<Self::Record, ScimStoreError>;
    fn to_json(record: &Self::Record, base: &str) -> Value;
    /// The record's id, for `Location`, and its version, for `ETag`.
    fn id_and_version(record: &Self::Record) -> (String, u64);
}

/// What the handlers of a resource read from a request (in this order, as the errors rank): the SCIM caller
/// (401, 429), the query (`attributes`, `filter`, ... 400) and the preconditions.
pub struct ScimRequest {
    caller: ScimCaller,
    state: AppState,
    query: SearchRequest,
    pre: Preconditions,
}

impl FromRequestParts<AppState> for ScimRequest {
    type Rejection = ScimApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimApiError> {
        let caller = ScimCaller::from_request_parts(parts, state).await?;
        let ScimQuery(query) = ScimQuery::from_request_parts(parts, state).await?;
        let pre = Preconditions::from_request_parts(parts, state).await?;
        Ok(Self { caller, state: state.clone(), query, pre })
    }
}

impl ScimRequest {
    /// The resource a path names (any other text names one that does not exist), and the projection of the
    /// answer.
    fn target<R: ScimResource>(&self, id: &str) -> Result<(R::Id, Projection), ScimApiError> {
        Ok((parse_id(id, R::KIND)?, self.query.projection(R::TYPE)?))
    }
}

/// The resource, projected, with its `ETag` (and `Location` when it was just created).
fn respond<R: ScimResource>(status: StatusCode, record: &R::Record, base: &str, projection: &Projection) -> Response {
    let body = projection.apply(R::TYPE, R::to_json(record, base));
    let (id, version) = R::id_and_version(record);
    let created = (status == StatusCode::CREATED).then(|| location(base, R::TYPE.endpoint, &id));
    resource_response(status, body, version, created)
}

async fn read_one<R: ScimResource>(
    state: &AppState,
    id: R::Id,
    projection: &Projection,
) -> Result<R::Record, ScimApiError> {
    let with_members = !projection.drops_members(R::TYPE);
    let principals = state.principals.clone();
    read(move || Ok(R::read(&principals, id, with_members)?)).await
}

/// Sends a PUT or PATCH and answers 200 with the resource, or 204 when `echo` is off and the request names no
/// attributes. A write that answers no record (a group PATCH) is read back only when the answer needs it.
async fn write_existing<R: ScimResource>(
    r: ScimRequest,
    id: R::Id,
    projection: Projection,
    op: ScimOp<R::Id, R::Input>,
    echo: bool,
) -> Result<Response, ScimApiError> {
    let written = write(&r.state, r.caller.acting, R::write(op)).await?;
    if !echo && r.query.attributes.is_none() && r.query.excluded_attributes.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let record = match R::written(written) {
        Some(record) => record,
        None => read_one::<R>(&r.state, id, &projection).await?,
    };
    Ok(respond::<R>(StatusCode::OK, &record, &r.caller.base, &projection))
}

pub async fn list<R: ScimResource>(r: ScimRequest) -> Result<Response, ScimApiError> {
    run_list(&r.state, r.caller.base, r.query, R::SCOPE).await
}

pub async fn search<R: ScimResource>(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    run_list(&state, caller.base, SearchRequest::from_json(&body)?, R::SCOPE).await
}

pub async fn create<R: ScimResource>(r: ScimRequest, ScimBody(body): ScimBody) -> Result<Response, ScimApiError> {
    let projection = r.query.projection(R::TYPE)?;
    let input = R::input(&body)?;
    let written = write(&r.state, r.caller.acting, R::write(ScimOp::Create(input))).await?;
    let record = R::written(written)
        .ok_or_else(|| ScimApiError::internal("the SCIM actor answered a create with another kind of resource"))?;
    Ok(respond::<R>(StatusCode::CREATED, &record, &r.caller.base, &projection))
}

pub async fn get<R: ScimResource>(r: ScimRequest, Path(id): Path<String>) -> Result<Response, ScimApiError> {
    let (id, projection) = r.target::<R>(&id)?;
    let record = read_one::<R>(&r.state, id, &projection).await?;
    let (_, version) = R::id_and_version(&record);
    if r.pre.not_modified(version) {
        return Ok(not_modified(version));
    }
    Ok(respond::<R>(StatusCode::OK, &record, &r.caller.base, &projection))
}

pub async fn replace<R: ScimResource>(
    mut r: ScimRequest,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let (id, projection) = r.target::<R>(&id)?;
    let input = R::input(&body)?;
    let op = ScimOp::Replace { id, input, if_match: r.pre.if_match.take() };
    write_existing::<R>(r, id, projection, op, true).await
}

pub async fn patch<R: ScimResource>(
    mut r: ScimRequest,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    let (id, projection) = r.target::<R>(&id)?;
    let patch = PatchRequest::from_json(&body)?;
    let op = ScimOp::Patch { id, patch, if_match: r.pre.if_match.take() };
    write_existing::<R>(r, id, projection, op, R::PATCH_ECHOES).await
}

pub async fn delete<R: ScimResource>(
    caller: ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    pre: Preconditions,
) -> Result<StatusCode, ScimApiError> {
    let id: R::Id = parse_id(&id, R::KIND)?;
    write(&state, caller.acting, R::write(ScimOp::Delete { id, if_match: pre.if_match })).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Writes a resource's documented routes: `$path` (list, create), `$path/{id}` (get, replace, patch,
/// delete) and `$path/.search`, each a thin handler forwarding to the generic one above. Operation ids stay
/// `list_users`, `get_group`, ...: `$one`/`$many` are the resource's nouns.
macro_rules! scim_resource_routes {
    (
        resource: $resource:ty, one: $one:literal, many: $many:literal, path: $path:literal,
        title: $title:literal, id: $id_doc:literal, patch_responses: $patch_responses:tt,
        docs: { list: $list_doc:literal, search: $search_doc:literal, create: $create_doc:literal,
                get: $get_doc:literal, replace: $replace_doc:literal, patch: $patch_doc:literal,
                delete: $delete_doc:literal $(,)? } $(,)?
    ) => {
        use axum::extract::{Path, State};
        use axum::http::StatusCode;
        use axum::response::Response;

        use super::resource::{self, ScimRequest};
        use super::{Preconditions, ScimBody, ScimCaller};
        use $crate::api::AppState;
        use $crate::api::scim_error::ScimApiError;

        pub fn routes() -> utoipa_axum::router::OpenApiRouter<$crate::api::AppState> {
            use utoipa_axum::routes;
            utoipa_axum::router::OpenApiRouter::new()
                .routes(routes!(list, create))
                .routes(routes!(get, replace, patch, delete))
                .routes(routes!(search))
        }

        #[doc = $list_doc]
        #[utoipa::path(
            get, path = $path, tag = "scim", operation_id = concat!("list_", $many), security(("bearer" = [])),
            responses((status = 200, description = "ListResponse", content_type = "application/scim+json")))]
        async fn list(r: ScimRequest) -> Result<Response, ScimApiError> {
            resource::list::<$resource>(r).await
        }

        #[doc = $search_doc]
        #[utoipa::path(
            post, path = concat!($path, "/.search"), tag = "scim", operation_id = concat!("search_", $many),
            security(("bearer" = [])),
            responses((status = 200, description = "ListResponse", content_type = "application/scim+json")))]
        async fn search(caller: ScimCaller, state: State<AppState>, body: ScimBody) -> Result<Response, ScimApiError> {
            resource::search::<$resource>(caller, state, body).await
        }

        #[doc = $create_doc]
        #[utoipa::path(
            post, path = $path, tag = "scim", operation_id = concat!("create_", $one), security(("bearer" = [])),
            responses((status = 201, description = $title, content_type = "application/scim+json")))]
        async fn create(r: ScimRequest, body: ScimBody) -> Result<Response, ScimApiError> {
            resource::create::<$resource>(r, body).await
        }

        #[doc = $get_doc]
        #[utoipa::path(
            get, path = concat!($path, "/{id}"), tag = "scim", operation_id = concat!("get_", $one),
            security(("bearer" = [])), params(("id" = String, Path, description = $id_doc)),
            responses((status = 200, description = $title, content_type = "application/scim+json")))]
        async fn get(r: ScimRequest, id: Path<String>) -> Result<Response, ScimApiError> {
            resource::get::<$resource>(r, id).await
        }

        #[doc = $replace_doc]
        #[utoipa::path(
            put, path = concat!($path, "/{id}"), tag = "scim", operation_id = concat!("replace_", $one),
            security(("bearer" = [])), params(("id" = String, Path, description = $id_doc)),
            responses((status = 200, description = $title, content_type = "application/scim+json")))]
        async fn replace(r: ScimRequest, id: Path<String>, body: ScimBody) -> Result<Response, ScimApiError> {
            resource::replace::<$resource>(r, id, body).await
        }

        #[doc = $patch_doc]
        #[utoipa::path(
            patch, path = concat!($path, "/{id}"), tag = "scim", operation_id = concat!("patch_", $one),
            security(("bearer" = [])), params(("id" = String, Path, description = $id_doc)),
            responses $patch_responses)]
        async fn patch(r: ScimRequest, id: Path<String>, body: ScimBody) -> Result<Response, ScimApiError> {
            resource::patch::<$resource>(r, id, body).await
        }

        #[doc = $delete_doc]
        #[utoipa::path(
            delete, path = concat!($path, "/{id}"), tag = "scim", operation_id = concat!("delete_", $one),
            security(("bearer" = [])), params(("id" = String, Path, description = $id_doc)),
            responses((status = 204)))]
        async fn delete(caller: ScimCaller, state: State<AppState>, id: Path<String>, pre: Preconditions)
            -> Result<StatusCode, ScimApiError> {
            resource::delete::<$resource>(caller, state, id, pre).await
        }
    };
}
pub(super) use scim_resource_routes;
