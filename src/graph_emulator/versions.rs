//! Versions (GRAPH.md 8): every content write adds a version `N.0`; the list is newest first and includes the
//! current one; a version's content is a 302 to a pre-authenticated URL; restoring adds a new current version
//! with the old content and keeps the history.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Need;
use super::changes::check_lock;
use super::content::version_redirect;
use super::errors::GraphError;
use super::items::{identity_set, resolve_item, time};
use super::server::{Ctx, ItemRef};
use super::state::{Body, Version, World};

fn versions_of<'a>(
    world: &'a World,
    ctx: &Ctx,
    item: &ItemRef,
    need: Need,
) -> Result<(String, String, &'a [Version]), GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, need)?;
    let found = world.drive(&drive_id).and_then(|d| d.item(&id)).ok_or_else(GraphError::not_found)?;
    match &found.body {
        Body::File { versions, .. } => Ok((drive_id, id, versions.as_slice())),
        Body::Folder { .. } => Err(GraphError::invalid_request("Folders have no versions.")),
    }
}

fn version_json(version: &Version) -> Value {
    json!({
        "id": version.label,
        "lastModifiedDateTime": time(version.modified),
        "lastModifiedBy": identity_set(&version.modified_by),
        "size": version.content.len(),
    })
}

pub fn list(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (_, _, versions) = versions_of(world, ctx, item, Need::Read)?;
    let value: Vec<Value> = versions.iter().rev().map(version_json).collect();
    Ok(axum::Json(json!({"value": value})).into_response())
}

pub fn get(world: &mut World, ctx: &Ctx, item: &ItemRef, label: &str) -> Result<Response, GraphError> {
    let (_, _, versions) = versions_of(world, ctx, item, Need::Read)?;
    let version = versions.iter().find(|v| v.label == label).ok_or_else(GraphError::not_found)?;
    Ok(axum::Json(version_json(version)).into_response())
}

pub fn content(world: &mut World, ctx: &Ctx, item: &ItemRef, label: &str) -> Result<Response, GraphError> {
    let (drive_id, id, versions) = versions_of(world, ctx, item, Need::Read)?;
    if !versions.iter().any(|v| v.label == label) {
        return Err(GraphError::not_found());
    }
    Ok(version_redirect(world, ctx, &drive_id, &id, label))
}

pub fn restore(world: &mut World, ctx: &Ctx, item: &ItemRef, label: &str) -> Result<Response, GraphError> {
    let (drive_id, id, versions) = versions_of(world, ctx, item, Need::Write)?;
    let content =
        versions.iter().find(|v| v.label == label).map(|v| v.content.clone()).ok_or_else(GraphError::not_found)?;
    let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    check_lock(found, &ctx.caller.actor)?;
    drive.write_content(&id, content, &ctx.caller.actor, ctx.now);
    Ok(StatusCode::NO_CONTENT.into_response())
}
