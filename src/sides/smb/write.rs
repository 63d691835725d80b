//! Atomic uploads: content goes to a hidden temporary file in the target's folder, which is
//! renamed over the target only once everything is written.
//!
//! A reader on the SMB side therefore sees the old file or the new one, never a half-written
//! one, and a crash leaves only a temporary file (named with `names::TEMP_PREFIX`, skipped by
//! listings, removable with [`SmbClient::remove_stale_temps`]). The temp file is created hidden;
//! at commit the hidden bit is cleared and the modification time set on the same handle, then
//! the handle renames itself over the target (`replace_if_exists`) and is closed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use smb::{
    CreateOptions, File, FileAllInformation, FileAttributes, FileBasicInformation, FileCreateArgs,
    FileDispositionInformation, FileRenameInformation, Resource,
};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use super::client::{SmbClient, bounded};
use super::entry::{SmbAttributes, SmbEntry, datetime_to_filetime, filetime_to_datetime};
use super::errors::SmbError;
use super::names::{is_temp_name, join, split_parent, temp_name, windows_name_problem};

/// An upload in progress. Finish it with [`SmbUpload::commit`] or [`SmbUpload::abort`]; if it is
/// dropped instead, the temporary file is deleted in the background.
pub struct SmbUpload {
    client: Arc<SmbClient>,
    file: Option<Arc<File>>,
    rel: String,
    temp_rel: String,
    offset: u64,
    buf: Vec<u8>,
    chunk: usize,
    depth: usize,
    pending: VecDeque<JoinHandle<Result<(), SmbError>>>,
}

/// Distinguishes temp names made in the same nanosecond by this process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn temp_tag() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
    nanos.rotate_left(20) ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(std::process::id())
}

impl SmbClient {
    /// Starts an upload to `rel`. Its folder must exist; `rel` itself may or may not.
    pub async fn create_upload(self: &Arc<Self>, rel: &str) -> Result<SmbUpload, SmbError> {
        let rel = rel.trim_matches('/');
        let (_, name) = split_parent(rel);
        let temp = temp_name(name, temp_tag());
        self.create_upload_via(rel, &temp).await
    }

    /// Starts an upload to `rel` through the temporary name `temp_name` in the same folder
    /// (for callers with their own temp naming, such as the sync engine).
    pub async fn create_upload_via(self: &Arc<Self>, rel: &str, temp_name: &str) -> Result<SmbUpload, SmbError> {
        let rel = rel.trim_matches('/').to_string();
        let (parent, name) = split_parent(&rel);
        if windows_name_problem(name).is_some() {
            return Err(SmbError::InvalidName { path: rel });
        }
        let temp_rel = join(parent, temp_name);
        let smb_path = self.smb_path(&temp_rel)?;
        let args = FileCreateArgs::make_create_new(
            FileAttributes::new().with_hidden(true),
            CreateOptions::new().with_non_directory_file(true),
        );
        let file = match self.open_smb(&smb_path, &rel, &args).await? {
            Resource::File(f) => f,
            other => {
                self.close_handle(&other, &rel).await?;
                return Err(SmbError::IsADirectory { path: temp_rel });
            }
        };
        let cfg = self.config();
        Ok(SmbUpload {
            client: self.clone(),
            file: Some(Arc::new(file)),
            rel,
            temp_rel,
            offset: 0,
            buf: Vec::new(),
            chunk: cfg.write_chunk.max(4096) as usize,
            depth: cfg.writes_in_flight.max(1),
            pending: VecDeque::new(),
        })
    }

    /// Uploads `data` to `rel` in one go (small files, tests).
    pub async fn write_all(
        self: &Arc<Self>,
        rel: &str,
        data: &[u8],
        modified: Option<OffsetDateTime>,
    ) -> Result<SmbEntry, SmbError> {
        let mut up = self.create_upload(rel).await?;
        if let Err(e) = up.write(data).await {
            let _ = up.abort().await;
            return Err(e);
        }
        up.commit(modified).await
    }

    /// Deletes temporary upload files left in folder `rel` by a crashed run.
    pub async fn remove_stale_temps(&self, rel: &str) -> Result<usize, SmbError> {
        let names = self.list_names(rel).await?;
        let mut removed = 0;
        for name in names.into_iter().filter(|n| is_temp_name(n)) {
            self.delete(&join(rel, &name)).await?;
            removed += 1;
        }
        Ok(removed)
    }
}

impl SmbUpload {
    /// The temporary file's connector-relative path.
    pub fn temp_path(&self) -> &str {
        &self.temp_rel
    }

    fn file(&self) -> Result<&Arc<File>, SmbError> {
        self.file.as_ref().ok_or_else(|| SmbError::Protocol {
            path: self.rel.clone(),
            source: smb::Error::InvalidState("upload already finished".into()),
        })
    }

    /// Appends `data`. Full chunks are sent at once, with up to `writes_in_flight` outstanding.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<(), SmbError> {
        while !data.is_empty() {
            let room = self.chunk - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == self.chunk {
                self.send_buffer().await?;
            }
        }
        Ok(())
    }

    async fn send_buffer(&mut self) -> Result<(), SmbError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        while self.pending.len() >= self.depth {
            self.wait_oldest().await?;
        }
        let block: Arc<[u8]> = std::mem::take(&mut self.buf).into();
        let file = self.file()?.clone();
        let offset = self.offset;
        self.offset += block.len() as u64;
        let timeout = self.client.config().call_timeout;
        let rel = self.rel.clone();
        self.pending.push_back(tokio::spawn(async move {
            let mut done = 0usize;
            // A server may take less than offered; send the rest until the block is written.
            while done < block.len() {
                let rest: Arc<[u8]> = block[done..].into();
                let n = bounded(timeout, "write", file.write_block_zc(rest, offset + done as u64, None))
                    .await?
                    .map_err(|e| SmbError::from_io(e, &rel))?;
                if n == 0 {
                    return Err(SmbError::DiskFull { path: rel });
                }
                done += n;
            }
            Ok(())
        }));
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<(), SmbError> {
        let Some(task) = self.pending.pop_front() else {
            return Ok(());
        };
        match task.await {
            Ok(r) => r,
            Err(join) => Err(SmbError::Protocol {
                path: self.rel.clone(),
                source: smb::Error::InvalidState(format!("write task failed: {join}")),
            }),
        }
    }

    async fn flush(&mut self) -> Result<(), SmbError> {
        self.send_buffer().await?;
        while !self.pending.is_empty() {
            self.wait_oldest().await?;
        }
        Ok(())
    }

    /// Finishes the upload: waits for every write, sets the modification time (if given) and
    /// clears the hidden bit, renames the temp file over the target and closes it. Returns the
    /// target's metadata as the server now reports it.
    pub async fn commit(mut self, modified: Option<OffsetDateTime>) -> Result<SmbEntry, SmbError> {
        let result = self.finish(modified).await;
        if result.is_err() {
            let _ = self.discard().await;
        }
        result
    }

    async fn finish(&mut self, modified: Option<OffsetDateTime>) -> Result<SmbEntry, SmbError> {
        self.flush().await?;
        let file = self.file()?.clone();
        let client = self.client.clone();
        let rel = self.rel.as_str();
        let basic = FileBasicInformation {
            // Zero times are "leave unchanged" (MS-FSCC 2.4.7).
            creation_time: 0u64.into(),
            last_access_time: 0u64.into(),
            last_write_time: modified.map(datetime_to_filetime).unwrap_or(0).into(),
            change_time: 0u64.into(),
            file_attributes: FileAttributes::new().with_archive(true),
        };
        client.call("set times", rel, file.handle().set_info(basic)).await?;
        let target = client.smb_path(rel)?;
        let rename = FileRenameInformation {
            replace_if_exists: true.into(),
            root_directory: 0,
            file_name: target.as_str().into(),
        };
        client.call("rename", rel, file.handle().set_info(rename)).await?;
        let info = client.call("stat", rel, file.handle().query_info::<FileAllInformation>()).await?;
        self.file = None;
        client.call("close", rel, file.handle().close()).await?;
        Ok(SmbEntry {
            path: rel.to_string(),
            name: split_parent(rel).1.to_string(),
            size: info.standard.end_of_file,
            created: filetime_to_datetime(*info.basic.creation_time),
            modified: filetime_to_datetime(*info.basic.last_write_time),
            changed: filetime_to_datetime(*info.basic.change_time),
            accessed: filetime_to_datetime(*info.basic.last_access_time),
            attributes: SmbAttributes::from_smb(&info.basic.file_attributes),
            reparse_tag: None,
            file_id: info.internal.index_number,
        })
    }

    /// Abandons the upload and deletes the temporary file. The target is untouched.
    pub async fn abort(mut self) -> Result<(), SmbError> {
        self.discard().await
    }

    async fn discard(&mut self) -> Result<(), SmbError> {
        for t in self.pending.drain(..) {
            t.abort();
            let _ = t.await;
        }
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let client = self.client.clone();
        let deleted = client
            .call("delete temp", &self.temp_rel, file.handle().set_info(FileDispositionInformation::default()))
            .await;
        let closed = client.call("close", &self.temp_rel, file.handle().close()).await;
        deleted?;
        closed
    }
}

impl Drop for SmbUpload {
    fn drop(&mut self) {
        for t in &self.pending {
            t.abort();
        }
        let Some(file) = self.file.take() else {
            return;
        };
        // Not committed: mark the temp file for deletion; the crate closes the handle once the
        // last reference is gone.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let timeout = self.client.config().call_timeout;
            rt.spawn(async move {
                let _ = bounded(timeout, "delete temp", file.handle().set_info(FileDispositionInformation::default()))
                    .await;
                let _ = bounded(timeout, "close", file.handle().close()).await;
            });
        }
    }
}
