//! The per-entry extras of a SharePoint run: version history, column metadata and permissions, for one entry
//! the engine synced. One [`Extras`] serves one run (it caches the library's columns, parents' permission sets
//! and the identity answers); the run calls [`Extras::sync_entry`] for each synced entry, and
//! [`Extras::sync_root`] once for the connector's root folder when `sync_permissions` is on.
//!
//! Requests per entry: one `GET` of the item with its list item fields, then only what is enabled: one
//! versions listing (plus one download per version not yet in the drive), one fields `PATCH` when columns go
//! back, one permissions listing (plus one per parent folder not seen yet this run). Call it for the entries a
//! run created or changed, and for items delta reported (a column edit or a permission change in SharePoint
//! changes the item's eTag or, with `Prefer: hierarchicalsharing`, shows the item in delta); metadata edited
//! in ScaiDrive alone is noticed when its entry is passed.
//!
//! In a run (the SharePoint launcher's marked call point):
//! ```text
//! let mut extras = Extras::new(client, store, drive, share, ExtrasConfig::new(..), resolver);
//! extras.sync_root(target_folder_entry, base_item_id).await;        // once, for permissions
//! for (entry_id, item_id) in synced { let outcome = extras.sync_entry(entry_id, &item_id).await; /* log */ }
//! let unmapped = extras.finish();                                   // job record + Identity actor
//! ```
//!
//! The parts are independent: a failure in one (the file is checked out, a download breaks off) is reported in
//! [`EntryOutcome::failures`] and the others still run; nothing half-done is remembered, so the next run
//! retries. Rules of each part: `versions.rs`, `fields.rs`, `permissions.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::{Call, GraphClient, encode_segment};
use super::extras_state::{self, ItemState};
use super::fields::{self, ColumnDefinition, Schema};
use super::permissions::{self, GraphPermission, Position};
use super::quickxor::QuickXorHash;
use super::versions::{self, GraphVersion};
use crate::connectors::settings::CommonSettings;
use crate::drive::{Ace, AceSource, Drive, DriveError, EntryRef, Origin};
use crate::identity::resolve::{Resolver, UnmappedReport};
use crate::ids::{ConnectorId, EntryId, ShareId};
use crate::sides::drive::bridge::{self, Expect};
use crate::sides::drive::errors::classify;
use crate::store::Store;
use crate::sync::config::{Direction, Strategy};
use crate::sync::side::{ErrorCode, SideError};

/// What the pass does for a connector (from its settings).
#[derive(Debug, Clone)]
pub struct ExtrasConfig {
    pub connector_id: ConnectorId,
    /// The connector's `site_id` (the library's columns are listed through its site).
    pub site_id: String,
    pub sync_versions: bool,
    pub sync_metadata: bool,
    pub sync_permissions: bool,
    pub direction: Direction,
    pub strategy: Strategy,
}

impl ExtrasConfig {
    /// From the connector's common settings and its SharePoint-only switches.
    pub fn new(
        connector_id: ConnectorId,
        site_id: &str,
        common: &CommonSettings,
        sync_versions: bool,
        sync_metadata: bool,
    ) -> Self {
        let run = common.run_config(false);
        ExtrasConfig {
            connector_id,
            site_id: site_id.to_string(),
            sync_versions,
            sync_metadata,
            sync_permissions: common.sync_permissions,
            direction: run.direction,
            strategy: run.strategy,
        }
    }

    fn any(&self) -> bool {
        self.sync_versions || self.sync_metadata || self.sync_permissions
    }
}

/// What the pass did for one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryOutcome {
    /// SharePoint versions added beneath the current content.
    pub versions_added: u32,
    /// Metadata keys written in the drive (set or removed).
    pub metadata_keys: Vec<String>,
    /// Columns written back to SharePoint.
    pub columns_sent: Vec<String>,
    /// Columns changed on both sides since the last sync (resolved by the strategy, or left for `manual`).
    pub column_conflicts: Vec<String>,
    /// The entry's ACEs or inheritance changed.
    pub aces_changed: bool,
    /// What the job log should say besides failures (history deferred, links that cannot be expressed, ...).
    pub notes: Vec<String>,
    /// Parts that failed; the next run retries them.
    pub failures: Vec<SideError>,
}

/// The slice of a driveItem this pass reads, with its list item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(default)]
    file: Option<super::wire::FileFacet>,
    #[serde(default)]
    parent_reference: Option<super::wire::ItemReference>,
    #[serde(default)]
    list_item: Option<ListItem>,
}

#[derive(Debug, Deserialize)]
struct ListItem {
    #[serde(default, rename = "eTag")]
    e_tag: Option<String>,
    #[serde(default)]
    fields: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Values<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct ListId {
    id: String,
}

/// One run's extras (see the module docs).
pub struct Extras {
    client: Arc<GraphClient>,
    store: Store,
    drive: Drive,
    share: ShareId,
    config: ExtrasConfig,
    resolver: Resolver,
    schema: Option<Schema>,
    /// Effective permission sets of folders seen this run, by item id.
    sets: HashMap<String, Vec<GraphPermission>>,
}

impl Extras {
    /// `resolver`: this run's identity resolution (the connector's mappings over ScaiDrive's directory, with the
    /// connector's service account as fallback), as the Identity actor hands it out
    /// (`IdentityMessage::NewResolver`); its report collects the unmapped principals ([`Extras::finish`]).
    pub fn new(
        client: Arc<GraphClient>,
        store: Store,
        drive: Drive,
        share: ShareId,
        config: ExtrasConfig,
        resolver: Resolver,
    ) -> Self {
        Extras { client, store, drive, share, config, resolver, schema: None, sets: HashMap::new() }
    }

    /// The principals this run could not map so far.
    pub fn unmapped(&self) -> &UnmappedReport {
        self.resolver.report()
    }

    /// Ends the run's pass: the unmapped principals, for the job record and `IdentityMessage::RunReport`.
    pub fn finish(self) -> UnmappedReport {
        self.resolver.report().clone()
    }

    /// Versions, metadata and permissions of one synced entry: `entry_id` in the drive, `item_id` in Graph.
    pub async fn sync_entry(&mut self, entry_id: EntryId, item_id: &str) -> EntryOutcome {
        let mut out = EntryOutcome::default();
        if !self.config.any() {
            return out;
        }
        let item = match self.item(item_id).await {
            Ok(item) => item,
            Err(e) => {
                out.failures.push(e);
                return out;
            }
        };
        let (store, connector, id) = (self.store.clone(), self.config.connector_id, item_id.to_string());
        let state = match blocking(move || {
            extras_state::load(&store, connector, &id, entry_id).map_err(|e| internal(e.to_string()))
        })
        .await
        {
            Ok(s) => s,
            Err(e) => {
                out.failures.push(e);
                return out;
            }
        };
        let mut next = ItemState { entry_id: Some(entry_id), ..state.clone() };
        if self.config.sync_versions && item.file.is_some() {
            match self.versions(entry_id, item_id, &item, &state.versions, &mut out).await {
                Ok(known) => next.versions = known,
                Err(e) => out.failures.push(e),
            }
        }
        if self.config.sync_metadata {
            match self.metadata(entry_id, item_id, &item, &state.fields, &mut out).await {
                Ok(base) => next.fields = base,
                Err(e) => out.failures.push(e),
            }
        }
        if self.config.sync_permissions {
            let parent = item.parent_reference.as_ref().and_then(|p| p.id.clone());
            if let Err(e) = self.permissions(entry_id, item_id, parent.as_deref(), &mut out).await {
                out.failures.push(e);
            }
        }
        if next != state {
            let (store, id) = (self.store.clone(), item_id.to_string());
            let saved = blocking(move || {
                extras_state::save(&store, connector, &id, &next).map_err(|e| internal(e.to_string()))
            })
            .await;
            if let Err(e) = saved {
                out.failures.push(e);
            }
        }
        out
    }

    /// The permissions of the connector's root folder (`entry_id`, the target folder; `item_id`, the library
    /// root or the `base_path` folder): translated onto the folder, which keeps the share's ACEs above it.
    pub async fn sync_root(&mut self, entry_id: EntryId, item_id: &str) -> EntryOutcome {
        let mut out = EntryOutcome::default();
        if self.config.sync_permissions
            && let Err(e) = self.apply_permissions(entry_id, item_id, None, &mut out).await
        {
            out.failures.push(e);
        }
        out
    }

    async fn item(&self, item_id: &str) -> Result<Item, SideError> {
        let url =
            self.client.drive_url(&format!("/items/{}?$expand=listItem($expand=fields)", encode_segment(item_id)));
        Ok(self.client.json(&Call::new(Method::GET, url)).await?)
    }

    /// Imports the versions the drive lacks; returns the labels it holds afterwards.
    async fn versions(
        &mut self,
        entry_id: EntryId,
        item_id: &str,
        item: &Item,
        known: &[String],
        out: &mut EntryOutcome,
    ) -> Result<Vec<String>, SideError> {
        let url = self.client.drive_url(&format!("/items/{}/versions", encode_segment(item_id)));
        let listed: Values<GraphVersion> = self.client.json(&Call::new(Method::GET, url)).await?;
        let plan = versions::plan(&listed.value, known);
        if plan.is_noop() {
            return Ok(plan.known);
        }
        let want = item.file.as_ref().and_then(|f| f.hashes.as_ref()).and_then(|h| h.quick_xor_hash.clone());
        if want.is_none() || want != Some(self.local_quick_xor(entry_id).await?) {
            out.notes.push("version history waits: the drive does not hold SharePoint's newest content yet".into());
            return Ok(known.to_vec());
        }
        let origin = Origin::connector(self.config.connector_id, "imported_from_sharepoint");
        // Newest first, each beneath the one before: a content the drive already holds right there (kept by an
        // earlier overwrite, or imported by a run that broke off) is recognised and not added again.
        let mut above = None;
        for label in plan.import.iter().rev() {
            let Some(version) = listed.value.iter().find(|v| &v.id == label) else { continue };
            let author = version
                .last_modified_by
                .as_ref()
                .and_then(|by| by.principal())
                .and_then(|p| self.resolver.resolve_reported(&p, false))
                .and_then(|p| match p {
                    crate::drive::PrincipalId::User(u) => Some(u),
                    crate::drive::PrincipalId::Group(_) => None,
                });
            let content = self.version_content(item_id, label).await?;
            let (drive, share, origin) = (self.drive.clone(), self.share, origin.clone());
            let modified = version.last_modified_date_time.unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let (mut reader, feed) = bridge::upload(content, Expect { size: version.size, sha256: None });
            let task = tokio::task::spawn_blocking(move || {
                let target = EntryRef::Id(entry_id);
                drive.insert_version_beneath(share, &target, above, &mut reader, modified, author, &origin)
            });
            feed.await;
            let (version, added) = task.await.map_err(|e| internal(e.to_string()))?.map_err(classify)?;
            above = Some(version.id);
            out.versions_added += u32::from(added);
        }
        Ok(plan.known)
    }

    async fn version_content(&self, item_id: &str, label: &str) -> Result<crate::sync::side::ByteStream, SideError> {
        let url = self.client.drive_url(&format!(
            "/items/{}/versions/{}/content",
            encode_segment(item_id),
            encode_segment(label)
        ));
        let response = self.client.send(&Call::new(Method::GET, url)).await?;
        match response.headers().get("location").and_then(|v| v.to_str().ok()) {
            Some(location) => self.client.download(location).await,
            None => Ok(Box::pin(response.bytes_stream().map(|chunk| {
                chunk.map(|b| b.to_vec()).map_err(|e| SideError::new(ErrorCode::Timeout, format!("download: {e}")))
            }))),
        }
    }

    /// The quickXorHash of the drive entry's current content, computed locally.
    async fn local_quick_xor(&self, entry_id: EntryId) -> Result<String, SideError> {
        let (drive, share) = (self.drive.clone(), self.share);
        blocking(move || {
            let (_, mut reader) = drive.read_file(share, &EntryRef::Id(entry_id)).map_err(classify)?;
            let mut hash = QuickXorHash::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = std::io::Read::read(&mut reader, &mut buf).map_err(|e| classify(DriveError::Io(e)))?;
                if n == 0 {
                    return Ok(hash.finish());
                }
                hash.update(&buf[..n]);
            }
        })
        .await
    }

    async fn schema(&mut self) -> Result<Schema, SideError> {
        if let Some(schema) = &self.schema {
            return Ok(schema.clone());
        }
        let list: ListId = self.client.json(&Call::new(Method::GET, self.client.drive_url("/list"))).await?;
        let url = format!(
            "{}/sites/{}/lists/{}/columns",
            self.client.graph_base(),
            encode_segment(&self.config.site_id),
            encode_segment(&list.id)
        );
        let columns: Values<ColumnDefinition> = self.client.json(&Call::new(Method::GET, url)).await?;
        let schema = Schema::from_columns(&columns.value);
        self.schema = Some(schema.clone());
        Ok(schema)
    }

    /// Merges the columns both ways; returns the new base.
    async fn metadata(
        &mut self,
        entry_id: EntryId,
        item_id: &str,
        item: &Item,
        base: &Map<String, Value>,
        out: &mut EntryOutcome,
    ) -> Result<Map<String, Value>, SideError> {
        let Some(list_item) = &item.list_item else { return Ok(base.clone()) };
        let schema = self.schema().await?;
        let (drive, share) = (self.drive.clone(), self.share);
        let metadata = blocking(move || drive.metadata(share, &EntryRef::Id(entry_id)).map_err(classify)).await?;
        let sharepoint = fields::synced_fields(&schema, &list_item.fields);
        let in_drive = fields::from_metadata(&schema, &metadata);
        let plan = fields::plan(&schema, base, &sharepoint, &in_drive, self.config.direction, self.config.strategy);
        let mut next = plan.base.clone();
        out.column_conflicts = plan.conflicts.clone();
        if !plan.to_sharepoint.is_empty() {
            let url = self.client.drive_url(&format!("/items/{}/listItem/fields", encode_segment(item_id)));
            let mut call = Call::new(Method::PATCH, url).json(Value::Object(plan.to_sharepoint.clone()));
            if let Some(etag) = &list_item.e_tag {
                call = call.header("if-match", etag.clone());
            }
            match self.client.send(&call).await {
                Ok(_) => out.columns_sent = plan.to_sharepoint.keys().cloned().collect(),
                Err(f) => {
                    // Not sent: those columns keep their old base, so the next run tries again.
                    for key in plan.to_sharepoint.keys() {
                        match base.get(key) {
                            Some(v) => next.insert(key.clone(), v.clone()),
                            None => next.remove(key),
                        };
                    }
                    out.failures.push(f.error);
                }
            }
        }
        if !plan.to_drive.is_empty() {
            let (drive, patch) = (self.drive.clone(), plan.to_drive.clone());
            blocking(move || drive.merge_metadata(share, &EntryRef::Id(entry_id), patch).map_err(classify)).await?;
            out.metadata_keys = plan.to_drive.keys().cloned().collect();
        }
        Ok(next)
    }

    async fn permission_set(&mut self, item_id: &str) -> Result<Vec<GraphPermission>, SideError> {
        if let Some(set) = self.sets.get(item_id) {
            return Ok(set.clone());
        }
        let url = self.client.drive_url(&format!("/items/{}/permissions", encode_segment(item_id)));
        let set: Values<GraphPermission> = self.client.json(&Call::new(Method::GET, url)).await?;
        self.sets.insert(item_id.to_string(), set.value.clone());
        Ok(set.value)
    }

    async fn permissions(
        &mut self,
        entry_id: EntryId,
        item_id: &str,
        parent: Option<&str>,
        out: &mut EntryOutcome,
    ) -> Result<(), SideError> {
        let parent_set = match parent {
            Some(parent) => Some(self.permission_set(parent).await?),
            None => None,
        };
        self.apply_permissions(entry_id, item_id, parent_set, out).await
    }

    /// Translates `item_id`'s set (against its parent's, or as the root when `parent` is `None`) and writes the
    /// entry's SharePoint ACEs, keeping ACEs from other sources (set by hand in ScaiDrive).
    async fn apply_permissions(
        &mut self,
        entry_id: EntryId,
        item_id: &str,
        parent: Option<Vec<GraphPermission>>,
        out: &mut EntryOutcome,
    ) -> Result<(), SideError> {
        let set = self.permission_set(item_id).await?;
        let position = match &parent {
            Some(parent) => Position::Below { parent },
            None => Position::Root,
        };
        // Resolve every grantee first (the resolver counts the unmapped ones in the run's report).
        let (grants, _) = permissions::grants(&set);
        let mut mapped = HashMap::new();
        if !matches!(position, Position::Below { parent } if permissions::same_set(&set, parent)) {
            for g in &grants {
                if let Some(p) = self.resolver.resolve_reported(&g.grantee, false) {
                    mapped.insert(g.grantee.key.clone(), p);
                }
            }
        }
        let t = permissions::translate(&set, position, &|s| mapped.get(&s.key).copied(), self.resolver.fallback());
        for skipped in &t.skipped {
            out.notes.push(format!("a SharePoint permission ScaiDrive cannot express was not copied: {skipped:?}"));
        }
        let (drive, share) = (self.drive.clone(), self.share);
        let changed = blocking(move || {
            let target = EntryRef::Id(entry_id);
            let (current, inherit) = drive.aces(share, &target).map_err(classify)?;
            let mut wanted: Vec<Ace> = current.iter().filter(|a| a.source != AceSource::Sharepoint).cloned().collect();
            wanted.extend(t.aces);
            if wanted == current && inherit == t.inherit {
                return Ok(false);
            }
            drive.set_aces(share, &target, &wanted, t.inherit).map_err(classify)?;
            Ok(true)
        })
        .await?;
        out.aces_changed = changed;
        Ok(())
    }
}

fn internal(message: String) -> SideError {
    SideError::new(ErrorCode::Internal, message)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SideError> + Send + 'static,
) -> Result<T, SideError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| internal(format!("a drive task failed: {e}")))?
}
