//! The replay format of `tests/fixtures/scim/` (its README): steps with `{{name}}` placeholders for ids captured
//! earlier, and the subset rule expected bodies are checked with. `scim.rs` walks the fixtures with it over
//! HTTP; this file only reads and compares JSON.

use serde_json::{Map, Value};

/// One request of a fixture, its placeholders filled in.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub method: String,
    /// Relative to the SCIM base URL; the query is not URL-encoded.
    pub path: String,
    pub body: Option<Value>,
    expect: Value,
}

/// A fixture being replayed: its steps and the ids captured so far.
#[derive(Debug)]
pub struct Replay {
    steps: std::vec::IntoIter<Value>,
    captured: Map<String, Value>,
}

impl Replay {
    pub fn parse(fixture: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(fixture).map_err(|e| format!("the fixture is not JSON: {e}"))?;
        let steps = doc["steps"].as_array().cloned().unwrap_or_default();
        if steps.is_empty() {
            return Err("the fixture has no steps".into());
        }
        Ok(Self { steps: steps.into_iter(), captured: Map::new() })
    }

    /// The next request to send, or `None` at the end.
    pub fn next_step(&mut self) -> Option<Step> {
        let step = self.steps.next()?;
        Some(Step {
            name: step["step"].as_str().unwrap_or("?").to_owned(),
            method: step["method"].as_str().unwrap_or_default().to_owned(),
            path: substitute(step["path"].as_str().unwrap_or_default(), &self.captured),
            body: step.get("body").map(|b| substitute_json(b, &self.captured)),
            expect: step["expect"].clone(),
        })
    }

    /// Checks the answer to `step` (`reply`: its body, `None` when empty) and captures its id if asked;
    /// `Err` says which step and where the answer differs.
    pub fn check(&mut self, step: &Step, status: u16, reply: Option<&Value>) -> Result<(), String> {
        let name = &step.name;
        let shown = reply.map_or_else(|| "(no body)".to_owned(), Value::to_string);
        if Some(u64::from(status)) != step.expect["status"].as_u64() {
            return Err(format!(
                "step '{name}': expected status {}, got {status}\nreply: {shown}",
                step.expect["status"]
            ));
        }
        if let Some(want) = step.expect.get("body") {
            let want = substitute_json(want, &self.captured);
            subset(&want, reply, "body").map_err(|why| format!("step '{name}': {why}\nreply: {shown}"))?;
        }
        if let Some(key) = step.expect["capture"].as_str() {
            let id = reply.and_then(|r| r.get("id")).ok_or_else(|| format!("step '{name}': no id to capture"))?;
            self.captured.insert(key.to_owned(), id.clone());
        }
        Ok(())
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

/// The subset rule: objects by expected keys, arrays element by element, `"<absent>"` for a missing key;
/// `Err` names where the mismatch is.
fn subset(expected: &Value, actual: Option<&Value>, at: &str) -> Result<(), String> {
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
