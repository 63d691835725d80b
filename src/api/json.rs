//! Request body and query extractors that answer in our error envelope: malformed JSON is `INVALID_JSON`,
//! unknown fields and wrong types are `VALIDATION_FAILED` naming the field (its full path, via
//! `serde_path_to_error`), a missing JSON content type is `UNSUPPORTED_MEDIA_TYPE`, an oversized body
//! `PAYLOAD_TOO_LARGE`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

pub struct ApiJson<T>(pub T);

pub struct ApiQuery<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Turns a serde error at `path` into the field it names. `serde_path_to_error` usually ends the path with an
/// unknown field's name; a missing field, and an unknown one under `#[serde(flatten)]`, are reported at their
/// parent, so the name is taken from the message.
fn field_error(path: String, message: String) -> FieldError {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match (named, path.as_str()) {
        (Some(name), "." | "") => name.to_owned(),
        (Some(name), parent) if !parent.ends_with(name) => format!("{parent}.{name}"),
        (_, path) => path.to_owned(),
    };
    let message = message.split(" at line ").next().unwrap_or_default().to_owned();
    FieldError { field, message }
}

/// Parses in two steps so the code is right: first the syntax (`INVALID_JSON`), then the shape of the well-formed
/// document (`VALIDATION_FAILED`). serde_json alone reports some type mismatches (a number for an enum) as
/// syntax errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Validation(vec![field_error(path, e.into_inner().to_string())])
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !is_json(content_type) {
            return Err(ApiError::UnsupportedMediaType("expected Content-Type: application/json".into()));
        }
        let limit = req.extensions().get::<BodyLimit>().map_or(usize::MAX, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::InvalidJson(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The JSON body limit in force, so a 413 can say what it is.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            ApiError::Validation(vec![field_error(path, e.into_inner().to_string())])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        size: u32,
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(fields) => fields.into_iter().map(|f| f.field).collect(),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn syntax_error_is_invalid_json() {
        assert!(matches!(parse_json::<Body>(b"{\"name\": "), Err(ApiError::InvalidJson(_))));
        assert!(matches!(parse_json::<Body>(b"{\"name\": \"a\"} trailing"), Err(ApiError::InvalidJson(_))));
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        assert_eq!(fields(parse_json::<Body>(br#"{"name": "a", "nmae": 1}"#).unwrap_err()), ["nmae"]);
        assert_eq!(fields(parse_json::<Body>(br#"{"name": 5}"#).unwrap_err()), ["name"]);
        assert_eq!(fields(parse_json::<Body>(br#"{}"#).unwrap_err()), ["name"]);
        assert_eq!(fields(parse_json::<Body>(br#"{"name": "a", "inner": {"size": -1}}"#).unwrap_err()), ["inner.size"]);
        assert_eq!(fields(parse_json::<Body>(br#"{"name": "a", "inner": {"sise": 1}}"#).unwrap_err()), ["inner.sise"]);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/scim+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
