//! The HTTP edge: the axum router, the request middleware (request ids, fault injection), and the Graph
//! dispatcher. Graph paths mix `/` and `:` addressing (`/drives/{d}/root:/a/b:/children`), which a path router
//! cannot express, so `/v1.0/...` goes to one handler that parses the raw path into a `Route` and matches on it,
//! garage-style.

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
        .route("/_upload/{session}", any(content::upload_url))
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

/// Where a Graph path points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRef {
    Root,
    Id(String),
    Path { host: String, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveRef {
    Id(String),
    SiteDefault(SiteRef),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemBase {
    Root,
    Id(String),
}

/// An item addressed by id or root, optionally followed by a `:/relative/path:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub drive: DriveRef,
    pub base: ItemBase,
    pub path: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemAction {
    Get,
    Children,
    Content,
    /// `delta`, `delta()`, or `delta(token='…')` (the function form's token, if any).
    Delta(Option<String>),
    CreateUploadSession,
    Versions,
    Version(String),
    VersionContent(String),
    RestoreVersion(String),
    ListItem,
    ListItemFields,
    Permissions,
    Checkout,
    Checkin,
    DiscardCheckout,
    Copy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    SiteSearch,
    Site(SiteRef),
    SiteDrives(SiteRef),
    SiteLists(SiteRef),
    Drive(DriveRef),
    DriveList(DriveRef),
    ListColumns(SiteRef, String),
    ListItemFields(SiteRef, String, String),
    Item(ItemRef, ItemAction),
    Users,
    Groups,
}

impl Route {
    /// The counter key: the route's shape with ids replaced by placeholders.
    pub fn key(&self) -> String {
        let item = |r: &ItemRef| {
            let base = match r.base {
                ItemBase::Root => "root",
                ItemBase::Id(_) => "items/{id}",
            };
            let path = if r.path.is_some() { ":/{path}:" } else { "" };
            format!("/v1.0/drives/{{d}}/{base}{path}")
        };
        match self {
            Route::SiteSearch => "/v1.0/sites".into(),
            Route::Site(_) => "/v1.0/sites/{s}".into(),
            Route::SiteDrives(_) => "/v1.0/sites/{s}/drives".into(),
            Route::SiteLists(_) => "/v1.0/sites/{s}/lists".into(),
            Route::Drive(_) => "/v1.0/drives/{d}".into(),
            Route::DriveList(_) => "/v1.0/drives/{d}/list".into(),
            Route::ListColumns(..) => "/v1.0/sites/{s}/lists/{l}/columns".into(),
            Route::ListItemFields(..) => "/v1.0/sites/{s}/lists/{l}/items/{i}/fields".into(),
            Route::Users => "/v1.0/users".into(),
            Route::Groups => "/v1.0/groups".into(),
            Route::Item(r, action) => {
                let suffix = match action {
                    ItemAction::Get => "",
                    ItemAction::Children => "/children",
                    ItemAction::Content => "/content",
                    ItemAction::Delta(_) => "/delta",
                    ItemAction::CreateUploadSession => "/createUploadSession",
                    ItemAction::Versions => "/versions",
                    ItemAction::Version(_) => "/versions/{v}",
                    ItemAction::VersionContent(_) => "/versions/{v}/content",
                    ItemAction::RestoreVersion(_) => "/versions/{v}/restoreVersion",
                    ItemAction::ListItem => "/listItem",
                    ItemAction::ListItemFields => "/listItem/fields",
                    ItemAction::Permissions => "/permissions",
                    ItemAction::Checkout => "/checkout",
                    ItemAction::Checkin => "/checkin",
                    ItemAction::DiscardCheckout => "/discardCheckout",
                    ItemAction::Copy => "/copy",
                };
                format!("{}{suffix}", item(r))
            }
        }
    }
}

fn not_found_route() -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "invalidRequest", "Invalid request").with_inner("invalidPath")
}

/// Split `/seg...` into the first segment (up to `/` or `:`) and the rest.
fn next_seg(s: &str) -> Result<(&str, &str), GraphError> {
    let s = s.strip_prefix('/').ok_or_else(not_found_route)?;
    let end = s.find(['/', ':']).unwrap_or(s.len());
    Ok((&s[..end], &s[end..]))
}

/// Percent-decode one path segment or query value.
pub fn percent_decode(s: &str) -> Result<String, GraphError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|_| not_found_route())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| not_found_route())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| not_found_route())
}

/// Parse a raw (still percent-encoded) `/v1.0/...` path.
pub fn parse_route(raw: &str) -> Result<Route, GraphError> {
    let rest = raw.strip_prefix("/v1.0").ok_or_else(not_found_route)?;
    let (head, rest) = next_seg(rest)?;
    match head {
        "sites" => parse_site(rest),
        "drives" => {
            let (id, rest) = next_seg(rest)?;
            parse_drive(DriveRef::Id(percent_decode(id)?), rest)
        }
        "users" if rest.is_empty() => Ok(Route::Users),
        "groups" if rest.is_empty() => Ok(Route::Groups),
        _ => Err(not_found_route()),
    }
}

fn parse_site(rest: &str) -> Result<Route, GraphError> {
    if rest.is_empty() || rest == "/" {
        return Ok(Route::SiteSearch);
    }
    let (seg, mut tail) = next_seg(rest)?;
    let site = if let Some(after) = tail.strip_prefix(':') {
        // `{hostname}:/server/relative/path` optionally continued by `:/drives` etc.
        let end = after.find(':').unwrap_or(after.len());
        let path = percent_decode(&after[..end])?;
        tail = after.get(end + 1..).unwrap_or("");
        SiteRef::Path { host: percent_decode(seg)?.to_lowercase(), path: path.trim_end_matches('/').to_string() }
    } else if seg == "root" {
        SiteRef::Root
    } else {
        SiteRef::Id(percent_decode(seg)?)
    };
    if tail.is_empty() {
        return Ok(Route::Site(site));
    }
    let (seg, rest) = next_seg(tail)?;
    match seg {
        "drive" => parse_drive(DriveRef::SiteDefault(site), rest),
        "drives" if rest.is_empty() => Ok(Route::SiteDrives(site)),
        "drives" => {
            let (id, rest) = next_seg(rest)?;
            parse_drive(DriveRef::Id(percent_decode(id)?), rest)
        }
        "lists" if rest.is_empty() => Ok(Route::SiteLists(site)),
        "lists" => {
            let (list, rest) = next_seg(rest)?;
            let list = percent_decode(list)?;
            let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
            match parts.as_slice() {
                ["columns"] => Ok(Route::ListColumns(site, list)),
                ["items", item] | ["items", item, "fields"] => {
                    Ok(Route::ListItemFields(site, list, percent_decode(item)?))
                }
                _ => Err(not_found_route()),
            }
        }
        _ => Err(not_found_route()),
    }
}

fn parse_drive(drive: DriveRef, rest: &str) -> Result<Route, GraphError> {
    if rest.is_empty() {
        return Ok(Route::Drive(drive));
    }
    let (seg, rest) = next_seg(rest)?;
    let (base, rest) = match seg {
        "list" if rest.is_empty() => return Ok(Route::DriveList(drive)),
        "root" => (ItemBase::Root, rest),
        "items" => {
            let (id, rest) = next_seg(rest)?;
            let decoded = percent_decode(id)?;
            if let Some((base_id, after)) = decoded.split_once(':') {
                // The SDKs send `by_drive_item_id("root:/a/b:")` as one encoded segment (`root%3A%2Fa%2Fb%3A`);
                // the service reads it as path addressing. Its names are decoded already.
                let base = if base_id == "root" { ItemBase::Root } else { ItemBase::Id(base_id.to_string()) };
                let tail = format!(":{after}{rest}");
                return item_route(drive, base, &tail, false);
            }
            (ItemBase::Id(decoded), rest)
        }
        _ => return Err(not_found_route()),
    };
    item_route(drive, base, rest, true)
}

/// The `:/path:` and action after an item's base; `decode` is false when the path was decoded already.
fn item_route(drive: DriveRef, base: ItemBase, rest: &str, decode: bool) -> Result<Route, GraphError> {
    let (path, rest) = match rest.strip_prefix(':') {
        Some(after) => {
            let end = after.find(':').unwrap_or(after.len());
            let segments = after[..end]
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| if decode { percent_decode(s) } else { Ok(s.to_string()) })
                .collect::<Result<Vec<_>, _>>()?;
            (Some(segments), after.get(end + 1..).unwrap_or(""))
        }
        None => (None, rest),
    };
    let action = parse_action(rest)?;
    Ok(Route::Item(ItemRef { drive, base, path }, action))
}

fn parse_action(rest: &str) -> Result<ItemAction, GraphError> {
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let version = |v: &str| percent_decode(v);
    Ok(match parts.as_slice() {
        [] => ItemAction::Get,
        ["children"] => ItemAction::Children,
        ["content"] => ItemAction::Content,
        ["createUploadSession"] => ItemAction::CreateUploadSession,
        ["versions"] => ItemAction::Versions,
        ["versions", v] => ItemAction::Version(version(v)?),
        ["versions", v, "content"] => ItemAction::VersionContent(version(v)?),
        ["versions", v, "restoreVersion"] => ItemAction::RestoreVersion(version(v)?),
        ["listItem"] => ItemAction::ListItem,
        ["listItem", "fields"] => ItemAction::ListItemFields,
        ["permissions"] => ItemAction::Permissions,
        ["checkout"] => ItemAction::Checkout,
        ["checkin"] => ItemAction::Checkin,
        ["discardCheckout"] => ItemAction::DiscardCheckout,
        ["copy"] => ItemAction::Copy,
        [delta] if delta.starts_with("delta") => ItemAction::Delta(parse_delta_function(delta)?),
        _ => return Err(not_found_route()),
    })
}

/// `delta`, `delta()`, `delta(token='…')` (the token percent-encoded or not).
fn parse_delta_function(seg: &str) -> Result<Option<String>, GraphError> {
    let decoded = percent_decode(seg)?;
    let args = match decoded.strip_prefix("delta") {
        Some("") | Some("()") => return Ok(None),
        Some(args) => args,
        None => return Err(not_found_route()),
    };
    let inner = args.strip_prefix("(token=").and_then(|a| a.strip_suffix(')')).ok_or_else(not_found_route)?;
    Ok(Some(inner.trim_matches('\'').to_string()))
}

/// Parse a raw query string into decoded key/value pairs (`+` is a space, as in forms).
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(&k.replace('+', " ")).unwrap_or_else(|_| k.to_string());
        let v = percent_decode(&v.replace('+', " ")).unwrap_or_else(|_| v.to_string());
        out.insert(k, v);
    }
    out
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
            (Method::DELETE, A::Get) => changes::delete(world, ctx, &item),
            (Method::GET, A::Children) => items::children(world, ctx, &item),
            (Method::POST, A::Children) => changes::create_folder(world, ctx, &item),
            (Method::GET, A::Content) => content::get_content(world, ctx, &item),
            (Method::PUT, A::Content) => content::put_content(world, ctx, &item),
            (Method::GET, A::Delta(token)) => delta::delta(world, ctx, &item, token),
            (Method::POST, A::CreateUploadSession) => content::create_session(world, ctx, &item),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_addressing_and_continuations_parse() {
        let route = parse_route("/v1.0/drives/b%21abc/root:/My%20Docs/a%23b.txt:/content").expect("route");
        let Route::Item(item, ItemAction::Content) = route else { panic!("{route:?}") };
        assert_eq!(item.drive, DriveRef::Id("b!abc".into()));
        assert_eq!(item.path, Some(vec!["My Docs".to_string(), "a#b.txt".to_string()]));

        let route = parse_route("/v1.0/sites/contoso.sharepoint.com:/sites/marketing:/drives").expect("route");
        assert_eq!(
            route,
            Route::SiteDrives(SiteRef::Path { host: "contoso.sharepoint.com".into(), path: "/sites/marketing".into() })
        );
        let route = parse_route("/v1.0/drives/d/items/root%3A%2Fa%20b%2Fc.txt%3A/content").expect("route");
        let expected = ItemRef {
            drive: DriveRef::Id("d".into()),
            base: ItemBase::Root,
            path: Some(vec!["a b".into(), "c.txt".into()]),
        };
        assert_eq!(route, Route::Item(expected, ItemAction::Content));
        let route = parse_route("/v1.0/drives/d/items/X:/a/b").expect("route");
        assert!(matches!(route, Route::Item(ItemRef { path: Some(_), .. }, ItemAction::Get)));
    }

    #[test]
    fn every_delta_spelling_parses() {
        for (path, token) in [
            ("/v1.0/drives/d/root/delta", None),
            ("/v1.0/drives/d/root/delta()", None),
            ("/v1.0/drives/d/root/delta(token='abc')", Some("abc")),
            ("/v1.0/drives/d/root/delta(token=%27abc%27)", Some("abc")),
        ] {
            let route = parse_route(path).expect("route");
            assert_eq!(
                route,
                Route::Item(
                    ItemRef { drive: DriveRef::Id("d".into()), base: ItemBase::Root, path: None },
                    ItemAction::Delta(token.map(String::from))
                )
            );
        }
    }

    #[test]
    fn query_values_are_decoded() {
        let q = parse_query(Some("%24top=5&%40microsoft.graph.conflictBehavior=rename&$select=id,name"));
        assert_eq!(q.get("$top").map(String::as_str), Some("5"));
        assert_eq!(q.get("@microsoft.graph.conflictBehavior").map(String::as_str), Some("rename"));
    }
}
