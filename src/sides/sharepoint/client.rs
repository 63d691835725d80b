//! The Graph HTTP client: one place that sends a request with a token, waits out throttling and sorts every
//! failure ([`classify`], rclone `shouldRetry` style) into retry after `Retry-After`, never retry, or stop the run.
//!
//! - 429 and 503 wait `Retry-After` seconds (or back off exponentially from 2 s when it is missing, GRAPH.md
//!   12.2) through an injected [`Sleeper`], so tests count waits instead of sleeping.
//! - 401 renews the token once and retries; a second 401 is `CONNECTOR_AUTH_FAILED` (GRAPH.md 1.4).
//! - Other 5xx and broken connections are retried a few times for idempotent requests only (a PUT of an upload
//!   fragment that may have landed is resumed by the caller from the session status instead).
//! - Pre-authenticated URLs (downloads, upload sessions) are sent without `Authorization`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};

use super::auth::TokenSource;
use super::wire::ErrorEnvelope;
use crate::sync::side::{ErrorCode, SideError};

/// Waits. Injected so tests need not sleep for real (the throttle actor will pace requests later).
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Really waits.
#[derive(Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// How many times a throttled request is tried before it is reported as `THROTTLED` (the engine retries it
/// later): a storm of this many throttled answers in a row on one request.
const THROTTLE_ATTEMPTS: u32 = 12;
/// Tries for transient server errors and broken connections.
const TRANSIENT_ATTEMPTS: u32 = 4;
/// Back-off cap when `Retry-After` is missing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What to do about one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// Wait this long (from `Retry-After`, or `None`: back off) and send again.
    RetryAfter(Option<Duration>),
    /// Transient server trouble: retry with back-off if the request is idempotent.
    Transient,
    /// The token was refused: renew it and send once more.
    RenewToken,
    /// Never retry: a per-file or run-stopping failure.
    Fail(ErrorCode),
}

/// The one function that sorts Graph's answers (GRAPH.md 12.1): on status first, then on error codes (never
/// on messages).
pub fn classify(status: StatusCode, codes: &[&str], retry_after: Option<Duration>) -> Verdict {
    let has = |c: &str| codes.contains(&c);
    match status.as_u16() {
        200..=399 => Verdict::Success,
        429 => Verdict::RetryAfter(retry_after),
        503 | 509 => Verdict::RetryAfter(retry_after),
        401 => Verdict::RenewToken,
        500 | 502 | 504 => Verdict::Transient,
        403 => Verdict::Fail(ErrorCode::PermissionDenied),
        404 => Verdict::Fail(ErrorCode::NotFound),
        409 => Verdict::Fail(ErrorCode::AlreadyExists),
        412 => Verdict::Fail(ErrorCode::PreconditionFailed),
        423 => Verdict::Fail(ErrorCode::FileLocked),
        507 => Verdict::Fail(ErrorCode::QuotaExceeded),
        400 if has("invalidPath") || has("pathIsTooLong") => Verdict::Fail(ErrorCode::InvalidName),
        410 => Verdict::Fail(ErrorCode::ListingIncomplete),
        _ => Verdict::Fail(ErrorCode::Internal),
    }
}

/// A refused request: the side's error plus what delta needs (the status and `Location` of a 410).
#[derive(Debug, Clone)]
pub struct GraphFailure {
    pub error: SideError,
    pub status: Option<StatusCode>,
    pub codes: Vec<String>,
    pub location: Option<String>,
}

impl From<GraphFailure> for SideError {
    fn from(f: GraphFailure) -> Self {
        f.error
    }
}

impl GraphFailure {
    fn plain(code: ErrorCode, message: impl Into<String>) -> Self {
        GraphFailure { error: SideError::new(code, message), status: None, codes: Vec::new(), location: None }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub body: Body,
    pub headers: Vec<(&'static str, String)>,
    /// Send the bearer token (false for pre-authenticated download and upload URLs).
    pub authorized: bool,
    /// Safe to send again after a broken connection.
    pub idempotent: bool,
}

impl Call {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        let idempotent = method != Method::POST;
        Call { method, url: url.into(), body: Body::Empty, headers: Vec::new(), authorized: true, idempotent }
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = Body::Bytes(body);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn unauthorized(mut self) -> Self {
        self.authorized = false;
        self
    }

    pub fn not_idempotent(mut self) -> Self {
        self.idempotent = false;
        self
    }
}

/// The client of one drive.
pub struct GraphClient {
    http: reqwest::Client,
    /// `https://graph.microsoft.com/v1.0` or the emulator's.
    graph_base: String,
    drive_id: String,
    tokens: Arc<TokenSource>,
    sleeper: Arc<dyn Sleeper>,
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.min(10)).min(MAX_BACKOFF.as_secs()))
}

impl GraphClient {
    pub fn new(
        http: reqwest::Client,
        graph_base: impl Into<String>,
        drive_id: impl Into<String>,
        tokens: Arc<TokenSource>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Self {
        GraphClient {
            http,
            graph_base: graph_base.into().trim_end_matches('/').to_string(),
            drive_id: drive_id.into(),
            tokens,
            sleeper,
        }
    }

    /// A reqwest client as the side needs it: rustls, no automatic redirects (downloads are followed by hand
    /// so the token never goes to the download host).
    pub fn http_client() -> Result<reqwest::Client, SideError> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SideError::new(ErrorCode::Internal, format!("HTTP client: {e}")))
    }

    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    /// `https://graph.microsoft.com/v1.0` or the emulator's (for site-scoped calls such as list columns).
    pub fn graph_base(&self) -> &str {
        &self.graph_base
    }

    /// `{graph}/drives/{drive}` + `rest`.
    pub fn drive_url(&self, rest: &str) -> String {
        format!("{}/drives/{}{rest}", self.graph_base, encode_segment(&self.drive_id))
    }

    /// Sends `call`, waiting out throttling and renewing the token; any other refusal is a [`GraphFailure`].
    pub async fn send(&self, call: &Call) -> Result<Response, GraphFailure> {
        let mut renewed = false;
        let mut throttled = 0u32;
        let mut transient = 0u32;
        loop {
            let result = self.send_once(call).await;
            let response = match result {
                Ok(r) => r,
                Err(e) if call.idempotent && transient + 1 < TRANSIENT_ATTEMPTS => {
                    tracing::debug!(url = %call.url, "Graph connection failed, retrying: {}", e.error);
                    self.sleeper.sleep(backoff(transient)).await;
                    transient += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = response.status();
            let wait = retry_after(response.headers());
            if status.is_success() || status.is_redirection() {
                return Ok(response);
            }
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            let request_id =
                response.headers().get("request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let envelope: ErrorEnvelope = response.json().await.unwrap_or_default();
            let codes = envelope.error.codes();
            let verdict = classify(status, &codes, wait);
            match verdict {
                Verdict::RetryAfter(wait) if throttled + 1 < THROTTLE_ATTEMPTS => {
                    let wait = wait.unwrap_or_else(|| backoff(throttled + 1));
                    tracing::info!(url = %call.url, ?wait, "Graph throttled the request; waiting Retry-After");
                    self.sleeper.sleep(wait).await;
                    throttled += 1;
                    continue;
                }
                Verdict::RenewToken if call.authorized && !renewed => {
                    self.tokens.invalidate().await;
                    renewed = true;
                    continue;
                }
                Verdict::Transient if call.idempotent && transient + 1 < TRANSIENT_ATTEMPTS => {
                    self.sleeper.sleep(backoff(transient)).await;
                    transient += 1;
                    continue;
                }
                _ => {}
            }
            let code = match verdict {
                Verdict::RetryAfter(_) => ErrorCode::Throttled,
                // A pre-authenticated URL's own token expired (an upload session after ~24 h): the engine
                // retries the whole transfer with a fresh URL; the connector's credentials are fine.
                Verdict::RenewToken if !call.authorized => ErrorCode::Timeout,
                Verdict::RenewToken => ErrorCode::ConnectorAuthFailed,
                Verdict::Transient => ErrorCode::ConnectorUnreachable,
                Verdict::Fail(code) => code,
                Verdict::Success => ErrorCode::Internal,
            };
            let message = format!(
                "{} {} answered {status} {} ({}) request-id {request_id}",
                call.method,
                strip_query(&call.url),
                codes.join("/"),
                envelope.error.message
            );
            return Err(GraphFailure {
                error: SideError::new(code, message),
                status: Some(status),
                codes: codes.iter().map(|c| c.to_string()).collect(),
                location,
            });
        }
    }

    /// Sends and reads the JSON answer.
    pub async fn json<T: serde::de::DeserializeOwned>(&self, call: &Call) -> Result<T, GraphFailure> {
        let response = self.send(call).await?;
        let bytes = response.bytes().await.map_err(|e| {
            GraphFailure::plain(ErrorCode::Timeout, format!("{} answer broke off: {e}", strip_query(&call.url)))
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            GraphFailure::plain(ErrorCode::Internal, format!("{} answer unreadable: {e}", strip_query(&call.url)))
        })
    }

    async fn send_once(&self, call: &Call) -> Result<Response, GraphFailure> {
        let mut headers = HeaderMap::new();
        for (name, value) in &call.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(*name, v);
            }
        }
        let mut request = self.http.request(call.method.clone(), &call.url).headers(headers);
        if call.authorized {
            request = request.bearer_auth(self.tokens.token().await?);
        }
        request = match &call.body {
            Body::Empty if call.method == Method::POST || call.method == Method::PUT => {
                request.header("content-length", "0")
            }
            Body::Empty => request,
            Body::Json(v) => request.json(v),
            Body::Bytes(b) => request.body(b.clone()),
        };
        request.send().await.map_err(|e| {
            let code = if e.is_timeout() { ErrorCode::Timeout } else { ErrorCode::ConnectorUnreachable };
            GraphFailure::plain(code, format!("{} {}: {e}", call.method, strip_query(&call.url)))
        })
    }
}

impl From<SideError> for GraphFailure {
    fn from(error: SideError) -> Self {
        GraphFailure { error, status: None, codes: Vec::new(), location: None }
    }
}

/// Logs never carry pre-authenticated URLs' tokens.
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Percent-encodes one path segment per RFC 3986 (unreserved characters kept; GRAPH.md 3.2).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a `/`-separated path segment by segment.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// Decodes a percent-encoded path (from `parentReference.path`).
pub fn decode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_sort_into_retry_renew_skip_and_stop() {
        let secs = Some(Duration::from_secs(3));
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS, &["activityLimitReached"], secs), Verdict::RetryAfter(secs));
        assert_eq!(classify(StatusCode::SERVICE_UNAVAILABLE, &[], None), Verdict::RetryAfter(None));
        assert_eq!(classify(StatusCode::UNAUTHORIZED, &["InvalidAuthenticationToken"], None), Verdict::RenewToken);
        assert_eq!(classify(StatusCode::LOCKED, &["accessDenied"], None), Verdict::Fail(ErrorCode::FileLocked));
        assert_eq!(
            classify(StatusCode::PRECONDITION_FAILED, &["resourceModified"], None),
            Verdict::Fail(ErrorCode::PreconditionFailed)
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, &["invalidRequest", "invalidPath"], None),
            Verdict::Fail(ErrorCode::InvalidName)
        );
        assert_eq!(classify(StatusCode::BAD_GATEWAY, &[], None), Verdict::Transient);
    }

    #[test]
    fn paths_are_encoded_per_segment_and_decoded_back() {
        let path = "a b/c#d%/ü.txt";
        assert_eq!(encode_path(path), "a%20b/c%23d%25/%C3%BC.txt");
        assert_eq!(decode_path(&encode_path(path)), path);
    }
}
