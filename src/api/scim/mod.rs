//! `/scim/v2`: the SCIM 2.0 service provider (RFC 7643/7644) that identity providers push users and groups
//! to. Thin handlers, as in the rest of `api/`: authenticate the SCIM token, take a permit from the throttle,
//! parse with the pure `crate::scim` modules, send writes to the SCIM actor, read from the store, and answer
//! `application/scim+json` with the RFC error shape (`scim_error.rs`).
//!
//! - `resource.rs`: the one handler path of both resource types, over its `ScimResource` trait, which
//!   `users.rs` and `groups.rs` implement; `search.rs`: lists, filters, `/.search`;
//!   `discovery.rs`: `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.
//! - Unknown URLs and methods below `/scim/v2` get SCIM bodies from the router's fallbacks (`api/mod.rs`).

mod discovery;
mod groups;
mod resource;
mod search;
mod users;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{ETAG, HOST, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::auth::bearer;
use super::scim_error::{ScimApiError, scim_content_type};
use crate::actors::scim::{ScimMessage, ScimWrite, ScimWritten};
use crate::actors::throttle::{Permit, Rate, ThrottleMessage};
use crate::audit::AuditActor;
use crate::principals::{Acting, TokenKind};
use crate::scim::error::ScimError;
use crate::scim::list::SearchRequest;
use crate::scim::resource::etag;

/// Where the SCIM service lives.
pub const PREFIX: &str = "/scim/v2";

/// The spec's limit: 600 requests a minute per SCIM token.
pub const SCIM_RATE: Rate = Rate::per_minute(600);

/// How long a handler waits for an actor before answering 500.
const ACTOR_TIMEOUT: Duration = Duration::from_secs(60);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(groups::routes())
        .merge(search::routes())
        .merge(discovery::routes())
}

/// Whether an unknown URL is SCIM's to answer.
pub fn is_scim_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/scim/v2/")
}

/// An authenticated, throttled SCIM request: who acts (the token, with its owner's role) and the public base
/// URL for `meta.location`.
pub struct ScimCaller {
    pub acting: Acting,
    pub base: String,
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimApiError> {
        let secret = bearer(parts).ok_or(ScimApiError::Unauthenticated("missing bearer token"))?;
        let principals = state.principals.clone();
        let secret = secret.to_owned();
        let found = tokio::task::spawn_blocking(move || principals.authenticate(&secret))
            .await
            .map_err(ScimApiError::internal)?
            .map_err(ScimApiError::internal)?;
        // API tokens are refused here and SCIM tokens on /api/v1: an identity provider's token opens SCIM only.
        let (token, owner) = match found {
            Some((token, owner)) if token.kind == TokenKind::Scim => (token, owner),
            _ => return Err(ScimApiError::Unauthenticated("invalid, revoked or non-SCIM token")),
        };
        let key = format!("scim:{}", token.id);
        let permit = state
            .throttle
            .call(|reply| ThrottleMessage::Acquire { key, rate: SCIM_RATE, cost: 1, reply }, Some(ACTOR_TIMEOUT))
            .await
            .map_err(|_| ScimApiError::internal("the throttle is not running"))?;
        match permit {
            ractor::rpc::CallResult::Success(Permit::Go) => {}
            ractor::rpc::CallResult::Success(Permit::Wait(wait)) => {
                let retry_after_seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                return Err(ScimApiError::RateLimited { retry_after_seconds: retry_after_seconds.max(1) });
            }
            _ => return Err(ScimApiError::internal("the throttle did not answer")),
        }
        let scheme = if state.config.tls.is_some() { "https" } else { "http" };
        let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        Ok(Self {
            acting: Acting { actor: AuditActor::Token(token.id), role: owner.role },
            base: format!("{scheme}://{host}{PREFIX}"),
        })
    }
}

/// A JSON request body, bounded by `limits.max_json_body_bytes` (413 above it). Both `application/scim+json`
/// and `application/json` are taken (Okta and OneLogin send the latter), and so is a missing type.
pub struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ScimApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ScimApiError> {
        let limit = state.config.limits.max_json_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
            } else {
                ScimError::InvalidSyntax(rejection.body_text())
            }
        })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ScimError::InvalidSyntax(format!("the body is not JSON: {e}")))?;
        Ok(Self(value))
    }
}

/// The query parameters of a list or read (`filter`, `attributes`, `startIndex`, ...).
pub struct ScimQuery(pub SearchRequest);

impl<S: Send + Sync> FromRequestParts<S> for ScimQuery {
    type Rejection = ScimApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        Ok(Self(SearchRequest::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?))
    }
}

/// `If-Match` and `If-None-Match`.
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = ScimApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimApiError> {
        let header = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
        Ok(Self { if_match: header(IF_MATCH), if_none_match: header(IF_NONE_MATCH) })
    }
}

impl Preconditions {
    /// Whether a GET may answer 304: the client already has this version.
    pub fn not_modified(&self, version: u64) -> bool {
        self.if_none_match.as_deref().is_some_and(|h| crate::scim::resource::if_match_allows(h, version))
    }
}

/// A SCIM JSON answer.
pub fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    scim_content_type(&mut response);
    response
}

/// A single resource: body, `ETag`, and `Location` when it was just created.
pub fn resource_response(status: StatusCode, body: Value, version: u64, location: Option<String>) -> Response {
    let mut response = scim_json(status, body);
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, tag);
    }
    if let Some(Ok(location)) = location.map(|l| HeaderValue::from_str(&l)) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// 304 for a GET whose `If-None-Match` names the current version.
pub fn not_modified(version: u64) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, tag);
    }
    response
}

/// Sends a write to the SCIM actor and waits for its answer.
pub async fn write(state: &AppState, acting: Acting, write: ScimWrite) -> Result<ScimWritten, ScimApiError> {
    let answer = state
        .scim
        .call(|reply| ScimMessage::Write { acting, write, reply }, Some(ACTOR_TIMEOUT))
        .await
        .map_err(|_| ScimApiError::internal("the SCIM actor is not running"))?;
    match answer {
        ractor::rpc::CallResult::Success(result) => Ok(result?),
        _ => Err(ScimApiError::internal("the SCIM actor did not answer")),
    }
}

/// Runs a store read on the blocking pool.
pub async fn read<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ScimApiError> + Send + 'static,
) -> Result<T, ScimApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ScimApiError::internal)?
}

/// A path id of the wanted kind; anything else names a resource that does not exist.
pub fn parse_id<T: std::str::FromStr>(text: &str, kind: &str) -> Result<T, ScimApiError> {
    text.parse().map_err(|_| ScimError::NotFound(format!("{kind} {text} not found")).into())
}
