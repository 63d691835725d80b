//! `/api/v1/users` and `/api/v1/me`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::json::{ApiJson, ApiQuery};
use super::pagination::{PageQuery, cursor};
use super::{AppState, blocking, parse_id};
use crate::ids::UserId;
use crate::principals::{NewUser, Role, User, UserPatch};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(get_me))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<User>,
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    user: User,
    role: Role,
    #[schema(value_type = String)]
    token_id: crate::ids::TokenId,
}

/// All users, in creation order (admins).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = UserList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
async fn list_users(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<UserList>, ApiError> {
    caller.require(Role::Admin)?;
    let (limit, after) = (page.limit()?, page.after()?.map(UserId::from_bytes));
    let (users, next) = blocking(move || Ok(state.principals.list_users(after, limit)?)).await?;
    Ok(Json(UserList { users, next_cursor: cursor(next.map(UserId::to_bytes)) }))
}

/// Create a user (admins; only a superadmin grants admin roles above its own). Refused with `USERS_READ_ONLY`
/// when `[users] read_only` is set: accounts then come from the identity provider over SCIM.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users", request_body = NewUser, security(("bearer" = [])),
    responses(
        (status = 201, body = User), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn create_user(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    caller.require(Role::Admin)?;
    if state.config.users.read_only {
        return Err(ApiError::UsersReadOnly);
    }
    let user = blocking(move || Ok(state.principals.create_user(&caller.acting(), new)?)).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// One user: yourself, or anyone for admins.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_user(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let id: UserId = parse_id(&id, "user")?;
    if id != caller.user.id && !caller.is_admin() {
        return Err(ApiError::NotFound(format!("user {id} not found")));
    }
    Ok(Json(blocking(move || Ok(state.principals.get_user(id)?)).await?))
}

/// Change a user (admins). Absent fields stay; `null` clears an optional field.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserPatch, security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses(
        (status = 200, body = User), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn update_user(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Admin)?;
    let id: UserId = parse_id(&id, "user")?;
    Ok(Json(blocking(move || Ok(state.principals.update_user(&caller.acting(), id, patch)?)).await?))
}

/// Delete a user with its tokens and memberships (admins). SCIM-managed users are refused (`SCIM_MANAGED`).
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "usr_ id")),
    responses(
        (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
async fn delete_user(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let id: UserId = parse_id(&id, "user")?;
    if id == caller.user.id {
        return Err(ApiError::Forbidden("you cannot delete yourself".into()));
    }
    blocking(move || Ok(state.principals.delete_user(&caller.acting(), id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller: user, role and the token in use.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody))
)]
async fn get_me(caller: Caller) -> Json<Me> {
    Json(Me { role: caller.user.role, token_id: caller.token_id, user: caller.user })
}
