//! One run of the real sync engine between a transport's side and an in-memory drive, for the transport test
//! binaries (`tests/smb/engine.rs`, `tests/sharepoint/engine.rs`): the base kept in memory between runs as the
//! file-state store would keep it, and the run's per-file events collected.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use scaidrive_connectors::sync::execute::{BaseChange, BaseSink, FileEvent, Observer, RunStatus, SinkError, StopFlag};
use scaidrive_connectors::sync::memory::MemorySide;
use scaidrive_connectors::sync::reconcile::Context;
use scaidrive_connectors::sync::run::run;
use scaidrive_connectors::sync::side::Side;
use scaidrive_connectors::sync::{BaseRecord, RunConfig, SyncPath};
use time::OffsetDateTime;

/// The base records between runs.
#[derive(Default)]
pub struct MemoryBase(pub BTreeMap<SyncPath, BaseRecord>);

impl BaseSink for MemoryBase {
    async fn commit(&mut self, batch: Vec<BaseChange>) -> Result<(), SinkError> {
        for change in batch {
            match change {
                BaseChange::Put(record) => {
                    self.0.insert(record.path.clone(), record);
                }
                BaseChange::Forget(path) => {
                    self.0.remove(&path);
                }
                BaseChange::OpenConflict(_) | BaseChange::SettleConflict(_) => {}
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct EventLog(Vec<FileEvent>);

impl Observer for EventLog {
    fn file_event(&mut self, event: FileEvent) {
        self.0.push(event);
    }
}

/// A run with the default configuration (bidirectional, the default strategy): how it ended and its events.
pub async fn run_once<S: Side>(source: &S, drive: &MemorySide, base: &mut MemoryBase) -> (RunStatus, Vec<FileEvent>) {
    let ctx =
        Context::new(RunConfig::default(), source.capabilities().naming, drive.capabilities().naming, HashMap::new())
            .expect("context");
    let records: Vec<_> = base.0.values().cloned().map(Ok::<_, Infallible>).collect();
    let mut log = EventLog::default();
    let stream = futures_util::stream::iter(records);
    let outcome =
        run(source, drive, stream, &ctx, base, &mut log, &StopFlag::default(), OffsetDateTime::now_utc()).await;
    (outcome.status, log.0)
}

/// The drive's files as (path, content), sorted by path.
pub fn drive_files(drive: &MemorySide) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = drive.files().into_iter().map(|(p, c)| (p.as_str().to_string(), c.to_vec())).collect();
    files.sort();
    files
}
