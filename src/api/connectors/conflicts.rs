//! Conflicts of a connector (strategy `MANUAL`): the open ones, and their resolution by an admin.
//!
//! The handlers hold nothing specific to SMB: `list` and `resolve` take the connector id and serve any connector
//! kind; each kind mounts them under its own base path (`/smb-connectors/...` here) with its own OpenAPI entry.
//! Resolving is the connector actor's business (it is a run of its own, so it never races a sync); this asks it
//! and answers with the closed record once the chosen content is on both sides.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::managed_connector_of;
use super::runs::actor_of;
use crate::actors::connector::{ConnectorMessage, ResolveRefused};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::ApiJson;
use crate::api::{AppState, blocking, parse_id};
use crate::audit::AuditActor;
use crate::connectors::{ConnectorKind, file_states};
use crate::ids::{ConflictId, JobId};
use crate::sync::conflict::{ConflictRecord, Resolution};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_smb_conflicts))
        .routes(routes!(resolve_smb_conflict))
        .routes(routes!(list_sharepoint_conflicts))
        .routes(routes!(resolve_sharepoint_conflict))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    #[schema(value_type = Vec<Object>)]
    conflicts: Vec<ConflictRecord>,
    next_cursor: Option<String>,
}

/// The admin's choice.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// `keep_source` (the source's content wins on both sides), `keep_drive` (ScaiDrive's content wins), or
    /// `keep_both` (the source's content keeps the name; ScaiDrive's moves to `name (conflict).ext` on both sides).
    #[schema(value_type = String)]
    resolution: Resolution,
}

/// A resolved conflict: the record with `resolution` and `resolved_at`, and the job that carried it out.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Resolved {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    conflict: ConflictRecord,
    #[schema(value_type = String)]
    job_id: JobId,
}

/// Open conflicts of any connector kind, oldest first.
pub(super) async fn list(
    kind: ConnectorKind,
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ConflictList, ApiError> {
    let connector = managed_connector_of(state, caller, id, kind).await?;
    let store = state.store.clone();
    let conflicts = blocking(move || Ok(file_states::open_conflicts(&store, connector.id)?)).await?;
    Ok(ConflictList { conflicts, next_cursor: None })
}

/// Resolves a conflict of any connector kind: the connector's actor runs it and answers when it is done.
pub(super) async fn resolve(
    kind: ConnectorKind,
    state: &AppState,
    caller: &Caller,
    id: &str,
    conflict: &str,
    body: ResolveBody,
) -> Result<Resolved, ApiError> {
    let connector = managed_connector_of(state, caller, id, kind).await?;
    let conflict: ConflictId = parse_id(conflict, "conflict")?;
    let actor = actor_of(state, connector.id).await?;
    let by = AuditActor::User(caller.user.id);
    let choice = body.resolution;
    // No timeout: the answer comes once the chosen content has crossed, however large the file.
    let answer = actor
        .call(|reply| ConnectorMessage::Resolve { conflict, choice, by, reply }, None)
        .await
        .map_err(ApiError::internal)?;
    let answer = match answer {
        ractor::rpc::CallResult::Success(answer) => answer,
        _ => return Err(ApiError::internal("the connector stopped during the resolution")),
    };
    match answer {
        Ok((conflict, job_id)) => Ok(Resolved { conflict, job_id }),
        Err(refused) => Err(refusal(refused, conflict)),
    }
}

fn refusal(refused: ResolveRefused, conflict: ConflictId) -> ApiError {
    let conflict_error = |code, message: String, details| ApiError::Conflict { code, message, details };
    match refused {
        ResolveRefused::NotFound => ApiError::NotFound(format!("conflict {conflict} not found")),
        ResolveRefused::Running(job) => conflict_error(
            "SYNC_IN_PROGRESS",
            format!("a run is in progress ({job}): resolve once it ends"),
            serde_json::json!({ "job_id": job }),
        ),
        ResolveRefused::Paused => {
            conflict_error("CONNECTOR_PAUSED", "the connector is paused: resume it first".into(), serde_json::json!({}))
        }
        ResolveRefused::AlreadyResolved(record) => conflict_error(
            "CONFLICT_ALREADY_RESOLVED",
            format!("conflict {conflict} was already resolved"),
            serde_json::json!({ "resolution": record.resolution, "resolved_at": record.resolved_at }),
        ),
        ResolveRefused::Failed { job, error } if error.code == crate::connectors::resolution::CONFLICT_CHANGED => {
            conflict_error("CONFLICT_CHANGED", error.message, serde_json::json!({ "job_id": job }))
        }
        ResolveRefused::Failed { job, error } => conflict_error(
            "RESOLUTION_FAILED",
            format!("the resolution did not complete: {}", error.message),
            serde_json::json!({ "job_id": job, "code": error.code }),
        ),
        ResolveRefused::Store(e) => ApiError::internal(e),
    }
}

/// Open conflicts (strategy `MANUAL`): both sides' entries when the conflict was found, oldest first.
#[utoipa::path(
    get, path = "/api/v1/smb-connectors/{id}/conflicts", tag = "smb-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = ConflictList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_smb_conflicts(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConflictList>, ApiError> {
    Ok(Json(list(ConnectorKind::Smb, &state, &caller, &id).await?))
}

/// Resolve a conflict: the chosen content wins on both sides and the other stays a ScaiDrive version
/// (`keep_both` keeps both under two names). Answers once done. 409 `SYNC_IN_PROGRESS` while a run goes on,
/// `CONNECTOR_PAUSED` while paused, `CONFLICT_ALREADY_RESOLVED`, `CONFLICT_CHANGED` when a side changed since
/// the conflict was found (the record then shows both sides as they are now), `RESOLUTION_FAILED` with the
/// per-file code when the transfer failed (a locked file: retry later).
#[utoipa::path(
    post, path = "/api/v1/smb-connectors/{id}/conflicts/{cfl_id}/resolve", tag = "smb-connectors",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id"), ("cfl_id" = String, Path, description = "cfl_ id")),
    request_body = ResolveBody,
    responses(
        (status = 200, body = Resolved), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn resolve_smb_conflict(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, cfl_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<Json<Resolved>, ApiError> {
    Ok(Json(resolve(ConnectorKind::Smb, &state, &caller, &id, &cfl_id, body).await?))
}

/// Open conflicts (strategy `MANUAL`): both sides' entries when the conflict was found, oldest first.
#[utoipa::path(
    get, path = "/api/v1/sharepoint-connectors/{id}/conflicts", tag = "sharepoint-connectors",
    security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = ConflictList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn list_sharepoint_conflicts(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConflictList>, ApiError> {
    Ok(Json(list(ConnectorKind::Sharepoint, &state, &caller, &id).await?))
}

/// Resolve a conflict, as for SMB connectors: the chosen content wins on both sides (`keep_both` keeps both
/// under two names). Answers once done.
#[utoipa::path(
    post, path = "/api/v1/sharepoint-connectors/{id}/conflicts/{cfl_id}/resolve", tag = "sharepoint-connectors",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id"), ("cfl_id" = String, Path, description = "cfl_ id")),
    request_body = ResolveBody,
    responses(
        (status = 200, body = Resolved), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
async fn resolve_sharepoint_conflict(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, cfl_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<Json<Resolved>, ApiError> {
    Ok(Json(resolve(ConnectorKind::Sharepoint, &state, &caller, &id, &cfl_id, body).await?))
}
