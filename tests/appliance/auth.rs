//! Who may call what: missing, wrong, revoked and wrong-kind tokens get 401; a user without the role gets 403;
//! neither changes anything.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestAppliance, expect_error, expect_json};

async fn user_count(app: &TestAppliance) -> usize {
    let body = expect_json(app.admin(Method::GET, "/api/v1/users?limit=1000").send().await.unwrap(), 200).await;
    body["users"].as_array().unwrap().len()
}

#[tokio::test]
async fn missing_token_is_401_with_a_bearer_challenge() {
    let app = TestAppliance::start().await;
    let response = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    expect_error(response, 401, "UNAUTHENTICATED").await;
    let response = app.client.get(app.url("/api/v1/me")).header("authorization", "Basic YTpi").send().await.unwrap();
    expect_error(response, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn wrong_or_revoked_token_is_401_and_creates_nothing() {
    let app = TestAppliance::start().await;
    let before = user_count(&app).await;
    let create = json!({"user_name": "mallory"});
    let response = app.as_token("sdt_not-a-real-token", Method::POST, "/api/v1/users").json(&create).send().await;
    expect_error(response.unwrap(), 401, "UNAUTHENTICATED").await;

    let issued = app.admin(Method::POST, "/api/v1/tokens").json(&json!({"name": "temp"})).send().await.unwrap();
    let issued = expect_json(issued, 201).await;
    let (id, secret) = (issued["id"].as_str().unwrap(), issued["token"].as_str().unwrap());
    expect_json(app.as_token(secret, Method::GET, "/api/v1/me").send().await.unwrap(), 200).await;
    let revoked = app.admin(Method::DELETE, &format!("/api/v1/tokens/{id}")).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    let response = app.as_token(secret, Method::POST, "/api/v1/users").json(&create).send().await.unwrap();
    expect_error(response, 401, "UNAUTHENTICATED").await;
    assert_eq!(user_count(&app).await, before);
}

#[tokio::test]
async fn plain_user_gets_403_on_admin_routes_and_changes_nothing() {
    let app = TestAppliance::start().await;
    let (bob, bob_token) = app.user_with_token("bob", "user").await;
    let before = user_count(&app).await;
    let attempts = [
        (Method::GET, "/api/v1/users".to_owned(), None),
        (Method::POST, "/api/v1/users".to_owned(), Some(json!({"user_name": "eve"}))),
        (Method::PATCH, format!("/api/v1/users/{bob}"), Some(json!({"role": "admin"}))),
        (Method::POST, "/api/v1/groups".to_owned(), Some(json!({"display_name": "Bob's"}))),
        (Method::GET, "/api/v1/audit-events".to_owned(), None),
    ];
    for (method, path, body) in attempts {
        let mut request = app.as_token(&bob_token, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        expect_error(request.send().await.unwrap(), 403, "FORBIDDEN").await;
    }
    assert_eq!(user_count(&app).await, before);
    let me = expect_json(app.as_token(&bob_token, Method::GET, "/api/v1/me").send().await.unwrap(), 200).await;
    assert_eq!(me["role"], "user", "bob was not promoted by his own attempt");
}

#[tokio::test]
async fn admin_cannot_grant_superadmin() {
    let app = TestAppliance::start().await;
    let (_, admin_token) = app.user_with_token("ops", "admin").await;
    let create = json!({"user_name": "root2", "role": "superadmin"});
    let response = app.as_token(&admin_token, Method::POST, "/api/v1/users").json(&create).send().await.unwrap();
    expect_error(response, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn user_sees_only_their_own_user_record() {
    let app = TestAppliance::start().await;
    let (bob, bob_token) = app.user_with_token("bob", "user").await;
    let (carol, _) = app.user_with_token("carol", "user").await;
    let own = app.as_token(&bob_token, Method::GET, &format!("/api/v1/users/{bob}")).send().await.unwrap();
    assert_eq!(expect_json(own, 200).await["user_name"], "bob");
    let other = app.as_token(&bob_token, Method::GET, &format!("/api/v1/users/{carol}")).send().await.unwrap();
    expect_error(other, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn scim_token_does_not_open_the_rest_api() {
    let app = TestAppliance::start().await;
    let output = crate::common::process::run(
        &app.data_dir(),
        &["token", "create", "--user", "admin", "--name", "idp", "--kind", "scim"],
    );
    assert!(output.status.success(), "{}", crate::common::process::stderr_of(&output));
    let secret = crate::common::process::stdout_of(&output).lines().last().unwrap().to_owned();
    let response = app.as_token(&secret, Method::GET, "/api/v1/me").send().await.unwrap();
    expect_error(response, 401, "UNAUTHENTICATED").await;
}
