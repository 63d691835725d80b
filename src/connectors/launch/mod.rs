//! Starting a run for real: unseal the credentials, log in to the source, open the drive side on the target
//! folder, and run the engine (`runner::run_job`). One file per transport (`smb.rs`, `sharepoint.rs`); this
//! one dispatches and records the outcome. A run that cannot start (wrong password, unreachable server, unknown
//! share) ends as a failed job with the transport's stable code; an authentication failure and a safety abort
//! are also audit events, so an admin sees them without reading job logs.

mod sharepoint;
mod sharepoint_extras;
mod smb;

pub use smb::smb_config;

use std::sync::Arc;

use ractor::ActorRef;

use super::jobs::{Job, JobError, JobStatus};
use super::{Connector, ConnectorKind, Connectors};
use crate::actors::connector::{Launcher, RunOrder};
use crate::actors::identity::IdentityMessage;
use crate::actors::throttle::ThrottleMessage;
use crate::actors::transfer_budget::ThrottleBudget;
use crate::audit::{self, AuditActor, AuditEvent};
use crate::clock::SharedClock;
use crate::config::SharePointEndpoints;
use crate::drive::{Drive, DrivePath};
use crate::sides::drive::DriveSide;
use crate::store::Store;

/// Why a run could not start: a stable code and a message for the job.
struct NotStarted(String, String);

/// The launcher the appliance gives its connector actors; `identity` serves the runs that sync permissions,
/// `throttle` paces their transfers, `endpoints` is where SharePoint connectors find Microsoft's services.
pub fn launcher(
    connectors: Connectors,
    drive: Drive,
    identity: ActorRef<IdentityMessage>,
    throttle: ActorRef<ThrottleMessage>,
    endpoints: SharePointEndpoints,
) -> Launcher {
    Arc::new(move |order: RunOrder| {
        let (connectors, drive, identity, throttle, endpoints) =
            (connectors.clone(), drive.clone(), identity.clone(), throttle.clone(), endpoints.clone());
        Box::pin(async move {
            let store = connectors.store().clone();
            let clock = connectors.clock().clone();
            let job = order.job.clone();
            // Each kind's run is a large future: boxed, the launcher's own stays small whatever the kinds add
            // (a run polled on a test's thread overflowed its stack when they were inline).
            let ran = match order.connector.kind {
                ConnectorKind::Smb => Box::pin(smb::run(&connectors, drive, &identity, throttle, order)).await,
                ConnectorKind::Sharepoint => {
                    Box::pin(sharepoint::run(&connectors, drive, &identity, throttle, &endpoints, order)).await
                }
            };
            let finished = match ran {
                Ok(job) => job,
                Err(NotStarted(code, message)) => fail(&clock, job, code, message),
            };
            audit_outcome(&store, &clock, &finished).await;
            finished
        })
    })
}

/// The drive side on the connector's target folder, its transfers paced by the throttle actor
/// (`max_bytes_per_second` and the global cap).
async fn open_drive_side(
    drive: Drive,
    connector: &Connector,
    throttle: ActorRef<ThrottleMessage>,
) -> Result<DriveSide, NotStarted> {
    let target = DrivePath::parse(&connector.common.target_path)
        .map_err(|e| NotStarted("VALIDATION_FAILED".into(), e.to_string()))?;
    let side = DriveSide::open(drive, connector.common.target_share_id, target, connector.id)
        .await
        .map_err(|e| NotStarted(e.code.as_str().to_owned(), e.to_string()))?;
    let budget = ThrottleBudget::new(throttle, connector.id, connector.common.max_bytes_per_second);
    Ok(side.with_budget(Arc::new(budget)))
}

/// A run that could not start, as a failed job (the connector actor records it).
fn fail(clock: &SharedClock, mut job: Job, code: String, message: String) -> Job {
    job.status = JobStatus::Failed;
    job.started_at.get_or_insert(clock.now());
    job.finished_at = Some(clock.now());
    job.error = Some(JobError { code, message });
    job
}

/// `connector.auth_failed` and `sync.safety_abort` in the audit log.
async fn audit_outcome(store: &Store, clock: &SharedClock, job: &Job) {
    let Some(error) = &job.error else { return };
    let event_type = match error.code.as_str() {
        "CONNECTOR_AUTH_FAILED" => "connector.auth_failed",
        "SAFETY_ABORT" => "sync.safety_abort",
        _ => return,
    };
    let event = AuditEvent::new(
        event_type,
        AuditActor::Connector(job.connector_id),
        Some(job.connector_id.to_string()),
        clock.now(),
    )
    .with_details(serde_json::json!({ "job_id": job.id, "message": error.message }));
    let store = store.clone();
    let recorded = tokio::task::spawn_blocking(move || -> Result<(), crate::store::StoreError> {
        let txn = store.db().begin_write()?;
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    })
    .await;
    if let Ok(Err(error)) = recorded {
        tracing::error!(%error, "could not record an audit event");
    }
}
