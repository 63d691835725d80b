//! Graph access for one SharePoint connector, shared by its runs and its API helpers (`test`, `sites`,
//! `drives`, directory search): unseals the credentials, builds the token source for the connector's grant
//! (app-only, or the user's refresh token), and stores the refresh token again whenever Graph rotated it, so
//! the next sign-in uses the newest one (GRAPH.md 1.3: persist every rotation, discard the old).

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;

use super::{AuthType, CLIENT_SECRET, REFRESH_TOKEN, SharePointSettings};
use crate::config::SharePointEndpoints;
use crate::connectors::{Connector, Connectors, ConnectorsError};
use crate::ids::ConnectorId;
use crate::secrets::Plaintext;
use crate::sides::sharepoint::client::{Call, encode_segment};
use crate::sides::sharepoint::{AuthConfig, Credential, Grant, GraphClient, Sleeper, TokenSource, TokioSleeper};
use crate::sync::side::{ErrorCode, SideError};

/// Why Graph could not be used for this connector.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A setting the operation needs is missing (`drive_id` before a run, `redirect_uri` before `authorize`).
    #[error("{field}: {message}")]
    NotReady { field: &'static str, message: String },
    /// Graph or the token endpoint refused or could not be reached (stable code inside).
    #[error(transparent)]
    Graph(#[from] SideError),
    #[error(transparent)]
    Connectors(#[from] ConnectorsError),
}

impl AccessError {
    /// The stable code a job or an API answer shows.
    pub fn code(&self) -> &'static str {
        match self {
            AccessError::NotReady { .. } => "VALIDATION_FAILED",
            AccessError::Graph(e) => e.code.as_str(),
            AccessError::Connectors(_) => "INTERNAL",
        }
    }
}

/// Signed-in access to Graph as one connector.
pub struct GraphAccess {
    connectors: Connectors,
    connector: ConnectorId,
    pub settings: SharePointSettings,
    pub endpoints: SharePointEndpoints,
    pub http: reqwest::Client,
    pub tokens: Arc<TokenSource>,
    /// The refresh token as stored, to notice a rotation.
    stored_refresh: Option<String>,
}

impl GraphAccess {
    /// Unseals the connector's credentials. A `user_auth` connector nobody has authorized yet cannot sign in:
    /// `CONNECTOR_AUTH_FAILED`, saying what to do.
    pub fn open(
        connectors: &Connectors,
        connector: &Connector,
        endpoints: &SharePointEndpoints,
    ) -> Result<Self, AccessError> {
        let settings = connector
            .sharepoint
            .clone()
            .ok_or_else(|| AccessError::NotReady { field: "kind", message: "not a SharePoint connector".into() })?;
        let secret = if connector.has_secret(CLIENT_SECRET) {
            connectors.secret(connector, CLIENT_SECRET)?.expose().to_owned()
        } else {
            String::new()
        };
        let (grant, stored_refresh) = match settings.auth_type {
            AuthType::AppAuth => (Grant::App, None),
            AuthType::UserAuth => {
                if !connector.has_secret(REFRESH_TOKEN) {
                    return Err(SideError::new(
                        ErrorCode::ConnectorAuthFailed,
                        "no user has authorized this connector yet: POST .../authorize and complete the consent",
                    )
                    .into());
                }
                let refresh = connectors.secret(connector, REFRESH_TOKEN)?.expose().to_owned();
                (Grant::RefreshToken(refresh.clone()), Some(refresh))
            }
        };
        let http = GraphClient::http_client()?;
        let auth = AuthConfig {
            login_base: endpoints.login_base.clone(),
            tenant: settings.azure_tenant_id.clone(),
            client_id: settings.azure_client_id.clone(),
            credential: Credential::Secret(secret),
            grant,
        };
        let tokens = Arc::new(TokenSource::new(auth, http.clone(), connectors.clock().clone()));
        Ok(GraphAccess {
            connectors: connectors.clone(),
            connector: connector.id,
            settings,
            endpoints: endpoints.clone(),
            http,
            tokens,
            stored_refresh,
        })
    }

    /// A client on the connector's drive (`drive_id` must be set).
    pub fn drive_client(&self, sleeper: Arc<dyn Sleeper>) -> Result<GraphClient, AccessError> {
        let drive = self.settings.drive_id.clone().ok_or_else(|| AccessError::NotReady {
            field: "drive_id",
            message: "is not set: find it with GET .../drives?site_id= and PATCH the connector".into(),
        })?;
        Ok(GraphClient::new(self.http.clone(), &self.endpoints.graph_base, drive, self.tokens.clone(), sleeper))
    }

    /// Signs in now (a run does this first, so bad credentials fail it before anything is listed).
    pub async fn sign_in(&self) -> Result<String, AccessError> {
        let token = self.tokens.token().await;
        self.keep_rotated_refresh_token().await?;
        Ok(token?)
    }

    /// Stores the refresh token if the token endpoint rotated it since it was read.
    pub async fn keep_rotated_refresh_token(&self) -> Result<(), AccessError> {
        let current = self.tokens.refresh_token();
        if current.is_none() || current == self.stored_refresh {
            return Ok(());
        }
        let (connectors, id) = (self.connectors.clone(), self.connector);
        let value = current.map(Plaintext::new);
        tokio::task::spawn_blocking(move || connectors.put_secret(id, REFRESH_TOKEN, value.as_ref()))
            .await
            .map_err(|e| SideError::new(ErrorCode::Internal, e.to_string()))??;
        Ok(())
    }

    /// GET `{graph_base}{rest}` as JSON, with the client's throttling and token renewal.
    pub async fn get(&self, rest: &str, headers: &[(&'static str, &str)]) -> Result<Value, AccessError> {
        let client = GraphClient::new(
            self.http.clone(),
            &self.endpoints.graph_base,
            "",
            self.tokens.clone(),
            Arc::new(TokioSleeper),
        );
        let mut call = Call::new(Method::GET, format!("{}{rest}", self.endpoints.graph_base.trim_end_matches('/')));
        for (name, value) in headers {
            call = call.header(name, *value);
        }
        let answer = client.json::<Value>(&call).await.map_err(SideError::from);
        self.keep_rotated_refresh_token().await?;
        Ok(answer?)
    }

    /// Sites matching `query` (GRAPH.md 2).
    pub async fn search_sites(&self, query: &str) -> Result<Value, AccessError> {
        self.get(&format!("/sites?search={}", encode_segment(query)), &[]).await
    }

    /// The document libraries of a site.
    pub async fn drives(&self, site_id: &str) -> Result<Value, AccessError> {
        self.get(&format!("/sites/{}/drives", encode_segment(site_id)), &[]).await
    }

    /// Users or groups (`collection`) whose display name has a word starting with `query` (GRAPH.md 13: `$search`
    /// needs `ConsistencyLevel: eventual`).
    pub async fn search_directory(&self, collection: &str, query: &str) -> Result<Value, AccessError> {
        let term = query.replace('"', "");
        let search = encode_segment(&format!("\"displayName:{term}\""));
        let select = match collection {
            "users" => "id,displayName,mail,userPrincipalName",
            _ => "id,displayName,mail",
        };
        let rest = format!("/{collection}?$search={search}&$select={select}&$top=25");
        self.get(&rest, &[("consistencylevel", "eventual")]).await
    }
}

/// The permissions a Graph access token grants (`roles` for app-only, `scp` for delegated). Real tokens are
/// JWTs whose claims are readable; an opaque token grants nothing we can show.
pub fn granted_permissions(token: &str) -> Vec<String> {
    use base64::Engine;
    let Some(claims) = token.split('.').nth(1) else { return Vec::new() };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims.trim_end_matches('=')) else {
        return Vec::new();
    };
    let Ok(claims) = serde_json::from_slice::<Value>(&bytes) else { return Vec::new() };
    let mut out: Vec<String> = match (&claims["roles"], claims["scp"].as_str()) {
        (Value::Array(roles), _) => roles.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect(),
        (_, Some(scopes)) => scopes.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn token(claims: Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.{}", enc(b"{}"), enc(claims.to_string().as_bytes()), enc(b"sig"))
    }

    #[test]
    fn app_roles_and_delegated_scopes_are_read_from_the_token() {
        let app = token(serde_json::json!({"roles": ["Sites.ReadWrite.All", "Files.ReadWrite.All"]}));
        assert_eq!(granted_permissions(&app), ["Files.ReadWrite.All", "Sites.ReadWrite.All"]);
        let user = token(serde_json::json!({"scp": "Sites.ReadWrite.All User.Read"}));
        assert_eq!(granted_permissions(&user), ["Sites.ReadWrite.All", "User.Read"]);
        assert!(granted_permissions("opaque").is_empty());
    }
}
