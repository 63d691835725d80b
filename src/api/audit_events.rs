//! `/api/v1/audit-events`: the audit log, for admins.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::json::ApiQuery;
use super::pagination::{PageQuery, cursor};
use super::{AppState, blocking};
use crate::audit::{self, AuditEvent, AuditFilter};
use crate::principals::Role;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An event type, or a prefix ending in `*`: `scim.*`.
    event_type: Option<String>,
    /// RFC 3339 time; only events at or after it.
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEventList {
    audit_events: Vec<AuditEvent>,
    next_cursor: Option<String>,
}

/// Audit events, oldest first (admins).
#[utoipa::path(
    get, path = "/api/v1/audit-events", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = AuditEventList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
async fn list_audit_events(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditEventList>, ApiError> {
    caller.require(Role::Admin)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (limit, after) = (page.limit()?, page.after()?);
    let since = query
        .since
        .map(|s| OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339))
        .transpose()
        .map_err(|_| ApiError::invalid("since", "is not an RFC 3339 time"))?;
    let filter = AuditFilter { event_type: query.event_type, since };
    let (events, next) = blocking(move || Ok(audit::list(&state.store, &filter, after, limit)?)).await?;
    Ok(Json(AuditEventList { audit_events: events, next_cursor: cursor(next) }))
}
