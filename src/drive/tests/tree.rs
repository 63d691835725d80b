//! The tree: folders, listings, moves, and the engine's subtree walk.

use super::*;
use crate::ids::GroupId;

#[test]
fn a_file_in_the_way_of_a_folder_and_a_folder_in_the_way_of_a_file_are_refused() {
    let f = fixture();
    f.put("/a", b"file").unwrap();
    assert_eq!(f.put("/a/b", b"x").unwrap_err().code(), "NOT_A_FOLDER");
    f.drive.create_folder(f.share, &p("/d/e"), &f.me()).unwrap();
    assert_eq!(f.put("/d/e", b"x").unwrap_err().code(), "NOT_A_FILE");
    assert_eq!(f.drive.create_folder(f.share, &p("/d/e"), &f.me()).unwrap_err().code(), "ALREADY_EXISTS");
    let listing = f.drive.list_folder(f.share, &p("/a"), None, 10);
    assert_eq!(listing.unwrap_err().code(), "NOT_A_FOLDER");
    assert_eq!(f.drive.read_file(f.share, &EntryRef::Path(p("/d"))).unwrap_err().code(), "NOT_A_FILE");
}

#[test]
fn folder_listings_come_in_name_order_page_by_page() {
    let f = fixture();
    for name in ["c", "a", "B", "b", "a b", "e"] {
        f.put(&format!("/dir/{name}"), name.as_bytes()).unwrap();
    }
    f.put("/dir/a/deeper-is-not-listed", b"x").unwrap_err();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f.drive.list_folder(f.share, &p("/dir"), cursor.as_deref(), 4).unwrap();
        assert!(page.entries.len() <= 4);
        seen.extend(page.entries.into_iter().map(|e| e.name));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["B", "a", "a b", "b", "c", "e"]);
    let bad = f.drive.list_folder(f.share, &p("/dir"), Some("!!"), 4);
    assert_eq!(bad.unwrap_err().code(), "VALIDATION_FAILED");
}

#[test]
fn a_move_keeps_id_versions_metadata_and_aces() {
    let f = fixture();
    let e = f.put("/a/doc.txt", b"v1").unwrap();
    f.put("/a/doc.txt", b"v2").unwrap();
    let target = EntryRef::Id(e.id);
    let mut meta = Metadata::new();
    meta.insert("Status".into(), "Draft".into());
    f.drive.replace_metadata(f.share, &target, meta.clone()).unwrap();
    let ace = Ace {
        principal_id: PrincipalId::Group(GroupId::new()),
        permission: Permission::Read,
        kind: AceType::Allow,
        inherited: false,
        source: AceSource::Smb,
    };
    f.drive.set_aces(f.share, &target, std::slice::from_ref(&ace), false).unwrap();

    let moved = f.drive.move_entry(f.share, &EntryRef::Path(p("/a")), &p("/b/renamed"), &f.me()).unwrap();
    assert_eq!(moved.path, p("/b/renamed"));
    let e2 = f.drive.entry_by_id(f.share, e.id).unwrap();
    assert_eq!(e2.path, p("/b/renamed/doc.txt"));
    assert_eq!(e2.version_count, 2);
    assert!(!e2.inherit);
    assert_eq!(f.drive.metadata(f.share, &target).unwrap(), meta);
    assert_eq!(f.drive.aces(f.share, &target).unwrap(), (vec![ace], false));
    assert_eq!(f.drive.versions(f.share, &target).unwrap().len(), 2);
    assert!(f.drive.entry_by_path(f.share, &p("/a")).is_err());

    let by_id = f.drive.move_entry(f.share, &target, &p("/top.txt"), &f.me()).unwrap();
    assert_eq!(by_id.id, e.id);
    assert_eq!(f.get("/top.txt"), b"v2");
}

#[test]
fn moves_into_itself_or_onto_a_taken_name_are_refused() {
    let f = fixture();
    f.put("/a/x", b"1").unwrap();
    f.put("/b", b"2").unwrap();
    let inside = f.drive.move_entry(f.share, &EntryRef::Path(p("/a")), &p("/a/x2/a"), &f.me());
    assert_eq!(inside.unwrap_err().code(), "INVALID_PATH");
    let taken = f.drive.move_entry(f.share, &EntryRef::Path(p("/a/x")), &p("/b"), &f.me());
    assert_eq!(taken.unwrap_err().code(), "ALREADY_EXISTS");
    assert_eq!(f.get("/b"), b"2");
}

#[test]
fn the_engine_walk_lists_a_subtree_in_path_order_from_one_snapshot() {
    let f = fixture();
    let paths = ["/a/b/c", "/a/b c", "/a/b/d/e", "/z", "/a/a", "/a b/x", "/M"];
    for path in paths {
        f.put(path, path.as_bytes()).unwrap();
    }
    let mut walk = f.drive.walk(f.share, &DrivePath::root()).unwrap();
    // A write during the walk is not seen by it: one snapshot.
    let first = walk.next().unwrap().unwrap();
    f.put("/a/b/zz", b"later").unwrap();
    let mut listed = vec![first];
    listed.extend(walk.map(Result::unwrap));
    let got: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
    let mut expected: Vec<&str> = got.clone();
    expected.sort_by(|a, b| path_order(a, b));
    assert_eq!(got, expected);
    assert_eq!(got, ["/M", "/a", "/a/a", "/a/b", "/a/b/c", "/a/b/d", "/a/b/d/e", "/a/b c", "/a b", "/a b/x", "/z"]);
    let file = listed.iter().find(|e| e.path.as_str() == "/z").unwrap();
    assert_eq!(file.size, 2);
    assert!(file.content_hash.is_some() && !file.etag.to_string().is_empty());
    let sub: Vec<_> = f.drive.walk(f.share, &p("/a/b")).unwrap().map(|e| e.unwrap().name).collect();
    assert_eq!(sub, ["c", "d", "e", "zz"]);
}

#[test]
fn a_tree_snapshot_hands_out_children_as_they_were_when_it_was_taken() {
    let f = fixture();
    f.put("/a/x", b"x").unwrap();
    let (snapshot, root) = f.drive.tree_snapshot(f.share, &DrivePath::root()).unwrap();
    f.put("/a/y", b"later").unwrap();
    f.put("/b", b"later").unwrap();
    let top = snapshot.children(&root).unwrap();
    assert_eq!(top.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["/a"]);
    let below = snapshot.children(&top[0]).unwrap();
    assert_eq!(below.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["/a/x"]);
    assert!(matches!(snapshot.children(&below[0]), Err(DriveError::NotAFolder(_))));
}

#[test]
fn a_walk_over_many_entries_pages_through_batches() {
    let f = fixture();
    let files: Vec<(DrivePath, &[u8])> = (0..700).map(|i| (p(&format!("/many/f{i:04}")), &b"x"[..])).collect();
    f.drive.write_files_batch(f.share, &files, &WriteOptions::new(f.me())).unwrap();
    let walked: Vec<_> = f.drive.walk(f.share, &p("/many")).unwrap().map(|e| e.unwrap().path).collect();
    assert_eq!(walked, files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    assert_eq!(f.drive.stored_blob_count().unwrap(), 1);
    assert_eq!(f.drive.share(f.share).unwrap().file_count, 700);
}
