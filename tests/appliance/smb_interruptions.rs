//! SMB runs interrupted in the middle, over real Samba through the HTTP API: paused and resumed (the same job
//! goes on, nothing twice, nothing lost), the file server stopped (the job fails cleanly, the next run
//! completes), and the appliance process killed with SIGKILL (the interrupted job is marked at restart and the
//! next run converges). Runs are made long by file count; the tests wait on the job's live progress.

use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::common::process::{Served, init};
use crate::common::{TestAppliance, expect_json, wait_until};
use crate::samba::Samba;
use crate::smb_ops::{ended, job, many_files, until_ended};
use crate::smb_world::{create_connector, sync};

const FILES: usize = 600;
/// The files and the 20 folders `many_files` spreads them over.
const ITEMS: u64 = FILES as u64 + 20;

/// Starts a sync and returns its job id.
async fn start(app: &TestAppliance, connector: &str) -> String {
    let started = app.admin(Method::POST, &format!("/api/v1/smb-connectors/{connector}/sync")).send().await.unwrap();
    expect_json(started, 202).await["job_id"].as_str().unwrap().to_owned()
}

/// Waits until the running job has saved progress (live counters), and returns it.
async fn progressed(app: &TestAppliance, connector: &str, id: &str) -> Value {
    wait_until("the running job to show progress", || async {
        let job = job(app, connector, id).await;
        (job["status"] == "running" && job["files_synced"].as_u64()? > 0).then_some(job)
    })
    .await
}

/// Every tracked path of the connector (all pages of `file-states`).
async fn tracked(app: &TestAppliance, connector: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = app
            .admin(Method::GET, &format!("/api/v1/smb-connectors/{connector}/file-states"))
            .query(&[("limit", "1000")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = expect_json(request.send().await.unwrap(), 200).await;
        all.extend(page["file_states"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

#[tokio::test]
async fn pause_then_resume_in_a_large_run_continues_the_same_job_with_nothing_twice() {
    let samba = Samba::start();
    let files = many_files(&samba, FILES);
    let app = TestAppliance::start().await;
    let share = app.share("Paused").await;
    let connector = create_connector(&app, &samba, &share, json!({})).await;
    let id = start(&app, &connector).await;
    let live = progressed(&app, &connector, &id).await;
    assert!(live["files_scanned"].as_u64().unwrap() >= FILES as u64, "the listing is counted: {live}");

    let paused = app.admin(Method::POST, &format!("/api/v1/smb-connectors/{connector}/pause")).send().await;
    expect_json(paused.unwrap(), 200).await;
    let stopped = wait_until("the job to pause", || async {
        let job = job(&app, &connector, &id).await;
        (job["status"] == "paused").then_some(job)
    })
    .await;
    let done_before = stopped["files_synced"].as_u64().unwrap();
    assert!(done_before > 0 && done_before < ITEMS, "paused in the middle: {stopped}");
    let status = expect_json(
        app.admin(Method::GET, &format!("/api/v1/smb-connectors/{connector}/status")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!((status["run"]["state"].as_str(), status["run"]["job_id"].as_str()), (Some("paused"), Some(&*id)));
    assert_eq!(status["current_job"]["files_synced"], done_before, "{status}");

    let resumed = app.admin(Method::POST, &format!("/api/v1/smb-connectors/{connector}/resume")).send().await;
    expect_json(resumed.unwrap(), 200).await;
    let finished = ended(&app, &connector, &id).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["files_synced"].as_u64(), Some(ITEMS), "every item once over both parts: {finished}");
    let jobs = expect_json(
        app.admin(Method::GET, &format!("/api/v1/smb-connectors/{connector}/jobs")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "resume continued the same job: {jobs}");
    let seqs: Vec<u64> = finished["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] + 1 == w[1]), "one log, numbered on after the pause");
    assert_eq!(tracked(&app, &connector).await.len() as u64, ITEMS);
    for (rel, content) in files.iter().step_by(97) {
        assert_eq!(&app.download(&share, &format!("/From SMB/{rel}")).await, content, "{rel}");
    }
    assert_eq!(sync(&app, &connector).await["files_synced"], 0, "nothing left to do");
}

#[tokio::test]
async fn smbd_stopped_in_the_middle_fails_the_job_cleanly_and_the_next_run_completes() {
    let mut samba = Samba::start();
    let files = many_files(&samba, FILES);
    let app = TestAppliance::start().await;
    let share = app.share("Outage").await;
    let connector = create_connector(&app, &samba, &share, json!({})).await;
    let id = start(&app, &connector).await;
    progressed(&app, &connector, &id).await;
    samba.stop();
    let failed = ended(&app, &connector, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "CONNECTOR_UNREACHABLE", "{failed}");

    samba.restart();
    let next = start(&app, &connector).await;
    let next = ended(&app, &connector, &next).await;
    assert_eq!(next["status"], "completed", "{next}");
    assert_eq!(tracked(&app, &connector).await.len() as u64, ITEMS);
    for (rel, content) in files.iter().step_by(101) {
        assert_eq!(&app.download(&share, &format!("/From SMB/{rel}")).await, content, "{rel}");
    }
}

/// The served binary, as an HTTP client sees it.
struct Remote {
    client: Client,
    base: String,
    token: String,
}

impl Remote {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn job(&self, connector: &str, id: &str) -> Value {
        let path = format!("/api/v1/smb-connectors/{connector}/jobs/{id}");
        expect_json(self.call(Method::GET, &path, None).await, 200).await
    }

    async fn sync(&self, connector: &str) -> String {
        let started = self.call(Method::POST, &format!("/api/v1/smb-connectors/{connector}/sync"), None).await;
        expect_json(started, 202).await["job_id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn the_appliance_killed_mid_sync_marks_the_job_at_restart_and_the_next_run_converges() {
    let samba = Samba::start();
    let files = many_files(&samba, FILES);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = init(&data);
    let mut served = Served::start(&data, &[]).await;
    let mut remote = Remote { client: Client::new(), base: served.base_url.clone(), token };
    let share = remote.call(Method::POST, "/api/v1/shares", Some(json!({"name": "Killed"}))).await;
    let share = expect_json(share, 201).await["id"].as_str().unwrap().to_owned();
    let body = json!({
        "name": "Samba", "server": format!("smb://127.0.0.1:{}/data", samba.port),
        "username": samba.user().name, "password": samba.user().password,
        "target_share_id": share, "target_path": "/From SMB", "sync_direction": "smb_to_scaidrive",
    });
    let connector = expect_json(remote.call(Method::POST, "/api/v1/smb-connectors", Some(body)).await, 201).await;
    let connector = connector["id"].as_str().unwrap().to_owned();
    let id = remote.sync(&connector).await;
    wait_until("the run to make progress", || async {
        let job = remote.job(&connector, &id).await;
        (job["files_synced"].as_u64()? > 0 && job["status"] == "running").then_some(())
    })
    .await;

    served.child.kill().unwrap();
    served.child.wait().unwrap();
    drop(served);
    let restarted = Served::start(&data, &[]).await;
    remote.base = restarted.base_url.clone();
    let interrupted = remote.job(&connector, &id).await;
    assert_eq!(interrupted["status"], "failed", "{interrupted}");
    assert_eq!(interrupted["error"]["code"], "INTERRUPTED", "{interrupted}");

    let next = remote.sync(&connector).await;
    let converged = until_ended(|| remote.job(&connector, &next)).await;
    assert_eq!(converged["status"], "completed", "{converged}");
    for (rel, content) in files.iter().step_by(53) {
        let response =
            remote.call(Method::GET, &format!("/api/v1/shares/{share}/content?path=/From%20SMB/{rel}"), None).await;
        assert_eq!(response.status(), 200, "{rel}");
        assert_eq!(&response.bytes().await.unwrap()[..], &content[..], "{rel}");
    }
    let again = remote.sync(&connector).await;
    let again = until_ended(|| remote.job(&connector, &again)).await;
    assert_eq!(again["files_synced"], 0, "the tree converged: {again}");
}
