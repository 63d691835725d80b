//! The emulator tests' harness: a seed with one tenant, one app (a secret and a certificate thumbprint), two
//! users, a group and a site whose library holds 25 files under `Many/` and three under `Docs/`; and a fixture
//! holding an app token that sends Graph requests as a client would, so each test reads as what it sends and
//! what it expects back.

use reqwest::redirect::Policy;
use reqwest::{Body, Method, RequestBuilder, Response, StatusCode};
use scaidrive_connectors::graph_emulator::{EmulatorHandle, GraphEmulator, Seed};
use serde_json::{Value, json};

pub use crate::fixture::{CLIENT, REDIRECT, SECRET, SITE, TENANT};

pub const DRIVE: &str = "b!ZHJpdmUtb25lLWZvci10aGUtZ3JhcGgtZW11bGF0b3ItdGVzdHMtMDAwMDAwMDAwMDAwMDAwMA";

pub fn seed() -> Seed {
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
            "id": SITE,
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

/// `rest` under the test library: `drive("/root/delta")` is `/drives/{DRIVE}/root/delta`.
pub fn drive(rest: &str) -> String {
    format!("/drives/{DRIVE}{rest}")
}

/// The token request form for an app token (Graph's `.default` scope) with a client secret.
pub fn client_credentials_form<'a>(client_id: &'a str, secret: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("client_id", client_id),
        ("client_secret", secret),
        ("grant_type", "client_credentials"),
        ("scope", "https://graph.microsoft.com/.default"),
    ]
}

/// Sends a request built by the test (for the few that set headers themselves).
pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

/// A response's body as JSON.
pub async fn json_of(response: Response) -> Value {
    response.json().await.expect("json")
}

/// Asserts that `response` is Graph's error answer with `status` and `code`; returns its `error` object.
pub async fn expect_graph_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let mut body = json_of(response).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"].take()
}

/// Sends `request` and reads its body as JSON, whatever the status.
pub async fn send_json(request: RequestBuilder) -> Value {
    json_of(send(request).await).await
}

pub struct Fixture {
    pub emulator: EmulatorHandle,
    /// Follows no redirects, so tests see Graph's 302s.
    pub http: reqwest::Client,
    /// The app's token (client credentials).
    pub token: String,
}

impl Fixture {
    pub async fn start() -> Self {
        Self::start_with(seed()).await
    }

    pub async fn start_with(seed: Seed) -> Self {
        let emulator = GraphEmulator::start(seed, "127.0.0.1:0").await.expect("emulator starts");
        let http = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
        let mut fixture = Fixture { emulator, http, token: String::new() };
        let response = fixture.client_credentials(CLIENT, SECRET).await;
        assert_eq!(response.status(), StatusCode::OK);
        fixture.token = json_of(response).await["access_token"].as_str().expect("access_token").to_string();
        fixture
    }

    /// Posts `form` to the test tenant's token endpoint.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.http.post(self.emulator.token_url(TENANT)).form(form).send().await.expect("token request")
    }

    /// Asks for an app token (Graph's `.default` scope) with a client secret.
    pub async fn client_credentials(&self, client_id: &str, secret: &str) -> Response {
        self.token_request(&client_credentials_form(client_id, secret)).await
    }

    /// Asks for the test app's token with a signed client assertion instead of a secret.
    pub async fn assertion_request(&self, assertion: &str) -> Response {
        self.token_request(&[
            ("client_id", CLIENT),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.graph_url())
    }

    /// A request with the app token to a Graph path (or an absolute link Graph returned), to add headers to.
    pub fn request(&self, method: Method, path_or_url: &str) -> RequestBuilder {
        let url = if path_or_url.starts_with("http") { path_or_url.to_string() } else { self.url(path_or_url) };
        self.http.request(method, url).bearer_auth(&self.token)
    }

    /// `method` on a Graph path or link with the app token and no body.
    pub async fn call(&self, method: Method, path_or_url: &str) -> Response {
        send(self.request(method, path_or_url)).await
    }

    /// `method` on a Graph path with the app token and a JSON body.
    pub async fn call_json(&self, method: Method, path: &str, body: Value) -> Response {
        send(self.request(method, path).json(&body)).await
    }

    /// PUT of `body` as a file's content.
    pub async fn put_bytes(&self, path: &str, body: impl Into<Body>) -> Response {
        send(self.request(Method::PUT, path).body(body)).await
    }

    pub async fn get(&self, path_or_url: &str) -> Response {
        self.call(Method::GET, path_or_url).await
    }

    /// GET that must answer 200, read as JSON.
    pub async fn get_json(&self, path_or_url: &str) -> Value {
        let response = self.get(path_or_url).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path_or_url}");
        json_of(response).await
    }

    /// GET without a token: download, monitor and upload-session URLs are pre-authenticated.
    pub async fn fetch(&self, url: &str) -> Response {
        send(self.http.get(url)).await
    }

    /// PUT of `bytes` at `start` of a `total`-byte upload to a session's `uploadUrl` (which takes no token).
    pub async fn put_fragment(&self, upload_url: &str, start: usize, total: usize, bytes: Vec<u8>) -> Response {
        let range = format!("bytes {start}-{}/{total}", start + bytes.len() - 1);
        send(self.http.put(upload_url).header("Content-Range", range).body(bytes)).await
    }

    /// Creates an upload session for `path` in the library with `body` (conflict behaviour, file size).
    pub async fn upload_session(&self, path: &str, body: Value) -> Response {
        self.call_json(Method::POST, &drive(&format!("/root:/{path}:/createUploadSession")), body).await
    }

    /// The `uploadUrl` of a new upload session for `path` with `body`.
    pub async fn upload_url(&self, path: &str, body: Value) -> String {
        let session = json_of(self.upload_session(path, body).await).await;
        session["uploadUrl"].as_str().expect("uploadUrl").to_string()
    }

    /// Sets one of the emulator's knobs through its HTTP admin route; it must answer 200.
    pub async fn knob(&self, name: &str, body: Value) {
        let url = format!("{}/_emulator/{name}", self.emulator.base_url);
        let response = send(self.http.post(url).json(&body)).await;
        assert_eq!(response.status(), StatusCode::OK, "knob {name}: {}", response.text().await.unwrap_or_default());
    }

    /// Acts as a seeded user on a path of the library (`{"action": "checkout"}`, `{"action": "upload", ...}`).
    pub async fn act(&self, user: &str, path: &str, action: Value) {
        let mut body = json!({"user": user, "drive_id": DRIVE, "path": path});
        if let (Some(body), Some(action)) = (body.as_object_mut(), action.as_object()) {
            body.extend(action.clone());
        }
        self.knob("act", body).await
    }

    /// The item at `path` in the library.
    pub async fn item(&self, path: &str) -> Value {
        self.get_json(&drive(&format!("/root:/{path}"))).await
    }

    /// The id of the item at `path` in the library.
    pub async fn item_id(&self, path: &str) -> String {
        self.item(path).await["id"].as_str().expect("id").to_string()
    }

    /// Follow a delta chain from `start` to its deltaLink; returns all items, the deltaLink and the page count.
    pub async fn delta_all(&self, start: &str) -> (Vec<Value>, String, usize) {
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
