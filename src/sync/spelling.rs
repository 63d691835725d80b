//! Names that are one name in Unicode: a side that stores names in NFC (the drive) lists `café` for a file the
//! source spells `cafe\u{301}` (NFD, as macOS clients write names to SMB shares). The walk sees two paths; taken
//! apart, each would look like a delete of the other, and the engine would chase the file between the sides.
//! So, when a side normalises, rows of one fold group whose paths are equal after NFC are merged into one row.
//!
//! The merged row is spelled as the source spells it (else as the base recorded it, else as the drive lists
//! it): the source is addressed under its own spelling, and the normalising side accepts any spelling of its
//! names. A base record kept under another spelling moves to the row's. A folder respelled so carries its
//! content along: the drive's entries under it take the source's spelling of the folder, so a file made in
//! ScaiDrive lands in the source's folder rather than in a second folder spelled in NFC beside it.

use std::borrow::Cow;

use unicode_normalization::{UnicodeNormalization, is_nfc};

use super::decide::Row;
use super::path::SyncPath;

fn nfc(path: &SyncPath) -> Cow<'_, str> {
    let s = path.as_str();
    if is_nfc(s) { Cow::Borrowed(s) } else { Cow::Owned(s.nfc().collect()) }
}

/// Whether two paths are one name to a side that stores NFC.
pub(super) fn same_nfc(a: &SyncPath, b: &SyncPath) -> bool {
    nfc(a) == nfc(b)
}

/// Whether two rows hold nothing for the same side (so they can be one row).
fn disjoint(a: &Row, b: &Row) -> bool {
    let both = |x: bool, y: bool| x && y;
    !both(a.source.is_some(), b.source.is_some())
        && !both(a.drive.is_some(), b.drive.is_some())
        && !both(a.base.is_some(), b.base.is_some())
}

/// Drive folders whose entries take another spelling (drive spelling, row spelling), innermost last.
#[derive(Default)]
pub(super) struct Respelled(Vec<(SyncPath, SyncPath)>);

impl Respelled {
    /// Spells the row's drive entry under the source's spelling of its respelled ancestor folder, if any.
    pub(super) fn carry(&mut self, row: &mut Row) {
        let path = row.path().clone();
        while self.0.last().is_some_and(|(from, _)| !from.same_folded(&path) && !from.is_folded_ancestor_of(&path)) {
            self.0.pop();
        }
        let Some(d) = row.drive.as_mut() else { return };
        if let Some(to) = self.0.iter().rev().find_map(|(from, to)| d.path.rebase(from, to)) {
            *d = d.relocated(&to);
        }
    }
}

/// Merges the rows of a fold group that are one name after NFC, in place. Returns, per remaining row, the path
/// its base record was kept under when that differs from the row's spelling (the caller moves the record).
/// Drive folders that take the source's spelling are noted in `respelled` for their content.
pub(super) fn merge_spellings(group: &mut Vec<Row>, respelled_folders: &mut Respelled) -> Vec<Option<SyncPath>> {
    // When the source holds several spellings of one name as several files, the drive's one entry belongs with
    // the spelling the base tracks it under (by identity), not with the one that happens to match its bytes.
    for i in 0..group.len() {
        let Some(drive_id) = group[i].drive.as_ref().map(|d| d.id.clone()) else { continue };
        let owner = (0..group.len()).find(|&j| {
            j != i
                && group[j].drive.is_none()
                && same_nfc(group[j].path(), group[i].path())
                && group[j].base.as_ref().is_some_and(|b| b.drive.id == drive_id)
        });
        if let Some(j) = owner {
            // Respelled below with the rest of the row.
            group[j].drive = group[i].drive.take();
        }
    }
    group.retain(|r| r.source.is_some() || r.drive.is_some() || r.base.is_some());
    let mut merged: Vec<Row> = Vec::with_capacity(group.len());
    'rows: for row in group.drain(..) {
        for m in merged.iter_mut() {
            if disjoint(m, &row) && nfc(m.path()) == nfc(row.path()) {
                m.source = m.source.take().or(row.source);
                m.drive = m.drive.take().or(row.drive);
                m.base = m.base.take().or(row.base);
                continue 'rows;
            }
        }
        merged.push(row);
    }
    let mut respelled = Vec::with_capacity(merged.len());
    for row in merged.iter_mut() {
        let target = match (&row.source, &row.base, &row.drive) {
            (Some(e), _, _) | (None, None, Some(e)) => e.path.clone(),
            (None, Some(b), _) => b.path.clone(),
            (None, None, None) => {
                respelled.push(None);
                continue;
            }
        };
        if let Some(d) = row.drive.as_mut().filter(|d| d.path != target) {
            if d.is_folder() {
                respelled_folders.0.push((d.path.clone(), target.clone()));
            }
            *d = d.relocated(&target);
        }
        let old = row.base.as_ref().filter(|b| b.path != target).map(|b| b.path.clone());
        if let Some(b) = row.base.as_mut().filter(|_| old.is_some()) {
            *b = b.relocated(&target);
        }
        respelled.push(old);
    }
    *group = merged;
    respelled
}
