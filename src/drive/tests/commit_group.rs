//! Group commit: concurrent writes share commits, yet each keeps its own outcome. Groups are formed
//! deterministically by holding redb's writer (a write transaction of the test's own) while the writers queue,
//! observed through `writes_awaiting_commit`, never by timing.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::*;

/// Waits (with a deadline) until `n` writes are queued or being committed.
fn wait_for_queue(drive: &Drive, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while drive.writes_awaiting_commit() < n {
        assert!(Instant::now() < deadline, "only {} of {n} writes queued", drive.writes_awaiting_commit());
        std::thread::sleep(Duration::from_millis(2));
    }
}

type Writer = std::thread::JoinHandle<DriveResult<Entry>>;

fn spawn_write(f: &Fixture, share: ShareId, path: &str, bytes: Vec<u8>, pre: Precondition) -> Writer {
    let (drive, path) = (f.drive.clone(), p(path));
    let opts = WriteOptions { precondition: pre, ..WriteOptions::new(f.me()) };
    std::thread::spawn(move || drive.write_file(share, &path, &mut bytes.as_slice(), &opts))
}

fn content(f: &Fixture, share: ShareId, path: &str) -> Vec<u8> {
    let (_, mut r) = f.drive.read_file(share, &EntryRef::Path(p(path))).unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn writers_queued_behind_a_commit_are_linked_together() {
    let f = fixture();
    let before = f.drive.commit_counts();
    let held = f.db.begin_write().unwrap();
    let writers: Vec<Writer> = (0..8)
        .map(|i| {
            spawn_write(
                &f,
                f.share,
                &format!("/d{}/f{i}.txt", i % 2),
                format!("file {i}").into_bytes(),
                Precondition::None,
            )
        })
        .collect();
    wait_for_queue(&f.drive, 8);
    drop(held);
    for w in writers {
        w.join().unwrap().unwrap();
    }
    let after = f.drive.commit_counts();
    assert_eq!(after.files - before.files, 8);
    // The first leader may have taken only its own write before the others queued; all the rest go in one.
    assert!(after.commits - before.commits <= 2, "8 writes took {} commits", after.commits - before.commits);
    for i in 0..8 {
        assert_eq!(content(&f, f.share, &format!("/d{}/f{i}.txt", i % 2)), format!("file {i}").as_bytes());
    }
    assert_eq!(f.drive.writes_awaiting_commit(), 0);
    assert_eq!(f.drive.pending_temp_files().unwrap(), 0);
}

#[test]
fn a_failing_write_in_a_group_leaves_the_others_committed_and_itself_uncommitted() {
    let f = fixture();
    let small = f.drive.create_share("Small", Some(100), None, Some(f.user)).unwrap().id;
    f.put("/existing", b"a file, not a folder").unwrap();
    let held = f.db.begin_write().unwrap();
    // Two writers each fit the quota alone, not together; two claim a new name; each pair passes the early
    // checks and meets at the commit.
    let quota = [
        spawn_write(&f, small, "/q1", vec![1; 60], Precondition::None),
        spawn_write(&f, small, "/q2", vec![2; 60], Precondition::None),
    ];
    let claims = [
        spawn_write(&f, f.share, "/claim", b"first claim".to_vec(), Precondition::MustNotExist),
        spawn_write(&f, f.share, "/claim", b"second claim".to_vec(), Precondition::MustNotExist),
    ];
    let plain: Vec<Writer> =
        (0..4).map(|i| spawn_write(&f, f.share, &format!("/ok/{i}"), vec![i; 10], Precondition::None)).collect();
    // A batch whose second item cannot land (a file is in the way): none of it may.
    let batch = {
        let (drive, share, opts) = (f.drive.clone(), f.share, WriteOptions::new(f.me()));
        std::thread::spawn(move || {
            let files = [(p("/batch/first"), &b"one"[..]), (p("/existing/child"), &b"two"[..])];
            drive.write_files_batch(share, &files, &opts)
        })
    };
    wait_for_queue(&f.drive, 9);
    let before = f.drive.commit_counts();
    drop(held);

    let quota: Vec<_> = quota.into_iter().map(|w| w.join().unwrap()).collect();
    let refused: Vec<_> = quota.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "exactly one of two writes over the quota together is refused");
    assert_eq!(refused[0].code(), "QUOTA_EXCEEDED");
    assert_eq!(f.drive.share(small).unwrap().used_bytes, 60);
    assert_eq!(f.drive.share(small).unwrap().file_count, 1);
    let (kept, gone) = if quota[0].is_ok() { ("/q1", "/q2") } else { ("/q2", "/q1") };
    assert_eq!(content(&f, small, kept).len(), 60);
    assert_eq!(f.drive.read_file(small, &EntryRef::Path(p(gone))).unwrap_err().code(), "NOT_FOUND");

    let claims: Vec<_> = claims.into_iter().map(|w| w.join().unwrap()).collect();
    let winners: Vec<_> = claims.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "one claim wins");
    let loser = claims.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(loser.code(), "PRECONDITION_FAILED");
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/claim"))).unwrap();
    assert_eq!(versions.len(), 1, "the refused claim left no version");
    let won = content(&f, f.share, "/claim");
    assert!(won == b"first claim" || won == b"second claim");

    for (i, w) in plain.into_iter().enumerate() {
        w.join().unwrap().unwrap();
        assert_eq!(content(&f, f.share, &format!("/ok/{i}")), vec![i as u8; 10]);
    }
    assert_eq!(batch.join().unwrap().unwrap_err().code(), "NOT_A_FOLDER");
    assert_eq!(f.drive.read_file(f.share, &EntryRef::Path(p("/batch/first"))).unwrap_err().code(), "NOT_FOUND");
    assert!(!f.names("/").contains(&"batch".to_owned()), "the failed batch created no folder");

    let after = f.drive.commit_counts();
    assert_eq!(after.files - before.files, 6, "one quota write, one claim and four plain writes");
    assert!(after.commits - before.commits <= 2, "{} commits", after.commits - before.commits);
    assert_eq!(f.drive.pending_temp_files().unwrap(), 0);
}

#[test]
fn many_threads_writing_distinct_and_shared_paths_keep_every_content_whole() {
    let f = fixture();
    let threads = 16;
    let barrier = Arc::new(Barrier::new(threads));
    let content_of = |i: usize| -> Vec<u8> { (0..(1000 + i * 40_000)).map(|b| (b * (i + 1) % 251) as u8).collect() };
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (drive, share, barrier, origin, bytes) =
                (f.drive.clone(), f.share, barrier.clone(), f.me(), content_of(i));
            // Even threads write their own file; odd ones all write one shared path.
            let path = if i % 2 == 0 { p(&format!("/own/{i}.bin")) } else { p("/shared.bin") };
            std::thread::spawn(move || {
                barrier.wait();
                drive.write_file(share, &path, &mut bytes.as_slice(), &WriteOptions::new(origin))
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    for i in (0..threads).step_by(2) {
        assert_eq!(content(&f, f.share, &format!("/own/{i}.bin")), content_of(i));
    }
    // The shared path: one current content, every other writer's kept whole as a version.
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/shared.bin"))).unwrap();
    assert_eq!(versions.len(), threads / 2);
    let mut seen: Vec<Vec<u8>> = versions.iter().map(|v| f.version_bytes(v.id)).collect();
    seen.sort();
    let mut expected: Vec<Vec<u8>> = (1..threads).step_by(2).map(content_of).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(f.drive.share(f.share).unwrap().file_count as usize, threads / 2 + 1);
    assert_eq!(f.drive.pending_temp_files().unwrap(), 0);
}

#[test]
fn a_write_waiting_for_its_commit_keeps_the_purge_away_from_its_blob() {
    let f = fixture();
    let held = f.db.begin_write().unwrap();
    let writer = spawn_write(&f, f.share, "/guarded", b"guarded content".to_vec(), Precondition::None);
    wait_for_queue(&f.drive, 1);
    // Queued (its blob perhaps already published and not yet referenced), the write holds the gate the purge
    // needs to delete blob files.
    assert!(f.drive.inner.blob_gate.try_write().is_err(), "the purge could delete the blob before the commit");
    drop(held);
    writer.join().unwrap().unwrap();
    assert!(f.drive.inner.blob_gate.try_write().is_ok());
    assert_eq!(f.drive.purge().unwrap().blobs_deleted, 0);
    assert_eq!(content(&f, f.share, "/guarded"), b"guarded content");
}
