//! `SmbSide`: the SMB share as the sync engine's [`Side`], a thin adapter over [`SmbClient`].
//!
//! What it adds to the client: the engine's path order for listings, preconditions checked
//! right before each change commits, size and SHA-256 verification of uploads before the
//! rename, and the mapping of [`SmbError`] to the engine's [`ErrorCode`]s.
//!
//! Identity and change detection: an entry's `id` is the server's file id (an inode number on
//! Samba, the NTFS file reference on Windows), which a rename or move keeps; its `tag` is the
//! file id and the change time, which moves with any content, attribute or ACL change.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::client::SmbClient;
use super::entry::SmbEntry;
use super::errors::SmbError;
use super::names::split_parent;
use crate::sync::entry::{Attributes, ContentHash, Entry, HashKind, Kind, Sha256Digest, SideState};
use crate::sync::names::{NamingRules, temp_path};
use crate::sync::path::SyncPath;
use crate::sync::side::{
    ByteStream, Capabilities, ErrorCode, Listing, Precondition, Side, SideError, WriteRequest, Written,
};

/// An SMB share (below the connector's base path) seen by the engine.
#[derive(Debug, Clone)]
pub struct SmbSide {
    client: Arc<SmbClient>,
}

/// Tokens that make temp names of concurrent uploads differ.
static TEMP_TOKEN: AtomicU64 = AtomicU64::new(1);

impl SmbSide {
    pub fn new(client: Arc<SmbClient>) -> Self {
        SmbSide { client }
    }

    pub fn client(&self) -> &Arc<SmbClient> {
        &self.client
    }

    /// The entry at `path` now (any spelling), or `None`.
    async fn current(&self, path: &SyncPath) -> Result<Option<SmbEntry>, SideError> {
        self.client.stat_listed(path.as_str()).await.map_err(side_error)
    }

    /// Fails with `PRECONDITION_FAILED` unless the entry at `path` is still as `expect` says.
    async fn check_matches(&self, path: &SyncPath, expect: &SideState) -> Result<SmbEntry, SideError> {
        match self.current(path).await? {
            Some(e) if to_entry(&e).matches(expect) => Ok(e),
            Some(_) => {
                Err(SideError::new(ErrorCode::PreconditionFailed, format!("{path} changed since it was listed")))
            }
            None => Err(SideError::new(ErrorCode::PreconditionFailed, format!("{path} is gone since it was listed"))),
        }
    }

    async fn check_precondition(&self, path: &SyncPath, pre: &Precondition) -> Result<(), SideError> {
        match pre {
            Precondition::Matches(state) => self.check_matches(path, state).await.map(|_| ()),
            Precondition::MustNotExist => match self.current(path).await? {
                None => Ok(()),
                Some(e) => Err(SideError::new(
                    ErrorCode::PreconditionFailed,
                    format!("{path} appeared on the SMB share as {}", e.path),
                )),
            },
        }
    }

    async fn ensure_parent(&self, path: &SyncPath) -> Result<(), SideError> {
        let (parent, _) = split_parent(path.as_str());
        self.client.mkdir_all(parent).await.map_err(side_error)
    }

    async fn upload(
        &self,
        request: &WriteRequest,
        mut content: ByteStream,
    ) -> Result<(super::write::SmbUpload, Sha256Digest), SideError> {
        let token = TEMP_TOKEN.fetch_add(1, Ordering::Relaxed) ^ u64::from(std::process::id()) << 40;
        let temp = temp_path(&request.path, token);
        // Folders are made only when the temp file cannot be created for want of them: most
        // writes go to folders that exist, and each level of mkdir is a round trip.
        let mut up = match self.client.create_upload_via(request.path.as_str(), temp.name()).await {
            Err(SmbError::NotFound { .. }) => {
                self.ensure_parent(&request.path).await?;
                self.client.create_upload_via(request.path.as_str(), temp.name()).await.map_err(side_error)?
            }
            other => other.map_err(side_error)?,
        };
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        while let Some(chunk) = content.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = up.abort().await;
                    return Err(e);
                }
            };
            hasher.update(&chunk);
            written += chunk.len() as u64;
            if let Err(e) = up.write(&chunk).await {
                let _ = up.abort().await;
                return Err(side_error(e));
            }
        }
        let digest = Sha256Digest(hasher.finalize().into());
        let verify = if written != request.size {
            Some(format!("{} bytes arrived, {} expected", written, request.size))
        } else if request.sha256.as_ref().is_some_and(|want| *want != digest) {
            Some("the content's SHA-256 differs from the expected one".to_string())
        } else {
            None
        };
        if let Some(why) = verify {
            let _ = up.abort().await;
            return Err(SideError::new(ErrorCode::VerifyFailed, format!("{}: {why}", request.path)));
        }
        Ok((up, digest))
    }
}

impl Side for SmbSide {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delta_tokens: false,
            acls: true,
            native_hash: None,
            naming: NamingRules::samba(),
            recoverable: false,
        }
    }

    fn list(&self) -> Listing<'_> {
        let order =
            Arc::new(|a: &SmbEntry, b: &SmbEntry| SyncPath::new(a.name.as_str()).cmp(&SyncPath::new(b.name.as_str())));
        let walk = self.client.walk_ordered("", order);
        // The engine wants a listing that cannot complete to end with its error: whatever the
        // walk could still report after an unreadable folder, the run cannot tell gaps from deletes.
        let stream = futures_util::stream::unfold((walk, false), |(mut walk, done)| async move {
            if done {
                return None;
            }
            match walk.next().await? {
                Ok(e) => Some((Ok(to_entry(&e)), (walk, false))),
                Err(e) => Some((Err(listing_error(e)), (walk, true))),
            }
        });
        Box::pin(stream)
    }

    async fn stat(&self, path: &SyncPath) -> Result<Option<Entry>, SideError> {
        Ok(self.current(path).await?.as_ref().map(to_entry))
    }

    async fn hash(&self, path: &SyncPath, kind: HashKind) -> Result<ContentHash, SideError> {
        if kind != HashKind::Sha256 {
            return Err(SideError::new(ErrorCode::Internal, format!("the SMB side cannot compute {kind:?}")));
        }
        let mut reader = self.client.open_read(path.as_str()).await.map_err(side_error)?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = reader.next_chunk().await.map_err(side_error)? {
            hasher.update(&chunk);
        }
        reader.close().await.map_err(side_error)?;
        Ok(ContentHash::sha256(Sha256Digest(hasher.finalize().into())))
    }

    async fn read(&self, path: &SyncPath, expect: &SideState) -> Result<ByteStream, SideError> {
        let found = self.check_matches(path, expect).await?;
        let reader = self.client.open_read(&found.path).await.map_err(side_error)?;
        let stream = futures_util::stream::unfold(Some(reader), |state| async move {
            let mut reader = state?;
            match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                Ok(None) => match reader.close().await {
                    Ok(()) => None,
                    Err(e) => Some((Err(side_error(e)), None)),
                },
                Err(e) => Some((Err(side_error(e)), None)),
            }
        });
        Ok(Box::pin(stream))
    }

    async fn write(&self, request: WriteRequest, content: ByteStream) -> Result<Written, SideError> {
        // A `Matches` write is checked before the upload too (no point sending content over a
        // file that changed); `MustNotExist` only at the end, where it matters.
        if matches!(request.precondition, Precondition::Matches(_)) {
            self.check_precondition(&request.path, &request.precondition).await?;
        }
        let (up, sha256) = self.upload(&request, content).await?;
        // Checked right before the rename: the window in which another client's change could be
        // overwritten is the rename's round trip.
        if let Err(e) = self.check_precondition(&request.path, &request.precondition).await {
            let _ = up.abort().await;
            return Err(e);
        }
        // The commit reads the metadata on the renamed handle; on Samba it equals what a
        // listing then shows, so no further round trip is spent on it.
        let written = up.commit(Some(request.modified)).await.map_err(side_error)?;
        Ok(Written { entry: to_entry(&written), sha256 })
    }

    async fn move_entry(&self, from: &SyncPath, to: &SyncPath, expect: &SideState) -> Result<Entry, SideError> {
        let source = self.check_matches(from, expect).await?;
        if let Some(existing) = self.current(to).await?
            && existing.file_id != source.file_id
        {
            return Err(SideError::new(ErrorCode::AlreadyExists, format!("{to} already exists on the SMB share")));
        }
        self.ensure_parent(to).await?;
        self.client.rename(&source.path, to.as_str(), false).await.map_err(side_error)?;
        match self.current(to).await? {
            Some(e) => Ok(to_entry(&e)),
            None => Err(SideError::new(ErrorCode::NotFound, format!("{to} is not there after the move"))),
        }
    }

    async fn delete(&self, path: &SyncPath, expect: &SideState) -> Result<(), SideError> {
        let found = self.check_matches(path, expect).await?;
        self.client.delete(&found.path).await.map_err(side_error)
    }

    async fn make_folder(&self, path: &SyncPath) -> Result<Entry, SideError> {
        self.client.mkdir_all(path.as_str()).await.map_err(side_error)?;
        match self.current(path).await? {
            Some(e) if e.is_dir() => Ok(to_entry(&e)),
            Some(_) => Err(SideError::new(ErrorCode::AlreadyExists, format!("{path} is a file on the SMB share"))),
            None => Err(SideError::new(ErrorCode::NotFound, format!("{path} is not there after mkdir"))),
        }
    }
}

/// The engine's view of an SMB entry.
pub fn to_entry(e: &SmbEntry) -> Entry {
    let kind = if e.is_dir() { Kind::Folder } else { Kind::File };
    Entry {
        path: SyncPath::new(e.path.as_str()),
        id: format!("{:x}", e.file_id).into(),
        kind,
        size: if e.is_dir() { 0 } else { e.size },
        modified: e.modified,
        tag: format!("{:x}.{}", e.file_id, e.changed.unix_timestamp_nanos()).into(),
        attrs: Attributes {
            hidden: e.attributes.hidden,
            system: e.attributes.system,
            reparse_point: e.attributes.reparse_point,
        },
        hash: None,
    }
}

/// The engine's code for an SMB failure; the message keeps the SMB error's own text.
pub fn side_error(e: SmbError) -> SideError {
    let code = match &e {
        SmbError::AuthFailed { .. } => ErrorCode::ConnectorAuthFailed,
        SmbError::Unreachable { .. }
        | SmbError::ConnectionLost { .. }
        | SmbError::Timeout { .. }
        | SmbError::ShareNotFound { .. }
        | SmbError::InvalidConfig(_)
        | SmbError::Io { .. } => ErrorCode::ConnectorUnreachable,
        SmbError::Locked { .. } => ErrorCode::FileLocked,
        SmbError::PermissionDenied { .. } => ErrorCode::PermissionDenied,
        SmbError::InvalidName { .. } => ErrorCode::InvalidName,
        SmbError::NotFound { .. } => ErrorCode::NotFound,
        SmbError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
        SmbError::DirectoryNotEmpty { .. } => ErrorCode::NotEmpty,
        // A file where a folder was (or the reverse): the entry changed since it was listed.
        SmbError::IsADirectory { .. } | SmbError::NotADirectory { .. } => ErrorCode::PreconditionFailed,
        SmbError::SymlinkSkipped { .. } => ErrorCode::SymlinkSkipped,
        SmbError::DiskFull { .. } => ErrorCode::QuotaExceeded,
        SmbError::ChangedWhileReading { .. } => ErrorCode::VerifyFailed,
        SmbError::Status { .. } | SmbError::Protocol { .. } => ErrorCode::Internal,
    };
    SideError::new(code, error_text(&e))
}

/// A listing error: connection trouble keeps its code, anything else means the listing is
/// incomplete (an unreadable folder's content would otherwise look deleted).
fn listing_error(e: SmbError) -> SideError {
    let side = side_error(e);
    match side.code {
        ErrorCode::ConnectorAuthFailed | ErrorCode::ConnectorUnreachable => side,
        _ => SideError::new(ErrorCode::ListingIncomplete, format!("the SMB listing broke off: {}", side.message)),
    }
}

/// The error with its causes, once (the SMB error's `Display` names only its own layer).
fn error_text(e: &SmbError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sides::smb::entry::SmbAttributes;
    use time::macros::datetime;

    fn entry(path: &str, dir: bool, changed_s: i64) -> SmbEntry {
        SmbEntry {
            path: path.into(),
            name: split_parent(path).1.into(),
            size: 10,
            created: datetime!(2026-01-01 0:00 UTC),
            modified: datetime!(2026-01-02 0:00 UTC),
            changed: datetime!(2026-01-03 0:00 UTC) + time::Duration::seconds(changed_s),
            accessed: datetime!(2026-01-04 0:00 UTC),
            attributes: SmbAttributes { directory: dir, hidden: true, ..Default::default() },
            reparse_tag: None,
            file_id: 0xabc,
        }
    }

    #[test]
    fn an_entry_keeps_its_id_across_paths_and_its_tag_follows_the_change_time() {
        let a = to_entry(&entry("a/x.txt", false, 0));
        let moved = to_entry(&entry("b/y.txt", false, 0));
        let touched = to_entry(&entry("a/x.txt", false, 5));
        assert_eq!(a.id, moved.id);
        assert_ne!(a.tag, touched.tag);
        assert!(a.attrs.hidden);
        assert_eq!(a.kind, Kind::File);
        let folder = to_entry(&entry("a", true, 0));
        assert_eq!((folder.kind, folder.size), (Kind::Folder, 0));
    }

    #[test]
    fn smb_errors_map_to_the_engine_codes() {
        let p = || "a.txt".to_string();
        let cases = [
            (SmbError::Locked { path: p() }, ErrorCode::FileLocked),
            (SmbError::PermissionDenied { path: p() }, ErrorCode::PermissionDenied),
            (SmbError::InvalidName { path: p() }, ErrorCode::InvalidName),
            (SmbError::DirectoryNotEmpty { path: p() }, ErrorCode::NotEmpty),
            (SmbError::AuthFailed { status: 0xC000_006D }, ErrorCode::ConnectorAuthFailed),
            (SmbError::Unreachable { addr: "x".into(), source: None }, ErrorCode::ConnectorUnreachable),
            (SmbError::SymlinkSkipped { path: p() }, ErrorCode::SymlinkSkipped),
        ];
        for (e, code) in cases {
            assert_eq!(side_error(e).code, code);
        }
        let l = listing_error(SmbError::PermissionDenied { path: "private".into() });
        assert_eq!(l.code, ErrorCode::ListingIncomplete);
        assert!(l.message.contains("private"), "{}", l.message);
    }
}
