//! SharePoint connector runs through the HTTP API against the Graph emulator: the initial sync, incremental
//! runs by delta (counted in the emulator), renames and moves, deletes both ways and where they can be
//! recovered, the one-way directions, a 410 mid-run, a throttling storm, an expired token, a revoked secret
//! replaced by PATCH, a conflict with another user, and a check-out.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::expect_json;
use crate::connector::Setup;
use crate::fixture::{CLIENT, DRIVE};

fn library(n: usize) -> Vec<Value> {
    let mut files: Vec<Value> =
        (0..n).map(|i| json!({"path": format!("Library/Bulk/file-{i:02}.txt"), "text": format!("bulk {i}")})).collect();
    files.push(json!({"path": "Library/Projects/Q1 report.docx", "text": "q1"}));
    files.push(json!({"path": "Library/top.txt", "text": "top"}));
    files.push(json!({"path": "Elsewhere/not-synced.txt", "text": "outside the base path"}));
    files
}

/// The emulator's request log (oldest first): method, path, query, status, time.
fn request_log(s: &Setup) -> Vec<Value> {
    s.fx.emulator.emulator.lock().request_log.iter().cloned().collect()
}

fn clear_request_log(s: &Setup) {
    s.fx.emulator.emulator.lock().request_log.clear();
}

fn delta_queries(s: &Setup) -> Vec<String> {
    request_log(s)
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/delta")))
        .map(|r| r["query"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn file_state_errors(s: &Setup, connector: &str) -> Vec<(String, String)> {
    let states = s.app.admin(Method::GET, &s.path(connector, "/file-states")).query(&[("status", "error")]);
    let states = expect_json(states.send().await.unwrap(), 200).await;
    states["file_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_owned(), f["last_error"]["code"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_sync_then_incremental_runs_by_delta_make_few_requests() {
    let s = Setup::start(library(30)).await;
    let id = s.connector(json!({})).await;

    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.read("Bulk/file-07.txt").await.as_deref(), Some(&b"bulk 7"[..]));
    assert_eq!(s.read("Projects/Q1 report.docx").await.as_deref(), Some(&b"q1"[..]));
    assert!(s.read("not-synced.txt").await.is_none() && s.read("Elsewhere/not-synced.txt").await.is_none());

    // Nothing changed: the kept delta token answers with no changes, and nothing moves.
    s.fx.emulator.reset_counters();
    clear_request_log(&s);
    let job = s.sync(&id).await;
    assert_eq!((job["status"].as_str(), job["files_synced"].as_u64()), (Some("completed"), Some(0)), "{job}");
    assert_eq!(s.fx.emulator.graph_requests(), 1, "{:?}", s.fx.emulator.counters());
    assert!(delta_queries(&s).iter().all(|q| q.contains("token=")), "the kept token is used");

    // Bob edits one file and adds one: requests follow the changes, not the library.
    s.fx.act("u2", "Library/Bulk/file-03.txt", json!({"action": "upload", "text": "edited by bob"}));
    s.fx.act("u2", "Library/new from bob.txt", json!({"action": "upload", "text": "new"}));
    s.fx.emulator.reset_counters();
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    let requests = s.fx.emulator.graph_requests();
    println!("incremental connector run after 2 changes: {requests} Graph requests {:?}", s.fx.emulator.counters());
    assert!(requests <= 8, "{requests}: {:?}", s.fx.emulator.counters());
    assert_eq!(s.read("Bulk/file-03.txt").await.as_deref(), Some(&b"edited by bob"[..]));
    assert_eq!(s.read("new from bob.txt").await.as_deref(), Some(&b"new"[..]));

    // full_sync=true lists the whole library again instead of following the token.
    clear_request_log(&s);
    let job = s.sync_with(&id, &[("full_sync", "true")]).await;
    assert_eq!((job["status"].as_str(), job["files_synced"].as_u64()), (Some("completed"), Some(0)), "{job}");
    assert!(delta_queries(&s).iter().any(|q| !q.contains("token=")), "{:?}", delta_queries(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_and_a_move_in_sharepoint_arrive_without_downloading_again() {
    let s = Setup::start(library(3)).await;
    let id = s.connector(json!({})).await;
    assert_eq!(s.sync(&id).await["status"], "completed");
    s.fx.act("u2", "Library/Projects/Q1 report.docx", json!({"action": "rename", "new_name": "Q1 final.docx"}));
    s.fx.act("u2", "Library/Bulk/file-01.txt", json!({"action": "move", "to_folder": "Library/Projects"}));
    s.fx.emulator.reset_counters();
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.read("Projects/Q1 final.docx").await.as_deref(), Some(&b"q1"[..]));
    assert!(s.read("Projects/Q1 report.docx").await.is_none());
    assert_eq!(s.read("Projects/file-01.txt").await.as_deref(), Some(&b"bulk 1"[..]));
    assert!(s.read("Bulk/file-01.txt").await.is_none());
    assert_eq!(s.fx.count("/_download"), 0, "a move is not a download: {:?}", s.fx.emulator.counters());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_go_both_ways_and_each_side_can_recover_them() {
    let s = Setup::start(library(3)).await;
    let id = s.connector(json!({"sync_direction": "bidirectional", "conflict_resolution": "LAST_WRITER_WINS"})).await;
    assert_eq!(s.sync(&id).await["status"], "completed");

    // Deleted in SharePoint: gone from the share, kept in its trash.
    s.fx.act("u2", "Library/Bulk/file-00.txt", json!({"action": "delete"}));
    // Deleted in ScaiDrive: gone from SharePoint, kept in its recycle bin.
    let deleted = s
        .app
        .admin(Method::DELETE, &format!("/api/v1/shares/{}/entries", s.share))
        .query(&[("path", "/From SharePoint/Bulk/file-02.txt")])
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert!(s.read("Bulk/file-00.txt").await.is_none());
    let trash = s.app.admin(Method::GET, &format!("/api/v1/shares/{}/trash", s.share)).send().await.unwrap();
    let trash = expect_json(trash, 200).await.to_string();
    assert!(trash.contains("file-00.txt"), "{trash}");
    assert!(s.library_file("Library/Bulk/file-02.txt").await.is_none());
    let recycled = {
        let world = s.fx.emulator.emulator.lock();
        let drive = world.drives.get(DRIVE).expect("drive");
        drive.recycle_bin.iter().filter_map(|id| drive.items.get(id)).map(|i| i.name.clone()).collect::<Vec<_>>()
    };
    assert!(recycled.contains(&"file-02.txt".to_owned()), "{recycled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_directions_carry_changes_one_way_only() {
    let s = Setup::start(library(1)).await;
    let down = s.connector(json!({})).await;
    assert_eq!(s.sync(&down).await["status"], "completed");
    // Into ScaiDrive only: a file added in ScaiDrive stays there.
    s.app.upload(&s.share, "/From SharePoint/local only.txt", b"stays here").await;
    assert_eq!(s.sync(&down).await["status"], "completed");
    assert!(s.library_file("Library/local only.txt").await.is_none());

    // Out to SharePoint only (another folder of the share): ScaiDrive's files go up, SharePoint's stay put.
    let up = s
        .connector(json!({"name": "Up", "sync_direction": "scaidrive_to_sharepoint", "base_path": "Uploads",
                          "target_path": "/To SharePoint"}))
        .await;
    s.app.upload(&s.share, "/To SharePoint/report.txt", b"from scaidrive").await;
    s.fx.act("u2", "Uploads/from bob.txt", json!({"action": "upload", "text": "bob's"}));
    let job = s.sync(&up).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.library_file("Uploads/report.txt").await.as_deref(), Some(&b"from scaidrive"[..]));
    let bobs = s
        .app
        .admin(Method::GET, &format!("/api/v1/shares/{}/content", s.share))
        .query(&[("path", "/To SharePoint/from bob.txt")])
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), 404, "SharePoint's file does not come down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_delta_token_mid_run_resyncs_and_the_run_completes() {
    let s = Setup::start(library(5)).await;
    let id = s.connector(json!({})).await;
    assert_eq!(s.sync(&id).await["status"], "completed");
    s.fx.act("u2", "Library/Bulk/file-04.txt", json!({"action": "upload", "text": "changed before the 410"}));
    s.fx.knob("invalidate_delta", json!({"drive_id": DRIVE}));
    clear_request_log(&s);
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    let statuses: Vec<u64> = request_log(&s)
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/delta")))
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&410), "{statuses:?}");
    assert_eq!(s.read("Bulk/file-04.txt").await.as_deref(), Some(&b"changed before the 410"[..]));
    assert_eq!(s.read("Bulk/file-00.txt").await.as_deref(), Some(&b"bulk 0"[..]), "nothing lost by the resync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_storm_is_waited_out_as_retry_after_asks() {
    let s = Setup::start(library(30)).await;
    let id = s.connector(json!({})).await;
    // The listing (one request at a time) meets three 429s in a row; later, while files are copied several at
    // a time, one file's request meets a 503. Each throttled request has its own path, so its retry is the next
    // request to that path.
    s.fx.knob("throttle", json!({"count": 3, "status": 429, "retry_after": 1}));
    s.fx.knob("throttle", json!({"count": 1, "status": 503, "retry_after": 3, "path": "file-02.txt"}));
    clear_request_log(&s);
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.read("Bulk/file-02.txt").await.as_deref(), Some(&b"bulk 2"[..]));
    // Every throttled request was sent again no sooner than its Retry-After said, by the emulator's clock.
    let log = request_log(&s);
    let at = |r: &Value| {
        time::OffsetDateTime::parse(r["at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let mut throttled = 0;
    for (i, r) in log.iter().enumerate() {
        if ![429, 503].contains(&r["status"].as_u64().unwrap()) {
            continue;
        }
        throttled += 1;
        let again = log[i + 1..].iter().find(|n| n["path"] == r["path"] && n["method"] == r["method"]);
        let again = again.unwrap_or_else(|| panic!("{} {} was never retried", r["method"], r["path"]));
        assert!(at(again) - at(r) >= time::Duration::seconds(1), "retried too soon: {r} then {again}");
    }
    assert_eq!(throttled, 4, "{log:?}");
    // While the 503's Retry-After ran, the other copies waited too. Each of the three other copy slots may have
    // had one request on its way when the 503 came, and send one more before the client has read the 503 and
    // closed the gate: at most six; the other files' requests (dozens) all came after the pause.
    // (The log is in the order answers went out, so what comes after the 503 was answered after it.)
    let paused = log.iter().position(|r| r["status"] == 503).unwrap();
    let after = &log[paused + 1..];
    let during: Vec<(&str, &str)> = after
        .iter()
        .filter(|r| at(r) - at(&log[paused]) < time::Duration::seconds(3))
        .map(|r| (r["at"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect();
    assert!(during.len() <= 6, "requests went on during the Retry-After of {}: {during:?}", log[paused]);
    assert!(after.len() >= 40, "the other files' requests came after the pause: {}", after.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_that_expires_mid_run_is_renewed_and_the_run_completes() {
    let s = Setup::start(library(3)).await;
    let id = s.connector(json!({})).await;
    // Graph refuses the next call as if the token had expired (GRAPH.md 1.4): the connector signs in again.
    s.fx.knob("unauthorized", json!({"count": 1}));
    s.fx.emulator.reset_counters();
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.fx.count("token"), 2, "one sign-in at the start, one after the 401: {:?}", s.fx.emulator.counters());
    assert_eq!(s.read("top.txt").await.as_deref(), Some(&b"top"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_revoked_secret_fails_the_job_and_a_new_one_by_patch_makes_the_next_run_work() {
    let s = Setup::start(library(2)).await;
    let id = s.connector(json!({})).await;
    for (knob, replacement) in [("expire_secret", "second secret"), ("revoke_secret", "third secret")] {
        s.fx.knob(knob, json!({"client_id": CLIENT}));
        let job = s.sync(&id).await;
        let outcome = (job["status"].as_str(), job["error"]["code"].as_str());
        assert_eq!(outcome, (Some("failed"), Some("CONNECTOR_AUTH_FAILED")), "{knob}: {job}");
        let audited = s.audit_types().await.iter().filter(|t| *t == "connector.auth_failed").count();
        assert!(audited >= 1, "{knob}: connector.auth_failed is in the audit log");

        s.fx.knob("add_secret", json!({"client_id": CLIENT, "value": replacement}));
        let patch = s.app.admin(Method::PATCH, &s.path(&id, "")).json(&json!({"azure_client_secret": replacement}));
        assert_eq!(expect_json(patch.send().await.unwrap(), 200).await["azure_client_secret_set"], true);
        let job = s.sync(&id).await;
        assert_eq!(job["status"], "completed", "{knob}, then a new secret: {job}");
    }
    assert_eq!(s.read("top.txt").await.as_deref(), Some(&b"top"[..]));
    assert_eq!(s.audit_types().await.iter().filter(|t| *t == "connector.auth_failed").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_by_another_sharepoint_user_against_ours_is_an_open_conflict() {
    let s = Setup::start(library(1)).await;
    let id = s.connector(json!({"sync_direction": "bidirectional", "conflict_resolution": "MANUAL"})).await;
    assert_eq!(s.sync(&id).await["status"], "completed");
    s.fx.act("u2", "Library/top.txt", json!({"action": "upload", "text": "bob's version"}));
    s.app.upload(&s.share, "/From SharePoint/top.txt", b"our version").await;
    let job = s.sync(&id).await;
    assert!(["completed", "completed_with_errors"].contains(&job["status"].as_str().unwrap()), "{job}");
    let conflicts = expect_json(s.app.admin(Method::GET, &s.path(&id, "/conflicts")).send().await.unwrap(), 200).await;
    let paths: Vec<&str> =
        conflicts["conflicts"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["top.txt"], "{conflicts}");
    // Neither side's edit was lost while the conflict waits.
    assert_eq!(s.read("top.txt").await.as_deref(), Some(&b"our version"[..]));
    assert_eq!(s.library_file("Library/top.txt").await.as_deref(), Some(&b"bob's version"[..]));

    // The admin keeps ScaiDrive's content: it goes up to SharePoint and the conflict closes.
    let conflict = conflicts["conflicts"][0]["id"].as_str().unwrap();
    let resolve = s
        .app
        .admin(Method::POST, &s.path(&id, &format!("/conflicts/{conflict}/resolve")))
        .json(&json!({"resolution": "keep_drive"}));
    let resolved = expect_json(resolve.send().await.unwrap(), 200).await;
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
    assert_eq!(s.library_file("Library/top.txt").await.as_deref(), Some(&b"our version"[..]));
    let open = expect_json(s.app.admin(Method::GET, &s.path(&id, "/conflicts")).send().await.unwrap(), 200).await;
    assert_eq!(open["conflicts"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_checked_out_in_sharepoint_waits_and_is_written_after_check_in() {
    let s = Setup::start(library(1)).await;
    let id = s.connector(json!({"sync_direction": "bidirectional", "conflict_resolution": "LAST_WRITER_WINS"})).await;
    assert_eq!(s.sync(&id).await["status"], "completed");
    s.fx.act("u2", "Library/top.txt", json!({"action": "checkout"}));
    s.app.upload(&s.share, "/From SharePoint/top.txt", b"edited in scaidrive").await;
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed_with_errors", "{job}");
    let failed: Vec<(&str, &str)> = job["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] == "failed")
        .map(|e| (e["path"].as_str().unwrap(), e["code"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(failed, [("top.txt", "FILE_LOCKED")], "{job}");
    let message = job["events"].as_array().unwrap().iter().find(|e| e["result"] == "failed").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("checked out") && message.contains("check-in"), "{message}");
    assert_eq!(file_state_errors(&s, &id).await, [("top.txt".to_owned(), "FILE_LOCKED".to_owned())]);
    assert_eq!(s.library_file("Library/top.txt").await.as_deref(), Some(&b"top"[..]), "not written while out");

    s.fx.act("u2", "Library/top.txt", json!({"action": "checkin"}));
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.library_file("Library/top.txt").await.as_deref(), Some(&b"edited in scaidrive"[..]));
    assert!(file_state_errors(&s, &id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_connector_refuses_syncs_until_resumed() {
    let s = Setup::start(library(1)).await;
    let id = s.connector(json!({})).await;
    let paused = expect_json(s.app.admin(Method::POST, &s.path(&id, "/pause")).send().await.unwrap(), 200).await;
    assert_eq!(paused["state"], "paused");
    let refused = s.app.admin(Method::POST, &s.path(&id, "/sync")).send().await.unwrap();
    crate::common::expect_error(refused, 409, "CONNECTOR_PAUSED").await;
    let resumed = expect_json(s.app.admin(Method::POST, &s.path(&id, "/resume")).send().await.unwrap(), 200).await;
    assert_eq!(resumed["state"], "idle");
    assert_eq!(s.sync(&id).await["status"], "completed");
    let jobs = expect_json(s.app.admin(Method::GET, &s.path(&id, "/jobs")).send().await.unwrap(), 200).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1);
    let status = expect_json(s.app.admin(Method::GET, &s.path(&id, "/status")).send().await.unwrap(), 200).await;
    assert_eq!(status["run"]["state"], "idle", "{status}");
    assert_eq!(status["connector_id"], id.as_str());
}
