//! Item permissions (GRAPH.md 10): the effective set is the item's own set when its inheritance is broken, else
//! the nearest ancestor's (the root holds the library's set). As on SharePoint, `inheritedFrom` is never
//! returned: a client detects broken inheritance by comparing an item's set with its parent's.

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::Need;
use super::errors::GraphError;
use super::items::resolve_item;
use super::server::{Ctx, ItemRef};
use super::state::{Drive, Permission, World};

/// The permission set in force for `id`.
pub fn effective<'a>(drive: &'a Drive, id: &str) -> &'a [Permission] {
    let mut current = Some(id.to_string());
    while let Some(cur) = current {
        let Some(item) = drive.items.get(&cur) else { break };
        if let Some(set) = &item.permissions {
            return set;
        }
        current = item.parent_id.clone();
    }
    &[]
}

pub fn permission_json(p: &Permission) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(p.id));
    v.insert("roles".into(), json!(p.roles));
    v.insert("grantedToV2".into(), p.granted_to.clone());
    if let Some(link) = &p.link {
        if !p.recipients.is_empty() {
            v.insert("grantedToIdentitiesV2".into(), json!(p.recipients));
        }
        v.insert("link".into(), link.clone());
        v.insert("shareId".into(), json!(format!("u!{}", p.id)));
    }
    Value::Object(v)
}

pub fn list(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Read)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let value: Vec<Value> = effective(drive, &id).iter().map(permission_json).collect();
    Ok(axum::Json(json!({"value": value})).into_response())
}
