//! Changing items (GRAPH.md 7, 14): PATCH rename/move (no cross-drive moves, `If-Match`, 409 on clashes),
//! DELETE into the recycle bin, folder creation with `conflictBehavior`, SharePoint's naming rules, and the
//! check-out lock every write honours (423 for anyone but the holder, GRAPH.md 11).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::Need;
use super::errors::GraphError;
use super::items::{Render, item_json, resolve_item};
use super::server::{Ctx, ItemRef};
use super::state::{Actor, ChangeError, Drive, Item};

pub fn change_error(error: ChangeError) -> GraphError {
    match error {
        ChangeError::NotFound => GraphError::not_found(),
        ChangeError::NameExists => GraphError::name_exists(),
        ChangeError::NotAFolder => GraphError::invalid_request("The parent is not a folder."),
        ChangeError::IntoItself => GraphError::invalid_request("A folder cannot be moved into itself or a descendant."),
    }
}

/// 423 when someone other than `actor` holds the item's check-out.
pub fn check_lock(item: &Item, actor: &Actor) -> Result<(), GraphError> {
    if item.checkout.as_ref().is_some_and(|holder| holder.key() != actor.key()) {
        return Err(GraphError::locked());
    }
    if item.coauth_lock.as_ref().is_some_and(|holder| holder.key() != actor.key()) {
        return Err(GraphError::new(
            axum::http::StatusCode::LOCKED,
            "notAllowed",
            "The resource you are attempting to access is locked",
        )
        .with_inner("resourceLocked"));
    }
    Ok(())
}

fn check_if_match(ctx: &Ctx, item: &Item) -> Result<(), GraphError> {
    match ctx.header("if-match") {
        Some(tag) if tag != "*" && tag != item.etag() && tag != item.ctag() => Err(GraphError::precondition_failed()),
        _ => Ok(()),
    }
}

const DEVICE_NAMES: &[&str] = &["CON", "PRN", "AUX", "NUL"];

/// SharePoint's naming rules (GRAPH.md 14), checked on every create, rename and upload.
pub fn validate_name(drive: &Drive, parent: &str, name: &str, folder: bool) -> Result<(), GraphError> {
    let invalid = |why: &str| {
        GraphError::invalid_request(format!("The provided name is not valid: {why}.")).with_inner("invalidPath")
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name.chars().any(|c| "\"*:<>?/\\|".contains(c) || (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32))) {
        return Err(invalid("it contains a character that is not allowed"));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(invalid("leading or trailing space"));
    }
    let upper = name.to_uppercase();
    let device = DEVICE_NAMES.contains(&upper.as_str())
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit());
    if device || upper == ".LOCK" || upper == "DESKTOP.INI" || upper.contains("_VTI_") || name.starts_with("~$") {
        return Err(invalid("reserved name"));
    }
    if folder && (name.ends_with('.') || name.starts_with('~')) {
        return Err(invalid("folder names cannot end with '.' or begin with '~'"));
    }
    if folder && parent == drive.root_id && upper == "FORMS" {
        return Err(invalid("'forms' is reserved at the library root"));
    }
    let parent_path = drive.path_of(parent);
    let full = if parent_path.is_empty() {
        name.chars().count()
    } else {
        parent_path.chars().count() + 1 + name.chars().count()
    };
    if full > 400 {
        return Err(GraphError::invalid_request("The path is too long.").with_inner("pathIsTooLong"));
    }
    Ok(())
}

/// The name `conflictBehavior=rename` picks: `report 1.txt`, `report 2.txt`, …
pub fn free_name(drive: &Drive, parent: &str, name: &str) -> String {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), format!(".{ext}")),
        _ => (name.to_string(), String::new()),
    };
    (1..)
        .map(|n| format!("{stem} {n}{ext}"))
        .find(|candidate| drive.child_by_name(parent, candidate).is_none())
        .unwrap_or_else(|| name.to_string())
}

fn item_response(
    world: &super::state::World,
    ctx: &Ctx,
    drive_id: &str,
    id: &str,
    status: StatusCode,
) -> Result<Response, GraphError> {
    let drive = world.drive(drive_id).ok_or_else(GraphError::not_found)?;
    let item = drive.item(id).ok_or_else(GraphError::not_found)?;
    Ok((status, axum::Json(item_json(world, drive, item, &Render::from_ctx(world, ctx, false)))).into_response())
}

/// `PATCH /drives/{d}/items/{id}`: rename, move, `fileSystemInfo`.
pub fn update(world: &mut super::state::World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Write)?;
    let body = ctx.json_body()?;
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    if found.parent_id.is_none() {
        return Err(GraphError::access_denied("The root folder cannot be changed."));
    }
    check_if_match(ctx, found)?;
    check_lock(found, &ctx.caller.actor)?;
    let is_folder = found.is_folder();
    let new_parent = match &body["parentReference"] {
        Value::Object(reference) => {
            if let Some(other) = reference.get("driveId").and_then(Value::as_str)
                && other != drive_id
            {
                return Err(GraphError::invalid_request("Cross-drive moves are not supported; use copy."));
            }
            match reference.get("id").and_then(Value::as_str) {
                Some("root") => Some(drive.root_id.clone()),
                Some(parent) => Some(drive.item(parent).map(|p| p.id.clone()).ok_or_else(GraphError::not_found)?),
                None => None,
            }
        }
        _ => None,
    };
    let parent = new_parent.clone().or_else(|| found.parent_id.clone()).unwrap_or_default();
    let mut name = body["name"].as_str().map(str::to_string);
    if let Some(n) = &name {
        validate_name(drive, &parent, n, is_folder)?;
    }
    let target_name = name.clone().unwrap_or_else(|| found.name.clone());
    let clash = drive.child_by_name(&parent, &target_name).is_some_and(|other| other != id);
    if clash && ctx.query.get("@microsoft.graph.conflictBehavior").map(String::as_str) == Some("rename") {
        name = Some(free_name(drive, &parent, &target_name));
    }
    let actor = ctx.caller.actor.clone();
    if name.is_some() || new_parent.is_some() {
        drive.rename_move(&id, name.as_deref(), new_parent.as_deref(), &actor, ctx.now).map_err(change_error)?;
    }
    if let Value::Object(info) = &body["fileSystemInfo"] {
        let parse =
            |key: &str| info.get(key).and_then(Value::as_str).and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
        if let Some(item) = drive.items.get_mut(&id) {
            if let Some(t) = parse("createdDateTime") {
                item.fs_created = t;
            }
            if let Some(t) = parse("lastModifiedDateTime") {
                item.fs_modified = t;
            }
        }
        drive.touch_metadata(&id, ctx.now);
    }
    item_response(world, ctx, &drive_id, &id, StatusCode::OK)
}

/// `DELETE /drives/{d}/items/{id}`: to the recycle bin, 204.
pub fn delete(world: &mut super::state::World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Write)?;
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    if found.parent_id.is_none() {
        return Err(GraphError::access_denied("The root folder cannot be deleted."));
    }
    check_if_match(ctx, found)?;
    check_lock(found, &ctx.caller.actor)?;
    drive.delete(&id, ctx.now).map_err(change_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST …/children` with a `folder` facet: 201, or 409 under `conflictBehavior: fail` (the default).
pub fn create_folder(world: &mut super::state::World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, parent) = resolve_item(world, ctx, item, Need::Write)?;
    let body = ctx.json_body()?;
    let name = body["name"].as_str().ok_or_else(|| GraphError::invalid_request("A name is required."))?.to_string();
    if !body["folder"].is_object() {
        return Err(GraphError::invalid_request("Only folders can be created with POST children."));
    }
    let behaviour = body["@microsoft.graph.conflictBehavior"].as_str().unwrap_or("fail");
    let actor = ctx.caller.actor.clone();
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    validate_name(drive, &parent, &name, true)?;
    let name = match drive.child_by_name(&parent, &name).map(str::to_string) {
        None => name,
        Some(existing) => match behaviour {
            "rename" => free_name(drive, &parent, &name),
            "replace" => {
                let found = drive.item(&existing).ok_or_else(GraphError::not_found)?;
                check_lock(found, &actor)?;
                drive.delete(&existing, ctx.now).map_err(change_error)?;
                name
            }
            _ => return Err(GraphError::name_exists()),
        },
    };
    let id = drive.create(&parent, &name, None, &actor, ctx.now).map_err(change_error)?;
    item_response(world, ctx, &drive_id, &id, StatusCode::CREATED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive() -> Drive {
        Drive::new("b!d".into(), "Documents".into(), "s".into(), OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn sharepoint_naming_rules_are_enforced() {
        let d = drive();
        let root = d.root_id.clone();
        for bad in ["a:b", "q?", " lead", "trail ", "CON", "desktop.ini", "x_vti_y", "~$lock.docx", ".lock"] {
            assert!(validate_name(&d, &root, bad, false).is_err(), "{bad}");
        }
        assert!(validate_name(&d, &root, "forms", true).is_err());
        assert!(validate_name(&d, &root, "dots.", true).is_err());
        assert!(validate_name(&d, &root, "Report #1 (50%).docx", false).is_ok());
        assert!(validate_name(&d, &root, &"x".repeat(401), false).is_err());
    }

    #[test]
    fn rename_picks_the_next_free_number() {
        let mut d = drive();
        let root = d.root_id.clone();
        d.create(&root, "a.txt", Some(std::sync::Arc::new(vec![])), &Actor::system(), OffsetDateTime::UNIX_EPOCH)
            .expect("a");
        d.create(&root, "a 1.txt", Some(std::sync::Arc::new(vec![])), &Actor::system(), OffsetDateTime::UNIX_EPOCH)
            .expect("a1");
        assert_eq!(free_name(&d, &root, "a.txt"), "a 2.txt");
    }
}
