//! Load and its answers: injected 429/503 with `Retry-After`, the resource-unit budget, `$batch` with a status
//! per request, and the request log the emulator keeps (without credentials).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::harness::{DRIVE, Fixture, drive, json_of};

#[tokio::test]
async fn throttled_requests_carry_retry_after_and_are_counted() {
    let f = Fixture::start().await;
    f.knob("throttle", json!({"count": 2, "status": 429, "retry_after": 7})).await;
    for _ in 0..2 {
        let response = f.get(&drive("")).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(json_of(response).await["error"]["code"], "activityLimitReached");
    }
    assert_eq!(f.get(&drive("")).await.status(), StatusCode::OK);
    f.knob("throttle", json!({"count": 1, "status": 503})).await;
    let unavailable = f.get(&drive("")).await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.headers().get("retry-after").is_none());
    let counters = f.emulator.counters();
    assert_eq!(counters.get("GET /v1.0/drives/{d}"), Some(&4));
}

#[tokio::test]
async fn the_resource_unit_budget_warns_from_eighty_percent_then_throttles() {
    let f = Fixture::start().await;
    f.knob("rate_limit", json!({"per_minute": 10})).await;
    let mut warned = false;
    let mut throttled = None;
    for _ in 0..12 {
        let response = f.get(&drive("")).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            break;
        }
        warned |= response.headers().contains_key("ratelimit-remaining");
    }
    assert!(warned, "RateLimit-* headers before the 429");
    let seconds: i64 = throttled.expect("throttled at 100 %").parse().expect("seconds");
    f.knob("advance_clock", json!({"seconds": seconds})).await;
    assert_eq!(f.get(&drive("")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn batch_runs_up_to_twenty_requests_each_with_its_own_status() {
    let f = Fixture::start().await;
    let batch = |requests: Value| f.call_json(Method::POST, "/$batch", json!({"requests": requests}));
    f.knob("throttle", json!({"count": 1, "retry_after": 5, "path": "/v1.0/drives/"})).await;
    let response = batch(json!([
        {"id": "1", "method": "GET", "url": format!("/drives/{DRIVE}")},
        {"id": "2", "method": "GET", "url": format!("/drives/{DRIVE}/root:/Docs/plan.docx")},
        {"id": "3", "method": "GET", "url": format!("/drives/{DRIVE}/root:/missing.txt")},
        {"id": "4", "method": "GET", "url": format!("/drives/{DRIVE}/root:/Docs/plan.docx"), "dependsOn": ["3"]}
    ]))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    let status = |id: &str| {
        body["responses"].as_array().and_then(|r| r.iter().find(|x| x["id"] == id)).map(|x| x["status"].clone())
    };
    assert_eq!(status("1"), Some(json!(429)));
    assert_eq!(status("2"), Some(json!(200)));
    assert_eq!(status("3"), Some(json!(404)));
    assert_eq!(status("4"), Some(json!(424)));
    let too_many: Vec<Value> =
        (0..21).map(|n| json!({"id": n.to_string(), "method": "GET", "url": "/users"})).collect();
    assert_eq!(batch(json!(too_many)).await.status(), StatusCode::BAD_REQUEST);
    let duplicate =
        json!([{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/groups"}]);
    assert_eq!(batch(duplicate).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_request_log_shows_what_reached_the_emulator_without_credentials() {
    let f = Fixture::start().await;
    let url = f.upload_url("Docs/log.bin", json!({})).await;
    let done = f.put_fragment(&url, 0, 3, b"abc".to_vec()).await;
    assert_eq!(done.status(), StatusCode::CREATED);
    let log = json_of(f.fetch(&format!("{}/_emulator/requests", f.emulator.base_url)).await).await;
    let entries = log.as_array().expect("array");
    let upload =
        entries.iter().find(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/_upload/"))).expect("upload entry");
    assert!(upload["headers"].get("authorization").is_none());
    assert_eq!(upload["query"], "token=<redacted>");
    let create = entries
        .iter()
        .find(|e| e["path"].as_str().is_some_and(|p| p.ends_with("createUploadSession")))
        .expect("create entry");
    assert_eq!(create["headers"]["authorization"], "<redacted>");
    assert_eq!(create["status"], 200);
}
