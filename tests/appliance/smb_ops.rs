//! Operating an SMB connector over real Samba through the HTTP API: the connectivity test, the status page and
//! its totals, Prometheus series per connector, a file locked by another SMB client, and scheduled runs driven by
//! the injected clock (with one that falls during a run recorded as skipped).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_json, wait_until};
use crate::samba::Samba;
use crate::smb_world::{create_connector, sync, write};

async fn get(app: &TestAppliance, path: &str) -> Value {
    expect_json(app.admin(Method::GET, path).send().await.unwrap(), 200).await
}

async fn test_connection(app: &TestAppliance, connector: &str) -> Value {
    let url = format!("/api/v1/smb-connectors/{connector}/test");
    expect_json(app.admin(Method::POST, &url).send().await.unwrap(), 200).await
}

#[tokio::test]
async fn test_reports_success_or_the_reason_and_changes_nothing() {
    let samba = Samba::start();
    write(&samba, "2026/budget.xlsx", b"numbers");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestAppliance::start().await;
    let share = app.share("Probe").await;
    let port = samba.port;
    let cases = [
        (json!({"server": format!("smb://127.0.0.1:{port}/data/2026")}), None),
        (json!({"password": "not-the-password"}), Some("CONNECTOR_AUTH_FAILED")),
        (json!({"server": format!("smb://127.0.0.1:{closed}/data")}), Some("CONNECTOR_UNREACHABLE")),
        (json!({"server": format!("smb://127.0.0.1:{port}/nosuchshare")}), Some("CONNECTOR_SHARE_NOT_FOUND")),
        (json!({"server": format!("smb://127.0.0.1:{port}/data/2027")}), Some("CONNECTOR_BASE_PATH_NOT_FOUND")),
    ];
    for (settings, expected) in cases {
        let connector = create_connector(&app, &samba, &share, settings.clone()).await;
        let answer = test_connection(&app, &connector).await;
        match expected {
            None => {
                assert_eq!(answer["success"], true, "{settings}: {answer}");
                assert_eq!(answer["error"], Value::Null);
                let message = answer["message"].as_str().unwrap();
                assert!(message.contains(r"127.0.0.1\data\2026") && message.contains(&samba.user().name), "{message}");
            }
            Some(code) => {
                assert_eq!(answer["success"], false, "{settings}: {answer}");
                assert_eq!(answer["error"]["code"], code, "{settings}: {answer}");
                assert!(!answer.to_string().contains("not-the-password"));
            }
        }
        let jobs = get(&app, &format!("/api/v1/smb-connectors/{connector}/jobs")).await;
        assert_eq!(jobs["jobs"], json!([]), "a test is not a run");
    }
    let synced = get(&app, &format!("/api/v1/shares/{share}")).await;
    assert_eq!(synced["file_count"], 0, "a test copies nothing: {synced}");
    assert_eq!(std::fs::read(samba.share_dir().join("2026/budget.xlsx")).unwrap(), b"numbers");
}

/// The status of a connector, as an admin's dashboard polls it.
async fn status(app: &TestAppliance, connector: &str) -> Value {
    get(app, &format!("/api/v1/smb-connectors/{connector}/status")).await
}

#[tokio::test]
async fn a_locked_file_is_a_per_file_error_that_the_status_counts_and_the_next_run_clears() {
    let samba = Samba::start();
    write(&samba, "report.docx", b"draft from the file server");
    for name in ["a", "b", "c", "d"] {
        write(&samba, &format!("notes/{name}.txt"), name.as_bytes());
    }
    samba.hand_over();
    let app = TestAppliance::start().await;
    let share = app.share("Locked").await;
    let connector = create_connector(&app, &samba, &share, json!({"sync_direction": "bidirectional"})).await;
    let before = status(&app, &connector).await;
    assert_eq!((before["run"]["state"].as_str(), &before["last_success"]), (Some("idle"), &Value::Null), "{before}");

    let first = sync(&app, &connector).await;
    assert_eq!(first["status"], "completed", "{first}");
    let after_first = status(&app, &connector).await;
    assert_eq!(after_first["last_success"]["job_id"], first["id"], "{after_first}");
    assert_eq!(after_first["last_day"]["files_synced"], first["files_synced"]);
    assert_eq!(after_first["storage"]["used_bytes"], 26 + 4, "{after_first}");

    // ScaiDrive deletes the document while someone has it open on the file server.
    let deleted = app.admin(Method::DELETE, &format!("/api/v1/shares/{share}/entries"));
    let deleted = deleted.query(&[("path", "/From SMB/report.docx")]).send().await.unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let held = samba.hold_open("report.docx");
    let blocked = sync(&app, &connector).await;
    assert_eq!(blocked["status"], "completed_with_errors", "{blocked}");
    let event = blocked["events"].as_array().unwrap().iter().find(|e| e["path"] == "report.docx").cloned();
    assert_eq!(event.as_ref().map(|e| &e["code"]), Some(&json!("FILE_LOCKED")), "{blocked}");
    assert!(samba.share_dir().join("report.docx").exists());
    let pending = status(&app, &connector).await;
    assert_eq!(pending["pending_files"], 1, "{pending}");
    assert_eq!(pending["last_day"]["runs"], 2);
    assert_eq!(pending["last_day"]["file_errors"], 1);
    let errors = get(&app, &format!("/api/v1/smb-connectors/{connector}/file-states?status=error")).await;
    assert_eq!(errors["file_states"][0]["last_error"]["code"], "FILE_LOCKED", "{errors}");

    drop(held);
    let cleared = sync(&app, &connector).await;
    assert_eq!(cleared["status"], "completed", "{cleared}");
    assert!(!samba.share_dir().join("report.docx").exists(), "the delete reached the file server once released");
    let done = status(&app, &connector).await;
    assert_eq!((done["pending_files"].as_u64(), done["last_day"]["runs"].as_u64()), (Some(0), Some(3)), "{done}");
    assert_eq!(done["last_success"]["job_id"], cleared["id"]);

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series = |name: &str, label: &str| {
        let line = metrics.lines().find(|l| l.starts_with(name) && l.contains(&connector) && l.contains(label));
        line.map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
    };
    let runs = "scaidrive_connector_runs_total";
    assert_eq!(series(runs, "status=\"completed\""), Some(2.0), "{metrics}");
    assert_eq!(series(runs, "status=\"completed_with_errors\""), Some(1.0));
    assert_eq!(series("scaidrive_connector_file_errors_total", ""), Some(1.0));
    assert!(series("scaidrive_connector_last_success_timestamp_seconds", "").is_some_and(|t| t > 0.0));
}

/// Many small files, so a run lasts long enough to be watched, paused or interrupted (by count, not by sleeps).
pub(crate) fn many_files(samba: &Samba, count: usize) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| {
            (format!("batch{:02}/file{i:05}.bin", i % 20), format!("content of file {i}\n").repeat(200).into_bytes())
        })
        .collect();
    for (rel, content) in &files {
        write(samba, rel, content);
    }
    files
}

/// Waits for a job to end, for as long as it keeps making progress: only a run that stalls fails the test.
pub(crate) async fn ended(app: &TestAppliance, connector: &str, id: &str) -> Value {
    until_ended(|| job(app, connector, id)).await
}

/// `ended` for any way of reading the job (`fetch`).
pub(crate) async fn until_ended<F, Fut>(fetch: F) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let mut seen = None;
    loop {
        let (now, progress) = wait_until("the job to make progress or end", || async {
            let now = fetch().await;
            let progress = (now["status"].clone(), now["files_synced"].clone(), now["error_count"].clone());
            (seen.as_ref() != Some(&progress)).then_some((now, progress))
        })
        .await;
        if !["queued", "running"].contains(&now["status"].as_str().unwrap_or_default()) {
            return now;
        }
        seen = Some(progress);
    }
}

/// The job as the API shows it now.
pub(crate) async fn job(app: &TestAppliance, connector: &str, job: &str) -> Value {
    get(app, &format!("/api/v1/smb-connectors/{connector}/jobs/{job}")).await
}

#[tokio::test]
async fn a_scheduled_run_comes_from_the_clock_and_one_due_during_a_run_is_skipped() {
    let samba = Samba::start();
    let files = many_files(&samba, 600);
    let app = TestAppliance::start().await;
    let share = app.share("Scheduled").await;
    let connector = create_connector(&app, &samba, &share, json!({"sync_interval_minutes": 5})).await;
    let jobs_url = format!("/api/v1/smb-connectors/{connector}/jobs");

    // Nothing runs until the interval has passed on the appliance's clock.
    app.clock.advance(time::Duration::minutes(6));
    let scheduled = wait_until("a scheduled run", || {
        let request = app.admin(Method::GET, &jobs_url).send();
        async move {
            let jobs: Value = request.await.ok()?.json().await.ok()?;
            jobs["jobs"].as_array()?.first().cloned()
        }
    })
    .await;
    assert_eq!(scheduled["trigger"], "schedule", "{scheduled}");
    let id = scheduled["id"].as_str().unwrap().to_owned();

    // While it runs (its counters already moving), the next slot comes and is recorded as skipped.
    wait_until("the scheduled run to make progress", || {
        let request = app.admin(Method::GET, &format!("{jobs_url}/{id}")).send();
        async move {
            let job: Value = request.await.ok()?.json().await.ok()?;
            (job["status"] == "running" && job["files_synced"].as_u64()? > 0).then_some(())
        }
    })
    .await;
    app.clock.advance(time::Duration::minutes(5));
    let skipped = wait_until("the overlapping slot to be recorded", || {
        let request = app.admin(Method::GET, &jobs_url).send();
        async move {
            let jobs: Value = request.await.ok()?.json().await.ok()?;
            jobs["jobs"].as_array()?.iter().find(|j| j["status"] == "skipped").cloned()
        }
    })
    .await;
    assert_eq!(skipped["skip_reason"], "a run was already in progress", "{skipped}");
    assert_eq!(skipped["trigger"], "schedule");

    let finished = ended(&app, &connector, &id).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["files_synced"].as_u64(), Some(files.len() as u64 + 20), "files and their 20 folders");
    let (rel, content) = &files[477];
    assert_eq!(&app.download(&share, &format!("/From SMB/{rel}")).await, content);
    let summary = status(&app, &connector).await;
    assert_eq!(summary["last_day"]["skipped_runs"], 1, "{summary}");
}

/// The audit log's event types for the connector, oldest first.
async fn audited(app: &TestAppliance, connector: &str) -> Vec<String> {
    let all = get(app, "/api/v1/audit-events?limit=1000").await;
    let events = all["audit_events"].as_array().unwrap().iter().filter(|e| e["target"] == connector);
    events.map(|e| e["event_type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_mass_delete_stops_with_safety_abort_force_passes_it_and_each_step_is_audited() {
    let samba = Samba::start();
    for i in 0..10 {
        write(&samba, &format!("ledger/{i}.csv"), format!("row {i}").as_bytes());
    }
    let app = TestAppliance::start().await;
    let share = app.share("Audited").await;
    let connector = create_connector(&app, &samba, &share, json!({})).await;
    assert_eq!(sync(&app, &connector).await["status"], "completed");
    for i in 0..8 {
        std::fs::remove_file(samba.share_dir().join(format!("ledger/{i}.csv"))).unwrap();
    }
    let aborted = sync(&app, &connector).await;
    assert_eq!((aborted["status"].as_str(), aborted["error"]["code"].as_str()), (Some("failed"), Some("SAFETY_ABORT")));
    assert_eq!(app.download(&share, "/From SMB/ledger/0.csv").await, b"row 0", "nothing was deleted");

    let url = format!("/api/v1/smb-connectors/{connector}/sync");
    let forced = app.admin(Method::POST, &url).query(&[("force", "true")]).send().await.unwrap();
    let forced = expect_json(forced, 202).await["job_id"].as_str().unwrap().to_owned();
    let forced = ended(&app, &connector, &forced).await;
    assert_eq!(forced["status"], "completed", "{forced}");
    assert_eq!(forced["deleted_on_drive"], 8, "{forced}");

    let patched = app.admin(Method::PATCH, &format!("/api/v1/smb-connectors/{connector}"));
    expect_json(patched.json(&json!({"max_bytes_per_second": 1_048_576})).send().await.unwrap(), 200).await;
    let deleted = app.admin(Method::DELETE, &format!("/api/v1/smb-connectors/{connector}")).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        audited(&app, &connector).await,
        ["connector.created", "sync.safety_abort", "connector.updated", "connector.deleted"]
    );
}
