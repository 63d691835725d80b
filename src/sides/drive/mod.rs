//! The drive side: the sync engine's [`Side`] and [`EngineDriveSide`] over the embedded store, for one share and
//! one folder in it (the connector's `target_path`).
//!
//! - Identity is the drive entry id, so a rename is seen as one and a move keeps the entry (and its versions).
//! - A file's change tag is its SHA-256, which the listing also carries as the native hash: an equal hash spares
//!   the engine a download. A folder's tag is its etag (its creation time; children do not change it).
//! - Every change goes through the store's own conditional operations: writes with `If-Match` on the etag the
//!   engine's expectation resolves to (or must-not-exist), deletes to the trash with `If-Match`, moves by entry
//!   id. The store keeps an overwritten content as a version and records the connector as its origin.
//! - The store blocks, so each call runs on `spawn_blocking`; content moves in chunks through `bridge`.
//!
//! The paths the engine uses are relative to the target folder; the drive's own are absolute in the share.

pub(crate) mod bridge;
pub(crate) mod errors;
mod listing;

use std::sync::Arc;

use self::bridge::{Expect, download, upload};
use self::errors::classify;
use crate::drive::{
    Drive, DriveError, DrivePath, Entry as DriveEntry, EntryRef, Origin, Precondition as DrivePrecondition,
    WriteOptions,
};
use crate::ids::{ConnectorId, ShareId};
use crate::sides::budget::{self, TransferBudget};
use crate::sync::entry::{Attributes, ContentHash, Entry, HashKind, Kind, Sha256Digest, SideState};
use crate::sync::names::NamingRules;
use crate::sync::path::SyncPath;
use crate::sync::side::{
    ByteStream, Capabilities, DriveSide as EngineDriveSide, ErrorCode, Listing, Precondition, Side, SideError,
    VersionOrigin, WriteRequest, Written,
};

/// Why a listing fails when the target folder is gone: the run must stop rather than see every file deleted.
const SYNC_ROOT_GONE: &str = "the connector's target folder no longer exists on the drive";

/// Reasons recorded with the connector as the origin of what it changed on the drive.
const WRITE_REASON: &str = "overwritten_by_sync";
const DELETE_REASON: &str = "deleted_by_sync";
const MOVE_REASON: &str = "moved_by_sync";

/// One connector's view of the drive.
#[derive(Clone)]
pub struct DriveSide {
    inner: Arc<Inner>,
    /// Paces content streams (transfer slots, bandwidth); none moves content as fast as it can.
    budget: Option<Arc<dyn TransferBudget>>,
}

struct Inner {
    drive: Drive,
    share: ShareId,
    /// The target folder, absolute in the share.
    root: DrivePath,
    connector: ConnectorId,
}

fn changed(path: &SyncPath) -> SideError {
    SideError::new(ErrorCode::PreconditionFailed, format!("'{path}' changed since it was listed"))
}

impl Inner {
    fn origin(&self, reason: &str) -> Origin {
        Origin::connector(self.connector, reason)
    }

    /// The drive path of an engine path. A name the store refuses is `INVALID_NAME`.
    fn drive_path(&self, path: &SyncPath) -> Result<DrivePath, SideError> {
        let base = if self.root.is_root() { "" } else { self.root.as_str() };
        DrivePath::parse(&format!("{base}/{path}"))
            .ok()
            .filter(|p| !path.as_str().is_empty() && *p != self.root)
            .ok_or_else(|| SideError::new(ErrorCode::InvalidName, format!("'{path}' is not a valid drive path")))
    }

    /// The drive path for a new name (a write, a move's target, a folder). The store keeps names in NFC and
    /// takes any spelling: the engine knows (`NamingRules::nfc`) that a name it wrote in NFD lists back in NFC.
    fn new_path(&self, path: &SyncPath) -> Result<DrivePath, SideError> {
        self.drive_path(path)
    }

    /// The engine's path of a drive entry below the target folder.
    fn sync_path(&self, path: &DrivePath) -> Option<SyncPath> {
        let rest = if self.root.is_root() {
            path.as_str().strip_prefix('/')
        } else {
            path.as_str().strip_prefix(self.root.as_str())?.strip_prefix('/')
        };
        rest.filter(|r| !r.is_empty()).map(SyncPath::new)
    }

    /// The engine's view of a drive entry; `None` outside the target folder.
    fn to_sync(&self, e: &DriveEntry) -> Option<Entry> {
        let sha = e.content_hash.map(|h| Sha256Digest(h.0));
        Some(Entry {
            path: self.sync_path(&e.path)?,
            id: e.id.to_string().into_boxed_str(),
            kind: if e.is_folder() { Kind::Folder } else { Kind::File },
            size: e.size,
            modified: e.modified_at,
            tag: match sha {
                Some(sha) => sha.to_string().into_boxed_str(),
                None => e.etag.to_string().into_boxed_str(),
            },
            attrs: Attributes::default(),
            hash: sha.map(ContentHash::sha256),
        })
    }

    /// The entry at `path` now, `None` when nothing is there.
    fn stat(&self, path: &SyncPath) -> Result<Option<(DriveEntry, Entry)>, SideError> {
        let drive_path = self.drive_path(path)?;
        match self.drive.entry_by_path(self.share, &drive_path) {
            Ok(e) => Ok(self.to_sync(&e).map(|s| (e, s))),
            Err(DriveError::NotFound(_)) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// The entry at `path`, provided it is still as the engine listed it.
    fn expect(&self, path: &SyncPath, expect: &SideState) -> Result<DriveEntry, SideError> {
        match self.stat(path)? {
            Some((drive, sync)) if sync.matches(expect) => Ok(drive),
            Some(_) => Err(changed(path)),
            None => Err(SideError::new(ErrorCode::NotFound, format!("'{path}' does not exist"))),
        }
    }
}

impl DriveSide {
    /// The drive side of one connector: `target` in `share`, created (with missing parents) when missing.
    pub async fn open(
        drive: Drive,
        share: ShareId,
        target: DrivePath,
        connector: ConnectorId,
    ) -> Result<Self, SideError> {
        let inner = Arc::new(Inner { drive, share, root: target, connector });
        let side = Self { inner, budget: None };
        side.blocking(|inner| {
            if inner.root.is_root() {
                return inner.drive.share_root(inner.share).map(drop).map_err(classify);
            }
            match inner.drive.create_folder(inner.share, &inner.root, &inner.origin("target_created")) {
                Ok(_) => Ok(()),
                Err(DriveError::AlreadyExists(_)) => {
                    let e = inner.drive.entry_by_path(inner.share, &inner.root).map_err(classify)?;
                    if e.is_folder() {
                        Ok(())
                    } else {
                        Err(SideError::new(ErrorCode::AlreadyExists, format!("a file is at '{}'", inner.root)))
                    }
                }
                Err(e) => Err(classify(e)),
            }
        })
        .await?;
        Ok(side)
    }

    /// Every content stream in or out of the drive spends `budget`.
    pub fn with_budget(mut self, budget: Arc<dyn TransferBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Runs a store call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, SideError> + Send + 'static,
    ) -> Result<T, SideError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| SideError::new(ErrorCode::Internal, format!("a drive task failed: {e}")))?
    }

    /// Stores `content` (streamed) through `store`, which gets the bridged reader on a blocking thread.
    async fn store<T: Send + 'static>(
        &self,
        content: ByteStream,
        expect: Expect,
        store: impl FnOnce(&Inner, &mut dyn std::io::Read) -> Result<T, DriveError> + Send + 'static,
    ) -> Result<T, SideError> {
        let content = budget::under(self.budget.as_ref(), content).await;
        let (mut reader, feed) = upload(content, expect);
        let inner = self.inner.clone();
        let task = tokio::task::spawn_blocking(move || store(&inner, &mut reader));
        feed.await;
        task.await
            .map_err(|e| SideError::new(ErrorCode::Internal, format!("a drive task failed: {e}")))?
            .map_err(classify)
    }
}

impl Side for DriveSide {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delta_tokens: false,
            // The drive keeps access entries; translating the source's ACLs into them is the connector's job.
            acls: true,
            native_hash: Some(HashKind::Sha256),
            naming: NamingRules::drive(),
            recoverable: true,
        }
    }

    fn list(&self) -> Listing<'_> {
        listing::list(self.inner.clone())
    }

    async fn stat(&self, path: &SyncPath) -> Result<Option<Entry>, SideError> {
        let path = path.clone();
        self.blocking(move |inner| Ok(inner.stat(&path)?.map(|(_, e)| e))).await
    }

    async fn hash(&self, path: &SyncPath, kind: HashKind) -> Result<ContentHash, SideError> {
        if kind != HashKind::Sha256 {
            // The engine compares contents across sides by SHA-256 only.
            return Err(SideError::new(ErrorCode::Internal, format!("the drive has no {kind:?} hash")));
        }
        let path = path.clone();
        self.blocking(move |inner| match inner.stat(&path)? {
            Some((_, Entry { hash: Some(hash), .. })) => Ok(hash),
            Some(_) => Err(SideError::new(ErrorCode::AlreadyExists, format!("'{path}' is a folder"))),
            None => Err(SideError::new(ErrorCode::NotFound, format!("'{path}' does not exist"))),
        })
        .await
    }

    async fn read(&self, path: &SyncPath, expect: &SideState) -> Result<ByteStream, SideError> {
        let (path, expect) = (path.clone(), expect.clone());
        let reader = self
            .blocking(move |inner| {
                let target = EntryRef::Path(inner.drive_path(&path)?);
                let (entry, reader) = inner.drive.read_file(inner.share, &target).map_err(classify)?;
                // The entry and the reader come from one snapshot, and a blob never changes once stored.
                match inner.to_sync(&entry) {
                    Some(e) if e.matches(&expect) => Ok(reader),
                    _ => Err(changed(&path)),
                }
            })
            .await?;
        Ok(budget::under(self.budget.as_ref(), download(reader)).await)
    }

    async fn write(&self, request: WriteRequest, content: ByteStream) -> Result<Written, SideError> {
        let path = request.path.clone();
        let drive_path = self.inner.new_path(&path)?;
        let precondition = match &request.precondition {
            Precondition::MustNotExist => DrivePrecondition::MustNotExist,
            Precondition::Matches(expect) => {
                let (path, expect) = (path.clone(), expect.clone());
                // The engine's expectation pinned to the etag it stands for: the store's commit checks that.
                let current = self.blocking(move |inner| inner.expect(&path, &expect)).await;
                match current {
                    Ok(e) if !e.is_folder() => DrivePrecondition::IfMatch(e.etag.to_string()),
                    Ok(_) | Err(SideError { code: ErrorCode::NotFound, .. }) => return Err(changed(&request.path)),
                    Err(e) => return Err(e),
                }
            }
        };
        let opts = WriteOptions {
            precondition,
            modified_at: Some(request.modified),
            origin: self.inner.origin(WRITE_REASON),
            expected_size: Some(request.size),
        };
        let expect = Expect { size: Some(request.size), sha256: request.sha256 };
        let entry = self
            .store(content, expect, move |inner, reader| {
                inner.drive.write_file(inner.share, &drive_path, reader, &opts)
            })
            .await?;
        let sha256 = entry.content_hash.map(|h| Sha256Digest(h.0));
        match (self.inner.to_sync(&entry), sha256) {
            (Some(entry), Some(sha256)) => Ok(Written { entry, sha256 }),
            _ => Err(SideError::new(ErrorCode::Internal, format!("the write of '{path}' reported no file"))),
        }
    }

    async fn move_entry(&self, from: &SyncPath, to: &SyncPath, expect: &SideState) -> Result<Entry, SideError> {
        let (from, to, expect) = (from.clone(), to.clone(), expect.clone());
        self.blocking(move |inner| {
            let target = inner.new_path(&to)?;
            let entry = inner.expect(&from, &expect)?;
            // By id: if the entry moved or was replaced since the check, this moves that entry or fails, never
            // another one that took its path.
            let moved = inner
                .drive
                .move_entry(inner.share, &EntryRef::Id(entry.id), &target, &inner.origin(MOVE_REASON))
                .map_err(classify)?;
            inner.to_sync(&moved).ok_or_else(|| SideError::new(ErrorCode::InvalidName, format!("'{to}' is outside")))
        })
        .await
    }

    async fn delete(&self, path: &SyncPath, expect: &SideState) -> Result<(), SideError> {
        let (path, expect) = (path.clone(), expect.clone());
        self.blocking(move |inner| {
            let entry = inner.expect(&path, &expect)?;
            if entry.is_folder() {
                let page = inner.drive.list_folder(inner.share, &entry.path, None, 1).map_err(classify)?;
                if !page.entries.is_empty() {
                    return Err(SideError::new(ErrorCode::NotEmpty, format!("'{path}' is not empty")));
                }
            }
            let precondition = DrivePrecondition::IfMatch(entry.etag.to_string());
            inner
                .drive
                .delete_entry(inner.share, &EntryRef::Id(entry.id), &precondition, &inner.origin(DELETE_REASON))
                .map(drop)
                .map_err(classify)
        })
        .await
    }

    async fn make_folder(&self, path: &SyncPath) -> Result<Entry, SideError> {
        let path = path.clone();
        self.blocking(move |inner| {
            let drive_path = inner.new_path(&path)?;
            let made = match inner.drive.create_folder(inner.share, &drive_path, &inner.origin(WRITE_REASON)) {
                Ok(e) => e,
                Err(DriveError::AlreadyExists(_)) => {
                    inner.drive.entry_by_path(inner.share, &drive_path).map_err(classify)?
                }
                Err(e) => return Err(classify(e)),
            };
            match inner.to_sync(&made) {
                Some(e) if e.kind == Kind::Folder => Ok(e),
                _ => Err(SideError::new(ErrorCode::AlreadyExists, format!("a file exists at '{path}'"))),
            }
        })
        .await
    }
}

impl EngineDriveSide for DriveSide {
    async fn save_version(&self, path: &SyncPath, content: ByteStream, origin: VersionOrigin) -> Result<(), SideError> {
        let drive_path = self.inner.drive_path(path)?;
        let reason = match origin {
            VersionOrigin::SourceBeforeOverwrite => "source_overwritten",
            VersionOrigin::SourceBeforeDelete => "source_deleted",
        };
        // The store keeps the content as a past version of the file there, or, with no file there, as a deleted
        // file at that path in the trash: listed and restorable either way.
        self.store(content, Expect::default(), move |inner, reader| {
            let origin = inner.origin(reason);
            inner.drive.save_version(inner.share, &EntryRef::Path(drive_path), reader, None, &origin)
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests;
