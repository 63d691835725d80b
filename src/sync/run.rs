//! One whole run: list, reconcile, hash what the plan asks for, check the safety guard, execute.
//!
//! This is the only glue between the pure parts; the connector actor calls [`plan_run`] and [`Executor`] (or
//! [`run`] for both) inside its run task.

use futures::Stream;
use time::OffsetDateTime;

use super::decide::Decision;
use super::entry::{BaseRecord, HashKind, SideId};
use super::execute::{BaseSink, Executor, Observer, Outcome, RunStatus, StopSignal};
use super::merge::MergeError;
use super::plan::Plan;
use super::reconcile::{Context, reconcile_streams, settle};
use super::safety::{SafetyAbort, check};
use super::side::{Disposition, DriveSide, Side, SideError};

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

/// Lists both sides, reconciles them with the base, hashes the rows that need it and checks the guard.
pub async fn plan_run<S, D, BS, BE>(source: &S, drive: &D, base: BS, ctx: &Context) -> Result<Plan, PlanError>
where
    S: Side,
    D: Side,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
{
    let mut plan = reconcile_streams(source.list(), drive.list(), base, ctx).await?;
    for mut row in std::mem::take(&mut plan.pending) {
        let Decision::NeedHash(sides) = ctx.decide(&row) else {
            settle(&mut plan, row, ctx);
            continue;
        };
        let mut failed = None;
        for side in sides {
            let hashed = match side {
                SideId::Source => source.hash(row.current_path(side), HashKind::Sha256).await,
                SideId::Drive => drive.hash(row.current_path(side), HashKind::Sha256).await,
            };
            match hashed.map(|h| h.as_sha256()) {
                Ok(Some(sha)) => row.set_sha(side, sha),
                Ok(None) => {
                    failed = Some(SideError::new(super::side::ErrorCode::Internal, "side returned another hash kind"))
                }
                Err(error) if error.disposition() == Disposition::StopRun => {
                    return Err(PlanError::Side { side, error });
                }
                Err(error) => failed = Some(error),
            }
        }
        match failed {
            Some(error) => plan.errors.push((row.path().clone(), error)),
            // Decided once more; a row still short of hashes (a side that does not hash) is left for next run.
            None => match ctx.decide(&row) {
                Decision::NeedHash(_) => {}
                _ => settle(&mut plan, row, ctx),
            },
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
    match plan_run(source, drive, base, ctx).await {
        Ok(plan) => Executor::new(source, drive, sink, observer, stop, now).execute(&plan).await,
        Err(e) => Outcome {
            status: RunStatus::Failed { code: e.code(), message: e.to_string() },
            counters: Default::default(),
        },
    }
}
