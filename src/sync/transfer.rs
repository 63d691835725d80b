//! Hashing while streaming: what a side's atomic write uses to verify size and SHA-256 before its final rename.

use futures::StreamExt;
use sha2::Digest;

use super::entry::Sha256Digest;
use super::side::{ByteStream, ErrorCode, SideError};

/// Drains a content stream into memory, hashing as it goes, and checks the expected size and hash. For the
/// in-memory side; a real side writes each chunk to its temp file instead of a buffer and checks the same way.
pub async fn collect_verified(
    mut content: ByteStream,
    size: u64,
    sha256: Option<Sha256Digest>,
) -> Result<(Vec<u8>, Sha256Digest), SideError> {
    let mut hasher = sha2::Sha256::new();
    let mut data = Vec::new();
    while let Some(chunk) = content.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        data.extend_from_slice(&chunk);
    }
    let digest = Sha256Digest(hasher.finalize().into());
    let written = u64::try_from(data.len()).unwrap_or(u64::MAX);
    if written != size {
        return Err(SideError::new(
            ErrorCode::VerifyFailed,
            format!("wrote {written} bytes where {size} were expected; the origin changed while being read"),
        ));
    }
    if let Some(expected) = sha256
        && expected != digest
    {
        return Err(SideError::new(
            ErrorCode::VerifyFailed,
            format!("content hash {digest} differs from the expected {expected}; the origin changed while being read"),
        ));
    }
    Ok((data, digest))
}

/// Splits content into chunks, as a transport would stream it.
pub fn chunked(data: std::sync::Arc<Vec<u8>>, chunk: usize) -> ByteStream {
    let len = data.len();
    let starts = (0..len).step_by(chunk.max(1));
    Box::pin(futures::stream::iter(starts.map(move |start| Ok(data[start..(start + chunk).min(len)].to_vec()))))
}
