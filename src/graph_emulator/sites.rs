//! Sites and drives (GRAPH.md 2): search (`search` and the SDK's `$search`), by id, by hostname and
//! server-relative path, `/sites/root`; the site's drives, its default drive, one drive.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Need;
use super::errors::GraphError;
use super::items::{resolve_drive, time};
use super::server::{Ctx, DriveRef, SiteRef};
use super::state::{Drive, Site, World};

pub fn resolve_site<'a>(world: &'a World, site: &SiteRef) -> Result<&'a Site, GraphError> {
    let found = match site {
        SiteRef::Root => world.sites.iter().find(|s| s.path.is_empty()),
        // Ids are `{host},{guid},{guid}`; a bare host names that host's root site.
        SiteRef::Id(id) => world
            .sites
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id) || (s.path.is_empty() && s.hostname.eq_ignore_ascii_case(id))),
        SiteRef::Path { host, path } => {
            world.sites.iter().find(|s| s.hostname.eq_ignore_ascii_case(host) && s.path.eq_ignore_ascii_case(path))
        }
    };
    found.ok_or_else(GraphError::not_found)
}

pub fn site_json(world: &World, site: &Site) -> Value {
    let modified = site
        .drive_ids
        .iter()
        .filter_map(|d| world.drive(d))
        .filter_map(|d| d.items.get(&d.root_id).map(|r| r.modified))
        .max()
        .unwrap_or(site.created);
    json!({
        "id": site.id,
        "name": site.name,
        "displayName": site.display_name,
        "webUrl": site.web_url(),
        "createdDateTime": time(site.created),
        "lastModifiedDateTime": time(modified),
        "siteCollection": {"hostname": site.hostname},
    })
}

pub fn drive_json(world: &World, drive: &Drive) -> Value {
    let site = world.site(&drive.site_id);
    let used = drive.items.get(&drive.root_id).map_or(0, |r| r.size);
    let total = drive.quota_total;
    let modified = drive.items.get(&drive.root_id).map_or(drive.created, |r| r.modified);
    json!({
        "id": drive.id,
        "name": drive.name,
        "description": "",
        "driveType": "documentLibrary",
        "webUrl": format!("{}/{}", site.map(Site::web_url).unwrap_or_default(), super::auth::encode(&drive.name)),
        "createdDateTime": time(drive.created),
        "lastModifiedDateTime": time(modified),
        "createdBy": {"user": {"displayName": "System Account"}},
        "owner": {"group": {"id": drive.site_id.split(',').nth(1).unwrap_or(""), "displayName": site.map(|s| s.display_name.clone()).unwrap_or_default()}},
        "quota": {"deleted": 0, "remaining": total - used.min(total), "state": "normal", "total": total, "used": used},
    })
}

pub fn search(world: &mut World, ctx: &Ctx) -> Result<Response, GraphError> {
    let query =
        ctx.query.get("search").or_else(|| ctx.query.get("$search")).map(|q| q.trim_matches('"').to_lowercase());
    let Some(query) = query else {
        // Listing all sites needs the search parameter on v1.0 for app-only callers.
        return Err(GraphError::invalid_request("The request is missing the search query option.")
            .with_inner("invalidQueryOption"));
    };
    let value: Vec<Value> = world
        .sites
        .iter()
        .filter(|s| ctx.caller.can_see_site(world, &s.id))
        .filter(|s| {
            query.is_empty()
                || query == "*"
                || s.name.to_lowercase().contains(&query)
                || s.display_name.to_lowercase().contains(&query)
                || s.web_url().to_lowercase().contains(&query)
        })
        .map(|s| site_json(world, s))
        .collect();
    if value.is_empty() {
        // Either nothing matches or the caller may read nothing: the service answers an empty list either way,
        // but a token without roles is still refused.
        ctx.caller
            .require(world, Need::Read, None)
            .or_else(|e| if e.status.as_u16() == 403 { Ok(()) } else { Err(e) })?;
    }
    Ok(axum::Json(json!({"@odata.context": format!("{}/v1.0/$metadata#sites", ctx.base), "value": value}))
        .into_response())
}

pub fn get(world: &mut World, ctx: &Ctx, site: &SiteRef) -> Result<Response, GraphError> {
    let site = resolve_site(world, site)?;
    ctx.caller.require(world, Need::Read, Some(&site.id))?;
    Ok(axum::Json(site_json(world, site)).into_response())
}

pub fn drives(world: &mut World, ctx: &Ctx, site: &SiteRef) -> Result<Response, GraphError> {
    let site = resolve_site(world, site)?;
    ctx.caller.require(world, Need::Read, Some(&site.id))?;
    let value: Vec<Value> =
        site.drive_ids.iter().filter_map(|d| world.drive(d)).map(|d| drive_json(world, d)).collect();
    Ok(axum::Json(json!({"@odata.context": format!("{}/v1.0/$metadata#drives", ctx.base), "value": value}))
        .into_response())
}

pub fn drive(world: &mut World, ctx: &Ctx, drive: &DriveRef) -> Result<Response, GraphError> {
    let id = resolve_drive(world, ctx, drive, Need::Read)?;
    let drive = world.drive(&id).ok_or_else(GraphError::not_found)?;
    Ok(axum::Json(drive_json(world, drive)).into_response())
}
