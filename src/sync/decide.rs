//! The tables of SYNC.md as one pure function: a row (a path's source entry, drive entry and base record) in, one
//! decision out.
//!
//! Each side's entry is first classified against the base's record of that same side: unchanged, touched (time
//! or tag moved, content equal), changed, deleted, new, or unknown (same size, different time: only a hash can
//! tell). Unknown asks the caller for hashes ([`Decision::NeedHash`]) and the row is decided again with them, so
//! content is hashed only when size or time changed, and only when the answer matters.

use std::cmp::Ordering;

use crate::ids::ConflictId;

use super::config::{Direction, Strategy};
use super::entry::{BaseRecord, Entry, Kind, Sha256Digest, SideId, SideState};
use super::path::SyncPath;
use super::plan::{Action, ReportKind};

static ROOT: std::sync::LazyLock<SyncPath> = std::sync::LazyLock::new(|| SyncPath::new(""));

/// One path as both sides and the base see it. Entries are at [`Row::path`] (relocated there when paired by a
/// rename).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub source: Option<Entry>,
    pub drive: Option<Entry>,
    pub base: Option<BaseRecord>,
    /// SHA-256 of the source's current content, when known without reading it.
    pub source_sha: Option<Sha256Digest>,
    pub drive_sha: Option<Sha256Digest>,
    /// The side on which the user renamed or moved the entry to (or away from) this path.
    pub renamed: Option<SideId>,
    /// An open MANUAL conflict on this path.
    pub conflict: Option<ConflictId>,
    /// The side whose entry this plan moves here, and where that entry still is until the move runs (hashing
    /// during planning reads it there).
    pub moved_from: Option<(SideId, SyncPath)>,
}

impl Row {
    /// A row of what the streams held for one path; at least one of the three must be present.
    pub fn new(source: Option<Entry>, drive: Option<Entry>, base: Option<BaseRecord>) -> Self {
        Row { source, drive, base, source_sha: None, drive_sha: None, renamed: None, conflict: None, moved_from: None }
    }

    /// The row's path: every entry and the record of a row are at it.
    pub fn path(&self) -> &SyncPath {
        match (&self.source, &self.drive, &self.base) {
            (Some(e), _, _) | (None, Some(e), _) => &e.path,
            (None, None, Some(b)) => &b.path,
            // Rows are built from at least one item (the merge never yields an empty step); an empty row is
            // about the root, which is never synced.
            (None, None, None) => &ROOT,
        }
    }

    /// Where the entry of `side` can be read right now (before this plan's moves).
    pub fn current_path(&self, side: SideId) -> &SyncPath {
        match &self.moved_from {
            Some((moved, from)) if *moved == side => from,
            _ => self.path(),
        }
    }

    pub fn entry(&self, side: SideId) -> Option<&Entry> {
        match side {
            SideId::Source => self.source.as_ref(),
            SideId::Drive => self.drive.as_ref(),
        }
    }

    pub fn sha(&self, side: SideId) -> Option<Sha256Digest> {
        match side {
            SideId::Source => self.source_sha,
            SideId::Drive => self.drive_sha,
        }
    }

    pub fn set_sha(&mut self, side: SideId, sha: Sha256Digest) {
        match side {
            SideId::Source => self.source_sha = Some(sha),
            SideId::Drive => self.drive_sha = Some(sha),
        }
    }

    /// Fills the SHA-256 of each side that is known for free: the listing carries it, or the entry is exactly as
    /// the base recorded it, or its native hash equals the one the base recorded (quickXorHash on SharePoint).
    pub fn fill_known_hashes(&mut self) {
        for side in [SideId::Source, SideId::Drive] {
            if self.sha(side).is_some() {
                continue;
            }
            let Some(entry) = self.entry(side) else { continue };
            if entry.kind != Kind::File {
                continue;
            }
            let known = entry.sha256().or_else(|| {
                let base = self.base.as_ref()?;
                let state = base.side(side);
                let same_native = entry.hash.is_some() && entry.hash == state.hash && entry.size == state.size;
                if entry.matches(state) || same_native { base.sha256 } else { None }
            });
            if let Some(sha) = known {
                self.set_sha(side, sha);
            }
        }
    }
}

/// What to do with a row.
// One decision exists at a time, moved straight into the plan: boxing the action would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Nothing,
    Act(Action),
    Report(ReportKind, Option<SideId>),
    /// Decide again once these sides' SHA-256 is known.
    NeedHash(Vec<SideId>),
}

/// How one side stands against its base record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Absent,
    New,
    Same,
    /// Time or tag moved, content equal: the base needs refreshing, nothing moves.
    Touched,
    Changed,
    Deleted,
    /// Same size, other time or tag, and no hash yet.
    Unknown,
}

impl Change {
    fn unchanged(self) -> bool {
        matches!(self, Change::Same | Change::Touched)
    }
}

fn classify(
    entry: Option<&Entry>,
    base: Option<(&SideState, Option<Sha256Digest>)>,
    sha: Option<Sha256Digest>,
) -> Change {
    match (entry, base) {
        (None, None) => Change::Absent,
        (Some(_), None) => Change::New,
        (None, Some(_)) => Change::Deleted,
        (Some(e), Some((state, base_sha))) => {
            if e.kind != state.kind {
                Change::Changed
            } else if e.matches(state) {
                Change::Same
            } else if e.kind == Kind::Folder {
                Change::Touched
            } else if e.size != state.size {
                Change::Changed
            } else if native_hash_moved(e, state) {
                // The side's own hash moved (quickXorHash on SharePoint): changed, no download needed to know.
                Change::Changed
            } else {
                match (sha, base_sha) {
                    (Some(s), Some(b)) if s == b => Change::Touched,
                    (Some(_), _) => Change::Changed,
                    (None, _) => Change::Unknown,
                }
            }
        }
    }
}

/// Whether the side's native hash says the content differs from the base's record (same kind, other value).
fn native_hash_moved(entry: &Entry, state: &SideState) -> bool {
    match (&entry.hash, &state.hash) {
        (Some(now), Some(then)) => now.kind == then.kind && now.value != then.value,
        _ => false,
    }
}

fn change(row: &Row, side: SideId) -> Change {
    let base = row.base.as_ref().map(|b| (b.side(side), b.sha256));
    classify(row.entry(side), base, row.sha(side))
}

/// Whether both sides hold the same content: `None` when only hashes can tell.
fn same_content(row: &Row) -> Option<bool> {
    let (s, d) = (row.source.as_ref()?, row.drive.as_ref()?);
    if s.kind == Kind::Folder && d.kind == Kind::Folder {
        return Some(true);
    }
    if s.size != d.size {
        return Some(false);
    }
    Some(row.source_sha? == row.drive_sha?)
}

fn missing_hashes(row: &Row) -> Decision {
    let sides = [SideId::Source, SideId::Drive]
        .into_iter()
        .filter(|&side| row.entry(side).is_some_and(|e| e.kind == Kind::File) && row.sha(side).is_none())
        .collect();
    Decision::NeedHash(sides)
}

/// Copies the entry of `from` to the other side (or creates the folder it is).
fn transfer(row: &Row, from: SideId) -> Decision {
    let (Some(origin), dest) = (row.entry(from), row.entry(from.other())) else {
        return Decision::Nothing;
    };
    let action = if origin.kind == Kind::Folder {
        Action::MakeFolder { on: from.other(), origin: origin.clone() }
    } else {
        Action::Copy { from, origin: origin.clone(), dest: dest.cloned() }
    };
    Decision::Act(action)
}

fn record(row: &Row) -> Decision {
    match (&row.source, &row.drive) {
        (Some(s), Some(d)) => Decision::Act(Action::Record {
            source: s.clone(),
            drive: d.clone(),
            sha256: if s.kind == Kind::File { row.source_sha.or(row.drive_sha) } else { None },
            settles: row.conflict,
        }),
        _ => Decision::Nothing,
    }
}

fn delete(row: &Row, on: SideId) -> Decision {
    match row.entry(on) {
        Some(entry) => Decision::Act(Action::Delete { on, entry: entry.clone() }),
        None => Decision::Nothing,
    }
}

fn keep_both(row: &Row, aside: SideId, both_sides: bool) -> Decision {
    match (&row.source, &row.drive) {
        (Some(s), Some(d)) => {
            Decision::Act(Action::KeepBoth { source: s.clone(), drive: d.clone(), aside, both_sides })
        }
        _ => Decision::Nothing,
    }
}

/// Nothing to move: record the base again if anything about it went stale (touched, renamed, new).
fn settled(row: &Row, s: Change, d: Change) -> Decision {
    let stale = s != Change::Same || d != Change::Same || row.renamed.is_some() || row.conflict.is_some();
    if stale { record(row) } else { Decision::Nothing }
}

/// Decides one row.
pub fn decide(row: &Row, direction: Direction, strategy: Strategy) -> Decision {
    if let (Some(s), Some(d)) = (&row.source, &row.drive)
        && s.kind != d.kind
    {
        // A file against a folder: KEEP_BOTH naming whatever the strategy; the mirror side steps aside in the
        // one-way modes, the drive in bidirectional mode.
        return match direction {
            Direction::Bidirectional => keep_both(row, SideId::Drive, true),
            Direction::SourceToDrive => keep_both(row, SideId::Drive, false),
            Direction::DriveToSource => keep_both(row, SideId::Source, false),
        };
    }
    match direction {
        Direction::Bidirectional => bidirectional(row, strategy),
        Direction::SourceToDrive => one_way(row, SideId::Source),
        Direction::DriveToSource => one_way(row, SideId::Drive),
    }
}

fn bidirectional(row: &Row, strategy: Strategy) -> Decision {
    let (s, d) = (change(row, SideId::Source), change(row, SideId::Drive));
    if s == Change::Unknown || d == Change::Unknown {
        return missing_hashes(row);
    }
    // A rename is a change when weighed against a delete: the renamed file is copied, not deleted.
    let renamed_source = row.renamed == Some(SideId::Source);
    let renamed_drive = row.renamed == Some(SideId::Drive);
    match (s, d) {
        (Change::Absent, Change::Absent) => Decision::Nothing,
        (Change::Deleted, Change::Deleted) => Decision::Act(Action::Forget { path: row.path().clone() }),
        (Change::New, Change::Absent) => transfer(row, SideId::Source),
        (Change::Absent, Change::New) => transfer(row, SideId::Drive),
        (s, d) if s.unchanged() && d.unchanged() => settled(row, s, d),
        (s, d) if s.unchanged() && d == Change::Changed => transfer(row, SideId::Drive),
        (s, d) if s == Change::Changed && d.unchanged() => transfer(row, SideId::Source),
        (s, Change::Deleted) if s.unchanged() && !renamed_source => delete(row, SideId::Source),
        (Change::Deleted, d) if d.unchanged() && !renamed_drive => delete(row, SideId::Drive),
        (_, Change::Deleted) => transfer(row, SideId::Source),
        (Change::Deleted, _) => transfer(row, SideId::Drive),
        // Both changed (or new on both sides).
        _ => match same_content(row) {
            None => missing_hashes(row),
            Some(true) => record(row),
            Some(false) => conflict(row, strategy),
        },
    }
}

fn conflict(row: &Row, strategy: Strategy) -> Decision {
    if row.conflict.is_some() {
        return Decision::Report(ReportKind::ConflictPending, None);
    }
    match strategy {
        Strategy::LastWriterWins => match (&row.source, &row.drive) {
            (Some(s), Some(d)) => {
                // Whole seconds: sides keep times at different precisions (Graph: seconds; SMB: 100 ns).
                if s.modified.unix_timestamp().cmp(&d.modified.unix_timestamp()) == Ordering::Less {
                    transfer(row, SideId::Drive)
                } else {
                    transfer(row, SideId::Source)
                }
            }
            _ => Decision::Nothing,
        },
        Strategy::KeepBoth => keep_both(row, SideId::Drive, true),
        Strategy::DriveWins => transfer(row, SideId::Drive),
        Strategy::SourceWins => transfer(row, SideId::Source),
        Strategy::Manual => match (&row.source, &row.drive) {
            (Some(s), Some(d)) => {
                Decision::Act(Action::OpenConflict { source: s.clone(), drive: d.clone(), base: row.base.clone() })
            }
            _ => Decision::Nothing,
        },
    }
}

/// `authority` is the side the other one mirrors.
fn one_way(row: &Row, authority: SideId) -> Decision {
    let mirror = authority.other();
    let (a, m) = (change(row, authority), change(row, mirror));
    match (row.entry(authority), row.entry(mirror)) {
        (None, None) => match row.base {
            Some(_) => Decision::Act(Action::Forget { path: row.path().clone() }),
            None => Decision::Nothing,
        },
        (None, Some(_)) => match row.base {
            Some(_) => delete(row, mirror),
            None => Decision::Report(ReportKind::Untracked, Some(mirror)),
        },
        (Some(_), None) => transfer(row, authority),
        (Some(e), Some(_)) if e.kind == Kind::Folder => settled(row, a, m),
        (Some(_), Some(_)) => {
            if a == Change::Unknown || m == Change::Unknown {
                return missing_hashes(row);
            }
            if a.unchanged() && m.unchanged() {
                settled(row, a, m)
            } else if a.unchanged() != m.unchanged() && row.base.is_some() {
                // Exactly one side changed: if it is the mirror, its change is overwritten (the drive keeps a
                // version; the source's content is saved first); if it is the authority, it is copied.
                transfer(row, authority)
            } else {
                match same_content(row) {
                    None => missing_hashes(row),
                    Some(true) => record(row),
                    Some(false) => transfer(row, authority),
                }
            }
        }
    }
}
