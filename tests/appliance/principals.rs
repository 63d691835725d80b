//! Users, groups, tokens, `/me` and the audit log through the API, as an administrator drives them.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestAppliance, expect_error, expect_json};

#[tokio::test]
async fn admin_creates_updates_and_deletes_a_user() {
    let app = TestAppliance::start().await;
    let created = app
        .admin(Method::POST, "/api/v1/users")
        .json(&json!({"user_name": "alice", "display_name": "Alice A.", "email": "alice@example.test", "department": "Finance"}))
        .send()
        .await
        .unwrap();
    let alice = expect_json(created, 201).await;
    let id = alice["id"].as_str().unwrap();
    assert!(id.starts_with("usr_"));
    assert_eq!(alice["role"], "user");
    assert_eq!(alice["active"], true);

    let path = format!("/api/v1/users/{id}");
    let patched = app.admin(Method::PATCH, &path).json(&json!({"email": null, "active": false})).send().await.unwrap();
    let patched = expect_json(patched, 200).await;
    assert_eq!(patched["email"], serde_json::Value::Null);
    assert_eq!(patched["department"], "Finance");
    assert_eq!(patched["active"], false);

    assert_eq!(app.admin(Method::DELETE, &path).send().await.unwrap().status(), 204);
    expect_error(app.admin(Method::GET, &path).send().await.unwrap(), 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn deactivated_user_token_stops_working() {
    let app = TestAppliance::start().await;
    let (bob, token) = app.user_with_token("bob", "user").await;
    expect_json(app.as_token(&token, Method::GET, "/api/v1/me").send().await.unwrap(), 200).await;
    let path = format!("/api/v1/users/{bob}");
    expect_json(app.admin(Method::PATCH, &path).json(&json!({"active": false})).send().await.unwrap(), 200).await;
    expect_error(app.as_token(&token, Method::GET, "/api/v1/me").send().await.unwrap(), 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn users_page_through_with_cursors() {
    let app = TestAppliance::start().await;
    for i in 0..5 {
        let body = json!({"user_name": format!("user{i}")});
        expect_json(app.admin(Method::POST, "/api/v1/users").json(&body).send().await.unwrap(), 201).await;
    }
    let mut names = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_owned();
    loop {
        let page = expect_json(app.admin(Method::GET, &path).send().await.unwrap(), 200).await;
        names.extend(page["users"].as_array().unwrap().iter().map(|u| u["user_name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(names, ["admin", "user0", "user1", "user2", "user3", "user4"]);
}

#[tokio::test]
async fn groups_hold_members_and_forget_deleted_users() {
    let app = TestAppliance::start().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let (carol, _) = app.user_with_token("carol", "user").await;
    let group = app
        .admin(Method::POST, "/api/v1/groups")
        .json(&json!({"display_name": "Finance Team", "members": [bob]}))
        .send();
    let group = expect_json(group.await.unwrap(), 201).await;
    assert_eq!(group["slug"], "finance-team");
    let path = format!("/api/v1/groups/{}", group["id"].as_str().unwrap());
    let patched = app.admin(Method::PATCH, &path).json(&json!({"members": [bob, carol]})).send().await.unwrap();
    assert_eq!(expect_json(patched, 200).await["members"], json!([bob, carol]));
    app.admin(Method::DELETE, &format!("/api/v1/users/{bob}")).send().await.unwrap();
    let group = expect_json(app.admin(Method::GET, &path).send().await.unwrap(), 200).await;
    assert_eq!(group["members"], json!([carol]));
    let listed = expect_json(app.admin(Method::GET, "/api/v1/groups").send().await.unwrap(), 200).await;
    assert_eq!(listed["groups"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn token_secret_is_shown_once_and_never_listed() {
    let app = TestAppliance::start().await;
    let issued =
        expect_json(app.admin(Method::POST, "/api/v1/tokens").json(&json!({"name": "ci"})).send().await.unwrap(), 201)
            .await;
    let secret = issued["token"].as_str().unwrap();
    assert!(secret.starts_with("sdt_"));
    let listed = app.admin(Method::GET, "/api/v1/tokens").send().await.unwrap().text().await.unwrap();
    assert!(listed.contains(issued["id"].as_str().unwrap()));
    assert!(!listed.contains(secret));
    assert!(!listed.contains("hash"));
    let me = expect_json(app.as_token(secret, Method::GET, "/api/v1/me").send().await.unwrap(), 200).await;
    assert_eq!(me["token_id"], issued["id"]);
    assert_eq!(me["user"]["user_name"], "admin");
}

#[tokio::test]
async fn audit_log_records_writes_and_filters_by_type_prefix() {
    let app = TestAppliance::start().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    app.admin(Method::POST, "/api/v1/groups").json(&json!({"display_name": "Ops"})).send().await.unwrap();
    let events =
        expect_json(app.admin(Method::GET, "/api/v1/audit-events?event_type=user.*").send().await.unwrap(), 200).await;
    let events = events["audit_events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["event_type"].as_str().unwrap().starts_with("user.")));
    let bob_created = events.iter().find(|e| e["target"] == bob.as_str()).expect("bob's creation is audited");
    assert_eq!(bob_created["event_type"], "user.created");
    assert_eq!(bob_created["actor"]["type"], "user");
    let groups =
        expect_json(app.admin(Method::GET, "/api/v1/audit-events?event_type=group.created").send().await.unwrap(), 200)
            .await;
    assert_eq!(groups["audit_events"].as_array().unwrap().len(), 1);
}
