//! The contract every transport meets: SMB, SharePoint and the drive are adapters of [`Side`], and the drive also
//! of [`DriveSide`]. The engine needs nothing else from them.
//!
//! Every method states what happens at the edges. Methods return `Send` futures and streams because runs live in
//! tokio tasks; nothing here depends on tokio. Failures are [`SideError`]s whose [`ErrorCode`] says what the
//! engine does next ([`ErrorCode::disposition`]): retry, skip the file, or stop the run.
//!
//! For adapters:
//! - List in [`SyncPath`] order (sort each folder's children with `SyncPath::cmp` and walk depth first; merge
//!   case twins as the order says). Do not follow reparse points; report them with `attrs.reparse_point`.
//! - `Entry::tag` should move when content moves and, ideally, not otherwise: SMB `last_write_time` with the
//!   size and file id, Graph `cTag` (or the quickXorHash), the drive its SHA-256. A tag that also moves on
//!   renames (SMB change time, Graph eTag) is correct but costs a hash per renamed file.
//! - Put the native hash in `Entry::hash` when the listing has it (Graph quickXorHash, drive SHA-256): an equal
//!   native hash spares a download, a different one proves a change. [`Side::hash`] with `HashKind::Sha256`
//!   is what the engine asks when it must compare contents across sides; it is called only for files whose
//!   size or time changed.
//! - Classify every transport failure into an [`ErrorCode`] in one function (rclone `shouldRetry` style).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures::Stream;
use time::OffsetDateTime;

use super::entry::{ContentHash, Entry, HashKind, Sha256Digest, SideState};
use super::names::NamingRules;
use super::path::SyncPath;

/// File content as a stream of chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, SideError>> + Send + 'static>>;

/// A listing: every entry under the connector root, in [`SyncPath`] order, folders before their content.
pub type Listing<'a> = Pin<Box<dyn Stream<Item = Result<Entry, SideError>> + Send + 'a>>;

/// What a side can do, as named flags (rclone `Features` style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The side can list changes since a token (Graph delta); the engine still wants full listings.
    pub delta_tokens: bool,
    /// The side has ACLs the connector may translate.
    pub acls: bool,
    /// The hash the listing carries or [`Side::hash`] computes cheaply; `None` means hashing reads the content.
    pub native_hash: Option<HashKind>,
    /// Names the side refuses, and whether it folds case.
    pub naming: NamingRules,
    /// Overwrites and deletes keep the old content (versions, trash): true only for the drive.
    pub recoverable: bool,
}

/// What must be true of the destination right before a write, move or delete commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing exists at the path (on a case-insensitive side: under any spelling).
    MustNotExist,
    /// The entry is still as listed (identity, size, time, tag); SMB compares size and time, Graph sends
    /// `If-Match`.
    Matches(SideState),
}

/// A write of a whole file.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub path: SyncPath,
    pub precondition: Precondition,
    /// The size the content must have; a different size fails with `VERIFY_FAILED` and nothing is replaced.
    pub size: u64,
    /// The SHA-256 the content must have, when known.
    pub sha256: Option<Sha256Digest>,
    /// The modification time to set on the written file (the origin's time).
    pub modified: OffsetDateTime,
}

/// The result of a write: the entry as it now stands, and the SHA-256 of what was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub entry: Entry,
    pub sha256: Sha256Digest,
}

/// Why content is being saved as a drive version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOrigin {
    /// The source's content, saved before the engine overwrote it on the source.
    SourceBeforeOverwrite,
    /// The source's content, saved before the engine deleted it on the source.
    SourceBeforeDelete,
}

/// A transport seen by the engine.
pub trait Side: Send + Sync {
    fn capabilities(&self) -> Capabilities;

    /// Every entry under the root in [`SyncPath`] order. Temp names of interrupted transfers may appear; the
    /// engine ignores them. A listing that cannot complete must end with an error item (a partial listing
    /// would look like deletes).
    fn list(&self) -> Listing<'_>;

    /// The entry at `path` now, or `None`. On a case-insensitive side any spelling finds it; the entry carries
    /// the stored spelling.
    fn stat(&self, path: &SyncPath) -> impl Future<Output = Result<Option<Entry>, SideError>> + Send;

    /// The hash of the file's current content, of the given kind. May read the whole file.
    fn hash(&self, path: &SyncPath, kind: HashKind) -> impl Future<Output = Result<ContentHash, SideError>> + Send;

    /// The content of the file, provided it is still as `expect` says (`PRECONDITION_FAILED` otherwise).
    fn read(&self, path: &SyncPath, expect: &SideState) -> impl Future<Output = Result<ByteStream, SideError>> + Send;

    /// Writes the whole file atomically: into a temp name in the destination folder (see
    /// [`crate::sync::names::temp_path`]), hashing while writing; then checks size (and SHA-256 when given),
    /// checks the precondition again, and renames over the target in one step. Missing parent folders are
    /// created. On any failure the target is untouched and the temp name removed when possible. A recoverable
    /// side keeps the replaced content as a version.
    fn write(
        &self,
        request: WriteRequest,
        content: ByteStream,
    ) -> impl Future<Output = Result<Written, SideError>> + Send;

    /// Renames or moves the entry (a folder with its content) provided it is still as `expect` says and nothing
    /// exists at `to` (a case-only rename of the same entry is allowed). Missing parents of `to` are created.
    fn move_entry(
        &self,
        from: &SyncPath,
        to: &SyncPath,
        expect: &SideState,
    ) -> impl Future<Output = Result<Entry, SideError>> + Send;

    /// Deletes the entry provided it is still as `expect` says. A folder must be empty (`NOT_EMPTY`): the
    /// engine deletes only what it has seen, never a subtree wholesale. A recoverable side moves it to trash.
    fn delete(&self, path: &SyncPath, expect: &SideState) -> impl Future<Output = Result<(), SideError>> + Send;

    /// Creates the folder and missing parents; an existing folder is fine and returned as it is.
    fn make_folder(&self, path: &SyncPath) -> impl Future<Output = Result<Entry, SideError>> + Send;
}

/// What the engine needs of the drive beyond [`Side`]: somewhere to keep the source's content before it is
/// overwritten or deleted on the source (the recoverability rule).
pub trait DriveSide: Side {
    /// Saves `content` as a version of `path` in the drive's version store, listed and restorable for the
    /// retention period. The path need not currently exist on the drive. The current file (if any) is not
    /// changed.
    fn save_version(
        &self,
        path: &SyncPath,
        content: ByteStream,
        origin: VersionOrigin,
    ) -> impl Future<Output = Result<(), SideError>> + Send;
}

/// What the engine does about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient (throttled, timed out): try the action again, then count it as a per-file error.
    Retry,
    /// This file only: record a per-file error and go on; the next run tries again.
    SkipFile,
    /// Nothing else will work (credentials, server gone, crash): stop the run.
    StopRun,
}

/// Stable error codes, as the job log and API show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    FileLocked,
    PermissionDenied,
    InvalidName,
    SymlinkSkipped,
    CaseCollision,
    NotFound,
    /// The entry changed since it was listed: skipped, seen again next run.
    PreconditionFailed,
    AlreadyExists,
    NotEmpty,
    /// Written size or hash differs from what was expected (the origin changed while being read).
    VerifyFailed,
    QuotaExceeded,
    Throttled,
    Timeout,
    ConnectorAuthFailed,
    ConnectorUnreachable,
    /// The side's listing broke off: the run cannot tell deletes from gaps.
    ListingIncomplete,
    /// The process went away (fault injection) or an internal invariant broke.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileLocked => "FILE_LOCKED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::InvalidName => "INVALID_NAME",
            Self::SymlinkSkipped => "SYMLINK_SKIPPED",
            Self::CaseCollision => "CASE_COLLISION",
            Self::NotFound => "NOT_FOUND",
            Self::PreconditionFailed => "CHANGED_DURING_SYNC",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::NotEmpty => "FOLDER_NOT_EMPTY",
            Self::VerifyFailed => "VERIFY_FAILED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::Throttled => "THROTTLED",
            Self::Timeout => "TIMEOUT",
            Self::ConnectorAuthFailed => "CONNECTOR_AUTH_FAILED",
            Self::ConnectorUnreachable => "CONNECTOR_UNREACHABLE",
            Self::ListingIncomplete => "LISTING_INCOMPLETE",
            Self::Internal => "INTERNAL",
        }
    }

    /// The one place that decides what a failure means for the run.
    pub fn disposition(self) -> Disposition {
        match self {
            Self::Throttled | Self::Timeout => Disposition::Retry,
            Self::ConnectorAuthFailed | Self::ConnectorUnreachable | Self::ListingIncomplete | Self::Internal => {
                Disposition::StopRun
            }
            _ => Disposition::SkipFile,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A side's failure, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SideError {
    pub code: ErrorCode,
    pub message: String,
}

impl SideError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn disposition(&self) -> Disposition {
        self.code.disposition()
    }
}
