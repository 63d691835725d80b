//! Runs of a connector: start one (`sync`, 202 with the job id), the job list (with skipped scheduled runs and
//! why), one job with its per-file events, pause and resume, and the per-file sync state (conflicts are in
//! `conflicts.rs`). The connector's actor decides; these handlers ask it and show the stores.
//!
//! Every kind of connector has the same run endpoints under its own prefix: the handlers below take the kind,
//! and `run_routes!` declares the documented routes of one prefix over them (utoipa needs one annotated
//! function per path), so SMB and SharePoint share one implementation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ractor::{ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use super::managed_connector_of;
use crate::actors::connector::{ConnectorMessage, RunState, SyncRefused};
use crate::actors::connectors::ConnectorsMessage;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::json::ApiQuery;
use crate::api::pagination::PageQuery;
use crate::api::{AppState, blocking, parse_id};
use crate::connectors::ConnectorKind;
use crate::connectors::file_states::{self, FileError};
use crate::connectors::jobs::{self, Job, JobEvent, Trigger};
use crate::ids::{ConnectorId, JobId};
use crate::store::StoreError;
use crate::sync::BaseRecord;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Run past the safety guard (a mass delete that stopped a run with `SAFETY_ABORT`).
    #[serde(default)]
    force: bool,
    /// Rehash every file instead of trusting sizes and times; for SharePoint, also list the whole library
    /// instead of following the kept delta token.
    #[serde(default)]
    full_sync: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SyncStarted {
    #[schema(value_type = String)]
    job_id: JobId,
    status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobList {
    jobs: Vec<Job>,
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    job: Job,
    events: Vec<JobEvent>,
}

/// A tracked path, as `file-states` shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FileState {
    path: String,
    /// `in_sync`, `error` (with `last_error`) or `conflict` (an open conflict waits for an admin: see
    /// `conflicts`).
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    size: u64,
    /// SHA-256 of what both sides held after the last sync.
    content_hash: Option<String>,
    source_id: String,
    drive_id: String,
    #[serde(with = "time::serde::rfc3339")]
    source_modified_at: time::OffsetDateTime,
    #[schema(value_type = Option<Object>)]
    last_error: Option<FileError>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FileStateList {
    file_states: Vec<FileState>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileStateQuery {
    /// `in_sync`, `error` or `conflict`.
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(super) async fn actor_of(state: &AppState, id: ConnectorId) -> Result<ActorRef<ConnectorMessage>, ApiError> {
    let found =
        ractor::call_t!(state.connector_actors, ConnectorsMessage::Get, 10_000, id).map_err(ApiError::internal)?;
    found.ok_or_else(|| ApiError::NotFound(format!("connector {id} not found")))
}

pub(super) async fn start_sync(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> Result<(StatusCode, Json<SyncStarted>), ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let actor = actor_of(&state, connector.id).await?;
    let (force, full_sync) = (query.force, query.full_sync);
    let started = ractor::call_t!(
        actor,
        |reply| ConnectorMessage::Sync { trigger: Trigger::Manual, force, full_sync, reply },
        10_000
    )
    .map_err(ApiError::internal)?;
    match started {
        Ok(job_id) => Ok((StatusCode::ACCEPTED, Json(SyncStarted { job_id, status: "running" }))),
        Err(SyncRefused::Running(job)) => Err(ApiError::Conflict {
            code: "SYNC_IN_PROGRESS",
            message: format!("a run is in progress ({job})"),
            details: serde_json::json!({ "job_id": job }),
        }),
        Err(SyncRefused::Paused) => Err(ApiError::Conflict {
            code: "CONNECTOR_PAUSED",
            message: "the connector is paused: resume it first".into(),
            details: serde_json::json!({}),
        }),
        Err(SyncRefused::Store(e)) => Err(ApiError::internal(e)),
    }
}

pub(super) async fn list_jobs(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<JobList>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let (limit, before) = (page.limit()?, page.after()?.map(JobId::from_bytes));
    let store = state.store.clone();
    let (jobs, next) = blocking(move || Ok(jobs::list(&store, connector.id, before, limit)?)).await?;
    Ok(Json(JobList { jobs, next_cursor: crate::api::pagination::cursor(next.map(JobId::to_bytes)) }))
}

pub(super) async fn get_job(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Json<JobDetail>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let job_id: JobId = parse_id(&job_id, "job")?;
    let store = state.store.clone();
    let detail = blocking(move || {
        let job = jobs::get(&store, connector.id, job_id)?
            .ok_or_else(|| ApiError::NotFound(format!("job {job_id} not found")))?;
        let events = jobs::events(&store, job_id, None, 1000)?;
        Ok(JobDetail { job, events })
    })
    .await?;
    Ok(Json(detail))
}

pub(super) async fn pause(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunState>, ApiError> {
    control(kind, &state, &caller, &id, ConnectorMessage::Pause).await
}

pub(super) async fn resume(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunState>, ApiError> {
    control(kind, &state, &caller, &id, ConnectorMessage::Resume).await
}

/// Sends a pause or resume to the connector's actor and answers with its new state.
async fn control(
    kind: ConnectorKind,
    state: &AppState,
    caller: &Caller,
    id: &str,
    message: fn(RpcReplyPort<Result<RunState, StoreError>>) -> ConnectorMessage,
) -> Result<Json<RunState>, ApiError> {
    let connector = managed_connector_of(state, caller, id, kind).await?;
    let actor = actor_of(state, connector.id).await?;
    let answer = ractor::call_t!(actor, message, 10_000).map_err(ApiError::internal)?;
    Ok(Json(answer?))
}

fn view(record: BaseRecord, error: Option<FileError>, in_conflict: bool) -> FileState {
    let status = match (in_conflict, &error) {
        (true, _) => "conflict",
        (false, Some(_)) => "error",
        (false, None) => "in_sync",
    };
    FileState {
        path: record.path.to_string(),
        status,
        kind: if record.drive.kind == crate::sync::Kind::Folder { "folder" } else { "file" },
        size: record.drive.size,
        content_hash: record.sha256.map(|h| h.to_string()),
        source_id: record.source.id.to_string(),
        drive_id: record.drive.id.to_string(),
        source_modified_at: record.source.modified,
        last_error: error,
    }
}

pub(super) async fn list_file_states(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<FileStateQuery>,
) -> Result<Json<FileStateList>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let limit = PageQuery { limit: query.limit, cursor: None }.limit()?;
    let after = query
        .cursor
        .map(|c| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, c))
        .transpose()
        .map_err(|_| ApiError::invalid("cursor", "is not a cursor"))?;
    let wanted = match query.status.as_deref() {
        None => None,
        Some(s @ ("in_sync" | "error" | "conflict")) => Some(s.to_owned()),
        Some(_) => return Err(ApiError::invalid("status", "must be in_sync, error or conflict")),
    };
    let store = state.store.clone();
    let (page, open) = blocking(move || {
        let page = file_states::list(&store, connector.id, after.as_deref(), limit)?;
        let open: std::collections::HashSet<crate::sync::SyncPath> =
            file_states::open_conflicts(&store, connector.id)?.into_iter().map(|c| c.path).collect();
        Ok((page, open))
    })
    .await?;
    let file_states: Vec<FileState> = page
        .states
        .into_iter()
        .map(|(record, error)| {
            let in_conflict = open.contains(&record.path);
            view(record, error, in_conflict)
        })
        .filter(|s| wanted.as_deref().is_none_or(|w| w == s.status))
        .collect();
    let next_cursor = page.next.map(|k| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, k));
    Ok(Json(FileStateList { file_states, next_cursor }))
}
