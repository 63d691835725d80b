//! Conflict records (MANUAL strategy), their resolution, and `(conflict)` naming.
//!
//! Resolution is a pure function from an open record and an admin's choice to plan actions ([`resolve`]), and
//! [`carry_out`] runs them. The actions carry the entries as recorded, so an admin's choice applies to the
//! content they saw: if either side changed since, nothing moves and the record is refreshed for another look.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::ConflictId;

use super::entry::{BaseRecord, Entry, Kind, SideId};
use super::execute::{BaseSink, Executor, Observer, Outcome, StopFlag};
use super::path::SyncPath;
use super::plan::{Action, Plan};
use super::side::{DriveSide, Side, SideError};

/// An open or resolved conflict: both sides' entries when it was found, and the base they diverged from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictRecord {
    pub id: ConflictId,
    pub path: SyncPath,
    pub source: Entry,
    pub drive: Entry,
    pub base: Option<BaseRecord>,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// The admin's choice, once resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// An admin's choice (`POST .../conflicts/{cfl_id}/resolve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    KeepSource,
    KeepDrive,
    KeepBoth,
}

/// The actions that carry out a resolution. The executor settles the record once they succeed.
pub fn resolve(record: &ConflictRecord, choice: Resolution) -> Vec<Action> {
    let (source, drive) = (record.source.clone(), record.drive.clone());
    let copy = |from: SideId, origin: Entry, dest: Entry| {
        if origin.kind == Kind::Folder || dest.kind != origin.kind {
            Action::KeepBoth { source: source.clone(), drive: drive.clone(), aside: SideId::Drive, both_sides: true }
        } else {
            Action::Copy { from, origin, dest: Some(dest) }
        }
    };
    match choice {
        Resolution::KeepSource => vec![copy(SideId::Source, source.clone(), drive.clone())],
        Resolution::KeepDrive => vec![copy(SideId::Drive, drive.clone(), source.clone())],
        Resolution::KeepBoth => {
            vec![Action::KeepBoth {
                source: source.clone(),
                drive: drive.clone(),
                aside: SideId::Drive,
                both_sides: true,
            }]
        }
    }
}

/// Why a resolution did not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    /// A side changed (or lost) the path since the conflict was found: the admin chose between contents that are
    /// no longer there. The entries are as they stand now (`None`: gone).
    #[error("the file changed since the conflict was found; look at it again")]
    Changed { source_now: Option<Box<Entry>>, drive_now: Option<Box<Entry>> },
    #[error("looking at the {side} side failed: {error}")]
    Side { side: SideId, error: SideError },
}

/// Carries out an admin's choice on an open conflict: checks that both sides still hold what the record says,
/// then runs [`resolve`]'s actions through the executor (same transfers, preconditions and recoverability as a
/// run; base records go to `sink`). Never stops half-way on a pause: it is one path. The caller closes the
/// record when the outcome is `Completed`.
pub async fn carry_out<S: Side, D: DriveSide, K: BaseSink, O: Observer>(
    source: &S,
    drive: &D,
    record: &ConflictRecord,
    choice: Resolution,
    sink: &mut K,
    observer: &mut O,
    now: OffsetDateTime,
) -> Result<Outcome, ResolveError> {
    let side_error = |side| move |error| ResolveError::Side { side, error };
    let now_source = source.stat(&record.source.path).await.map_err(side_error(SideId::Source))?;
    let now_drive = drive.stat(&record.drive.path).await.map_err(side_error(SideId::Drive))?;
    let unchanged = |now: &Option<Entry>, then: &Entry| now.as_ref().is_some_and(|e| e.matches(&then.state()));
    if !unchanged(&now_source, &record.source) || !unchanged(&now_drive, &record.drive) {
        return Err(ResolveError::Changed { source_now: now_source.map(Box::new), drive_now: now_drive.map(Box::new) });
    }
    let mut plan = Plan::default();
    for action in resolve(record, choice) {
        plan.push(action);
    }
    plan.order();
    let never = StopFlag::default();
    Ok(Executor::new(source, drive, sink, observer, &never, now).execute(&plan).await)
}

/// `name (conflict).ext` for `n == 1`, `name (conflict n).ext` after. The extension is the last suffix of a file
/// name (not of a leading-dot name such as `.profile`); folders keep their whole name.
pub fn conflict_name(path: &SyncPath, n: u32, is_folder: bool) -> SyncPath {
    let name = path.name();
    let tag = if n <= 1 { "(conflict)".to_string() } else { format!("(conflict {n})") };
    let new_name = match name.rfind('.') {
        Some(i) if i > 0 && !is_folder => format!("{} {tag}{}", &name[..i], &name[i..]),
        _ => format!("{name} {tag}"),
    };
    path.with_name(&new_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names_keep_the_extension_and_count_up() {
        let p = SyncPath::new("dir/report.final.pdf");
        assert_eq!(conflict_name(&p, 1, false).as_str(), "dir/report.final (conflict).pdf");
        assert_eq!(conflict_name(&p, 2, false).as_str(), "dir/report.final (conflict 2).pdf");
        assert_eq!(conflict_name(&".profile".into(), 1, false).as_str(), ".profile (conflict)");
        assert_eq!(conflict_name(&"v1.0".into(), 1, true).as_str(), "v1.0 (conflict)");
        assert_eq!(conflict_name(&"Makefile".into(), 3, false).as_str(), "Makefile (conflict 3)");
    }
}
