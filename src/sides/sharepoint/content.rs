//! File content over Graph (GRAPH.md 6): downloads by the pre-authenticated URL, streamed; simple upload for
//! small files; upload sessions in multiples of 320 KiB for large ones, resumed from `nextExpectedRanges` after
//! a dropped fragment.
//!
//! Every upload is verified before it commits: a simple upload is buffered and checked (size, SHA-256) before it
//! is sent; a session holds back its last fragment until the whole stream is read and checked, and is cancelled
//! otherwise, so a failed verification leaves the target untouched. An overwrite always carries `If-Match`
//! (412 -> `PRECONDITION_FAILED`); a new file asks `conflictBehavior: fail` (409 -> `ALREADY_EXISTS`).

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use sha2::Digest;

use super::client::{Call, GraphClient, encode_segment};
use super::wire::{DriveItem, UploadSession, UploadStatus};
use crate::sync::entry::Sha256Digest;
use crate::sync::side::{ByteStream, ErrorCode, SideError};

/// Files up to this size go by simple upload (GRAPH.md 6.2: ≤ 4 MiB).
pub const SIMPLE_UPLOAD_MAX: u64 = 4 * 1024 * 1024;
/// The unit upload fragments are multiples of (GRAPH.md 6.3).
pub const FRAGMENT_UNIT: usize = 320 * 1024;
/// Tries per fragment after broken connections or partial acceptance.
const FRAGMENT_ATTEMPTS: u32 = 5;

/// Where an upload goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A new file `name` in the folder `parent_id`; fails if the name is taken (any case).
    New { parent_id: String, name: String },
    /// Replaces the file `id`, provided its eTag is still `etag`.
    Replace { id: String, etag: String },
}

/// What an upload must check before it commits.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub size: u64,
    pub sha256: Option<Sha256Digest>,
}

fn verify_failed(message: String) -> SideError {
    SideError::new(ErrorCode::VerifyFailed, message)
}

fn check(expect: Expect, written: u64, digest: Sha256Digest) -> Result<(), SideError> {
    if written != expect.size {
        return Err(verify_failed(format!(
            "read {written} bytes where {} were expected; the origin changed while being read",
            expect.size
        )));
    }
    match expect.sha256 {
        Some(want) if want != digest => Err(verify_failed(format!(
            "content hash {digest} differs from the expected {want}; the origin changed while being read"
        ))),
        _ => Ok(()),
    }
}

impl GraphClient {
    /// Streams a file from its pre-authenticated download URL (no `Authorization` to that host).
    pub async fn download(&self, download_url: &str) -> Result<ByteStream, SideError> {
        let mut url = download_url.to_string();
        for _ in 0..3 {
            let response = self.send(&Call::new(Method::GET, url.clone()).unauthorized()).await?;
            if response.status().is_redirection() {
                match response.headers().get("location").and_then(|v| v.to_str().ok()) {
                    Some(next) => url = next.to_string(),
                    None => return Err(SideError::new(ErrorCode::Internal, "a redirect without Location")),
                }
                continue;
            }
            let stream = response.bytes_stream().map(|chunk| {
                chunk
                    .map(|b| b.to_vec())
                    .map_err(|e| SideError::new(ErrorCode::Timeout, format!("download broke off: {e}")))
            });
            return Ok(Box::pin(stream));
        }
        Err(SideError::new(ErrorCode::Internal, "too many download redirects"))
    }

    fn session_url(&self, target: &Target) -> String {
        match target {
            Target::New { parent_id, name } => self.drive_url(&format!(
                "/items/{}:/{}:/createUploadSession",
                encode_segment(parent_id),
                encode_segment(name)
            )),
            Target::Replace { id, .. } => self.drive_url(&format!("/items/{}/createUploadSession", encode_segment(id))),
        }
    }

    /// Uploads `content`, by simple upload when small, by session otherwise. Returns the item and the SHA-256
    /// of what was sent.
    pub async fn upload(
        &self,
        target: &Target,
        content: ByteStream,
        expect: Expect,
        fragment: usize,
    ) -> Result<(DriveItem, Sha256Digest), SideError> {
        if expect.size <= SIMPLE_UPLOAD_MAX {
            self.upload_small(target, content, expect).await
        } else {
            self.upload_session(target, content, expect, fragment).await
        }
    }

    async fn upload_small(
        &self,
        target: &Target,
        mut content: ByteStream,
        expect: Expect,
    ) -> Result<(DriveItem, Sha256Digest), SideError> {
        let mut data = Vec::new();
        let mut hasher = sha2::Sha256::new();
        while let Some(chunk) = content.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            data.extend_from_slice(&chunk);
            if data.len() as u64 > expect.size {
                return Err(verify_failed(format!("more than the expected {} bytes", expect.size)));
            }
        }
        let digest = Sha256Digest(hasher.finalize().into());
        check(expect, data.len() as u64, digest)?;
        let call = match target {
            Target::New { parent_id, name } => Call::new(
                Method::PUT,
                self.drive_url(&format!(
                    "/items/{}:/{}:/content?@microsoft.graph.conflictBehavior=fail",
                    encode_segment(parent_id),
                    encode_segment(name)
                )),
            ),
            Target::Replace { id, etag } => {
                Call::new(Method::PUT, self.drive_url(&format!("/items/{}/content", encode_segment(id))))
                    .header("if-match", etag.clone())
            }
        };
        let item = self.json(&call.bytes(data).not_idempotent()).await?;
        Ok((item, digest))
    }

    async fn upload_session(
        &self,
        target: &Target,
        mut content: ByteStream,
        expect: Expect,
        fragment: usize,
    ) -> Result<(DriveItem, Sha256Digest), SideError> {
        let fragment = (fragment / FRAGMENT_UNIT).max(1) * FRAGMENT_UNIT;
        let behaviour = if matches!(target, Target::New { .. }) { "fail" } else { "replace" };
        let mut create = Call::new(Method::POST, self.session_url(target)).json(serde_json::json!({
            "item": {"@microsoft.graph.conflictBehavior": behaviour, "fileSize": expect.size},
        }));
        if let Target::Replace { etag, .. } = target {
            create = create.header("if-match", etag.clone());
        }
        let session: UploadSession = self.json(&create).await?;
        let url = session.upload_url;
        let result = async {
            let mut hasher = sha2::Sha256::new();
            // Bytes not yet acknowledged by the session, starting at `offset`.
            let mut pending: Vec<u8> = Vec::new();
            let mut offset: u64 = 0;
            let mut stalls = 0;
            while let Some(chunk) = content.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                pending.extend_from_slice(&chunk);
                if offset + pending.len() as u64 > expect.size {
                    return Err(verify_failed(format!("more than the expected {} bytes", expect.size)));
                }
                // Hold back at least one byte so the last fragment is sent only after verification. Each
                // fragment starts where the session says it stands, so a partly taken one is continued with a
                // full 320 KiB multiple.
                while pending.len() > fragment {
                    match self.put_fragment(&url, offset, &pending[..fragment], expect.size).await? {
                        Fragment::Next(next) => {
                            let taken = next.saturating_sub(offset).min(fragment as u64) as usize;
                            stalls = if taken == 0 { stalls + 1 } else { 0 };
                            if stalls >= FRAGMENT_ATTEMPTS {
                                return Err(SideError::new(
                                    ErrorCode::Timeout,
                                    format!("fragment at {offset} not taken"),
                                ));
                            }
                            pending.drain(..taken);
                            offset += taken as u64;
                        }
                        Fragment::Done(_) => {
                            return Err(SideError::new(ErrorCode::Internal, "the session committed before the end"));
                        }
                    }
                }
            }
            let digest = Sha256Digest(hasher.finalize().into());
            check(expect, offset + pending.len() as u64, digest)?;
            loop {
                match self.put_fragment(&url, offset, &pending, expect.size).await? {
                    Fragment::Done(item) => return Ok((*item, digest)),
                    Fragment::Next(next) => {
                        let taken = next.saturating_sub(offset).min(pending.len() as u64) as usize;
                        stalls = if taken == 0 { stalls + 1 } else { 0 };
                        if stalls >= FRAGMENT_ATTEMPTS || pending.is_empty() {
                            return Err(SideError::new(
                                ErrorCode::Timeout,
                                "the last fragment did not commit the file",
                            ));
                        }
                        pending.drain(..taken);
                        offset += taken as u64;
                    }
                }
            }
        }
        .await;
        if result.is_err() {
            // Cancel so nothing half-written lingers; the target was never replaced.
            let _ = self.send(&Call::new(Method::DELETE, url.clone()).unauthorized()).await;
        }
        result
    }

    /// Sends `data` as the fragment at `start` once. Returns where the session now expects the next byte, or
    /// the item when the file is complete. A lost answer, a 5xx or a range complaint is settled by asking the
    /// session where it stands.
    async fn put_fragment(&self, url: &str, start: u64, data: &[u8], total: u64) -> Result<Fragment, SideError> {
        let end = start + data.len() as u64;
        let range = format!("bytes {start}-{}/{total}", end.saturating_sub(1));
        let call = Call::new(Method::PUT, url.to_string())
            .unauthorized()
            .not_idempotent()
            .header("content-range", range)
            .bytes(data.to_vec());
        let answer = match self.send(&call).await {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.ok().map(|body| (status, body))
            }
            // Lost answers, server trouble and range complaints (416: overlap, out of order) all mean the
            // same: ask the session what it holds and go on from there.
            Err(failure)
                if failure.status.is_none_or(|s| s.is_server_error() || s == StatusCode::RANGE_NOT_SATISFIABLE) =>
            {
                None
            }
            Err(failure) => return Err(failure.error),
        };
        if let Some((status, body)) = answer {
            if status == StatusCode::OK || status == StatusCode::CREATED {
                let item: DriveItem = serde_json::from_slice(&body)
                    .map_err(|e| SideError::new(ErrorCode::Internal, format!("upload answer unreadable: {e}")))?;
                return Ok(Fragment::Done(Box::new(item)));
            }
            if let Some(next) = serde_json::from_slice::<UploadStatus>(&body).ok().and_then(|s| s.next_offset()) {
                return Ok(Fragment::Next(next));
            }
        }
        let status: UploadStatus = self.json(&Call::new(Method::GET, url.to_string()).unauthorized()).await?;
        match status.next_offset() {
            Some(next) => Ok(Fragment::Next(next)),
            // Nothing expected any more: the lost answer was the commit; the engine's retry will find the file.
            None => Err(SideError::new(ErrorCode::Timeout, "the upload's final answer was lost")),
        }
    }
}

/// Where an upload session stands after a fragment.
enum Fragment {
    Next(u64),
    Done(Box<DriveItem>),
}
