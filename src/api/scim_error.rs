//! SCIM's error mapping, beside `error.rs`: under `/scim/v2` every failure is an RFC 7644 section 3.12 body
//! (`{"schemas": [...Error], "status": "409", "scimType": "uniqueness", "detail": ...}`) with
//! `Content-Type: application/scim+json`. The protocol errors carry their own status (`ScimError::status`);
//! the ones decided here are 401 (bad token), 429 (rate limit) and 500 (internal, cause logged, never sent).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::principals::ScimStoreError;
use crate::scim::error::{ScimError, error_body};

/// The media type of every SCIM response body.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug, thiserror::Error)]
pub enum ScimApiError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("more than the allowed requests per minute on this SCIM token; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("internal error")]
    Internal(String),
}

impl ScimApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Scim(e) => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ScimStoreError> for ScimApiError {
    fn from(e: ScimStoreError) -> Self {
        match e {
            ScimStoreError::Scim(e) => Self::Scim(e),
            other => Self::internal(other),
        }
    }
}

/// Sets the SCIM media type on a response that has a body.
pub fn scim_content_type(response: &mut Response) {
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
}

impl IntoResponse for ScimApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Scim(e) => e.to_json(),
            Self::Internal(cause) => {
                tracing::error!(%cause, "SCIM request failed");
                error_body(500, None, "internal error")
            }
            other => error_body(status.as_u16(), None, &other.to_string()),
        };
        let mut response = (status, axum::Json(body)).into_response();
        scim_content_type(&mut response);
        match &self {
            Self::Unauthenticated(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after_seconds } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    async fn answer(error: ScimApiError) -> (StatusCode, Option<String>, Value) {
        let response = error.into_response();
        let status = response.status();
        let kind = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, kind, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_scim_error_is_an_rfc_body_with_the_status_as_a_string() {
        let cases = [
            (ScimApiError::Scim(ScimError::Uniqueness("x".into())), 409, Some("uniqueness")),
            (ScimApiError::Scim(ScimError::NotFound("x".into())), 404, None),
            (ScimApiError::Unauthenticated("bad token"), 401, None),
            (ScimApiError::RateLimited { retry_after_seconds: 2 }, 429, None),
            (ScimApiError::Internal("disk /var/lib/x failed".into()), 500, None),
        ];
        for (error, status, scim_type) in cases {
            let (got, kind, body) = answer(error).await;
            assert_eq!(got.as_u16(), status);
            assert_eq!(kind.as_deref(), Some(SCIM_CONTENT_TYPE));
            assert_eq!(body["status"], status.to_string());
            assert_eq!(body["scimType"].as_str(), scim_type);
            assert!(!body.to_string().contains("/var/lib"), "internal causes stay in the log");
        }
    }
}
