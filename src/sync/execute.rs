//! Carries a plan out through the sides, one action at a time, except stretches of plain copies, which run a
//! few at a time (`copies.rs`).
//!
//! - Every transfer is the destination side's atomic write (temp name, hash while streaming, verify, recheck,
//!   rename) guarded by the entry the plan expects to find there.
//! - The recoverability rule: before anything overwrites or deletes a file on the source, the source's content
//!   is saved into the drive's versions of that path. Drive overwrites and deletes are recoverable by the drive
//!   itself (versions, trash).
//! - Base changes go to a [`BaseSink`] in batches, each after the actions it records. A crash between an action
//!   and its record is harmless: the next run finds equal content and only records it.
//! - A failed file is an event in the job log and the run goes on; only errors whose disposition is `StopRun`
//!   stop it. Between actions the run checks the [`StopSignal`] (pause, shutdown) and says it stopped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;

use crate::ids::ConflictId;

use super::conflict::{ConflictRecord, conflict_name};
use super::copies;
use super::entry::{BaseRecord, Entry, Kind, Sha256Digest, SideId};
use super::path::SyncPath;
use super::plan::{Action, Plan};
use super::side::{Disposition, DriveSide, ErrorCode, Side, SideError, VersionOrigin, Written};

/// A change to the file-state records.
// Batches are mostly `Put`s; boxing them would add an allocation per record for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum BaseChange {
    Put(BaseRecord),
    Forget(SyncPath),
    OpenConflict(Box<ConflictRecord>),
    SettleConflict(ConflictId),
}

/// The file-state records could not be written: the run stops (what it did is found again next run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("file states could not be saved: {0}")]
pub struct SinkError(pub String);

/// Where base changes go (the file-state actor, which commits each batch in one write transaction).
pub trait BaseSink: Send {
    fn commit(&mut self, batch: Vec<BaseChange>) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// What happened to one path, for the job's per-file log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEvent {
    pub path: SyncPath,
    pub action: &'static str,
    pub result: EventResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventResult {
    Done,
    Failed {
        code: &'static str,
        message: String,
    },
    /// A note that changes nothing (case collision, invalid name, symlink, untracked, pending conflict).
    Noted {
        code: &'static str,
    },
}

/// The job's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub files_scanned: u64,
    pub files_synced: u64,
    pub bytes_transferred: u64,
    pub error_count: u64,
    pub conflicts: u64,
    pub deleted_on_source: u64,
    pub deleted_on_drive: u64,
}

/// Receives per-file events and progress (the jobs actor).
pub trait Observer: Send {
    fn file_event(&mut self, event: FileEvent);
    fn progress(&mut self, _counters: &Counters) {}
}

/// Asked between actions whether the run should stop (pause, cancel, shutdown).
pub trait StopSignal: Send + Sync {
    fn stop_requested(&self) -> bool;
}

/// A stop signal the caller sets.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn request_stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl StopSignal for StopFlag {
    fn stop_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Completed,
    CompletedWithErrors,
    /// Stopped between actions on request; a later run continues from what was recorded.
    Stopped,
    Failed {
        code: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: RunStatus,
    pub counters: Counters,
}

/// Base changes per batch: large enough to make redb commits cheap, small enough that a crash loses little.
pub const BATCH: usize = 256;

/// Carries out plans against one source and one drive.
pub struct Executor<'a, S, D, K, O> {
    pub source: &'a S,
    pub drive: &'a D,
    pub sink: &'a mut K,
    pub observer: &'a mut O,
    pub stop: &'a dyn StopSignal,
    pub now: OffsetDateTime,
    pub(super) batch: Vec<BaseChange>,
    pub(super) counters: Counters,
    /// Entries as our own moves left them, by side and new path: later actions on those paths expect these.
    moved: HashMap<(SideId, SyncPath), Entry>,
    /// Targets of moves that failed: nothing under them is touched this run.
    pub(super) failed_moves: Vec<SyncPath>,
    /// Folder moves carried out this run (side, from, to): entries of that side planned under `from` that were
    /// not paired by identity (new, changed or deleted ones) are now under `to`, where the other side has them.
    pub(super) folder_moves: Vec<(SideId, SyncPath, SyncPath)>,
}

/// Why an action did not complete.
pub(super) enum Failure {
    Skip(SideError),
    Stop(String, &'static str),
}

impl From<SideError> for Failure {
    fn from(e: SideError) -> Self {
        match e.disposition() {
            Disposition::StopRun => Failure::Stop(e.message, e.code.as_str()),
            _ => Failure::Skip(e),
        }
    }
}

impl<'a, S: Side, D: DriveSide, K: BaseSink, O: Observer> Executor<'a, S, D, K, O> {
    pub fn new(
        source: &'a S,
        drive: &'a D,
        sink: &'a mut K,
        observer: &'a mut O,
        stop: &'a dyn StopSignal,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            source,
            drive,
            sink,
            observer,
            stop,
            now,
            batch: Vec::new(),
            counters: Counters::default(),
            moved: HashMap::new(),
            failed_moves: Vec::new(),
            folder_moves: Vec::new(),
        }
    }

    /// Runs every action of the plan in order and reports how the run ended.
    pub async fn execute(mut self, plan: &Plan) -> Outcome {
        match self.execute_part(plan).await {
            Some(ending) => self.finish(ending).await,
            None => self.complete().await,
        }
    }

    /// Runs the actions of a plan, or of one part of a run's plan (see [`super::run`]), in order, after logging
    /// its reports; `Some(ending)` when the run must end here (stop request, failure).
    pub async fn execute_part(&mut self, plan: &Plan) -> Option<RunStatus> {
        self.counters.files_scanned = plan.stats.source_listed.max(plan.stats.drive_listed);
        for report in &plan.reports {
            let code = report.kind.code();
            self.observer.file_event(FileEvent {
                path: report.path.clone(),
                action: "report",
                result: EventResult::Noted { code },
            });
        }
        for (path, error) in &plan.errors {
            self.fail(path, "hash", error);
        }
        let actions: Vec<&Action> = plan.all_actions().collect();
        let mut next = 0;
        while let Some(&action) = actions.get(next) {
            next += 1;
            // A stretch of copies asks the stop signal before each copy it starts.
            let stretch = self.copy_stretch(&actions[next - 1..]);
            if !stretch.is_empty() {
                next += stretch.len() - 1;
                if let Some(ending) = self.copy_concurrently(&stretch).await {
                    return Some(ending);
                }
                continue;
            }
            if self.stop.stop_requested() {
                return Some(RunStatus::Stopped);
            }
            if self.failed_moves.iter().any(|p| p == action.path() || p.is_ancestor_of(action.path())) {
                let error = SideError::new(ErrorCode::PreconditionFailed, "a move this depends on failed");
                self.fail(action.path(), action.name(), &error);
                continue;
            }
            match self.perform_with_retry(action).await {
                Ok(()) => {
                    let event =
                        FileEvent { path: action.path().clone(), action: action.name(), result: EventResult::Done };
                    self.observer.file_event(event);
                }
                Err(Failure::Skip(error)) => {
                    if let Action::Move { to, .. } = action {
                        self.failed_moves.push(to.clone());
                    }
                    self.fail(action.path(), action.name(), &error);
                }
                Err(Failure::Stop(message, code)) => return Some(RunStatus::Failed { code, message }),
            }
            if self.batch.len() >= BATCH
                && let Err(e) = self.flush().await
            {
                return Some(RunStatus::Failed { code: "INTERNAL", message: e.to_string() });
            }
            self.observer.progress(&self.counters);
        }
        None
    }

    /// Ends a run that carried out all of its plan: completed, with or without per-file errors.
    pub async fn complete(self) -> Outcome {
        let status = if self.counters.error_count == 0 { RunStatus::Completed } else { RunStatus::CompletedWithErrors };
        self.finish(status).await
    }

    pub(super) fn fail(&mut self, path: &SyncPath, action: &'static str, error: &SideError) {
        self.counters.error_count += 1;
        let result = EventResult::Failed { code: error.code.as_str(), message: error.message.clone() };
        self.observer.file_event(FileEvent { path: path.clone(), action, result });
    }

    pub(super) async fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.sink.commit(batch).await
    }

    /// Ends the run with `status`, recording what was done.
    pub async fn finish(mut self, status: RunStatus) -> Outcome {
        // What was done is true whatever stopped the run: record it.
        let status = match self.flush().await {
            Ok(()) => status,
            Err(e) => RunStatus::Failed { code: "INTERNAL", message: e.to_string() },
        };
        self.observer.progress(&self.counters);
        Outcome { status, counters: self.counters }
    }

    /// Where an entry of `side` planned under a folder this run moved on that side now is.
    fn rebase(&self, side: SideId, entry: &Entry) -> Entry {
        let moved = self
            .folder_moves
            .iter()
            .rev()
            .find_map(|(s, from, to)| (*s == side).then(|| entry.path.rebase(from, to)).flatten());
        match moved {
            Some(path) => entry.relocated(&path),
            None => entry.clone(),
        }
    }

    /// The action with its entries carried along by this run's folder moves: `Ok(None)` when nothing under it
    /// moved, an error when its entries no longer share one path (a folder moved on one side while the other
    /// side moved the entry elsewhere: the next run sees it afresh).
    fn rebased(&self, action: &Action) -> Result<Option<Action>, SideError> {
        if self.folder_moves.is_empty() {
            return Ok(None);
        }
        let (s, d) = (SideId::Source, SideId::Drive);
        let rebased = match action {
            Action::Copy { from, origin, dest } => Action::Copy {
                from: *from,
                origin: self.rebase(*from, origin),
                dest: dest.as_ref().map(|e| self.rebase(from.other(), e)),
            },
            Action::MakeFolder { on, origin } => {
                Action::MakeFolder { on: *on, origin: self.rebase(on.other(), origin) }
            }
            Action::Delete { on, entry } => Action::Delete { on: *on, entry: self.rebase(*on, entry) },
            Action::Record { source, drive, sha256, settles } => Action::Record {
                source: self.rebase(s, source),
                drive: self.rebase(d, drive),
                sha256: *sha256,
                settles: *settles,
            },
            Action::KeepBoth { source, drive, aside, both_sides } => Action::KeepBoth {
                source: self.rebase(s, source),
                drive: self.rebase(d, drive),
                aside: *aside,
                both_sides: *both_sides,
            },
            Action::OpenConflict { source, drive, base } => Action::OpenConflict {
                source: self.rebase(s, source),
                drive: self.rebase(d, drive),
                base: base.clone(),
            },
            Action::Move { .. } | Action::Forget { .. } => return Ok(None),
        };
        let paths: Vec<&SyncPath> = match &rebased {
            Action::Copy { origin, dest, .. } => {
                std::iter::once(&origin.path).chain(dest.as_ref().map(|e| &e.path)).collect()
            }
            Action::Record { source, drive, .. }
            | Action::KeepBoth { source, drive, .. }
            | Action::OpenConflict { source, drive, .. } => vec![&source.path, &drive.path],
            other => vec![other.path()],
        };
        let Some(&first) = paths.first() else { return Ok(None) };
        if paths.iter().any(|p| *p != first) {
            return Err(SideError::new(
                ErrorCode::PreconditionFailed,
                "a folder moved on one side while the other side moved this entry elsewhere; the next run picks it up",
            ));
        }
        if first == action.path() { Ok(None) } else { Ok(Some(rebased)) }
    }

    async fn perform_with_retry(&mut self, action: &Action) -> Result<(), Failure> {
        if let Some(rebased) = self.rebased(action)? {
            let result = Box::pin(self.perform_with_retry(&rebased)).await;
            if result.is_ok() {
                // The base record, if any, was at the planned path: it now lives at the new one.
                self.batch.push(BaseChange::Forget(action.path().clone()));
            }
            return result;
        }
        let mut attempts = 0;
        loop {
            match self.perform(action).await {
                Err(Failure::Skip(e)) if e.disposition() == Disposition::Retry && attempts < 2 => attempts += 1,
                other => return other,
            }
        }
    }

    /// The entry as it stands after this run's own moves.
    pub(super) fn current(&self, side: SideId, entry: &Entry) -> Entry {
        self.moved.get(&(side, entry.path.clone())).cloned().unwrap_or_else(|| entry.clone())
    }

    pub(super) fn put(&mut self, path: &SyncPath, source: &Entry, drive: &Entry, sha256: Option<Sha256Digest>) {
        let record = BaseRecord { path: path.clone(), source: source.state(), drive: drive.state(), sha256 };
        self.batch.push(BaseChange::Put(record));
    }

    async fn perform(&mut self, action: &Action) -> Result<(), Failure> {
        match action {
            Action::Copy { from, origin: planned, dest } => {
                // Read the origin where this run's moves left it; write and record at the planned path, which
                // is the destination side's spelling of it (or the source's, which a normalising drive takes).
                let origin = self.current(*from, planned);
                let dest = dest.as_ref().map(|d| self.current(from.other(), d));
                let written = self.copy(*from, &origin, &planned.path, dest.as_ref()).await?;
                let (s, d) = arrange(*from, &origin, &written.entry);
                self.put(&planned.path, s, d, Some(written.sha256));
                self.counters.files_synced += 1;
                self.counters.bytes_transferred += written.entry.size;
            }
            Action::MakeFolder { on, origin } => {
                let made = self.make_folder(*on, &origin.path).await?;
                let (s, d) = arrange(on.other(), origin, &made);
                self.put(&origin.path, s, d, None);
                self.counters.files_synced += 1;
            }
            Action::Delete { on, entry } => {
                let entry = self.current(*on, entry);
                if *on == SideId::Source && entry.kind == Kind::File {
                    self.save_source(&entry, VersionOrigin::SourceBeforeDelete).await?;
                }
                if let Err(e) = self.delete(*on, &entry).await {
                    if e.code == ErrorCode::NotEmpty {
                        // The folder holds content this run did not delete (untracked, filtered, colliding):
                        // it stays, and stops being tracked, so the next run treats it as new on this side.
                        self.batch.push(BaseChange::Forget(entry.path.clone()));
                    }
                    return Err(e.into());
                }
                self.batch.push(BaseChange::Forget(entry.path.clone()));
                match on {
                    SideId::Source => self.counters.deleted_on_source += 1,
                    SideId::Drive => self.counters.deleted_on_drive += 1,
                }
            }
            Action::Move { on, entry, to, base, old_base, implied } => {
                let moved = if *implied { entry.relocated(to) } else { self.move_entry(*on, entry, to).await? };
                if moved.is_folder() {
                    self.folder_moves.push((*on, entry.path.clone(), to.clone()));
                }
                self.moved.insert((*on, to.clone()), moved);
                if old_base != &base.path {
                    self.batch.push(BaseChange::Forget(old_base.clone()));
                }
                self.batch.push(BaseChange::Put(base.clone()));
            }
            Action::Record { source, drive, sha256, settles } => {
                let (s, d) = (self.current(SideId::Source, source), self.current(SideId::Drive, drive));
                // At the planned path: a move of this run may have left the entry under the side's own spelling.
                self.put(&drive.path, &s, &d, *sha256);
                if let Some(id) = settles {
                    self.batch.push(BaseChange::SettleConflict(*id));
                }
            }
            Action::Forget { path } => self.batch.push(BaseChange::Forget(path.clone())),
            Action::KeepBoth { source, drive, aside, both_sides } => {
                let (s, d) = (self.current(SideId::Source, source), self.current(SideId::Drive, drive));
                self.keep_both(&s, &d, *aside, *both_sides).await?;
                self.counters.conflicts += 1;
            }
            Action::OpenConflict { source, drive, base } => {
                let record = ConflictRecord {
                    id: ConflictId::new(),
                    path: source.path.clone(),
                    source: source.clone(),
                    drive: drive.clone(),
                    base: base.clone(),
                    opened_at: self.now,
                    resolution: None,
                    resolved_at: None,
                };
                self.batch.push(BaseChange::OpenConflict(Box::new(record)));
                self.counters.conflicts += 1;
            }
        }
        Ok(())
    }

    async fn copy(
        &mut self,
        from: SideId,
        origin: &Entry,
        to_path: &SyncPath,
        dest: Option<&Entry>,
    ) -> Result<Written, Failure> {
        Ok(copies::copy(self.source, self.drive, from, origin, to_path, dest).await?)
    }

    async fn save_source(&mut self, entry: &Entry, origin: VersionOrigin) -> Result<(), Failure> {
        Ok(copies::save_source(self.source, self.drive, entry, origin).await?)
    }

    /// KEEP_BOTH: the `aside` entry steps aside to a free `(conflict)` name (copied there on the other side too
    /// when `both_sides`), and the other side's entry takes the name on the `aside` side.
    async fn keep_both(
        &mut self,
        source: &Entry,
        drive: &Entry,
        aside: SideId,
        both_sides: bool,
    ) -> Result<(), Failure> {
        let (a, o) = match aside {
            SideId::Source => (source, drive),
            SideId::Drive => (drive, source),
        };
        let path = a.path.clone();
        let mut name = None;
        for n in 1..=1000 {
            let candidate = conflict_name(&path, n, a.is_folder());
            if self.stat(aside, &candidate).await?.is_none()
                && (!both_sides || self.stat(aside.other(), &candidate).await?.is_none())
            {
                name = Some(candidate);
                break;
            }
        }
        let Some(name) = name else {
            return Err(Failure::Skip(SideError::new(ErrorCode::AlreadyExists, "no free conflict name")));
        };
        let stepped = self.move_entry(aside, a, &name).await?;
        if both_sides {
            let copied = if stepped.is_folder() {
                self.make_folder(aside.other(), &name).await?
            } else {
                let written = self.copy(aside, &stepped, &name, None).await?;
                self.counters.bytes_transferred += written.entry.size;
                written.entry
            };
            let (s, d) = arrange(aside, &stepped, &copied);
            self.put(&name, s, d, stepped.sha256().or(copied.sha256()).filter(|_| !stepped.is_folder()));
        }
        let taken = if o.is_folder() {
            self.make_folder(aside, &path).await?
        } else {
            let written = self.copy(aside.other(), o, &path, None).await?;
            self.counters.bytes_transferred += written.entry.size;
            let (s, d) = arrange(aside.other(), o, &written.entry);
            self.put(&path, s, d, Some(written.sha256));
            self.counters.files_synced += 1;
            return Ok(());
        };
        let (s, d) = arrange(aside.other(), o, &taken);
        self.put(&path, s, d, None);
        self.counters.files_synced += 1;
        Ok(())
    }

    async fn delete(&self, side: SideId, entry: &Entry) -> Result<(), SideError> {
        match side {
            SideId::Source => self.source.delete(&entry.path, &entry.state()).await,
            SideId::Drive => self.drive.delete(&entry.path, &entry.state()).await,
        }
    }

    async fn move_entry(&self, side: SideId, entry: &Entry, to: &SyncPath) -> Result<Entry, SideError> {
        match side {
            SideId::Source => self.source.move_entry(&entry.path, to, &entry.state()).await,
            SideId::Drive => self.drive.move_entry(&entry.path, to, &entry.state()).await,
        }
    }

    async fn make_folder(&self, side: SideId, path: &SyncPath) -> Result<Entry, SideError> {
        match side {
            SideId::Source => self.source.make_folder(path).await,
            SideId::Drive => self.drive.make_folder(path).await,
        }
    }

    async fn stat(&self, side: SideId, path: &SyncPath) -> Result<Option<Entry>, SideError> {
        match side {
            SideId::Source => self.source.stat(path).await,
            SideId::Drive => self.drive.stat(path).await,
        }
    }
}

/// Orders a pair of entries as (source, drive), given the side the first one is on.
pub(super) fn arrange<'e>(first_side: SideId, first: &'e Entry, second: &'e Entry) -> (&'e Entry, &'e Entry) {
    match first_side {
        SideId::Source => (first, second),
        SideId::Drive => (second, first),
    }
}
