//! Content (GRAPH.md 6.1, 6.2): downloads by 302 to a pre-authenticated URL on the emulator (signed, one hour,
//! Range -> 206), and simple upload with `conflictBehavior`, `If-Match`, check-outs and the quota. Upload
//! sessions are in `upload_session.rs`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::Emulator;
use super::auth::Need;
use super::changes::{check_lock, free_name, validate_name};
use super::errors::GraphError;
use super::items::{Render, item_json, resolve_item, resolve_target};
use super::server::{Ctx, ItemRef};
use super::state::{Actor, World};

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

pub fn check_if_match(ctx: &Ctx, etag: &str, ctag: &str) -> Result<(), GraphError> {
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
pub fn write_file(
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
