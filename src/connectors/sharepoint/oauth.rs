//! `user_auth` consent (GRAPH.md 1.3): `begin` makes the authorization URL a user opens (with a single-use
//! `state` and a PKCE challenge, both kept sealed on the connector), and `complete` takes what Microsoft sends
//! the browser back with, checks the state, redeems the code at the token endpoint and stores the refresh
//! token sealed. The state names its connector (`cnn_….random`), so the callback needs no session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom;
use serde::Deserialize;
use sha2::Digest;

use super::graph::AccessError;
use super::{CLIENT_SECRET, OAUTH_STATE, OAUTH_VERIFIER, REFRESH_TOKEN};
use crate::config::SharePointEndpoints;
use crate::connectors::{Connector, ConnectorKind, Connectors};
use crate::ids::ConnectorId;
use crate::secrets::Plaintext;
use crate::sides::sharepoint::GraphClient;
use crate::sync::side::{ErrorCode, SideError};

/// What a `user_auth` connector asks consent for: offline access (a refresh token) and the library.
pub const SCOPES: &str =
    "offline_access https://graph.microsoft.com/Sites.ReadWrite.All https://graph.microsoft.com/Files.ReadWrite.All";

fn random_text() -> Result<String, AccessError> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SideError::new(ErrorCode::Internal, "no randomness for the OAuth state"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn redirect_uri(endpoints: &SharePointEndpoints) -> Result<&str, AccessError> {
    endpoints.redirect_uri.as_deref().ok_or_else(|| AccessError::NotReady {
        field: "sharepoint.redirect_uri",
        message: "the appliance has no OAuth redirect URI configured ([sharepoint] redirect_uri): set it to this \
                  appliance's /api/v1/sharepoint-connectors/oauth/callback as browsers reach it, and register it \
                  on the Azure app"
            .into(),
    })
}

/// Starts a consent: returns the URL to send the user to. A new `begin` replaces an unfinished one.
pub fn begin(
    connectors: &Connectors,
    connector: &Connector,
    endpoints: &SharePointEndpoints,
) -> Result<String, AccessError> {
    let settings = connector
        .sharepoint
        .as_ref()
        .ok_or_else(|| AccessError::NotReady { field: "kind", message: "not a SharePoint connector".into() })?;
    let redirect = redirect_uri(endpoints)?;
    if !connector.has_secret(CLIENT_SECRET) {
        // The appliance redeems the code server-side, as a confidential web client: Azure refuses that without
        // the app's credential (AADSTS7000218), so say so now rather than after the user consented.
        return Err(AccessError::NotReady {
            field: "azure_client_secret",
            message: "is needed to redeem the consent: PATCH the connector with the app's client secret first".into(),
        });
    }
    let state = format!("{}.{}", connector.id, random_text()?);
    let verifier = random_text()?;
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    connectors.put_secret(connector.id, OAUTH_STATE, Some(&Plaintext::new(state.clone())))?;
    connectors.put_secret(connector.id, OAUTH_VERIFIER, Some(&Plaintext::new(verifier)))?;
    let base =
        format!("{}/{}/oauth2/v2.0/authorize", endpoints.login_base.trim_end_matches('/'), settings.azure_tenant_id);
    let url = reqwest::Url::parse_with_params(
        &base,
        [
            ("client_id", settings.azure_client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("response_mode", "query"),
            ("scope", SCOPES),
            ("state", state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .map_err(|e| AccessError::NotReady { field: "sharepoint.login_base", message: e.to_string() })?;
    Ok(url.into())
}

/// The connector a callback's `state` names, if it is well formed.
pub fn connector_of_state(state: &str) -> Option<ConnectorId> {
    state.split_once('.').and_then(|(id, _)| id.parse().ok())
}

/// Equal without telling, by timing, how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
struct Redeemed {
    refresh_token: Option<String>,
}

/// Finishes a consent: checks `state` against the pending one, redeems `code`, keeps the refresh token. The
/// pending state is used up either way, so a replayed callback is refused.
pub async fn complete(
    connectors: &Connectors,
    endpoints: &SharePointEndpoints,
    state: &str,
    code: &str,
) -> Result<ConnectorId, AccessError> {
    let refused = |message: &str| AccessError::Graph(SideError::new(ErrorCode::ConnectorAuthFailed, message));
    let id = connector_of_state(state).ok_or_else(|| refused("the authorization's state is not one we issued"))?;
    let store = connectors.clone();
    // Read the pending state and use it up in one go: a second callback with the same state finds none.
    let (connector, pending) = blocking(move || {
        let connector = store.get(id)?;
        if connector.kind != ConnectorKind::Sharepoint || !connector.has_secret(OAUTH_STATE) {
            return Ok((connector, None));
        }
        let pending = (store.secret(&connector, OAUTH_STATE)?, store.secret(&connector, OAUTH_VERIFIER)?);
        store.put_secret(id, OAUTH_STATE, None)?;
        store.put_secret(id, OAUTH_VERIFIER, None)?;
        Ok((connector, Some(pending)))
    })
    .await?;
    let Some((expected, verifier)) = pending else {
        return Err(refused("no authorization is pending for this connector"));
    };
    if !same(expected.expose(), state) {
        return Err(refused("the authorization's state does not match the pending one"));
    }
    let settings = connector
        .sharepoint
        .as_ref()
        .ok_or_else(|| AccessError::NotReady { field: "kind", message: "not a SharePoint connector".into() })?;
    let mut form = vec![
        ("client_id", settings.azure_client_id.clone()),
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri(endpoints)?.to_owned()),
        ("code_verifier", verifier.expose().to_owned()),
        ("scope", SCOPES.to_owned()),
    ];
    if connector.has_secret(CLIENT_SECRET) {
        form.push(("client_secret", connectors.secret(&connector, CLIENT_SECRET)?.expose().to_owned()));
    }
    let url = format!("{}/{}/oauth2/v2.0/token", endpoints.login_base.trim_end_matches('/'), settings.azure_tenant_id);
    let response = GraphClient::http_client()?
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| SideError::new(ErrorCode::ConnectorUnreachable, format!("token endpoint unreachable: {e}")))?;
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = format!(
            "the token endpoint refused the authorization code: {status} {} {}",
            error["error"].as_str().unwrap_or(""),
            error["error_codes"]
        );
        return Err(refused(&message));
    }
    let redeemed: Redeemed = serde_json::from_slice(&body)
        .map_err(|e| SideError::new(ErrorCode::ConnectorAuthFailed, format!("token answer unreadable: {e}")))?;
    let refresh = redeemed.refresh_token.ok_or_else(|| refused("no refresh token was issued (offline_access)"))?;
    let store = connectors.clone();
    blocking(move || Ok(store.put_secret(id, REFRESH_TOKEN, Some(&Plaintext::new(refresh)))?)).await?;
    Ok(id)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AccessError> + Send + 'static,
) -> Result<T, AccessError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| SideError::new(ErrorCode::Internal, e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_names_its_connector_and_compares_exactly() {
        let id = ConnectorId::new();
        let state = format!("{id}.abc");
        assert_eq!(connector_of_state(&state), Some(id));
        assert_eq!(connector_of_state("garbage"), None);
        assert!(same(&state, &state.clone()));
        assert!(!same(&state, &format!("{id}.abd")) && !same(&state, "x"));
    }
}
