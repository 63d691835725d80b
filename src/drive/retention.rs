//! Retention: purging versions and trash older than their share's `retention_days`, then deleting blob files
//! nothing refers to any more. Driven by the injected clock; the lead's actor calls [`Drive::purge`] on a timer.
//!
//! Order matters for "nothing is lost": references are dropped in one transaction (rows and counts), and only
//! after it commits are blob files deleted, under the exclusive blob gate so no writer is between publishing a
//! blob and committing its reference. A crash between the two leaves dead blobs on disk, which the next purge
//! finds again (they stay queued in `drive_dead_blobs`, and the orphan sweep catches any other leftover).

use std::collections::HashMap;

use redb::{ReadableTable, WriteTransaction};
use time::Duration;

use super::Drive;
use super::error::{DriveError, DriveResult};
use super::tables::{
    ACES, BLOBS, DEAD_BLOBS, EntryRecord, Locator, METADATA, ShareRecord, TRASH, TrashRecord, VersionRecord, pair_key,
    to_nanos,
};
use super::tree::{WriteTables, get_child, terminal_of, visit_subtree};
use crate::ids::EntryId;

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub versions_purged: u64,
    pub trash_items_purged: u64,
    pub blobs_deleted: u64,
}

/// Removes an entry and everything below it for good: rows, versions, metadata, ACEs, blob references.
pub(super) fn purge_subtree(
    txn: &WriteTransaction,
    t: &mut WriteTables<'_>,
    loc: &Locator,
    root: EntryId,
    now: i64,
) -> DriveResult<()> {
    let root_record =
        get_child(&t.children, loc.parent, &loc.name)?.ok_or_else(|| DriveError::Corrupt("drive_children"))?;
    debug_assert_eq!(root_record.id, root);
    let mut doomed = vec![(loc.key(), root_record)];
    visit_subtree(&t.children, root, |key, record| {
        doomed.push((key, record));
        Ok(())
    })?;
    let mut metadata = txn.open_table(METADATA)?;
    let mut aces = txn.open_table(ACES)?;
    for (key, record) in doomed {
        let id = record.id.to_bytes();
        t.children.remove(key.as_slice())?;
        t.entries.remove(id)?;
        metadata.remove(id)?;
        aces.remove(id)?;
        if let Some(file) = &record.file {
            t.version_owner.remove(file.version_id.to_bytes())?;
            t.blob_unref(file.hash, now)?;
        }
        let mut past = Vec::new();
        for row in t.versions.range(pair_key(id, [0; 16])..=pair_key(id, [0xff; 16]))? {
            let (k, v) = row?;
            past.push((k.value(), VersionRecord::decode(v.value())?.hash));
        }
        for (key, hash) in past {
            let mut ver = [0u8; 16];
            ver.copy_from_slice(&key[16..]);
            t.versions.remove(key)?;
            t.version_owner.remove(ver)?;
            t.blob_unref(hash, now)?;
        }
    }
    Ok(())
}

impl Drive {
    /// Purges versions and trash past their share's retention, then deletes unreferenced blob files.
    pub fn purge(&self) -> DriveResult<PurgeReport> {
        let now_time = self.now();
        let now = to_nanos(now_time);
        let mut report = PurgeReport::default();
        let txn = self.db().begin_write()?;
        {
            let mut t = WriteTables::open(&txn)?;
            let mut cutoffs = HashMap::new();
            for row in t.shares.iter()? {
                let (k, v) = row?;
                let days = ShareRecord::decode(v.value())?.retention_days;
                cutoffs.insert(k.value(), to_nanos(now_time - Duration::days(i64::from(days))));
            }
            // Trash first: purging a trashed subtree also removes its versions.
            let mut expired = Vec::new();
            let mut trash_share = HashMap::new();
            {
                let trash = txn.open_table(TRASH)?;
                for row in trash.iter()? {
                    let (k, v) = row?;
                    let key = k.value();
                    let mut share = [0u8; 16];
                    share.copy_from_slice(&key[..16]);
                    let rec = TrashRecord::decode(v.value())?;
                    let mut trash_id = [0u8; 16];
                    trash_id.copy_from_slice(&key[16..]);
                    trash_share.insert(trash_id, share);
                    if cutoffs.get(&share).is_some_and(|&cut| rec.deleted_at <= cut) {
                        expired.push((key, share, rec.entry));
                    }
                }
            }
            for (key, _, entry) in expired {
                let mut trash_id = [0u8; 16];
                trash_id.copy_from_slice(&key[16..]);
                let loc = Locator { parent: trash_id, name: String::new() };
                purge_subtree(&txn, &mut t, &loc, entry, now)?;
                txn.open_table(TRASH)?.remove(key)?;
                report.trash_items_purged += 1;
            }
            report.versions_purged = purge_versions(&mut t, &cutoffs, &trash_share, now)?;
        }
        txn.commit()?;
        report.blobs_deleted = self.delete_dead_blobs()?;
        Ok(report)
    }

    /// Deletes the files of blobs whose last reference went away, and any blob file no row knows (left by a
    /// write that published its blob and then failed or crashed before committing).
    fn delete_dead_blobs(&self) -> DriveResult<u64> {
        let on_disk = self.inner.blobs.list()?;
        let _gate = self.inner.blob_gate.write().unwrap_or_else(|p| p.into_inner());
        let txn = self.db().begin_write()?;
        let mut deleted = 0;
        {
            let blobs = txn.open_table(BLOBS)?;
            let mut dead = txn.open_table(DEAD_BLOBS)?;
            let mut doomed = Vec::new();
            for row in dead.iter()? {
                doomed.push(row?.0.value());
            }
            for hash in on_disk {
                if blobs.get(hash)?.is_none() && !doomed.contains(&hash) {
                    doomed.push(hash);
                }
            }
            for hash in doomed {
                if blobs.get(hash)?.is_none() {
                    self.inner.blobs.remove(&hash)?;
                    deleted += 1;
                }
                dead.remove(hash)?;
            }
        }
        txn.commit()?;
        Ok(deleted)
    }
}

/// Drops past versions superseded before their share's cutoff. An entry's share is where its chain of parents
/// ends: a share id, or a trash id whose trash row names the share.
fn purge_versions(
    t: &mut WriteTables<'_>,
    cutoffs: &HashMap<[u8; 16], i64>,
    trash_share: &HashMap<[u8; 16], [u8; 16]>,
    now: i64,
) -> DriveResult<u64> {
    let mut doomed = Vec::new();
    // Entries of one folder share their terminal: walk up once per folder.
    let mut terminal_of_parent: HashMap<[u8; 16], [u8; 16]> = HashMap::new();
    for row in t.versions.iter()? {
        let (k, v) = row?;
        let key = k.value();
        let mut entry = [0u8; 16];
        entry.copy_from_slice(&key[..16]);
        let Some(loc) = t.entries.get(entry)?.map(|v| Locator::decode(v.value())).transpose()? else { continue };
        let terminal = match terminal_of_parent.get(&loc.parent) {
            Some(t) => *t,
            None => {
                let found = terminal_of(&t.entries, loc.parent)?;
                terminal_of_parent.insert(loc.parent, found);
                found
            }
        };
        let share = if cutoffs.contains_key(&terminal) { Some(terminal) } else { trash_share.get(&terminal).copied() };
        let rec = VersionRecord::decode(v.value())?;
        if share.and_then(|s| cutoffs.get(&s)).is_some_and(|&cut| rec.superseded_at <= cut) {
            doomed.push((key, rec.hash, loc));
        }
    }
    let count = doomed.len() as u64;
    for (key, hash, loc) in doomed {
        let mut ver = [0u8; 16];
        ver.copy_from_slice(&key[16..]);
        t.versions.remove(key)?;
        t.version_owner.remove(ver)?;
        t.blob_unref(hash, now)?;
        if let Some(mut record) = get_child(&t.children, loc.parent, &loc.name)? {
            if let Some(f) = record.file.as_mut() {
                f.version_count = f.version_count.saturating_sub(1).max(1);
            }
            let record: EntryRecord = record;
            t.update_entry(loc.parent, &loc.name, &record)?;
        }
    }
    Ok(count)
}
