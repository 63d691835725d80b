//! Behaviour of the drive as its users (the HTTP layer, the sync engine) see it.

use std::io::{self, Read};
use std::sync::{Arc, Barrier};

use redb::Database;
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::ids::GroupId;

struct Fixture {
    _dir: tempfile::TempDir,
    content_dir: std::path::PathBuf,
    db: Arc<Database>,
    clock: Arc<ManualClock>,
    drive: Drive,
    share: ShareId,
    user: UserId,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::create(dir.path().join("store.redb")).unwrap());
    let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
    let content_dir = dir.path().join("content");
    let drive = Drive::open(db.clone(), &content_dir, clock.clone()).unwrap();
    let user = UserId::new();
    let share = drive.create_share("Team", None, None, Some(user)).unwrap().id;
    Fixture { _dir: dir, content_dir, db, clock, drive, share, user }
}

fn p(s: &str) -> DrivePath {
    DrivePath::parse(s).unwrap()
}

impl Fixture {
    fn me(&self) -> Origin {
        Origin::user(self.user)
    }

    fn put(&self, path: &str, bytes: &[u8]) -> DriveResult<Entry> {
        self.drive.write_file(self.share, &p(path), &mut &bytes[..], &WriteOptions::new(self.me()))
    }

    fn put_if(&self, path: &str, bytes: &[u8], pre: Precondition) -> DriveResult<Entry> {
        let opts = WriteOptions { precondition: pre, ..WriteOptions::new(self.me()) };
        self.drive.write_file(self.share, &p(path), &mut &bytes[..], &opts)
    }

    fn get(&self, path: &str) -> Vec<u8> {
        let (_, mut r) = self.drive.read_file(self.share, &EntryRef::Path(p(path))).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        out
    }

    fn version_bytes(&self, v: VersionId) -> Vec<u8> {
        let (_, mut r) = self.drive.read_version(self.share, v).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        out
    }

    fn names(&self, folder: &str) -> Vec<String> {
        let page = self.drive.list_folder(self.share, &p(folder), None, 1000).unwrap();
        page.entries.into_iter().map(|e| e.name).collect()
    }
}

/// A client that sends some bytes, then disconnects.
struct DisconnectsAfter(usize);

impl Read for DisconnectsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "client disconnected"));
        }
        let n = self.0.min(buf.len());
        buf[..n].fill(7);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_written_file_reads_back_and_is_found_by_path_and_by_id() {
    let f = fixture();
    let e = f.put("/docs/report.pdf", b"hello world").unwrap();
    assert_eq!(e.path.as_str(), "/docs/report.pdf");
    assert_eq!(e.size, 11);
    let hash = e.content_hash.map(|h| h.to_string());
    assert_eq!(hash.as_deref(), Some("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));
    assert_eq!(serde_json::to_value(&e).unwrap()["content_hash"], hash.unwrap());
    assert_eq!(f.get("/docs/report.pdf"), b"hello world");
    assert_eq!(f.drive.entry_by_id(f.share, e.id).unwrap().path, p("/docs/report.pdf"));
    let folder = f.drive.entry_by_path(f.share, &p("/docs")).unwrap();
    assert!(folder.is_folder());
    let share = f.drive.share(f.share).unwrap();
    assert_eq!((share.used_bytes, share.file_count), (11, 1));
}

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
fn conditional_writes_refuse_on_a_stale_etag_or_an_existing_file() {
    let f = fixture();
    assert_eq!(f.put_if("/a", b"x", Precondition::IfMatch("nope".into())).unwrap_err().code(), "PRECONDITION_FAILED");
    let e = f.put_if("/a", b"x", Precondition::MustNotExist).unwrap();
    assert_eq!(f.put_if("/a", b"y", Precondition::MustNotExist).unwrap_err().code(), "PRECONDITION_FAILED");
    let quoted = format!("\"{}\"", e.etag);
    let e2 = f.put_if("/a", b"y", Precondition::IfMatch(quoted.clone())).unwrap();
    assert_eq!(f.put_if("/a", b"z", Precondition::IfMatch(quoted)).unwrap_err().code(), "PRECONDITION_FAILED");
    assert_eq!(f.get("/a"), b"y");
    assert_eq!(e2.version_count, 2);
    let del = f.drive.delete_entry(f.share, &EntryRef::Path(p("/a")), &Precondition::IfMatch(e.etag), &f.me());
    assert_eq!(del.unwrap_err().code(), "PRECONDITION_FAILED");
}

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
fn an_upload_over_quota_is_refused_and_writes_nothing() {
    let f = fixture();
    let share = f.drive.create_share("Small", Some(10), None, Some(f.user)).unwrap().id;
    let opts = WriteOptions::new(f.me());
    f.drive.write_file(share, &p("/a"), &mut &[0u8; 6][..], &opts).unwrap();
    let blobs_before = f.drive.stored_blob_count().unwrap();
    let err = f.drive.write_file(share, &p("/b"), &mut &[1u8; 5][..], &opts).unwrap_err();
    assert_eq!(err.code(), "QUOTA_EXCEEDED");
    let announced = WriteOptions { expected_size: Some(100), ..WriteOptions::new(f.me()) };
    let err = f.drive.write_file(share, &p("/c"), &mut &[1u8; 100][..], &announced).unwrap_err();
    assert_eq!(err.code(), "QUOTA_EXCEEDED");
    assert_eq!(f.drive.entry_by_path(share, &p("/b")).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(f.drive.stored_blob_count().unwrap(), blobs_before);
    assert_eq!(f.drive.pending_temp_files().unwrap(), 0);
    assert_eq!(f.drive.share(share).unwrap().used_bytes, 6);
    // Overwriting within the quota is fine: the old size is given back.
    f.drive.write_file(share, &p("/a"), &mut &[2u8; 10][..], &opts).unwrap();
}

#[test]
fn an_upload_whose_client_disconnects_halfway_commits_nothing() {
    let f = fixture();
    f.put("/f", b"original").unwrap();
    let opts = WriteOptions::new(f.me());
    let err = f.drive.write_file(f.share, &p("/f"), &mut DisconnectsAfter(700_000), &opts).unwrap_err();
    assert_eq!(err.code(), "INTERNAL");
    assert_eq!(f.get("/f"), b"original");
    assert_eq!(f.drive.versions(f.share, &EntryRef::Path(p("/f"))).unwrap().len(), 1);
    let err = f.drive.write_file(f.share, &p("/new"), &mut DisconnectsAfter(10), &opts).unwrap_err();
    assert_eq!(err.code(), "INTERNAL");
    assert!(f.drive.entry_by_path(f.share, &p("/new")).is_err());
    assert_eq!(f.drive.pending_temp_files().unwrap(), 0);
    assert_eq!(f.drive.stored_blob_count().unwrap(), 1);
}

#[test]
fn two_concurrent_uploads_to_one_path_leave_one_current_and_the_other_as_a_version() {
    let f = fixture();
    let a = vec![b'a'; 3_000_000];
    let b = vec![b'b'; 3_000_000];
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|bytes| {
            let (drive, share, barrier, origin) = (f.drive.clone(), f.share, barrier.clone(), f.me());
            std::thread::spawn(move || {
                barrier.wait();
                drive.write_file(share, &p("/race.bin"), &mut bytes.as_slice(), &WriteOptions::new(origin))
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/race.bin"))).unwrap();
    assert_eq!(versions.len(), 2);
    let current = f.get("/race.bin");
    let older = f.version_bytes(versions[1].id);
    assert!((current == a && older == b) || (current == b && older == a), "one wins, the other is kept whole");
    assert_eq!(f.drive.share(f.share).unwrap().file_count, 1);
}

#[test]
fn after_a_crash_mid_upload_no_partial_file_is_visible_and_the_sweep_removes_the_orphan() {
    let f = fixture();
    f.put("/kept", b"safe").unwrap();
    // What SIGKILL during an upload leaves: a half-written temp file and no entry.
    std::fs::write(f.content_dir.join("tmp").join("01JCRASHED000000000000000.part"), vec![9u8; 4096]).unwrap();
    assert_eq!(f.drive.pending_temp_files().unwrap(), 1);
    let Fixture { _dir, content_dir, db, clock, drive, share, .. } = f;
    drop(drive);
    let reopened = Drive::open(db, &content_dir, clock).unwrap();
    assert_eq!(reopened.pending_temp_files().unwrap(), 0);
    let names: Vec<_> = reopened.walk(share, &DrivePath::root()).unwrap().map(|e| e.unwrap().name).collect();
    assert_eq!(names, ["kept"]);
}

#[test]
fn names_that_collide_after_nfc_normalisation_are_one_entry() {
    let f = fixture();
    let nfd = f.put("/cafe\u{301}.txt", b"1").unwrap();
    let nfc = f.put("/caf\u{e9}.txt", b"2").unwrap();
    assert_eq!(nfd.id, nfc.id);
    assert_eq!(f.names("/"), ["caf\u{e9}.txt"]);
    let refused = f.put_if("/cafe\u{301}.txt", b"3", Precondition::MustNotExist);
    assert_eq!(refused.unwrap_err().code(), "PRECONDITION_FAILED");
    // Case differs: a different entry.
    f.put("/CAF\u{c9}.txt", b"4").unwrap();
    assert_eq!(f.names("/").len(), 2);
}

#[test]
fn bad_paths_are_refused_before_anything_is_written() {
    for bad in ["/a/../b", "/a/./b", "/a//b", "/a\0b", "/a\u{1}b", "relative"] {
        assert!(DrivePath::parse(bad).is_err(), "{bad:?} should be refused");
    }
    let long = format!("/{}", "n".repeat(256));
    assert_eq!(DrivePath::parse(&long).unwrap_err().code(), "INVALID_NAME");
    let f = fixture();
    let renamed = f.drive.update_share(f.share, ShareUpdate { name: Some("a/b".into()), ..Default::default() });
    assert_eq!(renamed.unwrap_err().code(), "INVALID_NAME");
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
    assert!(file.content_hash.is_some() && !file.etag.is_empty());
    let sub: Vec<_> = f.drive.walk(f.share, &p("/a/b")).unwrap().map(|e| e.unwrap().name).collect();
    assert_eq!(sub, ["c", "d", "e", "zz"]);
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
fn metadata_is_replaced_or_merged_with_null_removing_a_key() {
    let f = fixture();
    f.put("/m", b"").unwrap();
    let at = EntryRef::Path(p("/m"));
    assert!(f.drive.metadata(f.share, &at).unwrap().is_empty());
    let object: Metadata = serde_json::from_str(r#"{"a": 1, "b": "x"}"#).unwrap();
    f.drive.replace_metadata(f.share, &at, object).unwrap();
    let patch: Metadata = serde_json::from_str(r#"{"a": null, "c": [1]}"#).unwrap();
    let merged = f.drive.merge_metadata(f.share, &at, patch).unwrap();
    assert_eq!(serde_json::Value::Object(merged), serde_json::json!({"b": "x", "c": [1]}));
    assert_eq!(f.drive.metadata(f.share, &EntryRef::Path(p("/nope"))).unwrap_err().code(), "NOT_FOUND");
}

struct Groups(Vec<(UserId, GroupId)>);

impl Membership for Groups {
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.0.iter().filter(|(u, _)| *u == user).map(|(_, g)| *g).collect()
    }
}

#[test]
fn effective_access_follows_groups_inheritance_and_deny() {
    let f = fixture();
    let (reader, outsider, group) = (UserId::new(), UserId::new(), GroupId::new());
    let groups = Groups(vec![(reader, group)]);
    let allow = |p, perm| Ace {
        principal_id: p,
        permission: perm,
        kind: AceType::Allow,
        inherited: false,
        source: AceSource::Manual,
    };
    let root = EntryRef::Path(DrivePath::root());
    f.drive
        .set_aces(
            f.share,
            &root,
            &[
                allow(PrincipalId::User(f.user), Permission::Manage),
                allow(PrincipalId::Group(group), Permission::Write),
            ],
            true,
        )
        .unwrap();
    f.put("/open/a.txt", b"a").unwrap();
    f.put("/secret/b.txt", b"b").unwrap();
    let deny = Ace { kind: AceType::Deny, ..allow(PrincipalId::Group(group), Permission::Write) };
    f.drive.set_aces(f.share, &EntryRef::Path(p("/open")), &[deny], true).unwrap();
    f.drive.set_aces(f.share, &EntryRef::Path(p("/secret")), &[], false).unwrap();

    let access = |user, path: &str| {
        f.drive.effective_access(f.share, &p(path), PrincipalId::User(user), &groups).unwrap().permission
    };
    assert_eq!(access(f.user, "/open/a.txt"), Some(Permission::Manage));
    assert_eq!(access(reader, "/"), Some(Permission::Write));
    assert_eq!(access(reader, "/open/a.txt"), Some(Permission::Read));
    assert_eq!(access(reader, "/secret/b.txt"), None);
    assert_eq!(access(f.user, "/secret/b.txt"), None, "inheritance is broken there");
    assert_eq!(access(reader, "/not/yet/here.txt"), Some(Permission::Write));

    let caller = |user| Caller { user, admin: false };
    let upload = f.drive.authorize(f.share, &p("/open/new.txt"), caller(reader), Permission::Write, &groups);
    assert_eq!(upload.unwrap_err().code(), "FORBIDDEN");
    let hidden = f.drive.authorize(f.share, &p("/secret/b.txt"), caller(outsider), Permission::Read, &groups);
    assert_eq!(hidden.unwrap_err().code(), "NOT_FOUND");
    let admin = Caller { user: outsider, admin: true };
    assert!(f.drive.authorize(f.share, &p("/secret/b.txt"), admin, Permission::Manage, &groups).is_ok());

    assert_eq!(f.drive.readable_shares(caller(reader), &groups).unwrap().len(), 1);
    assert!(f.drive.readable_shares(caller(outsider), &groups).unwrap().is_empty());
}

#[test]
fn a_share_creator_gets_manage_and_a_share_in_use_is_not_deleted() {
    let f = fixture();
    let (aces, inherit) = f.drive.aces(f.share, &EntryRef::Path(DrivePath::root())).unwrap();
    assert_eq!(aces.len(), 1);
    assert_eq!(
        (aces[0].principal_id, aces[0].permission, inherit),
        (PrincipalId::User(f.user), Permission::Manage, true)
    );
    let share = f.drive.share(f.share).unwrap();
    assert_eq!((share.retention_days, share.quota_bytes), (30, None));
    f.put("/x", b"data").unwrap();
    let refused = f.drive.delete_share(f.share, &|_| true);
    assert_eq!(refused.unwrap_err().code(), "SHARE_IN_USE");
    assert_eq!(f.get("/x"), b"data");
    f.drive.delete_share(f.share, &|_| false).unwrap();
    assert_eq!(f.drive.share(f.share).unwrap_err().code(), "NOT_FOUND");
    assert!(f.drive.shares().unwrap().is_empty());
    assert_eq!(f.drive.purge().unwrap().blobs_deleted, 1);
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
fn a_connector_write_records_its_origin_and_the_given_modification_time() {
    let f = fixture();
    let cnn = ConnectorId::new();
    let opts = WriteOptions {
        modified_at: Some(datetime!(2020-05-01 12:00 UTC)),
        ..WriteOptions::new(Origin::connector(cnn, "overwritten_by_sync"))
    };
    let e = f.drive.write_file(f.share, &p("/sync.txt"), &mut &b"x"[..], &opts).unwrap();
    assert_eq!(e.modified_at, datetime!(2020-05-01 12:00 UTC));
    assert_eq!(e.origin, Some(cnn));
    assert_eq!(e.owner_id, None);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["type"], "file");
    assert_eq!(json["modified_at"], "2020-05-01T12:00:00Z");
    assert!(json["id"].as_str().unwrap().starts_with("ent_"));
    f.put("/sync.txt", b"y").unwrap();
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/sync.txt"))).unwrap();
    assert_eq!(versions[1].origin, Some(f.me()));
}

#[test]
fn reads_seek_for_ranges() {
    use std::io::{Seek, SeekFrom};
    let f = fixture();
    f.put("/r", b"0123456789").unwrap();
    let (_, mut r) = f.drive.read_file(f.share, &EntryRef::Path(p("/r"))).unwrap();
    assert_eq!(r.size(), 10);
    r.seek(SeekFrom::Start(3)).unwrap();
    let mut buf = [0u8; 4];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"3456");
}

#[test]
fn an_entry_or_version_of_one_share_is_not_found_through_another() {
    let f = fixture();
    let e = f.put("/mine.txt", b"1").unwrap();
    let other = f.drive.create_share("Other", None, None, None).unwrap().id;
    assert_eq!(f.drive.entry_by_id(other, e.id).unwrap_err().code(), "NOT_FOUND");
    let version = e.version_id.unwrap();
    assert_eq!(f.drive.read_version(other, version).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(f.drive.entry_by_id(ShareId::new(), e.id).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(f.drive.list_folder(other, &DrivePath::root(), None, 10).unwrap().entries.len(), 0);
}

#[test]
fn a_blob_published_by_a_write_that_never_committed_is_swept_by_the_purge() {
    let f = fixture();
    f.put("/kept", b"kept").unwrap();
    // What a crash between publishing the content and committing its entry leaves: a complete blob nobody
    // refers to.
    let orphan = f.content_dir.join("blobs").join("ab").join("c".repeat(62));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"never committed").unwrap();
    assert_eq!(f.drive.stored_blob_count().unwrap(), 2);
    assert_eq!(f.drive.purge().unwrap().blobs_deleted, 1);
    assert!(!orphan.exists());
    assert_eq!(f.get("/kept"), b"kept");
}

mod properties {
    use proptest::prelude::*;

    use super::super::{DrivePath, path_order};

    proptest! {
        #[test]
        fn parsing_never_panics_and_a_parsed_path_parses_to_itself(raw in "/?[a-zA-Z\u{e9}\u{301}./ \u{0}-\u{1f}]{0,40}") {
            if let Ok(p) = DrivePath::parse(&raw) {
                prop_assert_eq!(DrivePath::parse(p.as_str()).unwrap(), p.clone());
                prop_assert!(!p.as_str().contains("//"));
                prop_assert!(p.components().all(|c| c != "." && c != ".."));
            }
        }

        #[test]
        fn path_order_puts_every_folder_right_before_its_contents(
            names in proptest::collection::vec("[ab /.-]{1,3}", 1..6)
        ) {
            let paths: Vec<DrivePath> = names.iter().filter_map(|n| DrivePath::parse(&format!("/{n}")).ok()).collect();
            let mut sorted: Vec<&str> = paths.iter().map(DrivePath::as_str).collect();
            sorted.sort_by(|a, b| path_order(a, b));
            for (i, p) in sorted.iter().enumerate() {
                // Everything between a folder and one of its descendants is also inside that folder.
                for later in &sorted[i + 1..] {
                    let inside = later.starts_with(&format!("{p}/"));
                    if !inside {
                        let rest_inside = sorted[i + 1..]
                            .iter()
                            .skip_while(|q| **q != *later)
                            .any(|q| q.starts_with(&format!("{p}/")));
                        prop_assert!(!rest_inside, "{} splits the contents of {}", later, p);
                    }
                }
            }
        }
    }
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
