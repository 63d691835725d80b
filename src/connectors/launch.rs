//! Starting a run for real: unseal the credentials, log in to the source, open the drive side on the target
//! folder, and run the engine (`runner::run_job`). A run that cannot start (wrong password, unreachable server,
//! unknown share) ends as a failed job with the transport's stable code; an authentication failure and a safety
//! abort are also audit events, so an admin sees them without reading job logs.

use std::sync::Arc;

use ractor::ActorRef;

use super::jobs::{Job, JobError, JobStatus};
use super::{Connector, Connectors};
use super::{resolution, runner};
use crate::actors::connector::{Launcher, RunOrder, Work};
use crate::actors::identity::IdentityMessage;
use crate::actors::throttle::ThrottleMessage;
use crate::actors::transfer_budget::ThrottleBudget;
use crate::audit::{self, AuditActor, AuditEvent};
use crate::clock::SharedClock;
use crate::drive::{Drive, DrivePath};
use crate::identity::smb::AfterRun;
use crate::sides::drive::DriveSide;
use crate::sides::smb::side::SmbSide;
use crate::sides::smb::{SmbClient, SmbConfig};
use crate::store::Store;

/// Why a run could not start: a stable code and a message for the job.
struct NotStarted(String, String);

/// The launcher the appliance gives its connector actors; `identity` serves the runs that sync permissions,
/// `throttle` paces their transfers.
pub fn launcher(
    connectors: Connectors,
    drive: Drive,
    identity: ActorRef<IdentityMessage>,
    throttle: ActorRef<ThrottleMessage>,
) -> Launcher {
    Arc::new(move |order: RunOrder| {
        let (connectors, drive, identity, throttle) =
            (connectors.clone(), drive.clone(), identity.clone(), throttle.clone());
        Box::pin(async move {
            let store = connectors.store().clone();
            let clock = connectors.clock().clone();
            let job = order.job.clone();
            let finished = match run(&connectors, drive, &identity, throttle, order).await {
                Ok(job) => job,
                Err(NotStarted(code, message)) => fail(&clock, job, code, message),
            };
            audit_outcome(&store, &clock, &finished).await;
            finished
        })
    })
}

async fn run(
    connectors: &Connectors,
    drive: Drive,
    identity: &ActorRef<IdentityMessage>,
    throttle: ActorRef<ThrottleMessage>,
    order: RunOrder,
) -> Result<Job, NotStarted> {
    let RunOrder { connector, job, stop, work } = order;
    let source = connect_smb(connectors, &connector).await?;
    let target = DrivePath::parse(&connector.common.target_path)
        .map_err(|e| NotStarted("VALIDATION_FAILED".into(), e.to_string()))?;
    let drive_side = DriveSide::open(drive.clone(), connector.common.target_share_id, target, connector.id)
        .await
        .map_err(|e| NotStarted(e.code.as_str().to_owned(), e.to_string()))?
        .with_budget(Arc::new(ThrottleBudget::new(throttle, connector.id, connector.common.max_bytes_per_second)));
    let store = connectors.store().clone();
    let clock = connectors.clock().clone();
    let order = match work {
        Work::Sync => None,
        Work::Resolve(order) => Some(order),
    };
    // A resolution moves one path and ends there: the permissions pass belongs to sync runs.
    let finished = match &order {
        Some(order) => resolution::resolve_job(&store, &clock, job, order, &source, &drive_side).await,
        None => runner::run_job(&store, &clock, &connector.common, job, &source, &drive_side, &stop).await,
    };
    // Owners and ACEs, when the connector syncs permissions (issue 7): after the content, on the same session.
    let finished = match finished {
        Ok(job) if order.is_none() => {
            let client = source.client();
            let after = AfterRun {
                identity,
                store: &store,
                clock: &clock,
                drive: &drive,
                connector: &connector,
                client,
                stop: &stop,
            };
            Ok(after.apply(job).await)
        }
        other => other,
    };
    if let Err(error) = source.client().shutdown().await {
        tracing::debug!(%error, connector = %connector.id, "SMB logoff after the run failed");
    }
    finished.map_err(|e| NotStarted("INTERNAL".into(), e.to_string()))
}

async fn connect_smb(connectors: &Connectors, connector: &Connector) -> Result<SmbSide, NotStarted> {
    let config = smb_config(connectors, connector).map_err(|e| NotStarted("INTERNAL".into(), e))?;
    let client = SmbClient::connect(config).await.map_err(|e| NotStarted(e.code().to_owned(), e.to_string()))?;
    Ok(SmbSide::new(Arc::new(client)))
}

/// The SMB client configuration of a connector, its password unsealed (runs and the `test` endpoint).
pub fn smb_config(connectors: &Connectors, connector: &Connector) -> Result<SmbConfig, String> {
    let smb = connector.smb.as_ref().ok_or_else(|| "not an SMB connector".to_owned())?;
    let password = connectors.secret(connector, "password").map_err(|e| e.to_string())?;
    let mut config =
        SmbConfig::new(&smb.server_host, smb.server_port, &smb.share_name, &smb.username, password.expose());
    config.base_path = smb.base_path.clone();
    config.domain = smb.domain.clone();
    Ok(config)
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
