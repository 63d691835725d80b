//! A running job's log and counters, saved as the run goes so a client polling the job (or the connector's
//! status) sees files scanned, synced, errored and bytes grow. The engine reports to `JobLog` synchronously,
//! between actions; every `HANDOVER_EVENTS` events or `HANDOVER_EVERY` of the injected clock, whichever comes
//! first, the log hands what it gathered to a writer task, which saves it in one small write transaction. The run
//! never waits for the disk: batches that pile up while a write is going on are merged into the next one.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::file_states::FileError;
use super::jobs::{self, Job, JobEvent};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};
use crate::sync::execute::{Counters, EventResult, FileEvent, Observer};

/// Events gathered before they are handed to the writer.
pub const HANDOVER_EVENTS: usize = 200;
/// Time (on the injected clock) after which gathered progress is handed over even with fewer events.
pub const HANDOVER_EVERY: Duration = Duration::seconds(2);

/// What the run handed over and the writer has not saved yet.
#[derive(Default)]
struct Handed {
    events: Vec<JobEvent>,
    counters: Option<Counters>,
    closed: bool,
}

struct Shared {
    handed: Mutex<Handed>,
    wake: Notify,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Handed) -> T) -> T {
        f(&mut self.handed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Collects the engine's per-file events and counters for the job, and hands them to the writer in batches.
pub struct JobLog {
    /// Events not yet handed over (the run's end saves what is left).
    pub events: Vec<JobEvent>,
    /// Per-file failures of the whole run, recorded on the paths at the end.
    pub failures: Vec<FileError>,
    pub counters: Counters,
    next_seq: u32,
    clock: SharedClock,
    handed_at: OffsetDateTime,
    writer: Option<Writer>,
}

struct Writer {
    shared: Arc<Shared>,
    task: JoinHandle<Result<(), StoreError>>,
}

impl JobLog {
    /// A log that keeps everything until the end (nothing to save as the run goes).
    pub fn quiet(clock: &SharedClock) -> Self {
        Self {
            events: Vec::new(),
            failures: Vec::new(),
            counters: Counters::default(),
            next_seq: 0,
            clock: clock.clone(),
            handed_at: clock.now(),
            writer: None,
        }
    }

    /// A log that saves `job`'s progress as the run goes; events are numbered from `next_seq` (after the events
    /// of the job's earlier, paused part). `prior` are the counters of that earlier part, added to this run's.
    pub fn live(store: &Store, clock: &SharedClock, job: &Job, next_seq: u32, prior: Counters) -> Self {
        let shared = Arc::new(Shared { handed: Mutex::new(Handed::default()), wake: Notify::new() });
        let task = tokio::spawn(write_progress(store.clone(), job.clone(), prior, shared.clone()));
        Self { next_seq, writer: Some(Writer { shared, task }), ..Self::quiet(clock) }
    }

    fn hand_over(&mut self) {
        self.handed_at = self.clock.now();
        let Some(writer) = &self.writer else { return };
        let events = std::mem::take(&mut self.events);
        let counters = self.counters;
        writer.shared.with(|handed| {
            handed.events.extend(events);
            handed.counters = Some(counters);
        });
        writer.shared.wake.notify_one();
    }

    /// Stops the writer after it saved everything handed over; what is still in `events` is the caller's.
    pub async fn close(&mut self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.take() else { return Ok(()) };
        writer.shared.with(|handed| handed.closed = true);
        writer.shared.wake.notify_one();
        writer.task.await.map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
    }

    fn due(&self) -> bool {
        self.events.len() >= HANDOVER_EVENTS || self.clock.now() - self.handed_at >= HANDOVER_EVERY
    }
}

impl Observer for JobLog {
    fn file_event(&mut self, event: FileEvent) {
        let now = self.clock.now();
        if let EventResult::Failed { code, message } = &event.result {
            self.failures.push(FileError {
                path: event.path.clone(),
                code: code.to_string(),
                message: message.clone(),
                at: now,
            });
        }
        self.events.push(JobEvent::from_engine(self.next_seq, &event, now));
        self.next_seq = self.next_seq.saturating_add(1);
    }

    fn progress(&mut self, counters: &Counters) {
        self.counters = *counters;
        if self.due() {
            self.hand_over();
        }
    }
}

/// The counters of a job that ran in parts (paused, then resumed): what both parts did; the scan is the
/// latest part's.
pub fn combined(prior: Counters, now: Counters) -> Counters {
    Counters {
        files_scanned: now.files_scanned,
        files_synced: prior.files_synced + now.files_synced,
        bytes_transferred: prior.bytes_transferred + now.bytes_transferred,
        error_count: prior.error_count + now.error_count,
        conflicts: prior.conflicts + now.conflicts,
        deleted_on_source: prior.deleted_on_source + now.deleted_on_source,
        deleted_on_drive: prior.deleted_on_drive + now.deleted_on_drive,
    }
}

/// The writer: saves each handed-over batch with the job's counters (status still `running`) until closed.
async fn write_progress(store: Store, mut job: Job, prior: Counters, shared: Arc<Shared>) -> Result<(), StoreError> {
    loop {
        shared.wake.notified().await;
        let (events, counters, closed) = shared.with(|h| (std::mem::take(&mut h.events), h.counters.take(), h.closed));
        if let Some(counters) = counters {
            job.count(&combined(prior, counters));
        }
        if !events.is_empty() || counters.is_some() {
            let (store, saved) = (store.clone(), job.clone());
            tokio::task::spawn_blocking(move || jobs::save_with_events(&store, &saved, &events))
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
        }
        if closed {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::connectors::jobs::{JobStatus, Trigger};
    use crate::ids::ConnectorId;
    use crate::sync::SyncPath;

    fn done(path: &str) -> FileEvent {
        FileEvent { path: SyncPath::new(path), action: "copy_to_drive", result: EventResult::Done }
    }

    /// The job and how many events it has. Events are read first: the writer commits a batch's events and
    /// counters together, so a job read after seeing the events has at least their counters (read the other
    /// way round, a commit landing between the two reads showed new events with old counters).
    fn stored(store: &Store, job: &Job) -> (Job, usize) {
        let events = jobs::events(store, job.id, None, 10_000).unwrap().len();
        (jobs::get(store, job.connector_id, job.id).unwrap().unwrap(), events)
    }

    /// Waits until the writer saved what was handed over (it runs on its own task).
    async fn settled(store: &Store, job: &Job, events: usize) -> Job {
        for _ in 0..1000 {
            let (saved, count) = stored(store, job);
            if count == events {
                return saved;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the progress writer never saved {events} events");
    }

    #[tokio::test]
    async fn progress_is_saved_every_batch_of_events_and_every_few_seconds_of_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let manual = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
        let clock: SharedClock = manual.clone();
        let mut job = Job::new(ConnectorId::new(), Trigger::Manual, clock.now());
        job.status = JobStatus::Running;
        jobs::save(&store, &job).unwrap();
        let mut log = JobLog::live(&store, &clock, &job, 0, Counters::default());
        let mut counters = Counters { files_scanned: 1000, ..Counters::default() };
        for i in 0..HANDOVER_EVENTS {
            log.file_event(done(&format!("f{i}")));
            counters.files_synced += 1;
            counters.bytes_transferred += 10;
            log.progress(&counters);
        }
        let saved = settled(&store, &job, HANDOVER_EVENTS).await;
        assert_eq!((saved.files_scanned, saved.files_synced, saved.bytes_transferred), (1000, 200, 2000));
        assert_eq!(saved.status, JobStatus::Running);

        // A few events, then time passes on the injected clock: the next report saves them.
        for i in 0..3 {
            log.file_event(done(&format!("g{i}")));
            counters.files_synced += 1;
            log.progress(&counters);
        }
        assert_eq!(stored(&store, &job).1, HANDOVER_EVENTS, "three events are not a batch yet");
        manual.advance(HANDOVER_EVERY);
        log.progress(&counters);
        let saved = settled(&store, &job, HANDOVER_EVENTS + 3).await;
        assert_eq!(saved.files_synced, 203);
        log.close().await.unwrap();
        assert!(log.events.is_empty());
    }

    #[test]
    fn a_resumed_job_adds_its_counters_to_the_first_part() {
        let first = Counters { files_scanned: 10, files_synced: 4, bytes_transferred: 40, ..Counters::default() };
        let second = Counters { files_scanned: 10, files_synced: 6, bytes_transferred: 60, ..Counters::default() };
        let both = combined(first, second);
        assert_eq!((both.files_scanned, both.files_synced, both.bytes_transferred), (10, 10, 100));
    }
}
