//! SCIM helpers: a SCIM token, requests to `/scim/v2` with the query URL-encoded the way identity providers
//! send it, and the replay of the request sequences in `tests/fixtures/scim/` (walked with `scim_fixture.rs`).

use super::scim_fixture::Replay;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use super::{TestAppliance, expect_json};

pub const SCIM_JSON: &str = "application/scim+json";

impl TestAppliance {
    /// Issues (rotates) the SCIM token as the first admin; returns (token id, secret).
    pub async fn scim_token(&self) -> (String, String) {
        let issued = expect_json(self.admin(Method::POST, "/api/v1/scim/token").send().await.unwrap(), 201).await;
        (issued["id"].as_str().unwrap().to_owned(), issued["token"].as_str().unwrap().to_owned())
    }

    /// A request to `/scim/v2<path>`; `path` may carry an unencoded query (`/Users?filter=userName eq "x"`).
    pub fn scim(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut url = reqwest::Url::parse(&self.url(&format!("/scim/v2{path}"))).unwrap();
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                pairs.append_pair(k, v);
            }
        }
        self.client.request(method, url).bearer_auth(token)
    }

    /// Sends a SCIM request with an optional JSON body; returns (status, body or Null).
    pub async fn scim_call(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.scim(token, method.parse().unwrap(), path);
        if let Some(body) = body {
            request = request.header("content-type", SCIM_JSON).body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    /// Replays a fixture through HTTP, asserting every step's status and expected body.
    pub async fn replay(&self, token: &str, fixture: &str) {
        let mut replay = Replay::parse(fixture).expect("a fixture with steps");
        while let Some(step) = replay.next_step() {
            let (status, reply) = self.scim_call(token, &step.method, &step.path, step.body.as_ref()).await;
            let reply = (!reply.is_null()).then_some(reply);
            if let Err(why) = replay.check(&step, status, reply.as_ref()) {
                panic!("{why}");
            }
        }
    }
}
