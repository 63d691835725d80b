//! The real sync engine between a SharePoint library on the Graph emulator (through `SharePointSide`) and an
//! in-memory drive: an initial sync, an incremental run by delta that makes few requests, changes both ways,
//! a rename in SharePoint arriving as a move, and a checked-out file reported per file.

use scaidrive_connectors::sides::sharepoint::{DeltaState, SharePointOptions, SharePointSide};
use scaidrive_connectors::sync::SyncPath;
use scaidrive_connectors::sync::execute::{EventResult, FileEvent, RunStatus};
use scaidrive_connectors::sync::memory::{MemoryKnobs, MemorySide};
use scaidrive_connectors::sync::side::Side;
use serde_json::json;
use time::OffsetDateTime;

use crate::engine_run::{MemoryBase, drive_files, run_once};
use crate::fixture::{Fixture, seed};

struct World {
    fixture: Fixture,
    drive: MemorySide,
    base: MemoryBase,
    /// What the file-state actor would keep between runs.
    kept: DeltaState,
}

impl World {
    /// One run with a fresh side built from the kept state, as the connector does per job; the state is kept
    /// only when the run completed.
    async fn sync(&mut self) -> (RunStatus, Vec<FileEvent>) {
        let side: SharePointSide = self.fixture.side_with("Library", self.kept.clone(), SharePointOptions::default());
        let (status, events) = run_once(&side, &self.drive, &mut self.base).await;
        if status == RunStatus::Completed {
            self.kept = side.delta_state().await;
        }
        (status, events)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_syncs_a_library_both_ways_incrementally_by_delta() {
    let mut files: Vec<_> = (0..40)
        .map(|n| json!({"path": format!("Library/Bulk/file-{n:02}.txt"), "text": format!("bulk {n}")}))
        .collect();
    files.push(json!({"path": "Library/Projects/Q1 report.docx", "text": "q1"}));
    files.push(json!({"path": "Library/Projects/Ünïcødé/naïve €.txt", "text": "unicode"}));
    files.push(json!({"path": "Library/top.txt", "text": "top"}));
    files.push(json!({"path": "Elsewhere/not-synced.txt", "text": "outside the base path"}));
    let fixture = Fixture::start(seed(files, None)).await;
    let mut world = World {
        fixture,
        drive: MemorySide::new(MemoryKnobs::drive(), "drv"),
        base: MemoryBase::default(),
        kept: DeltaState::default(),
    };

    // Initial sync: everything under the base path arrives in the drive.
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed, "{events:?}");
    let got = drive_files(&world.drive);
    assert_eq!(got.len(), 43);
    assert!(got.contains(&("Projects/Ünïcødé/naïve €.txt".into(), b"unicode".to_vec())));
    assert!(!got.iter().any(|(p, _)| p.contains("not-synced")));

    // Nothing changed: one delta request, nothing done.
    world.fixture.emulator.reset_counters();
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(world.fixture.emulator.graph_requests(), 1, "{:?}", world.fixture.emulator.counters());

    // Bob edits one file and adds another; the drive adds one. Requests follow the changes, not the library.
    world.fixture.act("u2", "Library/Bulk/file-07.txt", json!({"action": "upload", "text": "edited by bob"}));
    world.fixture.act("u2", "Library/new from bob.txt", json!({"action": "upload", "text": "new"}));
    let put_at = OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time");
    world.drive.put_file("Projects/from drive.txt", b"hello sharepoint", put_at);
    world.fixture.emulator.reset_counters();
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed, "{events:?}");
    let requests = world.fixture.emulator.graph_requests();
    println!("incremental run with 3 changes: {requests} Graph requests {:?}", world.fixture.emulator.counters());
    assert!(requests <= 15, "{requests}: {:?}", world.fixture.emulator.counters());
    assert_eq!(world.drive.content("Bulk/file-07.txt").map(|c| c.to_vec()), Some(b"edited by bob".to_vec()));
    assert_eq!(world.drive.content("new from bob.txt").map(|c| c.to_vec()), Some(b"new".to_vec()));
    let whole = world.fixture.side("");
    let uploaded = whole.stat(&SyncPath::new("Library/Projects/from drive.txt")).await.expect("stat");
    assert_eq!(uploaded.map(|e| (e.size, e.modified)), Some((16, put_at)), "content and modification time");

    // A rename in SharePoint arrives as a move: nothing is downloaded again.
    world.fixture.act(
        "u2",
        "Library/Projects/Q1 report.docx",
        json!({"action": "rename", "new_name": "Q1 final.docx"}),
    );
    world.fixture.emulator.reset_counters();
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed, "{events:?}");
    assert_eq!(world.drive.content("Projects/Q1 final.docx").map(|c| c.to_vec()), Some(b"q1".to_vec()));
    assert!(world.drive.content("Projects/Q1 report.docx").is_none());
    assert_eq!(world.fixture.count("/_download"), 0, "{:?}", world.fixture.emulator.counters());

    // A file checked out by Bob: the drive's change waits and is reported per file; the run completes.
    world.fixture.act("u2", "Library/top.txt", json!({"action": "checkout"}));
    world.drive.put_file("top.txt", b"top, edited in the drive", OffsetDateTime::now_utc());
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::CompletedWithErrors, "{events:?}");
    let failed: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.result {
            EventResult::Failed { code, .. } => Some((e.path.to_string(), *code)),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![("top.txt".to_string(), "FILE_LOCKED")], "{events:?}");
}
