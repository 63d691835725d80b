//! The one error type of the SCIM protocol layer, and its RFC 7644 section 3.12 wire shape.
//!
//! Every variant knows its HTTP status and its `scimType`, so the HTTP edge maps an error to a response with
//! one call (`status()` plus `to_json()`) and never chooses a code itself.

use serde_json::{Value, json};

/// The schema URN every SCIM error body carries.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// What went wrong with a SCIM request. The `String` in each variant is the `detail` shown to the client: it
/// names the attribute or the text at fault so an identity provider's log tells the admin what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// The filter is malformed, names an unknown attribute or uses an operator the attribute's type forbids.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// The filter would select more resources than the server is willing to process.
    #[error("too many results: {0}")]
    TooMany(String),
    /// A value that must be unique (userName, group displayName) is already taken.
    #[error("uniqueness violation: {0}")]
    Uniqueness(String),
    /// The request tries to change a readOnly or immutable attribute, or to remove a required one.
    #[error("mutability violation: {0}")]
    Mutability(String),
    /// The body is not JSON of the expected message schema.
    #[error("invalid syntax: {0}")]
    InvalidSyntax(String),
    /// A PATCH path is malformed or names an attribute no schema defines.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// A PATCH path or filter matched nothing where something was required.
    #[error("no target: {0}")]
    NoTarget(String),
    /// A required value is missing or a value has the wrong type.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The request asks for a SCIM protocol version this server does not speak.
    #[error("unsupported version: {0}")]
    InvalidVersion(String),
    /// The request would carry sensitive data in the URL; the client should use POST /.search.
    #[error("sensitive data in request URL: {0}")]
    Sensitive(String),
    /// No resource with that id, or no such endpoint.
    #[error("not found: {0}")]
    NotFound(String),
    /// The method is not allowed on this endpoint (e.g. POST /Schemas).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    /// A filter on a discovery endpoint, or a token that may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// `If-Match` named another version than the current one.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The request body is larger than the server accepts.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// The feature (Bulk, for one) is not implemented.
    #[error("not implemented: {0}")]
    NotImplemented(String),
}

impl ScimError {
    /// The HTTP status code of the response that carries this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidFilter(_)
            | Self::TooMany(_)
            | Self::Mutability(_)
            | Self::InvalidSyntax(_)
            | Self::InvalidPath(_)
            | Self::NoTarget(_)
            | Self::InvalidValue(_)
            | Self::InvalidVersion(_) => 400,
            Self::Sensitive(_) | Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::Uniqueness(_) => 409,
            Self::PreconditionFailed(_) => 412,
            Self::PayloadTooLarge(_) => 413,
            Self::NotImplemented(_) => 501,
        }
    }

    /// The RFC 7644 Table 9 `scimType`, for the errors that have one.
    pub fn scim_type(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidFilter(_) => "invalidFilter",
            Self::TooMany(_) => "tooMany",
            Self::Uniqueness(_) => "uniqueness",
            Self::Mutability(_) => "mutability",
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::InvalidValue(_) => "invalidValue",
            Self::InvalidVersion(_) => "invalidVers",
            Self::Sensitive(_) => "sensitive",
            Self::NotFound(_)
            | Self::MethodNotAllowed(_)
            | Self::Forbidden(_)
            | Self::PreconditionFailed(_)
            | Self::PayloadTooLarge(_)
            | Self::NotImplemented(_) => return None,
        })
    }

    /// The human-readable `detail` text.
    pub fn detail(&self) -> &str {
        match self {
            Self::InvalidFilter(d)
            | Self::TooMany(d)
            | Self::Uniqueness(d)
            | Self::Mutability(d)
            | Self::InvalidSyntax(d)
            | Self::InvalidPath(d)
            | Self::NoTarget(d)
            | Self::InvalidValue(d)
            | Self::InvalidVersion(d)
            | Self::Sensitive(d)
            | Self::NotFound(d)
            | Self::MethodNotAllowed(d)
            | Self::Forbidden(d)
            | Self::PreconditionFailed(d)
            | Self::PayloadTooLarge(d)
            | Self::NotImplemented(d) => d,
        }
    }

    /// The error body: `status` is the HTTP code as a string, as RFC 7644 section 3.12 shows it.
    pub fn to_json(&self) -> Value {
        error_body(self.status(), self.scim_type(), self.detail())
    }
}

/// An error body for statuses that have no `ScimError` variant because they are decided at the HTTP edge
/// (401 bad token, 429 rate limited, 500 internal).
pub fn error_body(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": status.to_string(),
        "detail": detail,
    });
    if let (Some(kind), Some(obj)) = (scim_type, body.as_object_mut()) {
        obj.insert("scimType".into(), Value::String(kind.into()));
    }
    body
}

/// Shorthand for the `Result` of this layer.
pub type ScimResult<T> = Result<T, ScimError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_rfc_shape_with_status_as_string() {
        let body = ScimError::Uniqueness("userName 'bjensen' is taken".into()).to_json();
        assert_eq!(
            body,
            json!({
                "schemas": [ERROR_SCHEMA],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "userName 'bjensen' is taken",
            })
        );
    }

    #[test]
    fn errors_without_a_scim_type_omit_the_field() {
        let body = ScimError::NotFound("no user usr_1".into()).to_json();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn every_bad_request_kind_is_a_400_with_its_rfc_name() {
        let cases = [
            (ScimError::InvalidFilter(String::new()), "invalidFilter"),
            (ScimError::TooMany(String::new()), "tooMany"),
            (ScimError::Mutability(String::new()), "mutability"),
            (ScimError::InvalidSyntax(String::new()), "invalidSyntax"),
            (ScimError::InvalidPath(String::new()), "invalidPath"),
            (ScimError::NoTarget(String::new()), "noTarget"),
            (ScimError::InvalidValue(String::new()), "invalidValue"),
            (ScimError::InvalidVersion(String::new()), "invalidVers"),
        ];
        for (err, kind) in cases {
            assert_eq!(err.status(), 400, "{kind}");
            assert_eq!(err.scim_type(), Some(kind));
        }
        assert_eq!(ScimError::Sensitive(String::new()).status(), 403);
        assert_eq!(ScimError::PreconditionFailed(String::new()).status(), 412);
    }
}
