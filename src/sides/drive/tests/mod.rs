//! The drive side against a temp store: the engine's conformance suite, the listing order, full engine runs
//! against an SMB-like in-memory source, and "nothing is lost" over random histories.

mod engine;
mod history;
mod order;

use std::io::Read;
use std::sync::Arc;

use redb::Database;
use time::macros::datetime;

use super::DriveSide;
use crate::clock::ManualClock;
use crate::drive::{Drive, DrivePath, EntryRef, Origin, WriteOptions};
use crate::ids::{ConnectorId, ShareId, UserId};
use crate::sync::conformance::check_side;

/// Where the connector syncs, inside the share.
const TARGET: &str = "/Sync/Target";

struct Fixture {
    _dir: tempfile::TempDir,
    drive: Drive,
    share: ShareId,
    user: UserId,
    side: DriveSide,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::create(dir.path().join("store.redb")).unwrap());
    let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
    let drive = Drive::open(db, &dir.path().join("content"), clock).unwrap();
    let user = UserId::new();
    let share = drive.create_share("Team", None, None, Some(user)).unwrap().id;
    let side = DriveSide::open(drive.clone(), share, p(TARGET), ConnectorId::new()).await.unwrap();
    Fixture { _dir: dir, drive, share, user, side }
}

fn p(s: &str) -> DrivePath {
    DrivePath::parse(s).unwrap()
}

/// The drive path of a path relative to the target folder.
fn at(rel: &str) -> DrivePath {
    p(&format!("{TARGET}/{rel}"))
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

impl Fixture {
    /// A user's write straight into the drive (not through the connector).
    fn user_put(&self, rel: &str, bytes: &[u8]) {
        let opts = WriteOptions::new(Origin::user(self.user));
        self.drive.write_file(self.share, &at(rel), &mut &bytes[..], &opts).unwrap();
    }

    fn content(&self, rel: &str) -> Option<Vec<u8>> {
        let (_, r) = self.drive.read_file(self.share, &EntryRef::Path(at(rel))).ok()?;
        Some(read_all(r))
    }

    /// Every content of the file's versions, current first.
    fn version_contents(&self, rel: &str) -> Vec<Vec<u8>> {
        let versions = self.drive.versions(self.share, &EntryRef::Path(at(rel))).unwrap();
        versions.iter().map(|v| read_all(self.drive.read_version(self.share, v.id).unwrap().1)).collect()
    }
}

#[tokio::test]
async fn the_drive_side_passes_the_engine_conformance_suite() {
    let f = fixture().await;
    assert_eq!(check_side(&f.side).await, Ok(()));
}

#[tokio::test]
async fn opening_creates_the_target_folder_and_a_file_in_the_way_is_refused() {
    let f = fixture().await;
    assert!(f.drive.entry_by_path(f.share, &p(TARGET)).unwrap().is_folder());
    // Opening again over the existing folder is fine.
    DriveSide::open(f.drive.clone(), f.share, p(TARGET), ConnectorId::new()).await.unwrap();
    let opts = WriteOptions::new(Origin::user(f.user));
    f.drive.write_file(f.share, &p("/file"), &mut &b"x"[..], &opts).unwrap();
    let refused = DriveSide::open(f.drive.clone(), f.share, p("/file"), ConnectorId::new()).await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_listing_without_its_target_folder_fails_instead_of_looking_empty() {
    use futures::StreamExt;
    let f = fixture().await;
    f.user_put("a.txt", b"a");
    let folder = f.drive.entry_by_path(f.share, &p(TARGET)).unwrap();
    let any = crate::drive::Precondition::None;
    f.drive.delete_entry(f.share, &EntryRef::Id(folder.id), &any, &Origin::user(f.user)).unwrap();
    let items: Vec<_> = crate::sync::Side::list(&f.side).collect().await;
    assert_eq!(items.len(), 1, "{items:?}");
    let error = items[0].as_ref().unwrap_err();
    assert_eq!(error.code, crate::sync::ErrorCode::ListingIncomplete, "{error}");
}

fn stream(chunks: Vec<Result<Vec<u8>, crate::sync::SideError>>) -> crate::sync::side::ByteStream {
    Box::pin(futures::stream::iter(chunks))
}

fn request(rel: &str, data: &[u8]) -> crate::sync::side::WriteRequest {
    crate::sync::side::WriteRequest {
        path: rel.into(),
        precondition: crate::sync::Precondition::MustNotExist,
        size: data.len() as u64,
        sha256: Some(crate::sync::Sha256Digest::of(data)),
        modified: datetime!(2026-02-01 12:00 UTC),
    }
}

#[tokio::test]
async fn a_large_file_streams_through_in_chunks_both_ways() {
    use crate::sync::Side;
    use futures::StreamExt;
    let f = fixture().await;
    // Several store chunks and bridge chunks, with a length that is a multiple of neither.
    let data: Vec<u8> = (0..3_000_017u32).map(|i| (i % 251) as u8).collect();
    let chunks = data.chunks(65_521).map(|c| Ok(c.to_vec())).collect();
    let written = f.side.write(request("big.bin", &data), stream(chunks)).await.unwrap();
    assert_eq!(written.sha256, crate::sync::Sha256Digest::of(&data));
    assert_eq!(written.entry.modified, datetime!(2026-02-01 12:00 UTC));
    let mut read = f.side.read(&"big.bin".into(), &written.entry.state()).await.unwrap();
    let (mut back, mut pieces) = (Vec::new(), 0);
    while let Some(chunk) = read.next().await {
        back.extend(chunk.unwrap());
        pieces += 1;
    }
    assert!(pieces > 1, "read in one piece");
    assert_eq!(back, data);
}

#[tokio::test]
async fn a_source_failing_mid_stream_or_a_full_share_writes_nothing_and_says_why() {
    use crate::sync::{ErrorCode, Side, SideError};
    let f = fixture().await;
    let gone = SideError::new(ErrorCode::ConnectorUnreachable, "the source went away");
    let chunks = vec![Ok(b"half".to_vec()), Err(gone.clone())];
    let failed = f.side.write(request("a.txt", b"half of it"), stream(chunks)).await;
    assert_eq!(failed.map(|_| ()), Err(gone));
    assert_eq!(f.content("a.txt"), None);

    f.drive
        .update_share(f.share, crate::drive::ShareUpdate { quota_bytes: Some(Some(8)), ..Default::default() })
        .unwrap();
    let big = b"more than eight bytes";
    let refused = f.side.write(request("b.txt", big), stream(vec![Ok(big.to_vec())])).await;
    assert_eq!(refused.map(|_| ()).map_err(|e| e.code), Err(ErrorCode::QuotaExceeded));
    assert_eq!(f.content("b.txt"), None);
    assert_eq!(f.drive.pending_temp_files().unwrap(), 0);
}

/// Counts what a drive side asks of its transfer budget.
#[derive(Default)]
struct CountingBudget {
    slots_taken: std::sync::atomic::AtomicUsize,
    slots_held: Arc<std::sync::atomic::AtomicUsize>,
    bytes: std::sync::atomic::AtomicU64,
}

struct Held(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl crate::sides::budget::TransferBudget for CountingBudget {
    fn slot(&self) -> futures::future::BoxFuture<'_, crate::sides::budget::Slot> {
        use std::sync::atomic::Ordering::SeqCst;
        self.slots_taken.fetch_add(1, SeqCst);
        self.slots_held.fetch_add(1, SeqCst);
        let held = Held(self.slots_held.clone());
        Box::pin(async move { crate::sides::budget::Slot(Some(Box::new(held))) })
    }

    fn spend(&self, bytes: u64) -> futures::future::BoxFuture<'_, ()> {
        self.bytes.fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async {})
    }
}

#[tokio::test]
async fn every_content_stream_in_and_out_of_the_drive_takes_a_slot_and_pays_for_its_bytes() {
    use std::sync::atomic::Ordering::SeqCst;

    use futures::StreamExt;

    use crate::sync::side::{Precondition, Side, WriteRequest};
    use crate::sync::{Sha256Digest, SyncPath};

    let f = fixture().await;
    let budget = Arc::new(CountingBudget::default());
    let side = f.side.clone().with_budget(budget.clone());
    let data = vec![7u8; 300_000];
    let request = WriteRequest {
        path: SyncPath::new("big.bin"),
        precondition: Precondition::MustNotExist,
        size: data.len() as u64,
        sha256: Some(Sha256Digest::of(&data)),
        modified: datetime!(2026-01-02 00:00 UTC),
    };
    let chunks: Vec<Result<Vec<u8>, crate::sync::SideError>> = data.chunks(65_536).map(|c| Ok(c.to_vec())).collect();
    let written = side.write(request, Box::pin(futures::stream::iter(chunks))).await.unwrap();
    assert_eq!((budget.slots_taken.load(SeqCst), budget.bytes.load(SeqCst)), (1, 300_000));
    assert_eq!(budget.slots_held.load(SeqCst), 0, "the slot came back when the write ended");

    let mut read = side.read(&SyncPath::new("big.bin"), &written.entry.state()).await.unwrap();
    assert_eq!(budget.slots_held.load(SeqCst), 1, "an open download holds its slot");
    let mut got = Vec::new();
    while let Some(chunk) = read.next().await {
        got.extend(chunk.unwrap());
    }
    drop(read);
    assert_eq!(got, data);
    assert_eq!((budget.slots_taken.load(SeqCst), budget.bytes.load(SeqCst)), (2, 600_000));
    assert_eq!(budget.slots_held.load(SeqCst), 0);
}
