//! `SmbSide` (the sync engine's view of an SMB share) against a real Samba server: listing
//! order, preconditions, verified atomic writes, moves, deletes and error codes.

use std::sync::Arc;
use std::time::Duration;

use crate::samba::{SHARE, Samba};
use futures_util::StreamExt;
use scaidrive_connectors::sides::smb::side::SmbSide;
use scaidrive_connectors::sides::smb::{SmbClient, SmbConfig};
use scaidrive_connectors::sync::SyncPath;
use scaidrive_connectors::sync::entry::{Entry, HashKind, Sha256Digest};
use scaidrive_connectors::sync::side::{ByteStream, ErrorCode, Precondition, Side, WriteRequest};
use time::macros::datetime;

async fn side(s: &Samba) -> SmbSide {
    let u = s.user();
    let mut cfg = SmbConfig::new("127.0.0.1", s.port, SHARE, &u.name, &u.password);
    cfg.call_timeout = Duration::from_secs(60);
    SmbSide::new(Arc::new(SmbClient::connect(cfg).await.expect("connect")))
}

fn bytes(data: &[u8]) -> ByteStream {
    let chunks: Vec<_> = data.chunks(7).map(|c| Ok(c.to_vec())).collect();
    Box::pin(futures_util::stream::iter(chunks))
}

async fn listing(side: &SmbSide) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut list = side.list();
    while let Some(e) = list.next().await {
        out.push(e.expect("entry"));
    }
    out
}

async fn read_all(side: &SmbSide, e: &Entry) -> Vec<u8> {
    let mut stream = side.read(&e.path, &e.state()).await.expect("read");
    let mut out = Vec::new();
    while let Some(c) = stream.next().await {
        out.extend(c.expect("chunk"));
    }
    out
}

fn request(path: &str, data: &[u8], precondition: Precondition) -> WriteRequest {
    WriteRequest {
        path: path.into(),
        precondition,
        size: data.len() as u64,
        sha256: Some(Sha256Digest::of(data)),
        modified: datetime!(2025-03-04 05:06:07 UTC),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_is_in_sync_path_order_with_folders_before_their_content() {
    let s = Samba::start();
    let d = s.share_dir();
    for dir in ["B", "a", "a/c"] {
        std::fs::create_dir_all(d.join(dir)).expect("mkdir");
    }
    for f in ["a/c/z.txt", "a b.txt", "B/k.txt", "b.txt", "Ä.txt", "a/y.txt"] {
        std::fs::write(d.join(f), f).expect("write");
    }
    s.hand_over();
    s.set_mode("b.txt", "+h");
    let side = side(&s).await;
    let entries = listing(&side).await;
    let paths: Vec<_> = entries.iter().map(|e| e.path.clone()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "listed in SyncPath order");
    assert_eq!(paths.len(), 9);
    let pos = |p: &str| paths.iter().position(|x| x.as_str() == p).unwrap_or_else(|| panic!("{p} listed"));
    assert!(pos("a") < pos("a/c") && pos("a/c") < pos("a/c/z.txt") && pos("a/c/z.txt") < pos("a/y.txt"));
    assert!(entries[pos("b.txt")].attrs.hidden);
    assert!(entries[pos("a")].is_folder());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_verified_and_respect_their_preconditions() {
    let s = Samba::start();
    let side = side(&s).await;
    let data = b"hello, share".to_vec();
    let written = side
        .write(request("new/deep/hello.txt", &data, Precondition::MustNotExist), bytes(&data))
        .await
        .expect("write");
    assert_eq!(written.sha256, Sha256Digest::of(&data));
    assert_eq!(written.entry.modified, datetime!(2025-03-04 05:06:07 UTC));
    assert_eq!(std::fs::read(s.share_dir().join("new/deep/hello.txt")).expect("disk"), data);
    assert_eq!(read_all(&side, &written.entry).await, data);
    let listed = side.stat(&"new/deep/hello.txt".into()).await.expect("stat").expect("found");
    assert!(listed.matches(&written.entry.state()), "the written entry is what a listing shows");
    let hash = side.hash(&written.entry.path, HashKind::Sha256).await.expect("hash");
    assert_eq!(hash.as_sha256(), Some(Sha256Digest::of(&data)));

    // MustNotExist on an existing file, and a stale Matches, change nothing.
    let err = side
        .write(request("new/deep/hello.txt", b"other", Precondition::MustNotExist), bytes(b"other"))
        .await
        .expect_err("exists");
    assert_eq!(err.code, ErrorCode::PreconditionFailed);
    std::fs::write(s.share_dir().join("new/deep/hello.txt"), b"changed behind our back").expect("write");
    let stale = Precondition::Matches(written.entry.state());
    let err = side.write(request("new/deep/hello.txt", b"ours", stale), bytes(b"ours")).await.expect_err("stale");
    assert_eq!(err.code, ErrorCode::PreconditionFailed);
    let err = side.read(&written.entry.path, &written.entry.state()).await.err().expect("stale read");
    assert_eq!(err.code, ErrorCode::PreconditionFailed);

    // Content that does not match its announced size is refused and leaves nothing behind.
    let mut short = request("new/short.txt", b"12345", Precondition::MustNotExist);
    short.size = 99;
    let err = side.write(short, bytes(b"12345")).await.expect_err("verify");
    assert_eq!(err.code, ErrorCode::VerifyFailed);
    let names: Vec<_> =
        std::fs::read_dir(s.share_dir().join("new")).expect("dir").map(|e| e.expect("e").file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("deep")], "no temp file and no target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_keep_the_id_and_deletes_need_an_empty_folder() {
    let s = Samba::start();
    let side = side(&s).await;
    let data = b"move me".to_vec();
    let w = side.write(request("a/f.txt", &data, Precondition::MustNotExist), bytes(&data)).await.expect("write");
    side.write(request("b/g.txt", &data, Precondition::MustNotExist), bytes(&data)).await.expect("write");

    let moved = side.move_entry(&"a/f.txt".into(), &"c/d/F2.txt".into(), &w.entry.state()).await.expect("move");
    assert_eq!(moved.id, w.entry.id, "same file id after a move");
    assert_eq!(moved.path.as_str(), "c/d/F2.txt");
    let err = side.move_entry(&"c/d/F2.txt".into(), &"b/g.txt".into(), &moved.state()).await.expect_err("exists");
    assert_eq!(err.code, ErrorCode::AlreadyExists);

    // A case-only rename of the same entry is allowed.
    let renamed = side.move_entry(&"c/d/F2.txt".into(), &"c/d/f2.txt".into(), &moved.state()).await.expect("case");
    assert_eq!(renamed.path.as_str(), "c/d/f2.txt");
    // Any spelling finds it; the entry carries the stored one.
    let found = side.stat(&"C/D/F2.TXT".into()).await.expect("stat").expect("found");
    assert_eq!(found.path.as_str().rsplit('/').next(), Some("f2.txt"));

    let folder = side.stat(&"c/d".into()).await.expect("stat").expect("folder");
    let err = side.delete(&folder.path, &folder.state()).await.expect_err("not empty");
    assert_eq!(err.code, ErrorCode::NotEmpty);
    side.delete(&renamed.path, &renamed.state()).await.expect("delete file");
    let folder = side.stat(&"c/d".into()).await.expect("stat").expect("folder");
    side.delete(&folder.path, &folder.state()).await.expect("delete folder");
    assert_eq!(side.stat(&"c/d".into()).await.expect("stat"), None);

    let made = side.make_folder(&SyncPath::from("x/y/z")).await.expect("mkdir");
    assert!(made.is_folder());
    assert!(side.make_folder(&SyncPath::from("x/y/z")).await.expect("again").is_folder());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_file_and_an_unreadable_folder_get_their_codes() {
    let mut s = Samba::start();
    std::fs::create_dir_all(s.share_dir().join("private")).expect("mkdir");
    std::fs::write(s.share_dir().join("busy.docx"), b"busy").expect("write");
    s.hand_over();
    let side = side(&s).await;
    let busy = side.stat(&"busy.docx".into()).await.expect("stat").expect("found");
    let held = s.hold_open("busy.docx");
    let err = side.delete(&busy.path, &busy.state()).await.expect_err("locked");
    assert_eq!(err.code, ErrorCode::FileLocked);
    drop(held);

    let sid = s.user_sid(s.user());
    s.set_ntacl("private", &format!("O:{sid}G:{sid}D:P(A;;0x001f01ff;;;S-1-5-18)"));
    let mut list = side.list();
    let mut last = None;
    while let Some(item) = list.next().await {
        last = Some(item);
    }
    let err = last.expect("items").expect_err("listing ends with its error");
    assert_eq!(err.code, ErrorCode::ListingIncomplete, "{err}");
}
