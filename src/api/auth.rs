//! The bearer-token extractor. A handler that takes a `Caller` is authenticated: the token must be an API token
//! of an active user. Role checks are one call (`caller.require(Role::Admin)`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::audit::AuditActor;
use crate::ids::TokenId;
use crate::principals::{Acting, Role, TokenKind, User};

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub token_id: TokenId,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this needs the {} role", role_name(role))))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.role >= Role::Admin
    }

    pub fn acting(&self) -> Acting {
        Acting { actor: AuditActor::User(self.user.id), role: self.user.role }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
        Role::Superadmin => "superadmin",
    }
}

/// The secret of an `Authorization: Bearer <secret>` header, if there is one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or(ApiError::Unauthenticated("missing bearer token"))?;
        let found = state.principals.authenticate(secret)?;
        match found {
            Some((token, user)) if token.kind == TokenKind::Api => Ok(Caller { user, token_id: token.id }),
            _ => Err(ApiError::Unauthenticated("invalid, expired or revoked token")),
        }
    }
}
