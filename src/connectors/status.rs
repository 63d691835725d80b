//! A connector's health from the store, read in one snapshot: the last successful run, the rolled-up day, week
//! and month (`job_stats`), and the queue of paths waiting for the next run (per-file errors to retry, open
//! conflicts to resolve). The API adds what only the live appliance knows (run state, storage).

use redb::ReadableDatabase;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::file_states::prefix_range;
use super::job_stats::{self, LastSuccess, Totals};
use crate::ids::ConnectorId;
use crate::store::tables::{CONFLICTS, FILE_ERRORS, JOB_HOURS, JOB_LAST_SUCCESS};
use crate::store::{Store, StoreError, codec};

/// Totals of the runs that ended in the last day, week and month (30 days), by whole hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Windows {
    pub last_day: Totals,
    pub last_week: Totals,
    pub last_month: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub last_success: Option<LastSuccess>,
    #[serde(flatten)]
    pub windows: Windows,
    /// Paths whose last attempt failed: the next run tries them again.
    pub pending_files: u64,
    /// Conflicts waiting for a decision (strategy `MANUAL`).
    pub open_conflicts: u64,
}

pub fn summary(store: &Store, connector: ConnectorId, now: OffsetDateTime) -> Result<Summary, StoreError> {
    let txn = store.db().begin_read()?;
    let hours = txn.open_table(JOB_HOURS)?;
    let window = |days| job_stats::totals_since(&hours, connector, now - Duration::days(days), now);
    let windows = Windows { last_day: window(1)?, last_week: window(7)?, last_month: window(30)? };
    let last_success = job_stats::last_success(&txn.open_table(JOB_LAST_SUCCESS)?, connector)?;
    let (start, end) = prefix_range(connector);
    let errors = txn.open_table(FILE_ERRORS)?;
    let mut pending_files = 0;
    for row in errors.range(start.as_slice()..end.as_slice())? {
        row?;
        pending_files += 1;
    }
    let conflicts = txn.open_table(CONFLICTS)?;
    let mut open_conflicts = 0;
    for row in conflicts.range(codec::pairs_of(connector.to_bytes()))? {
        row?;
        open_conflicts += 1;
    }
    Ok(Summary { last_success, windows, pending_files, open_conflicts })
}
