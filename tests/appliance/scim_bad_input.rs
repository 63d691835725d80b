//! Bad SCIM input gets the RFC 7644 answer and changes nothing: malformed filters, unknown attributes, wrong
//! types, mutability violations, a userName differing only in case (the fixture), a body over the size limit,
//! and 1,000 requests in a minute on one token (600 pass, the rest get 429 with `Retry-After`; time is the
//! manual clock, never a sleep).

use serde_json::{Value, json};

use crate::common::TestAppliance;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Everything SCIM can see, to compare before and after.
async fn snapshot(app: &TestAppliance, token: &str) -> (Value, Value) {
    let (_, mut users) = app.scim_call(token, "GET", "/Users?count=1000", None).await;
    let (_, mut groups) = app.scim_call(token, "GET", "/Groups?count=1000", None).await;
    // Okay to compare whole bodies: nothing in them depends on the time of the read.
    users["schemas"] = Value::Null;
    groups["schemas"] = Value::Null;
    (users, groups)
}

#[tokio::test]
async fn the_bad_input_fixture_gets_rfc_answers_and_changes_nothing() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    app.replay(&token, include_str!("../fixtures/scim/bad-input.json")).await;
}

#[tokio::test]
async fn wrong_types_unknown_paths_and_case_only_duplicates_change_nothing() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    let (status, user) =
        app.scim_call(&token, "POST", "/Users", Some(&json!({"schemas": [USER], "userName": "Jo"}))).await;
    assert_eq!(status, 201);
    let id = user["id"].as_str().unwrap().to_owned();
    let before = snapshot(&app, &token).await;
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        ("POST", "/Users".into(), json!({"schemas": [USER], "userName": "jo"}), 409, "uniqueness"),
        ("POST", "/Users".into(), json!({"schemas": [USER], "userName": 7}), 400, "invalidValue"),
        ("POST", "/Users".into(), json!({"schemas": [USER], "userName": "k", "active": "yes"}), 400, "invalidValue"),
        ("PUT", format!("/Users/{id}"), json!({"schemas": [USER], "displayName": "no userName"}), 400, "invalidValue"),
        (
            "PATCH",
            format!("/Users/{id}"),
            patch(json!([{"op": "replace", "path": "shoeSize", "value": 44}])),
            400,
            "invalidPath",
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            patch(json!([{"op": "replace", "path": "id", "value": "usr_x"}])),
            400,
            "mutability",
        ),
        ("PATCH", format!("/Users/{id}"), patch(json!([{"op": "remove"}])), 400, "noTarget"),
        (
            "PATCH",
            format!("/Users/{id}"),
            patch(json!([{"op": "replace", "path": "userName", "value": null}])),
            400,
            "invalidValue",
        ),
        ("PATCH", format!("/Users/{id}"), json!({"Operations": "nope"}), 400, "invalidSyntax"),
        ("GET", "/Users?filter=userName eq".into(), Value::Null, 400, "invalidFilter"),
        ("GET", "/Users?filter=name.nickName eq \"x\"".into(), Value::Null, 400, "invalidFilter"),
    ];
    for (method, path, body, status, scim_type) in cases {
        let body = (!body.is_null()).then_some(&body);
        let (got, reply) = app.scim_call(&token, method, &path, body).await;
        assert_eq!((got, reply["scimType"].as_str()), (status, Some(scim_type)), "{method} {path}: {reply}");
        assert_eq!(reply["status"], status.to_string());
    }
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G", "members": [{"value": "usr_01J4M3Z1K8M0Q9R2S3T4V5W6X7"}]});
    let (got, reply) = app.scim_call(&token, "POST", "/Groups", Some(&group)).await;
    assert_eq!((got, reply["scimType"].as_str()), (400, Some("invalidValue")), "unknown member: {reply}");
    assert_eq!(snapshot(&app, &token).await, before);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_creates_nothing() {
    let app = TestAppliance::start_with(|c| c.limits.max_json_body_bytes = 4096).await;
    let (_, token) = app.scim_token().await;
    let before = snapshot(&app, &token).await;
    let body = json!({"schemas": [USER], "userName": "big", "displayName": "x".repeat(8192)});
    let (status, reply) = app.scim_call(&token, "POST", "/Users", Some(&body)).await;
    assert_eq!((status, reply["status"].as_str()), (413, Some("413")), "{reply}");
    assert_eq!(snapshot(&app, &token).await, before);
}

#[tokio::test]
async fn a_thousand_requests_in_a_minute_get_429_with_retry_after_past_600() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    let (status, _) = app.scim_call(&token, "POST", "/Users", Some(&json!({"schemas": [USER], "userName": "r"}))).await;
    assert_eq!(status, 201);
    let mut ok = 1;
    let mut limited = Vec::new();
    // The manual clock stands still: all of these fall in the same instant, well inside one minute.
    for i in 1..1000 {
        let body = json!({"schemas": [USER], "userName": format!("r{i}")});
        let response = app
            .scim(&token, reqwest::Method::POST, "/Users")
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            201 => ok += 1,
            429 => {
                let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["status"], "429");
                limited.push(retry);
            }
            other => panic!("request {i}: unexpected {other}"),
        }
    }
    assert_eq!((ok, limited.len()), (600, 400));
    assert!(limited.iter().all(|&s| (1..=60).contains(&s)), "{limited:?}");
    // The refused requests created nothing; another token's budget is separate only after rotation, so check
    // through the admin API (not rate limited) that exactly the 600 accepted users exist.
    let users = app.admin(reqwest::Method::GET, "/api/v1/users?limit=1000").send().await.unwrap();
    let users: Value = users.json().await.unwrap();
    assert_eq!(users["users"].as_array().unwrap().len(), 601, "admin + 600 accepted");

    app.clock.advance(time::Duration::seconds(i64::try_from(limited[0]).unwrap()));
    let (status, _) = app.scim_call(&token, "GET", "/Users?count=1", None).await;
    assert_eq!(status, 200, "the bucket refills with (manual) time");
}
