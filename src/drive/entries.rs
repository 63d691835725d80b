//! Entries: lookup by path or id, folder listings in name order with a cursor, folder creation and moves.
//! Deleting lives in `trash.rs`, content in `content.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::{ReadableDatabase, ReadableTable};

use super::error::{DriveError, DriveResult};
use super::paths::DrivePath;
use super::tables::{CHILDREN, ENTRIES, EntryRecord, Locator, SHARES, to_nanos};
use super::tree::{Resolved, WriteTables, load_share, locate, resolve};
use super::{Drive, Entry, Origin};
use crate::ids::{EntryId, ShareId};

/// The largest listing page.
pub const MAX_PAGE: usize = 1000;

/// An entry named by path or by its stable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryRef {
    Path(DrivePath),
    Id(EntryId),
}

impl From<DrivePath> for EntryRef {
    fn from(p: DrivePath) -> Self {
        Self::Path(p)
    }
}

impl From<EntryId> for EntryRef {
    fn from(id: EntryId) -> Self {
        Self::Id(id)
    }
}

/// One page of a folder listing; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub next_cursor: Option<String>,
}

/// Finds a live entry inside a transaction: its path, locator and record.
pub(super) fn find(
    entries: &impl ReadableTable<[u8; 16], &'static [u8]>,
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    shares: &impl ReadableTable<[u8; 16], &'static [u8]>,
    share_id: ShareId,
    target: &EntryRef,
) -> DriveResult<(DrivePath, Locator, EntryRecord)> {
    match target {
        EntryRef::Id(id) => {
            load_share(shares, share_id)?;
            locate(entries, children, share_id, *id)?.ok_or_else(|| DriveError::NotFound(format!("entry {id}")))
        }
        EntryRef::Path(path) => {
            let share = load_share(shares, share_id)?;
            match resolve(children, &share, share_id, path)? {
                Resolved::Found(record) => {
                    let loc = match (path.parent(), path.name()) {
                        (Some(_), Some(name)) => {
                            let loc = entries
                                .get(record.id.to_bytes())?
                                .map(|v| Locator::decode(v.value()))
                                .transpose()?
                                .ok_or_else(|| DriveError::Corrupt("drive_entries"))?;
                            debug_assert_eq!(loc.name, name);
                            loc
                        }
                        _ => Locator { parent: share_id.to_bytes(), name: String::new() },
                    };
                    Ok((path.clone(), loc, record))
                }
                Resolved::Missing { .. } => Err(DriveError::NotFound(format!("'{path}'"))),
            }
        }
    }
}

impl Drive {
    /// The entry at `path`.
    pub fn entry_by_path(&self, share_id: ShareId, path: &DrivePath) -> DriveResult<Entry> {
        self.entry(share_id, &EntryRef::Path(path.clone()))
    }

    /// The live entry with this id (an entry in the trash is `NotFound`).
    pub fn entry_by_id(&self, share_id: ShareId, id: EntryId) -> DriveResult<Entry> {
        self.entry(share_id, &EntryRef::Id(id))
    }

    pub fn entry(&self, share_id: ShareId, target: &EntryRef) -> DriveResult<Entry> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (path, _, record) = find(&entries, &children, &shares, share_id, target)?;
        Ok(Entry::from_record(share_id, path, &record))
    }

    /// A page of a folder's children in name (byte) order, starting after `cursor` (from the previous page).
    /// `limit` is clamped to 1..=1000.
    pub fn list_folder(
        &self,
        share_id: ShareId,
        folder: &DrivePath,
        cursor: Option<&str>,
        limit: usize,
    ) -> DriveResult<Page> {
        let limit = limit.clamp(1, MAX_PAGE);
        let after = match cursor {
            Some(c) => Some(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| DriveError::InvalidArgument("cursor is not one this store handed out".into()))?,
            ),
            None => None,
        };
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (path, _, record) = find(&entries, &children, &shares, share_id, &EntryRef::Path(folder.clone()))?;
        if !record.is_folder() {
            return Err(DriveError::NotAFolder(path.to_string()));
        }
        let parent = record.id.to_bytes();
        let mut out = Vec::with_capacity(limit);
        let mut next_cursor = None;
        let start = super::tables::child_key(parent, after.as_deref().unwrap_or(""));
        for row in children.range(start.as_slice()..)? {
            let (k, v) = row?;
            let key = k.value();
            if key.len() < 16 || key[..16] != parent {
                break;
            }
            let name = std::str::from_utf8(&key[16..]).map_err(|_| DriveError::Corrupt("drive_children"))?;
            if after.as_deref() == Some(name) || name.is_empty() {
                continue;
            }
            if out.len() == limit {
                next_cursor = out.last().map(|e: &Entry| URL_SAFE_NO_PAD.encode(e.name.as_bytes()));
                break;
            }
            out.push(Entry::from_record(share_id, path.child(name), &EntryRecord::decode(v.value())?));
        }
        Ok(Page { entries: out, next_cursor })
    }

    /// Creates a folder and any missing parents. A folder already there is `AlreadyExists`; a file on the way
    /// is `NotAFolder`.
    pub fn create_folder(&self, share_id: ShareId, path: &DrivePath, origin: &Origin) -> DriveResult<Entry> {
        if path.is_root() {
            return Err(DriveError::AlreadyExists("/".into()));
        }
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        let record = {
            let mut t = WriteTables::open(&txn)?;
            let share = load_share(&t.shares, share_id)?;
            if let Resolved::Found(_) = resolve(&t.children, &share, share_id, path)? {
                return Err(DriveError::AlreadyExists(path.to_string()));
            }
            t.ensure_folder(share_id, path, now, origin.user_id())?
        };
        txn.commit()?;
        Ok(Entry::from_record(share_id, path.clone(), &record))
    }

    /// Moves or renames an entry (a folder with its subtree), creating missing parents of `to`. The entry keeps
    /// its id, versions, metadata and ACEs. `to` taken is `AlreadyExists`; a folder into itself is `InvalidPath`.
    pub fn move_entry(
        &self,
        share_id: ShareId,
        from: &EntryRef,
        to: &DrivePath,
        origin: &Origin,
    ) -> DriveResult<Entry> {
        let (Some(to_parent), Some(to_name)) = (to.parent(), to.name()) else {
            return Err(DriveError::InvalidPath { path: to.to_string(), reason: "the root cannot be a move target" });
        };
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        let record = {
            let mut t = WriteTables::open(&txn)?;
            let (path, loc, record) = find(&t.entries, &t.children, &t.shares, share_id, from)?;
            if path.is_root() {
                return Err(DriveError::InvalidPath { path: path.to_string(), reason: "the root cannot be moved" });
            }
            if &path == to {
                return Ok(Entry::from_record(share_id, path, &record));
            }
            if record.is_folder() && path.contains(to) {
                return Err(DriveError::InvalidPath {
                    path: to.to_string(),
                    reason: "a folder cannot move into itself",
                });
            }
            let share = load_share(&t.shares, share_id)?;
            if let Resolved::Found(_) = resolve(&t.children, &share, share_id, to)? {
                return Err(DriveError::AlreadyExists(to.to_string()));
            }
            let parent = t.ensure_folder(share_id, &to_parent, now, origin.user_id())?;
            let dest = Locator { parent: parent.id.to_bytes(), name: to_name.to_owned() };
            t.relink(&loc, &dest, &record)?;
            record
        };
        txn.commit()?;
        Ok(Entry::from_record(share_id, to.clone(), &record))
    }
}
