//! A plan: what a run will do, decided before anything is done.
//!
//! Actions name the entry they expect to find (as listed), so the executor can refuse to act on anything that
//! changed since. They run in three phases: moves (parents first), then transfers, folder creations and base
//! records in path order, then deletes (children first), so a file moved out of a deleted folder is moved before
//! the folder goes, and a folder is only deleted once empty.

use crate::ids::ConflictId;

use super::decide::Row;
use super::entry::{BaseRecord, Entry, Sha256Digest, SideId};
use super::path::SyncPath;
use super::side::SideError;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Copies a file from `from` to the other side at the same path, overwriting `dest` if given (as listed) or
    /// creating it (must not exist). Overwriting or replacing on the source first saves the source's content
    /// into the drive's versions.
    Copy { from: SideId, origin: Entry, dest: Option<Entry> },
    /// Creates on side `on` the folder that `origin` (on the other side) is.
    MakeFolder { on: SideId, origin: Entry },
    /// Deletes `entry` on side `on` (recoverably: drive trash, or a drive version of the source's content).
    Delete { on: SideId, entry: Entry },
    /// Moves `entry` on side `on` from its path to `to`, following a rename by identity on the other side (or
    /// undoing one on the mirror side of a one-way connector). The base record moves from `old_base` to `base`.
    /// `implied` when a folder move of this run already carried the entry there: only the record moves.
    Move { on: SideId, entry: Entry, to: SyncPath, base: BaseRecord, old_base: SyncPath, implied: bool },
    /// Both sides hold the same content: record it as the base. Settles an open conflict when `settles` is set.
    Record { source: Entry, drive: Entry, sha256: Option<Sha256Digest>, settles: Option<ConflictId> },
    /// Stop tracking the path (gone on both sides, or newly filtered out).
    Forget { path: SyncPath },
    /// Keeps both contents: the `aside` side's entry moves to `name (conflict).ext` (then `(conflict 2)`, ...),
    /// and, when `both_sides`, is copied to the other side under that name; the other side's entry then takes the
    /// name on the `aside` side. Used for the KEEP_BOTH strategy and for a file against a folder.
    KeepBoth { source: Entry, drive: Entry, aside: SideId, both_sides: bool },
    /// MANUAL: nothing moves; a conflict record is opened for an admin.
    OpenConflict { source: Entry, drive: Entry, base: Option<BaseRecord> },
}

impl Action {
    /// The path the action is about (its destination for a move).
    pub fn path(&self) -> &SyncPath {
        match self {
            Action::Copy { origin, .. } | Action::MakeFolder { origin, .. } => &origin.path,
            Action::Delete { entry, .. } => &entry.path,
            Action::Move { to, .. } => to,
            Action::Record { drive, .. } => &drive.path,
            Action::Forget { path } => path,
            Action::KeepBoth { source, .. } | Action::OpenConflict { source, .. } => &source.path,
        }
    }

    /// A short stable name for the job log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Copy { from: SideId::Source, .. } => "copy_to_drive",
            Action::Copy { from: SideId::Drive, .. } => "copy_to_source",
            Action::MakeFolder { on: SideId::Drive, .. } => "make_folder_on_drive",
            Action::MakeFolder { on: SideId::Source, .. } => "make_folder_on_source",
            Action::Delete { on: SideId::Drive, .. } => "delete_on_drive",
            Action::Delete { on: SideId::Source, .. } => "delete_on_source",
            Action::Move { on: SideId::Drive, .. } => "move_on_drive",
            Action::Move { on: SideId::Source, .. } => "move_on_source",
            Action::Record { .. } => "record",
            Action::Forget { .. } => "forget",
            Action::KeepBoth { .. } => "keep_both",
            Action::OpenConflict { .. } => "open_conflict",
        }
    }
}

/// Something about a path that the job log shows but that changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// Differs only in case from a name on a case-insensitive destination, or only in Unicode normalisation from
    /// a name on a destination that stores NFC; left where it is.
    CaseCollision,
    /// The destination refuses the name; not pushed.
    InvalidName,
    /// A symlink, junction or other reparse point; not followed, not synced.
    SymlinkSkipped,
    /// Exists only on the mirror side of a one-way connector and was never tracked; left alone.
    Untracked,
    /// An open MANUAL conflict waits for an admin.
    ConflictPending,
}

impl ReportKind {
    pub fn code(self) -> &'static str {
        match self {
            ReportKind::CaseCollision => "CASE_COLLISION",
            ReportKind::InvalidName => "INVALID_NAME",
            ReportKind::SymlinkSkipped => "SYMLINK_SKIPPED",
            ReportKind::Untracked => "UNTRACKED",
            ReportKind::ConflictPending => "CONFLICT_PENDING",
        }
    }
}

/// A report about one path, from one side's point of view when that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub path: SyncPath,
    pub side: Option<SideId>,
    pub kind: ReportKind,
}

/// Counts the safety guard and the job record need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanStats {
    pub source_listed: u64,
    pub drive_listed: u64,
    pub base_records: u64,
    /// Files with a base record that the filters still include.
    pub tracked_files: u64,
    /// Entries on the mirror side of a one-way connector that were never tracked (only the first
    /// [`crate::sync::reconcile::UNTRACKED_REPORTED`] are reported by path).
    pub untracked: u64,
}

/// Everything a run will do.
#[derive(Debug, Default)]
pub struct Plan {
    pub moves: Vec<Action>,
    pub actions: Vec<Action>,
    pub deletes: Vec<Action>,
    pub reports: Vec<Report>,
    /// Rows whose decision needs content hashes first; see [`crate::sync::reconcile::settle`].
    pub pending: Vec<Row>,
    /// Per-file failures met while planning (a file that could not be hashed): logged, retried next run.
    pub errors: Vec<(SyncPath, SideError)>,
    pub stats: PlanStats,
}

impl Plan {
    /// True when the run would change nothing (reports aside): a second run after a clean one plans nothing.
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.actions.is_empty() && self.deletes.is_empty() && self.pending.is_empty()
    }

    /// Adds an action to its phase.
    pub fn push(&mut self, action: Action) {
        match action {
            Action::Move { .. } => self.moves.push(action),
            Action::Delete { .. } => self.deletes.push(action),
            _ => self.actions.push(action),
        }
    }

    /// Puts every phase in execution order: moves parents first, the rest in path order, deletes children first.
    pub fn order(&mut self) {
        self.moves.sort_by(|a, b| a.path().cmp(b.path()));
        self.actions.sort_by(|a, b| a.path().cmp(b.path()));
        self.deletes.sort_by(|a, b| b.path().cmp(a.path()));
    }

    /// File deletes planned on one side.
    pub fn file_deletes(&self, side: SideId) -> u64 {
        let count = self
            .deletes
            .iter()
            .filter(|a| matches!(a, Action::Delete { on, entry } if *on == side && !entry.is_folder()))
            .count();
        u64::try_from(count).unwrap_or(u64::MAX)
    }

    /// Every action in execution order.
    pub fn all_actions(&self) -> impl Iterator<Item = &Action> {
        self.moves.iter().chain(&self.actions).chain(&self.deletes)
    }
}
