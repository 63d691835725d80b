//! What does not simply cross, over real Samba through the API: hidden and system files and their settings,
//! include and exclude filters, names ScaiDrive holds that SMB cannot (case twins, names Windows refuses),
//! folder symlinks, names in Unicode NFD, and the mass-delete guard with `force`.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestAppliance, expect_json};
use crate::samba::Samba;
use crate::smb_world::{
    create_connector, events_with_code, on_drive, on_smb, restore_from_trash, smb_names, sync, sync_clean, sync_with,
    write,
};

async fn appliance(samba: &Samba, extra: serde_json::Value) -> (TestAppliance, String, String) {
    let app = TestAppliance::start().await;
    let share = app.share("Names").await;
    let connector = create_connector(&app, samba, &share, extra).await;
    (app, share, connector)
}

async fn patch(app: &TestAppliance, connector: &str, body: serde_json::Value) {
    let patched = app.admin(Method::PATCH, &format!("/api/v1/smb-connectors/{connector}")).json(&body);
    expect_json(patched.send().await.unwrap(), 200).await;
}

#[tokio::test]
async fn hidden_and_system_files_stay_out_until_their_setting_lets_them_in() {
    let samba = Samba::start();
    for name in ["plain.txt", "hidden.txt", "system.txt"] {
        write(&samba, name, name.as_bytes());
    }
    samba.hand_over();
    samba.set_mode("hidden.txt", "+h");
    samba.set_mode("system.txt", "+s");
    let (app, share, connector) = appliance(&samba, json!({})).await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "plain.txt").await.as_deref(), Some(&b"plain.txt"[..]));
    assert_eq!(on_drive(&app, &share, "hidden.txt").await, None, "hidden files are skipped by default");
    assert_eq!(on_drive(&app, &share, "system.txt").await, None, "system files are skipped by default");

    patch(&app, &connector, json!({"sync_hidden_files": true})).await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "hidden.txt").await.as_deref(), Some(&b"hidden.txt"[..]));
    assert_eq!(on_drive(&app, &share, "system.txt").await, None);
    patch(&app, &connector, json!({"sync_system_files": true})).await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "system.txt").await.as_deref(), Some(&b"system.txt"[..]));
}

#[tokio::test]
async fn include_and_exclude_filters_choose_what_crosses_and_excluded_folders_are_not_walked() {
    let samba = Samba::start();
    let files = ["report.pdf", "notes.DOCX", "photo.png", "~$report.docx", "tmp/scratch.pdf", "deep/tmp/x.pdf"];
    for name in files {
        write(&samba, name, name.as_bytes());
    }
    write(&samba, "deep/kept.pdf", b"kept");
    let filters = json!({
        "include_patterns": {"extensions": ["pdf", "docx"]},
        "exclude_patterns": {"patterns": ["~$*", "tmp"]},
    });
    let (app, share, connector) = appliance(&samba, filters).await;
    sync_clean(&app, &connector).await;
    for (name, crosses) in [
        ("report.pdf", true),
        ("notes.DOCX", true),
        ("deep/kept.pdf", true),
        ("photo.png", false),
        ("~$report.docx", false),
        ("tmp/scratch.pdf", false),
        ("deep/tmp/x.pdf", false),
    ] {
        assert_eq!(on_drive(&app, &share, name).await.is_some(), crosses, "{name}");
    }
    // Narrowing the filter stops tracking; it never deletes.
    patch(&app, &connector, json!({"include_patterns": {"extensions": ["pdf"]}})).await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "notes.DOCX").await.as_deref(), Some(&b"notes.DOCX"[..]));
    assert_eq!(on_smb(&samba, "notes.DOCX").as_deref(), Some(&b"notes.DOCX"[..]));
}

#[tokio::test]
async fn two_scaidrive_names_differing_in_case_send_one_to_smb_and_report_the_other() {
    let samba = Samba::start();
    write(&samba, "seed.txt", b"seed");
    samba.hand_over();
    let (app, share, connector) = appliance(&samba, json!({"sync_direction": "bidirectional"})).await;
    sync_clean(&app, &connector).await;
    app.upload(&share, "/From SMB/Readme.txt", b"capitalised").await;
    app.upload(&share, "/From SMB/README.txt", b"shouting").await;
    let job = sync_clean(&app, &connector).await;
    let on_share: Vec<String> =
        smb_names(&samba, "").into_iter().filter(|n| n.eq_ignore_ascii_case("readme.txt")).collect();
    assert_eq!(on_share.len(), 1, "{on_share:?}");
    let (sent, held) =
        if on_share[0] == "Readme.txt" { ("Readme.txt", "README.txt") } else { ("README.txt", "Readme.txt") };
    assert_eq!(on_smb(&samba, sent), on_drive(&app, &share, sent).await, "the one sent is that one's content");
    assert_eq!(events_with_code(&job, "CASE_COLLISION"), vec![held], "{job}");
    // Nothing is lost: both stay in ScaiDrive, and the next run says the same again.
    assert_eq!(on_drive(&app, &share, "Readme.txt").await.as_deref(), Some(&b"capitalised"[..]));
    assert_eq!(on_drive(&app, &share, "README.txt").await.as_deref(), Some(&b"shouting"[..]));
    let again = sync_clean(&app, &connector).await;
    assert_eq!(events_with_code(&again, "CASE_COLLISION"), vec![held], "{again}");
}

#[tokio::test]
async fn names_windows_refuses_stay_in_scaidrive_as_invalid_name() {
    let samba = Samba::start();
    write(&samba, "seed.txt", b"seed");
    samba.hand_over();
    let (app, share, connector) = appliance(&samba, json!({"sync_direction": "bidirectional"})).await;
    sync_clean(&app, &connector).await;
    for name in ["a:b.txt", "trailing dot.", "q?.txt", "CON.txt", "fine.txt"] {
        app.upload(&share, &format!("/From SMB/{name}"), name.as_bytes()).await;
    }
    let job = sync_clean(&app, &connector).await;
    let mut refused = events_with_code(&job, "INVALID_NAME");
    refused.sort();
    assert_eq!(refused, ["CON.txt", "a:b.txt", "q?.txt", "trailing dot."], "{job}");
    assert_eq!(on_smb(&samba, "fine.txt").as_deref(), Some(&b"fine.txt"[..]));
    assert_eq!(smb_names(&samba, ""), ["fine.txt", "seed.txt"], "nothing else reached the share");
    assert_eq!(on_drive(&app, &share, "a:b.txt").await.as_deref(), Some(&b"a:b.txt"[..]), "kept in ScaiDrive");
}

/// Samba follows links and shows a folder link as a folder; the SMB side tells it by its `..` resolving to the
/// target's parent. (A link to a sibling folder has the same `..` and cannot be told from SMB alone: left out.)
#[tokio::test]
async fn a_folder_symlink_is_reported_and_not_followed() {
    let samba = Samba::start();
    write(&samba, "projects/real/inside.txt", b"once");
    std::fs::create_dir_all(samba.share_dir().join("shortcuts")).unwrap();
    std::os::unix::fs::symlink("../projects/real", samba.share_dir().join("shortcuts/link")).unwrap();
    let (app, share, connector) = appliance(&samba, json!({})).await;
    let job = sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "projects/real/inside.txt").await.as_deref(), Some(&b"once"[..]));
    assert_eq!(on_drive(&app, &share, "shortcuts/link/inside.txt").await, None, "not followed: {job}");
    assert_eq!(events_with_code(&job, "SYMLINK_SKIPPED"), vec!["shortcuts/link"], "{job}");
    assert_eq!(sync_clean(&app, &connector).await["files_synced"], 0, "and nothing to do after");
}

#[tokio::test]
async fn a_mass_delete_stops_with_safety_abort_and_force_lets_it_through_recoverably() {
    let samba = Samba::start();
    for n in 0..4 {
        write(&samba, &format!("f{n}.txt"), format!("file {n}").as_bytes());
    }
    let (app, share, connector) = appliance(&samba, json!({})).await;
    sync_clean(&app, &connector).await;
    for n in 0..3 {
        std::fs::remove_file(samba.share_dir().join(format!("f{n}.txt"))).unwrap();
    }
    let stopped = sync(&app, &connector).await;
    assert_eq!((stopped["status"].as_str(), stopped["error"]["code"].as_str()), (Some("failed"), Some("SAFETY_ABORT")));
    for n in 0..4 {
        assert!(on_drive(&app, &share, &format!("f{n}.txt")).await.is_some(), "nothing deleted before force");
    }
    let audit = app.admin(Method::GET, "/api/v1/audit-events").query(&[("event_type", "sync.safety_abort")]);
    let audit = expect_json(audit.send().await.unwrap(), 200).await;
    assert_eq!(audit["audit_events"][0]["target"], connector.as_str(), "{audit}");

    let forced = sync_with(&app, &connector, &[("force", "true")]).await;
    assert_eq!((forced["status"].as_str(), forced["deleted_on_drive"].as_u64()), (Some("completed"), Some(3)));
    assert_eq!(on_drive(&app, &share, "f0.txt").await, None);
    assert_eq!(restore_from_trash(&app, &share, "f0.txt").await, b"file 0", "a forced delete is recoverable");
}

#[tokio::test]
async fn names_in_nfd_on_smb_sync_stay_in_step_and_are_never_chased() {
    let samba = Samba::start();
    let (cafe_nfd, resume_nfd) = ("cafe\u{301}.txt", "Re\u{301}sume\u{301}");
    write(&samba, cafe_nfd, b"menu");
    write(&samba, &format!("{resume_nfd}/cv.txt"), b"cv");
    samba.hand_over();
    let (app, share, connector) = appliance(&samba, json!({"sync_direction": "bidirectional"})).await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_drive(&app, &share, "caf\u{e9}.txt").await.as_deref(), Some(&b"menu"[..]), "stored in NFC");
    assert_eq!(on_drive(&app, &share, "R\u{e9}sum\u{e9}/cv.txt").await.as_deref(), Some(&b"cv"[..]));
    let again = sync_clean(&app, &connector).await;
    assert_eq!((again["files_synced"].as_u64(), again["deleted_on_source"].as_u64()), (Some(0), Some(0)), "{again}");

    // Changes made in ScaiDrive, under the NFC spelling, land on the SMB names as they are spelled there.
    app.upload(&share, "/From SMB/caf\u{e9}.txt", b"menu, spring").await;
    app.upload(&share, "/From SMB/R\u{e9}sum\u{e9}/letter.txt", b"letter").await;
    sync_clean(&app, &connector).await;
    assert_eq!(on_smb(&samba, cafe_nfd).as_deref(), Some(&b"menu, spring"[..]));
    assert_eq!(on_smb(&samba, &format!("{resume_nfd}/letter.txt")).as_deref(), Some(&b"letter"[..]));
    assert_eq!(smb_names(&samba, ""), [resume_nfd, cafe_nfd], "no second spelling appeared");
    let settled = sync_clean(&app, &connector).await;
    assert_eq!(settled["files_synced"], 0, "{settled}");
    let trash =
        expect_json(app.admin(Method::GET, &format!("/api/v1/shares/{share}/trash")).send().await.unwrap(), 200);
    assert_eq!(trash.await["trash"], json!([]), "nothing was chased into the trash");
}
