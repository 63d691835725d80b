//! Content (GRAPH.md 6): downloads by 302 to a pre-authenticated URL on the emulator (signed, one hour, Range ->
//! 206), simple upload with `conflictBehavior` and `If-Match`, and upload sessions: strict `Content-Range`
//! checks, fragments in order and in 320 KiB multiples except the last, open-ended `nextExpectedRanges`, a
//! sliding expiry, status, cancel, `deferCommit`, and the conflict check at commit.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::Emulator;
use super::auth::Need;
use super::changes::{check_lock, free_name, validate_name};
use super::errors::GraphError;
use super::items::{Render, item_json, resolve_item, resolve_target, time};
use super::server::{Ctx, ItemRef};
use super::state::{Actor, World};

/// Fragments must be multiples of this, except the last (GRAPH.md 6.3).
pub const FRAGMENT_UNIT: u64 = 327_680;
/// Largest fragment accepted [unverified status: 413].
pub const MAX_FRAGMENT: u64 = 60 * 1024 * 1024;

fn sign(key: &[u8; 32], payload: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key);
    hasher.update(payload.as_bytes());
    hex::encode(&hasher.finalize()[..20])
}

/// A pre-authenticated download URL: the payload names drive, item, version and expiry, and a keyed hash
/// makes it unforgeable, so the emulator keeps no state per URL.
pub fn download_url(
    base: &str,
    key: &[u8; 32],
    drive: &str,
    item: &str,
    version: Option<&str>,
    now: OffsetDateTime,
) -> String {
    let expires = (now + Duration::hours(1)).unix_timestamp();
    let payload = format!("{drive}\u{1f}{item}\u{1f}{}\u{1f}{expires}", version.unwrap_or(""));
    format!("{base}/_download?token={}.{}", URL_SAFE_NO_PAD.encode(&payload), sign(key, &payload))
}

fn verify_download(key: &[u8; 32], token: &str, now: OffsetDateTime) -> Option<(String, String, Option<String>)> {
    let (payload, mac) = token.split_once('.')?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if sign(key, &payload) != mac {
        return None;
    }
    let parts: Vec<&str> = payload.split('\u{1f}').collect();
    let [drive, item, version, expires] = parts.as_slice() else { return None };
    if expires.parse::<i64>().ok()? < now.unix_timestamp() {
        return None;
    }
    let version = (!version.is_empty()).then(|| version.to_string());
    Some((drive.to_string(), item.to_string(), version))
}

/// `GET …/content`: 302 to the download URL (or 304 on a matching `If-None-Match`).
pub fn get_content(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Read)?;
    let found = world.drive(&drive_id).and_then(|d| d.item(&id)).ok_or_else(GraphError::not_found)?;
    if found.is_folder() {
        return Err(GraphError::not_found());
    }
    if ctx.header("if-none-match").is_some_and(|tag| tag == found.etag() || tag == found.ctag()) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let url = download_url(&ctx.base, &world.url_key, &drive_id, &id, None, ctx.now);
    Ok((StatusCode::FOUND, [(header::LOCATION, url)]).into_response())
}

pub fn version_redirect(world: &World, ctx: &Ctx, drive: &str, item: &str, label: &str) -> Response {
    let url = download_url(&ctx.base, &world.url_key, drive, item, Some(label), ctx.now);
    (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
}

/// `GET /_download?token=…`: no `Authorization` needed; `Range` gives 206.
pub async fn download(
    State(emulator): State<Emulator>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    emulator.count("GET /_download");
    let now = emulator.now();
    let mut world = emulator.lock();
    let token = query.get("token").map(String::as_str).unwrap_or("");
    let Some((drive, item, version)) = verify_download(&world.url_key, token, now) else {
        return GraphError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "The download URL is invalid or has expired.",
        )
        .with_inner("expiredToken")
        .into_response();
    };
    let Some(found) = world.drive(&drive).and_then(|d| d.item(&item)) else {
        return GraphError::not_found().into_response();
    };
    let content = match (&found.body, version) {
        (super::state::Body::File { content, .. }, None) => content.clone(),
        (super::state::Body::File { versions, .. }, Some(label)) => match versions.iter().find(|v| v.label == label) {
            Some(v) => v.content.clone(),
            None => return GraphError::not_found().into_response(),
        },
        _ => return GraphError::not_found().into_response(),
    };
    // A download makes the service compute a missing hash (GRAPH.md 3.1).
    if let Some(found) = world.drives.get_mut(&drive).and_then(|d| d.items.get_mut(&item)) {
        found.hash_pending = false;
    }
    drop(world);
    serve_range(&content, headers.get(header::RANGE).and_then(|v| v.to_str().ok()))
}

fn serve_range(content: &Arc<Vec<u8>>, range: Option<&str>) -> Response {
    let len = content.len() as u64;
    let Some(spec) = range.and_then(|r| r.strip_prefix("bytes=")) else {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], content.as_ref().clone())
            .into_response();
    };
    let (start, end) = spec.split_once('-').unwrap_or((spec, ""));
    let parsed = match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => Some((s, e.min(len.saturating_sub(1)))),
        (Some(s), None) if end.is_empty() => Some((s, len.saturating_sub(1))),
        (None, Some(n)) if start.is_empty() => Some((len.saturating_sub(n), len.saturating_sub(1))),
        _ => None,
    };
    match parsed {
        Some((s, e)) if s < len => {
            let body = content[s as usize..=e as usize].to_vec();
            (StatusCode::PARTIAL_CONTENT, [(header::CONTENT_RANGE, format!("bytes {s}-{e}/{len}"))], body)
                .into_response()
        }
        Some(_) => {
            (StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{len}"))]).into_response()
        }
        // A range the service cannot serve gets the whole body.
        None => (StatusCode::OK, content.as_ref().clone()).into_response(),
    }
}

fn check_if_match(ctx: &Ctx, etag: &str, ctag: &str) -> Result<(), GraphError> {
    match ctx.header("if-match") {
        Some(tag) if tag != "*" && tag != etag && tag != ctag => Err(GraphError::precondition_failed()),
        _ => Ok(()),
    }
}

/// `PUT …/content`: simple upload; 201 for a new file, 200 for a replaced one.
pub fn put_content(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    if ctx.body.len() as u64 > world.max_simple_upload {
        return Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "requestTooLarge",
            "The request is too large for a simple upload; use an upload session.",
        ));
    }
    let (drive_id, parent, name, existing) = resolve_target(world, ctx, item)?;
    let behaviour = ctx.query.get("@microsoft.graph.conflictBehavior").map(String::as_str).unwrap_or("replace");
    let content = Arc::new(ctx.body.to_vec());
    let actor = ctx.caller.actor.clone();
    let (id, created) =
        write_file(world, ctx, &drive_id, &parent, name.as_deref(), existing, behaviour, content, &actor)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let found = drive.item(&id).ok_or_else(GraphError::not_found)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(item_json(world, drive, found, &Render::from_ctx(world, ctx, false)))).into_response())
}

/// Create or replace a file by name under `parent`, honouring conflict behaviour, `If-Match` and check-outs.
/// Returns the item id and whether it was created.
#[allow(clippy::too_many_arguments)]
fn write_file(
    world: &mut World,
    ctx: &Ctx,
    drive_id: &str,
    parent: &str,
    name: Option<&str>,
    existing: Option<String>,
    behaviour: &str,
    content: Arc<Vec<u8>>,
    actor: &Actor,
) -> Result<(String, bool), GraphError> {
    let drive = world.drives.get_mut(drive_id).ok_or_else(GraphError::not_found)?;
    let replaced = existing.as_deref().and_then(|id| drive.item(id)).map_or(0, |i| i.size);
    if (content.len() as u64).saturating_sub(replaced) > drive.quota_remaining() {
        return Err(GraphError::quota_full());
    }
    let replace = |drive: &mut super::state::Drive, id: &str| -> Result<(String, bool), GraphError> {
        let item = drive.item(id).ok_or_else(GraphError::not_found)?;
        if item.is_folder() {
            return Err(GraphError::name_exists());
        }
        check_if_match(ctx, &item.etag(), &item.ctag())?;
        check_lock(item, actor)?;
        drive.write_content(id, content.clone(), actor, ctx.now);
        Ok((id.to_string(), false))
    };
    match (existing, name) {
        (Some(id), None) => replace(drive, &id),
        (Some(id), Some(name)) => match behaviour {
            "fail" => Err(GraphError::name_exists()),
            "rename" => {
                let fresh = free_name(drive, parent, name);
                let id = drive
                    .create(parent, &fresh, Some(content.clone()), actor, ctx.now)
                    .map_err(super::changes::change_error)?;
                Ok((id, true))
            }
            _ => {
                let _ = name;
                replace(drive, &id)
            }
        },
        (None, Some(name)) => {
            validate_name(drive, parent, name, false)?;
            let id = drive
                .create(parent, name, Some(content.clone()), actor, ctx.now)
                .map_err(super::changes::change_error)?;
            Ok((id, true))
        }
        (None, None) => Err(GraphError::not_found()),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_urls_verify_and_expire() {
        let key = [7u8; 32];
        let now = OffsetDateTime::UNIX_EPOCH;
        let url = download_url("http://x", &key, "b!d", "01AB", Some("2.0"), now);
        let token = url.split("token=").nth(1).expect("token");
        assert_eq!(verify_download(&key, token, now), Some(("b!d".into(), "01AB".into(), Some("2.0".into()))));
        assert_eq!(verify_download(&key, token, now + Duration::hours(2)), None);
        assert_eq!(verify_download(&[8u8; 32], token, now), None);
    }
}
