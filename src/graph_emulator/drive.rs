//! One document library: its items, the folder tree (children keyed case-insensitively, sizes kept per
//! subtree), versions, and the change log delta reads. Every mutation goes through a method here, so the
//! change numbers, eTags and folder sizes cannot drift from the items they describe.
//!
//! The change log: every mutation gives the item the drive's next sequence number, and `changes` indexes items
//! by their latest number. A delta token is a position in that log, so "what changed since" is a range scan,
//! and an item changed twice shows once, in its latest state (GRAPH.md 4).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use time::OffsetDateTime;

use super::state::{Actor, Body, Column, Item, Version};
use crate::sides::sharepoint::quickxor::quick_xor_hash;

/// Key of a child in its folder's map: names are unique case-insensitively, listed in name order.
pub fn child_key(name: &str) -> String {
    name.to_lowercase()
}

#[derive(Debug, Clone)]
pub struct Drive {
    pub id: String,
    pub name: String,
    pub site_id: String,
    pub list_id: String,
    pub created: OffsetDateTime,
    pub root_id: String,
    pub items: HashMap<String, Item>,
    /// The latest change number handed out.
    pub seq: u64,
    /// Change number -> item id, one entry per item (its latest change): the delta log.
    pub changes: BTreeMap<u64, String>,
    /// Permission changes, by change number (same numbering as `changes`), latest per item.
    pub sharing_changes: BTreeMap<u64, String>,
    pub sharing_index: HashMap<String, u64>,
    /// (change number, time) in order: answers `token=<timestamp>`.
    pub seq_times: Vec<(u64, OffsetDateTime)>,
    /// Bumped by the "invalidate delta tokens" knob: tokens of an older epoch get 410.
    pub epoch: u32,
    pub resync_code: String,
    pub next_list_item_id: u64,
    pub columns: Vec<Column>,
    /// Recycle bin: ids of items deleted by DELETE, newest last (the items stay in `items` with `deleted`).
    pub recycle_bin: Vec<String>,
    /// Storage quota in bytes; writes past it get 507 `quotaLimitReached`.
    pub quota_total: u64,
}

/// Errors of the item mutations, mapped to Graph errors by the route handlers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("item not found")]
    NotFound,
    #[error("an item with that name already exists")]
    NameExists,
    #[error("the parent is not a folder")]
    NotAFolder,
    #[error("a folder cannot move into itself")]
    IntoItself,
}

impl Drive {
    pub fn new(id: String, name: String, site_id: String, now: OffsetDateTime) -> Self {
        let root_id = new_item_id();
        let root = Item {
            id: root_id.clone(),
            name: "root".to_string(),
            parent_id: None,
            deleted: false,
            created: now,
            modified: now,
            fs_created: now,
            fs_modified: now,
            created_by: Actor::system(),
            modified_by: Actor::system(),
            etag_guid: new_etag_guid(),
            etag_n: 1,
            ctag_n: 1,
            change_seq: 0,
            list_item_id: 0,
            body: Body::Folder { children: BTreeMap::new() },
            size: 0,
            fields: BTreeMap::new(),
            permissions: Some(Vec::new()),
            checkout: None,
            coauth_lock: None,
            hash_pending: false,
            draft: None,
        };
        let mut drive = Self {
            id,
            name,
            site_id,
            list_id: super::errors::new_guid(),
            created: now,
            root_id: root_id.clone(),
            items: HashMap::from([(root_id.clone(), root)]),
            seq: 0,
            changes: BTreeMap::new(),
            sharing_changes: BTreeMap::new(),
            sharing_index: HashMap::new(),
            seq_times: Vec::new(),
            epoch: 1,
            resync_code: "resyncChangesApplyDifferences".to_string(),
            next_list_item_id: 1,
            columns: default_columns(),
            recycle_bin: Vec::new(),
            quota_total: 27_487_790_694_400,
        };
        drive.touch(&root_id, now);
        drive
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.get(id).filter(|item| !item.deleted)
    }

    /// Record a change to `id`: it moves to the end of the delta log.
    pub fn touch(&mut self, id: &str, now: OffsetDateTime) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(item) = self.items.get_mut(id) {
            if item.change_seq != 0 {
                self.changes.remove(&item.change_seq);
            }
            item.change_seq = seq;
            self.changes.insert(seq, id.to_string());
            self.seq_times.push((seq, now));
        }
    }

    /// The ancestors of `id`, nearest first, up to and including the root.
    pub fn ancestors(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = self.items.get(id).and_then(|item| item.parent_id.clone());
        while let Some(parent) = current {
            current = self.items.get(&parent).and_then(|item| item.parent_id.clone());
            out.push(parent);
        }
        out
    }

    /// Library-relative path of a live item, `""` for the root, `a/b.txt` otherwise.
    pub fn path_of(&self, id: &str) -> String {
        let mut names = Vec::new();
        let mut current = Some(id.to_string());
        while let Some(cur) = current {
            let Some(item) = self.items.get(&cur) else { break };
            if item.parent_id.is_none() {
                break;
            }
            names.push(item.name.clone());
            current = item.parent_id.clone();
        }
        names.reverse();
        names.join("/")
    }

    pub fn child_by_name(&self, folder_id: &str, name: &str) -> Option<&str> {
        match &self.items.get(folder_id)?.body {
            Body::Folder { children } => children.get(&child_key(name)).map(String::as_str),
            Body::File { .. } => None,
        }
    }

    /// Resolve a library-relative path (already percent-decoded segments) below `from`, case-insensitively.
    pub fn resolve_path(&self, from: &str, segments: &[String]) -> Option<String> {
        let mut current = from.to_string();
        for segment in segments.iter().filter(|s| !s.is_empty()) {
            current = self.child_by_name(&current, segment)?.to_string();
        }
        self.item(&current).map(|item| item.id.clone())
    }

    /// Add `delta` bytes to the size of every folder from `folder_id` up to the root.
    fn adjust_sizes(&mut self, folder_id: Option<String>, delta: i128) {
        let mut current = folder_id;
        while let Some(id) = current {
            let Some(item) = self.items.get_mut(&id) else { break };
            item.size = (i128::from(item.size) + delta).max(0) as u64;
            current = item.parent_id.clone();
        }
    }

    /// Create a folder or file under `parent_id`. The caller has already settled name clashes.
    pub fn create(
        &mut self,
        parent_id: &str,
        name: &str,
        content: Option<Arc<Vec<u8>>>,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<String, ChangeError> {
        let parent = self.item(parent_id).ok_or(ChangeError::NotFound)?;
        if !parent.is_folder() {
            return Err(ChangeError::NotAFolder);
        }
        if self.child_by_name(parent_id, name).is_some() {
            return Err(ChangeError::NameExists);
        }
        let id = new_item_id();
        let size = content.as_ref().map_or(0, |c| c.len() as u64);
        let body = match content {
            None => Body::Folder { children: BTreeMap::new() },
            Some(content) => Body::File {
                hash: quick_xor_hash(&content),
                mime: mime_for(name),
                versions: vec![Version {
                    label: "1.0".to_string(),
                    content: content.clone(),
                    modified: now,
                    modified_by: actor.clone(),
                }],
                content,
            },
        };
        let list_item_id = self.next_list_item_id;
        self.next_list_item_id += 1;
        let item = Item {
            id: id.clone(),
            name: name.to_string(),
            parent_id: Some(parent_id.to_string()),
            deleted: false,
            created: now,
            modified: now,
            fs_created: now,
            fs_modified: now,
            created_by: actor.clone(),
            modified_by: actor.clone(),
            etag_guid: new_etag_guid(),
            etag_n: 1,
            ctag_n: 1,
            change_seq: 0,
            list_item_id,
            body,
            size,
            fields: BTreeMap::new(),
            permissions: None,
            checkout: None,
            coauth_lock: None,
            hash_pending: false,
            draft: None,
        };
        self.items.insert(id.clone(), item);
        if let Some(Item { body: Body::Folder { children }, .. }) = self.items.get_mut(parent_id) {
            children.insert(child_key(name), id.clone());
        }
        self.adjust_sizes(Some(parent_id.to_string()), i128::from(size));
        self.touch(&id, now);
        Ok(id)
    }

    /// Replace a file's content: a new version, new eTag and cTag, new hash.
    pub fn write_content(&mut self, id: &str, content: Arc<Vec<u8>>, actor: &Actor, now: OffsetDateTime) {
        let Some(item) = self.items.get_mut(id) else { return };
        let old = item.size;
        let new = content.len() as u64;
        if let Body::File { content: current, hash, versions, .. } = &mut item.body {
            *hash = quick_xor_hash(&content);
            *current = content.clone();
            let major = versions.len() + 1;
            versions.push(Version { label: format!("{major}.0"), content, modified: now, modified_by: actor.clone() });
        }
        item.size = new;
        item.etag_n += 1;
        item.ctag_n += 1;
        item.modified = now;
        item.fs_modified = now;
        item.modified_by = actor.clone();
        let parent = item.parent_id.clone();
        self.adjust_sizes(parent, i128::from(new) - i128::from(old));
        self.touch(id, now);
    }

    /// Rename and/or move. Moving changes only this item's change number: descendants are not re-emitted by delta.
    pub fn rename_move(
        &mut self,
        id: &str,
        new_name: Option<&str>,
        new_parent: Option<&str>,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), ChangeError> {
        let item = self.item(id).ok_or(ChangeError::NotFound)?;
        let old_parent = item.parent_id.clone().ok_or(ChangeError::NotFound)?;
        let old_name = item.name.clone();
        let size = item.size;
        let name = new_name.unwrap_or(&old_name).to_string();
        let parent = new_parent.unwrap_or(&old_parent).to_string();
        let target = self.item(&parent).ok_or(ChangeError::NotFound)?;
        if !target.is_folder() {
            return Err(ChangeError::NotAFolder);
        }
        if parent == id || self.ancestors(&parent).iter().any(|a| a == id) {
            return Err(ChangeError::IntoItself);
        }
        if let Some(existing) = self.child_by_name(&parent, &name)
            && existing != id
        {
            return Err(ChangeError::NameExists);
        }
        if let Some(Item { body: Body::Folder { children }, .. }) = self.items.get_mut(&old_parent) {
            children.remove(&child_key(&old_name));
        }
        if let Some(Item { body: Body::Folder { children }, .. }) = self.items.get_mut(&parent) {
            children.insert(child_key(&name), id.to_string());
        }
        if parent != old_parent {
            self.adjust_sizes(Some(old_parent), -i128::from(size));
            self.adjust_sizes(Some(parent.clone()), i128::from(size));
        }
        if let Some(item) = self.items.get_mut(id) {
            item.name = name;
            item.parent_id = Some(parent);
            item.etag_n += 1;
            item.modified = now;
            item.modified_by = actor.clone();
        }
        self.touch(id, now);
        Ok(())
    }

    /// Delete an item and its subtree into the recycle bin. Each deleted item gets a tombstone in the delta log.
    pub fn delete(&mut self, id: &str, now: OffsetDateTime) -> Result<(), ChangeError> {
        let item = self.item(id).ok_or(ChangeError::NotFound)?;
        let parent = item.parent_id.clone().ok_or(ChangeError::NotFound)?;
        let name = item.name.clone();
        let size = item.size;
        if let Some(Item { body: Body::Folder { children }, .. }) = self.items.get_mut(&parent) {
            children.remove(&child_key(&name));
        }
        self.adjust_sizes(Some(parent), -i128::from(size));
        let mut stack = vec![id.to_string()];
        while let Some(current) = stack.pop() {
            if let Some(item) = self.items.get_mut(&current) {
                item.deleted = true;
                if let Body::Folder { children } = &item.body {
                    stack.extend(children.values().cloned());
                }
            }
            self.touch(&current, now);
        }
        self.recycle_bin.push(id.to_string());
        Ok(())
    }

    /// A content edit by the user holding the check-out stays a private draft (others keep seeing the last
    /// checked-in version, GRAPH.md 11) until check-in publishes it; anyone else's edit is written at once.
    pub fn edit_content(&mut self, id: &str, content: Arc<Vec<u8>>, actor: &Actor, now: OffsetDateTime) {
        let Some(item) = self.items.get_mut(id) else { return };
        if item.checkout.as_ref().is_some_and(|holder| holder.key() == actor.key()) && actor.user.is_some() {
            item.draft = Some((content, actor.clone()));
        } else {
            self.write_content(id, content, actor, now);
        }
    }

    /// Check-in: the holder's draft, if any, becomes the new current version.
    pub fn check_in(&mut self, id: &str, now: OffsetDateTime) {
        let Some(item) = self.items.get_mut(id) else { return };
        item.checkout = None;
        match item.draft.take() {
            Some((content, author)) => self.write_content(id, content, &author, now),
            None => self.touch_metadata(id, now),
        }
    }

    /// Discarding a check-out drops the draft.
    pub fn discard_checkout(&mut self, id: &str, now: OffsetDateTime) {
        if let Some(item) = self.items.get_mut(id) {
            item.checkout = None;
            item.draft = None;
        }
        self.touch_metadata(id, now);
    }

    /// Bytes still free under the quota.
    pub fn quota_remaining(&self) -> u64 {
        self.quota_total.saturating_sub(self.items.get(&self.root_id).map_or(0, |r| r.size))
    }

    /// Record a permission change. SharePoint does not count it as a change of the item (no new eTag, not in
    /// a plain delta); delta shows it only to callers that ask with `Prefer: deltashowsharingchanges`.
    pub fn touch_sharing(&mut self, id: &str, now: OffsetDateTime) {
        self.seq += 1;
        if let Some(old) = self.sharing_index.insert(id.to_string(), self.seq) {
            self.sharing_changes.remove(&old);
        }
        self.sharing_changes.insert(self.seq, id.to_string());
        self.seq_times.push((self.seq, now));
    }

    /// Bump an item's eTag for a metadata-only change (fields, check-out).
    pub fn touch_metadata(&mut self, id: &str, now: OffsetDateTime) {
        if let Some(item) = self.items.get_mut(id) {
            item.etag_n += 1;
            item.modified = now;
        }
        self.touch(id, now);
    }
}

/// Columns every document library has (GRAPH.md 9): system fields read-only, `Title` writable.
fn default_columns() -> Vec<Column> {
    let column = |name: &str, display: &str, read_only: bool, hidden: bool, kind: &str| Column {
        name: name.to_string(),
        display_name: display.to_string(),
        read_only,
        hidden,
        kind: kind.to_string(),
    };
    vec![
        column("Title", "Title", false, false, "text"),
        column("FileLeafRef", "Name", false, false, "text"),
        column("Created", "Created", true, false, "dateTime"),
        column("Modified", "Modified", true, false, "dateTime"),
        column("Author", "Created By", true, false, "personOrGroup"),
        column("Editor", "Modified By", true, false, "personOrGroup"),
        column("ContentType", "Content Type", true, false, "text"),
        column("_UIVersionString", "Version", true, false, "text"),
        column("_CheckinComment", "Check In Comment", true, false, "text"),
    ]
}

/// SharePoint-shaped item ids: `01` and 32 uppercase base32 characters.
pub fn new_item_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes: [u8; 32] = rand::random();
    let mut id = String::from("01");
    id.extend(bytes.iter().map(|b| ALPHABET[usize::from(*b) % 32] as char));
    id
}

fn new_etag_guid() -> String {
    super::errors::new_guid().to_uppercase()
}

/// A MIME type from the extension, as SharePoint reports for common types.
pub fn mime_for(name: &str) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive() -> Drive {
        Drive::new("b!x".into(), "Documents".into(), "site".into(), OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn folder_sizes_follow_creates_moves_and_deletes() {
        let mut d = drive();
        let now = OffsetDateTime::UNIX_EPOCH;
        let root = d.root_id.clone();
        let a = d.create(&root, "a", None, &Actor::system(), now).expect("folder");
        let b = d.create(&root, "b", None, &Actor::system(), now).expect("folder");
        let f = d.create(&a, "f.txt", Some(Arc::new(vec![1; 10])), &Actor::system(), now).expect("file");
        assert_eq!(d.items[&a].size, 10);
        assert_eq!(d.items[&root].size, 10);
        d.rename_move(&f, None, Some(&b), &Actor::system(), now).expect("move");
        assert_eq!(d.items[&a].size, 0);
        assert_eq!(d.items[&b].size, 10);
        d.delete(&b, now).expect("delete");
        assert_eq!(d.items[&root].size, 0);
        assert!(d.items[&f].deleted);
    }

    #[test]
    fn names_clash_case_insensitively_and_paths_resolve_that_way() {
        let mut d = drive();
        let now = OffsetDateTime::UNIX_EPOCH;
        let root = d.root_id.clone();
        let a = d.create(&root, "Reports", None, &Actor::system(), now).expect("folder");
        assert_eq!(d.create(&root, "reports", None, &Actor::system(), now), Err(ChangeError::NameExists));
        assert_eq!(d.resolve_path(&root, &["REPORTS".to_string()]), Some(a));
    }

    #[test]
    fn a_changed_item_moves_to_the_end_of_the_change_log() {
        let mut d = drive();
        let now = OffsetDateTime::UNIX_EPOCH;
        let root = d.root_id.clone();
        let a = d.create(&root, "a.txt", Some(Arc::new(vec![1])), &Actor::system(), now).expect("file");
        let b = d.create(&root, "b.txt", Some(Arc::new(vec![2])), &Actor::system(), now).expect("file");
        d.write_content(&a, Arc::new(vec![3]), &Actor::system(), now);
        let order: Vec<&String> = d.changes.values().collect();
        assert_eq!(order, vec![&root, &b, &a]);
    }
}
