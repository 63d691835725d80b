//! One actor per connector: it owns the connector's run. Idle, Running or Paused. A run is a task the actor
//! spawns and hears back from (`RunFinished`), never one long `handle`, so the actor keeps answering while files
//! move: a second manual sync is refused, a scheduled run that finds one running is recorded as skipped, and
//! Pause reaches the run between files through its stop flag. Resume continues the paused job.
//!
//! Talks to: the connectors supervisor (which spawns it), the scheduler (`Sync` with `Trigger::Schedule`), the
//! API (`Sync`, `Pause`, `Resume`, `GetState`, `Resolve`). A conflict resolution is a run too (one path, its own
//! job), so it never races a sync: refused while a run goes on or the connector is paused. The run itself is started by the launcher, which builds the
//! transports (SMB or SharePoint, and the drive) and calls `connectors::runner`.

use std::sync::Arc;

use futures::future::BoxFuture;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use crate::audit::AuditActor;
use crate::clock::SharedClock;
use crate::connectors::jobs::{self, Job, JobError, JobStatus, Trigger};
use crate::connectors::resolution::ResolutionOrder;
use crate::connectors::{Connector, Connectors, file_states};
use crate::ids::{ConflictId, ConnectorId, JobId};
use crate::store::StoreError;
use crate::sync::conflict::{ConflictRecord, Resolution};
use crate::sync::execute::StopFlag;

/// What a launcher is given: the connector as configured now, the job to run (new, or a paused one resumed),
/// the flag that stops it between files, and what the run is for.
pub struct RunOrder {
    pub connector: Connector,
    pub job: Job,
    pub stop: StopFlag,
    pub work: Work,
}

/// What a run does.
pub enum Work {
    Sync,
    /// Carry out an admin's choice on one open conflict.
    Resolve(Box<ResolutionOrder>),
}

/// Builds a run's transports and carries the run out, returning the job as it ended; the actor records that
/// end. Injected so tests can run connectors over in-memory sides.
pub type Launcher = Arc<dyn Fn(RunOrder) -> BoxFuture<'static, Job> + Send + Sync>;

pub enum ConnectorMessage {
    /// Start a run now. Refused (manual) or recorded as skipped (scheduled) when one is running or paused.
    Sync {
        trigger: Trigger,
        force: bool,
        full_sync: bool,
        reply: RpcReplyPort<Result<JobId, SyncRefused>>,
    },
    /// Stop the running job between files and keep it for Resume; with nothing running, hold scheduled runs.
    Pause(RpcReplyPort<Result<RunState, StoreError>>),
    /// Continue the paused job (or just lift the pause).
    Resume(RpcReplyPort<Result<RunState, StoreError>>),
    GetState(RpcReplyPort<RunState>),
    /// Resolve an open conflict; the answer comes when the resolution has run.
    Resolve {
        conflict: ConflictId,
        choice: Resolution,
        by: AuditActor,
        reply: ResolveReply,
    },
    /// The run task ended.
    RunFinished(Job),
}

/// Why a sync did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRefused {
    /// A run is going on: its job.
    Running(JobId),
    Paused,
    Store(String),
}

/// The answer to a resolution: the closed record and the job that carried it out.
pub type ResolveReply = RpcReplyPort<Result<(ConflictRecord, JobId), ResolveRefused>>;

/// Why a resolution did not go through.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveRefused {
    /// A run is going on: its job.
    Running(JobId),
    Paused,
    NotFound,
    /// Resolved before: the record with its resolution.
    AlreadyResolved(Box<ConflictRecord>),
    /// The resolution ran and did not complete: its job and why (`CONFLICT_CHANGED`, a per-file code).
    Failed {
        job: JobId,
        error: JobError,
    },
    Store(String),
}

/// The connector's state as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunState {
    Idle,
    Running {
        #[schema(value_type = String)]
        job_id: JobId,
        pausing: bool,
    },
    Paused {
        #[schema(value_type = Option<String>)]
        job_id: Option<JobId>,
    },
}

pub struct ConnectorActor;

pub struct ConnectorArgs {
    pub id: ConnectorId,
    pub connectors: Connectors,
    pub launcher: Launcher,
    pub clock: SharedClock,
}

pub struct ConnectorState {
    args: ConnectorArgs,
    run: Run,
    /// The resolution running now and who waits for its answer.
    resolving: Option<(JobId, ConflictId, ResolveReply)>,
}

enum Run {
    Idle,
    Running { job: JobId, stop: StopFlag, pausing: bool },
    Paused { job: Option<Job> },
}

impl Run {
    fn view(&self) -> RunState {
        match self {
            Run::Idle => RunState::Idle,
            Run::Running { job, pausing, .. } => RunState::Running { job_id: *job, pausing: *pausing },
            Run::Paused { job } => RunState::Paused { job_id: job.as_ref().map(|j| j.id) },
        }
    }
}

impl Actor for ConnectorActor {
    type Msg = ConnectorMessage;
    type State = ConnectorState;
    type Arguments = ConnectorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ConnectorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let connectors = args.connectors.clone();
        let id = args.id;
        let connector = blocking(move || connectors.get(id)).await?;
        let run = if connector.paused { Run::Paused { job: latest_paused_job(&args, id).await? } } else { Run::Idle };
        Ok(ConnectorState { args, run, resolving: None })
    }

    /// Shutdown or deletion: a running job stops at its next safe point (between files). Its record stays
    /// `running`, and the next start closes it as interrupted; what it committed stays.
    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if let Run::Running { stop, .. } = &state.run {
            stop.request_stop();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConnectorMessage::Sync { trigger, force, full_sync, reply } => {
                let answer = match &state.run {
                    Run::Running { job, .. } => {
                        refuse(state, trigger, SyncRefused::Running(*job), "a run was already in progress").await
                    }
                    Run::Paused { .. } => refuse(state, trigger, SyncRefused::Paused, "the connector is paused").await,
                    Run::Idle => {
                        let mut job = Job::new(state.args.id, trigger, state.args.clock.now());
                        job.force = force;
                        job.full_sync = full_sync;
                        start(&myself, state, job, Work::Sync).await.map_err(|e| SyncRefused::Store(e.to_string()))
                    }
                };
                let _ = reply.send(answer);
            }
            ConnectorMessage::Pause(reply) => {
                let answer = pause(state).await;
                let _ = reply.send(answer);
            }
            ConnectorMessage::Resume(reply) => {
                let answer = resume(&myself, state).await;
                let _ = reply.send(answer);
            }
            ConnectorMessage::GetState(reply) => {
                let _ = reply.send(state.run.view());
            }
            ConnectorMessage::Resolve { conflict, choice, by, reply } => {
                match begin_resolution(&myself, state, conflict, choice, by).await {
                    Ok(job) => state.resolving = Some((job, conflict, reply)),
                    Err(refused) => {
                        let _ = reply.send(Err(refused));
                    }
                }
            }
            ConnectorMessage::RunFinished(job) => {
                // The job's end is recorded here, where the connector becomes free, so nobody sees a finished
                // job on a connector that still refuses to start another.
                let store = state.args.connectors.store().clone();
                let saved = job.clone();
                if let Err(error) = blocking(move || jobs::save(&store, &saved)).await {
                    tracing::error!(%error, job = %job.id, "could not record the end of a run");
                }
                if state.resolving.as_ref().is_some_and(|(id, ..)| *id == job.id)
                    && let Some((_, conflict, reply)) = state.resolving.take()
                {
                    let _ = reply.send(resolution_answer(state, &job, conflict).await);
                }
                state.run = match job.status {
                    JobStatus::Paused => Run::Paused { job: Some(job) },
                    _ if matches!(state.run, Run::Running { pausing: true, .. }) => Run::Paused { job: None },
                    _ => Run::Idle,
                };
            }
        }
        Ok(())
    }
}

/// Runs a blocking store call; any failure, including a panicked worker, is a store failure to this actor.
async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, StoreError> {
    let io = |e: String| StoreError::Io(std::io::Error::other(e));
    tokio::task::spawn_blocking(work).await.map_err(|e| io(e.to_string()))?.map_err(|e| io(e.to_string()))
}

/// A refused sync: a scheduled one is recorded as a skipped job, so the job list shows the decision.
async fn refuse(
    state: &ConnectorState,
    trigger: Trigger,
    why: SyncRefused,
    reason: &str,
) -> Result<JobId, SyncRefused> {
    if trigger == Trigger::Schedule {
        let skipped = Job::skipped(state.args.id, reason, state.args.clock.now());
        let store = state.args.connectors.store().clone();
        if let Err(error) = blocking(move || jobs::save(&store, &skipped)).await {
            tracing::error!(%error, "could not record a skipped scheduled run");
        }
    }
    Err(why)
}

/// Starts the resolution of an open conflict as a job, when nothing else runs.
async fn begin_resolution(
    myself: &ActorRef<ConnectorMessage>,
    state: &mut ConnectorState,
    conflict: ConflictId,
    choice: Resolution,
    by: AuditActor,
) -> Result<JobId, ResolveRefused> {
    match &state.run {
        Run::Running { job, .. } => return Err(ResolveRefused::Running(*job)),
        Run::Paused { .. } => return Err(ResolveRefused::Paused),
        Run::Idle => {}
    }
    let (store, id) = (state.args.connectors.store().clone(), state.args.id);
    let found = blocking(move || -> Result<_, StoreError> {
        Ok(match file_states::conflict(&store, id, conflict)? {
            Some(open) => Ok(open),
            None => Err(file_states::resolved_conflict(&store, id, conflict)?),
        })
    })
    .await
    .map_err(|e| ResolveRefused::Store(e.to_string()))?;
    let record = match found {
        Ok(open) => open,
        Err(Some(resolved)) => return Err(ResolveRefused::AlreadyResolved(Box::new(resolved))),
        Err(None) => return Err(ResolveRefused::NotFound),
    };
    let job = Job::new(id, Trigger::Resolution, state.args.clock.now());
    let work = Work::Resolve(Box::new(ResolutionOrder { record, choice, by }));
    start(myself, state, job, work).await.map_err(|e| ResolveRefused::Store(e.to_string()))
}

/// The answer to a resolution, once its job ended: the closed record, or why not.
async fn resolution_answer(
    state: &ConnectorState,
    job: &Job,
    conflict: ConflictId,
) -> Result<(ConflictRecord, JobId), ResolveRefused> {
    let failed = |error: JobError| ResolveRefused::Failed { job: job.id, error };
    if job.status != JobStatus::Completed {
        let unknown = || JobError { code: "INTERNAL".into(), message: "the resolution did not complete".into() };
        return Err(failed(job.error.clone().unwrap_or_else(unknown)));
    }
    let (store, id) = (state.args.connectors.store().clone(), state.args.id);
    match blocking(move || file_states::resolved_conflict(&store, id, conflict)).await {
        Ok(Some(record)) => Ok((record, job.id)),
        Ok(None) => Err(ResolveRefused::NotFound),
        Err(e) => Err(ResolveRefused::Store(e.to_string())),
    }
}

/// Spawns the run task for `job` and marks the connector running.
async fn start(
    myself: &ActorRef<ConnectorMessage>,
    state: &mut ConnectorState,
    job: Job,
    work: Work,
) -> Result<JobId, StoreError> {
    let connectors = state.args.connectors.clone();
    let id = state.args.id;
    let connector = blocking(move || connectors.get(id)).await?;
    // Recorded before its id is handed out, so a client can read the job it was just given.
    let (store, queued) = (state.args.connectors.store().clone(), job.clone());
    blocking(move || jobs::save(&store, &queued)).await?;
    let stop = StopFlag::default();
    let job_id = job.id;
    let run = (state.args.launcher)(RunOrder { connector, job, stop: stop.clone(), work });
    let me = myself.clone();
    tokio::spawn(async move {
        let finished = run.await;
        // The actor may be gone (connector deleted, shutdown): then nobody waits for the result.
        let _ = me.cast(ConnectorMessage::RunFinished(finished));
    });
    state.run = Run::Running { job: job_id, stop, pausing: false };
    Ok(job_id)
}

async fn set_paused(state: &ConnectorState, paused: bool) -> Result<(), StoreError> {
    let connectors = state.args.connectors.clone();
    let id = state.args.id;
    let field = if paused { "paused" } else { "resumed" };
    blocking(move || {
        connectors.update(&crate::principals::Acting::system(), id, vec![field.to_owned()], None, |c| {
            c.paused = paused;
            Ok(())
        })
    })
    .await?;
    Ok(())
}

async fn pause(state: &mut ConnectorState) -> Result<RunState, StoreError> {
    set_paused(state, true).await?;
    match &mut state.run {
        Run::Running { stop, pausing, .. } => {
            stop.request_stop();
            *pausing = true;
        }
        Run::Idle => state.run = Run::Paused { job: None },
        Run::Paused { .. } => {}
    }
    Ok(state.run.view())
}

async fn resume(myself: &ActorRef<ConnectorMessage>, state: &mut ConnectorState) -> Result<RunState, StoreError> {
    set_paused(state, false).await?;
    match std::mem::replace(&mut state.run, Run::Idle) {
        Run::Paused { job: Some(mut job) } => {
            job.status = JobStatus::Queued;
            job.trigger = Trigger::Resume;
            start(myself, state, job, Work::Sync).await?;
        }
        Run::Running { job, stop, .. } => state.run = Run::Running { job, stop, pausing: false },
        Run::Paused { job: None } | Run::Idle => {}
    }
    Ok(state.run.view())
}

/// After a restart: the paused job to resume, if the latest job was paused.
async fn latest_paused_job(args: &ConnectorArgs, id: ConnectorId) -> Result<Option<Job>, StoreError> {
    let store = args.connectors.store().clone();
    let (latest, _) = blocking(move || jobs::list(&store, id, None, 1)).await?;
    Ok(latest.into_iter().next().filter(|j| j.status == JobStatus::Paused))
}
