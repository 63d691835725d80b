//! One conformance suite every [`Side`] passes (rclone `fstests` style): the in-memory side here, and the SMB,
//! SharePoint and drive adapters from their own tests against Samba, the Graph emulator and a temp store.
//!
//! Call [`check_side`] on an empty side. It exercises the edges each trait method documents: preconditions,
//! verification, case rules, refused names, folder rules, listing order, and identity across moves. It returns
//! the first broken promise, named, rather than panicking, so an adapter's test can print it.

use futures::StreamExt;
use time::OffsetDateTime;

use super::entry::{Entry, HashKind, Kind, Sha256Digest};
use super::path::SyncPath;
use super::side::{ByteStream, ErrorCode, Precondition, Side, SideError, WriteRequest, Written};

/// A promise of the trait that the side broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {detail}")]
pub struct Broken {
    pub check: &'static str,
    pub detail: String,
}

fn broken(check: &'static str, detail: impl Into<String>) -> Broken {
    Broken { check, detail: detail.into() }
}

fn bytes(data: &[u8]) -> ByteStream {
    let chunks: Vec<Result<Vec<u8>, SideError>> = data.chunks(3).map(|c| Ok(c.to_vec())).collect();
    Box::pin(futures::stream::iter(chunks))
}

fn when() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn request(path: &str, data: &[u8], precondition: Precondition) -> WriteRequest {
    WriteRequest {
        path: SyncPath::new(path),
        precondition,
        size: data.len() as u64,
        sha256: Some(Sha256Digest::of(data)),
        modified: when(),
    }
}

async fn put<S: Side>(side: &S, path: &str, data: &[u8]) -> Result<Written, Broken> {
    side.write(request(path, data, Precondition::MustNotExist), bytes(data))
        .await
        .map_err(|e| broken("write creates a file", format!("{path}: {e}")))
}

async fn content<S: Side>(side: &S, entry: &Entry) -> Result<Vec<u8>, Broken> {
    let mut stream =
        side.read(&entry.path, &entry.state()).await.map_err(|e| broken("read", format!("{}: {e}", entry.path)))?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend(chunk.map_err(|e| broken("read", e.to_string()))?);
    }
    Ok(out)
}

async fn listing<S: Side>(side: &S) -> Result<Vec<Entry>, Broken> {
    let mut stream = side.list();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.map_err(|e| broken("list", e.to_string()))?);
    }
    Ok(out)
}

fn expect_code<T: std::fmt::Debug>(
    check: &'static str,
    result: Result<T, SideError>,
    codes: &[ErrorCode],
) -> Result<(), Broken> {
    match result {
        Err(e) if codes.contains(&e.code) => Ok(()),
        other => Err(broken(check, format!("expected one of {codes:?}, got {other:?}"))),
    }
}

/// Runs the suite against an empty side.
pub async fn check_side<S: Side>(side: &S) -> Result<(), Broken> {
    let caps = side.capabilities();
    if !listing(side).await?.is_empty() {
        return Err(broken("setup", "the side must start empty"));
    }

    // Writes, reads, hashes.
    let a = put(side, "docs/a.txt", b"alpha").await?;
    if a.entry.size != 5 || a.entry.kind != Kind::File || a.sha256 != Sha256Digest::of(b"alpha") {
        return Err(broken("write reports what it wrote", format!("{a:?}")));
    }
    if content(side, &a.entry).await? != b"alpha" {
        return Err(broken("read returns the written content", ""));
    }
    let hash = side.hash(&a.entry.path, HashKind::Sha256).await.map_err(|e| broken("hash", e.to_string()))?;
    if hash.as_sha256() != Some(a.sha256) {
        return Err(broken("hash gives the content's SHA-256", format!("{hash:?}")));
    }
    let folder = side.stat(&"docs".into()).await.map_err(|e| broken("stat", e.to_string()))?;
    if folder.map(|f| f.kind) != Some(Kind::Folder) {
        return Err(broken("write creates missing parent folders", ""));
    }

    // Preconditions and verification leave the target untouched.
    let again = side.write(request("docs/a.txt", b"other", Precondition::MustNotExist), bytes(b"other")).await;
    expect_code("write refuses an existing target", again, &[ErrorCode::AlreadyExists, ErrorCode::PreconditionFailed])?;
    let mut stale = a.entry.state();
    stale.size += 1;
    let result =
        side.write(request("docs/a.txt", b"other", Precondition::Matches(stale.clone())), bytes(b"other")).await;
    expect_code("write refuses a changed target", result, &[ErrorCode::PreconditionFailed])?;
    let mut short = request("docs/b.txt", b"beta", Precondition::MustNotExist);
    short.size = 10;
    short.sha256 = None;
    expect_code("write verifies the size", side.write(short, bytes(b"beta")).await, &[ErrorCode::VerifyFailed])?;
    let mut wrong = request("docs/b.txt", b"beta", Precondition::MustNotExist);
    wrong.sha256 = Some(Sha256Digest::of(b"gamma"));
    expect_code("write verifies the hash", side.write(wrong, bytes(b"beta")).await, &[ErrorCode::VerifyFailed])?;
    if side.stat(&"docs/b.txt".into()).await.map_err(|e| broken("stat", e.to_string()))?.is_some() {
        return Err(broken("a failed write leaves no file", "docs/b.txt exists"));
    }
    let current = side.stat(&a.entry.path).await.map_err(|e| broken("stat", e.to_string()))?;
    let Some(current) = current else { return Err(broken("stat finds a file", "docs/a.txt")) };
    if content(side, &current).await? != b"alpha" {
        return Err(broken("refused writes change nothing", ""));
    }
    let replaced = side
        .write(request("docs/a.txt", b"alpha 2", Precondition::Matches(current.state())), bytes(b"alpha 2"))
        .await
        .map_err(|e| broken("write replaces a matching target", e.to_string()))?;
    expect_code(
        "read refuses a changed entry",
        side.read(&a.entry.path, &stale).await.map(|_| ()),
        &[ErrorCode::PreconditionFailed],
    )?;

    // Case rules.
    if caps.naming.case_insensitive {
        let found = side.stat(&"DOCS/A.TXT".into()).await.map_err(|e| broken("stat", e.to_string()))?;
        if found.as_ref().map(|e| e.path.as_str()) != Some("docs/a.txt") {
            return Err(broken("stat finds any spelling and reports the stored one", format!("{found:?}")));
        }
        let twin = side.write(request("docs/A.txt", b"twin", Precondition::MustNotExist), bytes(b"twin")).await;
        expect_code(
            "a case twin counts as existing",
            twin,
            &[ErrorCode::AlreadyExists, ErrorCode::PreconditionFailed],
        )?;
    }

    // Moves keep identity.
    let moved = side
        .move_entry(&replaced.entry.path, &"archive/a-renamed.txt".into(), &replaced.entry.state())
        .await
        .map_err(|e| broken("move", e.to_string()))?;
    if moved.id != replaced.entry.id || moved.path.as_str() != "archive/a-renamed.txt" {
        return Err(broken("move keeps identity and creates parents", format!("{moved:?}")));
    }
    let c = put(side, "docs/c.txt", b"c").await?;
    let onto = side.move_entry(&c.entry.path, &moved.path, &c.entry.state()).await;
    expect_code("move refuses an existing target", onto, &[ErrorCode::AlreadyExists, ErrorCode::PreconditionFailed])?;
    let mut stale_c = c.entry.state();
    stale_c.size += 1;
    let stale_move = side.move_entry(&c.entry.path, &"docs/c2.txt".into(), &stale_c).await;
    expect_code("move refuses a changed entry", stale_move, &[ErrorCode::PreconditionFailed])?;

    // Folders and deletes.
    let made = side.make_folder(&"empty/inner".into()).await.map_err(|e| broken("make_folder", e.to_string()))?;
    let again = side
        .make_folder(&"empty/inner".into())
        .await
        .map_err(|e| broken("make_folder is idempotent", e.to_string()))?;
    if made.id != again.id || made.kind != Kind::Folder {
        return Err(broken("make_folder is idempotent", format!("{made:?} then {again:?}")));
    }
    expect_code(
        "make_folder refuses a file in the way",
        side.make_folder(&c.entry.path).await,
        &[ErrorCode::AlreadyExists],
    )?;
    let docs = side.stat(&"docs".into()).await.map_err(|e| broken("stat", e.to_string()))?;
    let Some(docs) = docs else { return Err(broken("stat finds a folder", "docs")) };
    expect_code(
        "delete refuses a non-empty folder",
        side.delete(&docs.path, &docs.state()).await,
        &[ErrorCode::NotEmpty],
    )?;
    expect_code(
        "delete refuses a changed entry",
        side.delete(&c.entry.path, &stale_c).await,
        &[ErrorCode::PreconditionFailed],
    )?;
    side.delete(&c.entry.path, &c.entry.state()).await.map_err(|e| broken("delete a file", e.to_string()))?;
    if side.stat(&c.entry.path).await.map_err(|e| broken("stat", e.to_string()))?.is_some() {
        return Err(broken("delete removes the file", ""));
    }

    // Refused names.
    if caps.naming.refused != super::names::RefusedNames::Nothing {
        let bad = side.write(request("bad:name?.txt", b"x", Precondition::MustNotExist), bytes(b"x")).await;
        expect_code("a refused name is INVALID_NAME", bad, &[ErrorCode::InvalidName])?;
    }

    // Listing order: everything, folders before content, in SyncPath order, no duplicates.
    for path in ["zeta.txt", "Beta/x.txt", "alpha-1.txt", "alpha/y.txt", "alpha/z/w.txt"] {
        put(side, path, path.as_bytes()).await?;
    }
    let listed = listing(side).await?;
    if listed.windows(2).any(|w| w[0].path >= w[1].path) {
        let order: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
        return Err(broken("list is in SyncPath order", format!("{order:?}")));
    }
    for entry in &listed {
        if let Some(parent) = entry.path.parent()
            && !listed.iter().any(|p| p.path == parent && p.kind == Kind::Folder)
        {
            return Err(broken("list holds every folder", format!("no {parent} for {}", entry.path)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::sync::faulty::FaultySide;
    use crate::sync::memory::{MemoryKnobs, MemorySide};

    #[test]
    fn the_in_memory_side_passes_in_every_guise() {
        for knobs in [MemoryKnobs::windows_share(), MemoryKnobs::drive(), MemoryKnobs::sharepoint_library()] {
            let side = MemorySide::new(knobs.clone(), "m");
            assert_eq!(block_on(check_side(&side)), Ok(()), "{knobs:?}");
        }
    }

    #[test]
    fn the_fault_injector_passes_when_no_fault_is_set() {
        let side = FaultySide::new(MemorySide::new(MemoryKnobs::windows_share(), "m"), Default::default());
        assert_eq!(block_on(check_side(&side)), Ok(()));
    }
}
