//! The drive's entry tables at scale: one share of 1,000,000 files (1,000 folders of 1,000 files each).
//!
//! Measures a path lookup and a 1,000-entry folder listing page (targets: each under 1 ms median) and prints
//! the redb file size per entry (target: under 400 bytes). Run: `cargo bench --bench drive_entries`.
//! `DRIVE_BENCH_ENTRIES` shrinks the share for a quick run.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use scaidrive_connectors::clock::SystemClock;
use scaidrive_connectors::drive::{Drive, DrivePath, Origin, WriteOptions};
use scaidrive_connectors::ids::{ShareId, UserId};

const PER_FOLDER: usize = 1000;

struct Setup {
    _dir: tempfile::TempDir,
    drive: Drive,
    share: ShareId,
    folders: usize,
}

fn path(folder: usize, file: usize) -> DrivePath {
    DrivePath::parse(&format!("/dept-{folder:04}/report-{file:05}.docx")).expect("valid bench path")
}

fn build() -> Setup {
    let entries: usize = std::env::var("DRIVE_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let folders = (entries / PER_FOLDER).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("bench.redb");
    // Opened as the appliance opens it (multi-process mode, its page-cache cap), so the figures are the appliance's.
    let db = scaidrive_connectors::store::Store::open(&db_path).expect("create store").shared_db();
    let drive = Drive::open(db.clone(), &dir.path().join("content"), Arc::new(SystemClock)).expect("open drive");
    let user = UserId::new();
    let share = drive.create_share("Bench", None, None, Some(user)).expect("share").id;
    let opts = WriteOptions::new(Origin::user(user));
    let started = std::time::Instant::now();
    // Ten folders per transaction: 10,000 files per commit.
    for chunk in (0..folders).collect::<Vec<_>>().chunks(10) {
        let files: Vec<(DrivePath, &[u8])> =
            chunk.iter().flat_map(|&d| (0..PER_FOLDER).map(move |f| (path(d, f), &b"quarterly numbers"[..]))).collect();
        drive.write_files_batch(share, &files, &opts).expect("batch write");
    }
    let total = folders * PER_FOLDER + folders;
    let size = std::fs::metadata(&db_path).expect("db size").len();
    println!(
        "built {total} entries ({folders} folders) in {:.1} s; redb file {size} bytes = {:.0} bytes per entry",
        started.elapsed().as_secs_f64(),
        size as f64 / total as f64
    );
    for t in drive.table_usage().expect("table usage").iter().filter(|t| t.rows > 0) {
        println!(
            "  {:<20} rows {:>8} leaf pages {:>7} branch pages {:>5} stored {:>10} meta {:>9} free-in-pages {:>10}",
            t.name, t.rows, t.leaf_pages, t.branch_pages, t.stored_bytes, t.metadata_bytes, t.fragmented_bytes
        );
    }
    // What a compacted database takes (the appliance can compact during maintenance).
    drop(drive);
    let mut db = Arc::try_unwrap(db).unwrap_or_else(|_| panic!("the drive was dropped, so the database is unshared"));
    while db.compact().expect("compact") {}
    let compacted = std::fs::metadata(&db_path).expect("db size").len();
    println!("after compaction: {compacted} bytes = {:.0} bytes per entry", compacted as f64 / total as f64);
    let drive = Drive::open(Arc::new(db), &dir.path().join("content"), Arc::new(SystemClock)).expect("reopen");
    Setup { _dir: dir, drive, share, folders }
}

fn entries(c: &mut Criterion) {
    let s = build();
    let mut i = 0usize;
    c.bench_function("drive/path_lookup", |b| {
        b.iter(|| {
            // A spread of folders and files, so the lookups do not all hit one leaf page.
            i = i.wrapping_add(7919);
            let p = path(i % s.folders, (i / 13) % PER_FOLDER);
            black_box(s.drive.entry_by_path(s.share, &p).expect("lookup"))
        })
    });
    let mut j = 0usize;
    c.bench_function("drive/list_page_1000", |b| {
        b.iter(|| {
            j = j.wrapping_add(31);
            let folder = DrivePath::parse(&format!("/dept-{:04}", j % s.folders)).expect("folder");
            let page = s.drive.list_folder(s.share, &folder, None, 1000).expect("listing");
            black_box(page.entries.len())
        })
    });
    let root_page = s.drive.list_folder(s.share, &DrivePath::root(), None, 10).expect("root listing");
    let cursor = root_page.next_cursor;
    c.bench_function("drive/list_page_after_cursor", |b| {
        b.iter(|| black_box(s.drive.list_folder(s.share, &DrivePath::root(), cursor.as_deref(), 1000).expect("page")))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = entries
}
criterion_main!(benches);
