//! Change detection by delta (GRAPH.md 4), and the item tree kept between runs so an incremental run makes
//! requests in proportion to the changes.
//!
//! [`DeltaState`] is what the file-state actor stores per connector: the deltaLink and the drive's item tree
//! (id -> name, parent, kind, size, time, quickXorHash). A run follows the deltaLink, buffers every page (a
//! child can come before its parent, the same item can come twice: the last wins), applies them to the tree,
//! and lists the whole tree in the engine's order: the engine still gets a full listing, Graph is asked only
//! for what changed. The new state is committed by the caller only after the run's actions are recorded (never
//! advance the cursor before the page set is durably applied).
//!
//! Without a deltaLink, or when Graph answers 410 (any resync code: the tree is rebuilt from a full
//! enumeration, starting from the 410's `Location`), the tree starts empty, which also reconciles by id
//! (anything not seen is gone).

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::client::{Call, GraphClient};
use super::wire::{DriveItem, Page};
use crate::sync::entry::{Attributes, ContentHash, Entry, HashKind, Kind};
use crate::sync::path::{SyncPath, fold};
use crate::sync::side::{ErrorCode, SideError};

/// One item of the drive as the last delta left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeItem {
    pub name: String,
    pub parent: Option<String>,
    pub kind: Kind,
    /// OneNote notebook or another package: a file to the engine, its content never walked.
    #[serde(default)]
    pub package: bool,
    pub size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub modified: OffsetDateTime,
    pub quick_xor: Option<String>,
}

/// What the file-state actor keeps per connector between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaState {
    /// The deltaLink of the last completed enumeration, verbatim.
    pub delta_link: Option<String>,
    pub root_id: Option<String>,
    pub items: HashMap<String, TreeItem>,
}

/// What one listing cost and what it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaReport {
    pub pages: u32,
    pub items: u64,
    /// The run enumerated everything (no token, or 410 resync).
    pub full: bool,
    pub resynced: bool,
}

impl DeltaState {
    /// Follows the stored deltaLink (or enumerates from scratch) and applies every page.
    pub async fn refresh(&mut self, client: &GraphClient, page_size: u32) -> Result<DeltaReport, SideError> {
        let mut report = DeltaReport::default();
        let start = match &self.delta_link {
            Some(link) => link.clone(),
            None => {
                report.full = true;
                client.drive_url(&format!("/root/delta?$top={page_size}"))
            }
        };
        let mut url = start;
        let mut items: Vec<DriveItem> = Vec::new();
        let mut resyncs = 0;
        let delta_link = loop {
            let page: Result<Page, _> = client.json(&Call::new(Method::GET, url.clone())).await;
            let page = match page {
                Ok(page) => page,
                Err(failure) if failure.status == Some(StatusCode::GONE) && resyncs < 2 => {
                    // Any 410 from delta is a resync: enumerate everything again from the Location (or from
                    // scratch) and diff against the base; the engine's rules keep local-only changes.
                    tracing::info!(codes = ?failure.codes, "delta token expired; resyncing the whole library");
                    resyncs += 1;
                    report.full = true;
                    report.resynced = true;
                    items.clear();
                    url =
                        failure.location.unwrap_or_else(|| client.drive_url(&format!("/root/delta?$top={page_size}")));
                    continue;
                }
                Err(failure) => {
                    // A listing that cannot complete must say so: a partial one would look like deletes.
                    let mut error = failure.error;
                    if error.code.disposition() != crate::sync::side::Disposition::StopRun {
                        error = SideError::new(ErrorCode::ListingIncomplete, error.message);
                    }
                    return Err(error);
                }
            };
            report.pages += 1;
            report.items += page.value.len() as u64;
            items.extend(page.value);
            match (page.next_link, page.delta_link) {
                (Some(next), _) => url = next,
                (None, Some(delta)) => break delta,
                (None, None) => {
                    return Err(SideError::new(ErrorCode::ListingIncomplete, "a delta page had neither link"));
                }
            }
        };
        if report.full {
            self.items.clear();
            self.root_id = None;
        }
        for item in items {
            self.apply(item);
        }
        self.purge_orphans();
        self.delta_link = Some(delta_link);
        Ok(report)
    }

    /// Applies one item: last occurrence wins.
    fn apply(&mut self, item: DriveItem) {
        if item.deleted.is_some() {
            self.items.remove(&item.id);
            return;
        }
        if item.root.is_some() {
            self.root_id = Some(item.id);
            return;
        }
        let Some(name) = item.name.clone() else { return };
        let kind = if item.is_folder() { Kind::Folder } else { Kind::File };
        let tree_item = TreeItem {
            name,
            parent: item.parent_reference.as_ref().and_then(|p| p.id.clone()),
            kind,
            package: item.package.is_some(),
            size: if kind == Kind::Folder { 0 } else { item.size.unwrap_or(0) },
            modified: item.modified(),
            quick_xor: item.quick_xor_hash().map(str::to_string),
        };
        self.items.insert(item.id, tree_item);
    }

    /// Drops items whose parent is gone (a deleted folder's content the feed did not list one by one).
    fn purge_orphans(&mut self) {
        loop {
            let orphans: Vec<String> = self
                .items
                .iter()
                .filter(|(_, item)| match &item.parent {
                    Some(p) => Some(p) != self.root_id.as_ref() && !self.items.contains_key(p),
                    None => true,
                })
                .map(|(id, _)| id.clone())
                .collect();
            if orphans.is_empty() || self.root_id.is_none() {
                return;
            }
            for id in orphans {
                self.items.remove(&id);
            }
        }
    }

    /// The id of the folder at `base` (segments compared case-insensitively), the drive root for an empty base.
    pub fn folder_id(&self, base: &[String]) -> Option<String> {
        let mut current = self.root_id.clone()?;
        for segment in base {
            let want = fold(segment);
            current = self
                .items
                .iter()
                .find(|(_, i)| i.parent.as_ref() == Some(&current) && i.kind == Kind::Folder && fold(&i.name) == want)
                .map(|(id, _)| id.clone())?;
        }
        Some(current)
    }

    /// Every entry under the folder `base`, relative to it, in the engine's path order. Packages are files;
    /// nothing under them is listed.
    pub fn entries(&self, base: &[String]) -> Vec<Entry> {
        let Some(base_id) = self.folder_id(base) else { return Vec::new() };
        let mut out: Vec<Entry> = self
            .items
            .iter()
            .filter_map(|(id, item)| self.path_of(id, &base_id).map(|path| entry(id, SyncPath::new(path), item)))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The path of `id` below `base_id`; `None` outside the base or inside a package. Walks up the parents
    /// (libraries are shallow; a cycle, which Graph never sends, is cut at 1000 levels).
    fn path_of(&self, id: &str, base_id: &str) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        let mut cursor = id;
        loop {
            let item = self.items.get(cursor)?;
            if !names.is_empty() && item.package {
                return None;
            }
            names.push(&item.name);
            match item.parent.as_deref() {
                Some(p) if p == base_id => break,
                Some(p) if names.len() < 1000 => cursor = p,
                _ => return None,
            }
        }
        names.reverse();
        Some(names.join("/"))
    }
}

/// The engine's entry for a tree item. The tag is the quickXorHash (content-only: renames cost no hash); a
/// file whose hash is not yet computed (GRAPH.md 3.1) is tagged by size and time until it is.
pub fn entry(id: &str, path: SyncPath, item: &TreeItem) -> Entry {
    let (tag, hash) = match (&item.kind, &item.quick_xor) {
        (Kind::Folder, _) => ("folder".to_string(), None),
        (Kind::File, Some(q)) => {
            (format!("qx:{q}"), Some(ContentHash { kind: HashKind::QuickXor, value: q.clone().into_boxed_str() }))
        }
        (Kind::File, None) => (format!("pending:{}:{}", item.size, item.modified.unix_timestamp()), None),
    };
    Entry {
        path,
        id: id.into(),
        kind: item.kind,
        size: item.size,
        modified: item.modified,
        tag: tag.into_boxed_str(),
        attrs: Attributes::default(),
        hash,
    }
}

/// The tree item a single driveItem describes (for stat and write answers).
pub fn tree_item(item: &DriveItem) -> TreeItem {
    let kind = if item.is_folder() { Kind::Folder } else { Kind::File };
    TreeItem {
        name: item.name.clone().unwrap_or_default(),
        parent: item.parent_reference.as_ref().and_then(|p| p.id.clone()),
        kind,
        package: item.package.is_some(),
        size: if kind == Kind::Folder { 0 } else { item.size.unwrap_or(0) },
        modified: item.modified(),
        quick_xor: item.quick_xor_hash().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: serde_json::Value) -> DriveItem {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn pages_apply_last_wins_children_before_parents_and_packages_stay_opaque() {
        let mut state = DeltaState::default();
        for i in [
            item(serde_json::json!({"id": "f1", "name": "old.txt", "file": {}, "parentReference": {"id": "d1"}})),
            item(
                serde_json::json!({"id": "f1", "name": "new.txt", "file": {}, "size": 3, "parentReference": {"id": "d1"}}),
            ),
            item(serde_json::json!({"id": "d1", "name": "Docs", "folder": {}, "parentReference": {"id": "r"}})),
            item(serde_json::json!({"id": "r", "root": {}, "folder": {}})),
            item(
                serde_json::json!({"id": "nb", "name": "Notes", "folder": {}, "package": {"type": "oneNote"}, "parentReference": {"id": "r"}}),
            ),
            item(serde_json::json!({"id": "s1", "name": "Section.one", "file": {}, "parentReference": {"id": "nb"}})),
        ] {
            state.apply(i);
        }
        let listed: Vec<(String, Kind)> =
            state.entries(&[]).iter().map(|e| (e.path.as_str().to_string(), e.kind)).collect();
        assert_eq!(
            listed,
            vec![("Docs".into(), Kind::Folder), ("Docs/new.txt".into(), Kind::File), ("Notes".into(), Kind::File)]
        );
        let scoped: Vec<String> = state.entries(&["docs".into()]).iter().map(|e| e.path.to_string()).collect();
        assert_eq!(scoped, vec!["new.txt".to_string()]);
        state.apply(item(serde_json::json!({"id": "d1", "deleted": {"state": "deleted"}})));
        state.purge_orphans();
        assert_eq!(state.entries(&[]).len(), 1);
    }
}
