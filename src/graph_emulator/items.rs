//! Reading items (GRAPH.md 3): resolving drive and item references (by id, root, or `:/path:`), the driveItem
//! JSON with the SharePoint shape (eTag `"{GUID},N"`, cTag only on files, only `quickXorHash` in `hashes`,
//! folder size = subtree, `publication` only when selected), `$select`/`$expand=listItem`, GET with
//! `If-None-Match`, and children paging with an absolute `@odata.nextLink`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::Need;
use super::content::download_url;
use super::errors::GraphError;
use super::server::{Ctx, DriveRef, ItemBase, ItemRef};
use super::sites::resolve_site;
use super::state::{Actor, Body, Drive, Item, World};

/// Largest `$top` honoured for children and delta; larger values are served at this size. GRAPH.md gives only
/// the default (200); the OneDrive team gave 1000 as the hard limit per page (OneDrive/onedrive-api-docs#319).
pub const MAX_PAGE: usize = 1000;
pub const DEFAULT_PAGE: usize = 200;

pub fn time(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

/// The drive id a reference names, after checking the caller may `need` it.
pub fn resolve_drive(world: &World, ctx: &Ctx, drive: &DriveRef, need: Need) -> Result<String, GraphError> {
    let id = match drive {
        DriveRef::Id(id) => id.clone(),
        DriveRef::SiteDefault(site) => {
            let site = resolve_site(world, site)?;
            site.drive_ids.first().cloned().ok_or_else(GraphError::not_found)?
        }
    };
    let drive = world.drive(&id).ok_or_else(GraphError::not_found)?;
    ctx.caller.require(world, need, Some(&drive.site_id))?;
    Ok(id)
}

/// Resolve an item reference to (drive id, item id); the item must exist.
pub fn resolve_item(world: &World, ctx: &Ctx, item: &ItemRef, need: Need) -> Result<(String, String), GraphError> {
    let drive_id = resolve_drive(world, ctx, &item.drive, need)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let base = match &item.base {
        ItemBase::Root => drive.root_id.clone(),
        // `items/root` is an alias of the root the SDKs use (`by_drive_item_id("root:/a/b:")`).
        ItemBase::Id(id) if id == "root" => drive.root_id.clone(),
        ItemBase::Id(id) => drive.item(id).map(|i| i.id.clone()).ok_or_else(GraphError::not_found)?,
    };
    let id = match &item.path {
        Some(segments) => drive.resolve_path(&base, segments).ok_or_else(GraphError::not_found)?,
        None => base,
    };
    Ok((drive_id, id))
}

/// For creates addressed as `parent:/name:`: (drive id, parent id, name, existing item with that name).
pub fn resolve_target(
    world: &World,
    ctx: &Ctx,
    item: &ItemRef,
) -> Result<(String, String, Option<String>, Option<String>), GraphError> {
    let Some(segments) = item.path.as_ref().filter(|s| !s.is_empty()) else {
        let (drive, id) = resolve_item(world, ctx, item, Need::Write)?;
        let parent = world.drive(&drive).and_then(|d| d.item(&id)).and_then(|i| i.parent_id.clone());
        return Ok((drive, parent.unwrap_or_default(), None, Some(id)));
    };
    let (parent_segments, name) = segments.split_at(segments.len() - 1);
    let parent_ref =
        ItemRef { drive: item.drive.clone(), base: item.base.clone(), path: Some(parent_segments.to_vec()) };
    let (drive_id, parent) = resolve_item(world, ctx, &parent_ref, Need::Write)?;
    let name = name.first().cloned().unwrap_or_default();
    let existing = world.drive(&drive_id).and_then(|d| d.child_by_name(&parent, &name)).map(str::to_string);
    Ok((drive_id, parent, Some(name), existing))
}

pub fn identity_set(actor: &Actor) -> Value {
    let mut set = Map::new();
    if let Some(user) = &actor.user {
        set.insert("user".into(), json!({"email": user.mail, "id": user.id, "displayName": user.display_name}));
    }
    if let Some((id, name)) = &actor.app {
        set.insert("application".into(), json!({"id": id, "displayName": name}));
        if actor.user.is_none() {
            set.insert("user".into(), json!({"displayName": "SharePoint App"}));
        }
    }
    if set.is_empty() {
        set.insert("user".into(), json!({"displayName": "System Account"}));
    }
    Value::Object(set)
}

/// Percent-encode a library path for `parentReference.path` and URLs, segment by segment.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(super::auth::encode).collect::<Vec<_>>().join("/")
}

/// How to render an item.
pub struct Render<'a> {
    pub base: &'a str,
    pub select: Option<Vec<String>>,
    pub expand_list_item: bool,
    pub expand_fields: bool,
    /// Delta omits `parentReference.path` and `cTag` (GRAPH.md 4).
    pub for_delta: bool,
    pub now: OffsetDateTime,
    pub url_key: [u8; 32],
}

impl<'a> Render<'a> {
    pub fn from_ctx(world: &World, ctx: &'a Ctx, for_delta: bool) -> Self {
        let select = ctx
            .option("select")
            .map(|s| s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect());
        let expand = ctx.option("expand").unwrap_or("");
        Render {
            base: &ctx.base,
            select,
            expand_list_item: expand.contains("listItem"),
            expand_fields: expand.contains("fields"),
            for_delta,
            now: ctx.now,
            url_key: world.url_key,
        }
    }

    fn selected(&self, name: &str) -> bool {
        self.select.as_ref().is_some_and(|s| s.iter().any(|p| p == name))
    }
}

pub fn item_json(world: &World, drive: &Drive, item: &Item, render: &Render) -> Value {
    let site = world.site(&drive.site_id);
    let mut v = Map::new();
    v.insert("id".into(), json!(item.id));
    v.insert("createdDateTime".into(), json!(time(item.created)));
    v.insert("eTag".into(), json!(item.etag()));
    v.insert("lastModifiedDateTime".into(), json!(time(item.modified)));
    v.insert("name".into(), json!(item.name));
    let path = drive.path_of(&item.id);
    let site_url = site.map(|s| s.web_url()).unwrap_or_default();
    let web_url = if item.parent_id.is_none() {
        format!("{site_url}/{}", super::auth::encode(&drive.name))
    } else {
        format!("{site_url}/{}/{}", super::auth::encode(&drive.name), encode_path(&path))
    };
    v.insert("webUrl".into(), json!(web_url));
    v.insert("size".into(), json!(item.size));
    v.insert("createdBy".into(), identity_set(&item.created_by));
    v.insert("lastModifiedBy".into(), identity_set(&item.modified_by));
    let mut parent = Map::new();
    parent.insert("driveType".into(), json!("documentLibrary"));
    parent.insert("driveId".into(), json!(drive.id));
    if let Some(parent_id) = &item.parent_id {
        parent.insert("id".into(), json!(parent_id));
        if let Some(p) = drive.items.get(parent_id) {
            let name = if p.parent_id.is_none() { "root".to_string() } else { p.name.clone() };
            parent.insert("name".into(), json!(name));
        }
        if !render.for_delta {
            let parent_path = drive.path_of(parent_id);
            let encoded =
                if parent_path.is_empty() { String::new() } else { format!("/{}", encode_path(&parent_path)) };
            parent.insert("path".into(), json!(format!("/drives/{}/root:{encoded}", drive.id)));
        }
        parent.insert("siteId".into(), json!(drive.site_id));
    }
    v.insert("parentReference".into(), Value::Object(parent));
    v.insert(
        "fileSystemInfo".into(),
        json!({"createdDateTime": time(item.fs_created), "lastModifiedDateTime": time(item.fs_modified)}),
    );
    match &item.body {
        Body::Folder { children } => {
            v.insert("folder".into(), json!({"childCount": children.len()}));
            if item.parent_id.is_none() {
                v.insert("root".into(), json!({}));
            }
        }
        Body::File { hash, mime, versions, .. } => {
            if !render.for_delta {
                v.insert("cTag".into(), json!(item.ctag()));
            }
            let hashes = if item.hash_pending { json!({}) } else { json!({"quickXorHash": hash}) };
            v.insert("file".into(), json!({"mimeType": mime, "hashes": hashes}));
            let url = download_url(render.base, &render.url_key, &drive.id, &item.id, None, render.now);
            v.insert("@microsoft.graph.downloadUrl".into(), json!(url));
            if render.selected("publication") {
                let label = versions.last().map(|v| v.label.clone()).unwrap_or_default();
                let publication = match &item.checkout {
                    Some(holder) => {
                        json!({"level": "checkout", "versionId": label, "checkedOutBy": identity_set(holder)})
                    }
                    None => json!({"level": "published", "versionId": label}),
                };
                v.insert("publication".into(), publication);
            }
        }
    }
    if render.selected("sharepointIds") {
        v.insert(
            "sharepointIds".into(),
            json!({
                "listId": drive.list_id,
                "listItemId": item.list_item_id.to_string(),
                "listItemUniqueId": item.etag_guid.to_lowercase(),
                "siteId": drive.site_id.split(',').nth(1).unwrap_or(""),
                "siteUrl": site_url,
                "webId": drive.site_id.split(',').nth(2).unwrap_or(""),
            }),
        );
    }
    if render.expand_list_item && item.parent_id.is_some() {
        let mut list_item = super::fields::list_item_json(drive, item, &web_url);
        if !render.expand_fields
            && let Some(obj) = list_item.as_object_mut()
        {
            obj.remove("fields");
        }
        v.insert("listItem".into(), list_item);
    }
    project(Value::Object(v), render.select.as_deref())
}

/// `$select`: keep the selected properties (and `id`, which Graph always returns).
pub fn project(value: Value, select: Option<&[String]>) -> Value {
    let (Some(select), Value::Object(map)) = (select, &value) else { return value };
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| k.as_str() == "id" || k.as_str() == "listItem" || select.iter().any(|s| s == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// `$top`, clamped to what the emulator serves.
pub fn page_size(ctx: &Ctx) -> Result<usize, GraphError> {
    match ctx.option("top") {
        None => Ok(DEFAULT_PAGE),
        Some(top) => top
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGE))
            .ok_or_else(|| GraphError::invalid_request("Invalid value for $top").with_inner("invalidQueryOption")),
    }
}

/// The query options a next link carries forward besides its own position.
pub fn carried_options(ctx: &Ctx) -> String {
    let mut out = String::new();
    for name in ["select", "expand"] {
        if let Some(value) = ctx.option(name) {
            out.push_str(&format!("&${name}={}", super::auth::encode(value)));
        }
    }
    out
}

pub fn get(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Read)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let item = drive.item(&id).ok_or_else(GraphError::not_found)?;
    if ctx.header("if-none-match").is_some_and(|tag| tag == item.etag() || tag == item.ctag()) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let render = Render::from_ctx(world, ctx, false);
    Ok(axum::Json(item_json(world, drive, item, &render)).into_response())
}

/// Children in name order; the skip token is the last name served, so inserts between pages do not shift it.
pub fn children(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Read)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let folder = drive.item(&id).ok_or_else(GraphError::not_found)?;
    let top = page_size(ctx)?;
    let after =
        match ctx.option("skiptoken").or_else(|| ctx.option("skipToken")) {
            Some(token) => {
                Some(URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
                    GraphError::invalid_request("Invalid skip token").with_inner("invalidQueryOption")
                })?)
            }
            None => None,
        };
    let render = Render::from_ctx(world, ctx, false);
    let mut value = Vec::new();
    let mut last_key = None;
    let mut more = false;
    if let Body::Folder { children } = &folder.body {
        let range = match &after {
            Some(key) => children.range::<String, _>((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded)),
            None => children.range::<String, _>(..),
        };
        for (key, child_id) in range {
            if value.len() == top {
                more = true;
                break;
            }
            if let Some(child) = drive.item(child_id) {
                value.push(item_json(world, drive, child, &render));
                last_key = Some(key.clone());
            }
        }
    }
    let next = if more { last_key } else { None };
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#drives('{}')/items('{}')/children", ctx.base, drive_id, id), "value": value});
    if let Some(last) = next {
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/drives/{}/items/{}/children?$top={top}&$skiptoken={}{}",
            ctx.base,
            super::auth::encode(&drive_id),
            id,
            URL_SAFE_NO_PAD.encode(last.as_bytes()),
            carried_options(ctx)
        ));
    }
    Ok(axum::Json(body).into_response())
}
