//! The drive layer's one error enum. Each variant names a condition a caller can act on; the API edge maps them
//! to the spec's stable codes (`NOT_FOUND`, `PRECONDITION_FAILED`, `QUOTA_EXCEEDED`, ...) through [`DriveError::code`].
//! Lower-layer failures (disk, redb) keep their cause in `source()` and surface as internal errors.

use std::io;

/// A failure of a drive operation.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The share, entry, version or trash record does not exist (or the caller may not learn that it does).
    #[error("{0} not found")]
    NotFound(String),
    /// Something already sits at the target path.
    #[error("'{0}' already exists")]
    AlreadyExists(String),
    /// The caller's `If-Match` / `If-None-Match` condition no longer holds: reload and retry.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// A path component breaks the naming rules (NUL, control characters, `/`, over 255 bytes, `.`/`..`).
    #[error("invalid name '{name}': {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// The path as a whole is unusable (not absolute, empty component, move into itself).
    #[error("invalid path '{path}': {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// Writing this content would take the share over its quota; nothing was written.
    #[error("quota exceeded: the share has {available} bytes left")]
    QuotaExceeded { available: u64 },
    /// A folder was required (listing, parent of a new entry) but a file sits there.
    #[error("'{0}' is not a folder")]
    NotAFolder(String),
    /// A file was required (download, upload over it, versions) but a folder sits there.
    #[error("'{0}' is not a file")]
    NotAFile(String),
    /// The share cannot be deleted while something (a connector) still targets it.
    #[error("the share is in use: {0}")]
    ShareInUse(String),
    /// The caller can see the entry but lacks the permission the operation needs.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A request argument is malformed (bad cursor, bad metadata object).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Reading or writing content on disk failed (or the caller's reader failed mid-stream).
    #[error("content I/O failed")]
    Io(#[source] io::Error),
    /// The database failed or holds a record this code cannot decode.
    #[error("database failure")]
    Database(#[source] redb::Error),
    /// A stored record is malformed (unknown codec version, truncated).
    #[error("corrupt record in {0}")]
    Corrupt(&'static str),
}

impl DriveError {
    /// The stable API code for this error (see `/work/shared/spec/scaidrive-store.md`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NOT_FOUND",
            Self::AlreadyExists(_) => "ALREADY_EXISTS",
            Self::PreconditionFailed(_) => "PRECONDITION_FAILED",
            Self::InvalidName { .. } => "INVALID_NAME",
            Self::InvalidPath { .. } => "INVALID_PATH",
            Self::QuotaExceeded { .. } => "QUOTA_EXCEEDED",
            Self::NotAFolder(_) => "NOT_A_FOLDER",
            Self::NotAFile(_) => "NOT_A_FILE",
            Self::ShareInUse(_) => "SHARE_IN_USE",
            Self::PermissionDenied(_) => "FORBIDDEN",
            Self::InvalidArgument(_) => "VALIDATION_FAILED",
            Self::Io(_) | Self::Database(_) | Self::Corrupt(_) => "INTERNAL",
        }
    }
}

impl From<io::Error> for DriveError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for DriveError {
            fn from(e: $t) -> Self {
                Self::Database(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);

pub type DriveResult<T> = Result<T, DriveError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_maps_to_its_stable_code() {
        assert_eq!(DriveError::NotFound("x".into()).code(), "NOT_FOUND");
        assert_eq!(DriveError::QuotaExceeded { available: 3 }.code(), "QUOTA_EXCEEDED");
        assert_eq!(DriveError::InvalidName { name: "a".into(), reason: "r" }.code(), "INVALID_NAME");
        assert_eq!(DriveError::PreconditionFailed("x".into()).code(), "PRECONDITION_FAILED");
        assert_eq!(DriveError::ShareInUse("x".into()).code(), "SHARE_IN_USE");
        assert_eq!(DriveError::Io(io::Error::other("disk")).code(), "INTERNAL");
    }
}
