//! The HTTP edge: the axum router, the request middleware (request ids, request log, fault injection), and
//! the Graph dispatcher: `/v1.0/...` goes to one handler that parses the raw path into a `Route` (`routes.rs`)
//! and matches on it, garage-style.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use time::OffsetDateTime;
use time::macros::format_description;

use super::Emulator;
use super::admin::{self, FaultAction};
use super::auth::{self, Caller};
use super::errors::{GraphError, REQUEST_IDS, RequestIds, new_guid};
pub use super::routes::{DriveRef, ItemAction, ItemBase, ItemRef, Route, SiteRef, parse_query, parse_route};
use super::state::World;
use super::{changes, checkout, content, delta, directory, fields, items, permissions, sites, versions};

/// Certificate and key files for `--tls-cert`/`--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/v1.0/{*rest}", any(graph))
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token))
        .route("/{tenant}/oauth2/v2.0/authorize", get(auth::authorize))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(auth::discovery))
        .route("/_download", get(content::download))
        .route("/_upload/{session}", any(super::upload_session::upload_url))
        .route("/_monitor/{job}", get(super::copy::monitor))
        .merge(admin::routes())
        .layer(middleware::from_fn_with_state(emulator.clone(), request_middleware))
        .layer(DefaultBodyLimit::max(300 * 1024 * 1024))
        .with_state(emulator)
}

/// Start serving; the task ends when `stop` fires.
pub async fn serve(
    emulator: Emulator,
    listener: tokio::net::TcpListener,
    tls: Option<TlsFiles>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let app = router(emulator);
    if let Some(files) = tls {
        return super::tls::serve_tls(app, listener, &files, stop).await;
    }
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await;
    }))
}

/// Request ids on every response (GRAPH.md 12.1), and the faults of `admin::Faults` for every route but the knobs.
async fn request_middleware(State(emulator): State<Emulator>, request: Request, next: Next) -> Response {
    let client_request_id = request
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(new_guid);
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let ids = RequestIds {
        request_id: new_guid(),
        client_request_id,
        date: emulator.now().format(&format).unwrap_or_default(),
    };
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let scoped = ids.clone();
    let logged = (!path.starts_with("/_emulator")).then(|| request_record(&emulator, &request));
    let log_to = emulator.clone();
    let mut response = REQUEST_IDS
        .scope(scoped, async move {
            if path.starts_with("/_emulator") {
                return next.run(request).await;
            }
            let fault = {
                let now = emulator.now();
                let mut world = emulator.lock();
                admin::run_pending_act(&mut world, method.as_str(), &path, now);
                world.faults.take(method.as_str(), &path)
            };
            match fault {
                Some(FaultAction::Delay(ms)) => {
                    // Latency injection is the one place the emulator waits on time: it stands in for a slow service.
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    next.run(request).await
                }
                Some(FaultAction::DropMidBody) => break_body(next.run(request).await, None).await,
                Some(FaultAction::StallBody(ms)) => break_body(next.run(request).await, Some(ms)).await,
                Some(action) => {
                    emulator.count(&format!("{method} {}", route_key_for_fault(&path)));
                    action.into_response()
                }
                None => next.run(request).await,
            }
        })
        .await;
    if let Some(mut record) = logged {
        record["status"] = serde_json::json!(response.status().as_u16());
        let mut world = log_to.lock();
        if world.request_log.len() == REQUEST_LOG_LIMIT {
            world.request_log.pop_front();
        }
        world.request_log.push_back(record);
    }
    let headers = response.headers_mut();
    for (name, value) in [("request-id", &ids.request_id), ("client-request-id", &ids.client_request_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

/// Send the first half of a response body, then either reset the connection (`stall` None) or wait and send
/// the rest. The full `Content-Length` stays, so a client sees a short read, as on a dropped connection.
async fn break_body(response: Response, stall: Option<u64>) -> Response {
    use futures_util::StreamExt;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.len() / 2;
    let (first, rest) = (bytes.slice(..half), bytes.slice(half..));
    let head = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(first)]);
    let tail = futures_util::stream::once(async move {
        match stall {
            Some(ms) => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                Ok(rest)
            }
            None => Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: connection dropped")),
        }
    });
    Response::from_parts(parts, Body::from_stream(head.chain(tail)))
}

/// Requests kept in the log; older ones fall off so a 100,000-item bench does not grow it without bound.
const REQUEST_LOG_LIMIT: usize = 10_000;

/// A request as the log keeps it: credentials and pre-authenticated URL tokens are redacted.
fn request_record(emulator: &Emulator, request: &Request) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let shown = match name.as_str() {
                "authorization" | "cookie" => "<redacted>".to_string(),
                _ => value.to_str().unwrap_or("<binary>").to_string(),
            };
            (name.as_str().to_string(), serde_json::json!(shown))
        })
        .collect();
    let query = request.uri().query().map(|q| {
        q.split('&')
            .map(|kv| if kv.starts_with("token=") { "token=<redacted>" } else { kv })
            .collect::<Vec<_>>()
            .join("&")
    });
    serde_json::json!({
        "at": super::items::time(emulator.now()),
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": query,
        "headers": headers,
    })
}

/// Faulted requests are still counted (throttled requests count against the service's budget too).
fn route_key_for_fault(path: &str) -> String {
    if path.starts_with("/v1.0") {
        parse_route(path).map(|r| r.key()).unwrap_or_else(|_| path.to_string())
    } else {
        path.split('?').next().unwrap_or(path).to_string()
    }
}

/// Everything a Graph handler needs besides the world.
pub struct Ctx {
    pub caller: Caller,
    pub method: Method,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub now: OffsetDateTime,
    pub base: String,
}

impl Ctx {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query option, accepting it with or without the `$` (Graph accepts both on v1.0).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.query.get(&format!("${name}")).or_else(|| self.query.get(name)).map(String::as_str)
    }

    pub fn json_body(&self) -> Result<serde_json::Value, GraphError> {
        if self.body.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| GraphError::invalid_request("Invalid request body: malformed JSON."))
    }
}

async fn graph(State(emulator): State<Emulator>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return GraphError::invalid_request("The request body could not be read.").into_response(),
    };
    let path = parts.uri.path();
    if parts.method == Method::POST && matches!(path, "/v1.0/$batch" | "/v1.0/%24batch") {
        emulator.count("POST /v1.0/$batch");
        return super::batch::run(&emulator, &parts.headers, &body).await;
    }
    handle_graph(&emulator, &parts.method, path, parts.uri.query(), &parts.headers, body)
}

/// One Graph request, counted, authenticated and dispatched under the world lock (also used by `$batch`).
pub fn handle_graph(
    emulator: &Emulator,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let route = parse_route(path);
    let key = match &route {
        Ok(route) => format!("{method} {}", route.key()),
        Err(_) => format!("{method} {path}"),
    };
    emulator.count(&key);
    let now = emulator.now();
    let mut world = emulator.lock();
    let mut rate_headers = None;
    let result = route.and_then(|route| {
        let caller = auth::authenticate(&world, headers, now)?;
        let query_map = parse_query(query);
        let units = super::budget::cost(method, &route, query_map.contains_key("token"));
        match world.budget.charge(&caller.client_id, units, now) {
            super::budget::Verdict::Throttle(seconds) => {
                return Err(GraphError::throttled(StatusCode::TOO_MANY_REQUESTS, Some(seconds)));
            }
            super::budget::Verdict::Allow(headers) => rate_headers = headers,
        }
        let ctx = Ctx {
            caller,
            method: method.clone(),
            query: query_map,
            headers: headers.clone(),
            body,
            now,
            base: world.public_base.clone(),
        };
        dispatch(&mut world, &ctx, route)
    });
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Some((limit, remaining, reset)) = rate_headers {
        let headers = response.headers_mut();
        for (name, value) in [
            ("ratelimit-limit", limit.to_string()),
            ("ratelimit-remaining", remaining.to_string()),
            ("ratelimit-reset", reset.to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    response
}

fn dispatch(world: &mut World, ctx: &Ctx, route: Route) -> Result<Response, GraphError> {
    use ItemAction as A;
    let m = ctx.method.clone();
    match (m, route) {
        (Method::GET, Route::SiteSearch) => sites::search(world, ctx),
        (Method::GET, Route::Site(site)) => sites::get(world, ctx, &site),
        (Method::GET, Route::SiteDrives(site)) => sites::drives(world, ctx, &site),
        (Method::GET, Route::SiteLists(site)) => fields::lists(world, ctx, &site),
        (Method::GET, Route::Drive(drive)) => sites::drive(world, ctx, &drive),
        (Method::GET, Route::DriveList(drive)) => fields::drive_list(world, ctx, &drive),
        (Method::GET, Route::ListColumns(site, list)) => fields::columns(world, ctx, &site, &list),
        (Method::GET | Method::PATCH, Route::ListItemFields(site, list, item)) => {
            fields::list_item_by_list(world, ctx, &site, &list, &item)
        }
        (Method::GET, Route::Users) => directory::users(world, ctx),
        (Method::GET, Route::Groups) => directory::groups(world, ctx),
        (m, Route::Item(item, action)) => match (m, action) {
            (Method::GET, A::Get) => items::get(world, ctx, &item),
            (Method::PATCH, A::Get) => changes::update(world, ctx, &item),
            (Method::PUT, A::Get) => super::upload_session::commit_to_path(world, ctx, &item),
            (Method::DELETE, A::Get) => changes::delete(world, ctx, &item),
            (Method::GET, A::Children) => items::children(world, ctx, &item),
            (Method::POST, A::Children) => changes::create_folder(world, ctx, &item),
            (Method::GET, A::Content) => content::get_content(world, ctx, &item),
            (Method::PUT, A::Content) => content::put_content(world, ctx, &item),
            (Method::GET, A::Delta(token)) => delta::delta(world, ctx, &item, token),
            (Method::POST, A::CreateUploadSession) => super::upload_session::create_session(world, ctx, &item),
            (Method::GET, A::Versions) => versions::list(world, ctx, &item),
            (Method::GET, A::Version(v)) => versions::get(world, ctx, &item, &v),
            (Method::GET, A::VersionContent(v)) => versions::content(world, ctx, &item, &v),
            (Method::POST, A::RestoreVersion(v)) => versions::restore(world, ctx, &item, &v),
            (Method::GET, A::ListItem) => fields::list_item(world, ctx, &item),
            (Method::GET | Method::PATCH, A::ListItemFields) => fields::fields(world, ctx, &item),
            (Method::GET, A::Permissions) => permissions::list(world, ctx, &item),
            (Method::POST, A::Checkout) => checkout::checkout(world, ctx, &item),
            (Method::POST, A::Checkin) => checkout::checkin(world, ctx, &item),
            (Method::POST, A::DiscardCheckout) => checkout::discard(world, ctx, &item),
            (Method::POST, A::Copy) => super::copy::copy(world, ctx, &item),
            _ => Err(method_not_allowed()),
        },
        _ => Err(method_not_allowed()),
    }
}

fn method_not_allowed() -> GraphError {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalidRequest",
        "The HTTP method is not allowed on this resource.",
    )
}
