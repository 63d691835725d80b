//! `/api/v1/tokens`: the caller's API tokens (admins may act for other users).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::json::{ApiJson, ApiQuery};
use super::{AppState, blocking, parse_id};
use crate::ids::{TokenId, UserId};
use crate::principals::{IssuedToken, NewToken, TokenKind, TokenView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    tokens: Vec<TokenView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Another user's tokens (admins).
    user_id: Option<String>,
}

/// The caller's tokens, or (admins) another user's. Never their secrets.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "tokens", params(TokenQuery), security(("bearer" = [])),
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
async fn list_tokens(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<TokenList>, ApiError> {
    let user = match query.user_id {
        Some(id) => {
            let id: UserId =
                id.parse().map_err(|e: crate::ids::IdParseError| ApiError::invalid("user_id", e.to_string()))?;
            if id != caller.user.id && !caller.is_admin() {
                return Err(ApiError::Forbidden("listing another user's tokens needs the admin role".into()));
            }
            id
        }
        None => caller.user.id,
    };
    let tokens = blocking(move || Ok(state.principals.list_tokens(user)?)).await?;
    Ok(Json(TokenList { tokens: tokens.iter().map(|t| t.view()).collect(), next_cursor: None }))
}

/// Issue an API token. The secret (`token`) is in this response only.
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken, security(("bearer" = [])),
    responses(
        (status = 201, body = IssuedToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
async fn create_token(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let issued = blocking(move || Ok(state.principals.issue_token(&caller.acting(), new, TokenKind::Api)?)).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revoke a token: your own, or (admins) anyone's with a role no higher than yours.
#[utoipa::path(
    delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "tok_ id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn revoke_token(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: TokenId = parse_id(&id, "token")?;
    blocking(move || Ok(state.principals.revoke_token(&caller.acting(), id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
