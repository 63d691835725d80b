//! Rename and move detection: pairs a base entry that vanished from a side with a new entry of the same identity
//! and kind on that side (SMB file id, Graph item id, drive entry id), and plans the move that carries the
//! rename to the other side, so versions, ACEs and metadata stay attached. Works on the rows the walk set aside,
//! which are few: memory follows the number of changes.
//!
//! - A rename propagates; on the mirror side of a one-way connector it is moved back instead.
//! - Both sides renamed the same entry differently: the side that wins conflicts (the source, or the drive under
//!   SCAIDRIVE_WINS or scaidrive_to_*) keeps its name; the other side's entry moves to it.
//! - A rename against a delete is not paired: the new entry is copied (a change beats a delete).
//! - On a side that recycles identities (Samba inode numbers) a file pairs only if its modification time is the
//!   one recorded: a rename keeps it, a new file that got a deleted file's id does not (see `NamingRules`).
//! - Children of a moved folder are moved with it: their pairs become record-only moves (`implied`).
//! - A target the mover's side refuses, or that collides in case there (or in Unicode form on a side that
//!   stores NFC), moves nothing and is reported.

use std::collections::HashMap;

use super::config::{Direction, Strategy};
use super::decide::Row;
use super::entry::{Kind, SideId};
use super::path::SyncPath;
use super::plan::{Action, Report, ReportKind};
use super::reconcile::{Deferred, Reconciler, slot};

impl Reconciler<'_> {
    /// Which side's rename wins when both sides renamed the same entry to different names.
    fn rename_winner(&self) -> SideId {
        match (self.ctx.config.direction, self.ctx.config.strategy) {
            (Direction::DriveToSource, _) | (Direction::Bidirectional, Strategy::DriveWins) => SideId::Drive,
            _ => SideId::Source,
        }
    }

    /// Pairs vanished base entries with new entries of the same identity and kind on the same side, emits the
    /// moves that carry a rename to the other side, and returns the rows to decide at their new paths.
    pub(super) fn pair_renames(&mut self, deferred: &[Deferred], consumed: &mut [bool]) -> Vec<Row> {
        let mut appeared: HashMap<(SideId, &str), usize> = HashMap::new();
        for (i, d) in deferred.iter().enumerate() {
            if d.row.base.is_none() {
                for side in [SideId::Source, SideId::Drive] {
                    if let Some(e) = d.row.entry(side) {
                        appeared.insert((side, &*e.id), i);
                    }
                }
            }
        }
        if appeared.is_empty() {
            return Vec::new();
        }
        let mut folder_moves: Vec<(SideId, SyncPath, SyncPath)> = Vec::new();
        let mut rows = Vec::new();
        for (i, vanished) in deferred.iter().enumerate() {
            let Some(base) = &vanished.row.base else { continue };
            let partner = |side: SideId| {
                if vanished.row.entry(side).is_some() {
                    return None;
                }
                let j = *appeared.get(&(side, &*base.side(side).id))?;
                let entry = deferred[j].row.entry(side)?;
                // A recycled identity: a new file that got a deleted one's id, not that file renamed.
                let recycled = self.ctx.naming(side).ids_recycled
                    && entry.kind == Kind::File
                    && entry.modified != base.side(side).modified;
                (!consumed[j] && entry.kind == base.kind() && !recycled).then_some(j)
            };
            // (side the user renamed on, side that moves, entry that moves, entry that stays, target path,
            // row whose fold group the target belongs to)
            let (renamed, mover, moving, fixed, target, at) = match (partner(SideId::Source), partner(SideId::Drive)) {
                (Some(js), Some(jd)) => {
                    let winner = self.rename_winner();
                    let (jw, jl) = if winner == SideId::Source { (js, jd) } else { (jd, js) };
                    let loser = winner.other();
                    let (Some(moving), Some(fixed)) = (deferred[jl].row.entry(loser), deferred[jw].row.entry(winner))
                    else {
                        continue;
                    };
                    consumed[jl] = true;
                    consumed[jw] = true;
                    (winner, loser, moving.clone(), fixed.clone(), deferred[jw].row.path().clone(), jw)
                }
                (Some(j), None) | (None, Some(j)) => {
                    let renamed = if deferred[j].row.source.is_some() { SideId::Source } else { SideId::Drive };
                    let other = renamed.other();
                    // Only when the other side still holds the entry; otherwise a rename against a delete is
                    // decided as a new file against a gone one (the change beats the delete).
                    let (Some(there), Some(here)) = (deferred[j].row.entry(renamed), vanished.row.entry(other)) else {
                        continue;
                    };
                    let mirror_renamed = match self.ctx.config.direction {
                        Direction::SourceToDrive => renamed == SideId::Drive,
                        Direction::DriveToSource => renamed == SideId::Source,
                        Direction::Bidirectional => false,
                    };
                    consumed[j] = true;
                    if mirror_renamed {
                        // The mirror side does not get to rename: move it back.
                        (renamed, renamed, there.clone(), here.clone(), vanished.row.path().clone(), i)
                    } else {
                        (renamed, other, here.clone(), there.clone(), deferred[j].row.path().clone(), j)
                    }
                }
                (None, None) => continue,
            };
            consumed[i] = true;
            let fixed = fixed.relocated(&target);
            let rules = self.ctx.naming(mover);
            let case_only = moving.path.same_folded(&target);
            let kind = if !rules.accepts(&target, moving.is_folder()) {
                Some(ReportKind::InvalidName)
            } else if (rules.case_insensitive || rules.nfc)
                && ((!case_only && deferred[at].occupied[slot(mover)])
                    || self.under_case_twin(mover, &target)
                    || !self.claim(mover, &target))
            {
                Some(ReportKind::CaseCollision)
            } else {
                None
            };
            if let Some(kind) = kind {
                // Neither half moves: the entry stays tracked at its old path on the side that kept it.
                self.plan.reports.push(Report { path: base.path.clone(), side: Some(mover), kind });
                self.plan.reports.push(Report { path: target, side: Some(mover), kind });
                continue;
            }
            let implied = folder_moves
                .iter()
                .any(|(side, from, to)| *side == mover && moving.path.rebase(from, to).as_ref() == Some(&target));
            if moving.is_folder() {
                folder_moves.push((mover, moving.path.clone(), target.clone()));
            }
            let moved_from = Some((mover, moving.path.clone()));
            let moved = moving.relocated(&target);
            let new_base = base.relocated(&target);
            let (source, drive) = if mover == SideId::Source { (moved, fixed) } else { (fixed, moved) };
            self.plan.push(Action::Move {
                on: mover,
                entry: moving,
                to: target.clone(),
                base: new_base.clone(),
                old_base: base.path.clone(),
                implied,
            });
            let conflict = self.ctx.open_conflicts.get(&target).copied();
            rows.push(Row {
                source: Some(source),
                drive: Some(drive),
                base: Some(new_base),
                source_sha: None,
                drive_sha: None,
                renamed: Some(renamed),
                conflict,
                moved_from,
            });
        }
        rows
    }
}
