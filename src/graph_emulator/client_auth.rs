//! Client authentication at the token endpoint (GRAPH.md 1.1, 1.2): a client secret (form field or HTTP
//! Basic) or a certificate assertion.
//!
//! Certificate assertions: the JWT header must name a registered certificate by `x5t` (SHA-1) or `x5t#S256`
//! (SHA-256) with `alg` RS256 (PKCS#1 v1.5) or PS256 (PSS), and the signature must verify with that
//! certificate's key; the claims must have `iss` = `sub` = client id, an `aud` that is this tenant's token
//! endpoint, a `jti`, `exp` in the future and `nbf` not in the future. A credential seeded as bare thumbprints
//! (no certificate) has no key, so for it only the presence of a signature is checked.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use time::OffsetDateTime;

use super::auth::find_tenant;
use super::errors::OAuthError;
use super::state::{App, World};

/// Check the client's secret or assertion (GRAPH.md 1.1, 1.2).
pub fn authenticate_client(
    world: &World,
    app: &App,
    tenant: &str,
    form: &HashMap<String, String>,
    basic_secret: Option<String>,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let bad = |code: u32, text: &str| OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, text);
    if let Some(secret) = form.get("client_secret").cloned().or(basic_secret) {
        let Some(found) = app.secrets.iter().find(|s| s.value == secret) else {
            return Err(bad(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            ));
        };
        if found.expires.is_some_and(|e| e <= now) {
            return Err(bad(7000222, "The provided client secret keys are expired."));
        }
        return Ok(());
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ));
        }
        return check_assertion(world, app, tenant, assertion, now)
            .map_err(|why| bad(700027, &format!("Client assertion failed signature validation. {why}")));
    }
    Err(bad(7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."))
}

fn check_assertion(world: &World, app: &App, tenant: &str, jwt: &str, now: OffsetDateTime) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [head_part, claims_part, signature] = parts.as_slice() else { return Err("not a JWS".into()) };
    let (head, claims) = (*head_part, *claims_part);
    if signature.is_empty() {
        return Err("unsigned".into());
    }
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let head = decode(head)?;
    let claims = decode(claims)?;
    let alg = head["alg"].as_str().unwrap_or("");
    if !matches!(alg, "RS256" | "PS256") {
        return Err(format!("unsupported alg {alg}"));
    }
    let x5t = head["x5t"].as_str();
    let x5t_s256 = head["x5t#S256"].as_str();
    let cert = app.certificates.iter().find(|cert| {
        (x5t.is_some() && cert.x5t.as_deref() == x5t) || (x5t_s256.is_some() && cert.x5t_s256.as_deref() == x5t_s256)
    });
    let Some(cert) = cert else {
        return Err("the key is not registered for the app".into());
    };
    if let Some(der) = &cert.der {
        let signature = URL_SAFE_NO_PAD.decode(signature.trim_end_matches('=')).map_err(|e| e.to_string())?;
        let algorithm = if alg == "PS256" {
            webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY
        } else {
            webpki::ring::RSA_PKCS1_2048_8192_SHA256
        };
        let der = rustls::pki_types::CertificateDer::from(der.as_slice());
        let parsed = webpki::EndEntityCert::try_from(&der).map_err(|e| format!("certificate: {e}"))?;
        parsed
            .verify_signature(algorithm, format!("{head_part}.{claims_part}").as_bytes(), &signature)
            .map_err(|_| "the signature does not verify".to_string())?;
    }
    let client = app.client_id.as_str();
    if claims["iss"].as_str() != Some(client) || claims["sub"].as_str() != Some(client) {
        return Err("iss and sub must be the client id".into());
    }
    let aud = claims["aud"].as_str().unwrap_or("");
    let tenant_id = find_tenant(world, tenant).unwrap_or(tenant);
    let tail_ok = [tenant, tenant_id].iter().any(|t| aud.ends_with(&format!("/{t}/oauth2/v2.0/token")));
    if !tail_ok {
        return Err(format!("aud {aud} is not this tenant's token endpoint"));
    }
    if claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err("jti missing".into());
    }
    let ts = now.unix_timestamp();
    if claims["exp"].as_i64().is_none_or(|exp| exp <= ts) {
        return Err("assertion expired".into());
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > ts + 300) {
        return Err("assertion not yet valid".into());
    }
    Ok(())
}

pub fn basic_secret(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}
