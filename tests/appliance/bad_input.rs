//! Bad input gets the right status and a stable code in the envelope, and changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_error, expect_json};

async fn users(app: &TestAppliance) -> Value {
    expect_json(app.admin(Method::GET, "/api/v1/users?limit=1000").send().await.unwrap(), 200).await["users"].clone()
}

fn raw(app: &TestAppliance, method: Method, path: &str, body: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("content-type", "application/json").body(body.to_owned())
}

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let app = TestAppliance::start().await;
    let before = users(&app).await;
    for body in ["{\"user_name\": ", "not json", "{\"user_name\": \"a\"} {}", ""] {
        let response = raw(&app, Method::POST, "/api/v1/users", body).send().await.unwrap();
        expect_error(response, 400, "INVALID_JSON").await;
    }
    assert_eq!(users(&app).await, before);
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_name_the_field() {
    let app = TestAppliance::start().await;
    let before = users(&app).await;
    let cases = [
        (json!({"user_name": "a", "usr_name": "b"}), "usr_name"),
        (json!({"user_name": 42}), "user_name"),
        (json!({"user_name": "a", "role": "owner"}), "role"),
        (json!({"user_name": "a", "active": "yes"}), "active"),
        (json!({"user_name": "a", "quota_bytes": -5}), "quota_bytes"),
        (json!({"display_name": "no user name"}), "user_name"),
        (json!({"user_name": "a", "email": "not-an-email"}), "email"),
        (json!({"user_name": "  "}), "user_name"),
    ];
    for (body, field) in cases {
        let response = app.admin(Method::POST, "/api/v1/users").json(&body).send().await.unwrap();
        let error = expect_error(response, 422, "VALIDATION_FAILED").await;
        assert_eq!(error["details"]["fields"][0]["field"], field, "{body}: {error}");
    }
    assert_eq!(users(&app).await, before);
}

#[tokio::test]
async fn patch_with_a_bad_field_changes_nothing() {
    let app = TestAppliance::start().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let path = format!("/api/v1/users/{bob}");
    let response = app.admin(Method::PATCH, &path).json(&json!({"display_name": "Robert", "role": 7})).send().await;
    expect_error(response.unwrap(), 422, "VALIDATION_FAILED").await;
    let response = app.admin(Method::PATCH, &path).json(&json!({"display_name": "Robert", "email": "x"})).send().await;
    expect_error(response.unwrap(), 422, "VALIDATION_FAILED").await;
    let bob = expect_json(app.admin(Method::GET, &path).send().await.unwrap(), 200).await;
    assert_eq!(bob["display_name"], "bob");
    assert_eq!(bob["version"], 1);
}

#[tokio::test]
async fn wrong_content_type_and_oversized_bodies() {
    let app = TestAppliance::start_with(|config| config.limits.max_json_body_bytes = 4096).await;
    let before = users(&app).await;
    let response =
        app.admin(Method::POST, "/api/v1/users").header("content-type", "text/plain").body("{}").send().await.unwrap();
    expect_error(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let huge = json!({"user_name": "big", "display_name": "x".repeat(10_000)});
    let response = app.admin(Method::POST, "/api/v1/users").json(&huge).send().await.unwrap();
    expect_error(response, 413, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(users(&app).await, before);
}

#[tokio::test]
async fn bad_query_parameters_are_validation_errors() {
    let app = TestAppliance::start().await;
    for query in ["limit=0", "limit=1001", "limit=abc", "cursor=%21%21", "bogus=1"] {
        let response = app.admin(Method::GET, &format!("/api/v1/users?{query}")).send().await.unwrap();
        expect_error(response, 422, "VALIDATION_FAILED").await;
    }
    let response = app.admin(Method::GET, "/api/v1/audit-events?since=yesterday").send().await.unwrap();
    expect_error(response, 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn unknown_routes_methods_and_ids() {
    let app = TestAppliance::start().await;
    expect_error(app.admin(Method::GET, "/api/v1/nothing-here").send().await.unwrap(), 404, "NOT_FOUND").await;
    expect_error(app.admin(Method::PUT, "/api/v1/me").send().await.unwrap(), 405, "METHOD_NOT_ALLOWED").await;
    expect_error(app.admin(Method::GET, "/api/v1/users/usr_nonsense").send().await.unwrap(), 404, "NOT_FOUND").await;
    let missing = scaidrive_connectors::ids::UserId::new();
    let response = app.admin(Method::GET, &format!("/api/v1/users/{missing}")).send().await.unwrap();
    expect_error(response, 404, "NOT_FOUND").await;
    let response = app.admin(Method::GET, &format!("/api/v1/groups/{missing}")).send().await.unwrap();
    expect_error(response, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn duplicates_are_conflicts() {
    let app = TestAppliance::start().await;
    let response = app.admin(Method::POST, "/api/v1/users").json(&json!({"user_name": "ADMIN"})).send().await.unwrap();
    let error = expect_error(response, 409, "ALREADY_EXISTS").await;
    assert_eq!(error["details"]["field"], "user_name");
}
