//! `SharePointSide`: a document library (below the connector's `base_path`) as the sync engine's [`Side`].
//!
//! - Identity is the Graph item id (kept across renames and moves); the change tag is the quickXorHash, which
//!   moves with content only (delta never sends `cTag` on SharePoint, GRAPH.md 4), so a rename costs no hash.
//! - Listing: delta from the stored deltaLink applied to the kept item tree ([`DeltaState`]), then the whole
//!   tree in the engine's path order. [`SharePointSide::delta_state`] is what the file-state actor stores after
//!   the run's actions are recorded.
//! - Preconditions: the item is read by path and compared with the engine's record, and the change itself
//!   carries that item's eTag in `If-Match`, so a change between the check and the write fails with 412
//!   instead of overwriting someone's edit. A file checked out by someone else answers 423: `FILE_LOCKED`,
//!   a per-file error.
//! - Names: SharePoint's rules (GRAPH.md 14) are the side's naming rules; refused names are `INVALID_NAME`
//!   before any request.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use reqwest::Method;
use sha2::Digest;

use super::client::{Call, GraphClient, decode_path, encode_path, encode_segment};
use super::content::{Expect, FRAGMENT_UNIT, Target};
use super::delta::{DeltaReport, DeltaState, entry, tree_item};
use super::quickxor::QuickXorHash;
use super::wire::DriveItem;
use crate::sync::entry::{ContentHash, Entry, HashKind, Kind, Sha256Digest, SideState};
use crate::sync::names::NamingRules;
use crate::sync::path::SyncPath;
use crate::sync::side::{
    ByteStream, Capabilities, ErrorCode, Listing, Precondition, Side, SideError, WriteRequest, Written,
};

/// Tunables of the side.
#[derive(Debug, Clone, Copy)]
pub struct SharePointOptions {
    /// `$top` for delta pages. The reference gives 200 as the default only; 1000 is the largest page the
    /// OneDrive team documents (and what the emulator serves).
    pub page_size: u32,
    /// Upload-session fragment size, rounded down to a multiple of 320 KiB (the reference recommends 5-10 MiB).
    pub fragment_size: usize,
}

impl Default for SharePointOptions {
    fn default() -> Self {
        SharePointOptions { page_size: 1000, fragment_size: 32 * FRAGMENT_UNIT }
    }
}

/// A SharePoint library seen by the engine.
pub struct SharePointSide {
    client: Arc<GraphClient>,
    /// `base_path` segments below the drive root.
    base: Vec<String>,
    options: SharePointOptions,
    state: tokio::sync::Mutex<DeltaState>,
    last_report: Mutex<DeltaReport>,
}

fn changed(path: &SyncPath) -> SideError {
    SideError::new(ErrorCode::PreconditionFailed, format!("'{path}' changed in SharePoint since it was listed"))
}

impl SharePointSide {
    /// `state` is what the file-state actor kept from the previous run (`DeltaState::default()` for the first).
    pub fn new(client: Arc<GraphClient>, base_path: &str, state: DeltaState, options: SharePointOptions) -> Self {
        let base = base_path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        SharePointSide {
            client,
            base,
            options,
            state: tokio::sync::Mutex::new(state),
            last_report: Mutex::new(DeltaReport::default()),
        }
    }

    pub fn client(&self) -> &Arc<GraphClient> {
        &self.client
    }

    /// The delta cursor and item tree to keep for the next run: store it only once the run's actions are
    /// recorded (the file-state actor's message), so a crash re-reads the same changes.
    pub async fn delta_state(&self) -> DeltaState {
        self.state.lock().await.clone()
    }

    /// Forgets the cursor: the next listing enumerates the whole library (`full_sync=true`).
    pub async fn force_full_listing(&self) {
        self.state.lock().await.delta_link = None;
    }

    /// What the last listing cost.
    pub fn last_report(&self) -> DeltaReport {
        *self.last_report.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn segments(&self, path: Option<&SyncPath>) -> Vec<String> {
        let mut out = self.base.clone();
        if let Some(path) = path {
            out.extend(path.components().map(str::to_string));
        }
        out
    }

    fn item_url(&self, segments: &[String]) -> String {
        if segments.is_empty() {
            self.client.drive_url("/root")
        } else {
            self.client.drive_url(&format!("/root:/{}:", encode_path(&segments.join("/"))))
        }
    }

    /// The item at `segments` below the drive root, or `None`.
    async fn get(&self, segments: &[String]) -> Result<Option<DriveItem>, SideError> {
        match self.client.json::<DriveItem>(&Call::new(Method::GET, self.item_url(segments))).await {
            Ok(item) => Ok(Some(item)),
            Err(f) if f.error.code == ErrorCode::NotFound => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// The path below the connector root of an item Graph returned (stored spelling, from `parentReference`).
    fn path_of(&self, item: &DriveItem, asked: &SyncPath) -> SyncPath {
        let parent = item.parent_reference.as_ref().and_then(|p| p.path.as_deref());
        let name = item.name.as_deref().unwrap_or_else(|| asked.name());
        let Some(parent) = parent else { return asked.with_name(name) };
        let decoded = decode_path(parent.split_once(':').map_or("", |(_, rest)| rest));
        let mut segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() < self.base.len() {
            return asked.with_name(name);
        }
        segments.drain(..self.base.len());
        segments.push(name);
        SyncPath::new(segments.join("/"))
    }

    fn to_entry(&self, item: &DriveItem, asked: &SyncPath) -> Entry {
        entry(&item.id, self.path_of(item, asked), &tree_item(item))
    }

    async fn current(&self, path: &SyncPath) -> Result<Option<(Entry, DriveItem)>, SideError> {
        Ok(self.get(&self.segments(Some(path))).await?.map(|item| (self.to_entry(&item, path), item)))
    }

    /// The item at `path` provided it is still as the engine recorded it.
    async fn check_matches(&self, path: &SyncPath, expect: &SideState) -> Result<(Entry, DriveItem), SideError> {
        match self.current(path).await? {
            Some((entry, item)) if entry.matches(expect) => Ok((entry, item)),
            _ => Err(changed(path)),
        }
    }

    /// The id of the folder at `segments` (below the drive root), creating it and its parents if missing.
    async fn folder_id(&self, segments: &[String]) -> Result<String, SideError> {
        let mut known = segments.len();
        // Find the deepest existing ancestor, then create downwards.
        let mut id = loop {
            match self.get(&segments[..known]).await? {
                Some(item) if item.is_folder() => break item.id,
                Some(_) => {
                    return Err(SideError::new(
                        ErrorCode::AlreadyExists,
                        format!("'{}' is a file, not a folder", segments[..known].join("/")),
                    ));
                }
                None if known == 0 => return Err(SideError::new(ErrorCode::NotFound, "the library root is gone")),
                None => known -= 1,
            }
        };
        for (i, name) in segments.iter().enumerate().skip(known) {
            let call =
                Call::new(Method::POST, self.client.drive_url(&format!("/items/{}/children", encode_segment(&id))))
                    .json(serde_json::json!({"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}));
            id = match self.client.json::<DriveItem>(&call).await {
                Ok(item) => item.id,
                // Someone made it meanwhile: use theirs.
                Err(f) if f.error.code == ErrorCode::AlreadyExists => match self.get(&segments[..=i]).await? {
                    Some(item) if item.is_folder() => item.id,
                    _ => return Err(f.error),
                },
                Err(f) => return Err(f.error),
            };
        }
        Ok(id)
    }

    fn check_name(&self, path: &SyncPath, is_folder: bool) -> Result<(), SideError> {
        if NamingRules::sharepoint().accepts(path, is_folder) {
            Ok(())
        } else {
            Err(SideError::new(ErrorCode::InvalidName, format!("SharePoint refuses the name '{path}'")))
        }
    }

    async fn content_of(&self, item: &DriveItem) -> Result<ByteStream, SideError> {
        if let Some(url) = &item.download_url {
            return self.client.download(url).await;
        }
        let call =
            Call::new(Method::GET, self.client.drive_url(&format!("/items/{}/content", encode_segment(&item.id))));
        let response = self.client.send(&call).await?;
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        match location {
            Some(url) => self.client.download(&url).await,
            None => Err(SideError::new(ErrorCode::Internal, "content without a download redirect")),
        }
    }

    /// Sets the written file's modification time when the upload did not (simple uploads reset it to now).
    async fn set_modified(&self, item: DriveItem, modified: time::OffsetDateTime) -> Result<DriveItem, SideError> {
        let wanted = modified.replace_nanosecond(0).unwrap_or(modified);
        if item.modified() == wanted {
            return Ok(item);
        }
        let when = wanted
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| SideError::new(ErrorCode::Internal, format!("cannot format {wanted}: {e}")))?;
        let mut call = Call::new(Method::PATCH, self.client.drive_url(&format!("/items/{}", encode_segment(&item.id))))
            .json(serde_json::json!({"fileSystemInfo": {"lastModifiedDateTime": when}}));
        if let Some(etag) = &item.e_tag {
            call = call.header("if-match", etag.clone());
        }
        Ok(self.client.json(&call).await?)
    }
}

impl Side for SharePointSide {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delta_tokens: true,
            acls: false,
            native_hash: Some(HashKind::QuickXor),
            naming: NamingRules::sharepoint(),
            recoverable: false,
        }
    }

    fn list(&self) -> Listing<'_> {
        let listing = async move {
            let mut state = self.state.lock().await;
            let report = state.refresh(&self.client, self.options.page_size).await?;
            *self.last_report.lock().unwrap_or_else(|p| p.into_inner()) = report;
            Ok::<_, SideError>(state.entries(&self.base))
        };
        Box::pin(futures::stream::once(listing).flat_map(|result| {
            let items: Vec<Result<Entry, SideError>> = match result {
                Ok(entries) => entries.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        }))
    }

    async fn stat(&self, path: &SyncPath) -> Result<Option<Entry>, SideError> {
        Ok(self.current(path).await?.map(|(entry, _)| entry))
    }

    async fn hash(&self, path: &SyncPath, kind: HashKind) -> Result<ContentHash, SideError> {
        let (entry, item) = self
            .current(path)
            .await?
            .ok_or_else(|| SideError::new(ErrorCode::NotFound, format!("'{path}' does not exist")))?;
        if kind == HashKind::QuickXor
            && let Some(hash) = entry.hash
        {
            return Ok(hash);
        }
        let mut stream = self.content_of(&item).await?;
        let mut sha = sha2::Sha256::new();
        let mut qx = QuickXorHash::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            sha.update(&chunk);
            qx.update(&chunk);
        }
        Ok(match kind {
            HashKind::Sha256 => ContentHash::sha256(Sha256Digest(sha.finalize().into())),
            HashKind::QuickXor => ContentHash { kind, value: qx.finish().into_boxed_str() },
        })
    }

    async fn read(&self, path: &SyncPath, expect: &SideState) -> Result<ByteStream, SideError> {
        let (_, item) = self.check_matches(path, expect).await?;
        self.content_of(&item).await
    }

    async fn write(&self, request: WriteRequest, content: ByteStream) -> Result<Written, SideError> {
        self.check_name(&request.path, false)?;
        let target = match &request.precondition {
            Precondition::Matches(state) => {
                let (_, item) = self.check_matches(&request.path, state).await?;
                let etag = item.e_tag.clone().ok_or_else(|| changed(&request.path))?;
                Target::Replace { id: item.id, etag }
            }
            Precondition::MustNotExist => {
                let parent = self.folder_id(&self.segments(request.path.parent().as_ref())).await?;
                Target::New { parent_id: parent, name: request.path.name().to_string() }
            }
        };
        let expect = Expect { size: request.size, sha256: request.sha256 };
        let (item, sha256) = self.client.upload(&target, content, expect, self.options.fragment_size).await?;
        let item = self.set_modified(item, request.modified).await?;
        let name = item.name.clone().unwrap_or_else(|| request.path.name().to_string());
        Ok(Written { entry: entry(&item.id, request.path.with_name(&name), &tree_item(&item)), sha256 })
    }

    async fn move_entry(&self, from: &SyncPath, to: &SyncPath, expect: &SideState) -> Result<Entry, SideError> {
        let (current, item) = self.check_matches(from, expect).await?;
        self.check_name(to, current.kind == Kind::Folder)?;
        if let Some((other, _)) = self.current(to).await?
            && other.id != current.id
        {
            return Err(SideError::new(ErrorCode::AlreadyExists, format!("'{to}' already exists in SharePoint")));
        }
        let parent = self.folder_id(&self.segments(to.parent().as_ref())).await?;
        let mut call = Call::new(Method::PATCH, self.client.drive_url(&format!("/items/{}", encode_segment(&item.id))))
            .json(serde_json::json!({"name": to.name(), "parentReference": {"id": parent}}));
        if let Some(etag) = &item.e_tag {
            call = call.header("if-match", etag.clone());
        }
        let moved: DriveItem = self.client.json(&call).await?;
        let name = moved.name.clone().unwrap_or_else(|| to.name().to_string());
        Ok(entry(&moved.id, to.with_name(&name), &tree_item(&moved)))
    }

    async fn delete(&self, path: &SyncPath, expect: &SideState) -> Result<(), SideError> {
        let (current, item) = self.check_matches(path, expect).await?;
        // Graph deletes a folder with its content; the engine deletes only what it has seen.
        if current.kind == Kind::Folder && item.child_count() > 0 {
            return Err(SideError::new(ErrorCode::NotEmpty, format!("'{path}' is not empty")));
        }
        let mut call =
            Call::new(Method::DELETE, self.client.drive_url(&format!("/items/{}", encode_segment(&item.id))));
        if let Some(etag) = &item.e_tag {
            call = call.header("if-match", etag.clone());
        }
        self.client.send(&call).await?;
        Ok(())
    }

    async fn make_folder(&self, path: &SyncPath) -> Result<Entry, SideError> {
        self.check_name(path, true)?;
        if let Some((entry, _)) = self.current(path).await? {
            return match entry.kind {
                Kind::Folder => Ok(entry),
                Kind::File => Err(SideError::new(ErrorCode::AlreadyExists, format!("'{path}' is a file"))),
            };
        }
        self.folder_id(&self.segments(Some(path))).await?;
        self.current(path)
            .await?
            .map(|(entry, _)| entry)
            .ok_or_else(|| SideError::new(ErrorCode::NotFound, format!("'{path}' vanished after it was made")))
    }
}
