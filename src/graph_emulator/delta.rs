//! Delta (GRAPH.md 4). A token is an opaque encoding of (drive epoch, position in the drive's change log, mode).
//! A page walks the log from the position: the latest state of each item changed since, in change order, so an
//! item changed again while a client pages shows up again later (repeat, last wins). Each page also carries the
//! ancestor chain of its items (not counted by `$top`). Deleted items are minimal (`id`, `deleted`,
//! `parentReference` without path, `file`/`folder`), never carry `name`, and lose `deleted` under a `$select`
//! that does not name it. `token=latest` and ISO timestamps are accepted. A token from an older epoch (the
//! "invalidate delta tokens" knob) gets 410 with the drive's resync code and a `Location` that restarts.

use std::collections::HashSet;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::Need;
use super::errors::GraphError;
use super::items::{Render, carried_options, item_json, page_size, project, resolve_drive, resolve_item};
use super::server::{Ctx, ItemRef};
use super::state::{Body, Drive, World};

/// Whether a walk lists everything alive (first enumeration) or every change including deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Initial,
    Changes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    epoch: u32,
    after: u64,
    mode: Mode,
}

fn encode_token(p: Position) -> String {
    let mode = match p.mode {
        Mode::Initial => 'i',
        Mode::Changes => 'c',
    };
    URL_SAFE_NO_PAD.encode(format!("v1.{}.{}.{mode}", p.epoch, p.after))
}

fn decode_token(token: &str) -> Option<Position> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.split('.');
    if parts.next()? != "v1" {
        return None;
    }
    let epoch = parts.next()?.parse().ok()?;
    let after = parts.next()?.parse().ok()?;
    let mode = match parts.next()? {
        "i" => Mode::Initial,
        "c" => Mode::Changes,
        _ => return None,
    };
    Some(Position { epoch, after, mode })
}

fn resync(drive: &Drive, restart: String) -> GraphError {
    let message = match drive.resync_code.as_str() {
        "resyncChangesUploadDifferences" => {
            "Resync required. Upload any local items that the service did not return, and upload any files that differ from the server's version (keep both copies if you're not sure which one is more up-to-date)."
        }
        _ => {
            "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about."
        }
    };
    GraphError::new(StatusCode::GONE, &drive.resync_code, message).with_header(header::LOCATION, restart)
}

pub fn delta(
    world: &mut World,
    ctx: &Ctx,
    item: &ItemRef,
    function_token: Option<String>,
) -> Result<Response, GraphError> {
    let drive_id = resolve_drive(world, ctx, &item.drive, Need::Read)?;
    let (_, scope_id) = resolve_item(world, ctx, item, Need::Read)?;
    let drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let on_root = scope_id == drive.root_id;
    if !on_root && !world.subfolder_delta {
        return Err(GraphError::not_supported("view.delta can only be called on the root."));
    }
    let base_link = if on_root {
        format!("{}/v1.0/drives/{}/root/delta", ctx.base, super::auth::encode(&drive.id))
    } else {
        format!("{}/v1.0/drives/{}/items/{}/delta", ctx.base, super::auth::encode(&drive.id), scope_id)
    };
    let token = function_token.or_else(|| ctx.query.get("token").cloned());
    let link = |p: Position, top: Option<usize>| {
        let top = top.map(|t| format!("&$top={t}")).unwrap_or_default();
        format!("{base_link}?token={}{top}{}", encode_token(p), carried_options(ctx))
    };
    let start = match token.as_deref() {
        None | Some("") => Position { epoch: drive.epoch, after: 0, mode: Mode::Initial },
        Some("latest") => {
            let p = Position { epoch: drive.epoch, after: drive.seq, mode: Mode::Changes };
            return Ok(axum::Json(json!({"value": [], "@odata.deltaLink": link(p, None)})).into_response());
        }
        Some(other) => match decode_token(other) {
            Some(p) if p.epoch != drive.epoch => return Err(resync(drive, base_link)),
            Some(p) => p,
            None => match OffsetDateTime::parse(other, &Rfc3339) {
                Ok(at) => {
                    let idx = drive.seq_times.partition_point(|(_, t)| *t <= at);
                    let after = if idx == 0 { 0 } else { drive.seq_times[idx - 1].0 };
                    Position { epoch: drive.epoch, after, mode: Mode::Changes }
                }
                Err(_) => return Err(resync(drive, base_link)),
            },
        },
    };
    let top = page_size(ctx)?;
    let render = Render::from_ctx(world, ctx, true);
    let child_first = world.faults.delta_child_first;
    // `Prefer: deltaExcludeParent` asks the service to leave the ancestor chains out.
    let with_ancestors = !ctx.header("prefer").is_some_and(|p| p.to_lowercase().contains("deltaexcludeparent"));
    let mut value: Vec<Value> = Vec::new();
    let mut emitted: HashSet<&str> = HashSet::new();
    let mut counted = 0usize;
    let mut last = start.after;
    let mut more = false;
    // Permission changes join the walk only when asked for with all three Prefer values, and only for callers
    // with Sites.FullControl.All (GRAPH.md 4).
    let prefer = ctx.header("prefer").unwrap_or("").to_lowercase();
    let sharing = start.mode == Mode::Changes
        && ["deltashowsharingchanges", "deltashowremovedasdeleted", "deltatraversepermissiongaps"]
            .iter()
            .all(|p| prefer.contains(p))
        && ctx.caller.permissions.iter().any(|p| p == "Sites.FullControl.All");
    let sharing_range = drive.sharing_changes.range(start.after + 1..).filter(|_| sharing);
    let walk = merge_by_seq(drive.changes.range(start.after + 1..), sharing_range);
    for (seq, id, shared_changed) in walk {
        let Some(it) = drive.items.get(id) else { continue };
        let in_scope = on_root || id == &scope_id || drive.ancestors(id).iter().any(|a| a == &scope_id);
        if (start.mode == Mode::Initial && it.deleted) || !in_scope || (shared_changed && it.deleted) {
            last = seq;
            continue;
        }
        if counted == top {
            more = true;
            break;
        }
        counted += 1;
        last = seq;
        if it.deleted {
            value.push(project(deleted_json(drive, id), render.select.as_deref()));
            continue;
        }
        // The ancestor chain up to the root rides along, parents first unless the knob asks for child first.
        let mut chain: Vec<Value> = Vec::new();
        let mut ancestors = if with_ancestors { drive.ancestors(id) } else { Vec::new() };
        // A subfolder delta's chains stop at the folder it was asked for.
        if !on_root && id == &scope_id {
            ancestors.clear();
        } else if let Some(pos) = ancestors.iter().position(|a| !on_root && a == &scope_id) {
            ancestors.truncate(pos + 1);
        }
        for ancestor in ancestors {
            if let Some(a) = drive.item(&ancestor)
                && emitted.insert(a.id.as_str())
            {
                chain.push(item_json(world, drive, a, &render));
            }
        }
        emitted.insert(it.id.as_str());
        let mut own = item_json(world, drive, it, &render);
        if shared_changed {
            own["@microsoft.graph.sharedChanged"] = json!("True");
        }
        if child_first {
            value.push(own);
            value.extend(chain);
        } else {
            chain.reverse();
            value.extend(chain);
            value.push(own);
        }
    }
    if world.faults.delta_duplicates {
        value = value.into_iter().flat_map(|v| [v.clone(), v]).collect();
    }
    if world.faults.delta_shuffle {
        use rand::seq::SliceRandom;
        value.shuffle(&mut rand::thread_rng());
    }
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(format!("{}/v1.0/$metadata#Collection(driveItem)", ctx.base)));
    body.insert("value".into(), Value::Array(value));
    if more {
        let p = Position { epoch: start.epoch, after: last, mode: start.mode };
        body.insert("@odata.nextLink".into(), json!(link(p, ctx.option("top").map(|_| top))));
    } else {
        let p = Position { epoch: start.epoch, after: drive.seq.max(last), mode: Mode::Changes };
        body.insert("@odata.deltaLink".into(), json!(link(p, None)));
    }
    Ok(axum::Json(Value::Object(body)).into_response())
}

/// Two change logs walked together in change-number order; the flag marks entries of the second (sharing) log.
fn merge_by_seq<'a>(
    changes: impl Iterator<Item = (&'a u64, &'a String)>,
    sharing: impl Iterator<Item = (&'a u64, &'a String)>,
) -> impl Iterator<Item = (u64, &'a String, bool)> {
    let mut changes = changes.peekable();
    let mut sharing = sharing.peekable();
    std::iter::from_fn(move || match (changes.peek(), sharing.peek()) {
        (Some((a, _)), Some((b, _))) if b < a => sharing.next().map(|(s, id)| (*s, id, true)),
        (Some(_), _) => changes.next().map(|(s, id)| (*s, id, false)),
        (None, Some(_)) => sharing.next().map(|(s, id)| (*s, id, true)),
        (None, None) => None,
    })
}

/// What SharePoint sends for a deleted item: little more than the id and the facet.
fn deleted_json(drive: &Drive, id: &str) -> Value {
    let Some(item) = drive.items.get(id) else { return json!({"id": id, "deleted": {"state": "deleted"}}) };
    let mut v = json!({
        "id": item.id,
        "deleted": {"state": "deleted"},
        "parentReference": {"driveId": drive.id, "driveType": "documentLibrary", "id": item.parent_id},
    });
    match item.body {
        Body::Folder { .. } => v["folder"] = json!({"childCount": 0}),
        Body::File { .. } => v["file"] = json!({}),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let p = Position { epoch: 3, after: 42, mode: Mode::Changes };
        assert_eq!(decode_token(&encode_token(p)), Some(p));
        assert_eq!(decode_token("not-a-token"), None);
    }
}
