//! JSON batching (GRAPH.md 12.3): `POST /v1.0/$batch` with at most 20 requests, unique ids, `dependsOn`
//! (a failed dependency gives 424), each inner request authenticated, faulted and counted like a direct call
//! (so each can be throttled with its own `Retry-After`), and the responses returned in shuffled order.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use super::Emulator;
use super::errors::GraphError;
use super::server::handle_graph;

const MAX_REQUESTS: usize = 20;

pub async fn run(emulator: &Emulator, headers: &HeaderMap, body: &Bytes) -> Response {
    match run_inner(emulator, headers, body).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn run_inner(emulator: &Emulator, headers: &HeaderMap, body: &Bytes) -> Result<Value, GraphError> {
    let request: Value =
        serde_json::from_slice(body).map_err(|_| GraphError::invalid_request("Invalid batch payload format."))?;
    let requests =
        request["requests"].as_array().ok_or_else(|| GraphError::invalid_request("Invalid batch payload format."))?;
    if requests.len() > MAX_REQUESTS {
        return Err(GraphError::invalid_request("Number of batch request steps exceeds the maximum of 20."));
    }
    let mut ids = HashSet::new();
    for r in requests {
        let id = r["id"].as_str().ok_or_else(|| GraphError::invalid_request("Each batch request needs an id."))?;
        if !ids.insert(id.to_string()) {
            return Err(GraphError::invalid_request("Batch request ids must be unique."));
        }
    }
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    for r in requests {
        let id = r["id"].as_str().unwrap_or_default().to_string();
        let depends: Vec<&str> =
            r["dependsOn"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let failed_dependency = depends.iter().any(|d| statuses.get(*d).is_none_or(|s| *s >= 400));
        let response = if failed_dependency {
            GraphError::new(StatusCode::FAILED_DEPENDENCY, "failedDependency", "A request this one depends on failed.")
                .into_response()
        } else {
            inner(emulator, headers, r)
        };
        let status = response.status().as_u16();
        statuses.insert(id.clone(), status);
        responses.push(to_json(id, response).await);
    }
    responses.shuffle(&mut rand::thread_rng());
    Ok(json!({"responses": responses}))
}

fn inner(emulator: &Emulator, outer: &HeaderMap, request: &Value) -> Response {
    let method = request["method"].as_str().and_then(|m| Method::from_bytes(m.to_uppercase().as_bytes()).ok());
    let url = request["url"].as_str().unwrap_or("");
    let Some(method) = method else {
        return GraphError::invalid_request("Invalid HTTP method in batch request.").into_response();
    };
    let relative = url.trim_start_matches("https://graph.microsoft.com").trim_start_matches("/v1.0");
    let (path, query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (relative, None),
    };
    let path = format!("/v1.0/{}", path.trim_start_matches('/'));
    // The faults of a direct call apply to each inner request too.
    if let Some(action) = emulator.lock().faults.take(method.as_str(), &path) {
        return action.into_response();
    }
    let mut headers = outer.clone();
    headers.remove(axum::http::header::CONTENT_LENGTH);
    if let Value::Object(extra) = &request["headers"] {
        for (name, value) in extra {
            if let (Ok(name), Some(Ok(value))) =
                (HeaderName::from_bytes(name.as_bytes()), value.as_str().map(HeaderValue::from_str))
            {
                headers.insert(name, value);
            }
        }
    }
    let body = match &request["body"] {
        Value::Null => Bytes::new(),
        other => Bytes::from(other.to_string()),
    };
    handle_graph(emulator, &method, &path, query, &headers, body)
}

async fn to_json(id: String, response: Response) -> Value {
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if let Ok(value) = value.to_str() {
            headers.insert(name.as_str().to_string(), json!(value));
        }
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    let mut out = json!({"id": id, "status": status, "headers": headers});
    if !bytes.is_empty() {
        out["body"] = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    }
    out
}
