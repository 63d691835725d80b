//! The safety guard: a run that would delete too much, or that sees a side empty while the base is not, stops
//! before changing anything (`SAFETY_ABORT`), unless an admin reruns it with `force`.
//!
//! Why: an unmounted share, a wrong base path or an expired permission looks exactly like "everything was
//! deleted". The guard trades a failed job for never propagating that.

use super::config::RunConfig;
use super::entry::SideId;
use super::plan::Plan;

/// Why the guard stopped a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyAbort {
    #[error("the {side} side listed nothing while {tracked} paths are tracked; rerun with force if this is intended")]
    EmptyListing { side: SideId, tracked: u64 },
    #[error(
        "the run would delete {deletes} of {tracked} tracked files on the {side} side (limit {limit}%); \
         rerun with force if this is intended"
    )]
    TooManyDeletes { side: SideId, deletes: u64, tracked: u64, limit: u8 },
}

impl SafetyAbort {
    pub fn code(&self) -> &'static str {
        "SAFETY_ABORT"
    }
}

/// Checks a settled plan (no pending rows) against the guard.
pub fn check(plan: &Plan, config: &RunConfig) -> Result<(), SafetyAbort> {
    if config.force {
        return Ok(());
    }
    let stats = &plan.stats;
    if stats.base_records > 0 {
        for (side, listed) in [(SideId::Source, stats.source_listed), (SideId::Drive, stats.drive_listed)] {
            if listed == 0 {
                return Err(SafetyAbort::EmptyListing { side, tracked: stats.base_records });
            }
        }
    }
    let limit = config.settings.max_delete_percent;
    for side in [SideId::Source, SideId::Drive] {
        let deletes = plan.file_deletes(side);
        if deletes > 0 && deletes.saturating_mul(100) > u64::from(limit).saturating_mul(stats.tracked_files) {
            return Err(SafetyAbort::TooManyDeletes { side, deletes, tracked: stats.tracked_files, limit });
        }
    }
    Ok(())
}
