//! Carrying out an admin's resolution of a MANUAL conflict, as a job of its own (trigger `resolution`) so the
//! job log shows what moved. The engine does the work (`sync::conflict::carry_out`: the chosen content wins on
//! both sides, the other stays a drive version); this closes the record with its audit event when it went
//! through, or refreshes it when a side changed since the admin looked.

use super::file_states;
use super::jobs::{Job, JobStatus};
use super::progress::JobLog;
use super::runner::{Failure, FileStateSink, Status, finish, start};
use crate::audit::{AuditActor, AuditEvent};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};
use crate::sync::conflict::{ConflictRecord, Resolution, ResolveError, carry_out};
use crate::sync::execute::RunStatus;
use crate::sync::{DriveSide, Side};

/// The stable code of a resolution refused because a side changed since the conflict was found.
pub const CONFLICT_CHANGED: &str = "CONFLICT_CHANGED";

/// What the admin asked for, and who asked (for the audit event).
#[derive(Debug, Clone)]
pub struct ResolutionOrder {
    pub record: ConflictRecord,
    pub choice: Resolution,
    pub by: AuditActor,
}

/// Runs the resolution and returns the finished job: `completed` when the record is closed, `failed` with a
/// stable code otherwise (`CONFLICT_CHANGED`, or the per-file code of the transfer that failed).
pub async fn resolve_job<S: Side, D: DriveSide>(
    store: &Store,
    clock: &SharedClock,
    mut job: Job,
    order: &ResolutionOrder,
    source: &S,
    drive: &D,
) -> Result<Job, StoreError> {
    let connector = job.connector_id;
    start(store, clock, &mut job).await?;
    let mut sink = FileStateSink { store: store.clone(), connector };
    let mut log = JobLog::quiet(clock);
    let record = &order.record;
    let outcome = carry_out(source, drive, record, order.choice, &mut sink, &mut log, clock.now()).await;
    let ending = match outcome {
        Ok(outcome) => {
            log.counters = outcome.counters;
            match outcome.status {
                RunStatus::Completed => {
                    let now = clock.now();
                    let event =
                        AuditEvent::new("sync.conflict_resolved", order.by.clone(), Some(connector.to_string()), now)
                            .with_details(serde_json::json!({
                                "conflict_id": record.id,
                                "path": record.path,
                                "resolution": order.choice,
                                "job_id": job.id,
                            }));
                    let (s, id, choice) = (store.clone(), record.id, order.choice);
                    let closed = tokio::task::spawn_blocking(move || {
                        file_states::mark_resolved(&s, connector, id, choice, now, event)
                    })
                    .await
                    .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
                    match closed {
                        Some(_) => Status(JobStatus::Completed),
                        None => Failure("NOT_FOUND".into(), "the conflict was closed meanwhile".into()),
                    }
                }
                RunStatus::Failed { code, message } => Failure(code.into(), message),
                // A per-file failure: the transfer that failed says why (locked, denied, changed meanwhile).
                _ => match log.failures.first() {
                    Some(f) => Failure(f.code.clone(), f.message.clone()),
                    None => Failure("INTERNAL".into(), "the resolution did not complete".into()),
                },
            }
        }
        Err(ResolveError::Changed { source_now: source, drive_now: drive }) => {
            let (s, id) = (store.clone(), record.id);
            let (source, drive) = (source.map(|e| *e), drive.map(|e| *e));
            tokio::task::spawn_blocking(move || file_states::refresh_conflict(&s, connector, id, source, drive))
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
            Failure(CONFLICT_CHANGED.into(), "the file changed since the conflict was found: look at it again".into())
        }
        Err(ResolveError::Side { error, .. }) => Failure(error.code.as_str().into(), error.message),
    };
    finish(store, clock, job, ending, &mut log).await
}
