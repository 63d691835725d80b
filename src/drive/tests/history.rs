//! Nothing is lost: versions, trash, the engine's saved versions, and retention.

use super::*;

#[test]
fn an_overwrite_keeps_the_old_content_as_a_version_that_restores_byte_identical() {
    let f = fixture();
    let first = f.put("/a.txt", b"one").unwrap();
    let second = f.put("/a.txt", b"two!").unwrap();
    assert_eq!(first.id, second.id);
    assert_ne!(first.etag, second.etag);
    assert_eq!(second.version_count, 2);
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/a.txt"))).unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[0].is_current);
    assert_eq!(versions[1].id, first.version_id.unwrap());
    assert_eq!(f.version_bytes(versions[1].id), b"one");

    let restored = f.drive.restore_version(f.share, versions[1].id, &f.me()).unwrap();
    assert_eq!(f.get("/a.txt"), b"one");
    assert_eq!(restored.version_count, 3);
    let after = f.drive.versions(f.share, &EntryRef::Path(p("/a.txt"))).unwrap();
    assert_eq!(f.version_bytes(after[1].id), b"two!");
    assert_eq!(f.drive.share(f.share).unwrap().used_bytes, 3);
}

#[test]
fn a_deleted_folder_goes_to_the_trash_with_its_subtree_and_comes_back() {
    let f = fixture();
    let inner = f.put("/p/q/r.txt", b"deep").unwrap();
    f.put("/p/s.txt", b"ss").unwrap();
    let cnn = ConnectorId::new();
    let origin = Origin::connector(cnn, "deleted_on_source");
    let item = f.drive.delete_entry(f.share, &EntryRef::Path(p("/p")), &Precondition::None, &origin).unwrap();
    assert_eq!(item.size, 6);
    assert_eq!(f.drive.entry_by_path(f.share, &p("/p/q/r.txt")).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(f.drive.entry_by_id(f.share, inner.id).unwrap_err().code(), "NOT_FOUND");
    let share = f.drive.share(f.share).unwrap();
    assert_eq!((share.used_bytes, share.file_count), (0, 0));
    let trash = f.drive.trash(f.share).unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].original_path, "/p");
    assert_eq!(trash[0].origin, origin);

    // Something new took the name meanwhile: the restore gets a suffix.
    f.put("/p", b"new file").unwrap();
    let back = f.drive.restore_trash(f.share, item.id, None, &f.me()).unwrap();
    assert_eq!(back.path, p("/p (restored)"));
    assert_eq!(f.get("/p (restored)/q/r.txt"), b"deep");
    assert_eq!(f.drive.entry_by_id(f.share, inner.id).unwrap().path, p("/p (restored)/q/r.txt"));
    assert!(f.drive.trash(f.share).unwrap().is_empty());
    let share = f.drive.share(f.share).unwrap();
    assert_eq!((share.used_bytes, share.file_count), (14, 3));
}

#[test]
fn a_trashed_file_restores_to_another_path_byte_identical() {
    let f = fixture();
    f.put("/x.bin", &[1, 2, 3]).unwrap();
    let item = f.drive.delete_entry(f.share, &EntryRef::Path(p("/x.bin")), &Precondition::None, &f.me()).unwrap();
    assert_eq!(item.deleted_by, Some(f.user));
    f.drive.restore_trash(f.share, item.id, Some(&p("/elsewhere/y.bin")), &f.me()).unwrap();
    assert_eq!(f.get("/elsewhere/y.bin"), [1, 2, 3]);
    let again = f.drive.restore_trash(f.share, item.id, None, &f.me());
    assert_eq!(again.unwrap_err().code(), "NOT_FOUND");
}

#[test]
fn retention_purges_old_versions_and_trash_and_then_their_unshared_content() {
    let f = fixture();
    f.put("/keep", b"shared content").unwrap();
    f.put("/doc", b"old").unwrap();
    f.put("/doc", b"shared content").unwrap();
    f.put("/gone", b"trash me").unwrap();
    f.drive.delete_entry(f.share, &EntryRef::Path(p("/gone")), &Precondition::None, &f.me()).unwrap();
    assert_eq!(f.drive.stored_blob_count().unwrap(), 3);

    f.clock.advance(time::Duration::days(29));
    assert_eq!(f.drive.purge().unwrap(), PurgeReport::default());
    assert_eq!(f.drive.trash(f.share).unwrap().len(), 1);

    f.clock.advance(time::Duration::days(2));
    let report = f.drive.purge().unwrap();
    assert_eq!((report.versions_purged, report.trash_items_purged, report.blobs_deleted), (1, 1, 2));
    assert!(f.drive.trash(f.share).unwrap().is_empty());
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/doc"))).unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].size, 14);
    assert_eq!(f.get("/keep"), b"shared content");
    assert_eq!(f.drive.stored_blob_count().unwrap(), 1);
}

#[test]
fn shorter_retention_on_a_share_purges_sooner() {
    let f = fixture();
    f.drive.update_share(f.share, ShareUpdate { retention_days: Some(1), ..Default::default() }).unwrap();
    f.put("/a", b"1").unwrap();
    f.put("/a", b"2").unwrap();
    f.clock.advance(time::Duration::hours(25));
    assert_eq!(f.drive.purge().unwrap().versions_purged, 1);
    assert_eq!(f.drive.entry_by_path(f.share, &p("/a")).unwrap().version_count, 1);
}

#[test]
fn the_engine_saves_a_source_content_as_a_version_with_its_origin() {
    let f = fixture();
    f.put("/s.docx", b"drive side").unwrap();
    let cnn = ConnectorId::new();
    let origin = Origin::connector(cnn, "source_overwritten");
    let at = EntryRef::Path(p("/s.docx"));
    let v = f.drive.save_version(f.share, &at, &mut &b"source side"[..], None, &origin).unwrap();
    assert_eq!(f.get("/s.docx"), b"drive side");
    let versions = f.drive.versions(f.share, &at).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].id, v.id);
    assert_eq!(versions[1].origin, Some(origin.clone()));
    assert_eq!(f.version_bytes(v.id), b"source side");
    let json = serde_json::to_value(&versions[1]).unwrap();
    assert_eq!(json["origin"], serde_json::json!({"connector_id": cnn.to_string(), "reason": "source_overwritten"}));
}

#[test]
fn a_source_content_saved_for_a_path_the_drive_deleted_lands_in_the_trash() {
    let f = fixture();
    let origin = Origin::connector(ConnectorId::new(), "deleted_on_source");
    let at = EntryRef::Path(p("/gone/on/drive.txt"));
    let saved = f.drive.save_version(f.share, &at, &mut &b"last source copy"[..], None, &origin).unwrap();
    assert!(f.drive.entry_by_path(f.share, &p("/gone/on/drive.txt")).is_err());
    let trash = f.drive.trash(f.share).unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!((trash[0].original_path.as_str(), trash[0].entry_id), ("/gone/on/drive.txt", saved.entry_id));
    f.drive.restore_trash(f.share, trash[0].id, None, &f.me()).unwrap();
    assert_eq!(f.get("/gone/on/drive.txt"), b"last source copy");
    let folder = f.drive.save_version(f.share, &EntryRef::Path(p("/gone")), &mut &b""[..], None, &origin);
    assert_eq!(folder.unwrap_err().code(), "NOT_A_FILE");
}

#[test]
fn the_trash_lists_page_by_page() {
    let f = fixture();
    for i in 0..5 {
        f.put(&format!("/t{i}"), b"x").unwrap();
        f.drive.delete_entry(f.share, &EntryRef::Path(p(&format!("/t{i}"))), &Precondition::None, &f.me()).unwrap();
    }
    let first = f.drive.trash_page(f.share, None, 2).unwrap();
    assert_eq!(first.trash.len(), 2);
    let second = f.drive.trash_page(f.share, first.next_cursor.as_deref(), 2).unwrap();
    let third = f.drive.trash_page(f.share, second.next_cursor.as_deref(), 2).unwrap();
    assert_eq!(third.next_cursor, None);
    let paths: Vec<_> = [first, second, third].into_iter().flat_map(|p| p.trash).map(|i| i.original_path).collect();
    assert_eq!(paths, ["/t0", "/t1", "/t2", "/t3", "/t4"]);
    assert_eq!(f.drive.trash_page(f.share, Some("garbage"), 2).unwrap_err().code(), "VALIDATION_FAILED");
}

#[test]
fn an_imported_history_sits_beneath_the_current_content_and_later_overwrites_land_above_it() {
    let f = fixture();
    let target = EntryRef::Path(p("/report.docx"));
    f.put("/report.docx", b"third").unwrap();
    let origin = Origin::connector(ConnectorId::new(), "imported_from_sharepoint");
    let author = UserId::new();
    // Newest first, each beneath the one before, with the time it was made at the source (before "now").
    let mut above = None;
    for (text, day) in [(&b"second"[..], 2), (&b"first"[..], 1)] {
        let at = datetime!(2025-06-01 00:00 UTC) + time::Duration::days(day);
        let (v, added) =
            f.drive.insert_version_beneath(f.share, &target, above, &mut &text[..], at, Some(author), &origin).unwrap();
        assert!(added);
        above = Some(v.id);
    }
    let versions = f.drive.versions(f.share, &target).unwrap();
    let contents: Vec<Vec<u8>> = versions.iter().map(|v| f.version_bytes(v.id)).collect();
    assert_eq!(contents, [&b"third"[..], b"second", b"first"]);
    assert_eq!(versions[1].author_id, Some(author));
    assert_eq!(versions[1].modified_at, datetime!(2025-06-03 00:00 UTC));
    assert_eq!(versions[2].origin, Some(origin.clone()));
    assert_eq!(f.drive.entry_by_path(f.share, &p("/report.docx")).unwrap().version_count, 3);
    // Past versions never count against the share.
    assert_eq!(f.drive.share(f.share).unwrap().used_bytes, 5);

    // The same history again adds nothing: each content is already directly beneath.
    let at = datetime!(2025-06-03 00:00 UTC);
    let (again, added) =
        f.drive.insert_version_beneath(f.share, &target, None, &mut &b"second"[..], at, None, &origin).unwrap();
    assert!(!added);
    assert_eq!(again.id, versions[1].id);

    // The source's next version arrives as an ordinary overwrite: the history keeps the source's order, and a
    // version missed in between goes beneath the new current content.
    f.put("/report.docx", b"fifth").unwrap();
    f.drive.insert_version_beneath(f.share, &target, None, &mut &b"fourth"[..], at, None, &origin).unwrap();
    let versions = f.drive.versions(f.share, &target).unwrap();
    let contents: Vec<Vec<u8>> = versions.iter().map(|v| f.version_bytes(v.id)).collect();
    assert_eq!(contents, [&b"fifth"[..], b"fourth", b"third", b"second", b"first"]);
}

#[test]
fn importing_a_version_beneath_a_folder_a_missing_file_or_an_unknown_version_is_refused() {
    let f = fixture();
    f.put("/dir/a.txt", b"a").unwrap();
    let origin = f.me();
    let at = datetime!(2025-06-01 00:00 UTC);
    let insert = |path: &str, above| {
        f.drive.insert_version_beneath(f.share, &EntryRef::Path(p(path)), above, &mut &b"x"[..], at, None, &origin)
    };
    assert_eq!(insert("/dir", None).unwrap_err().code(), "NOT_A_FILE");
    assert_eq!(insert("/nope", None).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(insert("/dir/a.txt", Some(VersionId::new())).unwrap_err().code(), "NOT_FOUND");
}
