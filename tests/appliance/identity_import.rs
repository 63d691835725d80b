//! The identity-mapping CSV import through HTTP: all or nothing, bad rows named by line, re-imports replace.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_error, expect_json};

async fn connector(app: &TestAppliance) -> String {
    let share = app.share("Imports").await;
    let body = json!({
        "name": "Fileserver", "server_host": "fs01.corp.example.com", "share_name": "Data", "username": "svc",
        "password": "Secret-123-import", "target_share_id": share, "target_path": "/smb"
    });
    let created =
        expect_json(app.admin(Method::POST, "/api/v1/smb-connectors").json(&body).send().await.unwrap(), 201).await;
    format!("/api/v1/smb-connectors/{}/identity-mappings", created["id"].as_str().unwrap())
}

async fn import(app: &TestAppliance, url: &str, csv: String) -> reqwest::Response {
    app.admin(Method::POST, &format!("{url}/import")).header("content-type", "text/csv").body(csv).send().await.unwrap()
}

async fn listed(app: &TestAppliance, url: &str) -> Vec<Value> {
    let list = expect_json(app.admin(Method::GET, url).send().await.unwrap(), 200).await;
    list["identity_mappings"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_csv_with_one_bad_row_imports_nothing_and_names_the_row() {
    let app = TestAppliance::start().await;
    let url = connector(&app).await;
    let (alice, _) = app.user_with_token("alice", "user").await;
    let ghost = scaidrive_connectors::ids::UserId::new();
    let csv = format!(
        "smb-sid,scaidrive-user-id\nS-1-5-21-1-2-3-1000,{alice}\nS-1-5-21-1-2-3-1001,{ghost}\nS-1-5-21-1-2-3-1002,{alice}\n"
    );
    let error = expect_error(import(&app, &url, csv).await, 422, "VALIDATION_FAILED").await;
    let fields = error["details"]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{error}");
    assert_eq!(fields[0]["field"], "lines[3].scaidrive-user-id");
    assert!(listed(&app, &url).await.is_empty(), "the good rows around the bad one were not imported either");
}

#[tokio::test]
async fn a_good_csv_imports_every_row_and_a_second_import_replaces_by_sid() {
    let app = TestAppliance::start().await;
    let url = connector(&app).await;
    let (alice, _) = app.user_with_token("alice", "user").await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let group = expect_json(
        app.admin(Method::POST, "/api/v1/groups").json(&json!({"display_name": "Sales"})).send().await.unwrap(),
        201,
    )
    .await;
    let group = group["id"].as_str().unwrap();

    let first = format!("S-1-5-21-1-2-3-1000,{alice}\r\nS-1-5-21-1-2-3-2000,{group}\r\n");
    let report = expect_json(import(&app, &url, first).await, 200).await;
    assert_eq!(report, json!({"created": 2, "replaced": 0}));
    let rows = listed(&app, &url).await;
    let by_sid = |rows: &[Value], sid: &str| rows.iter().find(|m| m["smb_principal"] == sid).cloned().unwrap();
    assert_eq!(by_sid(&rows, "S-1-5-21-1-2-3-2000")["identity_type"], "group");
    let alice_row = by_sid(&rows, "S-1-5-21-1-2-3-1000");

    let second = format!("smb-sid,scaidrive-user-id\ns-1-5-21-1-2-3-1000,{bob}\n");
    assert_eq!(expect_json(import(&app, &url, second).await, 200).await, json!({"created": 0, "replaced": 1}));
    let rows = listed(&app, &url).await;
    assert_eq!(rows.len(), 2);
    let moved = by_sid(&rows, "S-1-5-21-1-2-3-1000");
    assert_eq!(moved["scaidrive_principal_id"], bob.as_str(), "the SID now maps to Bob");
    assert_eq!(moved["id"], alice_row["id"], "the mapping keeps its id");
}

#[tokio::test]
async fn the_import_takes_csv_only() {
    let app = TestAppliance::start().await;
    let url = connector(&app).await;
    let json_body = app.admin(Method::POST, &format!("{url}/import")).json(&json!({"rows": []})).send().await.unwrap();
    expect_error(json_body, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let empty = import(&app, &url, "smb-sid,scaidrive-user-id\n".into()).await;
    assert_eq!(expect_error(empty, 422, "VALIDATION_FAILED").await["details"]["fields"][0]["field"], "lines[1].row");
}
