//! Lists and searches: `GET /Users`, `GET /Groups`, the three `/.search` endpoints. The query itself runs in
//! `Principals::scim_search` (`principals/scim_search.rs`), which the benchmark calls too.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ScimBody, ScimCaller, read, scim_json};
use crate::api::AppState;
use crate::api::scim_error::ScimApiError;
use crate::scim::list::SearchRequest;

pub use crate::principals::{MAX_RESULTS, Scope};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_all))
}

/// `POST /.search` at the root: Users and Groups together.
#[utoipa::path(
    post, path = "/scim/v2/.search", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse", content_type = "application/scim+json"))
)]
async fn search_all(
    caller: ScimCaller,
    State(state): State<AppState>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimApiError> {
    list(&state, caller.base, SearchRequest::from_json(&body)?, Scope::All).await
}

/// Runs a query and answers its ListResponse.
pub async fn list(state: &AppState, base: String, req: SearchRequest, scope: Scope) -> Result<Response, ScimApiError> {
    let principals = state.principals.clone();
    let body = read(move || Ok(principals.scim_search(&base, &req, scope)?)).await?;
    Ok(scim_json(StatusCode::OK, body))
}
