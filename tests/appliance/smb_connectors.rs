//! SMB connector configuration through the API: create, read, list, update, delete, identity mappings, and the
//! write-only, sealed password.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::process::{Served, init};
use crate::common::{TestAppliance, bytes_found_under, expect_error, expect_json};

fn finance(share: &str) -> Value {
    json!({
        "name": "Finance Fileserver",
        "description": "Legacy Windows share",
        "server_host": "fs01.corp.example.com",
        "server_port": 445,
        "share_name": "Finance",
        "base_path": "2026",
        "domain": "CORP",
        "username": "scaidrive-svc",
        "password": "Secret-123-unique-password",
        "target_share_id": share,
        "target_path": "/From Fileserver",
        "sync_direction": "bidirectional",
        "sync_permissions": true,
        "include_patterns": {"extensions": ["pdf", "docx", "xlsx"]},
        "exclude_patterns": {"patterns": ["~$*", ".DS_Store", "Thumbs.db"]},
        "conflict_resolution": "LAST_WRITER_WINS",
        "sync_interval_minutes": 15
    })
}

async fn create(app: &TestAppliance, body: &Value) -> Value {
    expect_json(app.admin(Method::POST, "/api/v1/smb-connectors").json(body).send().await.unwrap(), 201).await
}

#[tokio::test]
async fn create_read_list_with_the_password_write_only() {
    let app = TestAppliance::start().await;
    let share = app.share("Finance").await;
    let created = create(&app, &finance(&share)).await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("cnn_"));
    assert_eq!(created["password_set"], true);
    assert!(created.get("password").is_none());
    assert_eq!(created["include_patterns"]["extensions"], json!(["pdf", "docx", "xlsx"]));
    assert_eq!(created["target_path"], "/From Fileserver");
    let got =
        expect_json(app.admin(Method::GET, &format!("/api/v1/smb-connectors/{id}")).send().await.unwrap(), 200).await;
    assert_eq!(got, created);
    let listed = expect_json(app.admin(Method::GET, "/api/v1/smb-connectors").send().await.unwrap(), 200).await;
    assert_eq!(listed["connectors"][0]["id"], id);
    assert!(!listed.to_string().contains("Secret-123"));
}

#[tokio::test]
async fn server_as_unc_or_url_is_accepted() {
    let app = TestAppliance::start().await;
    let share = app.share("S").await;
    for (server, port, base) in [("\\\\fs02\\Team\\Docs", 445, "Docs"), ("smb://127.0.0.1:14451/data", 14451, "")] {
        let body = json!({"name": "n", "server": server, "username": "u", "password": "p", "target_share_id": share});
        let created = create(&app, &body).await;
        assert_eq!(created["server_port"], port, "{server}");
        assert_eq!(created["base_path"], base, "{server}");
    }
}

#[tokio::test]
async fn invalid_create_lists_every_bad_field_and_creates_nothing() {
    let app = TestAppliance::start().await;
    let body = json!({"server_host": "fs", "share_name": "bad|name", "sync_direction": "sideways", "sync_interval_minutes": 999999, "exclude_patterns": {"patterns": ["["]}});
    let response = app.admin(Method::POST, "/api/v1/smb-connectors").json(&body).send().await.unwrap();
    let error = expect_error(response, 422, "VALIDATION_FAILED").await;
    let mut fields: Vec<&str> =
        error["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "exclude_patterns",
            "name",
            "password",
            "share_name",
            "sync_direction",
            "sync_interval_minutes",
            "target_share_id",
            "username"
        ]
    );
    let unknown = app
        .admin(Method::POST, "/api/v1/smb-connectors")
        .json(&json!({"name": "x", "pasword": "typo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(unknown, 422, "VALIDATION_FAILED").await["details"]["fields"][0]["field"], "pasword");
    let listed = expect_json(app.admin(Method::GET, "/api/v1/smb-connectors").send().await.unwrap(), 200).await;
    assert!(listed["connectors"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn creating_needs_manage_on_the_target_share_and_others_see_nothing() {
    let app = TestAppliance::start().await;
    let share = app.share("Admin's").await;
    let (user, token) = app.user_with_token("bob", "user").await;
    let grant = json!({"aces": [{"principal_id": user, "permission": "write", "type": "allow", "source": "manual"}]});
    app.admin(Method::PUT, &format!("/api/v1/shares/{share}/aces"))
        .query(&[("path", "/")])
        .json(&grant)
        .send()
        .await
        .unwrap();
    let response =
        app.as_token(&token, Method::POST, "/api/v1/smb-connectors").json(&finance(&share)).send().await.unwrap();
    expect_error(response, 403, "FORBIDDEN").await;
    let created = create(&app, &finance(&share)).await;
    let hidden = app
        .as_token(&token, Method::GET, &format!("/api/v1/smb-connectors/{}", created["id"].as_str().unwrap()))
        .send();
    expect_error(hidden.await.unwrap(), 404, "NOT_FOUND").await;
    let listed =
        expect_json(app.as_token(&token, Method::GET, "/api/v1/smb-connectors").send().await.unwrap(), 200).await;
    assert!(listed["connectors"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn update_changes_settings_and_refuses_the_target_share() {
    let app = TestAppliance::start().await;
    let share = app.share("A").await;
    let other = app.share("B").await;
    let created = create(&app, &finance(&share)).await;
    let url = format!("/api/v1/smb-connectors/{}", created["id"].as_str().unwrap());
    let patched = expect_json(
        app.admin(Method::PATCH, &url).json(&json!({"sync_interval_minutes": 60})).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(patched["sync_interval_minutes"], 60);
    assert_eq!(patched["share_name"], "Finance");
    let moved = app.admin(Method::PATCH, &url).json(&json!({"target_share_id": other})).send().await.unwrap();
    let error = expect_error(moved, 422, "IMMUTABLE_FIELD").await;
    assert_eq!(error["details"]["field"], "target_share_id");
    let same = app
        .admin(Method::PATCH, &url)
        .json(&json!({"target_share_id": share, "name": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(same, 200).await["name"], "Renamed");
    let bad = app
        .admin(Method::PATCH, &url)
        .json(&json!({"sync_direction": "scaidrive_to_sharepoint", "name": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(bad, 422, "VALIDATION_FAILED").await;
    let after = expect_json(app.admin(Method::GET, &url).send().await.unwrap(), 200).await;
    assert_eq!(after["name"], "Renamed", "a refused update changes nothing");
}

#[tokio::test]
async fn a_targeted_share_cannot_be_deleted_until_the_connector_is() {
    let app = TestAppliance::start().await;
    let share = app.share("Held").await;
    app.upload(&share, "/synced.txt", b"kept").await;
    let created = create(&app, &finance(&share)).await;
    let response = app.admin(Method::DELETE, &format!("/api/v1/shares/{share}")).send().await.unwrap();
    expect_error(response, 409, "SHARE_IN_USE").await;
    let url = format!("/api/v1/smb-connectors/{}", created["id"].as_str().unwrap());
    assert_eq!(app.admin(Method::DELETE, &url).send().await.unwrap().status(), 204);
    expect_error(app.admin(Method::GET, &url).send().await.unwrap(), 404, "NOT_FOUND").await;
    assert_eq!(app.download(&share, "/synced.txt").await, b"kept", "deleting a connector keeps what it synced");
    assert_eq!(app.admin(Method::DELETE, &format!("/api/v1/shares/{share}")).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn identity_mappings_are_created_listed_and_removed() {
    let app = TestAppliance::start().await;
    let share = app.share("Map").await;
    let (alice, _) = app.user_with_token("alice", "user").await;
    let created = create(&app, &finance(&share)).await;
    let url = format!("/api/v1/smb-connectors/{}/identity-mappings", created["id"].as_str().unwrap());
    let mapping = json!({"identity_type": "user", "smb_principal": "CORP\\alice", "scaidrive_principal_id": alice});
    let mapping = expect_json(app.admin(Method::POST, &url).json(&mapping).send().await.unwrap(), 201).await;
    assert!(mapping["id"].as_str().unwrap().starts_with("map_"));
    let sid = json!({"identity_type": "user", "smb_principal": "S-1-5-21-1-2-3-1001", "scaidrive_principal_id": alice});
    expect_json(app.admin(Method::POST, &url).json(&sid).send().await.unwrap(), 201).await;
    let ghost = json!({"identity_type": "user", "smb_principal": "CORP\\ghost", "scaidrive_principal_id": scaidrive_connectors::ids::UserId::new()});
    expect_error(app.admin(Method::POST, &url).json(&ghost).send().await.unwrap(), 422, "VALIDATION_FAILED").await;
    let listed = expect_json(app.admin(Method::GET, &url).send().await.unwrap(), 200).await;
    assert_eq!(listed["identity_mappings"].as_array().unwrap().len(), 2);
    let one = format!("{url}/{}", mapping["id"].as_str().unwrap());
    assert_eq!(app.admin(Method::DELETE, &one).send().await.unwrap().status(), 204);
    expect_error(app.admin(Method::DELETE, &one).send().await.unwrap(), 404, "NOT_FOUND").await;
    let listed = expect_json(app.admin(Method::GET, &url).send().await.unwrap(), 200).await;
    assert_eq!(listed["identity_mappings"].as_array().unwrap().len(), 1);
}

/// The password goes in through the API, is sealed, and is found neither on disk nor in a trace-level log, even
/// after a credential rotation.
#[tokio::test]
async fn sealed_password_is_in_neither_the_data_directory_nor_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = init(&data);
    let served = Served::start(&data, &[("RUST_LOG", "trace")]).await;
    let client = reqwest::Client::new();
    let share =
        client.post(format!("{}/api/v1/shares", served.base_url)).bearer_auth(&token).json(&json!({"name": "S"}));
    let share = expect_json(share.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned();
    let first = "first-Password-7f3a9c";
    let mut body = finance(&share);
    body["password"] = json!(first);
    let created = client.post(format!("{}/api/v1/smb-connectors", served.base_url)).bearer_auth(&token).json(&body);
    let created = expect_json(created.send().await.unwrap(), 201).await;
    let second = "rotated-Password-0b1d2e";
    let url = format!("{}/api/v1/smb-connectors/{}", served.base_url, created["id"].as_str().unwrap());
    let rotated = client.patch(&url).bearer_auth(&token).json(&json!({"username": "new-svc", "password": second}));
    assert_eq!(expect_json(rotated.send().await.unwrap(), 200).await["username"], "new-svc");
    let audit =
        client.get(format!("{}/api/v1/audit-events?event_type=connector.*", served.base_url)).bearer_auth(&token);
    let audit = audit.send().await.unwrap().text().await.unwrap();
    assert!(
        audit.contains("connector.updated") && audit.contains("\"password\""),
        "the rotation is audited by field name"
    );
    let log = served.log_text();
    assert!(log.contains("/api/v1/smb-connectors"), "the log captured the requests");
    for secret in [first, second] {
        assert!(!audit.contains(secret), "a password is in the audit log");
        assert!(!log.contains(secret), "a password is in the log");
        assert_eq!(bytes_found_under(&data, secret.as_bytes()), None, "a password is on disk in plain text");
    }
}
