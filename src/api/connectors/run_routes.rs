//! The documented run routes of each connector kind (`/api/v1/smb-connectors/{id}/sync`,
//! `/api/v1/sharepoint-connectors/{id}/sync`, ...). utoipa wants one annotated function per path, so
//! `run_routes!` writes, per kind, thin handlers that name their path and forward to the one implementation in
//! `runs.rs`, which takes the kind (a connector of another kind is "not found" under this prefix).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::runs::{self, FileStateList, FileStateQuery, JobDetail, JobList, SyncQuery, SyncStarted};
use crate::actors::connector::RunState;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::ApiQuery;
use crate::api::pagination::PageQuery;
use crate::connectors::ConnectorKind;

macro_rules! run_routes {
    ($module:ident, $kind:expr, $prefix:literal, $tag:literal) => {
        pub mod $module {
            use utoipa_axum::router::OpenApiRouter;
            use utoipa_axum::routes;

            use super::*;

            pub fn routes() -> OpenApiRouter<AppState> {
                OpenApiRouter::new()
                    .routes(routes!(start_sync))
                    .routes(routes!(list_jobs))
                    .routes(routes!(get_job))
                    .routes(routes!(pause))
                    .routes(routes!(resume))
                    .routes(routes!(list_file_states))
            }

            /// Start a run now: 202 with its job id. `SYNC_IN_PROGRESS` (409) while one runs, `CONNECTOR_PAUSED`
            /// while paused.
            #[utoipa::path(
                post, path = concat!($prefix, "/{id}/sync"), tag = $tag,
                operation_id = concat!(stringify!($module), "_start_sync"), security(("bearer" = [])),
                params(("id" = String, Path, description = "cnn_ id"), SyncQuery),
                responses(
                    (status = 202, body = SyncStarted), (status = 401, body = ErrorBody),
                    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
                )
            )]
            async fn start_sync(
                caller: Caller,
                state: State<AppState>,
                id: Path<String>,
                query: ApiQuery<SyncQuery>,
            ) -> Result<(StatusCode, Json<SyncStarted>), ApiError> {
                runs::start_sync($kind, caller, state, id, query).await
            }

            /// The connector's jobs, newest first, including scheduled runs that were skipped and why.
            #[utoipa::path(
                get, path = concat!($prefix, "/{id}/jobs"), tag = $tag,
                operation_id = concat!(stringify!($module), "_list_jobs"), security(("bearer" = [])),
                params(("id" = String, Path, description = "cnn_ id"), PageQuery),
                responses(
                    (status = 200, body = JobList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)
                )
            )]
            async fn list_jobs(
                caller: Caller,
                state: State<AppState>,
                id: Path<String>,
                page: ApiQuery<PageQuery>,
            ) -> Result<Json<JobList>, ApiError> {
                runs::list_jobs($kind, caller, state, id, page).await
            }

            /// One job with its per-file events (the first 1000).
            #[utoipa::path(
                get, path = concat!($prefix, "/{id}/jobs/{job_id}"), tag = $tag,
                operation_id = concat!(stringify!($module), "_get_job"), security(("bearer" = [])),
                params(("id" = String, Path, description = "cnn_ id"), ("job_id" = String, Path, description = "job_ id")),
                responses(
                    (status = 200, body = JobDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)
                )
            )]
            async fn get_job(
                caller: Caller,
                state: State<AppState>,
                ids: Path<(String, String)>,
            ) -> Result<Json<JobDetail>, ApiError> {
                runs::get_job($kind, caller, state, ids).await
            }

            /// Pause: a running job stops between files and waits for `resume`; scheduled runs are skipped
            /// meanwhile.
            #[utoipa::path(
                post, path = concat!($prefix, "/{id}/pause"), tag = $tag,
                operation_id = concat!(stringify!($module), "_pause"), security(("bearer" = [])),
                params(("id" = String, Path, description = "cnn_ id")),
                responses(
                    (status = 200, body = RunState), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)
                )
            )]
            async fn pause(caller: Caller, state: State<AppState>, id: Path<String>) -> Result<Json<RunState>, ApiError> {
                runs::pause($kind, caller, state, id).await
            }

            /// Resume: the paused job continues where it stopped.
            #[utoipa::path(
                post, path = concat!($prefix, "/{id}/resume"), tag = $tag,
                operation_id = concat!(stringify!($module), "_resume"), security(("bearer" = [])),
                params(("id" = String, Path, description = "cnn_ id")),
                responses(
                    (status = 200, body = RunState), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)
                )
            )]
            async fn resume(caller: Caller, state: State<AppState>, id: Path<String>) -> Result<Json<RunState>, ApiError> {
                runs::resume($kind, caller, state, id).await
            }

            /// Tracked paths with their sync state and last error, in path order.
            #[utoipa::path(
                get, path = concat!($prefix, "/{id}/file-states"), tag = $tag,
                operation_id = concat!(stringify!($module), "_list_file_states"), security(("bearer" = [])),
                params(("id" = String, Path, description = "cnn_ id"), FileStateQuery),
                responses(
                    (status = 200, body = FileStateList), (status = 401, body = ErrorBody),
                    (status = 404, body = ErrorBody)
                )
            )]
            async fn list_file_states(
                caller: Caller,
                state: State<AppState>,
                id: Path<String>,
                query: ApiQuery<FileStateQuery>,
            ) -> Result<Json<FileStateList>, ApiError> {
                runs::list_file_states($kind, caller, state, id, query).await
            }
        }
    };
}

run_routes!(smb, ConnectorKind::Smb, "/api/v1/smb-connectors", "smb-connectors");
run_routes!(sharepoint, ConnectorKind::Sharepoint, "/api/v1/sharepoint-connectors", "sharepoint-connectors");
