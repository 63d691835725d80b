//! What the status page shows about past runs without reading every job ever kept: an hourly rollup per
//! connector (`connector ++ hour`: runs, files synced, bytes, errors) and the last successful run. Both are
//! updated in the transaction that records a job's end, once per job: a job counts when its stored status turns
//! final, so saving a finished job again (or a crash between two saves) never counts it twice. The last day,
//! week and month are then at most 24, 168 and 720 rows of one range read.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::jobs::{Job, JobStatus};
use crate::ids::{ConnectorId, JobId};
use crate::store::tables::{JOB_HOURS, JOB_LAST_SUCCESS};
use crate::store::{StoreError, codec};

/// Runs and their results over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// Runs that ended (completed, with errors, failed or cancelled); skipped scheduled runs are not runs.
    pub runs: u64,
    pub failed_runs: u64,
    pub skipped_runs: u64,
    pub files_synced: u64,
    pub bytes_transferred: u64,
    /// Per-file errors of those runs.
    pub file_errors: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.runs += other.runs;
        self.failed_runs += other.failed_runs;
        self.skipped_runs += other.skipped_runs;
        self.files_synced += other.files_synced;
        self.bytes_transferred += other.bytes_transferred;
        self.file_errors += other.file_errors;
    }

    fn of(job: &Job) -> Self {
        let ran = job.status != JobStatus::Skipped;
        Self {
            runs: u64::from(ran),
            failed_runs: u64::from(job.status == JobStatus::Failed),
            skipped_runs: u64::from(!ran),
            files_synced: job.files_synced,
            bytes_transferred: job.bytes_transferred,
            file_errors: job.error_count,
        }
    }
}

/// The last run that went through the whole tree (completed, possibly with per-file errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastSuccess {
    #[schema(value_type = String)]
    pub job_id: JobId,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// Wall time from start to end, paused time included.
    pub duration_seconds: f64,
    pub files_synced: u64,
}

fn hour_of(at: OffsetDateTime) -> u32 {
    u32::try_from(at.unix_timestamp().max(0) / 3600).unwrap_or(u32::MAX)
}

fn hour_key(connector: ConnectorId, hour: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(&connector.to_bytes());
    key[16..].copy_from_slice(&hour.to_be_bytes());
    key
}

/// Counts `job` if this save is the one that makes it final (`before` is the stored record it replaces).
pub(super) fn on_save(txn: &WriteTransaction, before: Option<&Job>, job: &Job) -> Result<bool, StoreError> {
    let newly_final = job.status.is_final() && !before.is_some_and(|b| b.status.is_final());
    if newly_final {
        count(txn, job)?;
    }
    Ok(newly_final)
}

/// Adds a finished job to its hour and, when it succeeded, makes it the last success if it is the newest.
pub(crate) fn count(txn: &WriteTransaction, job: &Job) -> Result<(), StoreError> {
    let ended = job.finished_at.unwrap_or(job.created_at);
    let key = hour_key(job.connector_id, hour_of(ended));
    let mut hours = txn.open_table(JOB_HOURS)?;
    let mut totals: Totals = match hours.get(key)? {
        Some(row) => codec::decode("job_hours", row.value())?,
        None => Totals::default(),
    };
    totals.add(&Totals::of(job));
    hours.insert(key, codec::encode(&totals).as_slice())?;
    if matches!(job.status, JobStatus::Completed | JobStatus::CompletedWithErrors) {
        let started_at = job.started_at.unwrap_or(job.created_at);
        let success = LastSuccess {
            job_id: job.id,
            started_at,
            finished_at: ended,
            duration_seconds: (ended - started_at).as_seconds_f64().max(0.0),
            files_synced: job.files_synced,
        };
        let mut last = txn.open_table(JOB_LAST_SUCCESS)?;
        let newer = match last.get(job.connector_id.to_bytes())? {
            Some(row) => codec::decode::<LastSuccess>("job_last_success", row.value())?.finished_at <= ended,
            None => true,
        };
        if newer {
            last.insert(job.connector_id.to_bytes(), codec::encode(&success).as_slice())?;
        }
    }
    Ok(())
}

/// The totals of the hours that end after `since` (the current hour included), up to `now`.
pub fn totals_since<T: ReadableTable<[u8; 20], &'static [u8]>>(
    hours: &T,
    connector: ConnectorId,
    since: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Totals, StoreError> {
    let mut totals = Totals::default();
    let range = hour_key(connector, hour_of(since))..=hour_key(connector, hour_of(now));
    for row in hours.range(range)? {
        totals.add(&codec::decode("job_hours", row?.1.value())?);
    }
    Ok(totals)
}

/// The connector's last successful run, if any.
pub fn last_success<T: ReadableTable<[u8; 16], &'static [u8]>>(
    table: &T,
    connector: ConnectorId,
) -> Result<Option<LastSuccess>, StoreError> {
    table.get(connector.to_bytes())?.map(|row| codec::decode("job_last_success", row.value())).transpose()
}

/// Forgets a deleted connector's rollups.
pub(super) fn remove_all(txn: &WriteTransaction, connector: ConnectorId) -> Result<(), StoreError> {
    let mut hours = txn.open_table(JOB_HOURS)?;
    let keys: Vec<[u8; 20]> = hours
        .range(hour_key(connector, 0)..=hour_key(connector, u32::MAX))?
        .map(|r| r.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for key in keys {
        hours.remove(key)?;
    }
    txn.open_table(JOB_LAST_SUCCESS)?.remove(connector.to_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::ReadableDatabase;
    use time::macros::datetime;

    use super::*;
    use crate::connectors::jobs::{self, Trigger};
    use crate::store::Store;

    fn finished(connector: ConnectorId, status: JobStatus, at: OffsetDateTime, files: u64, errors: u64) -> Job {
        let mut job = Job::new(connector, Trigger::Schedule, at - time::Duration::minutes(5));
        job.started_at = Some(at - time::Duration::minutes(4));
        job.finished_at = Some(at);
        job.status = status;
        job.files_synced = files;
        job.error_count = errors;
        job.bytes_transferred = files * 10;
        job
    }

    fn windows(store: &Store, connector: ConnectorId, now: OffsetDateTime) -> [Totals; 3] {
        let txn = store.db().begin_read().unwrap();
        let hours = txn.open_table(JOB_HOURS).unwrap();
        [1, 7, 30].map(|days| totals_since(&hours, connector, now - time::Duration::days(days), now).unwrap())
    }

    #[test]
    fn runs_roll_up_into_the_day_week_and_month_they_ended_in() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let (mine, other) = (ConnectorId::new(), ConnectorId::new());
        let now = datetime!(2026-05-31 12:30 UTC);
        let runs = [
            finished(mine, JobStatus::Completed, now - time::Duration::hours(2), 5, 0),
            finished(mine, JobStatus::CompletedWithErrors, now - time::Duration::days(3), 7, 2),
            finished(mine, JobStatus::Failed, now - time::Duration::days(20), 1, 0),
            finished(mine, JobStatus::Completed, now - time::Duration::days(45), 100, 0),
            finished(other, JobStatus::Completed, now - time::Duration::hours(1), 1000, 0),
            Job::skipped(mine, "a run was already in progress", now - time::Duration::minutes(10)),
        ];
        for job in &runs {
            jobs::save(&store, job).unwrap();
        }
        let [day, week, month] = windows(&store, mine, now);
        assert_eq!((day.runs, day.skipped_runs, day.files_synced, day.file_errors), (1, 1, 5, 0));
        assert_eq!((week.runs, week.files_synced, week.file_errors, week.bytes_transferred), (2, 12, 2, 120));
        assert_eq!((month.runs, month.failed_runs, month.files_synced), (3, 1, 13));

        let txn = store.db().begin_read().unwrap();
        let last = last_success(&txn.open_table(JOB_LAST_SUCCESS).unwrap(), mine).unwrap().unwrap();
        assert_eq!(last.job_id, runs[0].id, "the newest success, not the newest run");
        assert_eq!(last.duration_seconds, 240.0);
    }

    #[test]
    fn a_finished_job_saved_again_counts_once_and_a_running_one_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let connector = ConnectorId::new();
        let now = datetime!(2026-05-31 12:30 UTC);
        let mut job = finished(connector, JobStatus::Completed, now, 3, 0);
        job.status = JobStatus::Running;
        jobs::save_with_events(&store, &job, &[]).unwrap();
        assert_eq!(windows(&store, connector, now)[0].runs, 0, "a running job is not a run yet");
        job.status = JobStatus::Completed;
        jobs::save(&store, &job).unwrap();
        jobs::save(&store, &job).unwrap();
        let [day, ..] = windows(&store, connector, now);
        assert_eq!((day.runs, day.files_synced), (1, 3));
    }

    #[test]
    fn an_older_database_gets_its_rollups_from_the_jobs_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let connector = ConnectorId::new();
        let now = OffsetDateTime::now_utc();
        let job = finished(connector, JobStatus::Completed, now, 4, 1);
        {
            // A schema-3 database: the job is there, no rollup table yet.
            let store = Store::open(&path).unwrap();
            let txn = store.db().begin_write().unwrap();
            let key = codec::pair(connector.to_bytes(), job.id.to_bytes());
            txn.open_table(crate::store::tables::JOBS).unwrap().insert(key, codec::encode(&job).as_slice()).unwrap();
            txn.delete_table(JOB_HOURS).unwrap();
            txn.delete_table(JOB_LAST_SUCCESS).unwrap();
            let mut meta = txn.open_table(crate::store::tables::META).unwrap();
            meta.insert("schema_version", 3u32.to_be_bytes().as_slice()).unwrap();
            drop(meta);
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let [day, ..] = windows(&store, connector, now);
        assert_eq!((day.runs, day.files_synced, day.file_errors), (1, 4, 1));
        let txn = store.db().begin_read().unwrap();
        let last = last_success(&txn.open_table(JOB_LAST_SUCCESS).unwrap(), connector).unwrap();
        assert_eq!(last.map(|l| l.job_id), Some(job.id));
    }
}
