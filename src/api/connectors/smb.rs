//! `/api/v1/smb-connectors`: create, read, list, update and delete SMB connectors. The password is write-only:
//! reads say `password_set`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CommonView, managed_connector_of, manages, remove_connector, visible_connectors};
use crate::actors::connectors::ConnectorsMessage;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::ApiJson;
use crate::api::{AppState, blocking};
use crate::connectors::settings::SMB;
use crate::connectors::{Connector, ConnectorKind, ConnectorsError, Problems, SmbInput};
use crate::ids::ConnectorId;
use crate::secrets::Plaintext;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_connectors, create_connector)).routes(routes!(
        get_connector,
        update_connector,
        delete_connector
    ))
}

/// An SMB connector as the API shows it: every setting, and `password_set` instead of the password.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SmbConnectorView {
    #[schema(value_type = String)]
    id: ConnectorId,
    server_host: String,
    server_port: u16,
    share_name: String,
    base_path: String,
    domain: String,
    username: String,
    password_set: bool,
    #[serde(flatten)]
    common: CommonView,
}

fn view(c: Connector) -> Result<SmbConnectorView, ApiError> {
    let password_set = c.has_secret("password");
    let smb = c.smb.clone().ok_or_else(|| ApiError::internal("an SMB connector without SMB settings"))?;
    Ok(SmbConnectorView {
        id: c.id,
        server_host: smb.server_host,
        server_port: smb.server_port,
        share_name: smb.share_name,
        base_path: smb.base_path,
        domain: smb.domain,
        username: smb.username,
        password_set,
        common: CommonView::of(c),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SmbConnectorList {
    connectors: Vec<SmbConnectorView>,
    next_cursor: Option<String>,
}

/// The names of the fields a request sets, for the audit log (never their values).
fn fields_of(input: &SmbInput) -> Vec<String> {
    let own = [
        ("server", input.server.is_some()),
        ("server_host", input.server_host.is_some()),
        ("server_port", input.server_port.is_some()),
        ("share_name", input.share_name.is_some()),
        ("base_path", input.base_path.is_some()),
        ("domain", input.domain.is_some()),
        ("username", input.username.is_some()),
        ("password", input.password.is_some()),
    ];
    let mut fields = input.common.present_fields();
    fields.extend(own.iter().filter(|(_, set)| *set).map(|(name, _)| *name));
    fields.into_iter().map(str::to_owned).collect()
}

/// Create an SMB connector. Needs `manage` on the target share.
#[utoipa::path(
    post, path = "/api/v1/smb-connectors", tag = "smb-connectors", request_body = SmbInput, security(("bearer" = [])),
    responses(
        (status = 201, body = SmbConnectorView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
async fn create_connector(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SmbInput>,
) -> Result<(StatusCode, Json<SmbConnectorView>), ApiError> {
    let mut problems = Problems::default();
    let smb = input.create_server(&mut problems);
    let password = input.password.clone().map(Plaintext::new);
    let common = input.common.create(SMB, &mut problems);
    let (Some(common), Some(password), true) = (common, password, problems.0.is_empty()) else {
        return Err(ConnectorsError::Invalid(problems.0).into());
    };
    if !manages(&state, &caller, common.target_share_id).await? {
        return Err(ApiError::Forbidden("creating a connector needs manage permission on the target share".into()));
    }
    let connectors = state.connectors.clone();
    let acting = caller.acting();
    let created = blocking(move || Ok(connectors.create_smb(&acting, common, smb, &password)?)).await?;
    state.connector_actors.cast(ConnectorsMessage::Added(created.id)).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(view(created)?)))
}

/// The SMB connectors the caller manages.
#[utoipa::path(
    get, path = "/api/v1/smb-connectors", tag = "smb-connectors", security(("bearer" = [])),
    responses((status = 200, body = SmbConnectorList), (status = 401, body = ErrorBody))
)]
async fn list_connectors(caller: Caller, State(state): State<AppState>) -> Result<Json<SmbConnectorList>, ApiError> {
    let connectors = visible_connectors(&state, &caller, ConnectorKind::Smb).await?;
    Ok(Json(SmbConnectorList {
        connectors: connectors.into_iter().map(view).collect::<Result<_, _>>()?,
        next_cursor: None,
    }))
}

/// One SMB connector.
#[utoipa::path(
    get, path = "/api/v1/smb-connectors/{id}", tag = "smb-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 200, body = SmbConnectorView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_connector(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SmbConnectorView>, ApiError> {
    Ok(Json(view(managed_connector_of(&state, &caller, &id, ConnectorKind::Smb).await?)?))
}

/// Change settings or rotate credentials. `target_share_id` cannot change (`IMMUTABLE_FIELD`).
#[utoipa::path(
    patch, path = "/api/v1/smb-connectors/{id}", tag = "smb-connectors", request_body = SmbInput,
    security(("bearer" = [])), params(("id" = String, Path, description = "cnn_ id")),
    responses(
        (status = 200, body = SmbConnectorView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
async fn update_connector(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SmbInput>,
) -> Result<Json<SmbConnectorView>, ApiError> {
    let current = managed_connector_of(&state, &caller, &id, ConnectorKind::Smb).await?;
    if input.common.target_share_id.as_ref().is_some_and(|t| *t != current.common.target_share_id.to_string()) {
        return Err(ConnectorsError::Immutable("target_share_id").into());
    }
    let fields = fields_of(&input);
    let password = input.password.clone().map(Plaintext::new);
    let connectors = state.connectors.clone();
    let acting = caller.acting();
    let updated = blocking(move || {
        Ok(connectors.update(
            &acting,
            current.id,
            fields,
            password.as_ref().map(|p| ("password", p)),
            move |connector| {
                let mut problems = Problems::default();
                let smb = connector.smb.clone().ok_or(ConnectorsError::NotFound(connector.id))?;
                let smb = input.apply_server(smb, &mut problems);
                let mut common_input = input.common;
                common_input.target_share_id = None;
                let common = common_input.apply_to(connector.common.clone(), SMB, &mut problems);
                if !problems.0.is_empty() {
                    return Err(ConnectorsError::Invalid(problems.0));
                }
                connector.smb = Some(smb);
                connector.common = common;
                Ok(())
            },
        )?)
    })
    .await?;
    Ok(Json(view(updated)?))
}

/// Delete a connector and its identity mappings. What it synced stays in ScaiDrive; the SMB share is untouched.
#[utoipa::path(
    delete, path = "/api/v1/smb-connectors/{id}", tag = "smb-connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "cnn_ id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn delete_connector(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    remove_connector(&state, &caller, &id, ConnectorKind::Smb).await
}
