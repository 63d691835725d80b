//! The drive's redb tables and the records stored in them (the lead folds these into `store/tables.rs`).
//!
//! The tree is stored like a file system's directory entries, which keeps moves cheap and listings clustered:
//! - `drive_children`: key `parent id (16) ++ name (NFC bytes)`, value the full [`EntryRecord`]. A folder listing
//!   is one range scan in name order; a path lookup is one point get per component. A share's root folder is
//!   keyed under the share id with an empty name; an entry in the trash is keyed under its trash id, so it
//!   drops out of the live tree in one row move.
//! - `drive_entries`: entry id -> [`Locator`] (share, parent, name): lookup by id is two gets; moving or renaming
//!   a folder touches only its own rows, never its subtree.
//! - `drive_versions`: `entry id ++ version id` -> [`VersionRecord`] for past versions (ULIDs: ordered by age);
//!   the current version lives in the entry itself. `drive_version_owner`: version id -> entry id, for every
//!   version including current ones, so `/versions/{ver_id}` resolves in one get.
//! - `drive_blobs`: content hash -> number of entries and past versions referring to it; a hash whose count
//!   drops to zero moves to `drive_dead_blobs` (with the time) for the purge to delete from disk.

use time::OffsetDateTime;

use super::codec::{Dec, Enc};
use super::error::{DriveError, DriveResult};
use crate::ids::{ConnectorId, EntryId, UserId, VersionId};

// The table definitions live with every other table in `store/tables.rs` (the schema on one screen, and the
// list `backup` copies); the drive knows them by their short names.
pub use crate::store::tables::{
    DRIVE_ACES as ACES, DRIVE_BLOBS as BLOBS, DRIVE_CHILDREN as CHILDREN, DRIVE_DEAD_BLOBS as DEAD_BLOBS,
    DRIVE_ENTRIES as ENTRIES, DRIVE_METADATA as METADATA, DRIVE_SHARES as SHARES, DRIVE_TRASH as TRASH,
    DRIVE_VERSION_OWNER as VERSION_OWNER, DRIVE_VERSIONS as VERSIONS,
};

/// Creates every table (the drive's among them) so read transactions never meet a missing one; for a database
/// that did not come through `Store::open` (tests).
pub fn create_all(txn: &redb::WriteTransaction) -> DriveResult<()> {
    crate::store::tables::create_all(txn).map_err(|e| match e {
        crate::store::StoreError::Database(e) => DriveError::Database(e),
        _ => DriveError::Corrupt("tables"),
    })
}

pub fn child_key(parent: [u8; 16], name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + name.len());
    key.extend_from_slice(&parent);
    key.extend_from_slice(name.as_bytes());
    key
}

pub fn pair_key(a: [u8; 16], b: [u8; 16]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&a);
    key[16..].copy_from_slice(&b);
    key
}

/// Times are stored as Unix nanoseconds (an i64 reaches the year 2262).
pub fn to_nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

pub fn from_nanos(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Who or what caused a change: a user, or a connector with the reason it gives (`overwritten_by_sync`, ...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Origin {
    User { user_id: UserId },
    Connector { connector_id: ConnectorId, reason: String },
}

impl Origin {
    pub fn user(user_id: UserId) -> Self {
        Self::User { user_id }
    }

    pub fn connector(connector_id: ConnectorId, reason: impl Into<String>) -> Self {
        Self::Connector { connector_id, reason: reason.into() }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User { user_id } => Some(*user_id),
            Self::Connector { .. } => None,
        }
    }

    pub fn connector_id(&self) -> Option<ConnectorId> {
        match self {
            Self::Connector { connector_id, .. } => Some(*connector_id),
            Self::User { .. } => None,
        }
    }

    fn encode(&self, e: &mut Enc) {
        match self {
            Self::User { user_id } => {
                e.u8(1).bytes(&user_id.to_bytes());
            }
            Self::Connector { connector_id, reason } => {
                e.u8(2).bytes(&connector_id.to_bytes()).str(reason);
            }
        }
    }

    fn decode(d: &mut Dec<'_>, table: &'static str) -> DriveResult<Self> {
        Self::decode_opt(d, table)?.ok_or_else(|| DriveError::Corrupt(table))
    }

    /// Tag 0 is "no origin".
    fn decode_opt(d: &mut Dec<'_>, table: &'static str) -> DriveResult<Option<Self>> {
        match d.u8()? {
            0 => Ok(None),
            1 => Ok(Some(Self::User { user_id: UserId::from_bytes(d.arr()?) })),
            2 => Ok(Some(Self::Connector { connector_id: ConnectorId::from_bytes(d.arr()?), reason: d.str()? })),
            _ => Err(DriveError::Corrupt(table)),
        }
    }
}

/// A share's settings and running totals (`used_bytes`, `file_count` count live files only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    pub name: String,
    pub root: EntryId,
    pub quota_bytes: Option<u64>,
    pub retention_days: u32,
    pub used_bytes: u64,
    pub file_count: u64,
    pub created_at: i64,
    pub created_by: Option<UserId>,
}

impl ShareRecord {
    const V: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new(Self::V);
        e.str(&self.name).bytes(&self.root.to_bytes());
        e.varint(self.quota_bytes.map_or(0, |q| q.saturating_add(1)));
        e.varint(u64::from(self.retention_days)).varint(self.used_bytes).varint(self.file_count);
        e.i64(self.created_at);
        match self.created_by {
            Some(u) => e.u8(1).bytes(&u.to_bytes()),
            None => e.u8(0),
        };
        e.finish()
    }

    pub fn decode(buf: &[u8]) -> DriveResult<Self> {
        let mut d = Dec::new(buf, "drive_shares", Self::V)?;
        let name = d.str()?;
        let root = EntryId::from_bytes(d.arr()?);
        let quota_bytes = d.varint()?.checked_sub(1);
        let retention_days = u32::try_from(d.varint()?).map_err(|_| DriveError::Corrupt("drive_shares"))?;
        let used_bytes = d.varint()?;
        let file_count = d.varint()?;
        let created_at = d.i64()?;
        let created_by = if d.u8()? == 1 { Some(UserId::from_bytes(d.arr()?)) } else { None };
        Ok(Self { name, root, quota_bytes, retention_days, used_bytes, file_count, created_at, created_by })
    }
}

/// A file's current content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub size: u64,
    pub hash: [u8; 32],
    pub version_id: VersionId,
    /// Past versions kept, plus one for the current content.
    pub version_count: u32,
    /// When this content was stored (the current version's `created_at`).
    pub stored_at: i64,
}

/// One entry, stored as the value of its `drive_children` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    pub id: EntryId,
    /// `None` for a folder.
    pub file: Option<FileContent>,
    /// `inherit: false`: the entry ignores ACEs above it.
    pub inherit_broken: bool,
    pub modified_at: i64,
    pub created_at: i64,
    pub owner: Option<UserId>,
    /// The user who wrote the current content (or created the folder), if a user did.
    pub modified_by: Option<UserId>,
    /// The connector that wrote the current content last, if one did.
    pub origin: Option<ConnectorId>,
}

const FOLDER: u8 = 1;
const INHERIT_BROKEN: u8 = 2;
const HAS_OWNER: u8 = 4;
const HAS_MODIFIED_BY: u8 = 8;
const HAS_ORIGIN: u8 = 16;
// The common cases below are stored as a bit instead of 16 or 8 bytes: a file written once by its owner, with no
// modification time given, needs neither a second user id nor two more timestamps.
const MODIFIED_BY_OWNER: u8 = 32;
const STORED_AT_CREATION: u8 = 64;
const MODIFIED_WHEN_STORED: u8 = 128;

impl EntryRecord {
    const V: u8 = 1;

    pub fn is_folder(&self) -> bool {
        self.file.is_none()
    }

    pub fn encode(&self) -> Vec<u8> {
        let by_owner = self.owner.is_some() && self.modified_by == self.owner;
        let stored_at = self.file.as_ref().map(|f| f.stored_at);
        let stored_at_creation = stored_at == Some(self.created_at);
        let modified_when_stored = stored_at == Some(self.modified_at);
        let mut flags = 0;
        for (set, bit) in [
            (self.file.is_none(), FOLDER),
            (self.inherit_broken, INHERIT_BROKEN),
            (self.owner.is_some(), HAS_OWNER),
            (self.modified_by.is_some() && !by_owner, HAS_MODIFIED_BY),
            (self.origin.is_some(), HAS_ORIGIN),
            (by_owner, MODIFIED_BY_OWNER),
            (stored_at_creation, STORED_AT_CREATION),
            (modified_when_stored, MODIFIED_WHEN_STORED),
        ] {
            if set {
                flags |= bit;
            }
        }
        let mut e = Enc::new(Self::V);
        e.u8(flags).bytes(&self.id.to_bytes()).i64(self.created_at);
        if !modified_when_stored {
            e.i64(self.modified_at);
        }
        if let Some(f) = &self.file {
            e.varint(f.size).bytes(&f.hash).bytes(&f.version_id.to_bytes()).varint(u64::from(f.version_count));
            if !stored_at_creation {
                e.i64(f.stored_at);
            }
        }
        if let Some(owner) = self.owner {
            e.bytes(&owner.to_bytes());
        }
        if let (Some(by), false) = (self.modified_by, by_owner) {
            e.bytes(&by.to_bytes());
        }
        if let Some(c) = self.origin {
            e.bytes(&c.to_bytes());
        }
        e.finish()
    }

    pub fn decode(buf: &[u8]) -> DriveResult<Self> {
        const T: &str = "drive_children";
        let mut d = Dec::new(buf, T, Self::V)?;
        let flags = d.u8()?;
        let id = EntryId::from_bytes(d.arr()?);
        let created_at = d.i64()?;
        let modified_at = if flags & MODIFIED_WHEN_STORED == 0 { Some(d.i64()?) } else { None };
        let file = if flags & FOLDER == 0 {
            let size = d.varint()?;
            let hash = d.arr()?;
            let version_id = VersionId::from_bytes(d.arr()?);
            let version_count = u32::try_from(d.varint()?).map_err(|_| DriveError::Corrupt(T))?;
            let stored_at = if flags & STORED_AT_CREATION != 0 { created_at } else { d.i64()? };
            Some(FileContent { size, hash, version_id, version_count, stored_at })
        } else {
            None
        };
        let modified_at = match (modified_at, &file) {
            (Some(m), _) => m,
            (None, Some(f)) => f.stored_at,
            (None, None) => return Err(DriveError::Corrupt(T)),
        };
        let owner = if flags & HAS_OWNER != 0 { Some(UserId::from_bytes(d.arr()?)) } else { None };
        let modified_by = if flags & MODIFIED_BY_OWNER != 0 {
            owner
        } else if flags & HAS_MODIFIED_BY != 0 {
            Some(UserId::from_bytes(d.arr()?))
        } else {
            None
        };
        let origin = if flags & HAS_ORIGIN != 0 { Some(ConnectorId::from_bytes(d.arr()?)) } else { None };
        Ok(Self {
            id,
            file,
            inherit_broken: flags & INHERIT_BROKEN != 0,
            modified_at,
            created_at,
            owner,
            modified_by,
            origin,
        })
    }
}

/// Where an entry's row is: its parent (an entry, the share id for a root, a trash id in the trash) and its
/// name. The share is not stored: walking up the parents ends at the share id (or a trash id), which keeps this
/// table 16 bytes an entry smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    pub parent: [u8; 16],
    pub name: String,
}

impl Locator {
    const V: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new(Self::V);
        e.bytes(&self.parent).bytes(self.name.as_bytes());
        e.finish()
    }

    pub fn decode(buf: &[u8]) -> DriveResult<Self> {
        const T: &str = "drive_entries";
        let mut d = Dec::new(buf, T, Self::V)?;
        let parent = d.arr()?;
        let name = String::from_utf8(d.rest().to_vec()).map_err(|_| DriveError::Corrupt(T))?;
        Ok(Self { parent, name })
    }

    pub fn key(&self) -> Vec<u8> {
        child_key(self.parent, &self.name)
    }
}

/// A past version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub size: u64,
    pub hash: [u8; 32],
    pub modified_at: i64,
    /// When this content was stored.
    pub created_at: i64,
    /// When it stopped being current: retention counts from here.
    pub superseded_at: i64,
    pub author: Option<UserId>,
    /// What made it a version (the overwriting user or connector and its reason).
    pub origin: Option<Origin>,
}

impl VersionRecord {
    const V: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new(Self::V);
        e.varint(self.size).bytes(&self.hash).i64(self.modified_at).i64(self.created_at).i64(self.superseded_at);
        match self.author {
            Some(u) => e.u8(1).bytes(&u.to_bytes()),
            None => e.u8(0),
        };
        match &self.origin {
            Some(o) => o.encode(&mut e),
            None => {
                e.u8(0);
            }
        }
        e.finish()
    }

    pub fn decode(buf: &[u8]) -> DriveResult<Self> {
        const T: &str = "drive_versions";
        let mut d = Dec::new(buf, T, Self::V)?;
        let size = d.varint()?;
        let hash = d.arr()?;
        let modified_at = d.i64()?;
        let created_at = d.i64()?;
        let superseded_at = d.i64()?;
        let author = if d.u8()? == 1 { Some(UserId::from_bytes(d.arr()?)) } else { None };
        let origin = Origin::decode_opt(&mut d, T)?;
        Ok(Self { size, hash, modified_at, created_at, superseded_at, author, origin })
    }
}

/// One deleted entry (a folder with its subtree) waiting in the trash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashRecord {
    pub entry: EntryId,
    pub original_path: String,
    pub deleted_at: i64,
    pub origin: Origin,
    /// Bytes of the live files it held, and whether it is a folder: kept so listing the trash walks nothing.
    pub size: u64,
    pub folder: bool,
}

impl TrashRecord {
    const V: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new(Self::V);
        e.bytes(&self.entry.to_bytes()).str(&self.original_path).i64(self.deleted_at);
        e.varint(self.size).u8(u8::from(self.folder));
        self.origin.encode(&mut e);
        e.finish()
    }

    pub fn decode(buf: &[u8]) -> DriveResult<Self> {
        const T: &str = "drive_trash";
        let mut d = Dec::new(buf, T, Self::V)?;
        Ok(Self {
            entry: EntryId::from_bytes(d.arr()?),
            original_path: d.str()?,
            deleted_at: d.i64()?,
            size: d.varint()?,
            folder: d.u8()? == 1,
            origin: Origin::decode(&mut d, T)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(stored_at: i64) -> FileContent {
        FileContent { size: 5, hash: [3; 32], version_id: VersionId::new(), version_count: 2, stored_at }
    }

    #[test]
    fn entry_records_round_trip_in_every_shortcut_combination() {
        let (u1, u2) = (UserId::new(), UserId::new());
        for file in [None, Some(file(10)), Some(file(20))] {
            for (owner, modified_by) in [(None, None), (Some(u1), Some(u1)), (Some(u1), Some(u2)), (None, Some(u2))] {
                for modified_at in [10, 20, 30] {
                    let r = EntryRecord {
                        id: EntryId::new(),
                        file: file.clone(),
                        inherit_broken: modified_at == 30,
                        modified_at,
                        created_at: 10,
                        owner,
                        modified_by,
                        origin: Some(ConnectorId::new()),
                    };
                    assert_eq!(EntryRecord::decode(&r.encode()).unwrap(), r);
                }
            }
        }
    }

    #[test]
    fn a_file_written_once_by_its_owner_takes_few_bytes() {
        let u = UserId::new();
        let r = EntryRecord {
            id: EntryId::new(),
            file: Some(file(10)),
            inherit_broken: false,
            modified_at: 10,
            created_at: 10,
            owner: Some(u),
            modified_by: Some(u),
            origin: None,
        };
        assert_eq!(r.encode().len(), 1 + 1 + 16 + 8 + 1 + 32 + 16 + 1 + 16);
    }

    #[test]
    fn other_records_round_trip() {
        let share = ShareRecord {
            name: "Team".into(),
            root: EntryId::new(),
            quota_bytes: Some(0),
            retention_days: 30,
            used_bytes: 1 << 40,
            file_count: 3,
            created_at: -5,
            created_by: None,
        };
        assert_eq!(ShareRecord::decode(&share.encode()).unwrap(), share);
        let loc = Locator { parent: [9; 16], name: "n\u{e9}".into() };
        assert_eq!(Locator::decode(&loc.encode()).unwrap(), loc);
        let v = VersionRecord {
            size: 1,
            hash: [1; 32],
            modified_at: 1,
            created_at: 2,
            superseded_at: 3,
            author: Some(UserId::new()),
            origin: Some(Origin::connector(ConnectorId::new(), "overwritten_by_sync")),
        };
        assert_eq!(VersionRecord::decode(&v.encode()).unwrap(), v);
        let t = TrashRecord {
            entry: EntryId::new(),
            original_path: "/a".into(),
            deleted_at: 4,
            origin: Origin::user(UserId::new()),
            size: 7,
            folder: true,
        };
        assert_eq!(TrashRecord::decode(&t.encode()).unwrap(), t);
    }
}
