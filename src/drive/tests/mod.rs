//! Behaviour of the drive as its users (the HTTP layer, the sync engine) see it, one file per concern, sharing
//! the fixture below.

mod access;
mod commit_group;
mod content;
mod faults;
mod history;
mod tree;

use std::io::Read;
use std::sync::Arc;

use redb::Database;
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;

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

#[test]
fn the_handle_and_the_walk_can_move_to_blocking_threads() {
    fn sendable<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    sendable::<Drive>();
    movable::<SubtreeWalk>();
    movable::<ContentReader>();
}
