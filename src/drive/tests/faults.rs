//! Bad input and faults: invalid and colliding names, quota, disconnects, races, crashes.

use std::io::{self, Read};
use std::sync::{Arc, Barrier};

use super::*;

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
            let mut sorted: Vec<String> =
                names.iter().filter_map(|n| DrivePath::parse(&format!("/{n}")).ok()).map(|p| p.to_string()).collect();
            sorted.sort_by(|a, b| path_order(a, b));
            sorted.dedup();
            for (i, folder) in sorted.iter().enumerate() {
                // Whatever lies inside `folder` comes right after it, before anything that does not.
                let prefix = format!("{folder}/");
                let inside: Vec<bool> = sorted[i + 1..].iter().map(|q| q.starts_with(&prefix)).collect();
                let first_outside = inside.iter().position(|x| !x).unwrap_or(inside.len());
                prop_assert!(inside[first_outside..].iter().all(|x| !x), "{:?} splits the contents of {}", sorted, folder);
            }
        }
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
