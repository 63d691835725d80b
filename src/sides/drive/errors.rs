//! The drive side's one classification of store failures into the engine's error classes.

use crate::drive::DriveError;
use crate::sync::side::{ErrorCode, SideError};

/// What a drive failure means for the run: a condition of one file (not found, changed, taken, over quota,
/// a name the store refuses) skips that file; a database, disk or decoding failure stops the run, since every
/// other action would hit it too. A content stream's own failure (the source's read, or the size/hash check
/// of the bridge) reaches the store as an I/O error carrying the engine's error, which comes back unchanged.
pub(crate) fn classify(error: DriveError) -> SideError {
    let code = match &error {
        DriveError::Io(io) => {
            if let Some(inner) = io.get_ref().and_then(|e| e.downcast_ref::<SideError>()) {
                return inner.clone();
            }
            ErrorCode::Internal
        }
        DriveError::NotFound(_) => ErrorCode::NotFound,
        DriveError::AlreadyExists(_) => ErrorCode::AlreadyExists,
        DriveError::PreconditionFailed(_) => ErrorCode::PreconditionFailed,
        DriveError::InvalidName { .. } | DriveError::InvalidPath { .. } => ErrorCode::InvalidName,
        DriveError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
        // A file where a folder must be (or the reverse): the path is taken by the other kind.
        DriveError::NotAFolder(_) | DriveError::NotAFile(_) => ErrorCode::AlreadyExists,
        DriveError::PermissionDenied(_) => ErrorCode::PermissionDenied,
        DriveError::ShareInUse(_)
        | DriveError::InvalidArgument(_)
        | DriveError::Database(_)
        | DriveError::Corrupt(_) => ErrorCode::Internal,
    };
    SideError::new(code, error_text(&error))
}

/// The error with its causes, so a database or disk failure says what broke in the job log.
fn error_text(error: &DriveError) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::sync::side::Disposition;

    #[test]
    fn file_conditions_skip_the_file_and_store_failures_stop_the_run() {
        let skip = [
            DriveError::NotFound("x".into()),
            DriveError::PreconditionFailed("x".into()),
            DriveError::QuotaExceeded { available: 0 },
            DriveError::AlreadyExists("x".into()),
        ];
        for e in skip {
            assert_eq!(classify(e).disposition(), Disposition::SkipFile);
        }
        assert_eq!(classify(DriveError::QuotaExceeded { available: 0 }).code, ErrorCode::QuotaExceeded);
        assert_eq!(classify(DriveError::Corrupt("t")).disposition(), Disposition::StopRun);
        let disk = classify(DriveError::Io(io::Error::other("disk gone")));
        assert_eq!(disk.disposition(), Disposition::StopRun);
        assert!(disk.message.contains("disk gone"), "{disk}");
    }

    #[test]
    fn a_stream_failure_comes_back_as_the_engine_error_it_was() {
        let verify = SideError::new(ErrorCode::VerifyFailed, "short");
        assert_eq!(classify(DriveError::Io(io::Error::other(verify.clone()))), verify);
    }
}
