//! The Graph emulator driven over HTTP as a client would drive the real service; every assertion is a
//! behaviour `shared/reference/GRAPH.md` documents for Microsoft Graph.

use base64::Engine;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use scaidrive_connectors::graph_emulator::{EmulatorHandle, GraphEmulator, Seed};
use scaidrive_connectors::sides::sharepoint::quickxor::quick_xor_hash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const CLIENT: &str = "22222222-2222-2222-2222-222222222222";
const SECRET: &str = "s3cret";
const DRIVE: &str = "b!ZHJpdmUtb25lLWZvci10aGUtZ3JhcGgtZW11bGF0b3ItdGVzdHMtMDAwMDAwMDAwMDAwMDAwMA";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn seed() -> Seed {
    let mut files: Vec<Value> =
        (0..25).map(|n| json!({"path": format!("Many/file-{n:02}.txt"), "text": format!("file {n}")})).collect();
    files.push(json!({"path": "Docs/plan.docx", "text": "third", "versions": ["first", "second"], "author": "alice@contoso.com"}));
    files.push(json!({"path": "Docs/budget.xlsx", "text": "numbers", "permissions": [{"roles": ["write"], "user": "bob@contoso.com"}]}));
    files.push(json!({"path": "Docs/shared.txt", "text": "shared"}));
    let seed = json!({
        "tenants": [{"id": TENANT, "domains": ["contoso.onmicrosoft.com"]}],
        "apps": [{
            "tenant": TENANT, "client_id": CLIENT, "secrets": [SECRET], "redirect_uris": [REDIRECT],
            "roles": ["Sites.ReadWrite.All", "Sites.FullControl.All", "User.Read.All", "Group.Read.All"],
            "certificates": [{"x5t": "thumb1"}]
        }],
        "users": [
            {"id": "u1", "display_name": "Alice Cooper", "mail": "alice@contoso.com", "user_principal_name": "alice@contoso.onmicrosoft.com"},
            {"id": "u2", "display_name": "Bob Dylan", "mail": "bob@contoso.com", "user_principal_name": "bob@contoso.onmicrosoft.com"}
        ],
        "groups": [{"id": "g1", "display_name": "Marketing", "mail": "marketing@contoso.com"}],
        "interactive_user": "alice@contoso.com",
        "sites": [{
            "id": "contoso.sharepoint.com,aaaaaaaa-1111-2222-3333-444444444444,bbbbbbbb-1111-2222-3333-444444444444",
            "hostname": "contoso.sharepoint.com", "path": "/sites/marketing", "name": "marketing", "display_name": "Marketing",
            "drives": [{
                "id": DRIVE, "name": "Documents",
                "columns": [{"name": "Department", "kind": "text"}, {"name": "DocId", "read_only": true}],
                "permissions": [{"roles": ["owner"], "site_group": "Marketing Owners"}, {"roles": ["read"], "group": "g1"}],
                "files": files
            }]
        }]
    });
    serde_json::from_value(seed).expect("test seed")
}

struct Fixture {
    emulator: EmulatorHandle,
    http: reqwest::Client,
    token: String,
}

impl Fixture {
    async fn start() -> Self {
        Self::start_with(seed()).await
    }

    async fn start_with(seed: Seed) -> Self {
        let emulator = GraphEmulator::start(seed, "127.0.0.1:0").await.expect("emulator starts");
        let http = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
        let mut fixture = Fixture { emulator, http, token: String::new() };
        fixture.token = fixture.app_token().await;
        fixture
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(self.emulator.token_url(TENANT)).form(form).send().await.expect("token request")
    }

    async fn app_token(&self) -> String {
        let response = self
            .token_request(&[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("access_token").to_string()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.graph_url())
    }

    async fn get(&self, path_or_url: &str) -> reqwest::Response {
        let url = if path_or_url.starts_with("http") { path_or_url.to_string() } else { self.url(path_or_url) };
        self.http.get(url).bearer_auth(&self.token).send().await.expect("GET")
    }

    async fn get_json(&self, path_or_url: &str) -> Value {
        let response = self.get(path_or_url).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path_or_url}");
        response.json().await.expect("json")
    }

    async fn knob(&self, name: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/_emulator/{name}", self.emulator.base_url))
            .json(&body)
            .send()
            .await
            .expect("knob");
        assert_eq!(response.status(), StatusCode::OK, "knob {name}: {}", response.text().await.unwrap_or_default());
    }

    async fn item(&self, path: &str) -> Value {
        self.get_json(&format!("/drives/{DRIVE}/root:/{path}")).await
    }

    /// Follow a delta chain from `start` to its deltaLink; returns all items and the deltaLink.
    async fn delta_all(&self, start: &str) -> (Vec<Value>, String, usize) {
        let mut url = start.to_string();
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let page = self.get_json(&url).await;
            pages += 1;
            items.extend(page["value"].as_array().cloned().unwrap_or_default());
            if let Some(next) = page["@odata.nextLink"].as_str() {
                url = next.to_string();
            } else {
                let delta = page["@odata.deltaLink"].as_str().expect("last page has a deltaLink");
                return (items, delta.to_string(), pages);
            }
        }
    }
}

#[tokio::test]
async fn token_endpoint_answers_the_documented_errors() {
    let f = Fixture::start().await;
    let wrong = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", "nope"),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));

    let unknown = f
        .token_request(&[
            ("client_id", "33333333-0000-0000-0000-000000000000"),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json::<Value>().await.expect("json")["error_codes"], json!([700016]));

    let scope = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/Sites.Read.All"),
        ])
        .await;
    assert_eq!(scope.status(), StatusCode::BAD_REQUEST);
    assert_eq!(scope.json::<Value>().await.expect("json")["error"], "invalid_scope");

    let tenant = f
        .http
        .post(f.emulator.token_url("nosuch.onmicrosoft.com"))
        .form(&[("client_id", CLIENT)])
        .send()
        .await
        .expect("send");
    assert_eq!(tenant.status(), StatusCode::BAD_REQUEST);
    assert_eq!(tenant.json::<Value>().await.expect("json")["error_codes"], json!([90002]));

    // HTTP Basic instead of the form field, and a domain instead of the tenant GUID.
    let basic = f
        .http
        .post(f.emulator.token_url("contoso.onmicrosoft.com"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
            ("client_info", "1"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status(), StatusCode::OK);
    let body: Value = basic.json().await.expect("json");
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
async fn certificate_assertions_are_checked() {
    let f = Fixture::start().await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let aud = f.emulator.token_url(TENANT);
    let claims = json!({"aud": aud, "iss": CLIENT, "sub": CLIENT, "jti": "j1", "nbf": now, "exp": now + 600});
    let good = format!("{}.{}.c2ln", b64(json!({"alg": "RS256", "typ": "JWT", "x5t": "thumb1"})), b64(claims.clone()));
    let bad = format!("{}.{}.c2ln", b64(json!({"alg": "RS256", "typ": "JWT", "x5t": "other"})), b64(claims));
    for (assertion, status) in [(good, StatusCode::OK), (bad, StatusCode::UNAUTHORIZED)] {
        let response = f
            .token_request(&[
                ("client_id", CLIENT),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion),
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .await;
        assert_eq!(response.status(), status);
    }
}

#[tokio::test]
async fn graph_refuses_missing_garbage_and_expired_tokens_with_401() {
    let f = Fixture::start().await;
    let missing = f.http.get(f.url("/sites/root")).send().await.expect("send");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(missing.headers().get("www-authenticate").is_some());
    assert!(missing.headers().get("request-id").is_some());
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["innerError"]["date"].is_string());

    let garbage = f.http.get(f.url(&format!("/drives/{DRIVE}"))).bearer_auth("garbage").send().await.expect("send");
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(f.get(&format!("/drives/{DRIVE}")).await.status(), StatusCode::OK);
    f.knob("advance_clock", json!({"seconds": 3600})).await;
    let expired = f.get(&format!("/drives/{DRIVE}")).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let body: Value = expired.json().await.expect("json");
    assert_eq!(body["error"]["message"], "Access token has expired or is not yet valid.");
}

#[tokio::test]
async fn a_revoked_secret_fails_new_token_requests_but_issued_tokens_keep_working() {
    let f = Fixture::start().await;
    f.knob("revoke_secret", json!({"client_id": CLIENT})).await;
    assert_eq!(f.get(&format!("/drives/{DRIVE}")).await.status(), StatusCode::OK);
    let response = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.expect("json")["error_codes"], json!([7000215]));
    // Without admin consent the token comes back but carries no roles, and Graph refuses it.
    f.knob("add_secret", json!({"client_id": CLIENT, "value": "new"})).await;
    f.knob("consent", json!({"client_id": CLIENT, "granted": false})).await;
    let response = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", "new"),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    let token = response.json::<Value>().await.expect("json")["access_token"].as_str().expect("token").to_string();
    let refused = f.http.get(f.url(&format!("/drives/{DRIVE}"))).bearer_auth(token).send().await.expect("send");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authorization_code_with_pkce_then_rotating_refresh_tokens() {
    let f = Fixture::start().await;
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let authorize = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={CLIENT}&response_type=code&redirect_uri={}&scope=offline_access%20https%3A%2F%2Fgraph.microsoft.com%2FSites.ReadWrite.All&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
        f.emulator.base_url, "http%3A%2F%2F127.0.0.1%3A9%2Fcallback"
    );
    let response = f.http.get(&authorize).send().await.expect("authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(location.contains("state=xyz"));
    let code = location.split("code=").nth(1).and_then(|s| s.split('&').next()).expect("code");
    let code = code.replace("%2E", ".");

    let redeem = |verifier: &'static str, code: String| {
        let f = &f;
        async move {
            f.token_request(&[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ])
            .await
        }
    };
    let wrong = redeem("not-the-verifier", code.clone()).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let ok = redeem(verifier, code.clone()).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.expect("json");
    let refresh = body["refresh_token"].as_str().expect("offline_access gives a refresh token").to_string();
    let again = redeem(verifier, code).await;
    assert_eq!(again.json::<Value>().await.expect("json")["error_codes"], json!([54005]));

    let refreshed = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let body: Value = refreshed.json().await.expect("json");
    let rotated = body["refresh_token"].as_str().expect("rotated");
    assert_ne!(rotated, refresh);
    // The delegated token acts as Alice.
    let token = body["access_token"].as_str().expect("token");
    let created = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/root/children")))
        .bearer_auth(token)
        .json(&json!({"name": "alice-folder", "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.json::<Value>().await.expect("json")["createdBy"]["user"]["displayName"], "Alice Cooper");

    f.knob("revoke_refresh_tokens", json!({})).await;
    let revoked = f
        .token_request(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated),
        ])
        .await;
    assert_eq!(revoked.status(), StatusCode::BAD_REQUEST);
    assert_eq!(revoked.json::<Value>().await.expect("json")["error_codes"], json!([50173]));
}

#[tokio::test]
async fn sites_are_found_by_search_and_by_path_and_list_their_drives() {
    let f = Fixture::start().await;
    let found = f.get_json("/sites?search=market").await;
    assert_eq!(found["value"][0]["name"], "marketing");
    let sdk_style = f.get_json("/sites?$search=market").await;
    assert_eq!(sdk_style["value"].as_array().map(Vec::len), Some(1));
    let by_path = f.get_json("/sites/contoso.sharepoint.com:/sites/marketing").await;
    let id = by_path["id"].as_str().expect("id");
    assert_eq!(id.split(',').count(), 3);
    let drives = f.get_json("/sites/contoso.sharepoint.com:/sites/marketing:/drives").await;
    assert_eq!(drives["value"][0]["id"], DRIVE);
    assert_eq!(drives["value"][0]["driveType"], "documentLibrary");
    let encoded = f.get_json(&format!("/drives/{}", DRIVE.replace('!', "%21"))).await;
    assert_eq!(encoded["id"], DRIVE);
}

#[tokio::test]
async fn items_have_the_sharepoint_shape() {
    let f = Fixture::start().await;
    let file = f.item("DOCS/Plan.docx").await; // paths match case-insensitively
    assert_eq!(file["name"], "plan.docx");
    let etag = file["eTag"].as_str().expect("eTag");
    assert!(etag.starts_with("\"{") && etag.ends_with(",3\""), "{etag}");
    assert_eq!(file["file"]["hashes"], json!({"quickXorHash": quick_xor_hash(b"third")}));
    assert!(file["parentReference"]["path"].as_str().expect("path").ends_with("/root:/Docs"));
    assert!(file.get("publication").is_none());
    let folder = f.item("Docs").await;
    assert!(folder.get("cTag").is_none());
    assert_eq!(folder["folder"]["childCount"], 3);
    assert_eq!(folder["size"], json!("third".len() + "numbers".len() + "shared".len()));
    let not_modified = f
        .http
        .get(f.url(&format!("/drives/{DRIVE}/root:/Docs/plan.docx")))
        .bearer_auth(&f.token)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("send");
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let missing = f.get(&format!("/drives/{DRIVE}/root:/nope.txt")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.expect("json")["error"]["code"], "itemNotFound");
}

#[tokio::test]
async fn children_page_with_top_and_absolute_next_links() {
    let f = Fixture::start().await;
    let mut url = format!("/drives/{DRIVE}/root:/Many:/children?$top=10");
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page = f.get_json(&url).await;
        pages += 1;
        names.extend(
            page["value"].as_array().expect("value").iter().map(|v| v["name"].as_str().unwrap_or("").to_string()),
        );
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&f.emulator.base_url), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25);
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 25);
}

#[tokio::test]
async fn delta_enumerates_then_reports_only_changes() {
    let f = Fixture::start().await;
    let (items, delta_link, pages) = f.delta_all(&format!("/drives/{DRIVE}/root/delta?$top=10")).await;
    assert!(pages >= 3);
    assert!(items.iter().any(|i| i.get("root").is_some()));
    assert!(items.iter().all(|i| i["parentReference"].get("path").is_none() && i.get("cTag").is_none()));

    // Nothing changed: an empty page with a new deltaLink.
    let (unchanged, delta_link, _) = f.delta_all(&delta_link).await;
    assert!(unchanged.is_empty(), "{unchanged:?}");

    // A rename, an upload, a delete.
    let shared = f.item("Docs/shared.txt").await;
    let id = shared["id"].as_str().expect("id");
    let renamed = f
        .http
        .patch(f.url(&format!("/drives/{DRIVE}/items/{id}")))
        .bearer_auth(&f.token)
        .json(&json!({"name": "renamed.txt"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(renamed.status(), StatusCode::OK);
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/new.txt:/content")))
        .bearer_auth(&f.token)
        .body("new")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::CREATED);
    let victim = f.item("Many/file-00.txt").await;
    let victim_id = victim["id"].as_str().expect("id");
    let deleted = f
        .http
        .delete(f.url(&format!("/drives/{DRIVE}/items/{victim_id}")))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let (changes, _, _) = f.delta_all(&delta_link).await;
    let by_id = |id: &str| changes.iter().rfind(|c| c["id"] == id).cloned();
    assert_eq!(by_id(id).expect("renamed item")["name"], "renamed.txt");
    let gone = by_id(victim_id).expect("deleted item");
    assert_eq!(gone["deleted"]["state"], "deleted");
    assert!(gone.get("name").is_none());
    assert!(changes.iter().any(|c| c["name"] == "new.txt"));
    assert!(changes.iter().all(|c| c["name"] != "file-01.txt"), "unchanged items stay out");

    // token=latest starts from now without enumerating.
    let latest = f.get_json(&format!("/drives/{DRIVE}/root/delta?token=latest")).await;
    assert_eq!(latest["value"], json!([]));
    assert!(latest["@odata.deltaLink"].is_string());
    // The SDK's function form.
    let function = f.get_json(&format!("/drives/{DRIVE}/root/delta()")).await;
    assert!(function["value"].as_array().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn select_without_deleted_hides_the_deleted_facet() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&format!("/drives/{DRIVE}/root/delta")).await;
    let item = f.item("Many/file-03.txt").await;
    let id = item["id"].as_str().expect("id");
    f.http.delete(f.url(&format!("/drives/{DRIVE}/items/{id}"))).bearer_auth(&f.token).send().await.expect("delete");
    let selected = format!("{link}&$select=id,name");
    let page = f.get_json(&selected).await;
    let entry = page["value"].as_array().expect("value").iter().find(|v| v["id"] == id).cloned().expect("entry");
    assert!(entry.get("deleted").is_none());
}

#[tokio::test]
async fn invalidated_delta_tokens_get_410_with_a_location_that_restarts() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&format!("/drives/{DRIVE}/root/delta")).await;
    f.knob("invalidate_delta", json!({"drive_id": DRIVE, "code": "resyncChangesUploadDifferences"})).await;
    let gone = f.get(&link).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    let location = gone.headers()["location"].to_str().expect("location").to_string();
    let body: Value = gone.json().await.expect("json");
    assert_eq!(body["error"]["code"], "resyncChangesUploadDifferences");
    let (items, _, _) = f.delta_all(&location).await;
    assert!(items.len() > 25);
}

#[tokio::test]
async fn throttled_requests_carry_retry_after_and_are_counted() {
    let f = Fixture::start().await;
    f.knob("throttle", json!({"count": 2, "status": 429, "retry_after": 7})).await;
    for _ in 0..2 {
        let response = f.get(&format!("/drives/{DRIVE}")).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.json::<Value>().await.expect("json")["error"]["code"], "activityLimitReached");
    }
    assert_eq!(f.get(&format!("/drives/{DRIVE}")).await.status(), StatusCode::OK);
    f.knob("throttle", json!({"count": 1, "status": 503})).await;
    let unavailable = f.get(&format!("/drives/{DRIVE}")).await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.headers().get("retry-after").is_none());
    let counters = f.emulator.counters();
    assert_eq!(counters.get("GET /v1.0/drives/{d}"), Some(&4));
}

#[tokio::test]
async fn downloads_redirect_to_a_preauthenticated_url_that_serves_ranges() {
    let f = Fixture::start().await;
    let item = f.item("Docs/plan.docx").await;
    let id = item["id"].as_str().expect("id");
    let redirect = f.get(&format!("/drives/{DRIVE}/items/{id}/content")).await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().expect("location").to_string();
    let body = f.http.get(&location).send().await.expect("download").bytes().await.expect("bytes");
    assert_eq!(&body[..], b"third");
    let ranged = f.http.get(&location).header("Range", "bytes=1-2").send().await.expect("range");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["content-range"], "bytes 1-2/5");
    assert_eq!(&ranged.bytes().await.expect("bytes")[..], b"hi");
    let direct = item["@microsoft.graph.downloadUrl"].as_str().expect("downloadUrl");
    assert_eq!(&f.http.get(direct).send().await.expect("get").bytes().await.expect("bytes")[..], b"third");
}

#[tokio::test]
async fn upload_sessions_take_aligned_fragments_in_order_and_resume() {
    let f = Fixture::start().await;
    let unit = 327_680usize;
    let data: Vec<u8> = (0..unit * 3 + 1000).map(|i| (i % 251) as u8).collect();
    let total = data.len();
    let session = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/root:/Docs/big.bin:/createUploadSession")))
        .bearer_auth(&f.token)
        .json(&json!({"item": {"@microsoft.graph.conflictBehavior": "fail"}}))
        .send()
        .await
        .expect("session");
    assert_eq!(session.status(), StatusCode::OK);
    let session: Value = session.json().await.expect("json");
    let upload_url = session["uploadUrl"].as_str().expect("uploadUrl").to_string();
    let put = |start: usize, end: usize| {
        let chunk = data[start..end].to_vec();
        f.http.put(&upload_url).header("Content-Range", format!("bytes {start}-{}/{total}", end - 1)).body(chunk).send()
    };
    let first = put(0, unit).await.expect("first");
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(first.json::<Value>().await.expect("json")["nextExpectedRanges"], json!([format!("{unit}-")]));
    assert_eq!(put(unit * 2, unit * 3).await.expect("skip").status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(put(0, unit).await.expect("again").status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(put(unit, unit + 1000).await.expect("unaligned").status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // Resume: ask where to continue.
    let status: Value = f.http.get(&upload_url).send().await.expect("status").json().await.expect("json");
    let next: usize =
        status["nextExpectedRanges"][0].as_str().and_then(|r| r.trim_end_matches('-').parse().ok()).expect("range");
    assert_eq!(next, unit);
    assert_eq!(put(unit, unit * 3).await.expect("middle").status(), StatusCode::ACCEPTED);
    let done = put(unit * 3, total).await.expect("last");
    assert_eq!(done.status(), StatusCode::CREATED);
    let item: Value = done.json().await.expect("json");
    assert_eq!(item["size"], total);
    assert_eq!(item["file"]["hashes"]["quickXorHash"], quick_xor_hash(&data));
    assert_eq!(f.http.get(&upload_url).send().await.expect("gone").status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stale_if_match_gets_412_and_name_clashes_409() {
    let f = Fixture::start().await;
    let item = f.item("Docs/plan.docx").await;
    let id = item["id"].as_str().expect("id");
    let etag = item["eTag"].as_str().expect("etag").to_string();
    let ok = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/items/{id}/content")))
        .bearer_auth(&f.token)
        .header("If-Match", &etag)
        .body("fourth")
        .send()
        .await
        .expect("put");
    assert_eq!(ok.status(), StatusCode::OK);
    let stale = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/items/{id}/content")))
        .bearer_auth(&f.token)
        .header("If-Match", &etag)
        .body("fifth")
        .send()
        .await
        .expect("put");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = stale.json().await.expect("json");
    assert_eq!(body["error"]["code"], "resourceModified");
    let patch = f
        .http
        .patch(f.url(&format!("/drives/{DRIVE}/items/{id}")))
        .bearer_auth(&f.token)
        .header("If-Match", &etag)
        .json(&json!({"name": "x.docx"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patch.status(), StatusCode::PRECONDITION_FAILED);
    let clash = f
        .http
        .patch(f.url(&format!("/drives/{DRIVE}/items/{id}")))
        .bearer_auth(&f.token)
        .json(&json!({"name": "BUDGET.xlsx"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let fail = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/shared.txt:/content?@microsoft.graph.conflictBehavior=fail")))
        .bearer_auth(&f.token)
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(fail.status(), StatusCode::CONFLICT);
    let renamed = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/shared.txt:/content?@microsoft.graph.conflictBehavior=rename")))
        .bearer_auth(&f.token)
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(renamed.json::<Value>().await.expect("json")["name"], "shared 1.txt");
    let bad_name = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/a%3Fb.txt:/content")))
        .bearer_auth(&f.token)
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(bad_name.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_file_checked_out_by_someone_else_refuses_writes_with_423() {
    let f = Fixture::start().await;
    f.knob(
        "act",
        json!({"user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/shared.txt", "action": "checkout"}),
    )
    .await;
    let item = f.get_json(&format!("/drives/{DRIVE}/root:/Docs/shared.txt?$select=id,name,publication")).await;
    assert_eq!(item["publication"]["level"], "checkout");
    assert_eq!(item["publication"]["checkedOutBy"]["user"]["displayName"], "Bob Dylan");
    let id = item["id"].as_str().expect("id");
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/items/{id}/content")))
        .bearer_auth(&f.token)
        .body("mine")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::LOCKED);
    let delete = f
        .http
        .delete(f.url(&format!("/drives/{DRIVE}/items/{id}")))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), StatusCode::LOCKED);
    f.knob(
        "act",
        json!({"user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/shared.txt", "action": "checkin"}),
    )
    .await;
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/items/{id}/content")))
        .bearer_auth(&f.token)
        .body("mine")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::OK);
    // Our own check-out does not lock us out.
    let out = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/items/{id}/checkout")))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("checkout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/items/{id}/content")))
        .bearer_auth(&f.token)
        .body("again")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::OK);
}

#[tokio::test]
async fn versions_list_newest_first_and_restore_adds_a_version() {
    let f = Fixture::start().await;
    let item = f.item("Docs/plan.docx").await;
    let id = item["id"].as_str().expect("id");
    let versions = f.get_json(&format!("/drives/{DRIVE}/items/{id}/versions")).await;
    let labels: Vec<&str> =
        versions["value"].as_array().expect("value").iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(labels, vec!["3.0", "2.0", "1.0"]);
    let old = f.get(&format!("/drives/{DRIVE}/items/{id}/versions/1.0/content")).await;
    assert_eq!(old.status(), StatusCode::FOUND);
    let location = old.headers()["location"].to_str().expect("location").to_string();
    assert_eq!(&f.http.get(location).send().await.expect("get").bytes().await.expect("bytes")[..], b"first");
    let restore = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/items/{id}/versions/1.0/restoreVersion")))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("restore");
    assert_eq!(restore.status(), StatusCode::NO_CONTENT);
    let versions = f.get_json(&format!("/drives/{DRIVE}/items/{id}/versions")).await;
    assert_eq!(versions["value"][0]["id"], "4.0");
    assert_eq!(versions["value"].as_array().map(Vec::len), Some(4));
    let now = f.item("Docs/plan.docx").await;
    assert_eq!(now["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"first"));
}

#[tokio::test]
async fn permissions_inherit_unless_broken() {
    let f = Fixture::start().await;
    let perms = |path: &'static str| {
        let f = &f;
        async move {
            let item = f.item(path).await;
            let id = item["id"].as_str().expect("id").to_string();
            f.get_json(&format!("/drives/{DRIVE}/items/{id}/permissions")).await["value"].clone()
        }
    };
    let folder = perms("Docs").await;
    let inherited = perms("Docs/plan.docx").await;
    let unique = perms("Docs/budget.xlsx").await;
    assert_eq!(folder, inherited);
    assert_ne!(folder, unique);
    assert_eq!(unique[0]["grantedToV2"]["user"]["id"], "u2");
    assert!(inherited.as_array().expect("array").iter().all(|p| p.get("inheritedFrom").is_none()));
    assert!(
        folder
            .as_array()
            .expect("array")
            .iter()
            .any(|p| p["grantedToV2"]["siteGroup"]["displayName"] == "Marketing Owners")
    );
    f.knob("act", json!({"user": "alice@contoso.com", "drive_id": DRIVE, "path": "Docs/plan.docx", "action": "break_inheritance", "permissions": [{"roles": ["read"], "user": "alice@contoso.com"}]})).await;
    assert_ne!(perms("Docs/plan.docx").await, folder);
}

#[tokio::test]
async fn list_item_fields_are_readable_and_only_writable_columns_change() {
    let f = Fixture::start().await;
    let item = f.item("Docs/plan.docx").await;
    let id = item["id"].as_str().expect("id");
    let fields = f.get_json(&format!("/drives/{DRIVE}/items/{id}/listItem?expand=fields")).await;
    assert_eq!(fields["fields"]["FileLeafRef"], "plan.docx");
    assert_eq!(fields["fields"]["_UIVersionString"], "3.0");
    let ok = f
        .http
        .patch(f.url(&format!("/drives/{DRIVE}/items/{id}/listItem/fields")))
        .bearer_auth(&f.token)
        .json(&json!({"Department": "Sales"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.expect("json")["Department"], "Sales");
    let read_only = f
        .http
        .patch(f.url(&format!("/drives/{DRIVE}/items/{id}/listItem/fields")))
        .bearer_auth(&f.token)
        .json(&json!({"DocId": "X"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(read_only.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn directory_search_needs_the_consistency_header() {
    let f = Fixture::start().await;
    let users = f.get_json("/users?$filter=startswith(displayName,'ali')&$select=id,mail").await;
    assert_eq!(users["value"], json!([{"id": "u1", "mail": "alice@contoso.com"}]));
    let refused = f.get("/users?$search=\"displayName:bob\"").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.expect("json")["error"]["code"], "Request_UnsupportedQuery");
    let found: Value = f
        .http
        .get(f.url("/groups?$search=\"displayName:market\""))
        .bearer_auth(&f.token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(found["value"][0]["id"], "g1");
    let first = f.get_json("/users?$top=1&$select=id").await;
    assert_eq!(first["value"], json!([{"id": "u1"}]));
    let next = first["@odata.nextLink"].as_str().expect("nextLink");
    let second = f.get_json(next).await;
    assert_eq!(second["value"], json!([{"id": "u2"}]));
    assert!(second.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn a_large_generated_library_enumerates_at_the_largest_page_size() {
    let mut seed = seed();
    let big: Seed = serde_json::from_value(json!({
        "sites": [{"hostname": "contoso.sharepoint.com", "path": "/sites/big", "name": "big", "drives": [{"id": "b!big", "name": "Big", "generate": {"files": 10000, "folders": 50, "seed": 1}}]}]
    }))
    .expect("seed");
    seed.sites.extend(big.sites);
    let f = Fixture::start_with(seed).await;
    // 10,000 files and 51 folders plus the root, at the largest page the service serves (1000).
    let (items, link, pages) = f.delta_all("/drives/b!big/root/delta?$top=5000").await;
    let files = items.iter().filter(|i| i.get("file").is_some()).count();
    assert_eq!(files, 10000);
    assert_eq!(pages, 10052_usize.div_ceil(1000));
    // Ten changes cost requests in proportion to the changes.
    for n in 0..10 {
        let change = json!({"user": "alice@contoso.com", "drive_id": "b!big", "path": format!("gen/file-{:06}.bin", n * 51), "action": "upload", "text": "changed"});
        f.emulator.knob_json("act", change).expect("in-process knob");
    }
    f.emulator.reset_counters();
    let (changes, _, pages) = f.delta_all(&link).await;
    assert_eq!(pages, 1);
    assert_eq!(changes.iter().filter(|c| c.get("file").is_some()).count(), 10);
}

#[tokio::test]
async fn the_token_endpoint_and_graph_are_served_over_tls_when_asked() {
    let dir = std::env::temp_dir().join(format!("graph-emulator-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    let clock = std::sync::Arc::new(scaidrive_connectors::clock::SystemClock);
    let tls = scaidrive_connectors::graph_emulator::TlsFiles { cert, key };
    let emulator = GraphEmulator::start_with(seed(), "127.0.0.1:0", clock, Some(tls)).await.expect("TLS emulator");
    assert!(emulator.base_url.starts_with("https://"));
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("root");
    let http = reqwest::Client::builder().add_root_certificate(root).build().expect("client");
    let discovery: Value = http
        .get(format!("{}/{TENANT}/v2.0/.well-known/openid-configuration", emulator.base_url))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["token_endpoint"], emulator.token_url(TENANT));
    let token = http
        .post(emulator.token_url(TENANT))
        .form(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(token.status(), StatusCode::OK);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn batch_runs_up_to_twenty_requests_each_with_its_own_status() {
    let f = Fixture::start().await;
    let batch = |requests: Value| {
        let f = &f;
        async move {
            f.http
                .post(f.url("/$batch"))
                .bearer_auth(&f.token)
                .json(&json!({"requests": requests}))
                .send()
                .await
                .expect("batch")
        }
    };
    f.knob("throttle", json!({"count": 1, "retry_after": 5, "path": "/v1.0/drives/"})).await;
    let response = batch(json!([
        {"id": "1", "method": "GET", "url": format!("/drives/{DRIVE}")},
        {"id": "2", "method": "GET", "url": format!("/drives/{DRIVE}/root:/Docs/plan.docx")},
        {"id": "3", "method": "GET", "url": format!("/drives/{DRIVE}/root:/missing.txt")},
        {"id": "4", "method": "GET", "url": format!("/drives/{DRIVE}/root:/Docs/plan.docx"), "dependsOn": ["3"]}
    ]))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let status = |id: &str| {
        body["responses"].as_array().and_then(|r| r.iter().find(|x| x["id"] == id)).map(|x| x["status"].clone())
    };
    assert_eq!(status("1"), Some(json!(429)));
    assert_eq!(status("2"), Some(json!(200)));
    assert_eq!(status("3"), Some(json!(404)));
    assert_eq!(status("4"), Some(json!(424)));
    let too_many: Vec<Value> =
        (0..21).map(|n| json!({"id": n.to_string(), "method": "GET", "url": "/users"})).collect();
    assert_eq!(batch(json!(too_many)).await.status(), StatusCode::BAD_REQUEST);
    let duplicate =
        json!([{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/groups"}]);
    assert_eq!(batch(duplicate).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn copy_reports_progress_on_a_monitor_url_then_the_new_id() {
    let f = Fixture::start().await;
    let docs = f.item("Docs").await;
    let id = docs["id"].as_str().expect("id");
    let response = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/items/{id}/copy")))
        .bearer_auth(&f.token)
        .json(&json!({"parentReference": {"driveId": DRIVE, "id": "root"}, "name": "Docs copy"}))
        .send()
        .await
        .expect("copy");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let monitor = response.headers()["location"].to_str().expect("location").to_string();
    let first: Value = f.http.get(&monitor).send().await.expect("poll").json().await.expect("json");
    assert_eq!(first["status"], "inProgress");
    let done: Value = f.http.get(&monitor).send().await.expect("poll").json().await.expect("json");
    assert_eq!(done["status"], "completed");
    let copy = f.item("Docs copy/plan.docx").await;
    assert_eq!(copy["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"third"));
    let folder = f.item("Docs copy").await;
    assert_eq!(done["resourceId"], folder["id"]);
}

#[tokio::test]
async fn a_coauthoring_lock_refuses_writes_with_423_not_allowed() {
    let f = Fixture::start().await;
    f.knob("act", json!({"user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/shared.txt", "action": "lock"}))
        .await;
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/shared.txt:/content")))
        .bearer_auth(&f.token)
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::LOCKED);
    let body: Value = put.json().await.expect("json");
    assert_eq!(body["error"]["code"], "notAllowed");
    assert_eq!(body["error"]["innerError"]["code"], "resourceLocked");
}

#[tokio::test]
async fn the_request_log_shows_what_reached_the_emulator_without_credentials() {
    let f = Fixture::start().await;
    let session: Value = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/root:/Docs/log.bin:/createUploadSession")))
        .bearer_auth(&f.token)
        .json(&json!({}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let url = session["uploadUrl"].as_str().expect("uploadUrl");
    let done = f.http.put(url).header("Content-Range", "bytes 0-2/3").body("abc").send().await.expect("put");
    assert_eq!(done.status(), StatusCode::CREATED);
    let log: Value = f
        .http
        .get(format!("{}/_emulator/requests", f.emulator.base_url))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    let entries = log.as_array().expect("array");
    let upload =
        entries.iter().find(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/_upload/"))).expect("upload entry");
    assert!(upload["headers"].get("authorization").is_none());
    assert_eq!(upload["query"], "token=<redacted>");
    let create = entries
        .iter()
        .find(|e| e["path"].as_str().is_some_and(|p| p.ends_with("createUploadSession")))
        .expect("create entry");
    assert_eq!(create["headers"]["authorization"], "<redacted>");
    assert_eq!(create["status"], 200);
}

#[tokio::test]
async fn delta_shape_knobs_repeat_items_and_the_last_occurrence_is_current() {
    let f = Fixture::start().await;
    f.knob("delta_shape", json!({"duplicates": true, "shuffle": true})).await;
    let (items, _, _) = f.delta_all(&format!("/drives/{DRIVE}/root/delta")).await;
    let plan: Vec<&Value> = items.iter().filter(|i| i["name"] == "plan.docx").collect();
    assert_eq!(plan.len(), 2);
}

#[tokio::test]
async fn the_resource_unit_budget_warns_from_eighty_percent_then_throttles() {
    let f = Fixture::start().await;
    f.knob("rate_limit", json!({"per_minute": 10})).await;
    let mut warned = false;
    let mut throttled = None;
    for _ in 0..12 {
        let response = f.get(&format!("/drives/{DRIVE}")).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            break;
        }
        warned |= response.headers().contains_key("ratelimit-remaining");
    }
    assert!(warned, "RateLimit-* headers before the 429");
    let seconds: i64 = throttled.expect("throttled at 100 %").parse().expect("seconds");
    f.knob("advance_clock", json!({"seconds": seconds})).await;
    assert_eq!(f.get(&format!("/drives/{DRIVE}")).await.status(), StatusCode::OK);
}

/// A throwaway RSA key made for this test with `openssl genpkey -algorithm RSA`; it protects nothing.
const TEST_RSA_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDR4JX8EmC/Pp3h
AKVvZMesADEpyLNkPLIVdpxGRCNmgefN6RLekbEYSL7+yc8qAOJg0D54LURWR0Bh
2CDIITz1nlcUI/1VIuupRsEgZa8EyfsTdrI2nBljZ2iyjU4GDKa9bStnI4/U/jgC
sjGDiP4ZwVN+XltJbtEu5jS52ProcLkY9lb1iEc4PmIpJASc5P4bYMZmQbzPwPs3
2jYUUJ//C6icA0OKHkX3W181P9qEAc6oTYf3iqciQpYAI8XZyhe0Sw+t4HtKGULS
GyFYSOfCpEcg/c9EJGgKNXtPQQf0jTML0tYvJB7eV6gxKWUY9JMAB5R8Jp0deVS2
cwBLJjqNAgMBAAECggEAD8B+KUrc0YW61jwU7pEfDlj+V589XZDTodpC3OA40vT9
h54OYT+IjeTJ1vghEQs7cl42zhDBsAMNgTp2LWcXOu0NJpET7queCdiqXorbMa4S
JtISCpi5LBWDDWGfIUOaUR3MM+O+pBMHc6ZZooBp59dzc4jT66VCVHWJMAipvj+y
xgy6sMuxrGqyQg8s0i+NF5dYtuxZ57+QWR8E6WOhUvBHXj/UMzpFdRisXsZcqhL3
HdCf5ZiDCOglY2QlcTdzxZ7hcxjoFNhFpx+0v0fU/O2lnVvlK88hgn00bf6Yz6Us
PBGgs5UTVQtUYfhrWv3SGe3J8AS6aT3z3pA9xnOtsQKBgQDxaXg3v8S5PcRGzAVq
bCL7NeXOPNbUu0WTHEgSNBgHOJL298NwV0C5GVlzp43USl1Afuys62maeF5zNqKp
dFC7ivuRg5IsnENkwwsnhb0cQVpU5+xQDEajz1g6W5Hg1DX5w2fpjpg4cTJpvfYH
eeV7PSCKkSUjdXVE2cLZBR2kcQKBgQDej0oJosDw32GE6YeIYpKBTuBMrtwGHkSs
8QsbEmdtRkOyBHi9WXwfv0fbu/pe/hUsIcRh0kWhfh/RJsS9cjEVAtPoFFmeNHJD
1vblgyVrhOYlb4VMEplL+NVE2E6G6rwEP6sLKsP73OsWLVBCmekHj+dEUsa+yaGp
51NglDIV3QKBgDNJZ9vYJs//2kn8IA5q6MebvLWi4TUSkAZf1MPhQ1WNZFOJcYDV
WI+6XfGfIBeAsOz5ygg2fxntBovNiKMdbeVZ8nYIkK5fiEXI1f7Qf8uX6rvtBZw/
72Xvr9u+BnDQRKNKKzJIM/iRu9cRH0qZT/JtmxM1IMG2u3IkHSwD1TdRAoGAJPfc
LnmQXvJb+n3n+2mUOFJnw5UQCxwgADIRzC9kaqxPNlSz0Y/5pDRbtU4mKn09+xSo
0C7jTg3rLwynhWhgasMLe/NVZ4gCqu4cGMeOAawTpog9tgMo34u3sTXU5Wg8TuBc
gwBZiY6KpiZkvItgP9dRbPHq/Wn0poo8OUCkiSkCgYEAukrru7OzBNNtmcJuziV+
WIRtLgk/MPLlgaS7fs8HWFjTcN7tQCxxq0fq1uUWewqMHyq/mFN4zCmxVVi6W8f1
/HJPCnDlpW1Js7k5HUl8rAvHdBPTKYtxthbFTWJUR+40gYIgJxflvFuvmhKGkVG0
eHHK9Q1xflnbtuB2RWAFo6g=
-----END PRIVATE KEY-----\n";

#[tokio::test]
async fn certificate_assertions_must_be_signed_by_the_registered_certificate() {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;

    let key_pair = rcgen::KeyPair::from_pem(TEST_RSA_KEY).expect("RSA key");
    let params = rcgen::CertificateParams::new(vec!["scaidrive-connector".to_string()]).expect("params");
    let cert = params.self_signed(&key_pair).expect("self-signed certificate");
    let mut seed = seed();
    seed.apps[0].certificates = serde_json::from_value(json!([{"pem": cert.pem()}])).expect("cert seed");
    let f = Fixture::start_with(seed).await;

    let key_der = PrivateKeyDer::from_pem_slice(TEST_RSA_KEY.as_bytes()).expect("pkcs8");
    let signer = ring::signature::RsaKeyPair::from_pkcs8(key_der.secret_der()).expect("ring key");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let thumb = b64(Sha256::digest(cert.der()).as_slice());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"aud": f.emulator.token_url(TENANT), "iss": CLIENT, "sub": CLIENT, "jti": "j2", "nbf": now, "exp": now + 600});
    let sign = |alg: &str, padding: &'static dyn ring::signature::RsaEncoding| {
        let head = json!({"alg": alg, "typ": "JWT", "x5t#S256": thumb});
        let input = format!("{}.{}", b64(head.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let mut signature = vec![0u8; signer.public().modulus_len()];
        signer.sign(padding, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut signature).expect("sign");
        format!("{input}.{}", b64(&signature))
    };
    let rs256 = sign("RS256", &ring::signature::RSA_PKCS1_SHA256);
    let ps256 = sign("PS256", &ring::signature::RSA_PSS_SHA256);
    let mut tampered = rs256.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    for (assertion, status) in [(rs256, StatusCode::OK), (ps256, StatusCode::OK), (tampered, StatusCode::UNAUTHORIZED)]
    {
        let response = f
            .token_request(&[
                ("client_id", CLIENT),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion),
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .await;
        assert_eq!(response.status(), status);
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(response.json::<Value>().await.expect("json")["error_codes"], json!([700027]));
        }
    }
}

#[tokio::test]
async fn a_change_made_just_before_our_write_makes_it_fail_the_precondition() {
    let f = Fixture::start().await;
    let item = f.item("Docs/shared.txt").await;
    let id = item["id"].as_str().expect("id");
    let etag = item["eTag"].as_str().expect("etag");
    f.knob(
        "act_before",
        json!({"on_method": "PUT", "on_path": "/content", "user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/shared.txt", "action": "upload", "text": "bob's"}),
    )
    .await;
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/items/{id}/content")))
        .bearer_auth(&f.token)
        .header("If-Match", etag)
        .body("ours")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::PRECONDITION_FAILED);
    let now = f.item("Docs/shared.txt").await;
    assert_eq!(now["lastModifiedBy"]["user"]["displayName"], "Bob Dylan");
}

#[tokio::test]
async fn a_full_quota_refuses_uploads_with_507() {
    let f = Fixture::start().await;
    f.knob("quota", json!({"drive_id": DRIVE, "total": 300})).await;
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/big.txt:/content")))
        .bearer_auth(&f.token)
        .body(vec![0u8; 400])
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(put.json::<Value>().await.expect("json")["error"]["code"], "quotaLimitReached");
    let session = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/root:/big.bin:/createUploadSession")))
        .bearer_auth(&f.token)
        .json(&json!({"item": {"fileSize": 10_000}}))
        .send()
        .await
        .expect("session");
    assert_eq!(session.status(), StatusCode::INSUFFICIENT_STORAGE);
}

#[tokio::test]
async fn permission_changes_reach_delta_only_when_asked_for() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&format!("/drives/{DRIVE}/root/delta")).await;
    let before = f.item("Docs/plan.docx").await;
    f.knob("act", json!({"user": "alice@contoso.com", "drive_id": DRIVE, "path": "Docs/plan.docx", "action": "break_inheritance", "permissions": [{"roles": ["read"], "user": "alice@contoso.com"}]})).await;
    assert_eq!(f.item("Docs/plan.docx").await["eTag"], before["eTag"], "a permission change is not an item change");
    let (plain, _, _) = f.delta_all(&link).await;
    assert!(plain.iter().all(|i| i["name"] != "plan.docx"), "{plain:?}");
    let asked = f
        .http
        .get(&link)
        .bearer_auth(&f.token)
        .header("Prefer", "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges")
        .send()
        .await
        .expect("delta")
        .json::<Value>()
        .await
        .expect("json");
    let entry = asked["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|i| i["name"] == "plan.docx")
        .cloned()
        .expect("plan.docx");
    assert_eq!(entry["@microsoft.graph.sharedChanged"], "True");
}

#[tokio::test]
async fn sites_selected_grants_are_honoured_per_site() {
    let site = "contoso.sharepoint.com,aaaaaaaa-1111-2222-3333-444444444444,bbbbbbbb-1111-2222-3333-444444444444";
    let mut seed = seed();
    let extra: Seed = serde_json::from_value(json!({
        "apps": [{"tenant": TENANT, "client_id": "selected-app", "secrets": ["x"], "roles": ["Sites.Selected"], "selected_sites": {site: ["read"]}}],
        "sites": [{"hostname": "contoso.sharepoint.com", "path": "/sites/other", "name": "other", "drives": [{"id": "b!other", "name": "Documents"}]}]
    }))
    .expect("seed");
    seed.apps.extend(extra.apps);
    seed.sites.extend(extra.sites);
    let f = Fixture::start_with(seed).await;
    let token: Value = f
        .token_request(&[
            ("client_id", "selected-app"),
            ("client_secret", "x"),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token");
    let get = |path: String| f.http.get(f.url(&path)).bearer_auth(token).send();
    assert_eq!(get(format!("/drives/{DRIVE}/root/children")).await.expect("get").status(), StatusCode::OK);
    assert_eq!(get("/drives/b!other/root/children".to_string()).await.expect("get").status(), StatusCode::FORBIDDEN);
    let write = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/x.txt:/content")))
        .bearer_auth(token)
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    assert_eq!(write.json::<Value>().await.expect("json")["error"]["code"], "accessDenied");
    let found: Value = get("/sites?search=*".to_string()).await.expect("search").json().await.expect("json");
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_download_broken_off_half_way_resumes_with_a_range() {
    let f = Fixture::start().await;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let put = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/large.bin:/content")))
        .bearer_auth(&f.token)
        .body(body.clone())
        .send()
        .await
        .expect("put");
    let item: Value = put.json().await.expect("json");
    let url = item["@microsoft.graph.downloadUrl"].as_str().expect("downloadUrl");
    f.knob("drop_body", json!({"count": 1, "path": "/_download"})).await;
    // The connection breaks mid-body: depending on timing the client fails while reading headers or body.
    match f.http.get(url).send().await {
        Err(_) => {}
        Ok(broken) => assert!(broken.bytes().await.is_err(), "the body breaks off"),
    }
    let resumed = f.http.get(url).header("Range", "bytes=50000-").send().await.expect("range");
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&resumed.bytes().await.expect("bytes")[..], &body[50_000..]);
}

#[tokio::test]
async fn a_missing_hash_appears_after_a_download() {
    let f = Fixture::start().await;
    f.knob("hash_pending", json!({"drive_id": DRIVE, "path": "Docs/plan.docx"})).await;
    let item = f.item("Docs/plan.docx").await;
    assert_eq!(item["file"]["hashes"], json!({}));
    let url = item["@microsoft.graph.downloadUrl"].as_str().expect("downloadUrl");
    f.http.get(url).send().await.expect("download").bytes().await.expect("bytes");
    assert_eq!(f.item("Docs/plan.docx").await["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"third"));
}

#[tokio::test]
async fn edits_under_someone_elses_check_out_stay_invisible_until_check_in() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&format!("/drives/{DRIVE}/root/delta")).await;
    let act = |action: Value| {
        let mut body = json!({"user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/shared.txt"});
        if let (Some(b), Some(a)) = (body.as_object_mut(), action.as_object()) {
            b.extend(a.clone());
        }
        f.knob("act", body)
    };
    act(json!({"action": "checkout"})).await;
    act(json!({"action": "upload", "text": "bob's draft"})).await;
    assert_eq!(f.item("Docs/shared.txt").await["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"shared"));
    act(json!({"action": "checkin"})).await;
    let now = f.item("Docs/shared.txt").await;
    assert_eq!(now["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"bob's draft"));
    assert_eq!(now["lastModifiedBy"]["user"]["displayName"], "Bob Dylan");
    let (changes, _, _) = f.delta_all(&link).await;
    assert!(changes.iter().any(|c| c["name"] == "shared.txt"));
}

#[tokio::test]
async fn a_name_clash_at_commit_is_recovered_by_putting_the_session_to_a_new_name() {
    let f = Fixture::start().await;
    let session: Value = f
        .http
        .post(f.url(&format!("/drives/{DRIVE}/root:/Docs/clash.txt:/createUploadSession")))
        .bearer_auth(&f.token)
        .json(&json!({"item": {"@microsoft.graph.conflictBehavior": "fail"}}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let url = session["uploadUrl"].as_str().expect("uploadUrl");
    // Someone else creates the name while we upload.
    f.knob("act", json!({"user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/clash.txt", "action": "upload", "text": "bob"})).await;
    let clash = f.http.put(url).header("Content-Range", "bytes 0-3/4").body("ours").send().await.expect("put");
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let recovered = f
        .http
        .put(f.url(&format!("/drives/{DRIVE}/root:/Docs/clash (ours).txt:")))
        .bearer_auth(&f.token)
        .json(&json!({"@microsoft.graph.sourceUrl": url}))
        .send()
        .await
        .expect("put");
    assert_eq!(recovered.status(), StatusCode::CREATED);
    assert_eq!(recovered.json::<Value>().await.expect("json")["size"], 4);
    assert_eq!(f.item("Docs/clash.txt").await["size"], 3);
}

#[tokio::test]
async fn subfolder_delta_is_refused_unless_enabled_and_then_stays_inside_the_folder() {
    let f = Fixture::start().await;
    let docs = f.item("Docs").await;
    let id = docs["id"].as_str().expect("id");
    let refused = f.get(&format!("/drives/{DRIVE}/items/{id}/delta")).await;
    assert_eq!(refused.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(refused.json::<Value>().await.expect("json")["error"]["code"], "notSupported");
    f.knob("subfolder_delta", json!({"enabled": true})).await;
    let (items, _, _) = f.delta_all(&format!("/drives/{DRIVE}/items/{id}/delta")).await;
    let names: std::collections::BTreeSet<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["Docs", "budget.xlsx", "plan.docx", "shared.txt"].into_iter().collect());
}
