//! The token endpoint (client credentials, authorization code with PKCE, rotating refresh tokens) and how Graph
//! judges the tokens it is given: missing, garbage, expired, unconsented, limited to selected sites.

use base64::Engine;
use reqwest::{Method, StatusCode};
use scaidrive_connectors::graph_emulator::Seed;
use serde_json::{Value, json};

use super::harness::{
    CLIENT, Fixture, REDIRECT, SECRET, SITE, TENANT, drive, expect_graph_error, json_of, send, send_json,
};
use crate::fixture::{VERIFIER, authorize_url, code_in, redeem_form};

#[tokio::test]
async fn token_endpoint_answers_the_documented_errors() {
    let f = Fixture::start().await;
    let wrong = f.client_credentials(CLIENT, "nope").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body = json_of(wrong).await;
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));

    let unknown = f.client_credentials("33333333-0000-0000-0000-000000000000", SECRET).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(unknown).await["error_codes"], json!([700016]));

    let scope = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/Sites.Read.All"),
        ])
        .await;
    assert_eq!(scope.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(scope).await["error"], "invalid_scope");

    let tenant = send(f.http.post(f.emulator.token_url("nosuch.onmicrosoft.com")).form(&[("client_id", CLIENT)])).await;
    assert_eq!(tenant.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(tenant).await["error_codes"], json!([90002]));

    // HTTP Basic instead of the form field, and a domain instead of the tenant GUID.
    let basic =
        send(f.http.post(f.emulator.token_url("contoso.onmicrosoft.com")).basic_auth(CLIENT, Some(SECRET)).form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
            ("client_info", "1"),
        ]))
        .await;
    assert_eq!(basic.status(), StatusCode::OK);
    let body = json_of(basic).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body.get("refresh_token").is_none());
    // JWT-shaped, with the app roles in the `roles` claim.
    let token = body["access_token"].as_str().expect("token");
    let payload = token.split('.').nth(1).expect("JWT payload");
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"))
            .expect("claims");
    assert_eq!(claims["tid"], TENANT);
    assert!(claims["roles"].as_array().is_some_and(|r| r.contains(&json!("Sites.ReadWrite.All"))));
}

#[tokio::test]
async fn graph_refuses_missing_garbage_and_expired_tokens_with_401() {
    let f = Fixture::start().await;
    let missing = send(f.http.get(f.url("/sites/root"))).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(missing.headers().get("www-authenticate").is_some());
    assert!(missing.headers().get("request-id").is_some());
    let body = json_of(missing).await;
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["innerError"]["date"].is_string());

    let garbage = send(f.http.get(f.url(&drive(""))).bearer_auth("garbage")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(f.get(&drive("")).await.status(), StatusCode::OK);
    f.knob("advance_clock", json!({"seconds": 3600})).await;
    let expired = f.get(&drive("")).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(expired).await["error"]["message"], "Access token has expired or is not yet valid.");
}

#[tokio::test]
async fn a_revoked_secret_fails_new_token_requests_but_issued_tokens_keep_working() {
    let f = Fixture::start().await;
    f.knob("revoke_secret", json!({"client_id": CLIENT})).await;
    assert_eq!(f.get(&drive("")).await.status(), StatusCode::OK);
    let response = f.client_credentials(CLIENT, SECRET).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await["error_codes"], json!([7000215]));
    // Without admin consent the token comes back but carries no roles, and Graph refuses it.
    f.knob("add_secret", json!({"client_id": CLIENT, "value": "new"})).await;
    f.knob("consent", json!({"client_id": CLIENT, "granted": false})).await;
    let response = f.client_credentials(CLIENT, "new").await;
    let token = json_of(response).await["access_token"].as_str().expect("token").to_string();
    let refused = send(f.http.get(f.url(&drive(""))).bearer_auth(token)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authorization_code_with_pkce_then_rotating_refresh_tokens() {
    let f = Fixture::start().await;
    let response = send(f.http.get(authorize_url(&f.emulator.base_url, "xyz"))).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(location.contains("state=xyz"));
    let code = code_in(&location);

    let wrong = f.token_request(&redeem_form(&code, "not-the-verifier")).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let ok = f.token_request(&redeem_form(&code, VERIFIER)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body = json_of(ok).await;
    let refresh = body["refresh_token"].as_str().expect("offline_access gives a refresh token").to_string();
    let again = f.token_request(&redeem_form(&code, VERIFIER)).await;
    assert_eq!(json_of(again).await["error_codes"], json!([54005]));

    let refresh_with = |token: String| {
        let f = &f;
        async move {
            f.token_request(&[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
            ])
            .await
        }
    };
    let refreshed = refresh_with(refresh.clone()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let body = json_of(refreshed).await;
    let rotated = body["refresh_token"].as_str().expect("rotated");
    assert_ne!(rotated, refresh);
    // The delegated token acts as Alice.
    let token = body["access_token"].as_str().expect("token");
    let created = send(
        f.http
            .post(f.url(&drive("/root/children")))
            .bearer_auth(token)
            .json(&json!({"name": "alice-folder", "folder": {}, "@microsoft.graph.conflictBehavior": "fail"})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(json_of(created).await["createdBy"]["user"]["displayName"], "Alice Cooper");

    f.knob("revoke_refresh_tokens", json!({})).await;
    let revoked = refresh_with(rotated.to_string()).await;
    assert_eq!(revoked.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(revoked).await["error_codes"], json!([50173]));
}

#[tokio::test]
async fn sites_selected_grants_are_honoured_per_site() {
    let mut seed = super::harness::seed();
    let extra: Seed = serde_json::from_value(json!({
        "apps": [{"tenant": TENANT, "client_id": "selected-app", "secrets": ["x"], "roles": ["Sites.Selected"], "selected_sites": {SITE: ["read"]}}],
        "sites": [{"hostname": "contoso.sharepoint.com", "path": "/sites/other", "name": "other", "drives": [{"id": "b!other", "name": "Documents"}]}]
    }))
    .expect("seed");
    seed.apps.extend(extra.apps);
    seed.sites.extend(extra.sites);
    let f = Fixture::start_with(seed).await;
    let token = json_of(f.client_credentials("selected-app", "x").await).await;
    let token = token["access_token"].as_str().expect("token");
    let as_selected = |method: Method, path: &str| f.http.request(method, f.url(path)).bearer_auth(token);
    assert_eq!(send(as_selected(Method::GET, &drive("/root/children"))).await.status(), StatusCode::OK);
    let other = send(as_selected(Method::GET, "/drives/b!other/root/children")).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let write = send(as_selected(Method::PUT, &drive("/root:/x.txt:/content")).body("x")).await;
    expect_graph_error(write, StatusCode::FORBIDDEN, "accessDenied").await;
    let found = send_json(as_selected(Method::GET, "/sites?search=*")).await;
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1));
}
