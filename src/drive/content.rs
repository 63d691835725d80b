//! File content: streamed, conditional, quota-checked writes and streamed reads.
//!
//! A write runs in two phases so the single redb writer is never held while bytes arrive: the content is staged
//! as a blob first (hashed while streaming), then a short write transaction re-checks the precondition and the
//! quota against the state at that moment and links the blob. Writes that reach that step together share one
//! transaction and one round of syncs (`commit_group.rs`). Two writers racing on one path therefore both stage;
//! their links run one after the other, and the second sees the first's content and keeps it as a version.
//! Nothing is torn: an entry only ever points at a complete, published, synced blob.

use std::io::Read;

use redb::{ReadableDatabase, ReadableTable};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::blobs::{ContentReader, StagedBlob};
use super::commit_group::Unit;
use super::entries::{EntryRef, find};
use super::error::{DriveError, DriveResult};
use super::paths::DrivePath;
use super::tables::{
    CHILDREN, ENTRIES, EntryRecord, FileContent, Locator, SHARES, ShareRecord, VersionRecord, pair_key, to_nanos,
};
use super::tree::{Resolved, WriteTables, load_share, resolve};
use super::{Drive, Entry, Origin};
use crate::ids::{EntryId, ShareId, VersionId};

/// The condition a write or delete needs to hold (HTTP `If-Match` / `If-None-Match: *`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Precondition {
    #[default]
    None,
    /// Refuse to overwrite anything (`If-None-Match: *`).
    MustNotExist,
    /// The current etag must be this one (quotes are ignored; `*` means "must exist").
    IfMatch(String),
}

impl Precondition {
    /// Checks the condition against what is at the path now (`None` for nothing).
    pub fn check(&self, path: &DrivePath, current: Option<&Entry>) -> DriveResult<()> {
        let failed = |why: &str| Err(DriveError::PreconditionFailed(format!("'{path}' {why}")));
        match (self, current) {
            (Self::None, _) => Ok(()),
            (Self::MustNotExist, Some(_)) => failed("already exists"),
            (Self::MustNotExist, None) => Ok(()),
            (Self::IfMatch(_), None) => failed("does not exist"),
            (Self::IfMatch(tag), Some(e)) => {
                let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
                if tag == "*" || tag == e.etag.to_string() { Ok(()) } else { failed("has changed since it was read") }
            }
        }
    }
}

/// How to write a file.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub precondition: Precondition,
    /// `X-Modified-At`; the store's clock when absent.
    pub modified_at: Option<OffsetDateTime>,
    /// Who writes. A connector's `reason` is recorded on the version the overwritten content becomes.
    pub origin: Origin,
    /// The size announced up front (`Content-Length`), to refuse an over-quota upload before reading it.
    pub expected_size: Option<u64>,
}

impl WriteOptions {
    pub fn new(origin: Origin) -> Self {
        Self { precondition: Precondition::None, modified_at: None, origin, expected_size: None }
    }
}

/// What a write found at its path, checked against the precondition and the quota without changing anything.
pub(super) struct WriteCheck {
    share: ShareRecord,
    current: Option<EntryRecord>,
    /// How many bytes the quota still allows at this path (`None`: no quota).
    available: Option<u64>,
}

/// Checks a write of content at `path`: a folder or a file in the way, the precondition, and (with `size`) the
/// quota. Reads only, so a failure here leaves a transaction as it was: the group commit relies on that to drop
/// one failing write without redoing the others.
pub(super) fn check_write(
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    shares: &impl ReadableTable<[u8; 16], &'static [u8]>,
    share_id: ShareId,
    path: &DrivePath,
    opts: &WriteOptions,
    size: Option<u64>,
) -> DriveResult<WriteCheck> {
    let share = load_share(shares, share_id)?;
    let current = match resolve(children, &share, share_id, path)? {
        Resolved::Found(r) if r.is_folder() => return Err(DriveError::NotAFile(path.to_string())),
        Resolved::Found(r) => Some(r),
        Resolved::Missing { blocker: Some(b) } => return Err(DriveError::NotAFolder(b.to_string())),
        Resolved::Missing { blocker: None } => None,
    };
    let entry = current.as_ref().map(|r| Entry::from_record(share_id, path.clone(), r));
    opts.precondition.check(path, entry.as_ref())?;
    let old_size = current.as_ref().and_then(|r| r.file.as_ref()).map_or(0, |f| f.size);
    let available = share.quota_bytes.map(|q| q.saturating_sub(share.used_bytes.saturating_sub(old_size)));
    // A write that does not grow the file is allowed even over quota (the quota may have been lowered).
    if let (Some(max), Some(size)) = (available, size)
        && size > max
        && size > old_size
    {
        return Err(DriveError::QuotaExceeded { available: max });
    }
    Ok(WriteCheck { share, current, available })
}

/// Links content at `path` inside a write transaction: creates parents, keeps an overwritten content as a
/// version, counts references and enforces the precondition and the quota. Every check runs before the first
/// change, so an error leaves the transaction untouched unless the database itself failed.
pub(super) fn link_content(
    t: &mut WriteTables<'_>,
    share_id: ShareId,
    path: &DrivePath,
    hash: [u8; 32],
    size: u64,
    opts: &WriteOptions,
    now: i64,
) -> DriveResult<(EntryRecord, Option<u64>)> {
    let checked = check_write(&t.children, &t.shares, share_id, path, opts, Some(size))?;
    apply_link(t, checked, share_id, path, hash, size, opts, now)
}

/// The changing half of [`link_content`], after [`check_write`] passed in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_link(
    t: &mut WriteTables<'_>,
    checked: WriteCheck,
    share_id: ShareId,
    path: &DrivePath,
    hash: [u8; 32],
    size: u64,
    opts: &WriteOptions,
    now: i64,
) -> DriveResult<(EntryRecord, Option<u64>)> {
    let (Some(parent_path), Some(name)) = (path.parent(), path.name()) else {
        return Err(DriveError::NotAFile("/".into()));
    };
    let WriteCheck { mut share, current: existing, .. } = checked;
    let parent = t.ensure_folder(share_id, &parent_path, now, opts.origin.user_id())?;
    let old_size = existing.as_ref().and_then(|r| r.file.as_ref()).map_or(0, |f| f.size);
    let used = share.used_bytes.saturating_sub(old_size).saturating_add(size);
    let version_id = VersionId::new();
    let modified_at = opts.modified_at.map_or(now, to_nanos);
    let record = match existing {
        Some(mut record) => {
            let old = record.file.take().ok_or_else(|| DriveError::NotAFile(path.to_string()))?;
            // The old content stays as a version; its blob reference moves from the entry to the version row.
            let version = VersionRecord {
                size: old.size,
                hash: old.hash,
                modified_at: record.modified_at,
                created_at: old.stored_at,
                superseded_at: now,
                author: record.modified_by,
                origin: Some(opts.origin.clone()),
            };
            t.versions
                .insert(pair_key(record.id.to_bytes(), old.version_id.to_bytes()), version.encode().as_slice())?;
            record.file = Some(FileContent {
                size,
                hash,
                version_id,
                version_count: old.version_count.saturating_add(1),
                stored_at: now,
            });
            record.modified_at = modified_at;
            record.modified_by = opts.origin.user_id();
            record.origin = opts.origin.connector_id();
            record
        }
        None => {
            share.file_count += 1;
            EntryRecord {
                id: EntryId::new(),
                file: Some(FileContent { size, hash, version_id, version_count: 1, stored_at: now }),
                inherit_broken: false,
                modified_at,
                created_at: now,
                owner: opts.origin.user_id(),
                modified_by: opts.origin.user_id(),
                origin: opts.origin.connector_id(),
            }
        }
    };
    let loc = Locator { parent: parent.id.to_bytes(), name: name.to_owned() };
    t.put_entry(&loc, &record)?;
    t.version_owner.insert(version_id.to_bytes(), record.id.to_bytes())?;
    t.blob_ref(hash)?;
    share.used_bytes = used;
    t.save_share(share_id, &share)?;
    Ok((record, share.quota_bytes))
}

impl Drive {
    /// Writes `reader` to the file at `path`, creating missing parent folders. An existing file's content is kept
    /// as a version. Checked: the precondition (before reading and again at commit), the quota (up front with
    /// `expected_size`, while streaming, and at commit). On any failure nothing is committed and no temp file
    /// remains. Concurrent writes are committed together (see `commit_group.rs`); each gets its own result.
    pub fn write_file(
        &self,
        share_id: ShareId,
        path: &DrivePath,
        reader: &mut dyn Read,
        opts: &WriteOptions,
    ) -> DriveResult<Entry> {
        let max_bytes = self.precheck_write(share_id, path, opts)?;
        if let (Some(max), Some(size)) = (max_bytes, opts.expected_size)
            && size > max
        {
            return Err(DriveError::QuotaExceeded { available: max });
        }
        let staged = self.inner.blobs.stage(reader, max_bytes)?;
        let _gate = self.inner.blob_gate.read().unwrap_or_else(|p| p.into_inner());
        self.inner.blobs.publish(&staged)?;
        let unit = Unit { share_id, opts: opts.clone(), items: vec![(path.clone(), staged.hash, staged.size)] };
        self.commit_unit(unit)?.pop().ok_or(DriveError::Corrupt("group commit answer"))
    }

    /// Fails fast on what can be known before the upload: a bad precondition, a folder or file in the way.
    /// Returns how many bytes the quota still allows at this path.
    fn precheck_write(&self, share_id: ShareId, path: &DrivePath, opts: &WriteOptions) -> DriveResult<Option<u64>> {
        let txn = self.db().begin_read()?;
        let (children, shares) = (txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        Ok(check_write(&children, &shares, share_id, path, opts, None)?.available)
    }

    /// Writes many small files in one transaction: for imports and batched engine writes. Identical contents are
    /// stored once. All or nothing: one failing item fails the batch (and commits none of it).
    pub fn write_files_batch(
        &self,
        share_id: ShareId,
        files: &[(DrivePath, &[u8])],
        opts: &WriteOptions,
    ) -> DriveResult<Vec<Entry>> {
        // The gate is taken before checking which blobs exist: otherwise a purge could delete a blob between
        // the check and the commit that refers to it. The contents are small and in memory, so staging under the
        // gate holds it only briefly.
        let _gate = self.inner.blob_gate.read().unwrap_or_else(|p| p.into_inner());
        let mut staged: Vec<StagedBlob> = Vec::new();
        let mut items = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            let hash: [u8; 32] = Sha256::digest(bytes).into();
            if !self.inner.blobs.exists(&hash) && !staged.iter().any(|s| s.hash == hash) {
                let blob = self.inner.blobs.stage(&mut &bytes[..], None)?;
                self.inner.blobs.publish(&blob)?;
                staged.push(blob);
            }
            items.push((path.clone(), hash, bytes.len() as u64));
        }
        self.commit_unit(Unit { share_id, opts: opts.clone(), items })
    }

    /// Opens a file's current content for streaming (`Read + Seek`), with the entry it belongs to.
    pub fn read_file(&self, share_id: ShareId, target: &EntryRef) -> DriveResult<(Entry, ContentReader)> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (path, _, record) = find(&entries, &children, &shares, share_id, target)?;
        let Some(file) = &record.file else {
            return Err(DriveError::NotAFile(path.to_string()));
        };
        // The entry refers to the blob, so no purge can delete it while we open it.
        let reader = self.inner.blobs.open_blob(&file.hash)?;
        Ok((Entry::from_record(share_id, path, &record), reader))
    }
}
