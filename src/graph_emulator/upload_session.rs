//! Upload sessions (GRAPH.md 6.3): strict `Content-Range` checks, fragments in order and in 320 KiB multiples
//! except the last, open-ended `nextExpectedRanges`, a sliding expiry, status, cancel, `deferCommit`, the
//! conflict check at commit, and the documented recovery from a 409 at commit: `PUT` to the target path with
//! `@microsoft.graph.sourceUrl` set to the upload URL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::Emulator;
use super::changes::{check_lock, free_name, validate_name};
use super::content::check_if_match;
use super::errors::GraphError;
use super::items::{Render, item_json, resolve_target, time};
use super::server::{Ctx, ItemRef};
use super::state::{Actor, World};

/// Fragments must be multiples of this, except the last (GRAPH.md 6.3).
pub const FRAGMENT_UNIT: u64 = 327_680;
/// Largest fragment accepted [unverified status: 413].
pub const MAX_FRAGMENT: u64 = 60 * 1024 * 1024;

/// An upload in progress.
#[derive(Debug, Clone)]
pub struct UploadSession {
    pub drive_id: String,
    pub parent_id: String,
    pub name: Option<String>,
    /// The item being replaced (`…/items/{id}/createUploadSession`).
    pub target: Option<String>,
    pub behaviour: String,
    pub defer_commit: bool,
    pub declared_size: Option<u64>,
    pub total: Option<u64>,
    pub received: Vec<u8>,
    pub expires: OffsetDateTime,
    pub token_expires: OffsetDateTime,
    pub actor: Actor,
    pub if_match: Option<String>,
    pub token: String,
}

fn session_url(base: &str, id: &str, token: &str) -> String {
    format!("{base}/_upload/{id}?token={token}")
}

/// `POST …/createUploadSession`.
pub fn create_session(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let body = ctx.json_body()?;
    let settings = &body["item"];
    let behaviour = settings["@microsoft.graph.conflictBehavior"].as_str().unwrap_or("replace").to_string();
    let (drive_id, parent, name, existing) = resolve_target(world, ctx, item)?;
    let actor = ctx.caller.actor.clone();
    if let Some(id) = &existing {
        let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
        let found = drive.item(id).ok_or_else(GraphError::not_found)?;
        check_if_match(ctx, &found.etag(), &found.ctag())?;
        check_lock(found, &actor)?;
        if name.is_some() && behaviour == "fail" {
            return Err(GraphError::name_exists());
        }
    } else if let Some(name) = &name {
        let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
        validate_name(drive, &parent, name, false)?;
    }
    let declared = settings["fileSize"].as_u64();
    let remaining = world.drive(&drive_id).map_or(0, |d| d.quota_remaining());
    if declared.is_some_and(|size| size > remaining) {
        return Err(GraphError::quota_full());
    }
    let id = super::errors::new_guid();
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
    let expires = ctx.now + Duration::minutes(15);
    let session = UploadSession {
        drive_id,
        parent_id: parent,
        name: name.clone(),
        target: if name.is_some() { None } else { existing.clone() },
        behaviour,
        defer_commit: body["deferCommit"].as_bool().unwrap_or(false),
        declared_size: settings["fileSize"].as_u64(),
        total: None,
        received: Vec::new(),
        expires,
        token_expires: ctx.now + Duration::hours(24),
        actor,
        if_match: ctx.header("if-match").map(str::to_string),
        token: token.clone(),
    };
    world.sessions.insert(id.clone(), session);
    Ok(axum::Json(json!({
        "uploadUrl": session_url(&ctx.base, &id, &token),
        "expirationDateTime": time(expires),
        "nextExpectedRanges": ["0-"],
    }))
    .into_response())
}

fn status_json(session: &UploadSession) -> serde_json::Value {
    json!({
        "expirationDateTime": time(session.expires),
        "nextExpectedRanges": [format!("{}-", session.received.len())],
    })
}

/// The upload URL: `PUT` a fragment, `GET` status, `DELETE` cancel, `POST` commit a deferred session.
pub async fn upload_url(
    State(emulator): State<Emulator>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    emulator.count(&format!("{method} /_upload/{{session}}"));
    let now = emulator.now();
    let mut world = emulator.lock();
    upload_inner(&mut world, &id, &query, &method, &headers, body, now).unwrap_or_else(IntoResponse::into_response)
}

fn session_gone() -> GraphError {
    GraphError::new(StatusCode::NOT_FOUND, "itemNotFound", "The upload session was not found or has expired.")
}

fn upload_inner(
    world: &mut World,
    id: &str,
    query: &std::collections::HashMap<String, String>,
    method: &Method,
    headers: &HeaderMap,
    body: Bytes,
    now: OffsetDateTime,
) -> Result<Response, GraphError> {
    let session = world.sessions.get(id).ok_or_else(session_gone)?;
    if query.get("token") != Some(&session.token) {
        return Err(GraphError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "The upload URL token is invalid."));
    }
    if now >= session.token_expires {
        return Err(GraphError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "The upload URL has expired.")
            .with_inner("expiredToken"));
    }
    if now >= session.expires {
        world.sessions.remove(id);
        return Err(session_gone());
    }
    if world.faults.reject_auth_on_upload && headers.contains_key(header::AUTHORIZATION) {
        return Err(GraphError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authorization must not be sent to the upload URL.",
        ));
    }
    match *method {
        Method::GET => Ok(axum::Json(status_json(session)).into_response()),
        Method::DELETE => {
            world.sessions.remove(id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::POST => {
            let session = session.clone();
            if session.total != Some(session.received.len() as u64) {
                return Err(GraphError::invalid_request("The upload is not complete."));
            }
            commit(world, id, session, now)
        }
        Method::PUT => put_fragment(world, id, headers, body, now),
        _ => Err(GraphError::new(StatusCode::METHOD_NOT_ALLOWED, "invalidRequest", "Method not allowed.")),
    }
}

fn put_fragment(
    world: &mut World,
    id: &str,
    headers: &HeaderMap,
    body: Bytes,
    now: OffsetDateTime,
) -> Result<Response, GraphError> {
    let range = headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let parsed = range.strip_prefix("bytes ").and_then(|r| {
        let (span, total) = r.split_once('/')?;
        let (start, end) = span.split_once('-')?;
        Some((start.parse::<u64>().ok()?, end.parse::<u64>().ok()?, total.parse::<u64>().ok()?))
    });
    let Some((start, end, total)) = parsed.filter(|(s, e, t)| s <= e && e < t) else {
        return Err(GraphError::invalid_request("The Content-Range header is missing or malformed.")
            .with_inner("invalidContentRangeHeader"));
    };
    let length = end - start + 1;
    if length > MAX_FRAGMENT {
        return Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "requestTooLarge",
            "Fragments must be smaller than 60 MiB.",
        ));
    }
    if body.len() as u64 != length {
        return Err(GraphError::invalid_range(
            "fragmentLengthMismatch",
            "The Content-Range length does not match the body.",
        ));
    }
    let partial = world.faults.partial_fragment.take();
    let session = world.sessions.get_mut(id).ok_or_else(session_gone)?;
    if session.total.is_some_and(|t| t != total) || session.declared_size.is_some_and(|d| d != total) {
        return Err(GraphError::invalid_range("fragmentLengthMismatch", "The total size differs from the session's."));
    }
    let have = session.received.len() as u64;
    if start < have {
        return Err(GraphError::invalid_range("fragmentOverlap", "The fragment overlaps data already received."));
    }
    if start > have {
        return Err(GraphError::invalid_range("fragmentOutOfOrder", "Fragments must be uploaded in order."));
    }
    if end + 1 < total && length % FRAGMENT_UNIT != 0 {
        return Err(GraphError::invalid_range(
            "fragmentLengthMismatch",
            "Fragments other than the last must be a multiple of 320 KiB.",
        ));
    }
    let accepted = partial.map_or(body.len(), |n| (n as usize).min(body.len()));
    session.received.extend_from_slice(&body[..accepted]);
    session.total = Some(total);
    session.expires = now + Duration::minutes(15);
    if (session.received.len() as u64) < total || session.defer_commit {
        let mut status = status_json(session);
        if session.received.len() as u64 == total {
            status["nextExpectedRanges"] = json!([]);
        }
        return Ok((StatusCode::ACCEPTED, axum::Json(status)).into_response());
    }
    let session = session.clone();
    commit(world, id, session, now)
}

fn commit(world: &mut World, id: &str, session: UploadSession, now: OffsetDateTime) -> Result<Response, GraphError> {
    let content = Arc::new(session.received.clone());
    let drive = world.drives.get_mut(&session.drive_id).ok_or_else(session_gone)?;
    if content.len() as u64 > drive.quota_remaining() {
        return Err(GraphError::quota_full());
    }
    let (item_id, created) = match (&session.target, &session.name) {
        (Some(target), _) => {
            let item = drive.item(target).ok_or_else(GraphError::not_found)?;
            if session.if_match.as_ref().is_some_and(|tag| tag != "*" && *tag != item.etag() && *tag != item.ctag()) {
                return Err(GraphError::precondition_failed());
            }
            check_lock(item, &session.actor)?;
            drive.write_content(target, content, &session.actor, now);
            (target.clone(), false)
        }
        (None, Some(name)) => match drive.child_by_name(&session.parent_id, name).map(str::to_string) {
            Some(existing) => match session.behaviour.as_str() {
                "fail" => return Err(GraphError::name_exists()),
                "rename" => {
                    let fresh = free_name(drive, &session.parent_id, name);
                    let id = drive
                        .create(&session.parent_id, &fresh, Some(content), &session.actor, now)
                        .map_err(super::changes::change_error)?;
                    (id, true)
                }
                _ => {
                    let item = drive.item(&existing).ok_or_else(GraphError::not_found)?;
                    if item.is_folder() {
                        return Err(GraphError::name_exists());
                    }
                    check_lock(item, &session.actor)?;
                    drive.write_content(&existing, content, &session.actor, now);
                    (existing, false)
                }
            },
            None => {
                let id = drive
                    .create(&session.parent_id, name, Some(content), &session.actor, now)
                    .map_err(super::changes::change_error)?;
                (id, true)
            }
        },
        (None, None) => return Err(session_gone()),
    };
    world.sessions.remove(id);
    let drive = world.drive(&session.drive_id).ok_or_else(GraphError::not_found)?;
    let item = drive.item(&item_id).ok_or_else(GraphError::not_found)?;
    let base = world.public_base.clone();
    let render = Render {
        base: &base,
        select: None,
        expand_list_item: false,
        expand_fields: false,
        for_delta: false,
        now,
        url_key: world.url_key,
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(item_json(world, drive, item, &render))).into_response())
}

/// `PUT /drives/{d}/items/{parent}:/{name}:` with `{"@microsoft.graph.sourceUrl": "<uploadUrl>"}`: commit a
/// completely uploaded session to this path, with the conflict behaviour from the URL (default `fail`). This
/// is how a client recovers from a 409 at commit without uploading again.
pub fn commit_to_path(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let body = ctx.json_body()?;
    let source = body["@microsoft.graph.sourceUrl"]
        .as_str()
        .ok_or_else(|| GraphError::invalid_request("PUT on an item needs @microsoft.graph.sourceUrl."))?;
    let after = source.split("/_upload/").nth(1).ok_or_else(session_gone)?;
    let (id, query) = after.split_once('?').unwrap_or((after, ""));
    let token = query.split('&').find_map(|kv| kv.strip_prefix("token=")).unwrap_or("");
    let session = world.sessions.get(id).filter(|s| s.token == token).cloned().ok_or_else(session_gone)?;
    if session.total != Some(session.received.len() as u64) {
        return Err(GraphError::invalid_request("The upload session is not complete."));
    }
    let (drive_id, parent, name, existing) = resolve_target(world, ctx, item)?;
    if drive_id != session.drive_id {
        return Err(GraphError::invalid_request("The upload session belongs to another drive."));
    }
    if let Some(found) = existing.as_deref().and_then(|e| world.drive(&drive_id).and_then(|d| d.item(e))) {
        check_if_match(ctx, &found.etag(), &found.ctag())?;
    }
    let mut session = session;
    session.behaviour =
        ctx.query.get("@microsoft.graph.conflictBehavior").cloned().unwrap_or_else(|| "fail".to_string());
    session.actor = ctx.caller.actor.clone();
    session.if_match = None;
    match name {
        Some(name) => {
            session.parent_id = parent;
            session.name = Some(name);
            session.target = None;
        }
        None => session.target = existing,
    }
    commit(world, id, session, ctx.now)
}
