//! A connector's health and a connectivity check: `GET .../{id}/status` (run state, live progress of the current
//! job, last success, the day/week/month totals, the retry queue, storage in the target share) and
//! `POST .../{id}/test` (log in and look at the configured folder, changing nothing). Both are built from
//! kind-neutral pieces (`status_of`, `TestResult::from_probe`); the SMB routes here pass the SMB probe, and the
//! SharePoint routes can mount the same pieces with theirs.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::managed_connector_of;
use super::runs::actor_of;
use crate::actors::connector::{ConnectorMessage, RunState};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::{AppState, blocking};
use crate::connectors::jobs::{self, Job, JobError};
use crate::connectors::status::{self, Summary};
use crate::connectors::{Connector, ConnectorKind, launch};
use crate::ids::{ConnectorId, ShareId};
use crate::sides::smb::{SmbClient, SmbError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(smb_status)).routes(routes!(smb_test))
}

/// Storage in the connector's target share (the whole share: other writers count too).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Storage {
    #[schema(value_type = String)]
    share_id: ShareId,
    /// Bytes of the live files (versions and trash are not counted).
    used_bytes: u64,
    file_count: u64,
    quota_bytes: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorStatus {
    #[schema(value_type = String)]
    connector_id: ConnectorId,
    /// `idle`, `running` (with `job_id`) or `paused` (with the job that resume continues, if any).
    run: RunState,
    /// The running or paused job as saved so far: its counters grow while it runs (saved every few hundred
    /// files or seconds).
    current_job: Option<Job>,
    #[serde(flatten)]
    summary: Summary,
    storage: Storage,
}

/// The status of any connector: its actor's run state, the store's summary, and the target share's usage.
pub(super) async fn status_of(state: &AppState, connector: Connector) -> Result<ConnectorStatus, ApiError> {
    let actor = actor_of(state, connector.id).await?;
    let run = ractor::call_t!(actor, ConnectorMessage::GetState, 10_000).map_err(ApiError::internal)?;
    let current = match &run {
        RunState::Running { job_id, .. } | RunState::Paused { job_id: Some(job_id) } => Some(*job_id),
        RunState::Paused { job_id: None } | RunState::Idle => None,
    };
    let (store, drive, now) = (state.store.clone(), state.drive.clone(), state.connectors.clock().now());
    let (id, share_id) = (connector.id, connector.common.target_share_id);
    blocking(move || {
        let current_job = current.map(|job| jobs::get(&store, id, job)).transpose()?.flatten();
        let summary = status::summary(&store, id, now)?;
        let share = drive.share(share_id)?;
        let storage = Storage {
            share_id,
            used_bytes: share.used_bytes,
            file_count: share.file_count,
            quota_bytes: share.quota_bytes,
        };
        Ok(ConnectorStatus { connector_id: id, run, current_job, summary, storage })
    })
    .await
}

/// What `test` answers: whether the connector could log in and reach its folder, and if not, why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    success: bool,
    /// What was reached (`Connected to host\share as DOMAIN\user`), or what went wrong.
    message: String,
    /// The failure, with a stable code: `CONNECTOR_AUTH_FAILED`, `CONNECTOR_UNREACHABLE`,
    /// `CONNECTOR_SHARE_NOT_FOUND`, `CONNECTOR_BASE_PATH_NOT_FOUND`, ...
    error: Option<JobError>,
}

impl TestResult {
    /// A probe's outcome: `Ok(what was reached)` or `Err((code, message))`.
    pub(super) fn from_probe(outcome: Result<String, (&str, String)>) -> Self {
        match outcome {
            Ok(message) => Self { success: true, message, error: None },
            Err((code, message)) => Self {
                success: false,
                message: message.clone(),
                error: Some(JobError { code: code.to_owned(), message }),
            },
        }
    }
}

/// The connector's state, the live progress of its current job, its last successful run, files synced and
/// errors over the last day, week and month, the paths waiting for a retry, and the storage it fills.
#[utoipa::path(
    get, path = "/api/v1/smb-connectors/{id}/status", tag = "smb-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = ConnectorStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn smb_status(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConnectorStatus>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, ConnectorKind::Smb).await?;
    Ok(Json(status_of(&state, connector).await?))
}

/// Log in with the stored credentials and look at the share and base path; nothing is changed. Answers 200
/// either way: `success: false` carries why (wrong credentials, unreachable server, missing share or folder).
#[utoipa::path(
    post, path = "/api/v1/smb-connectors/{id}/test", tag = "smb-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = TestResult), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn smb_test(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, ConnectorKind::Smb).await?;
    let config = launch::smb_config(&state.connectors, &connector).map_err(ApiError::internal)?;
    let outcome = SmbClient::probe(config).await.map_err(|e| {
        let code = match e {
            // The share answered, the configured folder is not there (or is a file).
            SmbError::NotFound { .. } | SmbError::NotADirectory { .. } => "CONNECTOR_BASE_PATH_NOT_FOUND",
            ref other => other.code(),
        };
        (code, e.to_string())
    });
    Ok(Json(TestResult::from_probe(outcome)))
}
