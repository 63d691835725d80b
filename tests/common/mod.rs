//! The test harness: an appliance in-process on an ephemeral port in a temp dir, an authenticated client, the
//! real binary as a child process for what only a process can show (signals, exit codes, log output), and
//! `wait_until`, which polls an observable condition against a deadline instead of sleeping.

#![allow(dead_code)]

pub mod process;
pub mod scim;
pub mod scim_fixture;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use scaidrive_connectors::appliance::{Appliance, StartOptions};
use scaidrive_connectors::clock::{ManualClock, SharedClock};
use scaidrive_connectors::config::Config;
use scaidrive_connectors::setup;
use serde_json::Value;

/// How long any condition may take before a test gives up: generous, because CI machines are loaded; a test
/// never waits this long when things work.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct TestAppliance {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub clock: Arc<ManualClock>,
    pub admin_token: String,
    pub base_url: String,
    pub client: reqwest::Client,
    appliance: Option<Appliance>,
}

pub fn test_config(data_dir: &Path) -> Config {
    Config { listen: "127.0.0.1:0".parse().unwrap(), data_dir: data_dir.to_owned(), ..Config::default() }
}

impl TestAppliance {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Initializes a fresh data directory as `init` does, adjusts the config, and starts the appliance.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&dir.path().join("data"));
        adjust(&mut config);
        let clock = ManualClock::new(time::OffsetDateTime::now_utc());
        let init = setup::initialize(&config, "admin", None, clock.clone() as SharedClock).unwrap();
        let appliance = start_appliance(config.clone(), clock.clone()).await;
        Self {
            base_url: appliance.base_url(),
            admin_token: init.token.token,
            client: reqwest::Client::new(),
            appliance: Some(appliance),
            dir,
            config,
            clock,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request as the first admin.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.as_token(&self.admin_token, method, path)
    }

    pub fn as_token(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    /// Creates a user with `role` and returns (user id, API token).
    pub async fn user_with_token(&self, name: &str, role: &str) -> (String, String) {
        let user =
            self.admin(Method::POST, "/api/v1/users").json(&serde_json::json!({"user_name": name, "role": role}));
        let user = expect_json(user.send().await.unwrap(), 201).await;
        let id = user["id"].as_str().unwrap().to_owned();
        let token = self.admin(Method::POST, "/api/v1/tokens").json(&serde_json::json!({"name": "t", "user_id": id}));
        let token = expect_json(token.send().await.unwrap(), 201).await;
        (id, token["token"].as_str().unwrap().to_owned())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    pub async fn stop(&mut self) {
        if let Some(appliance) = self.appliance.take() {
            appliance.shutdown().await;
        }
    }

    /// Stops and starts again on the same data directory (new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        let appliance = start_appliance(self.config.clone(), self.clock.clone()).await;
        self.base_url = appliance.base_url();
        self.appliance = Some(appliance);
    }
}

async fn start_appliance(config: Config, clock: Arc<ManualClock>) -> Appliance {
    let options = StartOptions { clock, schedule_tick: Duration::from_millis(50), credentials_dir: None };
    Appliance::start_with(config, options).await.unwrap()
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("body is not JSON: {body}"))
}

/// Asserts an error response: status and the envelope's stable code. Returns the error object.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body["error"].clone()
}

/// Polls `check` until it returns `Some`, or panics naming `what` after `DEADLINE`.
pub async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut ticks = tokio::time::interval(Duration::from_millis(25));
    loop {
        ticks.tick().await;
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files
}

/// Whether `needle` occurs, as bytes, in any file under `dir`.
pub fn bytes_found_under(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    files_under(dir)
        .into_iter()
        .find(|path| std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)))
}

impl TestAppliance {
    /// Creates a share as the admin and returns its id.
    pub async fn share(&self, name: &str) -> String {
        let created = self.admin(Method::POST, "/api/v1/shares").json(&serde_json::json!({"name": name})).send();
        expect_json(created.await.unwrap(), 201).await["id"].as_str().unwrap().to_owned()
    }

    /// Uploads `bytes` to `path` as `token` and returns the response.
    pub async fn upload_as(&self, token: &str, share: &str, path: &str, bytes: Vec<u8>) -> Response {
        self.as_token(token, Method::PUT, &format!("/api/v1/shares/{share}/content"))
            .query(&[("path", path)])
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload(&self, share: &str, path: &str, bytes: &[u8]) -> Value {
        let response = self.upload_as(&self.admin_token, share, path, bytes.to_vec()).await;
        let status = response.status().as_u16();
        assert!(status == 200 || status == 201, "upload of {path}: {status} {}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    pub async fn download(&self, share: &str, path: &str) -> Vec<u8> {
        let response = self
            .admin(Method::GET, &format!("/api/v1/shares/{share}/content"))
            .query(&[("path", path)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "download of {path}");
        response.bytes().await.unwrap().to_vec()
    }
}
