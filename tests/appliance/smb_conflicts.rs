//! Conflicts over real Samba through the API: a file changed on both sides between runs, under every strategy
//! of the spec, and MANUAL conflicts resolved by an admin with each of the three choices. Each test says which
//! content won on both sides and where the loser can be recovered.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_error, expect_json};
use crate::samba::Samba;
use crate::smb_world::{conflicts, create_connector, on_drive, on_smb, resolve, sync, sync_clean, versions, write};

const SMB_EDIT: &[u8] = b"edited on the file server";
const DRIVE_EDIT: &[u8] = b"edited in ScaiDrive, longer text";

struct Diverged {
    samba: Samba,
    app: TestAppliance,
    share: String,
    connector: String,
}

/// `report.txt` synced once, then edited on both sides: on SMB with a modification time an hour ago, in
/// ScaiDrive now (so ScaiDrive is the last writer).
async fn diverged(strategy: &str) -> Diverged {
    let samba = Samba::start();
    write(&samba, "report.txt", b"base");
    let app = TestAppliance::start().await;
    let share = app.share("Conflicts").await;
    let extra = json!({"sync_direction": "bidirectional", "conflict_resolution": strategy});
    let connector = create_connector(&app, &samba, &share, extra).await;
    sync_clean(&app, &connector).await;
    write(&samba, "report.txt", SMB_EDIT);
    let file = std::fs::File::options().write(true).open(samba.share_dir().join("report.txt")).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
    app.upload(&share, "/From SMB/report.txt", DRIVE_EDIT).await;
    Diverged { samba, app, share, connector }
}

impl Diverged {
    async fn smb_and_drive(&self, rel: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (on_smb(&self.samba, rel), on_drive(&self.app, &self.share, rel).await)
    }

    async fn kept(&self, rel: &str) -> Vec<Vec<u8>> {
        versions(&self.app, &self.share, rel).await
    }

    /// The status `file-states` shows for the path.
    async fn file_state(&self, rel: &str) -> String {
        let states = format!("/api/v1/smb-connectors/{}/file-states", self.connector);
        let states = expect_json(self.app.admin(Method::GET, &states).send().await.unwrap(), 200).await;
        let state = states["file_states"].as_array().unwrap().iter().find(|s| s["path"] == rel).cloned();
        state.map(|s| s["status"].as_str().unwrap().to_owned()).unwrap_or_else(|| panic!("{rel}: {states}"))
    }

    /// The one open conflict, after a run under MANUAL.
    async fn open_conflict(&self) -> Value {
        let job = sync(&self.app, &self.connector).await;
        assert_eq!(job["conflicts"], 1, "{job}");
        let open = conflicts(&self.app, &self.connector).await;
        assert_eq!(open.len(), 1, "{open:?}");
        open[0].clone()
    }
}

fn both(content: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (Some(content.to_vec()), Some(content.to_vec()))
}

#[tokio::test]
async fn last_writer_wins_the_newer_scaidrive_edit_wins_and_the_smb_edit_is_a_version() {
    let w = diverged("LAST_WRITER_WINS").await;
    sync_clean(&w.app, &w.connector).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(DRIVE_EDIT));
    assert!(w.kept("report.txt").await.contains(&SMB_EDIT.to_vec()), "the SMB edit is recoverable");
    assert_eq!(sync_clean(&w.app, &w.connector).await["files_synced"], 0, "settled");
}

#[tokio::test]
async fn smb_wins_the_smb_edit_wins_and_the_scaidrive_edit_is_a_version() {
    let w = diverged("SMB_WINS").await;
    sync_clean(&w.app, &w.connector).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(SMB_EDIT));
    assert!(w.kept("report.txt").await.contains(&DRIVE_EDIT.to_vec()), "the ScaiDrive edit is recoverable");
}

#[tokio::test]
async fn scaidrive_wins_the_scaidrive_edit_wins_and_the_smb_edit_is_a_version() {
    let w = diverged("SCAIDRIVE_WINS").await;
    // The SMB edit is older: make it the newer one, so the strategy, not the times, decides.
    let file = std::fs::File::options().write(true).open(w.samba.share_dir().join("report.txt")).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(3600)).unwrap();
    sync_clean(&w.app, &w.connector).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(DRIVE_EDIT));
    assert!(w.kept("report.txt").await.contains(&SMB_EDIT.to_vec()), "the SMB edit is recoverable");
}

#[tokio::test]
async fn keep_both_the_scaidrive_edit_moves_to_a_conflict_name_on_both_sides() {
    let w = diverged("KEEP_BOTH").await;
    sync_clean(&w.app, &w.connector).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(SMB_EDIT));
    assert_eq!(w.smb_and_drive("report (conflict).txt").await, both(DRIVE_EDIT));
    assert_eq!(sync_clean(&w.app, &w.connector).await["files_synced"], 0, "settled");
}

#[tokio::test]
async fn manual_then_keep_source_puts_the_smb_edit_on_both_sides_and_closes_the_conflict() {
    let w = diverged("MANUAL").await;
    let open = w.open_conflict().await;
    assert_eq!(w.smb_and_drive("report.txt").await, (Some(SMB_EDIT.to_vec()), Some(DRIVE_EDIT.to_vec())));
    let id = open["id"].as_str().unwrap();
    let audit = w.app.admin(Method::GET, "/api/v1/audit-events").query(&[("event_type", "sync.conflict_opened")]);
    let audit = expect_json(audit.send().await.unwrap(), 200).await;
    assert_eq!(audit["audit_events"][0]["details"]["conflict_id"], id, "an admin hears of it: {audit}");
    assert_eq!(w.file_state("report.txt").await, "conflict");

    // A body the spec does not know, and an unknown conflict, change nothing.
    expect_error(resolve(&w.app, &w.connector, id, json!({"resolution": "keep_mine"})).await, 422, "VALIDATION_FAILED")
        .await;
    let unknown = "cfl_01JAAAAAAAAAAAAAAAAAAAAAAA";
    expect_error(resolve(&w.app, &w.connector, unknown, json!({"resolution": "keep_source"})).await, 404, "NOT_FOUND")
        .await;

    let resolved =
        expect_json(resolve(&w.app, &w.connector, id, json!({"resolution": "keep_source"})).await, 200).await;
    assert_eq!((resolved["id"].as_str(), resolved["resolution"].as_str()), (Some(id), Some("keep_source")));
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
    assert_eq!(w.smb_and_drive("report.txt").await, both(SMB_EDIT));
    assert!(w.kept("report.txt").await.contains(&DRIVE_EDIT.to_vec()), "the ScaiDrive edit is recoverable");
    assert!(conflicts(&w.app, &w.connector).await.is_empty());

    // Told, not redone; the resolution is a job with its log, and an audit event.
    let again = resolve(&w.app, &w.connector, id, json!({"resolution": "keep_drive"})).await;
    let again = expect_error(again, 409, "CONFLICT_ALREADY_RESOLVED").await;
    assert_eq!(again["details"]["resolution"], "keep_source", "{again}");
    assert_eq!(w.smb_and_drive("report.txt").await, both(SMB_EDIT));
    let job = format!("/api/v1/smb-connectors/{}/jobs/{}", w.connector, resolved["job_id"].as_str().unwrap());
    let job = expect_json(w.app.admin(Method::GET, &job).send().await.unwrap(), 200).await;
    assert_eq!((job["trigger"].as_str(), job["status"].as_str()), (Some("resolution"), Some("completed")));
    let audit = w.app.admin(Method::GET, "/api/v1/audit-events").query(&[("event_type", "sync.conflict_resolved")]);
    let audit = expect_json(audit.send().await.unwrap(), 200).await;
    assert_eq!(audit["audit_events"][0]["details"]["conflict_id"], id, "{audit}");

    assert_eq!(w.file_state("report.txt").await, "in_sync");
    assert_eq!(sync_clean(&w.app, &w.connector).await["files_synced"], 0, "nothing left to do");
}

#[tokio::test]
async fn manual_then_keep_drive_puts_the_scaidrive_edit_on_both_sides_and_keeps_the_smb_edit_as_a_version() {
    let w = diverged("MANUAL").await;
    let id = w.open_conflict().await["id"].as_str().unwrap().to_owned();
    let resolved = resolve(&w.app, &w.connector, &id, json!({"resolution": "keep_drive"})).await;
    expect_json(resolved, 200).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(DRIVE_EDIT));
    assert!(w.kept("report.txt").await.contains(&SMB_EDIT.to_vec()), "the SMB edit is recoverable");
    assert_eq!(sync_clean(&w.app, &w.connector).await["files_synced"], 0);
}

#[tokio::test]
async fn manual_then_keep_both_keeps_the_two_edits_under_two_names_on_both_sides() {
    let w = diverged("MANUAL").await;
    let id = w.open_conflict().await["id"].as_str().unwrap().to_owned();
    expect_json(resolve(&w.app, &w.connector, &id, json!({"resolution": "keep_both"})).await, 200).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(SMB_EDIT));
    assert_eq!(w.smb_and_drive("report (conflict).txt").await, both(DRIVE_EDIT));
    assert_eq!(sync_clean(&w.app, &w.connector).await["files_synced"], 0);
}

#[tokio::test]
async fn a_resolution_after_the_file_changed_again_moves_nothing_and_shows_the_new_state() {
    let w = diverged("MANUAL").await;
    let id = w.open_conflict().await["id"].as_str().unwrap().to_owned();
    write(&w.samba, "report.txt", b"edited once more on the file server");
    let refused = resolve(&w.app, &w.connector, &id, json!({"resolution": "keep_drive"})).await;
    expect_error(refused, 409, "CONFLICT_CHANGED").await;
    let smb_now = b"edited once more on the file server".to_vec();
    assert_eq!(w.smb_and_drive("report.txt").await, (Some(smb_now.clone()), Some(DRIVE_EDIT.to_vec())));
    let open = conflicts(&w.app, &w.connector).await;
    assert_eq!(open[0]["source"]["size"], smb_now.len(), "the record shows the file as it is now: {open:?}");
    // Now the admin has seen it: the choice goes through.
    expect_json(resolve(&w.app, &w.connector, &id, json!({"resolution": "keep_drive"})).await, 200).await;
    assert_eq!(w.smb_and_drive("report.txt").await, both(DRIVE_EDIT));
    assert!(w.kept("report.txt").await.contains(&smb_now));
}
