//! Jobs: one record per run of a connector (or per scheduled run that was skipped, with its reason), with the
//! run's counters and a per-file event log. Rows are keyed `connector ++ job` (ULIDs: creation order) and events
//! `job ++ sequence`, so a connector's jobs and a job's events are each one range read. The jobs actor owns the
//! writes.

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::job_stats;
use crate::identity::resolve::UnmappedPrincipal;
use crate::ids::{ConnectorId, JobId};
use crate::store::tables::{JOB_EVENTS, JOBS};
use crate::store::{Store, StoreError, codec};
use crate::sync::execute::{Counters, EventResult, FileEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
    Resume,
    /// An admin resolved a MANUAL conflict (`POST .../conflicts/{cfl_id}/resolve`): the job logs what moved.
    Resolution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Paused,
    Completed,
    CompletedWithErrors,
    Failed,
    Cancelled,
    Skipped,
}

impl JobStatus {
    /// Whether the job is over (nothing will change it again).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running | Self::Paused)
    }
}

/// Why a job failed: a stable code (`SAFETY_ABORT`, `CONNECTOR_AUTH_FAILED`, ...) and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    #[schema(value_type = String)]
    pub id: JobId,
    #[schema(value_type = String)]
    pub connector_id: ConnectorId,
    pub trigger: Trigger,
    pub status: JobStatus,
    /// Passes the safety guard (an admin's explicit choice).
    pub force: bool,
    /// Rehashes every file instead of trusting sizes and times.
    pub full_sync: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub files_scanned: u64,
    pub files_synced: u64,
    pub bytes_transferred: u64,
    pub error_count: u64,
    pub conflicts: u64,
    pub deleted_on_source: u64,
    pub deleted_on_drive: u64,
    /// For a skipped scheduled run: why (`a run was already in progress`, `paused`).
    pub skip_reason: Option<String>,
    pub error: Option<JobError>,
    /// What the run did to permissions, when the connector syncs them (`sync_permissions`); boxed, as most
    /// jobs have none and job records travel in actor messages.
    #[serde(default)]
    pub permissions: Option<Box<PermissionsOutcome>>,
}

/// A run's permission pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PermissionsOutcome {
    /// Entries whose owner or ACEs the run set in ScaiDrive (content untouched).
    pub updated: u64,
    /// Principals the run met that map to nobody in ScaiDrive, with the number of entries naming each (owners
    /// among them fell back to the connector's service account).
    pub unmapped_principals: Vec<UnmappedPrincipal>,
}

impl Job {
    pub fn new(connector_id: ConnectorId, trigger: Trigger, now: OffsetDateTime) -> Self {
        Self {
            id: JobId::new(),
            connector_id,
            trigger,
            status: JobStatus::Queued,
            force: false,
            full_sync: false,
            created_at: now,
            started_at: None,
            finished_at: None,
            files_scanned: 0,
            files_synced: 0,
            bytes_transferred: 0,
            error_count: 0,
            conflicts: 0,
            deleted_on_source: 0,
            deleted_on_drive: 0,
            skip_reason: None,
            error: None,
            permissions: None,
        }
    }

    /// A scheduled run that did not happen, with the reason, as the job list shows it.
    pub fn skipped(connector_id: ConnectorId, reason: &str, now: OffsetDateTime) -> Self {
        let mut job = Self::new(connector_id, Trigger::Schedule, now);
        job.status = JobStatus::Skipped;
        job.skip_reason = Some(reason.to_owned());
        job.finished_at = Some(now);
        job
    }

    pub fn count(&mut self, counters: &Counters) {
        self.files_scanned = counters.files_scanned;
        self.files_synced = counters.files_synced;
        self.bytes_transferred = counters.bytes_transferred;
        self.error_count = counters.error_count;
        self.conflicts = counters.conflicts;
        self.deleted_on_source = counters.deleted_on_source;
        self.deleted_on_drive = counters.deleted_on_drive;
    }
}

/// One line of a job's per-file log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobEvent {
    pub seq: u32,
    pub path: String,
    pub action: String,
    /// `done`, `failed` or `noted`.
    pub result: String,
    pub code: Option<String>,
    pub message: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl JobEvent {
    pub fn from_engine(seq: u32, event: &FileEvent, at: OffsetDateTime) -> Self {
        let (result, code, message) = match &event.result {
            EventResult::Done => ("done", None, None),
            EventResult::Failed { code, message } => ("failed", Some(code.to_string()), Some(message.clone())),
            EventResult::Noted { code } => ("noted", Some(code.to_string()), None),
        };
        Self {
            seq,
            path: event.path.to_string(),
            action: event.action.to_owned(),
            result: result.to_owned(),
            code,
            message,
            at,
        }
    }
}

fn job_key(job: &Job) -> [u8; 32] {
    codec::pair(job.connector_id.to_bytes(), job.id.to_bytes())
}

fn event_key(job: JobId, seq: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(&job.to_bytes());
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// Writes (creates or replaces) a job record.
pub fn save(store: &Store, job: &Job) -> Result<(), StoreError> {
    save_with_events(store, job, &[])
}

/// Saves the job and appends events to its log in one transaction. The save that makes a job final also rolls
/// it up for the status page (`job_stats`) and counts it in the metrics, once.
pub fn save_with_events(store: &Store, job: &Job, events: &[JobEvent]) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    let ended = {
        let mut table = txn.open_table(JOBS)?;
        let before: Option<Job> = table.get(job_key(job))?.map(|row| codec::decode("jobs", row.value())).transpose()?;
        let ended = job_stats::on_save(&txn, before.as_ref(), job)?;
        table.insert(job_key(job), codec::encode(job).as_slice())?;
        ended
    };
    if !events.is_empty() {
        let mut log = txn.open_table(JOB_EVENTS)?;
        for event in events {
            log.insert(event_key(job.id, event.seq), codec::encode(event).as_slice())?;
        }
    }
    txn.commit()?;
    if ended {
        crate::metrics::job_ended(job);
    }
    Ok(())
}

/// The sequence number the job's next event takes: after those already logged (the engine's events, which the
/// identity pass follows; a resumed job's first part, which its second part follows).
pub fn next_seq(store: &Store, job: JobId) -> Result<u32, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(JOB_EVENTS)?;
    let last = table.range(event_key(job, 0)..=event_key(job, u32::MAX))?.next_back().transpose()?;
    Ok(last.map_or(0, |(k, _)| u32::from_be_bytes([k.value()[16], k.value()[17], k.value()[18], k.value()[19]]) + 1))
}

pub fn get(store: &Store, connector: ConnectorId, job: JobId) -> Result<Option<Job>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(JOBS)?;
    let row = table.get(codec::pair(connector.to_bytes(), job.to_bytes()))?;
    row.map(|v| codec::decode("jobs", v.value())).transpose()
}

/// The connector's jobs, newest first, before `before` (a job id), at most `limit`; and where to continue.
pub fn list(
    store: &Store,
    connector: ConnectorId,
    before: Option<JobId>,
    limit: usize,
) -> Result<(Vec<Job>, Option<JobId>), StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(JOBS)?;
    let start = codec::pair(connector.to_bytes(), [0; 16]);
    let end = match before {
        Some(before) => codec::pair(connector.to_bytes(), before.to_bytes()),
        None => codec::pair(connector.to_bytes(), [0xff; 16]),
    };
    let mut jobs = Vec::new();
    for row in table.range(start..end)?.rev() {
        let job: Job = codec::decode("jobs", row?.1.value())?;
        if jobs.len() == limit {
            // More remain: continue before the last one returned.
            let last = jobs.last().map(|j: &Job| j.id);
            return Ok((jobs, last));
        }
        jobs.push(job);
    }
    Ok((jobs, None))
}

/// A job's events after `after` (a sequence number), at most `limit`.
pub fn events(store: &Store, job: JobId, after: Option<u32>, limit: usize) -> Result<Vec<JobEvent>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(JOB_EVENTS)?;
    let start = event_key(job, after.map_or(0, |a| a.saturating_add(1)));
    let end = event_key(job, u32::MAX);
    let mut out = Vec::new();
    for row in table.range(start..=end)?.take(limit) {
        out.push(codec::decode("job_events", row?.1.value())?);
    }
    Ok(out)
}

/// The job's counters as the engine keeps them (to go on from, when a paused job resumes).
impl Job {
    pub fn counters(&self) -> Counters {
        Counters {
            files_scanned: self.files_scanned,
            files_synced: self.files_synced,
            bytes_transferred: self.bytes_transferred,
            error_count: self.error_count,
            conflicts: self.conflicts,
            deleted_on_source: self.deleted_on_source,
            deleted_on_drive: self.deleted_on_drive,
        }
    }
}

/// Forgets a deleted connector's jobs, their logs and rollups (the audit log keeps what mattered).
pub fn remove_all(txn: &redb::WriteTransaction, connector: ConnectorId) -> Result<(), StoreError> {
    job_stats::remove_all(txn, connector)?;
    let mut jobs = txn.open_table(JOBS)?;
    let keys: Vec<[u8; 32]> = jobs
        .range(codec::pairs_of(connector.to_bytes()))?
        .map(|r| r.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    let mut log = txn.open_table(JOB_EVENTS)?;
    for key in keys {
        jobs.remove(key)?;
        let job = JobId::from_bytes(codec::second(&key));
        let events: Vec<[u8; 20]> = log
            .range(event_key(job, 0)..=event_key(job, u32::MAX))?
            .map(|r| r.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for event in events {
            log.remove(event)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::SyncPath;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn jobs_list_newest_first_in_pages_per_connector() {
        let (_dir, store) = store();
        let (a, b) = (ConnectorId::new(), ConnectorId::new());
        let jobs: Vec<Job> = (0..5).map(|_| Job::new(a, Trigger::Manual, OffsetDateTime::UNIX_EPOCH)).collect();
        for job in &jobs {
            save(&store, job).unwrap();
        }
        save(&store, &Job::skipped(b, "a run was already in progress", OffsetDateTime::UNIX_EPOCH)).unwrap();
        let (first, next) = list(&store, a, None, 2).unwrap();
        assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), [jobs[4].id, jobs[3].id]);
        let (rest, next) = list(&store, a, next, 10).unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(next, None);
        let (others, _) = list(&store, b, None, 10).unwrap();
        assert_eq!(
            (others[0].status, others[0].skip_reason.as_deref()),
            (JobStatus::Skipped, Some("a run was already in progress"))
        );
    }

    #[test]
    fn events_are_kept_in_order_with_their_results() {
        let (_dir, store) = store();
        let mut job = Job::new(ConnectorId::new(), Trigger::Manual, OffsetDateTime::UNIX_EPOCH);
        job.status = JobStatus::Running;
        let failed = FileEvent {
            path: SyncPath::new("a/locked.docx"),
            action: "copy_to_drive",
            result: EventResult::Failed { code: "FILE_LOCKED", message: "in use".into() },
        };
        let done = FileEvent { path: SyncPath::new("a/b.txt"), action: "copy_to_drive", result: EventResult::Done };
        let events: Vec<JobEvent> = [failed, done]
            .iter()
            .enumerate()
            .map(|(i, e)| JobEvent::from_engine(i as u32, e, OffsetDateTime::UNIX_EPOCH))
            .collect();
        save_with_events(&store, &job, &events).unwrap();
        let read = super::events(&store, job.id, None, 10).unwrap();
        assert_eq!(read, events);
        assert_eq!(read[0].code.as_deref(), Some("FILE_LOCKED"));
        assert_eq!(super::events(&store, job.id, Some(0), 10).unwrap().len(), 1);
        assert_eq!(get(&store, job.connector_id, job.id).unwrap().unwrap().status, JobStatus::Running);
    }
}
