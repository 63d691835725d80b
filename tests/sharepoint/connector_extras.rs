//! A SharePoint connector's runs carry versions and column values over (`sync_versions`, `sync_metadata`):
//! through the HTTP API, against the emulator, the per-entry pass joined to the run (`launch/sharepoint_extras`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::expect_json;
use crate::connector::Setup;
use crate::fixture::{DRIVE, seed_with_drive};

async fn get(s: &Setup, what: &str, path: &str) -> Value {
    let request = s.app.admin(Method::GET, &format!("/api/v1/shares/{}/{what}", s.share));
    expect_json(request.query(&[("path", format!("/From SharePoint/{path}"))]).send().await.unwrap(), 200).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_brings_sharepoint_versions_and_column_values_with_the_content() {
    let drive = json!({
        "id": DRIVE, "name": "Documents",
        "columns": [{"name": "Dept", "kind": "text"}, {"name": "DocId", "kind": "text", "read_only": true}],
        "files": [
            {"path": "Library/Report.docx", "text": "three", "versions": ["one", "two"],
             "fields": {"Dept": "Sales", "DocId": "D-1"}},
            {"path": "Library/plain.txt", "text": "plain"}
        ]
    });
    let s = Setup::start_seeded(seed_with_drive(drive)).await;
    let id = s.connector(json!({"sync_versions": true, "sync_metadata": true})).await;

    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.read("Report.docx").await.as_deref(), Some(&b"three"[..]));
    let versions = get(&s, "versions", "Report.docx").await["versions"].as_array().unwrap().len();
    assert_eq!(versions, 3, "SharePoint's three versions are ScaiDrive's three");
    let metadata = get(&s, "metadata", "Report.docx").await;
    assert_eq!(metadata["sharepoint.Dept"], "Sales", "{metadata}");
    assert_eq!(metadata["sharepoint.DocId"], "D-1", "{metadata}");

    // Nothing changed: the pass has no entries to visit, and nothing is added twice.
    let again = s.sync(&id).await;
    assert_eq!((again["status"].as_str(), again["files_synced"].as_u64()), (Some("completed"), Some(0)));
    assert_eq!(get(&s, "versions", "Report.docx").await["versions"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_switches_a_run_moves_only_the_current_content() {
    let drive = json!({
        "id": DRIVE, "name": "Documents",
        "columns": [{"name": "Dept", "kind": "text"}],
        "files": [{"path": "Library/Report.docx", "text": "three", "versions": ["one", "two"],
                   "fields": {"Dept": "Sales"}}]
    });
    let s = Setup::start_seeded(seed_with_drive(drive)).await;
    let id = s.connector(json!({})).await;
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(get(&s, "versions", "Report.docx").await["versions"].as_array().unwrap().len(), 1);
    assert!(get(&s, "metadata", "Report.docx").await.get("sharepoint.Dept").is_none());
}
