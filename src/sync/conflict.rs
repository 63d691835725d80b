//! Conflict records (MANUAL strategy), their resolution, and `(conflict)` naming.
//!
//! Resolution is a pure function from an open record and an admin's choice to plan actions. The actions carry the
//! entries as recorded, so if either side changed since, the executor's preconditions refuse them and the next
//! run sees the path afresh.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::ConflictId;

use super::entry::{BaseRecord, Entry, Kind, SideId};
use super::path::SyncPath;
use super::plan::Action;

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
