//! Directory look-ups (GRAPH.md 13): `/users` and `/groups` with `$select`, `$filter=startswith(prop,'x')` on
//! displayName, mail and userPrincipalName, and `$search="prop:word"`, which needs `ConsistencyLevel: eventual`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Need;
use super::errors::GraphError;
use super::items::project;
use super::server::Ctx;
use super::state::World;

/// Directory pages: 100 by default, `$top` up to 999 [unverified, GRAPH.md 13].
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// `startswith(displayName,'ali')` -> ("displayName", "ali").
fn parse_startswith(filter: &str) -> Option<(String, String)> {
    let inner = filter.trim().strip_prefix("startswith(")?.strip_suffix(')')?;
    let (prop, value) = inner.split_once(',')?;
    Some((prop.trim().to_string(), value.trim().trim_matches('\'').to_lowercase()))
}

fn matches(ctx: &Ctx, record: &Value) -> Result<bool, GraphError> {
    if let Some(filter) = ctx.option("filter") {
        let (prop, value) = parse_startswith(filter).ok_or_else(|| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified.",
            )
        })?;
        if !record[prop.as_str()].as_str().is_some_and(|s| s.to_lowercase().starts_with(&value)) {
            return Ok(false);
        }
    }
    if let Some(search) = ctx.option("search") {
        if ctx.header("consistencylevel").map(str::to_lowercase).as_deref() != Some("eventual") {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ));
        }
        let term = search.trim_matches('"');
        let (prop, word) = term.split_once(':').unwrap_or(("displayName", term));
        let word = word.to_lowercase();
        let words_match = record[prop]
            .as_str()
            .is_some_and(|s| s.to_lowercase().split([' ', '.', '@', '-', '_']).any(|w| w.starts_with(&word)));
        if !words_match {
            return Ok(false);
        }
    }
    Ok(true)
}

fn respond(ctx: &Ctx, kind: &str, records: Vec<Value>) -> Result<Response, GraphError> {
    let select: Option<Vec<String>> =
        ctx.option("select").map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
    let mut matching = Vec::new();
    for record in records {
        if matches(ctx, &record)? {
            matching.push(project(record, select.as_deref()));
        }
    }
    let total = matching.len();
    let top = match ctx.option("top") {
        None => DEFAULT_PAGE,
        Some(t) => t.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
            GraphError::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", "Invalid page size specified.")
        })?,
    };
    let skip: usize = ctx.option("skiptoken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let value: Vec<Value> = matching.into_iter().skip(skip).take(top).collect();
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#{kind}", ctx.base)});
    if ctx.option("count") == Some("true") {
        body["@odata.count"] = json!(total);
    }
    if skip + top < total {
        let carried: String = ctx
            .query
            .iter()
            .filter(|(k, _)| k.trim_start_matches('$') != "skiptoken")
            .map(|(k, v)| format!("{}={}&", super::auth::encode(k), super::auth::encode(v)))
            .collect();
        body["@odata.nextLink"] = json!(format!("{}/v1.0/{kind}?{carried}$skiptoken={}", ctx.base, skip + top));
    }
    body["value"] = Value::Array(value);
    Ok(axum::Json(body).into_response())
}

pub fn users(world: &mut World, ctx: &Ctx) -> Result<Response, GraphError> {
    ctx.caller.require(world, Need::Users, None)?;
    let records = world
        .users
        .iter()
        .map(|u| json!({"id": u.id, "displayName": u.display_name, "mail": u.mail, "userPrincipalName": u.user_principal_name}))
        .collect();
    respond(ctx, "users", records)
}

pub fn groups(world: &mut World, ctx: &Ctx) -> Result<Response, GraphError> {
    ctx.caller.require(world, Need::Groups, None)?;
    let records = world
        .groups
        .iter()
        .map(|g| json!({"id": g.id, "displayName": g.display_name, "mail": g.mail, "mailEnabled": g.mail_enabled, "securityEnabled": g.security_enabled}))
        .collect();
    respond(ctx, "groups", records)
}
