//! Shares: create (the creator gets `manage`), read, list, rename and re-limit, delete (refused while in use).

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use time::OffsetDateTime;

use super::acl::{self, Ace, AceSource, AceType, Permission, PrincipalId};
use super::error::{DriveError, DriveResult};
use super::paths::validate_name;
use super::retention;
use super::tables::{EntryRecord, Locator, SHARES, ShareRecord, TRASH, from_nanos, to_nanos};
use super::tree::{WriteTables, load_share};
use super::{Drive, Entry};
use crate::ids::{EntryId, ShareId, UserId};

/// Versions and trash are kept this long unless the share says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// A share as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Share {
    pub id: ShareId,
    pub name: String,
    /// The share's root folder: its ACEs are the share's ACEs.
    pub root_id: EntryId,
    pub quota_bytes: Option<u64>,
    pub retention_days: u32,
    /// Bytes of the live files (versions and trash are not counted).
    pub used_bytes: u64,
    pub file_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<UserId>,
}

impl Share {
    fn from_record(id: ShareId, r: ShareRecord) -> Self {
        Self {
            id,
            name: r.name,
            root_id: r.root,
            quota_bytes: r.quota_bytes,
            retention_days: r.retention_days,
            used_bytes: r.used_bytes,
            file_count: r.file_count,
            created_at: from_nanos(r.created_at),
            created_by: r.created_by,
        }
    }
}

/// A change to a share's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ShareUpdate {
    pub name: Option<String>,
    /// `Some(None)` removes the quota.
    pub quota_bytes: Option<Option<u64>>,
    pub retention_days: Option<u32>,
}

impl Drive {
    /// Creates a share with an empty root folder. The creator, when given, gets a manual `manage` ACE on it.
    pub fn create_share(
        &self,
        name: &str,
        quota_bytes: Option<u64>,
        retention_days: Option<u32>,
        creator: Option<UserId>,
    ) -> DriveResult<Share> {
        let name = validate_name(name)?;
        let id = ShareId::new();
        let now = to_nanos(self.now());
        let root = EntryRecord {
            id: EntryId::new(),
            file: None,
            inherit_broken: false,
            modified_at: now,
            created_at: now,
            owner: creator,
            modified_by: creator,
            origin: None,
        };
        let record = ShareRecord {
            name,
            root: root.id,
            quota_bytes,
            retention_days: retention_days.unwrap_or(DEFAULT_RETENTION_DAYS),
            used_bytes: 0,
            file_count: 0,
            created_at: now,
            created_by: creator,
        };
        let txn = self.db().begin_write()?;
        {
            let mut t = WriteTables::open(&txn)?;
            t.save_share(id, &record)?;
            let loc = Locator { parent: id.to_bytes(), name: String::new() };
            t.put_entry(&loc, &root)?;
            if let Some(user) = creator {
                let ace = Ace {
                    principal_id: PrincipalId::User(user),
                    permission: Permission::Manage,
                    kind: AceType::Allow,
                    inherited: false,
                    source: AceSource::Manual,
                };
                acl::store_aces(&txn, root.id, &[ace])?;
            }
        }
        txn.commit()?;
        Ok(Share::from_record(id, record))
    }

    pub fn share(&self, id: ShareId) -> DriveResult<Share> {
        let txn = self.db().begin_read()?;
        let shares = txn.open_table(SHARES)?;
        Ok(Share::from_record(id, load_share(&shares, id)?))
    }

    /// Every share, oldest first (filter with [`Drive::readable_shares`] for a caller).
    pub fn shares(&self) -> DriveResult<Vec<Share>> {
        let txn = self.db().begin_read()?;
        let shares = txn.open_table(SHARES)?;
        let mut out = Vec::new();
        for row in shares.iter()? {
            let (k, v) = row?;
            out.push(Share::from_record(ShareId::from_bytes(k.value()), ShareRecord::decode(v.value())?));
        }
        Ok(out)
    }

    /// The share's root folder as an entry.
    pub fn share_root(&self, id: ShareId) -> DriveResult<Entry> {
        self.entry_by_path(id, &super::DrivePath::root())
    }

    pub fn update_share(&self, id: ShareId, update: ShareUpdate) -> DriveResult<Share> {
        let txn = self.db().begin_write()?;
        let record = {
            let mut t = WriteTables::open(&txn)?;
            let mut record = load_share(&t.shares, id)?;
            if let Some(name) = update.name {
                record.name = validate_name(&name)?;
            }
            if let Some(quota) = update.quota_bytes {
                record.quota_bytes = quota;
            }
            if let Some(days) = update.retention_days {
                record.retention_days = days;
            }
            t.save_share(id, &record)?;
            record
        };
        txn.commit()?;
        Ok(Share::from_record(id, record))
    }

    /// Deletes a share and everything in it (files, versions, trash), unless `in_use(id)` says something (a
    /// connector) still targets it: then `ShareInUse` and nothing changes. Blobs left without references are
    /// deleted from disk by the next purge.
    pub fn delete_share(&self, id: ShareId, in_use: &dyn Fn(ShareId) -> bool) -> DriveResult<()> {
        if in_use(id) {
            return Err(DriveError::ShareInUse(format!("a connector targets share {id}")));
        }
        let now = to_nanos(self.now());
        let txn = self.db().begin_write()?;
        {
            let mut t = WriteTables::open(&txn)?;
            let record = load_share(&t.shares, id)?;
            let root_loc = Locator { parent: id.to_bytes(), name: String::new() };
            retention::purge_subtree(&txn, &mut t, &root_loc, record.root, now)?;
            let mut trash = txn.open_table(TRASH)?;
            let lo = super::tables::pair_key(id.to_bytes(), [0; 16]);
            let hi = super::tables::pair_key(id.to_bytes(), [0xff; 16]);
            let mut items = Vec::new();
            for row in trash.range(lo..=hi)? {
                let (k, v) = row?;
                items.push((k.value(), super::tables::TrashRecord::decode(v.value())?));
            }
            for (key, item) in items {
                let mut trash_id = [0u8; 16];
                trash_id.copy_from_slice(&key[16..]);
                let loc = Locator { parent: trash_id, name: String::new() };
                retention::purge_subtree(&txn, &mut t, &loc, item.entry, now)?;
                trash.remove(key)?;
            }
            t.shares.remove(id.to_bytes())?;
        }
        txn.commit()?;
        Ok(())
    }
}
