//! The embedded ScaiDrive store: shares, files and folders with stable ids, versions, trash, metadata, access
//! entries and quota, with state in the appliance's redb database and content as blobs on local disk.
//!
//! The API is synchronous on purpose: redb transactions and file I/O block, and a commit is durable when it
//! returns. Async callers (the HTTP handlers, the sync engine's drive side) run each call in
//! `tokio::task::spawn_blocking`; a [`Drive`] is a cheap `Clone` handle that is `Send + Sync` for that. Content is
//! streamed both ways: writes take a `Read`, reads return a [`ContentReader`] (`Read + Seek`, for `Range`).
//!
//! Operations do not check access themselves (the sync engine acts as the system). The HTTP layer calls
//! [`Drive::authorize`] first, which answers `NotFound` to a caller with no access at all.

mod acl;
mod blobs;
mod codec;
mod commit_group;
mod content;
mod entries;
mod error;
mod metadata;
mod paths;
mod retention;
mod shares;
mod spool;
mod stats;
mod tables;
mod trash;
mod tree;
mod versions;
mod walk;

use std::path::Path;
use std::sync::{Arc, RwLock};

use redb::Database;
use serde::Serialize;
use time::OffsetDateTime;

pub use acl::{Access, Ace, AceSource, AceType, Caller, EntryPermissions, Membership, Permission, PrincipalId};
pub use blobs::{ContentHash, ContentReader};
pub use commit_group::CommitCounts;
pub use content::{Precondition, WriteOptions};
pub use entries::{EntryRef, MAX_PAGE, Page};
pub use error::{DriveError, DriveResult};
pub use metadata::Metadata;
pub use paths::{DrivePath, MAX_NAME_BYTES, path_order, validate_name};
pub use retention::PurgeReport;
pub use shares::{Share, ShareUpdate};
pub use stats::TableUsage;
pub use tables::Origin;
pub use trash::{TrashItem, TrashPage};
pub use versions::Version;
pub use walk::{SubtreeItem, SubtreeWalk, TreeSnapshot};

use crate::clock::SharedClock;
use crate::ids::{ConnectorId, EntryId, ShareId, UserId, VersionId};
use blobs::BlobStore;
use tables::{EntryRecord, from_nanos};

/// The handle to the store. Clones share one database, blob directory and clock.
#[derive(Clone)]
pub struct Drive {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    blobs: BlobStore,
    clock: SharedClock,
    /// Held shared by a writer from publishing its blob until its transaction commits, and exclusively by the
    /// purge while it deletes blob files: a blob the purge sees unreferenced cannot be about to gain a reference.
    blob_gate: RwLock<()>,
    /// Writes waiting to be linked by the next group commit.
    commits: commit_group::CommitQueue,
}

impl Drive {
    /// Opens the store over the appliance's database (creating the drive tables) and `content_dir`, and sweeps
    /// temp files that an interrupted write left behind.
    pub fn open(db: Arc<Database>, content_dir: &Path, clock: SharedClock) -> DriveResult<Self> {
        let (blobs, swept) = BlobStore::open(content_dir)?;
        if swept > 0 {
            tracing::info!(swept, "removed temp files of writes interrupted before a restart");
        }
        let txn = db.begin_write()?;
        tables::create_all(&txn)?;
        txn.commit()?;
        let commits = commit_group::CommitQueue::default();
        Ok(Self { inner: Arc::new(Inner { db, blobs, clock, blob_gate: RwLock::new(()), commits }) })
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    fn db(&self) -> &Database {
        &self.inner.db
    }

    /// Temp files of writes in flight (after a restart: of writes the sweep has not removed, so always 0).
    pub fn pending_temp_files(&self) -> DriveResult<usize> {
        self.inner.blobs.temp_count()
    }

    /// How many blob files are on disk (content stored once however many files and versions share it).
    pub fn stored_blob_count(&self) -> DriveResult<usize> {
        Ok(self.inner.blobs.list()?.len())
    }
}

/// A file or a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Folder,
}

/// An entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: EntryId,
    pub share_id: ShareId,
    #[serde(serialize_with = "ser_path")]
    pub path: DrivePath,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub size: u64,
    /// SHA-256 of the content, hex; `None` for folders.
    pub content_hash: Option<ContentHash>,
    pub etag: Etag,
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub owner_id: Option<UserId>,
    /// The current version; `None` for folders.
    pub version_id: Option<VersionId>,
    pub version_count: u32,
    /// The connector that wrote the current content, if one did.
    pub origin: Option<ConnectorId>,
    /// `false` when the entry ignores the ACEs of the folders above it.
    pub inherit: bool,
}

fn ser_path<S: serde::Serializer>(p: &DrivePath, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

impl Entry {
    pub fn is_folder(&self) -> bool {
        self.kind == EntryKind::Folder
    }

    fn from_record(share_id: ShareId, path: DrivePath, r: &EntryRecord) -> Self {
        let name = path.name().unwrap_or("").to_owned();
        let (kind, size, content_hash, etag, version_id, version_count) = match &r.file {
            Some(f) => (
                EntryKind::File,
                f.size,
                Some(ContentHash(f.hash)),
                Etag::File(f.version_id),
                Some(f.version_id),
                f.version_count,
            ),
            None => (EntryKind::Folder, 0, None, Etag::Folder(r.modified_at), None, 0),
        };
        Self {
            id: r.id,
            share_id,
            path,
            name,
            kind,
            size,
            content_hash,
            etag,
            modified_at: from_nanos(r.modified_at),
            created_at: from_nanos(r.created_at),
            owner_id: r.owner,
            version_id,
            version_count,
            origin: r.origin,
            inherit: !r.inherit_broken,
        }
    }
}

/// An entry's etag, printed unquoted (the HTTP layer adds the quotes). A file's is its current version id (it
/// changes with every write of the content, and only then); a folder's follows its modification time. Printed
/// only when asked: formatting it for every entry of a listing page cost a tenth of the page's time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Etag {
    File(VersionId),
    Folder(i64),
}

impl std::fmt::Display for Etag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(v) => write!(f, "{}", ulid::Ulid::from_bytes(v.to_bytes())),
            Self::Folder(nanos) => write!(f, "d{nanos:x}"),
        }
    }
}

impl std::fmt::Debug for Etag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Serialize for Etag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests;
