//! SCIM queries over the store: the lists and searches of `/Users`, `/Groups` and `/.search`. A filter with an
//! indexed equality (`userName`, `externalId`, `id`, group `displayName`: what every identity provider sends)
//! is answered from the index; an unfiltered, unsorted list reads just its page; anything else scans and
//! evaluates. Results keep creation order unless `sortBy` says otherwise, so paging is stable.

use serde_json::Value;

use super::{Principals, ScimStoreError};
use crate::scim::error::ScimError;
use crate::scim::eval::{index_hint, matches};
use crate::scim::filter::Filter;
use crate::scim::list::{SearchRequest, list_response};
use crate::scim::schema::{GROUP_TYPE, ResourceType, USER_TYPE};

/// Results per page when the client gives no `count`.
pub const DEFAULT_COUNT: usize = 100;
/// `filter.maxResults`: the most one answer returns.
pub const MAX_RESULTS: usize = 1000;

/// Which resource types a query covers.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Users,
    Groups,
    All,
}

impl Principals {
    /// Runs a SCIM query and returns its ListResponse. `base` is the public SCIM base URL for `meta.location`.
    pub fn scim_search(&self, base: &str, req: &SearchRequest, scope: Scope) -> Result<Value, ScimStoreError> {
        run(self, base, req, scope)
    }
}

fn run(p: &Principals, base: &str, req: &SearchRequest, scope: Scope) -> Result<Value, ScimStoreError> {
    let types: &[&'static ResourceType] = match scope {
        Scope::Users => &[&USER_TYPE],
        Scope::Groups => &[&GROUP_TYPE],
        Scope::All => &[&USER_TYPE, &GROUP_TYPE],
    };
    let page = req.page(DEFAULT_COUNT, MAX_RESULTS);
    let mut hits: Vec<(&'static ResourceType, Value)> = Vec::new();
    let mut first_error = None;
    let mut answered = 0;
    for &rt in types {
        // At the root one filter serves both types; a type whose schema it does not fit simply has no hits.
        let filter = match req.filter(rt) {
            Ok(f) => f,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let projection = req.projection(rt)?;
        let sort = req.sort(rt)?;
        answered += 1;
        if types.len() == 1 && filter.is_none() && sort.is_none() {
            // Only the page is read: the common "list everything" walk stays cheap at 100,000 users.
            let (total, resources) = page_of(p, base, rt, page.offset(), page.count, !projection.drops_members(rt))?;
            let resources = resources.into_iter().map(|r| projection.apply(rt, r)).collect();
            return Ok(list_response(total, &page, resources));
        }
        let with_members = filter.is_some() || !projection.drops_members(rt);
        let mut found = candidates(p, base, rt, filter.as_ref(), with_members)?;
        if let Some(sort) = sort {
            found.sort_by(|a, b| sort.compare(a, b));
        }
        hits.extend(found.into_iter().map(|r| (rt, r)));
    }
    if answered == 0 {
        return Err(first_error.unwrap_or_else(|| ScimError::InvalidFilter("no resource type fits".into())).into());
    }
    let total = hits.len();
    let mut resources = Vec::new();
    for (rt, r) in page.slice(&hits).iter().cloned() {
        resources.push(req.projection(rt)?.apply(rt, r));
    }
    Ok(list_response(total, &page, resources))
}

fn page_of(
    p: &Principals,
    base: &str,
    rt: &'static ResourceType,
    offset: usize,
    count: usize,
    with_members: bool,
) -> Result<(usize, Vec<Value>), ScimStoreError> {
    if std::ptr::eq(rt, &USER_TYPE) {
        let (total, users) = p.scim_users_page(offset, count)?;
        Ok((total, users.iter().map(|u| u.to_json(base)).collect()))
    } else {
        let (total, groups) = p.scim_groups_page(offset, count, with_members)?;
        Ok((total, groups.iter().map(|g| g.to_json(base)).collect()))
    }
}

/// The resources (full JSON) a filter selects, from an index when the filter allows.
fn candidates(
    p: &Principals,
    base: &str,
    rt: &'static ResourceType,
    filter: Option<&Filter>,
    with_members: bool,
) -> Result<Vec<Value>, ScimStoreError> {
    let hint = filter.and_then(|f| index_hint(f, rt));
    let users = std::ptr::eq(rt, &USER_TYPE);
    let all: Vec<Value> = match (&hint, users) {
        (Some(h), true) => p.scim_users_by(h)?.iter().map(|u| u.to_json(base)).collect(),
        (Some(h), false) => p.scim_groups_by(h, with_members)?.iter().map(|g| g.to_json(base)).collect(),
        (None, true) => p.scim_users_scan()?.iter().map(|u| u.to_json(base)).collect(),
        (None, false) => p.scim_groups_scan(with_members)?.iter().map(|g| g.to_json(base)).collect(),
    };
    let exact = hint.is_some_and(|h| h.complete);
    Ok(match filter {
        Some(f) if !exact => all.into_iter().filter(|r| matches(f, r, rt)).collect(),
        _ => all,
    })
}
