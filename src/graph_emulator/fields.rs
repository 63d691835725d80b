//! List items and column values (GRAPH.md 9): the library's list, its columns (`readOnly`, `hidden`, one type
//! facet), an item's `listItem` with `fields` keyed by internal names (system fields included), and PATCH of
//! writable fields (read-only or unknown ones are refused with 400; `If-Match` on the listItem eTag).

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::Need;
use super::changes::{change_error, check_lock, validate_name};
use super::errors::GraphError;
use super::items::{resolve_drive, resolve_item, time};
use super::server::{Ctx, DriveRef, ItemRef, SiteRef};
use super::sites::resolve_site;
use super::state::{Body, Drive, Item, World};

fn who(actor: &super::state::Actor) -> String {
    actor
        .user
        .as_ref()
        .map(|u| u.display_name.clone())
        .or_else(|| actor.app.as_ref().map(|_| "SharePoint App".to_string()))
        .unwrap_or_else(|| "System Account".to_string())
}

/// The `fields` of an item: system columns computed from the item, then the stored custom values.
pub fn fields_json(item: &Item) -> Value {
    let mut f = Map::new();
    f.insert("@odata.etag".into(), json!(item.etag()));
    f.insert("id".into(), json!(item.list_item_id.to_string()));
    f.insert("FileLeafRef".into(), json!(item.name));
    f.insert("Title".into(), json!(item.name.rsplit_once('.').map_or(item.name.as_str(), |(s, _)| s)));
    f.insert("ContentType".into(), json!(if item.is_folder() { "Folder" } else { "Document" }));
    f.insert("Created".into(), json!(time(item.created)));
    f.insert("Modified".into(), json!(time(item.modified)));
    f.insert("Author".into(), json!(who(&item.created_by)));
    f.insert("Editor".into(), json!(who(&item.modified_by)));
    f.insert("AuthorLookupId".into(), json!("1"));
    f.insert("EditorLookupId".into(), json!("1"));
    if let Body::File { versions, .. } = &item.body {
        f.insert("_UIVersionString".into(), json!(versions.last().map(|v| v.label.clone()).unwrap_or_default()));
        f.insert("FileSizeDisplay".into(), json!(item.size.to_string()));
    }
    for (k, v) in &item.fields {
        f.insert(k.clone(), v.clone());
    }
    Value::Object(f)
}

pub fn list_item_json(drive: &Drive, item: &Item, web_url: &str) -> Value {
    json!({
        "@odata.etag": item.etag(),
        "id": item.list_item_id.to_string(),
        "eTag": item.etag(),
        "createdDateTime": time(item.created),
        "lastModifiedDateTime": time(item.modified),
        "webUrl": web_url,
        "contentType": {"id": if item.is_folder() { "0x0120" } else { "0x0101" }, "name": if item.is_folder() { "Folder" } else { "Document" }},
        "parentReference": {"id": drive.list_id, "siteId": drive.site_id},
        "fields": fields_json(item),
    })
}

fn list_json(world: &World, drive: &Drive) -> Value {
    let site_url = world.site(&drive.site_id).map(|s| s.web_url()).unwrap_or_default();
    json!({
        "id": drive.list_id,
        "name": drive.name,
        "displayName": drive.name,
        "webUrl": format!("{site_url}/{}", super::auth::encode(&drive.name)),
        "createdDateTime": time(drive.created),
        "list": {"template": "documentLibrary", "hidden": false, "contentTypesEnabled": false},
    })
}

pub fn lists(world: &mut World, ctx: &Ctx, site: &SiteRef) -> Result<Response, GraphError> {
    let site = resolve_site(world, site)?;
    ctx.caller.require(world, Need::Read, Some(&site.id))?;
    let value: Vec<Value> = site.drive_ids.iter().filter_map(|d| world.drive(d)).map(|d| list_json(world, d)).collect();
    Ok(axum::Json(json!({"value": value})).into_response())
}

pub fn drive_list(world: &mut World, ctx: &Ctx, drive: &DriveRef) -> Result<Response, GraphError> {
    let id = resolve_drive(world, ctx, drive, Need::Read)?;
    let drive = world.drive(&id).ok_or_else(GraphError::not_found)?;
    Ok(axum::Json(list_json(world, drive)).into_response())
}

fn drive_of_list<'a>(world: &'a World, ctx: &Ctx, site: &SiteRef, list: &str) -> Result<&'a Drive, GraphError> {
    let site = resolve_site(world, site)?;
    ctx.caller.require(world, Need::Read, Some(&site.id))?;
    site.drive_ids
        .iter()
        .filter_map(|d| world.drive(d))
        .find(|d| d.list_id.eq_ignore_ascii_case(list) || d.name.eq_ignore_ascii_case(list))
        .ok_or_else(GraphError::not_found)
}

pub fn columns(world: &mut World, ctx: &Ctx, site: &SiteRef, list: &str) -> Result<Response, GraphError> {
    let drive = drive_of_list(world, ctx, site, list)?;
    let value: Vec<Value> = drive
        .columns
        .iter()
        .map(|c| {
            let mut v = json!({
                "id": super::errors::new_guid(),
                "name": c.name,
                "displayName": c.display_name,
                "readOnly": c.read_only,
                "hidden": c.hidden,
                "required": false,
                "indexed": false,
                "columnGroup": if c.read_only { "_Hidden" } else { "Custom Columns" },
                "description": "",
                "enforceUniqueValues": false,
            });
            v[c.kind.as_str()] = json!({});
            v
        })
        .collect();
    Ok(axum::Json(json!({"value": value})).into_response())
}

pub fn list_item(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Read)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    let mut v = list_item_json(drive, found, "");
    if !ctx.option("expand").is_some_and(|e| e.contains("fields"))
        && let Some(obj) = v.as_object_mut()
    {
        obj.remove("fields");
    }
    Ok(axum::Json(v).into_response())
}

/// `GET`/`PATCH …/listItem/fields`.
pub fn fields(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let need = if ctx.method == axum::http::Method::PATCH { Need::Write } else { Need::Read };
    let (drive_id, id) = resolve_item(world, ctx, item, need)?;
    fields_of(world, ctx, &drive_id, &id)
}

pub fn list_item_by_list(
    world: &mut World,
    ctx: &Ctx,
    site: &SiteRef,
    list: &str,
    item: &str,
) -> Result<Response, GraphError> {
    let drive = drive_of_list(world, ctx, site, list)?;
    let id = drive
        .items
        .values()
        .find(|i| !i.deleted && i.list_item_id.to_string() == item)
        .map(|i| i.id.clone())
        .ok_or_else(GraphError::not_found)?;
    let drive_id = drive.id.clone();
    if ctx.method == axum::http::Method::PATCH {
        ctx.caller.require(world, Need::Write, Some(&drive.site_id))?;
    }
    fields_of(world, ctx, &drive_id, &id)
}

fn fields_of(world: &mut World, ctx: &Ctx, drive_id: &str, id: &str) -> Result<Response, GraphError> {
    if ctx.method == axum::http::Method::PATCH {
        let body = ctx.json_body()?;
        let Value::Object(changes) = body else {
            return Err(GraphError::invalid_request("The body must be an object."));
        };
        let drive = world.drives.get_mut(drive_id).ok_or_else(GraphError::not_found)?;
        let found = drive.item(id).ok_or_else(GraphError::not_found)?;
        if ctx.header("if-match").is_some_and(|tag| tag != "*" && tag != found.etag()) {
            return Err(GraphError::precondition_failed());
        }
        check_lock(found, &ctx.caller.actor)?;
        for key in changes.keys() {
            let column = drive.columns.iter().find(|c| &c.name == key);
            match column {
                None => return Err(GraphError::invalid_request(format!("Field '{key}' is not recognized"))),
                Some(c) if c.read_only => {
                    return Err(
                        GraphError::invalid_request(format!("Field '{key}' is read-only")).with_inner("fieldReadOnly")
                    );
                }
                Some(_) => {}
            }
        }
        let parent = found.parent_id.clone().unwrap_or_default();
        let is_folder = found.is_folder();
        for (key, value) in changes {
            if key == "FileLeafRef" {
                let name = value.as_str().ok_or_else(|| GraphError::invalid_request("FileLeafRef must be a string"))?;
                validate_name(drive, &parent, name, is_folder)?;
                drive.rename_move(id, Some(name), None, &ctx.caller.actor, ctx.now).map_err(change_error)?;
            } else if let Some(item) = drive.items.get_mut(id) {
                item.fields.insert(key, value);
            }
        }
        drive.touch_metadata(id, ctx.now);
    }
    let drive = world.drive(drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(id).ok_or_else(GraphError::not_found)?;
    Ok(axum::Json(fields_json(found)).into_response())
}
