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
            let row = VersionRecord {
                size: staged.size,
                hash: staged.hash,
                modified_at: modified_at.map_or(now, to_nanos),
                created_at: now,
                superseded_at: now,
                author: origin.user_id(),
                origin: Some(origin.clone()),
            };
            add_past_version(&mut t, &path, &loc, &mut record, VersionId::new(), row)?
        };
        txn.commit()?;
        Ok(version)
    }

    /// Stores `reader` as a past version placed directly beneath `above` (a past version of the file, or its
    /// current content when `None`): older than it, newer than the version that was beneath it. This is how
    /// another system's version history is imported, newest first, after its newest content was written as the
    /// current one (SharePoint's, with `sync_versions`); a later overwrite of the current content lands above
    /// the imported ones, so the history keeps the source's order.
    ///
    /// When the version already directly beneath `above` has the same content, nothing is added and that
    /// version is returned with `false`: importing a history twice, or over versions the sync already kept as
    /// overwritten content, adds nothing. Versions are ordered by id, so a new one gets an id between its two
    /// neighbours: the id its `modified_at` would have had, moved into that gap when it falls outside. Quota
    /// does not apply (versions never count). `author` is who made that content, when known.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_version_beneath(
        &self,
        share_id: ShareId,
        target: &EntryRef,
        above: Option<VersionId>,
        reader: &mut dyn Read,
        modified_at: OffsetDateTime,
        author: Option<UserId>,
        origin: &Origin,
    ) -> DriveResult<(Version, bool)> {
        let staged = self.inner.blobs.stage(reader, None)?;
        let _gate = self.inner.blob_gate.read().unwrap_or_else(|p| p.into_inner());
        self.inner.blobs.publish(&staged)?;
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        let (version, added) = {
            let mut t = WriteTables::open(&txn)?;
            let (path, loc, mut record) = find(&t.entries, &t.children, &t.shares, share_id, target)?;
            let current = record.file.as_ref().ok_or_else(|| DriveError::NotAFile(path.to_string()))?.version_id;
            let above = above.unwrap_or(current);
            let entry = record.id.to_bytes();
            if above != current && t.versions.get(pair_key(entry, above.to_bytes()))?.is_none() {
                return Err(DriveError::NotFound(format!("version {above}")));
            }
            let beneath =
                match t.versions.range(pair_key(entry, [0; 16])..pair_key(entry, above.to_bytes()))?.next_back() {
                    Some(row) => {
                        let (k, v) = row?;
                        let mut ver = [0u8; 16];
                        ver.copy_from_slice(&k.value()[16..]);
                        Some((VersionId::from_bytes(ver), VersionRecord::decode(v.value())?))
                    }
                    None => None,
                };
            match beneath {
                Some((id, row)) if row.hash == staged.hash && row.size == staged.size => {
                    (Version::past(record.id, id, row), false)
                }
                beneath => {
                    let id = id_between(beneath.map(|(id, _)| id), above, modified_at).ok_or_else(|| {
                        DriveError::InvalidArgument(format!("no room for another version of '{path}' there"))
                    })?;
                    let row = VersionRecord {
                        size: staged.size,
                        hash: staged.hash,
                        modified_at: to_nanos(modified_at),
                        created_at: now,
                        superseded_at: now,
                        author,
                        origin: Some(origin.clone()),
                    };
                    (add_past_version(&mut t, &path, &loc, &mut record, id, row)?, true)
                }
            }
        };
        txn.commit()?;
        Ok((version, added))
    }
}

/// Records `row` as the past version `id` of `record` (whose blob is already published) and counts it.
fn add_past_version(
    t: &mut WriteTables<'_>,
    path: &super::paths::DrivePath,
    loc: &Locator,
    record: &mut EntryRecord,
    id: VersionId,
    row: VersionRecord,
) -> DriveResult<Version> {
    let Some(file) = record.file.as_mut() else {
        return Err(DriveError::NotAFile(path.to_string()));
    };
    file.version_count = file.version_count.saturating_add(1);
    t.versions.insert(pair_key(record.id.to_bytes(), id.to_bytes()), row.encode().as_slice())?;
    t.version_owner.insert(id.to_bytes(), record.id.to_bytes())?;
    t.blob_ref(row.hash)?;
    t.update_entry(loc.parent, &loc.name, record)?;
    Ok(Version::past(record.id, id, row))
}

/// A version id strictly between `below` (the newest past version, if any) and `above` (the current one): the
/// ULID `at` would get (its millisecond, random low bits), clamped into the gap. `None` when the gap is empty.
fn id_between(below: Option<VersionId>, above: VersionId, at: OffsetDateTime) -> Option<VersionId> {
    let low = below.map_or(Some(1), |b| u128::from_be_bytes(b.to_bytes()).checked_add(1))?;
    let high = u128::from_be_bytes(above.to_bytes()).checked_sub(1)?;
    if low > high {
        return None;
    }
    let millis = u128::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0) & ((1 << 48) - 1);
    let random = u128::from(rand::random::<u64>()) << 16;
    let wanted = (millis << 80) | random;
    Some(VersionId::from_bytes(wanted.clamp(low, high).to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> VersionId {
        VersionId::from_bytes(n.to_be_bytes())
    }

    #[test]
    fn an_imported_version_id_falls_strictly_between_its_neighbours() {
        let at = time::macros::datetime!(2025-06-01 00:00 UTC);
        let wanted = u128::from_be_bytes(id_between(None, id(u128::MAX), at).unwrap().to_bytes());
        assert_eq!(wanted >> 80, 1_748_736_000_000, "the id carries the version's own millisecond");
        // Outside the gap it is clamped into it; an empty gap has no id.
        assert_eq!(id_between(Some(id(10)), id(12), at), Some(id(11)));
        let high = 1_748_736_000_000u128 << 80;
        // A gap above every id of that millisecond (random bits reach just under 1 << 80) clamps to its floor.
        let floor = high + (1 << 80) - 1;
        assert_eq!(id_between(Some(id(floor - 1)), id(u128::MAX), at), Some(id(floor)));
        assert_eq!(id_between(Some(id(10)), id(11), at), None);
        assert_eq!(id_between(None, id(1), at), None);
    }
}
