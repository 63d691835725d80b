//! `SmbError`: every failure of the SMB side, with the stable code the API and job log show.
//!
//! The `smb` crate reports server refusals as NT status numbers inside a few different variants
//! (`ReceivedErrorMessage`, `UnexpectedMessageStatus`), and network trouble as transport or I/O
//! errors. `SmbError::from_smb` sorts them once, here, into what the sync engine acts on: a
//! per-file error (skip this file, try it next run) or a connection error (stop the run).

use std::time::Duration;

/// NT status values we tell apart (MS-ERREF 2.3.1). Kept as numbers: several are not in the
/// crate's `Status` enum, and the crate hands statuses over as `u32` anyway.
pub mod status {
    pub const NO_SUCH_FILE: u32 = 0xC000_000F;
    pub const ACCESS_DENIED: u32 = 0xC000_0022;
    pub const OBJECT_NAME_INVALID: u32 = 0xC000_0033;
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
    pub const OBJECT_NAME_COLLISION: u32 = 0xC000_0035;
    pub const OBJECT_PATH_INVALID: u32 = 0xC000_0039;
    pub const OBJECT_PATH_NOT_FOUND: u32 = 0xC000_003A;
    pub const OBJECT_PATH_SYNTAX_BAD: u32 = 0xC000_003B;
    pub const SHARING_VIOLATION: u32 = 0xC000_0043;
    pub const DELETE_PENDING: u32 = 0xC000_0056;
    pub const FILE_LOCK_CONFLICT: u32 = 0xC000_0054;
    pub const LOCK_NOT_GRANTED: u32 = 0xC000_0055;
    pub const NO_SUCH_USER: u32 = 0xC000_0064;
    pub const WRONG_PASSWORD: u32 = 0xC000_006A;
    pub const LOGON_FAILURE: u32 = 0xC000_006D;
    pub const ACCOUNT_RESTRICTION: u32 = 0xC000_006E;
    pub const INVALID_LOGON_HOURS: u32 = 0xC000_006F;
    pub const INVALID_WORKSTATION: u32 = 0xC000_0070;
    pub const PASSWORD_EXPIRED: u32 = 0xC000_0071;
    pub const ACCOUNT_DISABLED: u32 = 0xC000_0072;
    pub const DISK_FULL: u32 = 0xC000_007F;
    pub const FILE_IS_A_DIRECTORY: u32 = 0xC000_00BA;
    pub const BAD_NETWORK_NAME: u32 = 0xC000_00CC;
    pub const NETWORK_NAME_DELETED: u32 = 0xC000_00C9;
    pub const DIRECTORY_NOT_EMPTY: u32 = 0xC000_0101;
    pub const NOT_A_DIRECTORY: u32 = 0xC000_0103;
    pub const FILE_DELETED: u32 = 0xC000_0123;
    pub const CANNOT_DELETE: u32 = 0xC000_0121;
    pub const PASSWORD_MUST_CHANGE: u32 = 0xC000_0224;
    pub const ACCOUNT_LOCKED_OUT: u32 = 0xC000_0234;
    pub const USER_SESSION_DELETED: u32 = 0xC000_0203;
    pub const NETWORK_SESSION_EXPIRED: u32 = 0xC000_035C;
    pub const QUOTA_EXCEEDED: u32 = 0xC000_0044;
    pub const NAME_TOO_LONG: u32 = 0xC000_0106;
    pub const STOPPED_ON_SYMLINK: u32 = 0x8000_002D;
}

/// A failure of an SMB operation. `path` fields are share-relative, as the caller gave them.
#[derive(Debug, thiserror::Error)]
pub enum SmbError {
    #[error("the SMB server rejected the credentials (status {status:#010x})")]
    AuthFailed { status: u32 },
    #[error("the SMB server at {addr} cannot be reached")]
    Unreachable {
        addr: String,
        #[source]
        source: Option<std::io::Error>,
    },
    #[error("the SMB connection was lost")]
    ConnectionLost {
        #[source]
        source: Option<smb::Error>,
    },
    #[error("no answer from the SMB server within {after:?} ({op})")]
    Timeout { op: &'static str, after: Duration },
    #[error("the share {share} does not exist on the server")]
    ShareNotFound { share: String },
    #[error("{path} is open in another program on the SMB side; it will be tried again next run")]
    Locked { path: String },
    #[error("the service account may not access {path}")]
    PermissionDenied { path: String },
    #[error("the SMB server refuses the name {path}")]
    InvalidName { path: String },
    #[error("{path} does not exist on the SMB share")]
    NotFound { path: String },
    #[error("{path} already exists on the SMB share")]
    AlreadyExists { path: String },
    #[error("{path} is not empty")]
    DirectoryNotEmpty { path: String },
    #[error("{path} is a folder where a file was expected")]
    IsADirectory { path: String },
    #[error("{path} is a file where a folder was expected")]
    NotADirectory { path: String },
    #[error("{path} is a symbolic link or junction and is not followed")]
    SymlinkSkipped { path: String },
    #[error("the SMB share is full")]
    DiskFull { path: String },
    #[error("{path} changed size while it was read")]
    ChangedWhileReading { path: String },
    #[error("invalid SMB configuration: {0}")]
    InvalidConfig(String),
    #[error("SMB server answered {status:#010x} for {path}")]
    Status { status: u32, path: String },
    #[error("SMB protocol failure on {path}")]
    Protocol {
        path: String,
        #[source]
        source: smb::Error,
    },
    #[error("SMB I/O failure on {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the sync engine should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorScope {
    /// Record the error on this file, go on with the others, retry it next run.
    File,
    /// The connection or the credentials are bad: stop the run.
    Connection,
}

impl SmbError {
    /// The stable code the API and the job events show.
    pub fn code(&self) -> &'static str {
        match self {
            SmbError::AuthFailed { .. } => "CONNECTOR_AUTH_FAILED",
            SmbError::Unreachable { .. } | SmbError::ConnectionLost { .. } | SmbError::Timeout { .. } => {
                "CONNECTOR_UNREACHABLE"
            }
            SmbError::ShareNotFound { .. } => "CONNECTOR_SHARE_NOT_FOUND",
            SmbError::Locked { .. } => "FILE_LOCKED",
            SmbError::PermissionDenied { .. } => "PERMISSION_DENIED",
            SmbError::InvalidName { .. } => "INVALID_NAME",
            SmbError::NotFound { .. } => "NOT_FOUND",
            SmbError::AlreadyExists { .. } => "ALREADY_EXISTS",
            SmbError::DirectoryNotEmpty { .. } => "DIRECTORY_NOT_EMPTY",
            SmbError::IsADirectory { .. } | SmbError::NotADirectory { .. } => "TYPE_MISMATCH",
            SmbError::SymlinkSkipped { .. } => "SYMLINK_SKIPPED",
            SmbError::DiskFull { .. } => "DISK_FULL",
            SmbError::ChangedWhileReading { .. } => "FILE_CHANGED",
            SmbError::InvalidConfig(_) => "VALIDATION_FAILED",
            SmbError::Status { .. } | SmbError::Protocol { .. } | SmbError::Io { .. } => "SMB_ERROR",
        }
    }

    /// Whether the run can go on with other files.
    pub fn scope(&self) -> ErrorScope {
        match self {
            SmbError::AuthFailed { .. }
            | SmbError::Unreachable { .. }
            | SmbError::ConnectionLost { .. }
            | SmbError::Timeout { .. }
            | SmbError::ShareNotFound { .. }
            | SmbError::InvalidConfig(_)
            | SmbError::DiskFull { .. } => ErrorScope::Connection,
            _ => ErrorScope::File,
        }
    }

    /// The NT status behind this error, when the server sent one.
    pub fn nt_status(&self) -> Option<u32> {
        match self {
            SmbError::AuthFailed { status } | SmbError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Sorts a status the server sent for an operation on `path`.
    pub fn from_status(status: u32, path: &str) -> Self {
        use status::*;
        let path = path.to_string();
        match status {
            SHARING_VIOLATION | FILE_LOCK_CONFLICT | LOCK_NOT_GRANTED | DELETE_PENDING => SmbError::Locked { path },
            ACCESS_DENIED | CANNOT_DELETE => SmbError::PermissionDenied { path },
            OBJECT_NAME_INVALID | OBJECT_PATH_INVALID | OBJECT_PATH_SYNTAX_BAD | NAME_TOO_LONG => {
                SmbError::InvalidName { path }
            }
            NO_SUCH_FILE | OBJECT_NAME_NOT_FOUND | OBJECT_PATH_NOT_FOUND | FILE_DELETED => SmbError::NotFound { path },
            OBJECT_NAME_COLLISION => SmbError::AlreadyExists { path },
            DIRECTORY_NOT_EMPTY => SmbError::DirectoryNotEmpty { path },
            FILE_IS_A_DIRECTORY => SmbError::IsADirectory { path },
            NOT_A_DIRECTORY => SmbError::NotADirectory { path },
            STOPPED_ON_SYMLINK => SmbError::SymlinkSkipped { path },
            DISK_FULL | QUOTA_EXCEEDED => SmbError::DiskFull { path },
            NO_SUCH_USER | WRONG_PASSWORD | LOGON_FAILURE | ACCOUNT_RESTRICTION | INVALID_LOGON_HOURS
            | INVALID_WORKSTATION | PASSWORD_EXPIRED | ACCOUNT_DISABLED | PASSWORD_MUST_CHANGE | ACCOUNT_LOCKED_OUT => {
                SmbError::AuthFailed { status }
            }
            BAD_NETWORK_NAME => SmbError::ShareNotFound { share: path },
            NETWORK_NAME_DELETED | USER_SESSION_DELETED | NETWORK_SESSION_EXPIRED => {
                SmbError::ConnectionLost { source: None }
            }
            _ => SmbError::Status { status, path },
        }
    }

    /// Sorts an error of the `smb` crate raised by an operation on `path`.
    pub fn from_smb(err: smb::Error, path: &str) -> Self {
        match err {
            smb::Error::ReceivedErrorMessage(status, _) | smb::Error::UnexpectedMessageStatus(status) => {
                Self::from_status(status, path)
            }
            // MessageProcessingError is what callers get once the connection's worker task has
            // stopped (the server went away mid-request).
            smb::Error::TransportError(_)
            | smb::Error::ConnectionStopped
            | smb::Error::MessageProcessingError(_)
            | smb::Error::SignatureVerificationFailed => SmbError::ConnectionLost { source: Some(err) },
            smb::Error::IoError(source) if is_disconnect(&source) => {
                SmbError::ConnectionLost { source: Some(smb::Error::IoError(source)) }
            }
            smb::Error::IoError(source) => SmbError::Io { path: path.to_string(), source },
            smb::Error::OperationTimeout(_, after) => SmbError::Timeout { op: "receive", after },
            other => SmbError::Protocol { path: path.to_string(), source: other },
        }
    }

    /// Sorts an `io::Error` from the crate's read/write calls, which flatten the SMB error into
    /// text; the status name survives in that text, so the common per-file cases are recovered.
    pub fn from_io(err: std::io::Error, path: &str) -> Self {
        let text = err.to_string();
        let known = [
            ("Sharing Violation", status::SHARING_VIOLATION),
            ("Access Denied", status::ACCESS_DENIED),
            ("Network Name Deleted", status::NETWORK_NAME_DELETED),
            ("User Session Deleted", status::USER_SESSION_DELETED),
        ];
        if let Some((_, st)) = known.iter().find(|(name, _)| text.contains(name)) {
            return Self::from_status(*st, path);
        }
        if is_disconnect(&err)
            || text.contains("Transport error")
            || text.contains("connection is stopped")
            || text.contains("Message processing failed")
        {
            return SmbError::ConnectionLost { source: None };
        }
        SmbError::Io { path: path.to_string(), source: err }
    }
}

fn is_disconnect(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), NotConnected | ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_codes() {
        let cases = [
            (status::SHARING_VIOLATION, "FILE_LOCKED", ErrorScope::File),
            (status::ACCESS_DENIED, "PERMISSION_DENIED", ErrorScope::File),
            (status::OBJECT_NAME_INVALID, "INVALID_NAME", ErrorScope::File),
            (status::OBJECT_NAME_NOT_FOUND, "NOT_FOUND", ErrorScope::File),
            (status::OBJECT_PATH_NOT_FOUND, "NOT_FOUND", ErrorScope::File),
            (status::OBJECT_NAME_COLLISION, "ALREADY_EXISTS", ErrorScope::File),
            (status::DIRECTORY_NOT_EMPTY, "DIRECTORY_NOT_EMPTY", ErrorScope::File),
            (status::LOGON_FAILURE, "CONNECTOR_AUTH_FAILED", ErrorScope::Connection),
            (status::ACCOUNT_LOCKED_OUT, "CONNECTOR_AUTH_FAILED", ErrorScope::Connection),
            (status::BAD_NETWORK_NAME, "CONNECTOR_SHARE_NOT_FOUND", ErrorScope::Connection),
            (status::NETWORK_NAME_DELETED, "CONNECTOR_UNREACHABLE", ErrorScope::Connection),
            (status::STOPPED_ON_SYMLINK, "SYMLINK_SKIPPED", ErrorScope::File),
            (0xC000_0001, "SMB_ERROR", ErrorScope::File),
        ];
        for (st, code, scope) in cases {
            let e = SmbError::from_status(st, "a/b.txt");
            assert_eq!(e.code(), code, "status {st:#x}");
            assert_eq!(e.scope(), scope, "status {st:#x}");
        }
    }

    #[test]
    fn a_bad_password_reported_as_unexpected_status_is_an_auth_failure() {
        let e = SmbError::from_smb(smb::Error::UnexpectedMessageStatus(status::LOGON_FAILURE), "");
        assert_eq!(e.code(), "CONNECTOR_AUTH_FAILED");
    }

    #[test]
    fn a_flattened_sharing_violation_from_a_read_is_still_file_locked() {
        let io = std::io::Error::other("Server returned an error message with status: Sharing Violation (0xc0000043).");
        assert_eq!(SmbError::from_io(io, "x").code(), "FILE_LOCKED");
    }

    #[test]
    fn a_timeout_stops_the_run_as_unreachable() {
        let e = SmbError::Timeout { op: "read", after: Duration::from_secs(30) };
        assert_eq!(e.code(), "CONNECTOR_UNREACHABLE");
        assert_eq!(e.scope(), ErrorScope::Connection);
    }
}
