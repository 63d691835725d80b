//! Copy (GRAPH.md 7): `POST …/copy` answers 202 with a monitor URL that needs no auth. The copy is made at
//! once, but the monitor reports `inProgress` on its first poll and `completed` with `resourceId` after, so
//! clients exercise their polling. A name clash at the target makes the job `failed`. The body is an
//! `asyncJobStatus` plus `resourceId`; the status codes (202 while in progress, 200 when done) are
//! [unverified]: the reference gives only the body.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Emulator;
use super::auth::Need;
use super::changes::validate_name;
use super::errors::GraphError;
use super::items::resolve_item;
use super::server::{Ctx, ItemRef};
use super::state::{Body, World};

/// One item to create: index of its parent in the plan (None: the target folder), name, content (None: folder).
type PlannedCopy = (Option<usize>, String, Option<Arc<Vec<u8>>>);

#[derive(Debug, Clone)]
pub struct CopyJob {
    pub resource_id: Option<String>,
    pub error: Option<String>,
    pub polls: u32,
}

pub fn copy(world: &mut World, ctx: &Ctx, item: &ItemRef) -> Result<Response, GraphError> {
    let (drive_id, id) = resolve_item(world, ctx, item, Need::Write)?;
    let body = ctx.json_body()?;
    let target_drive = body["parentReference"]["driveId"].as_str().unwrap_or(&drive_id).to_string();
    let target = world.drive(&target_drive).ok_or_else(GraphError::not_found)?;
    ctx.caller.require(world, Need::Write, Some(&target.site_id))?;
    let parent = match body["parentReference"]["id"].as_str() {
        Some(parent) if parent != "root" => {
            target.item(parent).map(|p| p.id.clone()).ok_or_else(GraphError::not_found)?
        }
        _ => target.root_id.clone(),
    };
    let source = world.drive(&drive_id).and_then(|d| d.item(&id)).ok_or_else(GraphError::not_found)?;
    let name = body["name"].as_str().map_or_else(|| source.name.clone(), str::to_string);
    validate_name(target, &parent, &name, source.is_folder())?;
    // Snapshot the subtree first (source and target may be the same drive).
    let source_drive = world.drive(&drive_id).ok_or_else(GraphError::not_found)?;
    let mut queue = VecDeque::from([(id.clone(), None::<usize>, name)]);
    let mut plan: Vec<PlannedCopy> = Vec::new();
    while let Some((current, parent_index, name)) = queue.pop_front() {
        let Some(node) = source_drive.item(&current) else { continue };
        let index = plan.len();
        match &node.body {
            Body::File { content, .. } => plan.push((parent_index, name, Some(content.clone()))),
            Body::Folder { children } => {
                plan.push((parent_index, name, None));
                for child in children.values() {
                    if let Some(c) = source_drive.item(child) {
                        queue.push_back((c.id.clone(), Some(index), c.name.clone()));
                    }
                }
            }
        }
    }
    let actor = ctx.caller.actor.clone();
    let target = world.drives.get_mut(&target_drive).ok_or_else(GraphError::not_found)?;
    let mut created: Vec<String> = Vec::new();
    let mut outcome = Ok(());
    for (parent_index, name, content) in plan {
        let parent_id = parent_index.and_then(|i| created.get(i).cloned()).unwrap_or_else(|| parent.clone());
        match target.create(&parent_id, &name, content, &actor, ctx.now) {
            Ok(new_id) => created.push(new_id),
            Err(e) => {
                outcome = Err(e.to_string());
                break;
            }
        }
    }
    let job_id = super::errors::new_guid();
    let job = match outcome {
        Ok(()) => CopyJob { resource_id: created.first().cloned(), error: None, polls: 0 },
        Err(e) => CopyJob { resource_id: None, error: Some(e), polls: 0 },
    };
    world.copy_jobs.insert(job_id.clone(), job);
    let monitor = format!("{}/_monitor/{job_id}", ctx.base);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, monitor)]).into_response())
}

/// `GET /_monitor/{job}`: no auth, as the service's monitor URLs.
pub async fn monitor(State(emulator): State<Emulator>, Path(job): Path<String>) -> Response {
    emulator.count("GET /_monitor/{job}");
    let mut world = emulator.lock();
    let Some(job) = world.copy_jobs.get_mut(&job) else { return GraphError::not_found().into_response() };
    job.polls += 1;
    let (status, body): (StatusCode, Value) = match (&job.error, job.polls) {
        (_, 1) => (StatusCode::ACCEPTED, json!({"status": "inProgress", "percentageComplete": 50.0})),
        (Some(error), _) => (
            StatusCode::OK,
            json!({"status": "failed", "percentageComplete": 100.0, "error": {"code": "nameAlreadyExists", "message": error}}),
        ),
        (None, _) => {
            (StatusCode::OK, json!({"status": "completed", "percentageComplete": 100.0, "resourceId": job.resource_id}))
        }
    };
    (status, axum::Json(body)).into_response()
}
