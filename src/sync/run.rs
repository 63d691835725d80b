//! One whole run: list, reconcile, hash what the plan asks for, check the safety guard, execute.
//!
//! This is the only glue between the pure parts; the connector actor calls [`plan_run`] and [`Executor`] (or
//! [`run`] for both) inside its run task.

use futures::{Stream, StreamExt};
use time::OffsetDateTime;

use super::decide::Decision;
use super::decide::Row;
use super::entry::{BaseRecord, HashKind, SideId};
use super::execute::{BaseSink, Executor, Observer, Outcome, RunStatus, StopSignal};
use super::merge::MergeError;
use super::path::SyncPath;
use super::plan::Plan;
use super::reconcile::{Context, Reconciling, reconcile_streams, settle};
use super::safety::{SafetyAbort, check};
use super::side::{Disposition, DriveSide, ErrorCode, Side, SideError};

/// Why a run could not get to executing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Safety(#[from] SafetyAbort),
    #[error("hashing on the {side} side failed: {error}")]
    Side { side: SideId, error: SideError },
}

impl PlanError {
    /// The stable code the job record carries.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::Merge(MergeError::Listing { error, .. }) | PlanError::Side { error, .. } => error.code.as_str(),
            PlanError::Merge(_) => "INTERNAL",
            PlanError::Safety(s) => s.code(),
        }
    }
}

/// Files hashed at once while planning.
pub const HASH_CONCURRENCY: usize = 4;

enum HashFailure {
    /// This file only: logged, retried next run.
    File(SyncPath, SideError),
    /// The side is gone: the run stops.
    Run(SideId, SideError),
}

/// Fills in the SHA-256 a row needs.
async fn hash_row<S: Side, D: Side>(source: &S, drive: &D, mut row: Row, ctx: &Context) -> Result<Row, HashFailure> {
    let Decision::NeedHash(sides) = ctx.decide(&row) else { return Ok(row) };
    for side in sides {
        let hashed = match side {
            SideId::Source => source.hash(row.current_path(side), HashKind::Sha256).await,
            SideId::Drive => drive.hash(row.current_path(side), HashKind::Sha256).await,
        };
        match hashed.map(|h| h.as_sha256()) {
            Ok(Some(sha)) => row.set_sha(side, sha),
            Ok(None) => {
                let error = SideError::new(ErrorCode::Internal, "the side returned another hash kind than SHA-256");
                return Err(HashFailure::File(row.path().clone(), error));
            }
            Err(error) if error.disposition() == Disposition::StopRun => return Err(HashFailure::Run(side, error)),
            Err(error) => return Err(HashFailure::File(row.path().clone(), error)),
        }
    }
    Ok(row)
}

/// Lists both sides, reconciles them with the base, hashes the rows that need it and checks the guard.
pub async fn plan_run<S, D, BS, BE>(source: &S, drive: &D, base: BS, ctx: &Context) -> Result<Plan, PlanError>
where
    S: Side,
    D: Side,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
{
    let plan = reconcile_streams(source.list(), drive.list(), base, ctx).await?;
    settle_plan(source, drive, plan, ctx).await
}

/// Hashes the rows the walk left waiting, decides them, orders the plan and checks the guard.
async fn settle_plan<S: Side, D: Side>(
    source: &S,
    drive: &D,
    mut plan: Plan,
    ctx: &Context,
) -> Result<Plan, PlanError> {
    let pending = std::mem::take(&mut plan.pending);
    // A few hashes at a time: each may read a whole file over the network.
    let mut hashed = futures::stream::iter(pending.into_iter().map(|row| hash_row(source, drive, row, ctx)))
        .buffer_unordered(HASH_CONCURRENCY);
    let mut rows = Vec::new();
    while let Some(result) = hashed.next().await {
        match result {
            Ok(row) => rows.push(row),
            Err(HashFailure::File(path, error)) => plan.errors.push((path, error)),
            Err(HashFailure::Run(side, error)) => return Err(PlanError::Side { side, error }),
        }
    }
    for row in rows {
        match ctx.decide(&row) {
            // A row still short of hashes (a side that cannot hash) is left for the next run.
            Decision::NeedHash(_) => {}
            _ => settle(&mut plan, row, ctx),
        }
    }
    plan.order();
    check(&plan, &ctx.config)?;
    Ok(plan)
}

/// Plans and executes one run.
#[allow(clippy::too_many_arguments)]
pub async fn run<S, D, BS, BE, K, O>(
    source: &S,
    drive: &D,
    base: BS,
    ctx: &Context,
    sink: &mut K,
    observer: &mut O,
    stop: &dyn StopSignal,
    now: OffsetDateTime,
) -> Outcome
where
    S: Side,
    D: DriveSide,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
    K: BaseSink,
    O: Observer,
{
    run_inspected(source, drive, base, ctx, sink, observer, stop, now, &mut |_| {}).await.0
}

/// [`run`], showing `inspect` each plan (or part of one) before it is carried out, and returning why planning
/// failed when it did (the outcome is then `Failed` with its code, recording whatever parts ran before).
///
/// A first sync (empty base) is carried out in parts while the walk goes on (see
/// [`Reconciling::streams`]): its plan would otherwise hold one action per file of the tree. Any other run
/// plans everything first: moves run before the rest and the safety guard sees every delete before any runs.
#[allow(clippy::too_many_arguments)]
pub async fn run_inspected<S, D, BS, BE, K, O>(
    source: &S,
    drive: &D,
    base: BS,
    ctx: &Context,
    sink: &mut K,
    observer: &mut O,
    stop: &dyn StopSignal,
    now: OffsetDateTime,
    inspect: &mut (dyn FnMut(&Plan) + Send),
) -> (Outcome, Option<PlanError>)
where
    S: Side,
    D: DriveSide,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
    K: BaseSink,
    O: Observer,
{
    let mut executor = Executor::new(source, drive, sink, observer, stop, now);
    // Boxed, like the parts below: the walk and an executing part are alive at once, and unboxed their states
    // nest into one future large enough to overflow a 2 MiB thread stack in debug builds.
    match Box::pin(walk_and_execute(source, drive, base, ctx, &mut executor, inspect)).await {
        Ok(None) => (executor.complete().await, None),
        Ok(Some(ending)) => (executor.finish(ending).await, None),
        Err(e) => {
            let status = RunStatus::Failed { code: e.code(), message: e.to_string() };
            (executor.finish(status).await, Some(e))
        }
    }
}

/// Plans (in parts for a first sync) and carries the plan out; `Some(ending)` when the run ended early.
async fn walk_and_execute<S, D, BS, BE, K, O>(
    source: &S,
    drive: &D,
    base: BS,
    ctx: &Context,
    executor: &mut Executor<'_, S, D, K, O>,
    inspect: &mut (dyn FnMut(&Plan) + Send),
) -> Result<Option<RunStatus>, PlanError>
where
    S: Side,
    D: DriveSide,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
    K: BaseSink,
    O: Observer,
{
    let mut reconciling = Reconciling::start(source.list(), drive.list(), base, ctx).await?;
    if reconciling.streams() {
        while reconciling.advance().await? {
            let part = reconciling.take_part();
            inspect(&part);
            if let Some(ending) = Box::pin(executor.execute_part(&part)).await {
                return Ok(Some(ending));
            }
        }
    }
    let plan = Box::pin(settle_plan(source, drive, reconciling.finish().await?, ctx)).await?;
    inspect(&plan);
    Ok(Box::pin(executor.execute_part(&plan)).await)
}
