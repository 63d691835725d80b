//! SCIM helpers: a SCIM token, requests to `/scim/v2` with the query URL-encoded the way identity providers
//! send it, and the replay of the request sequences in `tests/fixtures/scim/` (format in their README).

use reqwest::{Method, RequestBuilder};
use serde_json::{Map, Value};

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
        let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
        let mut captured = Map::new();
        let steps = doc["steps"].as_array().cloned().unwrap_or_default();
        assert!(!steps.is_empty(), "fixture has steps");
        for step in &steps {
            let name = step["step"].as_str().unwrap_or("?");
            let method = step["method"].as_str().unwrap();
            let path = substitute(step["path"].as_str().unwrap(), &captured);
            let body = step.get("body").map(|b| substitute_json(b, &captured));
            let (status, reply) = self.scim_call(token, method, &path, body.as_ref()).await;
            let expect = &step["expect"];
            assert_eq!(Some(u64::from(status)), expect["status"].as_u64(), "step '{name}': reply {reply}");
            if let Some(want) = expect.get("body") {
                let want = substitute_json(want, &captured);
                if let Err(why) = subset(&want, Some(&reply), "body") {
                    panic!("step '{name}': {why}\nreply: {reply}");
                }
            }
            if let Some(key) = expect["capture"].as_str() {
                captured.insert(key.to_owned(), reply["id"].clone());
            }
        }
    }
}

/// Replaces every `{{name}}` with the id captured under that name.
fn substitute(text: &str, captured: &Map<String, Value>) -> String {
    let mut out = text.to_owned();
    for (name, id) in captured {
        out = out.replace(&format!("{{{{{name}}}}}"), id.as_str().unwrap_or_default());
    }
    out
}

fn substitute_json(v: &Value, captured: &Map<String, Value>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute(s, captured)),
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute_json(i, captured)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), substitute_json(v, captured))).collect()),
        other => other.clone(),
    }
}

/// The fixtures' subset rule (README): objects by expected keys, arrays element by element, `"<absent>"`.
pub fn subset(expected: &Value, actual: Option<&Value>, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(s), None) if s == "<absent>" => Ok(()),
        (Value::String(s), Some(a)) if s == "<absent>" => Err(format!("{at}: expected absent, got {a}")),
        (_, None) => Err(format!("{at}: missing")),
        (Value::Object(e), Some(Value::Object(a))) => {
            e.iter().try_for_each(|(k, v)| subset(v, a.get(k), &format!("{at}.{k}")))
        }
        (Value::Array(e), Some(Value::Array(a))) if e.len() == a.len() => {
            e.iter().zip(a).enumerate().try_for_each(|(i, (x, y))| subset(x, Some(y), &format!("{at}[{i}]")))
        }
        (e, Some(a)) if e == a => Ok(()),
        (e, Some(a)) => Err(format!("{at}: expected {e}, got {a}")),
    }
}
