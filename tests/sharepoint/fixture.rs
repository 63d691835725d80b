//! A Graph emulator with one tenant, app, site and library, and a `SharePointSide` pointed at it with a
//! sleeper that records waits instead of sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scaidrive_connectors::clock::SystemClock;
use scaidrive_connectors::graph_emulator::{EmulatorHandle, GraphEmulator, Seed};
use scaidrive_connectors::sides::sharepoint::{
    AuthConfig, Credential, DeltaState, Grant, GraphClient, SharePointOptions, SharePointSide, Sleeper, TokenSource,
};
use serde_json::{Value, json};

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const CLIENT: &str = "22222222-2222-2222-2222-222222222222";
pub const SECRET: &str = "s3cret";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const SITE: &str =
    "contoso.sharepoint.com,aaaaaaaa-1111-2222-3333-444444444444,bbbbbbbb-1111-2222-3333-444444444444";
pub const DRIVE: &str = "b!c2hhcmVwb2ludC1zaWRlLXRlc3RzLWxpYnJhcnktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA";

/// The PKCE code verifier the tests sign in with (a challenge of it goes to `/authorize`).
pub const VERIFIER: &str = "a-verifier-that-is-long-enough-for-pkce-0123456789";

/// The emulator's `/authorize` address for the test app: offline access to sites, `state` echoed back, and an
/// S256 challenge of [`VERIFIER`].
pub fn authorize_url(base_url: &str, state: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    format!(
        "{base_url}/{TENANT}/oauth2/v2.0/authorize?client_id={CLIENT}&response_type=code&redirect_uri={}&scope=offline_access%20https%3A%2F%2Fgraph.microsoft.com%2FSites.ReadWrite.All&state={state}&code_challenge={challenge}&code_challenge_method=S256",
        "http%3A%2F%2F127.0.0.1%3A9%2Fcallback"
    )
}

/// The authorization code in the `Location` that `/authorize` redirects to.
pub fn code_in(location: &str) -> String {
    location.split("code=").nth(1).and_then(|s| s.split('&').next()).expect("code").replace("%2E", ".")
}

/// The token request form that redeems `code` with the PKCE `verifier`.
pub fn redeem_form<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 6] {
    [
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// Records every wait the client asks for and returns at once.
#[derive(Default)]
pub struct RecordingSleeper(pub Mutex<Vec<Duration>>);

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(duration);
        Box::pin(async {})
    }
}

pub fn seed(files: Vec<Value>, generate: Option<Value>) -> Seed {
    let mut drive = json!({"id": DRIVE, "name": "Documents", "files": files});
    if let Some(generate) = generate {
        drive["generate"] = generate;
    }
    seed_with_drive(drive)
}

/// The test tenant, app, users and site, with `drive` (the emulator's seed shape) as the site's one library.
pub fn seed_with_drive(drive: Value) -> Seed {
    serde_json::from_value(json!({
        "tenants": [{"id": TENANT, "domains": ["contoso.onmicrosoft.com"]}],
        "apps": [{
            "tenant": TENANT, "client_id": CLIENT, "secrets": [SECRET], "redirect_uris": [REDIRECT],
            "roles": ["Sites.ReadWrite.All", "Files.ReadWrite.All", "User.Read.All", "Group.Read.All"]
        }],
        "users": [
            {"id": "u1", "display_name": "Alice Cooper", "mail": "alice@contoso.com", "user_principal_name": "alice@contoso.onmicrosoft.com"},
            {"id": "u2", "display_name": "Bob Dylan", "mail": "bob@contoso.com", "user_principal_name": "bob@contoso.onmicrosoft.com"}
        ],
        "interactive_user": "alice@contoso.com",
        "sites": [{
            "id": SITE,
            "hostname": "contoso.sharepoint.com", "path": "/sites/sync", "name": "sync",
            "drives": [drive]
        }]
    }))
    .expect("test seed")
}

pub struct Fixture {
    pub emulator: EmulatorHandle,
    pub sleeper: Arc<RecordingSleeper>,
}

impl Fixture {
    pub async fn start(seed: Seed) -> Self {
        let emulator = GraphEmulator::start(seed, "127.0.0.1:0").await.expect("emulator starts");
        Fixture { emulator, sleeper: Arc::new(RecordingSleeper::default()) }
    }

    pub fn client(&self) -> Arc<GraphClient> {
        self.client_with(Grant::App).1
    }

    /// A client for the given grant, and its token source (to read the rotated refresh token).
    pub fn client_with(&self, grant: Grant) -> (Arc<TokenSource>, Arc<GraphClient>) {
        let http = GraphClient::http_client().expect("http");
        let auth = AuthConfig {
            login_base: self.emulator.base_url.clone(),
            tenant: TENANT.into(),
            client_id: CLIENT.into(),
            credential: Credential::Secret(SECRET.into()),
            grant,
        };
        let tokens = Arc::new(TokenSource::new(auth, http.clone(), Arc::new(SystemClock)));
        let client = GraphClient::new(http, self.emulator.graph_url(), DRIVE, tokens.clone(), self.sleeper.clone());
        (tokens, Arc::new(client))
    }

    /// A side on `base_path` with the given kept state and options.
    pub fn side_with(&self, base_path: &str, state: DeltaState, options: SharePointOptions) -> SharePointSide {
        SharePointSide::new(self.client(), base_path, state, options)
    }

    pub fn side(&self, base_path: &str) -> SharePointSide {
        self.side_with(base_path, DeltaState::default(), SharePointOptions::default())
    }

    pub fn knob(&self, name: &str, fields: Value) -> Value {
        self.emulator.knob_json(name, fields).unwrap_or_else(|e| panic!("knob {name}: {e:?}"))
    }

    /// Acts as a seeded user on the library (`{"action": "upload", "text": ...}` etc.).
    pub fn act(&self, user: &str, path: &str, action: Value) {
        let mut fields = action;
        fields["user"] = json!(user);
        fields["drive_id"] = json!(DRIVE);
        fields["path"] = json!(path);
        self.knob("act", fields);
    }

    /// Requests counted for routes whose key contains `part` (e.g. "/delta").
    pub fn count(&self, part: &str) -> u64 {
        self.emulator.counters().iter().filter(|(k, _)| k.contains(part)).map(|(_, v)| v).sum()
    }
}
