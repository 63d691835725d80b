//! Transaction-level helpers over the entry tables: resolve a path, find an entry's path from its id, insert and
//! unlink rows, keep blob reference counts. Every public operation of the drive is built from these, inside one
//! read or write transaction, so an operation is all-or-nothing.

use redb::{ReadableTable, Table, WriteTransaction};

use super::error::{DriveError, DriveResult};
use super::paths::DrivePath;
use super::tables::{
    BLOBS, CHILDREN, DEAD_BLOBS, ENTRIES, EntryRecord, Locator, SHARES, ShareRecord, VERSION_OWNER, VERSIONS, child_key,
};
use crate::ids::{EntryId, ShareId, UserId};

/// Reads one child row.
pub fn get_child(
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    parent: [u8; 16],
    name: &str,
) -> DriveResult<Option<EntryRecord>> {
    match children.get(child_key(parent, name).as_slice())? {
        Some(v) => Ok(Some(EntryRecord::decode(v.value())?)),
        None => Ok(None),
    }
}

/// How far a path resolved.
#[allow(clippy::large_enum_variant)] // short-lived, on the stack of one call: boxing would only add an allocation
pub enum Resolved {
    Found(EntryRecord),
    /// Nothing at the path; `blocker` is set when a file sits where a folder on the way should be.
    Missing {
        blocker: Option<DrivePath>,
    },
}

/// Walks `path` from the share's root: one point get per component.
pub fn resolve(
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    share: &ShareRecord,
    share_id: ShareId,
    path: &DrivePath,
) -> DriveResult<Resolved> {
    let mut current =
        get_child(children, share_id.to_bytes(), "")?.ok_or_else(|| DriveError::Corrupt("drive_children"))?;
    debug_assert_eq!(current.id, share.root);
    let mut walked = DrivePath::root();
    for name in path.components() {
        if !current.is_folder() {
            return Ok(Resolved::Missing { blocker: Some(walked) });
        }
        walked = walked.child(name);
        match get_child(children, current.id.to_bytes(), name)? {
            Some(next) => current = next,
            None => return Ok(Resolved::Missing { blocker: None }),
        }
    }
    Ok(Resolved::Found(current))
}

/// Where a live entry is: its path, locator and record. `None` when the id is unknown, belongs to another share,
/// or lies in the trash.
pub fn locate(
    entries: &impl ReadableTable<[u8; 16], &'static [u8]>,
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    share_id: ShareId,
    id: EntryId,
) -> DriveResult<Option<(DrivePath, Locator, EntryRecord)>> {
    let Some(loc) = entries.get(id.to_bytes())?.map(|v| Locator::decode(v.value())).transpose()? else {
        return Ok(None);
    };
    let Some(path) = path_of(entries, share_id, &loc)? else {
        return Ok(None);
    };
    let record = match children.get(loc.key().as_slice())? {
        Some(v) => EntryRecord::decode(v.value())?,
        None => return Err(DriveError::Corrupt("drive_entries")),
    };
    Ok(Some((path, loc, record)))
}

/// Builds a path by walking parents up to the share root; `None` when the chain ends elsewhere: in a trash id
/// (deleted with an ancestor) or at another share.
fn path_of(
    entries: &impl ReadableTable<[u8; 16], &'static [u8]>,
    share_id: ShareId,
    loc: &Locator,
) -> DriveResult<Option<DrivePath>> {
    let share = share_id.to_bytes();
    let mut names = Vec::new();
    let mut at = loc.clone();
    loop {
        if at.parent == share {
            // `at` is the share's root, whose name is empty.
            break;
        }
        names.push(at.name);
        match entries.get(at.parent)?.map(|v| Locator::decode(v.value())).transpose()? {
            Some(up) => at = up,
            None => return Ok(None),
        }
    }
    let mut path = DrivePath::root();
    for name in names.iter().rev().filter(|n| !n.is_empty()) {
        path = path.child(name);
    }
    Ok(Some(path))
}

/// Where a chain of parents ends: a share id (live entry) or a trash id (in the trash).
pub fn terminal_of(
    entries: &impl ReadableTable<[u8; 16], &'static [u8]>,
    mut parent: [u8; 16],
) -> DriveResult<[u8; 16]> {
    while let Some(up) = entries.get(parent)?.map(|v| Locator::decode(v.value())).transpose()? {
        parent = up.parent;
    }
    Ok(parent)
}

/// The share record, or `NotFound`.
pub fn load_share(shares: &impl ReadableTable<[u8; 16], &'static [u8]>, share_id: ShareId) -> DriveResult<ShareRecord> {
    match shares.get(share_id.to_bytes())? {
        Some(v) => ShareRecord::decode(v.value()),
        None => Err(DriveError::NotFound(format!("share {share_id}"))),
    }
}

/// The drive tables opened in one write transaction.
pub struct WriteTables<'txn> {
    pub shares: Table<'txn, [u8; 16], &'static [u8]>,
    pub children: Table<'txn, &'static [u8], &'static [u8]>,
    pub entries: Table<'txn, [u8; 16], &'static [u8]>,
    pub versions: Table<'txn, [u8; 32], &'static [u8]>,
    pub version_owner: Table<'txn, [u8; 16], [u8; 16]>,
    pub blobs: Table<'txn, [u8; 32], u64>,
    pub dead_blobs: Table<'txn, [u8; 32], i64>,
}

impl<'txn> WriteTables<'txn> {
    pub fn open(txn: &'txn WriteTransaction) -> DriveResult<Self> {
        Ok(Self {
            shares: txn.open_table(SHARES)?,
            children: txn.open_table(CHILDREN)?,
            entries: txn.open_table(ENTRIES)?,
            versions: txn.open_table(VERSIONS)?,
            version_owner: txn.open_table(VERSION_OWNER)?,
            blobs: txn.open_table(BLOBS)?,
            dead_blobs: txn.open_table(DEAD_BLOBS)?,
        })
    }

    pub fn save_share(&mut self, share_id: ShareId, share: &ShareRecord) -> DriveResult<()> {
        self.shares.insert(share_id.to_bytes(), share.encode().as_slice())?;
        Ok(())
    }

    /// Writes an entry's row and its locator.
    pub fn put_entry(&mut self, loc: &Locator, record: &EntryRecord) -> DriveResult<()> {
        self.children.insert(loc.key().as_slice(), record.encode().as_slice())?;
        self.entries.insert(record.id.to_bytes(), loc.encode().as_slice())?;
        Ok(())
    }

    /// Rewrites an entry's row in place (same parent and name).
    pub fn update_entry(&mut self, parent: [u8; 16], name: &str, record: &EntryRecord) -> DriveResult<()> {
        self.children.insert(child_key(parent, name).as_slice(), record.encode().as_slice())?;
        Ok(())
    }

    /// Moves an entry's row to a new parent and name, keeping its id (its subtree follows, keyed by its id).
    pub fn relink(&mut self, from: &Locator, to: &Locator, record: &EntryRecord) -> DriveResult<()> {
        self.children.remove(from.key().as_slice())?;
        self.put_entry(to, record)
    }

    /// Counts one more reference to a blob (a file or a version now points at it).
    pub fn blob_ref(&mut self, hash: [u8; 32]) -> DriveResult<()> {
        let count = self.blobs.get(hash)?.map_or(0, |v| v.value());
        self.blobs.insert(hash, count + 1)?;
        self.dead_blobs.remove(hash)?;
        Ok(())
    }

    /// Drops one reference; at zero the blob is queued for deletion from disk by the purge.
    pub fn blob_unref(&mut self, hash: [u8; 32], now: i64) -> DriveResult<()> {
        let count = self.blobs.get(hash)?.map_or(0, |v| v.value());
        if count <= 1 {
            self.blobs.remove(hash)?;
            self.dead_blobs.insert(hash, now)?;
        } else {
            self.blobs.insert(hash, count - 1)?;
        }
        Ok(())
    }

    /// Creates every missing folder of `path` (which must name a folder) and returns the folder's record.
    pub fn ensure_folder(
        &mut self,
        share_id: ShareId,
        path: &DrivePath,
        now: i64,
        author: Option<UserId>,
    ) -> DriveResult<EntryRecord> {
        let mut current =
            get_child(&self.children, share_id.to_bytes(), "")?.ok_or_else(|| DriveError::Corrupt("drive_children"))?;
        let mut walked = DrivePath::root();
        for name in path.components() {
            walked = walked.child(name);
            current = match get_child(&self.children, current.id.to_bytes(), name)? {
                Some(next) if next.is_folder() => next,
                Some(_) => return Err(DriveError::NotAFolder(walked.to_string())),
                None => {
                    let folder = EntryRecord {
                        id: EntryId::new(),
                        file: None,
                        inherit_broken: false,
                        modified_at: now,
                        created_at: now,
                        owner: author,
                        modified_by: author,
                        origin: None,
                    };
                    let loc = Locator { parent: current.id.to_bytes(), name: name.to_owned() };
                    self.put_entry(&loc, &folder)?;
                    folder
                }
            };
        }
        Ok(current)
    }
}

/// Visits every entry below `root` (not `root` itself), folder by folder, with its row key and record.
/// Holds one folder's pending children at a time plus a stack of folders to visit.
pub fn visit_subtree(
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    root: EntryId,
    mut visit: impl FnMut(Vec<u8>, EntryRecord) -> DriveResult<()>,
) -> DriveResult<()> {
    let mut folders = vec![root.to_bytes()];
    while let Some(parent) = folders.pop() {
        for row in children.range(parent.as_slice()..)? {
            let (k, v) = row?;
            let key = k.value();
            if key.len() < 16 || key[..16] != parent {
                break;
            }
            let record = EntryRecord::decode(v.value())?;
            if record.is_folder() {
                folders.push(record.id.to_bytes());
            }
            visit(key.to_vec(), record)?;
        }
    }
    Ok(())
}

/// Live files and bytes in a subtree, `root` included.
pub fn subtree_totals(
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    root: &EntryRecord,
) -> DriveResult<(u64, u64)> {
    let mut files = 0u64;
    let mut bytes = 0u64;
    let mut count = |r: &EntryRecord| {
        if let Some(f) = &r.file {
            files += 1;
            bytes += f.size;
        }
    };
    count(root);
    visit_subtree(children, root.id, |_, r| {
        count(&r);
        Ok(())
    })?;
    Ok((files, bytes))
}
