//! Whole engine runs between an SMB-like in-memory source and the drive side: what a user of either end sees.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use time::{Duration, OffsetDateTime};

use super::*;
use crate::sync::conflict::ConflictRecord;
use crate::sync::execute::{BaseChange, BaseSink, FileEvent, Observer, Outcome, RunStatus, SinkError, StopFlag};
use crate::sync::memory::{MemoryKnobs, MemorySide};
use crate::sync::reconcile::Context;
use crate::sync::run::{PlanError, plan_run, run};
use crate::sync::{BaseRecord, Direction, Plan, RunConfig, Side, Strategy, SyncPath};

/// Base records and open conflicts, as the file-state actor would keep them.
#[derive(Default)]
pub(super) struct Store {
    pub base: BTreeMap<SyncPath, BaseRecord>,
    pub conflicts: BTreeMap<SyncPath, ConflictRecord>,
}

impl BaseSink for &mut Store {
    async fn commit(&mut self, batch: Vec<BaseChange>) -> Result<(), SinkError> {
        for change in batch {
            match change {
                BaseChange::Put(record) => {
                    self.base.insert(record.path.clone(), record);
                }
                BaseChange::Forget(path) => {
                    self.base.remove(&path);
                }
                BaseChange::OpenConflict(record) => {
                    self.conflicts.insert(record.path.clone(), *record);
                }
                BaseChange::SettleConflict(id) => self.conflicts.retain(|_, c| c.id != id),
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(super) struct Log(pub Vec<FileEvent>);

impl Observer for Log {
    fn file_event(&mut self, event: FileEvent) {
        self.0.push(event);
    }
}

/// A source, the drive side and the state between runs, with a logical clock.
pub(super) struct World {
    pub source: MemorySide,
    pub f: Fixture,
    pub store: Store,
    tick: i64,
}

impl World {
    pub async fn new() -> Self {
        Self {
            source: MemorySide::new(MemoryKnobs::windows_share(), "s"),
            f: fixture().await,
            store: Store::default(),
            tick: 0,
        }
    }

    /// The next instant (10 s apart, so times never tie by accident).
    pub fn now(&mut self) -> OffsetDateTime {
        self.tick += 10;
        OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap() + Duration::seconds(self.tick)
    }

    pub fn put_source(&mut self, path: &str, content: &str) {
        let now = self.now();
        self.source.put_file(path, content.as_bytes(), now);
    }

    fn context(&self, config: &RunConfig) -> Context {
        let open = self.store.conflicts.iter().map(|(p, c)| (p.clone(), c.id)).collect::<HashMap<_, _>>();
        Context::new(config.clone(), self.source.capabilities().naming, self.f.side.capabilities().naming, open)
            .unwrap()
    }

    pub async fn plan(&self, config: &RunConfig) -> Result<Plan, PlanError> {
        let base = futures::stream::iter(self.store.base.values().cloned().map(Ok::<_, Infallible>));
        plan_run(&self.source, &self.f.side, base, &self.context(config)).await
    }

    pub async fn sync(&mut self, config: &RunConfig) -> (Outcome, Vec<FileEvent>) {
        let ctx = self.context(config);
        let base: Vec<BaseRecord> = self.store.base.values().cloned().collect();
        let base = futures::stream::iter(base.into_iter().map(Ok::<_, Infallible>));
        let mut log = Log::default();
        let now = self.now();
        let mut sink = &mut self.store;
        let outcome = run(&self.source, &self.f.side, base, &ctx, &mut sink, &mut log, &StopFlag::default(), now).await;
        (outcome, log.0)
    }
}

fn bidi() -> RunConfig {
    RunConfig { direction: Direction::Bidirectional, strategy: Strategy::LastWriterWins, ..RunConfig::default() }
}

async fn clean_sync(w: &mut World) {
    let (outcome, events) = w.sync(&bidi()).await;
    assert_eq!(outcome.status, RunStatus::Completed, "{events:?}");
}

#[tokio::test]
async fn a_source_history_arrives_on_the_drive_with_nothing_lost_and_identity_kept() {
    let mut w = World::new().await;
    w.put_source("Reports/q1.txt", "q1 draft");
    w.put_source("Reports/old.txt", "old");
    w.put_source("readme.txt", "hello");
    clean_sync(&mut w).await;
    assert_eq!(w.f.content("Reports/q1.txt").as_deref(), Some(&b"q1 draft"[..]));
    assert_eq!(w.f.content("readme.txt").as_deref(), Some(&b"hello"[..]));
    assert!(w.plan(&bidi()).await.unwrap().is_empty(), "a second run plans nothing");

    // An overwrite on the source keeps the drive's old content as a version, written by this connector.
    w.put_source("Reports/q1.txt", "q1 final");
    clean_sync(&mut w).await;
    assert_eq!(w.f.version_contents("Reports/q1.txt"), [b"q1 final".to_vec(), b"q1 draft".to_vec()]);
    let versions = w.f.drive.versions(w.f.share, &EntryRef::Path(at("Reports/q1.txt"))).unwrap();
    assert!(matches!(&versions[1].origin, Some(Origin::Connector { .. })), "{versions:?}");

    // A delete on the source lands in the drive's trash.
    w.source.remove("Reports/old.txt");
    clean_sync(&mut w).await;
    assert_eq!(w.f.content("Reports/old.txt"), None);
    let trash = w.f.drive.trash(w.f.share).unwrap();
    assert!(trash.iter().any(|t| t.original_path == at("Reports/old.txt").to_string()), "{trash:?}");

    // A rename on the source is a move on the drive: the same entry, its versions with it.
    let before = w.f.drive.entry_by_path(w.f.share, &at("Reports/q1.txt")).unwrap();
    assert!(w.source.rename("Reports", "Archive"));
    clean_sync(&mut w).await;
    let after = w.f.drive.entry_by_path(w.f.share, &at("Archive/q1.txt")).unwrap();
    assert_eq!(after.id, before.id);
    assert_eq!(w.f.version_contents("Archive/q1.txt"), [b"q1 final".to_vec(), b"q1 draft".to_vec()]);
    assert_eq!(w.f.content("Reports/q1.txt"), None);
    assert!(w.plan(&bidi()).await.unwrap().is_empty(), "a second run plans nothing");
}

#[tokio::test]
async fn drive_edits_reach_the_source_and_the_source_content_is_kept_as_a_drive_version() {
    let mut w = World::new().await;
    w.put_source("notes.txt", "from source");
    clean_sync(&mut w).await;
    w.f.user_put("notes.txt", b"edited on the drive");
    w.f.user_put("new/added.txt", b"added on the drive");
    clean_sync(&mut w).await;
    assert_eq!(w.source.content("notes.txt").as_deref().map(Vec::as_slice), Some(&b"edited on the drive"[..]));
    assert_eq!(w.source.content("new/added.txt").as_deref().map(Vec::as_slice), Some(&b"added on the drive"[..]));
    // The source's content before the engine overwrote it there is a drive version (the recoverability rule).
    assert!(w.f.version_contents("notes.txt").contains(&b"from source".to_vec()));
    assert!(w.plan(&bidi()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_version_saved_for_a_path_the_drive_lacks_is_restorable_from_the_trash() {
    use crate::sync::DriveSide as _;
    let f = fixture().await;
    let content: crate::sync::side::ByteStream = Box::pin(futures::stream::iter([Ok(b"kept".to_vec())]));
    let origin = crate::sync::side::VersionOrigin::SourceBeforeDelete;
    f.side.save_version(&SyncPath::new("gone/file.txt"), content, origin).await.unwrap();
    let trash = f.drive.trash(f.share).unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].original_path, at("gone/file.txt").to_string());
    f.drive.restore_trash(f.share, trash[0].id, None, &Origin::user(f.user)).unwrap();
    assert_eq!(f.content("gone/file.txt").as_deref(), Some(&b"kept"[..]));
}

/// The drive stores names in NFC; a source name in another form (NFD, as macOS clients write them) lists back
/// from the drive in NFC. It is one name: the file crosses, stays in step run after run, edits on either side
/// cross under each side's own spelling, and nothing is chased into the trash.
#[tokio::test]
async fn a_decomposed_name_on_the_source_syncs_and_stays_in_step() {
    let mut w = World::new().await;
    w.put_source("Cafe\u{301}/menu.txt", "menu");
    w.put_source("plain.txt", "plain");
    clean_sync(&mut w).await;
    // The drive holds it under the NFC spelling (any spelling finds it).
    assert_eq!(w.f.content("Caf\u{e9}/menu.txt").as_deref(), Some(&b"menu"[..]));
    for _ in 0..2 {
        assert!(w.plan(&bidi()).await.unwrap().is_empty(), "in step: nothing to do");
        clean_sync(&mut w).await;
    }
    w.put_source("Cafe\u{301}/menu.txt", "menu, spring");
    clean_sync(&mut w).await;
    assert_eq!(w.f.content("Caf\u{e9}/menu.txt").as_deref(), Some(&b"menu, spring"[..]));
    w.f.user_put("Caf\u{e9}/menu.txt", b"menu, summer");
    clean_sync(&mut w).await;
    let mut names: Vec<String> = w.source.files().into_iter().map(|(p, _)| p.to_string()).collect();
    names.sort();
    assert_eq!(names, ["Cafe\u{301}/menu.txt", "plain.txt"], "the source keeps its spelling");
    assert_eq!(w.source.content("Cafe\u{301}/menu.txt").as_deref().map(Vec::as_slice), Some(&b"menu, summer"[..]));
    assert!(w.plan(&bidi()).await.unwrap().is_empty());
    assert!(w.f.drive.trash(w.f.share).unwrap().is_empty(), "nothing was chased");
}
