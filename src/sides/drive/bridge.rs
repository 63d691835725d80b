//! Content between the engine's async byte streams and the store's blocking `Read`s, one bounded channel each
//! way, so a file is never held in memory whole.
//!
//! Writes: the engine's stream is forwarded chunk by chunk into a channel that a [`StreamReader`] drains on the
//! blocking thread running the store's write. The reader counts and hashes what passes and fails the read (so
//! the store commits nothing) when the size or SHA-256 differ from what the engine announced. Reads: a
//! blocking thread reads the store's [`ContentReader`] in chunks into a channel the engine consumes.

use std::io::{self, Read};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::errors::classify;
use crate::drive::{ContentReader, DriveError};
use crate::sync::entry::Sha256Digest;
use crate::sync::side::{ByteStream, ErrorCode, SideError};

/// Chunks in flight between the two halves of a transfer.
const DEPTH: usize = 4;
/// Bytes per chunk read from the store.
pub(super) const READ_CHUNK: usize = 256 * 1024;

type Chunk = Result<Vec<u8>, SideError>;

/// What the written content must turn out to be.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expect {
    pub size: Option<u64>,
    pub sha256: Option<Sha256Digest>,
}

/// The blocking half of a write: a `Read` over the chunks the async half forwards.
pub(crate) struct StreamReader {
    rx: mpsc::Receiver<Chunk>,
    chunk: Vec<u8>,
    pos: usize,
    seen: u64,
    hasher: Sha256,
    expect: Expect,
    finished: bool,
}

fn verify_failed(message: String) -> io::Error {
    io::Error::other(SideError::new(ErrorCode::VerifyFailed, message))
}

impl StreamReader {
    /// The end of the stream: the content is complete only if it is what was announced.
    fn finish(&mut self) -> io::Result<()> {
        self.finished = true;
        if let Some(size) = self.expect.size
            && self.seen != size
        {
            return Err(verify_failed(format!(
                "received {} bytes where {size} were expected; the origin changed while being read",
                self.seen
            )));
        }
        let digest = Sha256Digest(std::mem::take(&mut self.hasher).finalize().into());
        if let Some(expected) = self.expect.sha256
            && expected != digest
        {
            return Err(verify_failed(format!(
                "content hash {digest} differs from the expected {expected}; the origin changed while being read"
            )));
        }
        Ok(())
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.chunk.len() {
                let n = buf.len().min(self.chunk.len() - self.pos);
                buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.seen = self.seen.saturating_add(chunk.len() as u64);
                    if let Some(size) = self.expect.size.filter(|&s| self.seen > s) {
                        // Fail at once rather than store more than the engine said it would send.
                        return Err(verify_failed(format!("more than the {size} bytes expected arrived")));
                    }
                    self.hasher.update(&chunk);
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => self.finish()?,
            }
        }
    }
}

/// Splits a write into the reader for the blocking store call and the future that feeds it; run both, the
/// future on the caller's task. The feeder stops when the reader is dropped (the store refused early).
pub(crate) fn upload(
    mut content: ByteStream,
    expect: Expect,
) -> (StreamReader, impl std::future::Future<Output = ()> + Send) {
    let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
    let reader =
        StreamReader { rx, chunk: Vec::new(), pos: 0, seen: 0, hasher: Sha256::new(), expect, finished: false };
    let feed = async move {
        while let Some(chunk) = content.next().await {
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    };
    (reader, feed)
}

/// Streams a store reader in chunks from a blocking thread. A read failure ends the stream with an error item.
pub(super) fn download(mut reader: ContentReader) -> ByteStream {
    let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut buf = vec![0; READ_CHUNK];
            let item = match fill(&mut reader, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(buf)
                }
                Err(e) => Err(classify(DriveError::Io(e))),
            };
            let last = item.is_err();
            if tx.blocking_send(item).is_err() || last {
                return;
            }
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Reads until `buf` is full or the content ends.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
