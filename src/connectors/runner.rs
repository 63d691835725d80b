//! One run of a connector, whatever its transports: the base is streamed from the file-state store, the engine
//! reconciles and executes, base changes are committed in the batches the engine hands over, and every per-file
//! event lands in the job's log. The connector actor owns the run (a task it spawns) and its stop flag; this
//! module only carries it out.

use std::collections::HashMap;

use super::file_states;
use super::jobs::{self, Job, JobError, JobEvent, JobStatus};
use super::progress::{self, JobLog};
use super::settings::CommonSettings;
use crate::clock::SharedClock;
use crate::ids::ConnectorId;
use crate::store::{Store, StoreError};
use crate::sync::execute::{BaseChange, BaseSink, Counters, RunStatus, SinkError, StopFlag};
use crate::sync::reconcile::Context;
use crate::sync::{DriveSide, Side, run};

/// Events written per transaction when a run's leftover log is saved at its end.
const EVENT_BATCH: usize = 500;

/// Commits the engine's base changes to the file-state tables, one write transaction per batch.
pub(super) struct FileStateSink {
    pub(super) store: Store,
    pub(super) connector: ConnectorId,
}

impl BaseSink for FileStateSink {
    async fn commit(&mut self, batch: Vec<BaseChange>) -> Result<(), SinkError> {
        let (store, connector) = (self.store.clone(), self.connector);
        tokio::task::spawn_blocking(move || file_states::commit(&store, connector, &batch))
            .await
            .map_err(|e| SinkError(e.to_string()))?
            .map_err(|e| SinkError(e.to_string()))
    }
}

/// Runs `job` for the connector between `source` and `drive` and returns the finished job. Progress and events
/// are saved as the run goes; the final status is the connector actor's to record (see `ConnectorActor`), so
/// "the job ended" and "the connector is free" become visible together.
pub async fn run_job<S: Side, D: DriveSide>(
    store: &Store,
    clock: &SharedClock,
    settings: &CommonSettings,
    mut job: Job,
    source: &S,
    drive: &D,
    stop: &StopFlag,
) -> Result<Job, StoreError> {
    let connector = job.connector_id;
    // A resumed job goes on: its log continues after its events and its counters add to what it did before.
    let resumed = job.started_at.is_some();
    let prior = if resumed { job.counters() } else { Counters::default() };
    let next_seq = if resumed {
        let (store, id) = (store.clone(), job.id);
        blocking(move || jobs::next_seq(&store, id)).await?
    } else {
        0
    };
    job.status = JobStatus::Running;
    job.started_at.get_or_insert(clock.now());
    save(store, &job, &[]).await?;

    let open = open_conflicts(store, connector).await?;
    let context = match Context::new(
        settings.run_config(job.force),
        source.capabilities().naming,
        drive.capabilities().naming,
        open,
    ) {
        Ok(context) => context,
        Err(e) => {
            let mut log = JobLog::quiet(clock);
            log.counters = prior;
            return finish(store, clock, job, Failure("VALIDATION_FAILED".into(), e.to_string()), &mut log).await;
        }
    };
    let base = file_states::base_stream(store, connector);
    let mut sink = FileStateSink { store: store.clone(), connector };
    let mut log = JobLog::live(store, clock, &job, next_seq, prior);
    let outcome = run::run(source, drive, base, &context, &mut sink, &mut log, stop, clock.now()).await;
    log.close().await?;
    log.counters = progress::combined(prior, outcome.counters);
    let status = match outcome.status {
        RunStatus::Completed => Status(JobStatus::Completed),
        RunStatus::CompletedWithErrors => Status(JobStatus::CompletedWithErrors),
        RunStatus::Stopped => Status(JobStatus::Paused),
        RunStatus::Failed { code, message } => Failure(code.into(), message),
    };
    finish(store, clock, job, status, &mut log).await
}

/// How a run ended, for the job record.
pub(super) enum Ending {
    Status(JobStatus),
    Failure(String, String),
}
pub(super) use Ending::{Failure, Status};

/// Records how the run ended: counters, status or failure, per-file errors, and the event log.
pub(super) async fn finish(
    store: &Store,
    clock: &SharedClock,
    mut job: Job,
    ending: Ending,
    log: &mut JobLog,
) -> Result<Job, StoreError> {
    job.count(&log.counters);
    match ending {
        Status(status) => job.status = status,
        Failure(code, message) => {
            job.status = JobStatus::Failed;
            job.error = Some(JobError { code, message });
        }
    }
    if job.status.is_final() {
        job.finished_at = Some(clock.now());
    }
    let failures = std::mem::take(&mut log.failures);
    if !failures.is_empty() {
        let (store2, connector) = (store.clone(), job.connector_id);
        blocking(move || file_states::record_errors(&store2, connector, &failures)).await?;
    }
    // The events go in with the counters, under the running status; the actor records the end.
    let mut progress = job.clone();
    progress.status = JobStatus::Running;
    progress.finished_at = None;
    progress.error = None;
    for chunk in log.events.chunks(EVENT_BATCH) {
        save(store, &progress, chunk).await?;
    }
    Ok(job)
}

/// Marks a new job running and records that (a resolution's start; sync runs also resume jobs, see `run_job`).
pub(super) async fn start(store: &Store, clock: &SharedClock, job: &mut Job) -> Result<(), StoreError> {
    job.status = JobStatus::Running;
    job.started_at = Some(clock.now());
    save(store, job, &[]).await
}

async fn save(store: &Store, job: &Job, events: &[JobEvent]) -> Result<(), StoreError> {
    let (store, job, events) = (store.clone(), job.clone(), events.to_vec());
    blocking(move || jobs::save_with_events(&store, &job, &events)).await
}

async fn open_conflicts(
    store: &Store,
    connector: ConnectorId,
) -> Result<HashMap<crate::sync::SyncPath, crate::ids::ConflictId>, StoreError> {
    let store = store.clone();
    let open = blocking(move || file_states::open_conflicts(&store, connector)).await?;
    Ok(open.into_iter().map(|c| (c.path, c.id)).collect())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::ids::ShareId;
    use crate::sync::memory::{MemoryKnobs, MemorySide};

    fn settings(direction: &str) -> CommonSettings {
        let mut problems = super::super::Problems::default();
        let input = super::super::CommonInput {
            name: Some("test".into()),
            target_share_id: Some(ShareId::new().to_string()),
            sync_direction: Some(direction.into()),
            ..Default::default()
        };
        input.create(super::super::settings::SMB, &mut problems).unwrap()
    }

    #[tokio::test]
    async fn a_run_syncs_records_the_base_and_a_rerun_has_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let clock: SharedClock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
        let source = MemorySide::new(MemoryKnobs::windows_share(), "src");
        let drive = MemorySide::new(MemoryKnobs::drive(), "drv");
        for (path, text) in [("a.txt", "1"), ("docs/b.txt", "22"), ("docs/deep/c.txt", "333")] {
            source.put_file(path, text.as_bytes(), clock.now());
        }
        let settings = settings("smb_to_scaidrive");
        let connector = ConnectorId::new();
        let stop = StopFlag::default();
        let first = Job::new(connector, super::super::jobs::Trigger::Manual, clock.now());
        let done = run_job(&store, &clock, &settings, first, &source, &drive, &stop).await.unwrap();
        assert_eq!(done.status, JobStatus::Completed, "{:?}", done.error);
        // Three files and the two folders that hold them.
        assert_eq!(done.files_synced, 5);
        assert_eq!(drive.content("docs/deep/c.txt").unwrap().as_slice(), b"333");
        let events = jobs::events(&store, done.id, None, 100).unwrap();
        assert!(events.iter().any(|e| e.path == "docs/b.txt" && e.result == "done"), "{events:?}");
        assert!(done.finished_at.is_some());

        let second = Job::new(connector, super::super::jobs::Trigger::Manual, clock.now());
        let again = run_job(&store, &clock, &settings, second, &source, &drive, &stop).await.unwrap();
        assert_eq!((again.status, again.files_synced), (JobStatus::Completed, 0));
        assert_eq!(jobs::list(&store, connector, None, 10).unwrap().0.len(), 2);
    }

    #[tokio::test]
    async fn a_stop_requested_before_the_first_action_pauses_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let clock: SharedClock = Arc::new(crate::clock::SystemClock);
        let source = MemorySide::new(MemoryKnobs::windows_share(), "src");
        source.put_file("a.txt", b"1", clock.now());
        let drive = MemorySide::new(MemoryKnobs::drive(), "drv");
        let stop = StopFlag::default();
        stop.request_stop();
        let job = Job::new(ConnectorId::new(), super::super::jobs::Trigger::Manual, clock.now());
        let paused = run_job(&store, &clock, &settings("bidirectional"), job, &source, &drive, &stop).await.unwrap();
        assert_eq!(paused.status, JobStatus::Paused);
        assert!(paused.finished_at.is_none(), "a paused job is not over");
        assert!(drive.content("a.txt").is_none());
    }

    #[tokio::test]
    async fn a_resumed_job_goes_on_with_its_log_and_adds_to_its_counters() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let clock: SharedClock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
        let source = MemorySide::new(MemoryKnobs::windows_share(), "src");
        let drive = MemorySide::new(MemoryKnobs::drive(), "drv");
        source.put_file("left.txt", b"what the first part did not reach", clock.now());
        // The first part of the job synced three items and logged three events before it was paused.
        let mut job = Job::new(ConnectorId::new(), super::super::jobs::Trigger::Resume, clock.now());
        job.started_at = Some(clock.now() - time::Duration::minutes(3));
        job.status = JobStatus::Paused;
        (job.files_scanned, job.files_synced, job.bytes_transferred) = (3, 3, 300);
        let first_part: Vec<JobEvent> = (0..3)
            .map(|seq| JobEvent {
                seq,
                path: format!("done{seq}.txt"),
                action: "copy_to_drive".into(),
                result: "done".into(),
                code: None,
                message: None,
                at: clock.now(),
            })
            .collect();
        jobs::save_with_events(&store, &job, &first_part).unwrap();

        let stop = StopFlag::default();
        let done =
            run_job(&store, &clock, &settings("smb_to_scaidrive"), job.clone(), &source, &drive, &stop).await.unwrap();
        assert_eq!(done.status, JobStatus::Completed, "{:?}", done.error);
        assert_eq!((done.files_synced, done.bytes_transferred), (4, 300 + 33), "both parts count");
        assert_eq!(done.started_at, job.started_at, "the job started when its first part did");
        let log = jobs::events(&store, job.id, None, 100).unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2, 3], "the log goes on: {log:?}");
        assert_eq!((log[0].path.as_str(), log[3].path.as_str()), ("done0.txt", "left.txt"));
    }
}
