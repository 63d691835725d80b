//! Streamed reads: `SmbReader` hands out a file's content in order, chunk by chunk, while
//! several read requests are outstanding on the connection.
//!
//! Each read is its own task sharing the open handle (`Arc<File>`), so the server works on the
//! next chunks while the caller stores the current one. Requests beyond the size seen at open
//! are not sent: a file that grows while read is read up to its size at open (the next run sees
//! the new size), and one that shrinks ends in `ChangedWhileReading`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use smb::{File, FileAccessMask, FileCreateArgs, GetLen, Resource};
use tokio::task::JoinHandle;

use super::client::{SmbClient, bounded};
use super::errors::SmbError;

struct PendingRead {
    offset: u64,
    len: usize,
    task: JoinHandle<Result<Vec<u8>, SmbError>>,
}

/// An open file being read front to back. Finish with [`SmbReader::close`]; dropping it also
/// cancels the outstanding reads and closes the handle in the background.
pub struct SmbReader {
    client: Arc<SmbClient>,
    file: Arc<File>,
    rel: String,
    size: u64,
    next_offset: u64,
    pending: VecDeque<PendingRead>,
    chunk: usize,
    depth: usize,
}

impl SmbClient {
    /// Opens `rel` for reading. The reader's `size()` is the size at open.
    pub async fn open_read(self: &Arc<Self>, rel: &str) -> Result<SmbReader, SmbError> {
        let smb_path = self.smb_path(rel)?;
        let args = FileCreateArgs::make_open_existing(FileAccessMask::new().with_generic_read(true));
        let file = match self.open_smb(&smb_path, rel, &args).await? {
            Resource::File(f) => f,
            other => {
                self.close_handle(&other, rel).await?;
                return Err(SmbError::IsADirectory { path: rel.to_string() });
            }
        };
        let size = self.call("size", rel, file.get_len()).await?;
        let cfg = self.config();
        Ok(SmbReader {
            client: self.clone(),
            file: Arc::new(file),
            rel: rel.to_string(),
            size,
            next_offset: 0,
            pending: VecDeque::new(),
            chunk: cfg.read_chunk.max(4096) as usize,
            depth: cfg.reads_in_flight.max(1),
        })
    }

    /// Reads all of `rel` into memory (small files, tests).
    pub async fn read_to_vec(self: &Arc<Self>, rel: &str) -> Result<Vec<u8>, SmbError> {
        let mut reader = self.open_read(rel).await?;
        let mut out = Vec::with_capacity(usize::try_from(reader.size()).unwrap_or(0));
        while let Some(chunk) = reader.next_chunk().await? {
            out.extend_from_slice(&chunk);
        }
        reader.close().await?;
        Ok(out)
    }
}

async fn read_at(file: &File, offset: u64, len: usize, timeout: Duration, rel: &str) -> Result<Vec<u8>, SmbError> {
    let mut buf = vec![0u8; len];
    let n = bounded(timeout, "read", file.read_block(&mut buf, offset, None, false))
        .await?
        .map_err(|e| SmbError::from_io(e, rel))?;
    buf.truncate(n);
    Ok(buf)
}

impl SmbReader {
    /// Size of the file when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn fill(&mut self) {
        let timeout = self.client.config().call_timeout;
        while self.pending.len() < self.depth && self.next_offset < self.size {
            let offset = self.next_offset;
            let len = (self.size - offset).min(self.chunk as u64) as usize;
            let file = self.file.clone();
            let rel = self.rel.clone();
            let task = tokio::spawn(async move { read_at(&file, offset, len, timeout, &rel).await });
            self.pending.push_back(PendingRead { offset, len, task });
            self.next_offset += len as u64;
        }
    }

    /// The next chunk in file order, `None` after the last one.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SmbError> {
        self.fill();
        let Some(p) = self.pending.pop_front() else {
            return Ok(None);
        };
        let mut data = match p.task.await {
            Ok(r) => r?,
            Err(join) => {
                return Err(SmbError::Protocol {
                    path: self.rel.clone(),
                    source: smb::Error::InvalidState(format!("read task failed: {join}")),
                });
            }
        };
        // A server may return less than asked; the later requests are at fixed offsets, so the
        // gap is filled here before the chunk is handed out.
        while data.len() < p.len {
            let offset = p.offset + data.len() as u64;
            let more =
                read_at(&self.file, offset, p.len - data.len(), self.client.config().call_timeout, &self.rel).await?;
            if more.is_empty() {
                return Err(SmbError::ChangedWhileReading { path: self.rel.clone() });
            }
            data.extend_from_slice(&more);
        }
        self.fill();
        Ok(Some(data))
    }

    /// Cancels what is outstanding and closes the handle.
    pub async fn close(mut self) -> Result<(), SmbError> {
        for p in self.pending.drain(..) {
            p.task.abort();
            let _ = p.task.await;
        }
        self.client.call("close", &self.rel, self.file.handle().close()).await
    }
}

impl Drop for SmbReader {
    fn drop(&mut self) {
        for p in &self.pending {
            p.task.abort();
        }
        // The crate closes a dropped handle in a background task once the last `Arc` is gone.
    }
}
