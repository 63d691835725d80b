//! Test knobs, off the Graph path (GRAPH.md 15.2): `POST /_emulator/{knob}` with the knob's JSON fields (or
//! `EmulatorHandle::knob` in-process), `GET`/`DELETE /_emulator/counters` for the per-route request counters.
//!
//! Knobs: throttle or fail the next N requests (optionally by method and path substring), 401 the next N Graph
//! calls, add latency, expire tokens, shorten token lifetime, revoke/add/expire secrets, withdraw consent,
//! revoke refresh tokens, invalidate a drive's delta tokens with a chosen resync code, delta shape toggles,
//! upload-session faults, advance the clock, and act as another user on an item.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Emulator;
use super::errors::GraphError;
use super::seed::{PermissionSpec, ensure_folders, permission_from_spec};
use super::state::{Actor, Secret, World};

/// What a fault rule does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    Throttle {
        status: u16,
        retry_after: Option<u64>,
    },
    Fail(u16),
    Unauthorized,
    Delay(u64),
    /// Send half the response body, then reset the connection.
    DropMidBody,
    /// Send half the response body, wait this many milliseconds, then the rest.
    StallBody(u64),
}

impl IntoResponse for FaultAction {
    fn into_response(self) -> Response {
        match self {
            FaultAction::Throttle { status, retry_after } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
                GraphError::throttled(status, retry_after).into_response()
            }
            FaultAction::Fail(status) => {
                GraphError::internal(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                    .into_response()
            }
            FaultAction::Unauthorized => {
                GraphError::unauthenticated("Access token has expired or is not yet valid.").into_response()
            }
            FaultAction::Delay(_) | FaultAction::DropMidBody | FaultAction::StallBody(_) => {
                StatusCode::OK.into_response()
            }
        }
    }
}

#[derive(Debug, Clone)]
struct FaultRule {
    method: Option<String>,
    path: Option<String>,
    /// `None`: until cleared.
    remaining: Option<u32>,
    action: FaultAction,
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
    /// Delta pages put a child before its ancestors.
    pub delta_child_first: bool,
    /// The upload URL refuses requests that carry `Authorization`.
    pub reject_auth_on_upload: bool,
    /// The next fragment is only accepted up to this many bytes.
    pub partial_fragment: Option<u64>,
    /// Delta pages repeat every item they carry (last occurrence wins, as the reference says can happen).
    pub delta_duplicates: bool,
    /// Delta pages come in random order (children before parents included).
    pub delta_shuffle: bool,
    pending_acts: Vec<PendingAct>,
}

impl Faults {
    /// The fault for this request, if a rule matches; counts the rule down. Faults hit Graph, download and
    /// upload URLs, never the token endpoint (unless a rule's path names it).
    pub fn take(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        let graphish = path.starts_with("/v1.0") || path.starts_with("/_upload") || path.starts_with("/_download");
        let index = self.rules.iter().position(|rule| {
            let path_ok = match &rule.path {
                Some(p) => path.contains(p.as_str()),
                None => graphish && (rule.action != FaultAction::Unauthorized || path.starts_with("/v1.0")),
            };
            path_ok && rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let rule = &mut self.rules[index];
        let action = rule.action.clone();
        if let Some(remaining) = &mut rule.remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.rules.remove(index);
            }
        }
        Some(action)
    }
}

/// A knob, as JSON: `{"knob": "throttle", "count": 3, "status": 429, "retry_after": 2}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "knob", rename_all = "snake_case")]
pub enum Knob {
    Throttle {
        count: u32,
        #[serde(default = "s429")]
        status: u16,
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        path: Option<String>,
    },
    Fail {
        count: u32,
        #[serde(default = "s500")]
        status: u16,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        path: Option<String>,
    },
    Unauthorized {
        count: u32,
    },
    Delay {
        ms: u64,
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        path: Option<String>,
    },
    /// The next N matching responses break off half way through the body (downloads, listings).
    DropBody {
        count: u32,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        path: Option<String>,
    },
    /// The next N matching responses stall half way through the body for `ms` milliseconds.
    StallBody {
        ms: u64,
        count: u32,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        path: Option<String>,
    },
    /// The item's hash goes missing until the file is next downloaded (GRAPH.md 3.1).
    HashPending {
        drive_id: String,
        path: String,
    },
    ClearFaults,
    ExpireTokens {
        #[serde(default)]
        client_id: Option<String>,
    },
    TokenLifetime {
        seconds: i64,
    },
    RevokeSecret {
        client_id: String,
        #[serde(default)]
        value: Option<String>,
    },
    AddSecret {
        client_id: String,
        value: String,
    },
    ExpireSecret {
        client_id: String,
        #[serde(default)]
        value: Option<String>,
    },
    Consent {
        client_id: String,
        granted: bool,
    },
    RevokeRefreshTokens {
        #[serde(default)]
        client_id: Option<String>,
    },
    InvalidateDelta {
        drive_id: String,
        #[serde(default)]
        code: Option<String>,
    },
    DeltaShape {
        #[serde(default)]
        child_first: bool,
        #[serde(default)]
        duplicates: bool,
        #[serde(default)]
        shuffle: bool,
    },
    SubfolderDelta {
        enabled: bool,
    },
    RejectAuthOnUpload {
        enabled: bool,
    },
    PartialFragment {
        bytes: u64,
    },
    ExpireUploadSessions,
    /// Set a drive's storage quota in bytes (writes past it get 507).
    Quota {
        drive_id: String,
        total: u64,
    },
    /// Set (or with no value lift) the resource-unit budget per app per minute.
    RateLimit {
        #[serde(default)]
        per_minute: Option<u32>,
    },
    AdvanceClock {
        seconds: i64,
    },
    ResetCounters,
    /// Act as a seeded user on the item at `path` of `drive_id`.
    Act {
        user: String,
        drive_id: String,
        path: String,
        #[serde(flatten)]
        action: Action,
    },
    /// The concurrent-edit race: when the next request matching `on_method`/`on_path` (a path substring)
    /// arrives, first make this change as `user`, so the request meets a changed item (412, 409, 423).
    ActBefore {
        #[serde(default)]
        on_method: Option<String>,
        on_path: String,
        user: String,
        drive_id: String,
        path: String,
        #[serde(flatten)]
        action: Action,
    },
}

/// A change waiting for its trigger request (`Knob::ActBefore`).
#[derive(Debug, Clone)]
pub struct PendingAct {
    method: Option<String>,
    path: String,
    user: String,
    drive_id: String,
    item_path: String,
    action: Action,
}

/// Run the pending change a request triggers, if any (called by the request middleware before the request).
pub fn run_pending_act(world: &mut World, method: &str, path: &str, now: time::OffsetDateTime) {
    let index = world.faults.pending_acts.iter().position(|p| {
        path.contains(p.path.as_str()) && p.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
    });
    if let Some(index) = index {
        let p = world.faults.pending_acts.remove(index);
        // A failure here is the test's own setup mistake; the triggering request then simply proceeds.
        let _ = act(world, &p.user, &p.drive_id, &p.item_path, p.action, now);
    }
}

fn s429() -> u16 {
    429
}
fn s500() -> u16 {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create or overwrite a file (a new version).
    Upload {
        text: String,
    },
    Mkdir,
    Rename {
        new_name: String,
    },
    Move {
        to_folder: String,
    },
    Delete,
    Checkout,
    Checkin,
    /// Take or release a co-authoring lock (an Office client editing the file).
    Lock,
    Unlock,
    SetFields {
        fields: serde_json::Map<String, Value>,
    },
    BreakInheritance {
        permissions: Vec<PermissionSpec>,
    },
    RestoreInheritance,
}

pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/_emulator/counters", get(counters).delete(reset_counters))
        .route("/_emulator/requests", get(requests).delete(reset_requests))
        .route("/_emulator/{knob}", post(knob_route))
}

async fn counters(State(emulator): State<Emulator>) -> Response {
    axum::Json(json!(emulator.lock().counters.clone())).into_response()
}

async fn reset_counters(State(emulator): State<Emulator>) -> Response {
    emulator.lock().counters.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// The request log: method, path, status, emulator time and headers (credentials redacted), oldest first.
async fn requests(State(emulator): State<Emulator>) -> Response {
    axum::Json(json!(emulator.lock().request_log.iter().collect::<Vec<_>>())).into_response()
}

async fn reset_requests(State(emulator): State<Emulator>) -> Response {
    emulator.lock().request_log.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn knob_route(State(emulator): State<Emulator>, Path(name): Path<String>, body: axum::body::Bytes) -> Response {
    let mut value: Value = if body.is_empty() { json!({}) } else { serde_json::from_slice(&body).unwrap_or(json!({})) };
    value["knob"] = json!(name);
    let knob: Knob = match serde_json::from_value(value) {
        Ok(knob) => knob,
        Err(e) => return GraphError::invalid_request(format!("bad knob: {e}")).into_response(),
    };
    match apply(&emulator, knob) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn rule(world: &mut World, method: Option<String>, path: Option<String>, remaining: Option<u32>, action: FaultAction) {
    world.faults.rules.push(FaultRule { method, path, remaining, action });
}

fn app_mut<'a>(world: &'a mut World, client_id: &str) -> Result<&'a mut super::state::App, GraphError> {
    world.apps.get_mut(client_id).ok_or_else(GraphError::not_found)
}

/// Apply a knob; the answer is a small JSON report.
pub fn apply(emulator: &Emulator, knob: Knob) -> Result<Value, GraphError> {
    if let Knob::AdvanceClock { seconds } = knob {
        emulator.advance(seconds);
        return Ok(json!({"now": super::items::time(emulator.now())}));
    }
    let now = emulator.now();
    let mut world = emulator.lock();
    let world = &mut *world;
    match knob {
        Knob::Throttle { count, status, retry_after, method, path } => {
            rule(world, method, path, Some(count), FaultAction::Throttle { status, retry_after });
        }
        Knob::Fail { count, status, method, path } => rule(world, method, path, Some(count), FaultAction::Fail(status)),
        Knob::Unauthorized { count } => rule(world, None, None, Some(count), FaultAction::Unauthorized),
        Knob::Delay { ms, count, method, path } => rule(world, method, path, count, FaultAction::Delay(ms)),
        Knob::DropBody { count, method, path } => rule(world, method, path, Some(count), FaultAction::DropMidBody),
        Knob::StallBody { ms, count, method, path } => {
            rule(world, method, path, Some(count), FaultAction::StallBody(ms))
        }
        Knob::HashPending { drive_id, path } => {
            let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
            let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
            let root = drive.root_id.clone();
            let id = drive.resolve_path(&root, &segments).ok_or_else(GraphError::not_found)?;
            if let Some(item) = drive.items.get_mut(&id) {
                item.hash_pending = true;
            }
        }
        Knob::ClearFaults => world.faults = Default::default(),
        Knob::ExpireTokens { client_id } => {
            for grant in world.grants.access.values_mut() {
                if client_id.as_ref().is_none_or(|c| c == &grant.client_id) {
                    grant.expires = now;
                }
            }
        }
        Knob::TokenLifetime { seconds } => world.grants.access_lifetime = time::Duration::seconds(seconds),
        Knob::RevokeSecret { client_id, value } => {
            app_mut(world, &client_id)?.secrets.retain(|s| value.as_ref().is_some_and(|v| v != &s.value));
        }
        Knob::AddSecret { client_id, value } => {
            app_mut(world, &client_id)?.secrets.push(Secret { value, expires: None })
        }
        Knob::ExpireSecret { client_id, value } => {
            for secret in &mut app_mut(world, &client_id)?.secrets {
                if value.as_ref().is_none_or(|v| v == &secret.value) {
                    secret.expires = Some(now);
                }
            }
        }
        Knob::Consent { client_id, granted } => app_mut(world, &client_id)?.admin_consent = granted,
        Knob::RevokeRefreshTokens { client_id } => {
            for grant in world.grants.refresh.values_mut() {
                if client_id.as_ref().is_none_or(|c| c == &grant.client_id) {
                    grant.revoked = true;
                }
            }
        }
        Knob::InvalidateDelta { drive_id, code } => {
            let drive = world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?;
            drive.epoch += 1;
            drive.resync_code = code.unwrap_or_else(|| "resyncChangesApplyDifferences".into());
        }
        Knob::DeltaShape { child_first, duplicates, shuffle } => {
            world.faults.delta_child_first = child_first;
            world.faults.delta_duplicates = duplicates;
            world.faults.delta_shuffle = shuffle;
        }
        Knob::SubfolderDelta { enabled } => world.subfolder_delta = enabled,
        Knob::RejectAuthOnUpload { enabled } => world.faults.reject_auth_on_upload = enabled,
        Knob::PartialFragment { bytes } => world.faults.partial_fragment = Some(bytes),
        Knob::ExpireUploadSessions => {
            for session in world.sessions.values_mut() {
                session.expires = now;
            }
        }
        Knob::ResetCounters => world.counters.clear(),
        Knob::RateLimit { per_minute } => world.budget.per_minute = per_minute,
        Knob::Quota { drive_id, total } => {
            world.drives.get_mut(&drive_id).ok_or_else(GraphError::not_found)?.quota_total = total
        }
        Knob::AdvanceClock { .. } => {}
        Knob::Act { user, drive_id, path, action } => return act(world, &user, &drive_id, &path, action, now),
        Knob::ActBefore { on_method, on_path, user, drive_id, path, action } => {
            world.faults.pending_acts.push(PendingAct {
                method: on_method,
                path: on_path,
                user,
                drive_id,
                item_path: path,
                action,
            });
        }
    }
    Ok(json!({"ok": true}))
}

/// Another user's change, made directly in the store as SharePoint's own UI would.
fn act(
    world: &mut World,
    user: &str,
    drive_id: &str,
    path: &str,
    action: Action,
    now: time::OffsetDateTime,
) -> Result<Value, GraphError> {
    let user = world.user(user).cloned().ok_or_else(|| GraphError::invalid_request(format!("unknown user {user}")))?;
    let actor = Actor { user: Some(user), app: None };
    let permissions = match &action {
        Action::BreakInheritance { permissions } => Some(
            permissions
                .iter()
                .map(|p| permission_from_spec(world, p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(GraphError::invalid_request)?,
        ),
        _ => None,
    };
    let drive = world.drives.get_mut(drive_id).ok_or_else(GraphError::not_found)?;
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let root = drive.root_id.clone();
    let existing = drive.resolve_path(&root, &segments);
    let need = || existing.clone().ok_or_else(GraphError::not_found);
    let map = super::changes::change_error;
    let id = match action {
        Action::Upload { text } => {
            let content = Arc::new(text.into_bytes());
            match existing {
                Some(id) => {
                    drive.edit_content(&id, content, &actor, now);
                    id
                }
                None => {
                    let (name, parents) = segments.split_last().ok_or_else(GraphError::not_found)?;
                    let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
                    let parent = ensure_folders(drive, &parents, &actor, now).map_err(GraphError::invalid_request)?;
                    drive.create(&parent, name, Some(content), &actor, now).map_err(map)?
                }
            }
        }
        Action::Mkdir => {
            let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
            ensure_folders(drive, &parts, &actor, now).map_err(GraphError::invalid_request)?
        }
        Action::Rename { new_name } => {
            let id = need()?;
            drive.rename_move(&id, Some(&new_name), None, &actor, now).map_err(map)?;
            id
        }
        Action::Move { to_folder } => {
            let id = need()?;
            let target: Vec<String> = to_folder.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
            let folder = drive.resolve_path(&root, &target).ok_or_else(GraphError::not_found)?;
            drive.rename_move(&id, None, Some(&folder), &actor, now).map_err(map)?;
            id
        }
        Action::Delete => {
            let id = need()?;
            drive.delete(&id, now).map_err(map)?;
            id
        }
        Action::Checkout => {
            let id = need()?;
            if let Some(item) = drive.items.get_mut(&id) {
                item.checkout = Some(actor.clone());
            }
            drive.touch_metadata(&id, now);
            id
        }
        Action::Checkin => {
            let id = need()?;
            drive.check_in(&id, now);
            id
        }
        Action::Lock | Action::Unlock => {
            let id = need()?;
            let lock = matches!(action, Action::Lock).then(|| actor.clone());
            if let Some(item) = drive.items.get_mut(&id) {
                item.coauth_lock = lock;
            }
            id
        }
        Action::SetFields { fields } => {
            let id = need()?;
            if let Some(item) = drive.items.get_mut(&id) {
                item.fields.extend(fields);
            }
            drive.touch_metadata(&id, now);
            id
        }
        Action::BreakInheritance { .. } => {
            let id = need()?;
            if let Some(item) = drive.items.get_mut(&id) {
                item.permissions = permissions;
            }
            drive.touch_sharing(&id, now);
            id
        }
        Action::RestoreInheritance => {
            let id = need()?;
            if let Some(item) = drive.items.get_mut(&id) {
                item.permissions = None;
            }
            drive.touch_sharing(&id, now);
            id
        }
    };
    Ok(json!({"id": id}))
}
