//! Check-out, check-in and discard (GRAPH.md 11). While an item is checked out, writes by anyone but the holder
//! get 423 (`changes::check_lock`); `publication` reports `checkout` and the holder when selected; a user
//! holder's edits stay a draft others cannot see until check-in (`Drive::edit_content`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::Need;
use super::changes::check_lock;
use super::errors::GraphError;
use super::items::resolve_item;
use super::server::{Ctx, ItemRef};
use super::state::World;

pub fn checkout(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Write)?;
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    if found.is_folder() {
        return Err(GraphError::invalid_request("Folders cannot be checked out."));
    }
    check_lock(found, &ctx.caller.actor)?;
    if let Some(item) = drive.items.get_mut(&id) {
        item.checkout = Some(ctx.caller.actor.clone());
    }
    drive.touch_metadata(&id, ctx.now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn checkin(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Write)?;
    let body = ctx.json_body()?;
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    if found.checkout.is_none() {
        return Err(GraphError::invalid_request("The file is not checked out."));
    }
    check_lock(found, &ctx.caller.actor)?;
    if let Some(item) = drive.items.get_mut(&id)
        && let Some(comment) = body["comment"].as_str()
    {
        item.fields.insert("_CheckinComment".into(), serde_json::json!(comment));
    }
    drive.check_in(&id, ctx.now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Delegated callers cannot discard someone else's check-out (423); app-only callers can discard any.
pub fn discard(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Write)?;
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    if found.checkout.is_none() {
        return Err(GraphError::invalid_request("The file is not checked out."));
    }
    if ctx.caller.user.is_some() {
        check_lock(found, &ctx.caller.actor)?;
    }
    drive.discard_checkout(&id, ctx.now);
    Ok(StatusCode::NO_CONTENT.into_response())
}
