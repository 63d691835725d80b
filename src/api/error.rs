//! The one place an HTTP status and an error code are chosen. Every failure reaches the client as
//! `{"error": {"code": "...", "message": "...", "details": {...}}}` with a stable code; internal causes are
//! logged here and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::drive::DriveError;
use crate::principals::PrincipalsError;
use crate::store::StoreError;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The error envelope, as the OpenAPI document describes it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `VALIDATION_FAILED`, `NOT_FOUND`, `UNAUTHENTICATED`, ...
    pub code: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    AlreadyExists { message: String, field: &'static str },
    #[error("{0}")]
    ScimManaged(String),
    #[error("users come from the identity provider only (users.read_only is set); provision them over SCIM")]
    UsersReadOnly,
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0} cannot be changed after creation")]
    ImmutableField(&'static str),
    /// The request conflicts with the object's current state, under its own stable code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: Value },
    #[error("too many requests")]
    RateLimited { retry_after_seconds: u64 },
    /// A connector's source refused or could not be reached while answering (`CONNECTOR_AUTH_FAILED`,
    /// `CONNECTOR_UNREACHABLE`, ...): the appliance is fine, what it talks to is not.
    #[error("{message}")]
    Upstream { code: &'static str, message: String },
    #[error("internal error")]
    Internal(String),
    #[error(transparent)]
    Drive(DriveError),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError { field: field.to_owned(), message: message.into() }])
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The stable code and status of each variant.
    pub fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            Self::InvalidJson(_) => ("INVALID_JSON", StatusCode::BAD_REQUEST),
            Self::Validation(_) => ("VALIDATION_FAILED", StatusCode::UNPROCESSABLE_ENTITY),
            Self::UnsupportedMediaType(_) => ("UNSUPPORTED_MEDIA_TYPE", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            Self::PayloadTooLarge(_) => ("PAYLOAD_TOO_LARGE", StatusCode::PAYLOAD_TOO_LARGE),
            Self::Unauthenticated(_) => ("UNAUTHENTICATED", StatusCode::UNAUTHORIZED),
            Self::Forbidden(_) => ("FORBIDDEN", StatusCode::FORBIDDEN),
            Self::MethodNotAllowed(_) => ("METHOD_NOT_ALLOWED", StatusCode::METHOD_NOT_ALLOWED),
            Self::NotFound(_) => ("NOT_FOUND", StatusCode::NOT_FOUND),
            Self::AlreadyExists { .. } => ("ALREADY_EXISTS", StatusCode::CONFLICT),
            Self::ScimManaged(_) => ("SCIM_MANAGED", StatusCode::CONFLICT),
            Self::UsersReadOnly => ("USERS_READ_ONLY", StatusCode::FORBIDDEN),
            Self::PreconditionFailed(_) => ("PRECONDITION_FAILED", StatusCode::PRECONDITION_FAILED),
            Self::ImmutableField(_) => ("IMMUTABLE_FIELD", StatusCode::UNPROCESSABLE_ENTITY),
            Self::Conflict { code, .. } => (code, StatusCode::CONFLICT),
            Self::RateLimited { .. } => ("RATE_LIMITED", StatusCode::TOO_MANY_REQUESTS),
            Self::Upstream { code, .. } => (code, StatusCode::BAD_GATEWAY),
            Self::Internal(_) => ("INTERNAL", StatusCode::INTERNAL_SERVER_ERROR),
            Self::Drive(e) => (e.code(), drive_status(e)),
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::Validation(fields) => json!({ "fields": fields }),
            Self::AlreadyExists { field, .. } => json!({ "field": field }),
            Self::ImmutableField(field) => json!({ "field": field }),
            Self::Conflict { details, .. } => details.clone(),
            Self::RateLimited { retry_after_seconds } => json!({ "retry_after_seconds": retry_after_seconds }),
            Self::Drive(DriveError::QuotaExceeded { available }) => json!({ "available_bytes": available }),
            _ => json!({}),
        }
    }
}

/// The HTTP status of each drive condition (its code comes from `DriveError::code`).
fn drive_status(e: &DriveError) -> StatusCode {
    match e {
        DriveError::NotFound(_) => StatusCode::NOT_FOUND,
        DriveError::AlreadyExists(_)
        | DriveError::NotAFolder(_)
        | DriveError::NotAFile(_)
        | DriveError::ShareInUse(_) => StatusCode::CONFLICT,
        DriveError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        DriveError::InvalidName { .. } | DriveError::InvalidPath { .. } | DriveError::InvalidArgument(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        DriveError::QuotaExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        DriveError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        DriveError::Io(_) | DriveError::Database(_) | DriveError::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "request failed"),
            Self::Drive(e) if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %e, cause = ?std::error::Error::source(e), "request failed");
            }
            _ => {}
        }
        let message = match &self {
            Self::Validation(fields) if fields.len() == 1 => format!("{}: {}", fields[0].field, fields[0].message),
            Self::Drive(_) if status == StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = json!({ "error": { "code": code, "message": message, "details": self.details() } });
        let mut response = (status, axum::Json(body)).into_response();
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

impl From<PrincipalsError> for ApiError {
    fn from(e: PrincipalsError) -> Self {
        match e {
            PrincipalsError::NotFound { .. } => Self::NotFound(e.to_string()),
            PrincipalsError::AlreadyExists { field, .. } => Self::AlreadyExists { message: e.to_string(), field },
            PrincipalsError::Invalid { field, message } => Self::invalid(field, message),
            PrincipalsError::ScimManaged(_) => Self::ScimManaged(e.to_string()),
            PrincipalsError::Forbidden(message) => Self::Forbidden(message),
            PrincipalsError::Store(e) => Self::internal(e),
        }
    }
}

impl From<DriveError> for ApiError {
    fn from(e: DriveError) -> Self {
        Self::Drive(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_error_has_its_code_and_status_in_the_envelope() {
        let cases = [
            (ApiError::InvalidJson("x".into()), "INVALID_JSON", 400),
            (ApiError::invalid("role", "bad"), "VALIDATION_FAILED", 422),
            (ApiError::UnsupportedMediaType("x".into()), "UNSUPPORTED_MEDIA_TYPE", 415),
            (ApiError::PayloadTooLarge(10), "PAYLOAD_TOO_LARGE", 413),
            (ApiError::Unauthenticated("x"), "UNAUTHENTICATED", 401),
            (ApiError::Forbidden("x".into()), "FORBIDDEN", 403),
            (ApiError::MethodNotAllowed("x".into()), "METHOD_NOT_ALLOWED", 405),
            (ApiError::NotFound("x".into()), "NOT_FOUND", 404),
            (ApiError::AlreadyExists { message: "x".into(), field: "user_name" }, "ALREADY_EXISTS", 409),
            (ApiError::ScimManaged("x".into()), "SCIM_MANAGED", 409),
            (ApiError::UsersReadOnly, "USERS_READ_ONLY", 403),
            (ApiError::PreconditionFailed("x".into()), "PRECONDITION_FAILED", 412),
            (ApiError::ImmutableField("target_share_id"), "IMMUTABLE_FIELD", 422),
            (
                ApiError::Conflict { code: "SYNC_IN_PROGRESS", message: "x".into(), details: json!({}) },
                "SYNC_IN_PROGRESS",
                409,
            ),
            (ApiError::RateLimited { retry_after_seconds: 3 }, "RATE_LIMITED", 429),
            (ApiError::Upstream { code: "CONNECTOR_AUTH_FAILED", message: "x".into() }, "CONNECTOR_AUTH_FAILED", 502),
            (ApiError::Internal("secret cause".into()), "INTERNAL", 500),
        ];
        for (error, code, status) in cases {
            let (got_status, body) = body_of(error).await;
            assert_eq!(got_status.as_u16(), status, "{code}");
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["message"].is_string());
            assert!(body["error"]["details"].is_object());
        }
    }

    #[tokio::test]
    async fn internal_cause_never_reaches_the_client() {
        let (_, body) = body_of(ApiError::Internal("disk /var/lib/x failed".into())).await;
        assert!(!body.to_string().contains("/var/lib"));
    }

    #[tokio::test]
    async fn validation_lists_its_fields() {
        let (_, body) = body_of(ApiError::invalid("email", "is not an email address")).await;
        assert_eq!(body["error"]["details"]["fields"][0]["field"], "email");
    }
}
