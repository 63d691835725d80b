//! The discovery endpoints: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7644 section 4), read
//! only (other methods get 405 from the router's fallback, a filter 403); and `/Bulk`, which answers 501. The documents come from `crate::scim::discovery`,
//! which renders them from the same schema tables the parser uses, so they advertise only what round-trips.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::MAX_RESULTS;
use super::{ScimCaller, ScimQuery, scim_json};
use crate::api::AppState;
use crate::api::scim_error::ScimApiError;
use crate::scim::discovery::{self, ProviderFeatures};
use crate::scim::error::ScimError;
use crate::scim::list::SearchRequest;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_provider_config))
        .routes(routes!(list_schemas))
        .routes(routes!(get_schema))
        .routes(routes!(list_resource_types))
        .routes(routes!(get_resource_type))
        .routes(routes!(bulk))
}

/// RFC 7644 section 4: a filter on a discovery endpoint SHOULD be refused with 403.
fn no_filter(q: &SearchRequest) -> Result<(), ScimApiError> {
    match q.filter.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => Err(ScimError::Forbidden("discovery endpoints take no filter".into()).into()),
        _ => Ok(()),
    }
}

/// What this server really does: PATCH, filters, sorting and ETags yes; Bulk and password changes no.
fn features() -> ProviderFeatures {
    ProviderFeatures { max_results: MAX_RESULTS, sort: true, etag: true, documentation_uri: None }
}

/// The service provider's configuration.
#[utoipa::path(
    get, path = "/scim/v2/ServiceProviderConfig", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ServiceProviderConfig", content_type = "application/scim+json"))
)]
async fn service_provider_config(caller: ScimCaller, ScimQuery(q): ScimQuery) -> Result<Response, ScimApiError> {
    no_filter(&q)?;
    Ok(scim_json(StatusCode::OK, discovery::service_provider_config(&caller.base, &features())))
}

/// Every schema (User, Group, the enterprise and ScaiDrive extensions).
#[utoipa::path(
    get, path = "/scim/v2/Schemas", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse of Schemas", content_type = "application/scim+json"))
)]
async fn list_schemas(caller: ScimCaller, ScimQuery(q): ScimQuery) -> Result<Response, ScimApiError> {
    no_filter(&q)?;
    Ok(scim_json(StatusCode::OK, discovery::schemas(&caller.base)))
}

/// One schema by URN.
#[utoipa::path(
    get, path = "/scim/v2/Schemas/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "schema URN")),
    responses((status = 200, description = "Schema", content_type = "application/scim+json"))
)]
async fn get_schema(caller: ScimCaller, Path(id): Path<String>) -> Result<Response, ScimApiError> {
    Ok(scim_json(StatusCode::OK, discovery::schema(&caller.base, &id)?))
}

/// The resource types, User and Group.
#[utoipa::path(
    get, path = "/scim/v2/ResourceTypes", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse of ResourceTypes", content_type = "application/scim+json"))
)]
async fn list_resource_types(caller: ScimCaller, ScimQuery(q): ScimQuery) -> Result<Response, ScimApiError> {
    no_filter(&q)?;
    Ok(scim_json(StatusCode::OK, discovery::resource_types(&caller.base)))
}

/// One resource type.
#[utoipa::path(
    get, path = "/scim/v2/ResourceTypes/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path, description = "User or Group")),
    responses((status = 200, description = "ResourceType", content_type = "application/scim+json"))
)]
async fn get_resource_type(caller: ScimCaller, Path(id): Path<String>) -> Result<Response, ScimApiError> {
    Ok(scim_json(StatusCode::OK, discovery::resource_type(&caller.base, &id)?))
}

/// Bulk is not supported (`bulk.supported: false`): 501, as RFC 7644 section 3.7 asks.
#[utoipa::path(
    post, path = "/scim/v2/Bulk", tag = "scim", security(("bearer" = [])),
    responses((status = 501, description = "Bulk is not implemented", content_type = "application/scim+json"))
)]
async fn bulk(_caller: ScimCaller) -> ScimApiError {
    ScimError::NotImplemented("Bulk is not supported; send the operations one by one".into()).into()
}
