//! Graph paths parsed into routes. Graph mixes `/` and `:` addressing (`/drives/{d}/root:/a/b:/children`,
//! `/sites/{host}:/sites/x:/drives`, `delta(token='…')`, and the SDKs' percent-encoded `root%3A%2Fa%3A` item ids),
//! which a path router cannot express, so the raw path is parsed here into a `Route` the server matches on.

use std::collections::HashMap;

use axum::http::StatusCode;

use super::errors::GraphError;

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
