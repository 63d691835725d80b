//! The trash: a delete moves the entry (a folder with its whole subtree) out of the live tree in one row move,
//! keyed under a new trash id, and records where it was, when, and who or what deleted it. Restoring moves it
//! back, to its old path or another, adding ` (restored)` when the name has been taken meanwhile.
//! Purging old trash is `retention.rs`'s job.

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use time::OffsetDateTime;

use super::content::Precondition;
use super::entries::{EntryRef, find};
use super::error::{DriveError, DriveResult};
use super::paths::{DrivePath, restored_name};
use super::tables::{EntryRecord, Locator, TRASH, TrashRecord, child_key, from_nanos, pair_key, to_nanos};
use super::tree::{WriteTables, get_child, load_share, subtree_totals};
use super::{Drive, Entry, EntryKind, Origin};
use crate::ids::{EntryId, ShareId, TrashId, UserId};

/// One trash record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrashItem {
    pub id: TrashId,
    pub entry_id: EntryId,
    pub original_path: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Bytes of the files in it (a folder: its whole subtree).
    pub size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub deleted_at: OffsetDateTime,
    pub deleted_by: Option<UserId>,
    pub origin: Origin,
}

/// One page of a share's trash, in the API's list shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrashPage {
    pub trash: Vec<TrashItem>,
    pub next_cursor: Option<String>,
}

fn trash_loc(trash_id: TrashId) -> Locator {
    Locator { parent: trash_id.to_bytes(), name: String::new() }
}

fn item(id: TrashId, r: TrashRecord) -> TrashItem {
    TrashItem {
        id,
        entry_id: r.entry,
        original_path: r.original_path,
        kind: if r.folder { EntryKind::Folder } else { EntryKind::File },
        size: r.size,
        deleted_at: from_nanos(r.deleted_at),
        deleted_by: r.origin.user_id(),
        origin: r.origin,
    }
}

impl Drive {
    /// Moves an entry (with its subtree) to the trash. `precondition` is checked against its etag.
    pub fn delete_entry(
        &self,
        share_id: ShareId,
        target: &EntryRef,
        precondition: &Precondition,
        origin: &Origin,
    ) -> DriveResult<TrashItem> {
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        let out = {
            let mut t = WriteTables::open(&txn)?;
            let (path, loc, record) = find(&t.entries, &t.children, &t.shares, share_id, target)?;
            if path.is_root() {
                return Err(DriveError::InvalidPath { path: "/".into(), reason: "a share's root cannot be deleted" });
            }
            precondition.check(&path, Some(&Entry::from_record(share_id, path.clone(), &record)))?;
            let (files, bytes) = subtree_totals(&t.children, &record)?;
            let id = TrashId::new();
            t.relink(&loc, &trash_loc(id), &record)?;
            let mut share = load_share(&t.shares, share_id)?;
            share.file_count = share.file_count.saturating_sub(files);
            share.used_bytes = share.used_bytes.saturating_sub(bytes);
            t.save_share(share_id, &share)?;
            let rec = TrashRecord {
                entry: record.id,
                original_path: path.to_string(),
                deleted_at: now,
                origin: origin.clone(),
                size: bytes,
                folder: record.is_folder(),
            };
            txn.open_table(TRASH)?.insert(pair_key(share_id.to_bytes(), id.to_bytes()), rec.encode().as_slice())?;
            item(id, rec)
        };
        txn.commit()?;
        Ok(out)
    }

    /// The share's whole trash, oldest deletion first.
    pub fn trash(&self, share_id: ShareId) -> DriveResult<Vec<TrashItem>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.trash_page(share_id, cursor.as_deref(), super::MAX_PAGE)?;
            out.extend(page.trash);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// One page of the share's trash, oldest deletion first, starting after `cursor` (a trash id).
    pub fn trash_page(&self, share_id: ShareId, cursor: Option<&str>, limit: usize) -> DriveResult<TrashPage> {
        let limit = limit.clamp(1, super::MAX_PAGE);
        let after = match cursor {
            Some(c) => Some(c.parse::<TrashId>().map_err(|e| DriveError::InvalidArgument(e.to_string()))?),
            None => None,
        };
        let txn = self.db().begin_read()?;
        load_share(&txn.open_table(super::tables::SHARES)?, share_id)?;
        let trash = txn.open_table(TRASH)?;
        let share = share_id.to_bytes();
        let lower = pair_key(share, after.map_or([0; 16], TrashId::to_bytes));
        let mut out = Vec::new();
        let mut next_cursor = None;
        for row in trash.range(lower..=pair_key(share, [0xff; 16]))? {
            let (k, v) = row?;
            let mut id = [0u8; 16];
            id.copy_from_slice(&k.value()[16..]);
            let id = TrashId::from_bytes(id);
            if Some(id) == after {
                continue;
            }
            if out.len() == limit {
                next_cursor = out.last().map(|i: &TrashItem| i.id.to_string());
                break;
            }
            out.push(item(id, TrashRecord::decode(v.value())?));
        }
        Ok(TrashPage { trash: out, next_cursor })
    }

    /// Puts a trashed entry back at its original path, or at `to`. Missing parents are created; a taken name
    /// becomes `name (restored).ext` (then `(restored 2)`, ...). Restoring is never refused for quota: nothing
    /// is lost by bringing content back.
    pub fn restore_trash(
        &self,
        share_id: ShareId,
        trash_id: TrashId,
        to: Option<&DrivePath>,
        origin: &Origin,
    ) -> DriveResult<Entry> {
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        let entry = {
            let mut t = WriteTables::open(&txn)?;
            let mut trash = txn.open_table(TRASH)?;
            let key = pair_key(share_id.to_bytes(), trash_id.to_bytes());
            let rec = match trash.get(key)? {
                Some(v) => TrashRecord::decode(v.value())?,
                None => return Err(DriveError::NotFound(format!("trash item {trash_id}"))),
            };
            let target = match to {
                Some(p) => p.clone(),
                None => DrivePath::parse(&rec.original_path)?,
            };
            let (Some(parent_path), Some(name)) = (target.parent(), target.name()) else {
                return Err(DriveError::InvalidPath { path: "/".into(), reason: "cannot restore over the root" });
            };
            let parent = t.ensure_folder(share_id, &parent_path, now, origin.user_id())?;
            let name = free_name(&t, parent.id.to_bytes(), name)?;
            let from = trash_loc(trash_id);
            let record: EntryRecord =
                get_child(&t.children, trash_id.to_bytes(), "")?.ok_or_else(|| DriveError::Corrupt("drive_trash"))?;
            let dest = Locator { parent: parent.id.to_bytes(), name: name.clone() };
            t.relink(&from, &dest, &record)?;
            let (files, bytes) = subtree_totals(&t.children, &record)?;
            let mut share = load_share(&t.shares, share_id)?;
            share.file_count += files;
            share.used_bytes += bytes;
            t.save_share(share_id, &share)?;
            trash.remove(key)?;
            Entry::from_record(share_id, parent_path.child(&name), &record)
        };
        txn.commit()?;
        Ok(entry)
    }
}

/// Puts a new file holding a staged content straight into the trash at `path` (see [`Drive::save_version`]).
#[allow(clippy::too_many_arguments)] // one transaction's worth of context; a struct would only rename them
pub(super) fn trash_new_file(
    t: &mut WriteTables<'_>,
    trash: &mut redb::Table<'_, [u8; 32], &'static [u8]>,
    share_id: ShareId,
    path: &DrivePath,
    staged: &super::blobs::StagedBlob,
    modified_at: i64,
    origin: &Origin,
    now: i64,
) -> DriveResult<EntryRecord> {
    let version_id = crate::ids::VersionId::new();
    let record = EntryRecord {
        id: EntryId::new(),
        file: Some(super::tables::FileContent {
            size: staged.size,
            hash: staged.hash,
            version_id,
            version_count: 1,
            stored_at: now,
        }),
        inherit_broken: false,
        modified_at,
        created_at: now,
        owner: origin.user_id(),
        modified_by: origin.user_id(),
        origin: origin.connector_id(),
    };
    let id = TrashId::new();
    t.put_entry(&trash_loc(id), &record)?;
    t.version_owner.insert(version_id.to_bytes(), record.id.to_bytes())?;
    t.blob_ref(staged.hash)?;
    let rec = TrashRecord {
        entry: record.id,
        original_path: path.to_string(),
        deleted_at: now,
        origin: origin.clone(),
        size: staged.size,
        folder: false,
    };
    trash.insert(pair_key(share_id.to_bytes(), id.to_bytes()), rec.encode().as_slice())?;
    Ok(record)
}

/// `name` if free in the folder, else the first free `name (restored N)`.
fn free_name(t: &WriteTables<'_>, parent: [u8; 16], name: &str) -> DriveResult<String> {
    let mut candidate = name.to_owned();
    let mut attempt = 0;
    while t.children.get(child_key(parent, &candidate).as_slice())?.is_some() {
        attempt += 1;
        candidate = restored_name(name, attempt);
        if candidate.len() > super::paths::MAX_NAME_BYTES {
            return Err(DriveError::InvalidName { name: candidate, reason: "a name may be at most 255 bytes" });
        }
    }
    Ok(candidate)
}
