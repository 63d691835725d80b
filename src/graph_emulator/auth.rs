//! The identity-platform half (GRAPH.md 1): the token endpoint (client credentials with a secret, HTTP Basic or
//! a certificate assertion; authorization code with PKCE; refresh tokens with rotation), a minimal `/authorize`
//! that auto-approves the configured user, OIDC discovery, and the bearer check every Graph route runs.
//! Client secrets and certificate assertions are checked in `client_auth.rs`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::Emulator;
use super::client_auth::{authenticate_client, basic_secret};
use super::errors::{GraphError, OAuthError};
use super::state::{Actor, App, DirUser, World};

/// Tokens and codes handed out, with what each one grants.
#[derive(Debug)]
pub struct Grants {
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub codes: HashMap<String, CodeGrant>,
    pub access_lifetime: Duration,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            access_lifetime: Duration::seconds(3599),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub client_id: String,
    pub user_id: Option<String>,
    /// `roles` for app-only tokens, `scp` for delegated ones: the permission names either way.
    pub permissions: Vec<String>,
    pub expires: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub expires: OffsetDateTime,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub expires: OffsetDateTime,
    pub redeemed: bool,
}

/// Who is calling a Graph route, from the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub user: Option<DirUser>,
    pub permissions: Vec<String>,
    pub actor: Actor,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
    Users,
    Groups,
}

impl Caller {
    /// Check the token's permissions for `need`, honouring `Sites.Selected` grants for `site_id`.
    pub fn require(&self, world: &World, need: Need, site_id: Option<&str>) -> Result<(), GraphError> {
        if self.permissions.is_empty() {
            return Err(GraphError::unauthenticated("Either scp or roles claim need to be present in the token."));
        }
        let has = |names: &[&str]| self.permissions.iter().any(|p| names.contains(&p.as_str()));
        let write = ["Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All", "Files.ReadWrite.All"];
        let ok = match need {
            Need::Read => {
                has(&write) || has(&["Sites.Read.All", "Files.Read.All"]) || self.selected(world, site_id, false)
            }
            Need::Write => has(&write) || self.selected(world, site_id, true),
            Need::Users => has(&["User.Read.All", "User.ReadBasic.All", "Directory.Read.All"]),
            Need::Groups => has(&["Group.Read.All", "Directory.Read.All"]),
        };
        if ok { Ok(()) } else { Err(GraphError::access_denied("Access denied")) }
    }

    fn selected(&self, world: &World, site_id: Option<&str>, write: bool) -> bool {
        if !self.permissions.iter().any(|p| p == "Sites.Selected") {
            return false;
        }
        let (Some(site), Some(app)) = (site_id, world.apps.get(&self.client_id)) else { return false };
        app.selected_sites.get(site).is_some_and(|roles| {
            !write || roles.iter().any(|r| matches!(r.as_str(), "write" | "owner" | "fullcontrol" | "manage"))
        })
    }

    pub fn can_see_site(&self, world: &World, site_id: &str) -> bool {
        self.require(world, Need::Read, Some(site_id)).is_ok()
    }
}

/// The bearer check of every Graph route (GRAPH.md 1.4).
pub fn authenticate(world: &World, headers: &HeaderMap, now: OffsetDateTime) -> Result<Caller, GraphError> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
        return Err(GraphError::unauthenticated("Access token is empty."));
    };
    let Some(grant) = world.grants.access.get(token.trim()) else {
        return Err(GraphError::unauthenticated(
            "IDX14100: JWT is not well formed, there are no dots (.). CompactToken parsing failed with error code: 80049217",
        ));
    };
    if now >= grant.expires {
        return Err(GraphError::unauthenticated("Access token has expired or is not yet valid."));
    }
    let app = world.apps.get(&grant.client_id);
    let app_ref = app.map(|a| (a.client_id.clone(), a.display_name.clone()));
    let user = grant.user_id.as_deref().and_then(|id| world.user(id)).cloned();
    Ok(Caller {
        client_id: grant.client_id.clone(),
        permissions: grant.permissions.clone(),
        actor: Actor { user: user.clone(), app: app_ref },
        user,
    })
}

pub fn find_tenant<'a>(world: &'a World, tenant: &str) -> Option<&'a str> {
    world
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(tenant) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant)))
        .map(|t| t.id.as_str())
}

/// The app named by `client_id`, looked up in `tenant` (or any tenant for `common`/`organizations`).
fn find_app<'a>(world: &'a World, tenant: &str, client_id: &str) -> Result<&'a App, OAuthError> {
    let tenant_id = if matches!(tenant, "common" | "organizations") {
        None
    } else {
        Some(find_tenant(world, tenant).ok_or_else(|| {
            OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", 90002, format!("Tenant '{tenant}' not found."))
        })?)
    };
    world.apps.get(client_id).filter(|app| tenant_id.is_none_or(|t| app.tenant_id == t)).ok_or_else(|| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        )
    })
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A JWT-shaped opaque access token: clients must not look inside, but real ones are JWTs.
fn new_access_token(claims: &Value) -> String {
    let head = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig: [u8; 32] = rand::random();
    format!("{head}.{body}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn issue_access(
    world: &mut World,
    client_id: &str,
    user_id: Option<String>,
    permissions: Vec<String>,
    now: OffsetDateTime,
) -> (String, i64) {
    let lifetime = world.grants.access_lifetime;
    let expires = now + lifetime;
    let tenant = world.apps.get(client_id).map(|a| a.tenant_id.clone()).unwrap_or_default();
    // The claims a real Graph token carries that clients commonly read: `roles` (app-only) or `scp`
    // (delegated, space-separated), `tid`, `appid`, `oid`. Omitted when empty, as the service does.
    let mut claims = json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now.unix_timestamp(),
        "nbf": now.unix_timestamp(),
        "exp": expires.unix_timestamp(),
        "appid": client_id,
        "tid": tenant,
        "ver": "1.0",
        "uti": random_token(""),
    });
    if let Some(user) = &user_id {
        claims["oid"] = json!(user);
        if !permissions.is_empty() {
            claims["scp"] = json!(permissions.join(" "));
        }
    } else {
        claims["oid"] = json!(client_id);
        if !permissions.is_empty() {
            claims["roles"] = json!(permissions);
        }
    }
    let token = new_access_token(&claims);
    world
        .grants
        .access
        .insert(token.clone(), AccessGrant { client_id: client_id.to_string(), user_id, permissions, expires });
    (token, lifetime.whole_seconds())
}

/// Scope strings to short permission names: `https://graph.microsoft.com/Sites.ReadWrite.All` -> `Sites.ReadWrite.All`.
fn short_scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(|s| s.rsplit('/').next().unwrap_or(s).to_string()).filter(|s| !s.is_empty()).collect()
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(emulator): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    emulator.count("POST /{tenant}/oauth2/v2.0/token");
    // Form fields, percent-decoded; unknown fields (MSAL's `client_info=1`, …) are ignored.
    let form = super::server::parse_query(std::str::from_utf8(&body).ok());
    let now = emulator.now();
    let mut world = emulator.lock();
    match token_inner(&mut world, &tenant, &headers, &form, now) {
        Ok(body) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn token_inner(
    world: &mut World,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    now: OffsetDateTime,
) -> Result<Value, OAuthError> {
    let basic = basic_secret(headers);
    let client_id =
        form.get("client_id").cloned().or_else(|| basic.as_ref().map(|(id, _)| id.clone())).ok_or_else(|| {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        })?;
    let app = find_app(world, tenant, &client_id)?.clone();
    authenticate_client(world, &app, tenant, form, basic.map(|(_, s)| s), now)?;
    let scope = form.get("scope").cloned().unwrap_or_default();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let scopes: Vec<&str> = scope.split_whitespace().collect();
            if scopes.is_empty() {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'scope'.",
                ));
            }
            if scopes.iter().any(|s| !s.ends_with("/.default")) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                ));
            }
            if scopes.iter().any(|s| {
                !s.starts_with("https://graph.microsoft.com/") && !s.starts_with("00000003-0000-0000-c000-000000000000")
            }) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    70011,
                    format!(
                        "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                    ),
                ));
            }
            // Without admin consent the request still succeeds, with a token that carries no roles (GRAPH.md 1.2).
            let roles = if app.admin_consent { app.roles.clone() } else { Vec::new() };
            let (token, lifetime) = issue_access(world, &client_id, None, roles, now);
            Ok(
                json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
            )
        }
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let grant = world
                .grants
                .codes
                .get_mut(&code)
                .ok_or_else(|| invalid_grant(70000, "The provided authorization code is invalid."))?;
            if grant.redeemed {
                return Err(invalid_grant(
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                ));
            }
            if grant.expires <= now {
                return Err(invalid_grant(
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity.",
                ));
            }
            if grant.client_id != client_id {
                return Err(invalid_grant(70000, "The code was issued to another client."));
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50148,
                    "The redirect_uri does not match the one used in the authorization request.",
                ));
            }
            if let Some(challenge) = &grant.code_challenge {
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                    return Err(invalid_grant(
                        501481,
                        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                    ));
                }
            }
            grant.redeemed = true;
            let grant = grant.clone();
            Ok(issue_delegated(world, &client_id, &grant.user_id, grant.scopes, now))
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            let grant = world
                .grants
                .refresh
                .get(&token)
                .cloned()
                .ok_or_else(|| invalid_grant(9002313, "Invalid request. Request is malformed or invalid."))?;
            if grant.revoked {
                return Err(invalid_grant(
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
                ));
            }
            if grant.expires <= now {
                return Err(invalid_grant(700082, "The refresh token has expired due to inactivity."));
            }
            if grant.client_id != client_id {
                return Err(invalid_grant(70000, "The refresh token was issued to another client."));
            }
            let requested = short_scopes(&scope);
            let scopes = if requested.is_empty() { grant.scopes.clone() } else { requested };
            Ok(issue_delegated(world, &client_id, &grant.user_id, scopes, now))
        }
        other => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{}'.", other.unwrap_or("")),
        )),
    }
}

fn invalid_grant(code: u32, text: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, text)
}

/// Delegated tokens: `scp` from the consented scopes; a rotated refresh token only with `offline_access`.
fn issue_delegated(
    world: &mut World,
    client_id: &str,
    user_id: &str,
    scopes: Vec<String>,
    now: OffsetDateTime,
) -> Value {
    let permissions: Vec<String> = scopes
        .iter()
        .filter(|s| !matches!(s.as_str(), "offline_access" | "openid" | "profile" | "email"))
        .cloned()
        .collect();
    let (token, lifetime) = issue_access(world, client_id, Some(user_id.to_string()), permissions.clone(), now);
    let scope_text =
        permissions.iter().map(|p| format!("https://graph.microsoft.com/{p}")).collect::<Vec<_>>().join(" ");
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope_text,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    if scopes.iter().any(|s| s == "offline_access") {
        let refresh = random_token("0.A");
        world.grants.refresh.insert(
            refresh.clone(),
            RefreshGrant {
                client_id: client_id.to_string(),
                user_id: user_id.to_string(),
                scopes: scopes.clone(),
                expires: now + Duration::days(90),
                revoked: false,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    body
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: signs the configured user in without a page and redirects back.
pub async fn authorize(
    State(emulator): State<Emulator>,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    emulator.count("GET /{tenant}/oauth2/v2.0/authorize");
    let now = emulator.now();
    let mut world = emulator.lock();
    let client_id = query.get("client_id").cloned().unwrap_or_default();
    let app = match find_app(&world, &tenant, &client_id) {
        Ok(app) => app.clone(),
        Err(error) => return error.into_response(),
    };
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    if !app.redirect_uris.contains(&redirect_uri) {
        // Never redirect to an unregistered address: the service shows an error page instead.
        return OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", 50011, format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'.")).into_response();
    }
    let state = query.get("state").cloned().unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let user_id = world.interactive_user.clone();
    let Some(user_id) = user_id.filter(|_| query.get("response_type").map(String::as_str) == Some("code")) else {
        let target = format!(
            "{redirect_uri}{sep}error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent&state={}",
            encode(&state)
        );
        return found(&target);
    };
    let code = random_token("0.AQ");
    let challenge = query.get("code_challenge").cloned();
    if challenge.is_some() && query.get("code_challenge_method").map(String::as_str) != Some("S256") {
        let target = format!(
            "{redirect_uri}{sep}error=invalid_request&error_description=AADSTS501491%3A+Invalid+code_challenge_method&state={}",
            encode(&state)
        );
        return found(&target);
    }
    world.grants.codes.insert(
        code.clone(),
        CodeGrant {
            client_id,
            user_id,
            redirect_uri: redirect_uri.clone(),
            scopes: short_scopes(query.get("scope").map(String::as_str).unwrap_or("")),
            code_challenge: challenge,
            expires: now + Duration::minutes(10),
            redeemed: false,
        },
    );
    found(&format!("{redirect_uri}{sep}code={}&state={}", encode(&code), encode(&state)))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, fetched by MSAL-based clients before the token call.
pub async fn discovery(State(emulator): State<Emulator>, Path(tenant): Path<String>) -> Response {
    emulator.count("GET /{tenant}/v2.0/.well-known/openid-configuration");
    let base = emulator.lock().public_base.clone();
    axum::Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// The service answers `/authorize` with 302 Found.
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

/// Percent-encode a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
