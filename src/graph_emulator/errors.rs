//! The Graph error shape (GRAPH.md 12.1) and the token endpoint's OAuth error shape (1.2), each as one type that
//! turns into a response. Every status and code the emulator answers with is chosen by a constructor here, so a
//! reader can check them against the reference in one place.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

tokio::task_local! {
    /// The ids of the request being answered, set by the request middleware so error bodies can repeat them.
    pub static REQUEST_IDS: RequestIds;
}

/// What the middleware knows about the request: echoed into `innerError` and the response headers.
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
    /// `innerError.date`, already formatted (`2025-01-01T00:00:00`, no zone, as the service writes it).
    pub date: String,
}

/// A Graph API error: `{"error":{"code","message","innerError":{…}}}` with the status the service uses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct GraphError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// The more specific code nested in `innerError`, e.g. `entityTagDoesNotMatch`.
    pub inner_code: Option<String>,
    pub headers: Vec<(HeaderName, String)>,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_string(), message: message.into(), inner_code: None, headers: Vec::new() }
    }

    pub fn with_inner(mut self, inner: &str) -> Self {
        self.inner_code = Some(inner.to_string());
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "itemNotFound", "The resource could not be found.")
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "accessDenied", message)
    }

    pub fn name_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "nameAlreadyExists",
            "The specified item name already exists. Name conflict with existing item.",
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "resourceModified", "ETag does not match current item's value")
            .with_inner("entityTagDoesNotMatch")
    }

    pub fn locked() -> Self {
        Self::new(
            StatusCode::LOCKED,
            "accessDenied",
            "The file is currently checked out or locked for editing by another user.",
        )
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "notSupported", message)
    }

    pub fn invalid_range(inner: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::RANGE_NOT_SATISFIABLE, "invalidRange", message).with_inner(inner)
    }

    /// 401 for a missing, malformed or expired bearer token (GRAPH.md 1.4), with the header the service sends.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message).with_header(
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
             client_id=\"00000003-0000-0000-c000-000000000000\"",
        )
    }

    /// 429 or 503 from the throttling knob; `retry_after` None leaves the header out, as the service sometimes does.
    pub fn throttled(status: StatusCode, retry_after: Option<u64>) -> Self {
        let mut error = if status == StatusCode::TOO_MANY_REQUESTS {
            Self::new(status, "activityLimitReached", "The request has been throttled").with_inner("throttledRequest")
        } else {
            Self::new(status, "serviceNotAvailable", "The service is temporarily unavailable.")
        };
        if let Some(seconds) = retry_after {
            error = error.with_header(header::RETRY_AFTER, seconds.to_string());
        }
        error
    }

    pub fn quota_full() -> Self {
        Self::new(StatusCode::INSUFFICIENT_STORAGE, "quotaLimitReached", "Insufficient Space Available")
    }

    pub fn internal(status: StatusCode) -> Self {
        Self::new(status, "generalException", "An unspecified error has occurred.")
    }

    pub fn body(&self) -> Value {
        let ids = current_ids();
        let mut inner = json!({
            "date": ids.date,
            "request-id": ids.request_id,
            "client-request-id": ids.client_request_id,
        });
        if let Some(code) = &self.inner_code {
            inner["code"] = json!(code);
        }
        json!({"error": {"code": self.code, "message": self.message, "innerError": inner}})
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The ids of the current request, or fresh ones when called outside a request (unit tests).
pub fn current_ids() -> RequestIds {
    REQUEST_IDS.try_with(Clone::clone).unwrap_or_else(|_| RequestIds {
        request_id: new_guid(),
        client_request_id: new_guid(),
        date: String::new(),
    })
}

/// A token-endpoint error (GRAPH.md 1.2): `{error, error_description, error_codes, timestamp, trace_id,
/// correlation_id, error_uri}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {error} AADSTS{aadsts}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub aadsts: u32,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, aadsts: u32, description: impl Into<String>) -> Self {
        Self { status, error, aadsts, description: description.into() }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let ids = current_ids();
        let body = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {}", self.aadsts, self.description),
            "error_codes": [self.aadsts],
            "timestamp": ids.date,
            "trace_id": ids.request_id,
            "correlation_id": ids.client_request_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// A random GUID in the usual 8-4-4-4-12 lowercase form.
pub fn new_guid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_graph_shape() {
        let body = GraphError::precondition_failed().body();
        assert_eq!(body["error"]["code"], "resourceModified");
        assert_eq!(body["error"]["innerError"]["code"], "entityTagDoesNotMatch");
        assert!(body["error"]["innerError"]["request-id"].is_string());
    }

    #[test]
    fn guids_have_the_usual_shape() {
        let guid = new_guid();
        assert_eq!(guid.len(), 36);
        assert_eq!(guid.matches('-').count(), 4);
    }
}
