//! Direction modes, renames and deletes over real Samba through the API: what crosses in each mode, what a
//! change on the wrong side of a one-way mode becomes, renames arriving as moves (same entry, versions kept),
//! and deletes on either side that a user can undo.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestAppliance, expect_json};
use crate::samba::Samba;
use crate::smb_world::{
    TARGET, create_connector, drive_entry, events_with_code, on_drive, on_smb, restore_from_trash, sync_clean,
    versions, write,
};

async fn setup(direction: &str, files: &[(&str, &[u8])]) -> (Samba, TestAppliance, String, String) {
    let samba = Samba::start();
    for (rel, content) in files {
        write(&samba, rel, content);
    }
    samba.hand_over();
    let app = TestAppliance::start().await;
    let share = app.share("Directions").await;
    let connector = create_connector(&app, &samba, &share, json!({"sync_direction": direction})).await;
    sync_clean(&app, &connector).await;
    (samba, app, share, connector)
}

async fn drive_delete(app: &TestAppliance, share: &str, rel: &str) {
    let path = format!("{TARGET}/{rel}");
    let deleted = app.admin(Method::DELETE, &format!("/api/v1/shares/{share}/entries")).query(&[("path", &path)]);
    let status = deleted.send().await.unwrap().status().as_u16();
    assert!(status == 200 || status == 204, "delete {path}: {status}");
}

async fn drive_move(app: &TestAppliance, share: &str, from: &str, to: &str) {
    let body = json!({"from": format!("{TARGET}/{from}"), "to": format!("{TARGET}/{to}")});
    let moved = app.admin(Method::POST, &format!("/api/v1/shares/{share}/move")).json(&body).send().await.unwrap();
    expect_json(moved, 200).await;
}

#[tokio::test]
async fn bidirectional_carries_new_files_and_edits_both_ways() {
    let (samba, app, share, connector) = setup("bidirectional", &[("a.txt", b"a from smb"), ("b.txt", b"b")]).await;
    write(&samba, "docs/new on smb.txt", b"made on the file server");
    write(&samba, "a.txt", b"a edited on the file server");
    app.upload(&share, "/From SMB/new in scaidrive.txt", b"made in ScaiDrive").await;
    app.upload(&share, "/From SMB/b.txt", b"b edited in ScaiDrive").await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "docs/new on smb.txt").await.as_deref(), Some(&b"made on the file server"[..]));
    assert_eq!(on_drive(&app, &share, "a.txt").await.as_deref(), Some(&b"a edited on the file server"[..]));
    assert_eq!(on_smb(&samba, "new in scaidrive.txt").as_deref(), Some(&b"made in ScaiDrive"[..]));
    assert_eq!(on_smb(&samba, "b.txt").as_deref(), Some(&b"b edited in ScaiDrive"[..]));
    assert_eq!(sync_clean(&app, &connector).await["files_synced"], 0, "converged");
}

#[tokio::test]
async fn smb_to_scaidrive_overwrites_a_scaidrive_edit_keeps_it_as_a_version_and_leaves_smb_alone() {
    let (samba, app, share, connector) = setup("smb_to_scaidrive", &[("a.txt", b"the record"), ("b.txt", b"b")]).await;
    app.upload(&share, "/From SMB/a.txt", b"edited in ScaiDrive").await;
    drive_delete(&app, &share, "b.txt").await;
    app.upload(&share, "/From SMB/only here.txt", b"never on SMB").await;
    let job = sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "a.txt").await.as_deref(), Some(&b"the record"[..]), "SMB is authoritative");
    assert!(versions(&app, &share, "a.txt").await.contains(&b"edited in ScaiDrive".to_vec()), "the edit is kept");
    assert_eq!(on_drive(&app, &share, "b.txt").await.as_deref(), Some(&b"b"[..]), "a deleted mirror file comes back");
    assert_eq!(on_smb(&samba, "a.txt").as_deref(), Some(&b"the record"[..]));
    assert_eq!(on_smb(&samba, "only here.txt"), None, "nothing goes to SMB");
    assert_eq!(on_drive(&app, &share, "only here.txt").await.as_deref(), Some(&b"never on SMB"[..]), "left alone");
    assert_eq!(events_with_code(&job, "UNTRACKED"), vec!["only here.txt"], "{job}");
}

#[tokio::test]
async fn scaidrive_to_smb_overwrites_an_smb_edit_after_saving_it_as_a_version() {
    let (samba, app, share, connector) = setup("smb_to_scaidrive", &[("a.txt", b"seed"), ("b.txt", b"b")]).await;
    // Seeded from SMB, then ScaiDrive becomes the system of record.
    let patch = app.admin(Method::PATCH, &format!("/api/v1/smb-connectors/{connector}"));
    expect_json(patch.json(&json!({"sync_direction": "scaidrive_to_smb"})).send().await.unwrap(), 200).await;
    app.upload(&share, "/From SMB/a.txt", b"the record, from ScaiDrive").await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_smb(&samba, "a.txt").as_deref(), Some(&b"the record, from ScaiDrive"[..]));

    write(&samba, "a.txt", b"edited on the file server");
    std::fs::remove_file(samba.share_dir().join("b.txt")).unwrap();
    write(&samba, "only on smb.txt", b"never in ScaiDrive");
    let job = sync_clean(&app, &connector).await;
    assert_eq!(on_smb(&samba, "a.txt").as_deref(), Some(&b"the record, from ScaiDrive"[..]), "ScaiDrive wins");
    assert!(versions(&app, &share, "a.txt").await.contains(&b"edited on the file server".to_vec()), "SMB edit kept");
    assert_eq!(on_smb(&samba, "b.txt").as_deref(), Some(&b"b"[..]), "a deleted mirror file comes back");
    assert_eq!(on_smb(&samba, "only on smb.txt").as_deref(), Some(&b"never in ScaiDrive"[..]), "left alone: {job}");
    assert_eq!(on_drive(&app, &share, "only on smb.txt").await, None);
    assert_eq!(events_with_code(&job, "UNTRACKED"), vec!["only on smb.txt"], "{job}");
}

#[tokio::test]
async fn a_rename_on_smb_is_a_move_in_scaidrive_that_keeps_the_entry_and_its_versions() {
    let (samba, app, share, connector) = setup("bidirectional", &[("drafts/plan.txt", b"plan v1")]).await;
    write(&samba, "drafts/plan.txt", b"plan v2, longer");
    sync_clean(&app, &connector).await;
    let before = drive_entry(&app, &share, "drafts/plan.txt").await.expect("synced");
    std::fs::create_dir_all(samba.share_dir().join("final")).unwrap();
    std::fs::rename(samba.share_dir().join("drafts/plan.txt"), samba.share_dir().join("final/plan 2026.txt")).unwrap();
    let job = sync_clean(&app, &connector).await;
    let after = drive_entry(&app, &share, "final/plan 2026.txt").await.expect("moved");
    assert_eq!(after["id"], before["id"], "the same entry: {job}");
    assert_eq!(drive_entry(&app, &share, "drafts/plan.txt").await, None);
    let kept = versions(&app, &share, "final/plan 2026.txt").await;
    assert!(kept.contains(&b"plan v1".to_vec()) && kept.contains(&b"plan v2, longer".to_vec()), "versions kept");
    assert_eq!(job["bytes_transferred"], 0, "nothing sent again: {job}");
}

#[tokio::test]
async fn a_move_in_scaidrive_is_a_rename_on_smb() {
    let (samba, app, share, connector) = setup("bidirectional", &[("in/a.txt", b"moving content")]).await;
    let inode =
        |rel: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(samba.share_dir().join(rel)).unwrap());
    let before = inode("in/a.txt");
    drive_move(&app, &share, "in/a.txt", "out/renamed.txt").await;
    let job = sync_clean(&app, &connector).await;
    assert_eq!(on_smb(&samba, "out/renamed.txt").as_deref(), Some(&b"moving content"[..]), "{job}");
    assert_eq!(on_smb(&samba, "in/a.txt"), None);
    assert_eq!(inode("out/renamed.txt"), before, "renamed on the server, not copied");
    assert_eq!(job["bytes_transferred"], 0, "{job}");
}

#[tokio::test]
async fn a_delete_on_either_side_can_be_undone_from_the_scaidrive_trash() {
    let files: &[(&str, &[u8])] = &[
        ("gone on smb.txt", b"deleted on the server"),
        ("gone in drive.txt", b"deleted in ScaiDrive"),
        ("stays.txt", b"x"),
        ("stays2.txt", b"y"),
    ];
    let (samba, app, share, connector) = setup("bidirectional", files).await;
    std::fs::remove_file(samba.share_dir().join("gone on smb.txt")).unwrap();
    drive_delete(&app, &share, "gone in drive.txt").await;
    let job = sync_clean(&app, &connector).await;
    assert_eq!((job["deleted_on_drive"].as_u64(), job["deleted_on_source"].as_u64()), (Some(1), Some(1)), "{job}");
    assert_eq!(on_drive(&app, &share, "gone on smb.txt").await, None);
    assert_eq!(on_smb(&samba, "gone in drive.txt"), None);
    assert_eq!(restore_from_trash(&app, &share, "gone on smb.txt").await, b"deleted on the server");
    assert_eq!(restore_from_trash(&app, &share, "gone in drive.txt").await, b"deleted in ScaiDrive");
    // Restored in ScaiDrive: the next run brings both back to SMB.
    sync_clean(&app, &connector).await;
    assert_eq!(on_smb(&samba, "gone on smb.txt").as_deref(), Some(&b"deleted on the server"[..]));
    assert_eq!(on_smb(&samba, "gone in drive.txt").as_deref(), Some(&b"deleted in ScaiDrive"[..]));
}

#[tokio::test]
async fn a_file_deleted_on_smb_and_a_new_one_made_are_not_taken_for_a_rename() {
    let (samba, app, share, connector) =
        setup("bidirectional", &[("old.txt", b"old content"), ("keep1.txt", b"1"), ("keep2.txt", b"2")]).await;
    let inode =
        |rel: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(samba.share_dir().join(rel)).unwrap());
    let old_inode = inode("old.txt");
    std::fs::remove_file(samba.share_dir().join("old.txt")).unwrap();
    // ext4 hands the freed inode number to the next new file: the SMB file id alone would call this a rename.
    write(&samba, "new.txt", b"new content");
    let reused = inode("new.txt") == old_inode;
    let job = sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "new.txt").await.as_deref(), Some(&b"new content"[..]), "{job}");
    assert_eq!(on_drive(&app, &share, "old.txt").await, None);
    assert_eq!(restore_from_trash(&app, &share, "old.txt").await, b"old content", "inode reused: {reused}; {job}");
}
