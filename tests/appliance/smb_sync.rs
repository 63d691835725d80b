//! SMB connectors syncing for real: a Samba server on loopback (`tests/common/samba.rs`), the appliance
//! in-process, everything through the HTTP API as an administrator would do it.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestAppliance, expect_error, expect_json};
use crate::samba::Samba;
use crate::smb_world::{create_connector, sync, write};

#[tokio::test]
async fn initial_sync_brings_a_nested_tree_with_odd_names_and_a_rerun_moves_nothing() {
    let samba = Samba::start();
    let long = format!("deep/{}/{}.txt", "d".repeat(100), "n".repeat(120));
    let files: Vec<(String, Vec<u8>)> = vec![
        ("docs/Q1 report.pdf".into(), b"%PDF quarterly".to_vec()),
        ("Ünïcødé/naïve café.txt".into(), "crème brûlée".as_bytes().to_vec()),
        ("top.txt".into(), vec![7u8; 300_000]),
        (long.clone(), b"far down".to_vec()),
    ];
    for (rel, content) in &files {
        write(&samba, rel, content);
    }
    let app = TestAppliance::start().await;
    let share = app.share("Mirror").await;
    let connector = create_connector(&app, &samba, &share, json!({})).await;

    let job = sync(&app, &connector).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["trigger"], "manual");
    for (rel, content) in &files {
        assert_eq!(&app.download(&share, &format!("/From SMB/{rel}")).await, content, "{rel}");
    }
    assert!(
        job["events"].as_array().unwrap().iter().any(|e| e["path"] == "docs/Q1 report.pdf" && e["result"] == "done")
    );

    let again = sync(&app, &connector).await;
    assert_eq!((again["status"].as_str(), again["files_synced"].as_u64()), (Some("completed"), Some(0)), "{again}");
    let jobs = expect_json(
        app.admin(Method::GET, &format!("/api/v1/smb-connectors/{connector}/jobs")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(jobs["jobs"][0]["id"], again["id"], "newest first");

    let states =
        app.admin(Method::GET, &format!("/api/v1/smb-connectors/{connector}/file-states")).query(&[("limit", "1000")]);
    let states = expect_json(states.send().await.unwrap(), 200).await;
    let paths: Vec<&str> =
        states["file_states"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"top.txt") && paths.contains(&long.as_str()), "{paths:?}");
    assert!(states["file_states"].as_array().unwrap().iter().all(|s| s["status"] == "in_sync"));
}

#[tokio::test]
async fn a_change_on_smb_arrives_and_the_old_content_stays_a_version() {
    let samba = Samba::start();
    write(&samba, "plan.txt", b"first plan");
    let app = TestAppliance::start().await;
    let share = app.share("Versions").await;
    let connector = create_connector(&app, &samba, &share, json!({})).await;
    assert_eq!(sync(&app, &connector).await["status"], "completed");
    write(&samba, "plan.txt", b"second plan, longer");
    let job = sync(&app, &connector).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(app.download(&share, "/From SMB/plan.txt").await, b"second plan, longer");
    let versions =
        app.admin(Method::GET, &format!("/api/v1/shares/{share}/versions")).query(&[("path", "/From SMB/plan.txt")]);
    let versions = expect_json(versions.send().await.unwrap(), 200).await;
    let sizes: Vec<u64> =
        versions["versions"].as_array().unwrap().iter().map(|v| v["size"].as_u64().unwrap()).collect();
    assert!(sizes.contains(&10), "the overwritten content is a version: {sizes:?}");
}

#[tokio::test]
async fn a_wrong_password_fails_the_job_with_auth_failed_and_an_audit_event() {
    let samba = Samba::start();
    let app = TestAppliance::start().await;
    let share = app.share("Denied").await;
    let connector = create_connector(&app, &samba, &share, json!({"password": "not-the-password"})).await;
    let job = sync(&app, &connector).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "CONNECTOR_AUTH_FAILED", "{job}");
    let audit =
        app.admin(Method::GET, "/api/v1/audit-events").query(&[("event_type", "connector.auth_failed")]).send().await;
    let audit = expect_json(audit.unwrap(), 200).await;
    assert_eq!(audit["audit_events"][0]["target"], connector.as_str());
    assert!(!audit.to_string().contains("not-the-password"));
}

#[tokio::test]
async fn a_closed_port_fails_the_job_as_unreachable() {
    let samba = Samba::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestAppliance::start().await;
    let share = app.share("Nowhere").await;
    let connector =
        create_connector(&app, &samba, &share, json!({"server": format!("smb://127.0.0.1:{closed}/data")})).await;
    let job = sync(&app, &connector).await;
    assert_eq!(job["error"]["code"], "CONNECTOR_UNREACHABLE", "{job}");
}

#[tokio::test]
async fn sync_needs_a_connector_the_caller_manages() {
    let samba = Samba::start();
    let app = TestAppliance::start().await;
    let share = app.share("Mine").await;
    let connector = create_connector(&app, &samba, &share, json!({})).await;
    let (_, token) = app.user_with_token("bob", "user").await;
    let response = app.as_token(&token, Method::POST, &format!("/api/v1/smb-connectors/{connector}/sync")).send().await;
    expect_error(response.unwrap(), 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_file_changed_on_both_sides_opens_a_manual_conflict_and_moves_nothing() {
    let samba = Samba::start();
    write(&samba, "shared.txt", b"base");
    let app = TestAppliance::start().await;
    let share = app.share("Both").await;
    let connector = create_connector(&app, &samba, &share, json!({"sync_direction": "bidirectional"})).await;
    assert_eq!(sync(&app, &connector).await["status"], "completed");
    write(&samba, "shared.txt", b"edited on the file server");
    app.upload(&share, "/From SMB/shared.txt", b"edited in ScaiDrive").await;
    let job = sync(&app, &connector).await;
    assert!(job["conflicts"].as_u64().unwrap() >= 1, "{job}");
    let conflicts =
        app.admin(Method::GET, &format!("/api/v1/smb-connectors/{connector}/conflicts")).send().await.unwrap();
    let conflicts = expect_json(conflicts, 200).await;
    assert_eq!(conflicts["conflicts"][0]["path"], "shared.txt", "{conflicts}");
    assert!(conflicts["conflicts"][0]["id"].as_str().unwrap().starts_with("cfl_"));
    assert_eq!(app.download(&share, "/From SMB/shared.txt").await, b"edited in ScaiDrive", "MANUAL moves nothing");
    assert_eq!(std::fs::read(samba.share_dir().join("shared.txt")).unwrap(), b"edited on the file server");
}
