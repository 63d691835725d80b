//! Versions of a file: list (newest first, the current content first of all), read, restore, and saving an
//! outside content as a version (the sync engine keeps a source file's old content this way before it
//! overwrites or deletes it on the source).
//!
//! Restoring never removes anything: the chosen version's content becomes the current content under a new
//! version id (a fresh etag), the previous current content becomes a version, and the chosen version stays listed.

use std::io::Read;

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use time::OffsetDateTime;

use super::blobs::{ContentHash, ContentReader};
use super::content::{WriteOptions, link_content};
use super::entries::{EntryRef, find};
use super::error::{DriveError, DriveResult};
use super::tables::TRASH;
use super::tables::{
    CHILDREN, ENTRIES, EntryRecord, Locator, SHARES, VERSION_OWNER, VERSIONS, VersionRecord, from_nanos, pair_key,
    to_nanos,
};
use super::trash::trash_new_file;
use super::tree::{WriteTables, load_share, locate};
use super::{Drive, Entry, Origin};
use crate::ids::{EntryId, ShareId, UserId, VersionId};

/// One version of a file as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    pub id: VersionId,
    pub entry_id: EntryId,
    pub size: u64,
    pub content_hash: ContentHash,
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub author_id: Option<UserId>,
    /// What made this a version (the overwriting user or connector); for the current content, the connector
    /// that wrote it, if any.
    pub origin: Option<Origin>,
    pub is_current: bool,
}

impl Version {
    fn past(entry_id: EntryId, id: VersionId, r: VersionRecord) -> Self {
        Self {
            id,
            entry_id,
            size: r.size,
            content_hash: ContentHash(r.hash),
            modified_at: from_nanos(r.modified_at),
            created_at: from_nanos(r.created_at),
            author_id: r.author,
            origin: r.origin,
            is_current: false,
        }
    }

    fn current(r: &EntryRecord) -> Option<Self> {
        let f = r.file.as_ref()?;
        Some(Self {
            id: f.version_id,
            entry_id: r.id,
            size: f.size,
            content_hash: ContentHash(f.hash),
            modified_at: from_nanos(r.modified_at),
            created_at: from_nanos(f.stored_at),
            author_id: r.modified_by,
            origin: r.origin.map(|c| Origin::connector(c, "written_by_sync")),
            is_current: true,
        })
    }
}

/// Finds a version of a live file of this share: the file's record and, for a past version, its row.
type Located = (Locator, EntryRecord, Option<VersionRecord>);

fn locate_version(
    entries: &impl ReadableTable<[u8; 16], &'static [u8]>,
    children: &impl ReadableTable<&'static [u8], &'static [u8]>,
    owners: &impl ReadableTable<[u8; 16], [u8; 16]>,
    versions: &impl ReadableTable<[u8; 32], &'static [u8]>,
    share_id: ShareId,
    version_id: VersionId,
) -> DriveResult<Located> {
    let missing = || DriveError::NotFound(format!("version {version_id}"));
    let entry = owners.get(version_id.to_bytes())?.map(|v| EntryId::from_bytes(v.value())).ok_or_else(missing)?;
    let (_, loc, record) = locate(entries, children, share_id, entry)?.ok_or_else(missing)?;
    let current = record.file.as_ref().map(|f| f.version_id);
    if current == Some(version_id) {
        return Ok((loc, record, None));
    }
    let row = versions.get(pair_key(entry.to_bytes(), version_id.to_bytes()))?.ok_or_else(missing)?;
    let past = VersionRecord::decode(row.value())?;
    Ok((loc, record, Some(past)))
}

impl Drive {
    /// A file's versions, newest first; the first is the current content.
    pub fn versions(&self, share_id: ShareId, target: &EntryRef) -> DriveResult<Vec<Version>> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (path, _, record) = find(&entries, &children, &shares, share_id, target)?;
        let current = Version::current(&record).ok_or_else(|| DriveError::NotAFile(path.to_string()))?;
        let mut out = vec![current];
        let versions = txn.open_table(VERSIONS)?;
        let id = record.id.to_bytes();
        for row in versions.range(pair_key(id, [0; 16])..=pair_key(id, [0xff; 16]))?.rev() {
            let (k, v) = row?;
            let mut ver = [0u8; 16];
            ver.copy_from_slice(&k.value()[16..]);
            out.push(Version::past(record.id, VersionId::from_bytes(ver), VersionRecord::decode(v.value())?));
        }
        Ok(out)
    }

    /// Streams one version's content.
    pub fn read_version(&self, share_id: ShareId, version_id: VersionId) -> DriveResult<(Version, ContentReader)> {
        let txn = self.db().begin_read()?;
        let (loc, record, past) = locate_version(
            &txn.open_table(ENTRIES)?,
            &txn.open_table(CHILDREN)?,
            &txn.open_table(VERSION_OWNER)?,
            &txn.open_table(VERSIONS)?,
            share_id,
            version_id,
        )?;
        let _ = loc;
        let version = match past {
            Some(p) => Version::past(record.id, version_id, p),
            None => Version::current(&record).ok_or_else(|| DriveError::NotAFile(record.id.to_string()))?,
        };
        let reader = self.inner.blobs.open_blob(&version.content_hash.0)?;
        Ok((version, reader))
    }

    /// Makes a version's content current again; the current content becomes a version. Restoring the current
    /// version changes nothing.
    pub fn restore_version(&self, share_id: ShareId, version_id: VersionId, origin: &Origin) -> DriveResult<Entry> {
        let now = to_nanos(self.now());
        let _gate = self.inner.blob_gate.read().unwrap_or_else(|p| p.into_inner());
        let txn = self.db().begin_write()?;
        let entry = {
            let mut t = WriteTables::open(&txn)?;
            let (_, record, past) =
                locate_version(&t.entries, &t.children, &t.version_owner, &t.versions, share_id, version_id)?;
            let (path, _, _) = locate(&t.entries, &t.children, share_id, record.id)?
                .ok_or_else(|| DriveError::Corrupt("drive_entries"))?;
            let Some(past) = past else {
                // Already the current content.
                return Ok(Entry::from_record(share_id, path, &record));
            };
            let mut opts = WriteOptions::new(origin.clone());
            opts.modified_at = Some(from_nanos(past.modified_at));
            let (record, _) = link_content(&mut t, share_id, &path, past.hash, past.size, &opts, now)?;
            Entry::from_record(share_id, path, &record)
        };
        txn.commit()?;
        Ok(entry)
    }

    /// Stores `reader` as a past version of the file at `target` (not as its current content), recording
    /// `origin` (e.g. `{connector_id, reason: "source_overwritten"}`). Quota does not apply: versions never count.
    /// When nothing is at a target path (the drive side deleted it), the content is kept as a file in the trash
    /// at that path instead, and the returned version is that trashed file's content.
    pub fn save_version(
        &self,
        share_id: ShareId,
        target: &EntryRef,
        reader: &mut dyn Read,
        modified_at: Option<OffsetDateTime>,
        origin: &Origin,
    ) -> DriveResult<Version> {
        let staged = self.inner.blobs.stage(reader, None)?;
        let _gate = self.inner.blob_gate.read().unwrap_or_else(|p| p.into_inner());
        self.inner.blobs.publish(&staged)?;
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        let version = {
            let mut t = WriteTables::open(&txn)?;
            let found = find(&t.entries, &t.children, &t.shares, share_id, target);
            let (path, loc, mut record) = match (found, target) {
                (Err(DriveError::NotFound(_)), EntryRef::Path(path)) => {
                    // Nothing to attach the content to: keep it as a deleted file at that path, so it is listed
                    // and restorable like any other recoverable delete.
                    load_share(&t.shares, share_id)?;
                    let mut row = txn.open_table(TRASH)?;
                    let when = modified_at.map_or(now, to_nanos);
                    let record = trash_new_file(&mut t, &mut row, share_id, path, &staged, when, origin, now)?;
                    drop((row, t));
                    let version = Version::current(&record).ok_or_else(|| DriveError::Corrupt("drive_children"))?;
                    txn.commit()?;
                    return Ok(version);
                }
                (found, _) => found?,
            };
            let Some(file) = record.file.as_mut() else {
                return Err(DriveError::NotAFile(path.to_string()));
            };
            file.version_count = file.version_count.saturating_add(1);
            let id = VersionId::new();
            let row = VersionRecord {
                size: staged.size,
                hash: staged.hash,
                modified_at: modified_at.map_or(now, to_nanos),
                created_at: now,
                superseded_at: now,
                author: origin.user_id(),
                origin: Some(origin.clone()),
            };
            t.versions.insert(pair_key(record.id.to_bytes(), id.to_bytes()), row.encode().as_slice())?;
            t.version_owner.insert(id.to_bytes(), record.id.to_bytes())?;
            t.blob_ref(staged.hash)?;
            t.update_entry(loc.parent, &loc.name, &record)?;
            Version::past(record.id, id, row)
        };
        txn.commit()?;
        Ok(version)
    }
}
