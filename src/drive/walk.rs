//! The sync engine's listing: every entry below a folder in path order (see [`super::path_order`]), streamed.
//!
//! The walk holds one read transaction (a consistent snapshot, however long the engine takes) and, per folder
//! on the current branch, a small buffer of children: memory is O(depth × batch), never the share. Folders come
//! right before their contents: a depth-first walk with each folder's children in name byte order.
//!
//! A caller that needs another order (the sync engine's drive side sorts case-folded names first, which byte
//! order does not give: `B` < `a` in bytes) walks a [`TreeSnapshot`] instead: the same one read transaction,
//! one folder's children at a time, in whatever order it visits them.

use std::collections::VecDeque;
use std::ops::Bound;

use redb::{ReadOnlyTable, ReadableDatabase};

use super::entries::{EntryRef, find};
use super::error::{DriveError, DriveResult};
use super::paths::DrivePath;
use super::tables::{CHILDREN, ENTRIES, EntryRecord, SHARES, child_key};
use super::{Drive, Entry};
use crate::ids::ShareId;

/// Children read per range scan.
const BATCH: usize = 256;

/// One listed entry: path, id, size, modified time, content hash and etag are all on [`Entry`].
pub type SubtreeItem = Entry;

struct Frame {
    parent: [u8; 16],
    path: DrivePath,
    pending: VecDeque<(String, EntryRecord)>,
    /// The last name read from this folder: the next scan starts after it.
    after: Option<String>,
    exhausted: bool,
}

/// An iterator over a subtree; each item is a `Result` because every step reads the database.
pub struct SubtreeWalk {
    share_id: ShareId,
    children: ReadOnlyTable<&'static [u8], &'static [u8]>,
    stack: Vec<Frame>,
}

impl SubtreeWalk {
    fn refill(&mut self) -> DriveResult<()> {
        let Some(frame) = self.stack.last_mut() else { return Ok(()) };
        let start = child_key(frame.parent, frame.after.as_deref().unwrap_or(""));
        let lower =
            if frame.after.is_some() { Bound::Excluded(start.as_slice()) } else { Bound::Included(start.as_slice()) };
        for row in self.children.range::<&[u8]>((lower, Bound::Unbounded))? {
            let (k, v) = row?;
            let key = k.value();
            if key.len() < 16 || key[..16] != frame.parent {
                frame.exhausted = true;
                break;
            }
            let name = String::from_utf8(key[16..].to_vec()).map_err(|_| DriveError::Corrupt("drive_children"))?;
            frame.after = Some(name.clone());
            frame.pending.push_back((name, EntryRecord::decode(v.value())?));
            if frame.pending.len() == BATCH {
                return Ok(());
            }
        }
        frame.exhausted = true;
        Ok(())
    }

    fn step(&mut self) -> DriveResult<Option<Entry>> {
        loop {
            let Some(frame) = self.stack.last_mut() else { return Ok(None) };
            if frame.pending.is_empty() {
                if frame.exhausted {
                    self.stack.pop();
                } else {
                    self.refill()?;
                }
                continue;
            }
            let Some((name, record)) = frame.pending.pop_front() else { continue };
            let path = frame.path.child(&name);
            if record.is_folder() {
                self.stack.push(Frame {
                    parent: record.id.to_bytes(),
                    path: path.clone(),
                    pending: VecDeque::new(),
                    after: None,
                    exhausted: false,
                });
            }
            return Ok(Some(Entry::from_record(self.share_id, path, &record)));
        }
    }
}

impl Iterator for SubtreeWalk {
    type Item = DriveResult<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => {
                // One error ends the walk: the engine must not treat a partial listing as complete.
                self.stack.clear();
                Some(Err(e))
            }
        }
    }
}

/// A read-only view of one share's tree as of one snapshot: a folder's children on demand.
pub struct TreeSnapshot {
    share_id: ShareId,
    children: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl TreeSnapshot {
    /// Every child of `folder` (an entry of this snapshot), in name byte order.
    pub fn children(&self, folder: &Entry) -> DriveResult<Vec<Entry>> {
        if !folder.is_folder() {
            return Err(DriveError::NotAFolder(folder.path.to_string()));
        }
        let parent = folder.id.to_bytes();
        let start = child_key(parent, "");
        let mut out = Vec::new();
        for row in self.children.range::<&[u8]>(start.as_slice()..)? {
            let (k, v) = row?;
            let key = k.value();
            if key.len() < 16 || key[..16] != parent {
                break;
            }
            let name = std::str::from_utf8(&key[16..]).map_err(|_| DriveError::Corrupt("drive_children"))?;
            if name.is_empty() {
                continue;
            }
            out.push(Entry::from_record(self.share_id, folder.path.child(name), &EntryRecord::decode(v.value())?));
        }
        Ok(out)
    }
}

impl Drive {
    /// A snapshot of the share's tree and the folder at `folder` in it (for walks in an order of one's own).
    pub fn tree_snapshot(&self, share_id: ShareId, folder: &DrivePath) -> DriveResult<(TreeSnapshot, Entry)> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (path, _, record) = find(&entries, &children, &shares, share_id, &EntryRef::Path(folder.clone()))?;
        if !record.is_folder() {
            return Err(DriveError::NotAFolder(path.to_string()));
        }
        let root = Entry::from_record(share_id, path, &record);
        Ok((TreeSnapshot { share_id, children }, root))
    }

    /// Every entry below `folder` (not the folder itself), in path order, from one consistent snapshot.
    pub fn walk(&self, share_id: ShareId, folder: &DrivePath) -> DriveResult<SubtreeWalk> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (path, _, record) = find(&entries, &children, &shares, share_id, &EntryRef::Path(folder.clone()))?;
        if !record.is_folder() {
            return Err(DriveError::NotAFolder(path.to_string()));
        }
        let first =
            Frame { parent: record.id.to_bytes(), path, pending: VecDeque::new(), after: None, exhausted: false };
        Ok(SubtreeWalk { share_id, children, stack: vec![first] })
    }
}
