//! `POST /api/v1/scim/token`: issues the SCIM bearer token an identity provider is configured with. The secret
//! is in this response only; issuing a new one revokes the previous ones (rotation), so a leaked token dies
//! the moment an admin rotates it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{AppState, blocking};
use crate::ids::TokenId;
use crate::principals::Role;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue_scim_token))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedScimToken {
    #[schema(value_type = String, example = "tok_01J4M3Z1K8M0Q9R2S3T4V5W6X7")]
    id: TokenId,
    /// The bearer secret for the identity provider. Shown once.
    token: String,
}

/// Issue the SCIM token (admins), revoking any earlier one. SCIM writes act with the caller's role at most.
#[utoipa::path(
    post, path = "/api/v1/scim/token", tag = "scim", security(("bearer" = [])),
    responses((status = 201, body = IssuedScimToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
async fn issue_scim_token(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<IssuedScimToken>), ApiError> {
    caller.require(Role::Admin)?;
    let issued = blocking(move || Ok(state.principals.rotate_scim_token(&caller.acting())?)).await?;
    Ok((StatusCode::CREATED, Json(IssuedScimToken { id: issued.info.id, token: issued.token })))
}
