//! What the SMB sync tests share: a Samba server and an appliance, a connector between them, and the calls an
//! administrator or a user makes (sync and wait, look at a file on either side, its versions, the trash).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_json, wait_until};
use crate::samba::Samba;

/// Where connectors mirror into, inside the target share.
pub const TARGET: &str = "/From SMB";

pub fn write(samba: &Samba, rel: &str, content: &[u8]) {
    let path = samba.share_dir().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
}

/// A file's content on the SMB share's disk, `None` when absent.
pub fn on_smb(samba: &Samba, rel: &str) -> Option<Vec<u8>> {
    std::fs::read(samba.share_dir().join(rel)).ok()
}

/// The names in a folder of the SMB share's disk, sorted.
pub fn smb_names(samba: &Samba, rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samba.share_dir().join(rel))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Creates a connector from the share to `TARGET` in `share`, one-way into ScaiDrive unless `extra` says else.
pub async fn create_connector(app: &TestAppliance, samba: &Samba, share: &str, extra: Value) -> String {
    let user = samba.user();
    let mut body = json!({
        "name": "Samba",
        "server": format!("smb://127.0.0.1:{}/data", samba.port),
        "username": user.name,
        "password": user.password,
        "target_share_id": share,
        "target_path": TARGET,
        "sync_direction": "smb_to_scaidrive",
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let created = app.admin(Method::POST, "/api/v1/smb-connectors").json(&body).send().await.unwrap();
    expect_json(created, 201).await["id"].as_str().unwrap().to_owned()
}

/// Starts a sync (with `query`, e.g. `force=true`) and waits for its job to end; returns the job with its events.
pub async fn sync_with(app: &TestAppliance, connector: &str, query: &[(&str, &str)]) -> Value {
    let url = format!("/api/v1/smb-connectors/{connector}/sync");
    let started = app.admin(Method::POST, &url).query(query).send().await.unwrap();
    let job = expect_json(started, 202).await["job_id"].as_str().unwrap().to_owned();
    let url = format!("/api/v1/smb-connectors/{connector}/jobs/{job}");
    wait_until("the sync job to end", || {
        let request = app.admin(Method::GET, &url).send();
        async move {
            let job: Value = request.await.ok()?.json().await.ok()?;
            let status = job["status"].as_str()?.to_owned();
            (!["queued", "running"].contains(&status.as_str())).then_some(job)
        }
    })
    .await
}

pub async fn sync(app: &TestAppliance, connector: &str) -> Value {
    sync_with(app, connector, &[]).await
}

/// A sync that must complete without per-file errors.
pub async fn sync_clean(app: &TestAppliance, connector: &str) -> Value {
    let job = sync(app, connector).await;
    assert_eq!(job["status"], "completed", "{job}");
    job
}

/// The per-file events of a job with this code (failed or noted), by path.
pub fn events_with_code(job: &Value, code: &str) -> Vec<String> {
    job["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == code)
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect()
}

/// The ScaiDrive entry at `rel` under the target, `None` when absent.
pub async fn drive_entry(app: &TestAppliance, share: &str, rel: &str) -> Option<Value> {
    let path = format!("{TARGET}/{rel}");
    let response = app.admin(Method::GET, &format!("/api/v1/shares/{share}/entries")).query(&[("path", &path)]);
    let response = response.send().await.unwrap();
    match response.status().as_u16() {
        404 => None,
        200 => Some(response.json().await.unwrap()),
        other => panic!("entry {path}: {other} {}", response.text().await.unwrap()),
    }
}

/// A file's content in ScaiDrive, `None` when absent.
pub async fn on_drive(app: &TestAppliance, share: &str, rel: &str) -> Option<Vec<u8>> {
    let path = format!("{TARGET}/{rel}");
    let response = app.admin(Method::GET, &format!("/api/v1/shares/{share}/content")).query(&[("path", &path)]);
    let response = response.send().await.unwrap();
    match response.status().as_u16() {
        404 => None,
        200 => Some(response.bytes().await.unwrap().to_vec()),
        other => panic!("download {path}: {other}"),
    }
}

/// Every content ScaiDrive keeps for the file at `rel` (current first, then older versions).
pub async fn versions(app: &TestAppliance, share: &str, rel: &str) -> Vec<Vec<u8>> {
    let path = format!("{TARGET}/{rel}");
    let listed = app.admin(Method::GET, &format!("/api/v1/shares/{share}/versions")).query(&[("path", &path)]);
    let listed = expect_json(listed.send().await.unwrap(), 200).await;
    let mut contents = Vec::new();
    for version in listed["versions"].as_array().unwrap() {
        let url = format!("/api/v1/shares/{share}/versions/{}/content", version["id"].as_str().unwrap());
        let response = app.admin(Method::GET, &url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        contents.push(response.bytes().await.unwrap().to_vec());
    }
    contents
}

/// Restores the trashed entry that was at `rel` and returns its content: what a user does to get it back.
pub async fn restore_from_trash(app: &TestAppliance, share: &str, rel: &str) -> Vec<u8> {
    let path = format!("{TARGET}/{rel}");
    let trash =
        expect_json(app.admin(Method::GET, &format!("/api/v1/shares/{share}/trash")).send().await.unwrap(), 200);
    let trash = trash.await;
    let item = trash["trash"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|t| t["original_path"] == path.as_str())
        .unwrap_or_else(|| panic!("{path} is not in the trash: {trash}"))
        .clone();
    let url = format!("/api/v1/shares/{share}/trash/{}/restore", item["id"].as_str().unwrap());
    expect_json(app.admin(Method::POST, &url).send().await.unwrap(), 200).await;
    on_drive(app, share, rel).await.unwrap_or_else(|| panic!("{path} restored"))
}

/// Open conflicts of the connector.
pub async fn conflicts(app: &TestAppliance, connector: &str) -> Vec<Value> {
    let url = format!("/api/v1/smb-connectors/{connector}/conflicts");
    expect_json(app.admin(Method::GET, &url).send().await.unwrap(), 200).await["conflicts"].as_array().unwrap().clone()
}

/// Posts a resolution and returns the response.
pub async fn resolve(app: &TestAppliance, connector: &str, conflict: &str, body: Value) -> reqwest::Response {
    let url = format!("/api/v1/smb-connectors/{connector}/conflicts/{conflict}/resolve");
    app.admin(Method::POST, &url).json(&body).send().await.unwrap()
}
