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

use redb::TableDefinition;
use time::OffsetDateTime;

use super::codec::{Dec, Enc};
use super::error::{DriveError, DriveResult};
use crate::ids::{ConnectorId, EntryId, UserId, VersionId};

pub const SHARES: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("drive_shares");
pub const CHILDREN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("drive_children");
pub const ENTRIES: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("drive_entries");
pub const VERSIONS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("drive_versions");
pub const VERSION_OWNER: TableDefinition<[u8; 16], [u8; 16]> = TableDefinition::new("drive_version_owner");
/// Key `share id ++ trash id`: a share's trash is one range, oldest first.
pub const TRASH: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("drive_trash");
pub const BLOBS: TableDefinition<[u8; 32], u64> = TableDefinition::new("drive_blobs");
pub const DEAD_BLOBS: TableDefinition<[u8; 32], i64> = TableDefinition::new("drive_dead_blobs");
/// Entry id -> the entry's metadata object as JSON text.
pub const METADATA: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("drive_metadata");
/// Entry id (a share's ACEs sit on its root entry) -> the encoded ACE list.
pub const ACES: TableDefinition<[u8; 16], &[u8]> = TableDefinition::new("drive_aces");

/// Creates every drive table so read transactions never meet a missing one.
pub fn create_all(txn: &redb::WriteTransaction) -> DriveResult<()> {
    txn.open_table(SHARES)?;
    txn.open_table(CHILDREN)?;
    txn.open_table(ENTRIES)?;
    txn.open_table(VERSIONS)?;
    txn.open_table(VERSION_OWNER)?;
    txn.open_table(TRASH)?;
    txn.open_table(BLOBS)?;
    txn.open_table(DEAD_BLOBS)?;
    txn.open_table(METADATA)?;
    txn.open_table(ACES)?;
    Ok(())
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
        Self::decode_opt(d, table)?.ok_or(DriveError::Corrupt(table))
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

impl EntryRecord {
    const V: u8 = 1;

    pub fn is_folder(&self) -> bool {
        self.file.is_none()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0;
        for (set, bit) in [
            (self.file.is_none(), FOLDER),
            (self.inherit_broken, INHERIT_BROKEN),
            (self.owner.is_some(), HAS_OWNER),
            (self.modified_by.is_some(), HAS_MODIFIED_BY),
            (self.origin.is_some(), HAS_ORIGIN),
        ] {
            if set {
                flags |= bit;
            }
        }
        let mut e = Enc::new(Self::V);
        e.u8(flags).bytes(&self.id.to_bytes()).i64(self.modified_at).i64(self.created_at);
        if let Some(f) = &self.file {
            e.varint(f.size).bytes(&f.hash).bytes(&f.version_id.to_bytes());
            e.varint(u64::from(f.version_count)).i64(f.stored_at);
        }
        for id in [self.owner, self.modified_by].into_iter().flatten() {
            e.bytes(&id.to_bytes());
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
        let modified_at = d.i64()?;
        let created_at = d.i64()?;
        let file = if flags & FOLDER == 0 {
            Some(FileContent {
                size: d.varint()?,
                hash: d.arr()?,
                version_id: VersionId::from_bytes(d.arr()?),
                version_count: u32::try_from(d.varint()?).map_err(|_| DriveError::Corrupt(T))?,
                stored_at: d.i64()?,
            })
        } else {
            None
        };
        let owner = if flags & HAS_OWNER != 0 { Some(UserId::from_bytes(d.arr()?)) } else { None };
        let modified_by = if flags & HAS_MODIFIED_BY != 0 { Some(UserId::from_bytes(d.arr()?)) } else { None };
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

/// Where an entry's row is: its share, its parent (an entry, the share id for a root, a trash id in the trash)
/// and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    pub share: [u8; 16],
    pub parent: [u8; 16],
    pub name: String,
}

impl Locator {
    const V: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new(Self::V);
        e.bytes(&self.share).bytes(&self.parent).bytes(self.name.as_bytes());
        e.finish()
    }

    pub fn decode(buf: &[u8]) -> DriveResult<Self> {
        const T: &str = "drive_entries";
        let mut d = Dec::new(buf, T, Self::V)?;
        let share = d.arr()?;
        let parent = d.arr()?;
        let name = String::from_utf8(d.rest().to_vec()).map_err(|_| DriveError::Corrupt(T))?;
        Ok(Self { share, parent, name })
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
