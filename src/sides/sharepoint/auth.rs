//! OAuth for Graph (GRAPH.md 1): client credentials with a secret or a certificate assertion, or a delegated
//! refresh token (`user_auth`). Tokens are cached and renewed at 80 % of their lifetime, and once more when Graph
//! answers 401 (the caller calls [`TokenSource::invalidate`]).
//!
//! Token-endpoint answers are sorted here: `invalid_client`, `unauthorized_client`, `invalid_grant`,
//! `invalid_request` and `invalid_scope` mean the credentials are wrong, expired or revoked
//! (`CONNECTOR_AUTH_FAILED`: a human must fix them); 429 and 5xx are transient; an unreachable endpoint stops the
//! run as `CONNECTOR_UNREACHABLE`.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::clock::SharedClock;
use crate::sync::side::{ErrorCode, SideError};

/// How the app proves who it is.
#[derive(Clone)]
pub enum Credential {
    /// A client secret's value.
    Secret(String),
    /// A certificate: the PKCS#8 DER of its RSA private key and the certificate's DER (for the `x5t` thumbprint).
    Certificate { private_key_pkcs8: Vec<u8>, certificate_der: Vec<u8> },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets or keys.
        match self {
            Credential::Secret(_) => f.write_str("Secret(..)"),
            Credential::Certificate { .. } => f.write_str("Certificate(..)"),
        }
    }
}

/// Which grant obtains access tokens.
#[derive(Debug, Clone)]
pub enum Grant {
    /// App-only (`client_credentials`, scope `https://graph.microsoft.com/.default`).
    App,
    /// Delegated: a refresh token from the authorization-code flow, rotated on every use.
    RefreshToken(String),
}

/// Where and as whom to get tokens.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The identity platform's base, e.g. `https://login.microsoftonline.com` (configurable for the emulator and
    /// national clouds).
    pub login_base: String,
    pub tenant: String,
    pub client_id: String,
    pub credential: Credential,
    pub grant: Grant,
}

impl AuthConfig {
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_base.trim_end_matches('/'), self.tenant)
    }
}

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    /// When to renew: 80 % into the token's lifetime.
    renew_at: OffsetDateTime,
}

/// Access tokens for one connector.
pub struct TokenSource {
    config: AuthConfig,
    http: reqwest::Client,
    clock: SharedClock,
    cached: tokio::sync::Mutex<Option<Cached>>,
    /// The current refresh token (delegated grant): the caller persists it after each rotation.
    refresh: Mutex<Option<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

impl TokenSource {
    pub fn new(config: AuthConfig, http: reqwest::Client, clock: SharedClock) -> Self {
        let refresh = match &config.grant {
            Grant::RefreshToken(token) => Some(token.clone()),
            Grant::App => None,
        };
        TokenSource { config, http, clock, cached: tokio::sync::Mutex::new(None), refresh: Mutex::new(refresh) }
    }

    /// The refresh token now in force (after rotations); `None` for app-only.
    pub fn refresh_token(&self) -> Option<String> {
        self.refresh.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A valid access token, from the cache or freshly obtained.
    pub async fn token(&self) -> Result<String, SideError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && self.clock.now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token (Graph said 401): the next [`TokenSource::token`] asks the endpoint again.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<Cached, SideError> {
        let c = &self.config;
        let mut form: Vec<(&str, String)> = vec![("client_id", c.client_id.clone())];
        match &c.grant {
            Grant::App => {
                form.push(("grant_type", "client_credentials".into()));
                form.push(("scope", "https://graph.microsoft.com/.default".into()));
            }
            Grant::RefreshToken(_) => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", self.refresh_token().unwrap_or_default()));
                form.push((
                    "scope",
                    "offline_access https://graph.microsoft.com/Sites.ReadWrite.All https://graph.microsoft.com/Files.ReadWrite.All"
                        .into(),
                ));
            }
        }
        match &c.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.clone())),
            Credential::Certificate { private_key_pkcs8, certificate_der } => {
                let assertion = client_assertion(c, private_key_pkcs8, certificate_der, self.clock.now())?;
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", assertion));
            }
        }
        let response =
            self.http.post(c.token_url()).form(&form).send().await.map_err(|e| {
                SideError::new(ErrorCode::ConnectorUnreachable, format!("token endpoint unreachable: {e}"))
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            SideError::new(ErrorCode::ConnectorUnreachable, format!("token endpoint answer broke off: {e}"))
        })?;
        if status.is_success() {
            let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                SideError::new(ErrorCode::ConnectorAuthFailed, format!("token endpoint answer unreadable: {e}"))
            })?;
            if let Some(rotated) = parsed.refresh_token {
                *self.refresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(rotated);
            }
            let lifetime = Duration::seconds(parsed.expires_in.unwrap_or(3599).max(1));
            return Ok(Cached { token: parsed.access_token, renew_at: self.clock.now() + lifetime * 0.8 });
        }
        let error: TokenError = serde_json::from_slice(&body).unwrap_or_default();
        Err(token_failure(status.as_u16(), &error.error, &error.error_codes))
    }
}

/// Sorts a token-endpoint failure (GRAPH.md 1.2): branch on `error`, never on the text.
fn token_failure(status: u16, error: &str, codes: &[u64]) -> SideError {
    let codes: Vec<String> = codes.iter().map(|c| format!("AADSTS{c}")).collect();
    let detail = format!("token endpoint answered {status} {error} {}", codes.join(","));
    match (status, error) {
        (429, _) => SideError::new(ErrorCode::Throttled, detail),
        (500..=599, _) => SideError::new(ErrorCode::ConnectorUnreachable, detail),
        _ => SideError::new(ErrorCode::ConnectorAuthFailed, detail),
    }
}

/// A signed JWT client assertion (RS256 with the SHA-1 `x5t` thumbprint, the form MSAL sends; GRAPH.md 1.1).
fn client_assertion(
    config: &AuthConfig,
    private_key_pkcs8: &[u8],
    certificate_der: &[u8],
    now: OffsetDateTime,
) -> Result<String, SideError> {
    let bad_key = |e: String| SideError::new(ErrorCode::ConnectorAuthFailed, format!("certificate key unusable: {e}"));
    let key = ring::signature::RsaKeyPair::from_pkcs8(private_key_pkcs8).map_err(|e| bad_key(e.to_string()))?;
    let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, certificate_der);
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(thumbprint)});
    let iat = now.unix_timestamp();
    let claims = serde_json::json!({
        "aud": config.token_url(),
        "iss": config.client_id,
        "sub": config.client_id,
        "jti": ulid::Ulid::new().to_string(),
        "nbf": iat,
        "iat": iat,
        "exp": iat + 600,
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|e| bad_key(e.to_string()))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_or_wrong_credentials_fail_auth_and_outages_do_not() {
        assert_eq!(token_failure(401, "invalid_client", &[7000215]).code, ErrorCode::ConnectorAuthFailed);
        assert_eq!(token_failure(400, "invalid_grant", &[70008]).code, ErrorCode::ConnectorAuthFailed);
        assert_eq!(token_failure(400, "unauthorized_client", &[700016]).code, ErrorCode::ConnectorAuthFailed);
        assert_eq!(token_failure(503, "", &[]).code, ErrorCode::ConnectorUnreachable);
        assert_eq!(token_failure(429, "", &[]).code, ErrorCode::Throttled);
    }
}
