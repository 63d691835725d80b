//! `/api/v1/{smb,sharepoint}-connectors/{id}/identity-mappings`: explicit source principal -> ScaiDrive
//! principal mappings (an NT account or SID for SMB, an Azure AD object id for SharePoint), one by one, or for
//! SMB as a CSV table (`.../import`, all or nothing; the format is `identity::csv`, which speaks SIDs). The
//! documented routes of each kind are declared by `mapping_routes!` over the one implementation here.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;

use super::managed_connector_of;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody, FieldError};
use crate::api::json::ApiJson;
use crate::api::{AppState, blocking, parse_id};
use crate::connectors::mappings::{IdentityMapping, NewMapping};
use crate::connectors::{ConnectorKind, ConnectorsError};
use crate::drive::PrincipalId;
use crate::identity::csv;
use crate::ids::{GroupId, MappingId, UserId};

#[derive(Serialize, utoipa::ToSchema)]
pub struct MappingList {
    identity_mappings: Vec<IdentityMapping>,
    next_cursor: Option<String>,
}

pub(super) async fn create_mapping(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewMapping>,
) -> Result<(StatusCode, Json<IdentityMapping>), ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let (connectors, principals, acting) = (state.connectors.clone(), state.principals.clone(), caller.acting());
    let created = blocking(move || {
        let exists = |id: &str| match (id.parse::<UserId>(), id.parse::<GroupId>()) {
            (Ok(user), _) => principals.get_user(user).is_ok(),
            (_, Ok(group)) => principals.get_group(group).is_ok(),
            _ => false,
        };
        new.validate(kind, exists).map_err(ConnectorsError::Invalid)?;
        Ok(connectors.add_mapping(&acting, connector.id, new)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub(super) async fn list_mappings(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MappingList>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let connectors = state.connectors.clone();
    let identity_mappings = blocking(move || Ok(connectors.mappings(connector.id)?)).await?;
    Ok(Json(MappingList { identity_mappings, next_cursor: None }))
}

/// What an import did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Rows whose SID had no mapping yet.
    created: usize,
    /// Rows that changed the target of an existing mapping of the same SID.
    replaced: usize,
}

pub(super) async fn import_mappings(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if mime != "text/csv" {
        return Err(ApiError::UnsupportedMediaType(format!("expected text/csv, got '{content_type}'")));
    }
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::invalid("body", "must be UTF-8 text"))?;
    let (connectors, principals, acting) = (state.connectors.clone(), state.principals.clone(), caller.acting());
    let (created, replaced) = blocking(move || {
        let exists = |p: PrincipalId| match p {
            PrincipalId::User(user) => principals.get_user(user).is_ok(),
            PrincipalId::Group(group) => principals.get_group(group).is_ok(),
        };
        let rows = csv::parse(&text, exists).map_err(|problems| {
            ApiError::Validation(
                problems
                    .into_iter()
                    .map(|p| FieldError { field: format!("lines[{}].{}", p.line, p.column), message: p.message })
                    .collect(),
            )
        })?;
        Ok(connectors.import_mappings(&acting, connector.id, rows)?)
    })
    .await?;
    Ok(Json(ImportReport { created, replaced }))
}

pub(super) async fn delete_mapping(
    kind: ConnectorKind,
    caller: Caller,
    State(state): State<AppState>,
    Path((id, mapping_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let connector = managed_connector_of(&state, &caller, &id, kind).await?;
    let mapping: MappingId = parse_id(&mapping_id, "identity mapping")?;
    let (connectors, acting) = (state.connectors.clone(), caller.acting());
    let removed = blocking(move || Ok(connectors.remove_mapping(&acting, connector.id, mapping)?)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("identity mapping {mapping} not found")))
    }
}

macro_rules! mapping_routes {
    ($module:ident, $kind:expr, $prefix:literal, $tag:literal, $principal:literal) => {
        pub mod $module {
            use utoipa_axum::router::OpenApiRouter;
            use utoipa_axum::routes;

            use super::*;

            pub fn routes() -> OpenApiRouter<AppState> {
                OpenApiRouter::new().routes(routes!(list_mappings, create_mapping)).routes(routes!(delete_mapping))
            }

            #[doc = concat!("Map ", $principal, " to a ScaiDrive user or group.")]
            #[utoipa::path(
                        post, path = concat!($prefix, "/{id}/identity-mappings"), tag = $tag, request_body = NewMapping,
                        operation_id = concat!(stringify!($module), "_create_mapping"),
                        security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
                        responses(
                            (status = 201, body = IdentityMapping), (status = 401, body = ErrorBody),
                            (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
                        )
                    )]
            async fn create_mapping(
                caller: Caller,
                state: State<AppState>,
                id: Path<String>,
                new: ApiJson<NewMapping>,
            ) -> Result<(StatusCode, Json<IdentityMapping>), ApiError> {
                super::create_mapping($kind, caller, state, id, new).await
            }

            /// The connector's identity mappings.
            #[utoipa::path(
                        get, path = concat!($prefix, "/{id}/identity-mappings"), tag = $tag,
                        operation_id = concat!(stringify!($module), "_list_mappings"), security(("bearer" = [])),
                        params(("id" = String, Path, description = "cnn_ id")),
                        responses(
                            (status = 200, body = MappingList), (status = 401, body = ErrorBody),
                            (status = 404, body = ErrorBody)
                        )
                    )]
            async fn list_mappings(
                caller: Caller,
                state: State<AppState>,
                id: Path<String>,
            ) -> Result<Json<MappingList>, ApiError> {
                super::list_mappings($kind, caller, state, id).await
            }

            /// Remove a mapping.
            #[utoipa::path(
                        delete, path = concat!($prefix, "/{id}/identity-mappings/{mapping_id}"), tag = $tag,
                        operation_id = concat!(stringify!($module), "_delete_mapping"), security(("bearer" = [])),
                        params(
                            ("id" = String, Path, description = "cnn_ id"),
                            ("mapping_id" = String, Path, description = "map_ id")
                        ),
                        responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
                    )]
            async fn delete_mapping(
                caller: Caller,
                state: State<AppState>,
                ids: Path<(String, String)>,
            ) -> Result<StatusCode, ApiError> {
                super::delete_mapping($kind, caller, state, ids).await
            }
        }
    };
}

mapping_routes!(
    smb,
    ConnectorKind::Smb,
    "/api/v1/smb-connectors",
    "smb-connectors",
    "an SMB principal (`DOMAIN\\name` or a SID)"
);
mapping_routes!(
    sharepoint,
    ConnectorKind::Sharepoint,
    "/api/v1/sharepoint-connectors",
    "sharepoint-connectors",
    "an Azure AD user or group (its object id, in `smb_principal`)"
);

/// The CSV import, SMB only (its rows name SIDs).
pub mod smb_import {
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    use super::*;

    pub fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(import_mappings))
    }

    /// Import `smb-sid,scaidrive-user-id` rows (`text/csv`, header optional). Every row is validated and nothing
    /// is imported unless all are good; bad rows come back as `VALIDATION_FAILED` with one entry per problem in
    /// `details.fields`, named `lines[N].smb-sid`, `lines[N].scaidrive-user-id` or `lines[N].row` (N: 1-based
    /// line).
    #[utoipa::path(
        post, path = "/api/v1/smb-connectors/{id}/identity-mappings/import", tag = "smb-connectors",
        request_body(content = String, content_type = "text/csv"),
        security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
        responses(
            (status = 200, body = ImportReport), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)
        )
    )]
    async fn import_mappings(
        caller: Caller,
        state: State<AppState>,
        id: Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Json<ImportReport>, ApiError> {
        super::import_mappings(ConnectorKind::Smb, caller, state, id, headers, body).await
    }
}
