//! An in-memory [`Side`] with knobs (syncthing `fakefs` style): case-insensitivity, refused names, modification
//! time precision, native SHA-256, and drive-like recoverability (versions and trash). It keeps count of hash
//! calls so tests can prove that only changed files are hashed.
//!
//! Besides the trait, it has "user" operations (`put_file`, `remove`, `rename`, ...) that change it the way a
//! person would between runs: no versions, no preconditions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream;
use time::{Duration, OffsetDateTime};
use unicode_normalization::UnicodeNormalization;

use super::entry::{Attributes, ContentHash, Entry, HashKind, Kind, Sha256Digest, SideState};
use super::names::{NamingRules, RefusedNames};
use super::path::SyncPath;
use super::side::{
    ByteStream, Capabilities, DriveSide, ErrorCode, Listing, Precondition, Side, SideError, VersionOrigin,
    WriteRequest, Written,
};
use super::transfer::{chunked, collect_verified};

/// How the in-memory side behaves.
#[derive(Debug, Clone)]
pub struct MemoryKnobs {
    pub naming: NamingRules,
    /// Written modification times are truncated to this (SMB: 100 ns, Graph: 1 s, FAT: 2 s).
    pub mtime_precision: Duration,
    /// The hash the listing carries: SHA-256 (the drive), a stand-in for quickXorHash (SharePoint), or none
    /// (SMB).
    pub native_hash: Option<HashKind>,
    /// Overwrites and deletes keep the old content (the drive).
    pub recoverable: bool,
}

impl MemoryKnobs {
    /// Like an SMB share: case-insensitive, Windows names, no hashes, nothing recoverable.
    pub fn windows_share() -> Self {
        Self {
            naming: NamingRules::windows(),
            mtime_precision: Duration::nanoseconds(100),
            native_hash: None,
            recoverable: false,
        }
    }

    /// Like the drive: case-sensitive, any name stored in NFC, SHA-256 in listings, versions and trash.
    pub fn drive() -> Self {
        Self {
            naming: NamingRules::drive(),
            mtime_precision: Duration::milliseconds(1),
            native_hash: Some(HashKind::Sha256),
            recoverable: true,
        }
    }

    /// Like a SharePoint library: case-insensitive, SharePoint names, times in whole seconds, a non-SHA native
    /// hash in listings, nothing recoverable on this side.
    pub fn sharepoint_library() -> Self {
        Self {
            naming: NamingRules::sharepoint(),
            mtime_precision: Duration::seconds(1),
            native_hash: Some(HashKind::QuickXor),
            recoverable: false,
        }
    }

    /// Refuses the given names besides the usual rules.
    pub fn refusing(mut self, names: &[&str]) -> Self {
        self.naming.refused = RefusedNames::List(names.iter().map(|n| n.to_string()).collect());
        self
    }
}

/// Content a recoverable side kept: an old version or a trashed file.
#[derive(Debug, Clone)]
pub struct Kept {
    pub path: SyncPath,
    pub content: Arc<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct Node {
    path: SyncPath,
    id: u64,
    kind: Kind,
    content: Arc<Vec<u8>>,
    modified: OffsetDateTime,
    attrs: Attributes,
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    nodes: BTreeMap<String, Node>,
    next_id: u64,
    generation: u64,
    versions: Vec<Kept>,
    trash: Vec<Kept>,
    hash_calls: Vec<SyncPath>,
}

/// The in-memory side.
#[derive(Debug)]
pub struct MemorySide {
    knobs: MemoryKnobs,
    /// Prefixes identities so two sides never share one.
    prefix: &'static str,
    state: Mutex<State>,
}

/// A hash of the given kind. The quickXorHash stand-in is derived from the SHA-256 so it is a function of the
/// content, which is all the engine relies on (it never compares it with another kind).
fn native(kind: HashKind, sha: Sha256Digest) -> ContentHash {
    match kind {
        HashKind::Sha256 => ContentHash::sha256(sha),
        HashKind::QuickXor => ContentHash { kind, value: format!("qx-{}", &sha.to_string()[..27]).into_boxed_str() },
    }
}

fn not_found(path: &SyncPath) -> SideError {
    SideError::new(ErrorCode::NotFound, format!("'{path}' does not exist"))
}

fn changed(path: &SyncPath) -> SideError {
    SideError::new(ErrorCode::PreconditionFailed, format!("'{path}' changed since it was listed"))
}

impl MemorySide {
    pub fn new(knobs: MemoryKnobs, prefix: &'static str) -> Self {
        Self { knobs, prefix, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, path: &SyncPath) -> String {
        if self.knobs.naming.case_insensitive {
            path.folded().to_owned()
        } else if self.knobs.naming.nfc {
            path.as_str().nfc().collect()
        } else {
            path.as_str().to_owned()
        }
    }

    /// The path as this side stores it: in NFC on a side that normalises (as the drive does), and on a
    /// case-insensitive side spelled with the stored names of its existing ancestors (as SMB reports a child
    /// under its folder's stored spelling).
    fn canonical(&self, state: &State, path: &SyncPath) -> SyncPath {
        if self.knobs.naming.nfc {
            return SyncPath::new(path.as_str().nfc().collect::<String>());
        }
        if !self.knobs.naming.case_insensitive {
            return path.clone();
        }
        let mut out = String::new();
        for component in path.components() {
            let candidate = if out.is_empty() { component.to_owned() } else { format!("{out}/{component}") };
            let candidate = SyncPath::new(candidate);
            out = match state.nodes.get(&self.key(&candidate)) {
                Some(node) if candidate.as_str().len() < path.as_str().len() => node.path.as_str().to_owned(),
                _ => candidate.as_str().to_owned(),
            };
        }
        SyncPath::new(out)
    }

    fn truncate(&self, t: OffsetDateTime) -> OffsetDateTime {
        let precision = self.knobs.mtime_precision.whole_nanoseconds().max(1);
        let nanos = t.unix_timestamp_nanos();
        OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(precision)).unwrap_or(t)
    }

    fn entry(&self, node: &Node) -> Entry {
        let sha = Sha256Digest::of(&node.content);
        Entry {
            path: node.path.clone(),
            id: format!("{}{}", self.prefix, node.id).into_boxed_str(),
            kind: node.kind,
            size: if node.kind == Kind::File { node.content.len() as u64 } else { 0 },
            modified: node.modified,
            tag: format!("{}.{}", node.id, node.generation).into_boxed_str(),
            attrs: node.attrs,
            hash: match (self.knobs.native_hash, node.kind) {
                (Some(kind), Kind::File) => Some(native(kind, sha)),
                _ => None,
            },
        }
    }

    fn check(&self, node: &Node, expect: &SideState) -> Result<(), SideError> {
        if self.entry(node).matches(expect) { Ok(()) } else { Err(changed(&node.path)) }
    }

    /// Creates missing parent folders of `path`.
    fn make_parents(&self, state: &mut State, path: &SyncPath, modified: OffsetDateTime) -> Result<(), SideError> {
        let mut ancestors = Vec::new();
        let mut cur = path.parent();
        while let Some(p) = cur {
            cur = p.parent();
            ancestors.push(p);
        }
        for folder in ancestors.into_iter().rev() {
            match state.nodes.get(&self.key(&folder)) {
                Some(n) if n.kind == Kind::Folder => {}
                Some(_) => {
                    return Err(SideError::new(
                        ErrorCode::AlreadyExists,
                        format!("a file is in the way at '{folder}'"),
                    ));
                }
                None => {
                    state.next_id += 1;
                    let node = Node {
                        path: folder.clone(),
                        id: state.next_id,
                        kind: Kind::Folder,
                        content: Arc::default(),
                        modified,
                        attrs: Attributes::default(),
                        generation: 0,
                    };
                    state.nodes.insert(self.key(&folder), node);
                }
            }
        }
        Ok(())
    }

    // ---- user operations (between runs) ----

    /// Creates or overwrites a file as a user would (parents created, no version kept).
    pub fn put_file(&self, path: &str, content: &[u8], modified: OffsetDateTime) {
        let modified = self.truncate(modified);
        let mut state = self.lock();
        let path = self.canonical(&state, &SyncPath::new(path));
        if self.make_parents(&mut state, &path, modified).is_err() {
            return;
        }
        state.generation += 1;
        let generation = state.generation;
        let key = self.key(&path);
        if let Some(node) = state.nodes.get_mut(&key) {
            if node.kind == Kind::File {
                node.content = Arc::new(content.to_vec());
                node.modified = modified;
                node.generation = generation;
            }
            return;
        }
        state.next_id += 1;
        let id = state.next_id;
        let node = Node {
            path,
            id,
            kind: Kind::File,
            content: Arc::new(content.to_vec()),
            modified,
            attrs: Attributes::default(),
            generation,
        };
        state.nodes.insert(key, node);
    }

    /// Changes only the modification time (a "touch").
    pub fn touch(&self, path: &str, modified: OffsetDateTime) {
        let modified = self.truncate(modified);
        if let Some(node) = self.lock().nodes.get_mut(&self.key(&SyncPath::new(path))) {
            node.modified = modified;
        }
    }

    pub fn mkdir(&self, path: &str, modified: OffsetDateTime) {
        let mut state = self.lock();
        let path = self.canonical(&state, &SyncPath::new(path));
        if self.make_parents(&mut state, &path, modified).is_err() {
            return;
        }
        let key = self.key(&path);
        if state.nodes.contains_key(&key) {
            return;
        }
        state.next_id += 1;
        let id = state.next_id;
        state.nodes.insert(
            key,
            Node {
                path,
                id,
                kind: Kind::Folder,
                content: Arc::default(),
                modified,
                attrs: Attributes::default(),
                generation: 0,
            },
        );
    }

    /// Deletes a file or a folder with its content, as a user would (nothing kept).
    pub fn remove(&self, path: &str) {
        let path = SyncPath::new(path);
        let case_insensitive = self.knobs.naming.case_insensitive;
        let hit = |p: &SyncPath| {
            if case_insensitive {
                p.same_folded(&path) || path.is_folded_ancestor_of(p)
            } else {
                *p == path || path.is_ancestor_of(p)
            }
        };
        self.lock().nodes.retain(|_, n| !hit(&n.path));
    }

    /// Renames as a user would: identity kept, content moves along. Refused if the target exists.
    pub fn rename(&self, from: &str, to: &str) -> bool {
        let mut state = self.lock();
        let (from, to) = (SyncPath::new(from), self.canonical(&state, &SyncPath::new(to)));
        let Some(node) = state.nodes.get(&self.key(&from)) else { return false };
        let from = node.path.clone();
        if self.key(&from) != self.key(&to) && state.nodes.contains_key(&self.key(&to)) {
            return false;
        }
        if to.parent().is_some_and(|p| !state.nodes.get(&self.key(&p)).is_some_and(|n| n.kind == Kind::Folder)) {
            return false;
        }
        self.rekey(&mut state, &from, &to);
        true
    }

    fn rekey(&self, state: &mut State, from: &SyncPath, to: &SyncPath) {
        let moving: Vec<String> = state
            .nodes
            .iter()
            .filter(|(_, n)| n.path == *from || from.is_ancestor_of(&n.path))
            .map(|(k, _)| k.clone())
            .collect();
        for key in moving {
            if let Some(mut node) = state.nodes.remove(&key) {
                node.path =
                    if node.path == *from { to.clone() } else { node.path.rebase(from, to).unwrap_or(node.path) };
                state.nodes.insert(self.key(&node.path), node);
            }
        }
    }

    pub fn set_attrs(&self, path: &str, attrs: Attributes) {
        if let Some(node) = self.lock().nodes.get_mut(&self.key(&SyncPath::new(path))) {
            node.attrs = attrs;
        }
    }

    /// Every file: path and content.
    pub fn files(&self) -> Vec<(SyncPath, Arc<Vec<u8>>)> {
        let state = self.lock();
        state.nodes.values().filter(|n| n.kind == Kind::File).map(|n| (n.path.clone(), n.content.clone())).collect()
    }

    /// Every folder path.
    pub fn folders(&self) -> Vec<SyncPath> {
        self.lock().nodes.values().filter(|n| n.kind == Kind::Folder).map(|n| n.path.clone()).collect()
    }

    pub fn content(&self, path: &str) -> Option<Arc<Vec<u8>>> {
        let state = self.lock();
        state.nodes.get(&self.key(&SyncPath::new(path))).filter(|n| n.kind == Kind::File).map(|n| n.content.clone())
    }

    pub fn versions(&self) -> Vec<Kept> {
        self.lock().versions.clone()
    }

    pub fn trash(&self) -> Vec<Kept> {
        self.lock().trash.clone()
    }

    /// Paths hashed through [`Side::hash`] so far.
    pub fn hash_calls(&self) -> Vec<SyncPath> {
        self.lock().hash_calls.clone()
    }

    pub fn snapshot(&self) -> Vec<Entry> {
        let state = self.lock();
        let mut entries: Vec<Entry> = state.nodes.values().map(|n| self.entry(n)).collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries
    }
}

impl Side for MemorySide {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delta_tokens: false,
            acls: false,
            native_hash: self.knobs.native_hash,
            naming: self.knobs.naming.clone(),
            recoverable: self.knobs.recoverable,
        }
    }

    fn list(&self) -> Listing<'_> {
        Box::pin(stream::iter(self.snapshot().into_iter().map(Ok)))
    }

    async fn stat(&self, path: &SyncPath) -> Result<Option<Entry>, SideError> {
        let state = self.lock();
        Ok(state.nodes.get(&self.key(path)).map(|n| self.entry(n)))
    }

    async fn hash(&self, path: &SyncPath, kind: HashKind) -> Result<ContentHash, SideError> {
        let mut state = self.lock();
        state.hash_calls.push(path.clone());
        let node = state.nodes.get(&self.key(path)).ok_or_else(|| not_found(path))?;
        Ok(native(kind, Sha256Digest::of(&node.content)))
    }

    async fn read(&self, path: &SyncPath, expect: &SideState) -> Result<ByteStream, SideError> {
        let state = self.lock();
        let node = state.nodes.get(&self.key(path)).ok_or_else(|| not_found(path))?;
        self.check(node, expect)?;
        Ok(chunked(node.content.clone(), 4096))
    }

    async fn write(&self, request: WriteRequest, content: ByteStream) -> Result<Written, SideError> {
        let path = request.path.clone();
        if !self.knobs.naming.accepts(&path, false) {
            return Err(SideError::new(ErrorCode::InvalidName, format!("'{path}' is not a valid name here")));
        }
        // The temp file: streamed, hashed and verified before anything visible changes.
        let (data, sha256) = collect_verified(content, request.size, request.sha256).await?;
        let modified = self.truncate(request.modified);
        let mut state = self.lock();
        let path = self.canonical(&state, &path);
        let key = self.key(&path);
        // Recheck the destination right before the rename.
        match (&request.precondition, state.nodes.get(&key)) {
            (Precondition::MustNotExist, None) => {}
            (Precondition::MustNotExist, Some(n)) => {
                return Err(SideError::new(ErrorCode::AlreadyExists, format!("'{}' exists", n.path)));
            }
            (Precondition::Matches(_), None) => return Err(changed(&path)),
            (Precondition::Matches(expect), Some(n)) => {
                self.check(n, expect)?;
                if n.kind != Kind::File {
                    return Err(changed(&path));
                }
            }
        }
        self.make_parents(&mut state, &path, modified)?;
        state.generation += 1;
        let generation = state.generation;
        let content = Arc::new(data);
        let recoverable = self.knobs.recoverable;
        let node = if let Some(node) = state.nodes.get_mut(&key) {
            let old = std::mem::replace(&mut node.content, content);
            node.modified = modified;
            node.generation = generation;
            let node = node.clone();
            if recoverable {
                state.versions.push(Kept { path: node.path.clone(), content: old });
            }
            node
        } else {
            state.next_id += 1;
            let node = Node {
                path,
                id: state.next_id,
                kind: Kind::File,
                content,
                modified,
                attrs: Attributes::default(),
                generation,
            };
            state.nodes.insert(key, node.clone());
            node
        };
        Ok(Written { entry: self.entry(&node), sha256 })
    }

    async fn move_entry(&self, from: &SyncPath, to: &SyncPath, expect: &SideState) -> Result<Entry, SideError> {
        if !self.knobs.naming.accepts(to, expect.kind == Kind::Folder) {
            return Err(SideError::new(ErrorCode::InvalidName, format!("'{to}' is not a valid name here")));
        }
        let mut state = self.lock();
        let to = &self.canonical(&state, to);
        let node = state.nodes.get(&self.key(from)).ok_or_else(|| not_found(from))?;
        self.check(node, expect)?;
        let from = node.path.clone();
        if self.key(&from) != self.key(to) && state.nodes.contains_key(&self.key(to)) {
            return Err(SideError::new(ErrorCode::AlreadyExists, format!("'{to}' exists")));
        }
        let modified = node.modified;
        self.make_parents(&mut state, to, modified)?;
        self.rekey(&mut state, &from, to);
        let node = state.nodes.get(&self.key(to)).ok_or_else(|| not_found(to))?;
        Ok(self.entry(node))
    }

    async fn delete(&self, path: &SyncPath, expect: &SideState) -> Result<(), SideError> {
        let mut state = self.lock();
        let key = self.key(path);
        let node = state.nodes.get(&key).ok_or_else(|| not_found(path))?;
        self.check(node, expect)?;
        let node_path = node.path.clone();
        if state.nodes.values().any(|n| node_path.is_ancestor_of(&n.path)) {
            return Err(SideError::new(ErrorCode::NotEmpty, format!("'{path}' is not empty")));
        }
        if let Some(node) = state.nodes.remove(&key)
            && self.knobs.recoverable
            && node.kind == Kind::File
        {
            state.trash.push(Kept { path: node.path, content: node.content });
        }
        Ok(())
    }

    async fn make_folder(&self, path: &SyncPath) -> Result<Entry, SideError> {
        if !self.knobs.naming.accepts(path, true) {
            return Err(SideError::new(ErrorCode::InvalidName, format!("'{path}' is not a valid name here")));
        }
        let mut state = self.lock();
        let path = &self.canonical(&state, path);
        let key = self.key(path);
        if let Some(node) = state.nodes.get(&key) {
            return if node.kind == Kind::Folder {
                Ok(self.entry(node))
            } else {
                Err(SideError::new(ErrorCode::AlreadyExists, format!("a file exists at '{path}'")))
            };
        }
        let modified = OffsetDateTime::UNIX_EPOCH;
        self.make_parents(&mut state, path, modified)?;
        state.next_id += 1;
        let node = Node {
            path: path.clone(),
            id: state.next_id,
            kind: Kind::Folder,
            content: Arc::default(),
            modified,
            attrs: Attributes::default(),
            generation: 0,
        };
        state.nodes.insert(key, node.clone());
        Ok(self.entry(&node))
    }
}

impl DriveSide for MemorySide {
    async fn save_version(
        &self,
        path: &SyncPath,
        content: ByteStream,
        _origin: VersionOrigin,
    ) -> Result<(), SideError> {
        use futures::StreamExt;
        let mut data = Vec::new();
        let mut content = content;
        while let Some(chunk) = content.next().await {
            data.extend_from_slice(&chunk?);
        }
        self.lock().versions.push(Kept { path: path.clone(), content: Arc::new(data) });
        Ok(())
    }
}
