//! File copies, several at a time. A run that brings thousands of small files across is bound by round trips
//! and by each destination's durable write (fsync), not by bandwidth: one copy at a time left both sides idle
//! most of the time. Consecutive copies in a plan are independent (distinct paths; their parent folders are
//! made by earlier actions, as the plan is in path order with folders first), so the executor runs each such
//! stretch [`TRANSFERS`] at a time and records the results in plan order.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::stream::FuturesOrdered;

use super::entry::{Entry, SideId};
use super::execute::{
    BATCH, BaseSink, EventResult, Executor, Failure, FileEvent, Observer, RunStatus, StopSignal, arrange,
};
use super::path::SyncPath;
use super::plan::Action;
use super::side::{Disposition, DriveSide, Precondition, Side, SideError, VersionOrigin, WriteRequest, Written};

/// Copies in flight at once: enough to overlap round trips and fsyncs, few enough to keep memory and the
/// server's load small (rclone's default is 4 transfers too).
pub const TRANSFERS: usize = 4;

/// Copies per stretch: bounds how far the executor looks ahead.
pub const STRETCH: usize = 256;

/// One copy, with its entries as they stand after this run's own moves.
pub struct PlannedCopy {
    pub from: SideId,
    /// The planned path: where the copy is written and recorded (the destination's spelling of it, or the
    /// source's, which a normalising drive takes), whatever spelling this run's moves left the origin under.
    pub to: SyncPath,
    pub origin: Entry,
    pub dest: Option<Entry>,
    /// The action's name in the job log.
    pub action: &'static str,
}

/// What became of one copy of a stretch.
pub enum CopyResult {
    Done(Written),
    Failed(SideError),
    /// Not started: a stop was requested, or an earlier copy of the stretch failed in a way that stops the run.
    NotStarted,
}

/// Runs the copies [`TRANSFERS`] at a time and hands each result to `record`, in the order of `copies`. Once a
/// stop is requested or a copy fails with `StopRun`, copies not yet started are not started; those in flight
/// finish, so their results are recorded.
pub async fn copy_all<S: Side, D: DriveSide>(
    source: &S,
    drive: &D,
    copies: &[PlannedCopy],
    stop: &dyn StopSignal,
    mut record: impl FnMut(CopyResult),
) {
    let halted = AtomicBool::new(false);
    let mut waiting = copies.iter();
    let mut in_flight = FuturesOrdered::new();
    loop {
        while in_flight.len() < TRANSFERS {
            let Some(copy) = waiting.next() else { break };
            in_flight.push_back(one_copy(source, drive, copy, stop, &halted));
        }
        let Some(result) = in_flight.next().await else { break };
        record(result);
    }
}

/// One copy of a stretch. (Futures are pushed by hand rather than through `stream::iter(..).map(..)`: a
/// closure borrowing the stretch trips rustc's higher-ranked `Send` check in the spawned run.)
async fn one_copy<'a, S: Side, D: DriveSide>(
    source: &'a S,
    drive: &'a D,
    copy: &'a PlannedCopy,
    stop: &'a dyn StopSignal,
    halted: &'a AtomicBool,
) -> CopyResult {
    // A stop, once seen, holds for the rest of the stretch, whatever the signal says next.
    if halted.load(Ordering::SeqCst) || stop.stop_requested() {
        halted.store(true, Ordering::SeqCst);
        return CopyResult::NotStarted;
    }
    match copy_with_retry(source, drive, copy.from, &copy.origin, &copy.to, copy.dest.as_ref()).await {
        Ok(written) => CopyResult::Done(written),
        Err(error) => {
            if error.disposition() == Disposition::StopRun {
                halted.store(true, Ordering::SeqCst);
            }
            CopyResult::Failed(error)
        }
    }
}

impl<S: Side, D: DriveSide, K: BaseSink, O: Observer> Executor<'_, S, D, K, O> {
    /// The copies at the head of `actions` that may run together: consecutive plain copies, while no folder
    /// move of this run has to rebase them and none lies under a failed move.
    pub(super) fn copy_stretch(&self, actions: &[&Action]) -> Vec<PlannedCopy> {
        if !self.folder_moves.is_empty() {
            return Vec::new();
        }
        let mut stretch = Vec::new();
        for action in actions.iter().take(STRETCH) {
            let Action::Copy { from, origin, dest } = action else { break };
            if self.failed_moves.iter().any(|p| p == &origin.path || p.is_ancestor_of(&origin.path)) {
                break;
            }
            let to = origin.path.clone();
            let origin = self.current(*from, origin);
            let dest = dest.as_ref().map(|d| self.current(from.other(), d));
            stretch.push(PlannedCopy { from: *from, to, origin, dest, action: action.name() });
        }
        // One copy gains nothing from the machinery: the plain path carries it.
        if stretch.len() < 2 { Vec::new() } else { stretch }
    }

    /// Runs a stretch of copies a few at a time, recording each in plan order; `Some(ending)` when the run must
    /// end (a stop request, an error that stops the run, a failed base commit).
    pub(super) async fn copy_concurrently(&mut self, stretch: &[PlannedCopy]) -> Option<RunStatus> {
        let (source, drive, stop) = (self.source, self.drive, self.stop);
        let mut ending = None;
        let mut results = Vec::with_capacity(stretch.len());
        copy_all(source, drive, stretch, stop, |result| results.push(result)).await;
        for (copy, result) in stretch.iter().zip(results) {
            let path = &copy.to;
            match result {
                CopyResult::Done(written) => {
                    let (s, d) = arrange(copy.from, &copy.origin, &written.entry);
                    self.put(path, s, d, Some(written.sha256));
                    self.counters.files_synced += 1;
                    self.counters.bytes_transferred += written.entry.size;
                    let event = FileEvent { path: path.clone(), action: copy.action, result: EventResult::Done };
                    self.observer.file_event(event);
                }
                CopyResult::Failed(error) => match Failure::from(error) {
                    Failure::Skip(error) => self.fail(path, copy.action, &error),
                    Failure::Stop(message, code) => ending = Some(RunStatus::Failed { code, message }),
                },
                CopyResult::NotStarted => {
                    ending.get_or_insert(RunStatus::Stopped);
                }
            }
            if self.batch.len() >= BATCH
                && let Err(e) = self.flush().await
            {
                return Some(RunStatus::Failed { code: "INTERNAL", message: e.to_string() });
            }
        }
        self.observer.progress(&self.counters);
        ending
    }
}

/// [`copy`], tried again (twice at most) on errors a retry may cure.
async fn copy_with_retry<S: Side, D: DriveSide>(
    source: &S,
    drive: &D,
    from: SideId,
    origin: &Entry,
    to_path: &SyncPath,
    dest: Option<&Entry>,
) -> Result<Written, SideError> {
    let mut attempts = 0;
    loop {
        match copy(source, drive, from, origin, to_path, dest).await {
            Err(e) if e.disposition() == Disposition::Retry && attempts < 2 => attempts += 1,
            other => return other,
        }
    }
}

/// Copies `origin` (on `from`) to `to_path` on the other side, over `dest` or where nothing exists. Saves the
/// source's content into the drive's versions first when the copy replaces it (the recoverability rule).
pub async fn copy<S: Side, D: DriveSide>(
    source: &S,
    drive: &D,
    from: SideId,
    origin: &Entry,
    to_path: &SyncPath,
    dest: Option<&Entry>,
) -> Result<Written, SideError> {
    if from == SideId::Drive
        && let Some(dest) = dest
    {
        save_source(source, drive, dest, VersionOrigin::SourceBeforeOverwrite).await?;
    }
    let content = match from {
        SideId::Source => source.read(&origin.path, &origin.state()).await?,
        SideId::Drive => drive.read(&origin.path, &origin.state()).await?,
    };
    let request = WriteRequest {
        path: to_path.clone(),
        precondition: dest.map_or(Precondition::MustNotExist, |d| Precondition::Matches(d.state())),
        size: origin.size,
        sha256: origin.sha256(),
        modified: origin.modified,
    };
    match from.other() {
        SideId::Source => source.write(request, content).await,
        SideId::Drive => drive.write(request, content).await,
    }
}

/// The source's content of `entry` into the drive's versions of its path.
pub async fn save_source<S: Side, D: DriveSide>(
    source: &S,
    drive: &D,
    entry: &Entry,
    origin: VersionOrigin,
) -> Result<(), SideError> {
    let content = source.read(&entry.path, &entry.state()).await?;
    drive.save_version(&entry.path, content, origin).await
}
