//! SharePoint item permissions -> ScaiDrive ACEs (GRAPH.md 10). The translation is pure: Graph's permission
//! sets in, ACEs out, with principals mapped by a function the caller builds from the run's `Resolver`.
//!
//! The rule behind every choice: **never grant more in ScaiDrive than SharePoint did**. Each ACE comes from one
//! SharePoint grant to a principal that maps to the ACE's principal, at most at that grant's level.
//!
//! - Roles: `read` -> `read`, `write` -> `write`, `owner` -> `manage`; a permission with several roles gives the
//!   highest; roles this code does not know give nothing.
//! - Grantees (`grantedToV2`): `user` and `group` are Entra objects keyed by their object id (explicit mappings
//!   name that id; the default mapping is the user's `mail`); `siteUser` and `siteGroup` are the site's own
//!   principals, keyed `siteUser:`/`siteGroup:` + their id, mappable explicitly by `loginName` or matched by
//!   name; `application` is an app (the connector's own, or another's): ScaiDrive has no app principals, so no
//!   ACE.
//! - Sharing links: `users` links grant their recipients (`grantedToIdentitiesV2`) the link's roles, like a
//!   direct grant; `anonymous` and `organization` links grant whoever holds the link, which ScaiDrive cannot
//!   express (it has no "anyone" principal): no ACE, reported in `skipped`; `existingAccess` links grant nothing new.
//! - Unmapped principals: reported; their grant goes to the connector's service identity (`fallback`) at the same
//!   level, so an item with unique permissions stays reachable by the account that syncs it rather than by nobody
//!   (the spec's "fall back to the connector's service identity"). That is not more than SharePoint grants: the
//!   connector's app reads and writes every item of the library there. Without a fallback the grant is dropped.
//! - Inheritance: SharePoint does not say which permissions are inherited (`inheritedFrom` is not returned), so
//!   an item whose effective set equals its parent's inherits: no ACE of its own, `inherit: true`, and ScaiDrive
//!   gives it the folder's ACEs. A different set is unique (broken inheritance): its translation with
//!   `inherit: false`, so nothing granted above leaks in. The connector's root (no parent in the sync) keeps
//!   `inherit: true`: the ACEs above it are the share admin's, set in ScaiDrive on purpose.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::drive::{Ace, AceSource, AceType, Permission, PrincipalId};
use crate::identity::resolve::SourcePrincipal;

/// One `permission` of an item (the V2 fields only; the deprecated `grantedTo` ones are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphPermission {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, rename = "grantedToV2")]
    pub granted_to: Option<IdentitySet>,
    #[serde(default, rename = "grantedToIdentitiesV2")]
    pub granted_to_identities: Vec<IdentitySet>,
    #[serde(default)]
    pub link: Option<SharingLink>,
}

/// `sharePointIdentitySet`: one principal, in one of these slots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySet {
    #[serde(default)]
    pub user: Option<Identity>,
    #[serde(default)]
    pub group: Option<Identity>,
    #[serde(default)]
    pub site_user: Option<Identity>,
    #[serde(default)]
    pub site_group: Option<Identity>,
    #[serde(default)]
    pub application: Option<Identity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub login_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SharingLink {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// The level a permission's roles give (`None`: no role this code knows).
pub fn level(roles: &[String]) -> Option<Permission> {
    roles
        .iter()
        .filter_map(|r| match r.to_ascii_lowercase().as_str() {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            "owner" => Some(Permission::Manage),
            _ => None,
        })
        .max()
}

impl IdentitySet {
    /// The principal as the resolver sees it; `None` for applications and empty sets (no ScaiDrive principal).
    pub fn principal(&self) -> Option<SourcePrincipal> {
        let entra = |i: &Identity, group: bool| {
            let id = i.id.clone().filter(|s| !s.is_empty())?;
            Some(SourcePrincipal {
                key: id.clone(),
                // Explicit mappings name the object id; the resolver matches non-SID mappings on `account`.
                account: Some(id),
                name: i.display_name.clone(),
                email: i.email.clone().filter(|e| !e.is_empty()),
                group,
            })
        };
        let site = |i: &Identity, prefix: &str, group: bool| {
            let id = i.id.clone().or_else(|| i.login_name.clone())?;
            Some(SourcePrincipal {
                key: format!("{prefix}:{id}"),
                account: i.login_name.clone(),
                name: i.display_name.clone(),
                email: i.email.clone().filter(|e| !e.is_empty()),
                group,
            })
        };
        if let Some(u) = &self.user {
            entra(u, false)
        } else if let Some(g) = &self.group {
            entra(g, true)
        } else if let Some(u) = &self.site_user {
            site(u, "siteUser", false)
        } else if let Some(g) = &self.site_group {
            site(g, "siteGroup", true)
        } else {
            None
        }
    }
}

/// A grant that cannot become an ACE, and why (for the job log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// An `anonymous` or `organization` link: whoever holds it gets in.
    OpenLink { permission: String, scope: String },
    /// Granted to an application.
    Application { permission: String },
    /// No role this code knows.
    UnknownRoles { permission: String, roles: Vec<String> },
}

/// One principal granted a level by one permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: SourcePrincipal,
    pub level: Permission,
}

/// Flattens a permission set into grants, and what cannot be granted.
pub fn grants(set: &[GraphPermission]) -> (Vec<Grant>, Vec<Skipped>) {
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    for p in set {
        let Some(level) = level(&p.roles) else {
            skipped.push(Skipped::UnknownRoles { permission: p.id.clone(), roles: p.roles.clone() });
            continue;
        };
        let mut grantees: Vec<&IdentitySet> = p.granted_to.iter().collect();
        if let Some(link) = &p.link {
            let scope = link.scope.clone().unwrap_or_default();
            match scope.as_str() {
                "users" => grantees.extend(p.granted_to_identities.iter()),
                "existingAccess" => continue,
                _ => {
                    skipped.push(Skipped::OpenLink { permission: p.id.clone(), scope });
                    continue;
                }
            }
        }
        for set in grantees {
            match set.principal() {
                Some(grantee) => out.push(Grant { grantee, level }),
                None if set.application.is_some() => {
                    skipped.push(Skipped::Application { permission: p.id.clone() });
                }
                None => {}
            }
        }
    }
    (out, skipped)
}

/// Two sets grant the same thing (the same permissions, in any order): an item whose set equals its parent's
/// inherits it.
pub fn same_set(a: &[GraphPermission], b: &[GraphPermission]) -> bool {
    fn canonical(set: &[GraphPermission]) -> Vec<String> {
        let mut v: Vec<String> = set
            .iter()
            .map(|p| {
                let mut roles = p.roles.clone();
                roles.sort();
                format!("{}|{roles:?}|{:?}|{:?}|{:?}", p.id, p.granted_to, p.granted_to_identities, p.link)
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
    canonical(a) == canonical(b)
}

/// The result for one item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    /// The item's own ACEs (all `allow`, `source: sharepoint`), one per principal at its highest level.
    pub aces: Vec<Ace>,
    /// Whether the item takes the ACEs of the folders above it.
    pub inherit: bool,
    /// Principals that could not be mapped (their grants went to the fallback, if any).
    pub unmapped: Vec<SourcePrincipal>,
    pub skipped: Vec<Skipped>,
}

/// Where the item sits relative to the sync.
#[derive(Debug, Clone, Copy)]
pub enum Position<'a> {
    /// The connector's root: its set is translated and it keeps inheriting the share's ACEs.
    Root,
    /// An item below the root, with its parent's effective set.
    Below { parent: &'a [GraphPermission] },
}

/// Translates an item's effective permission set (see the module docs). `map` gives the ScaiDrive principal of
/// a source principal, `fallback` the connector's service identity.
pub fn translate(
    set: &[GraphPermission],
    position: Position<'_>,
    map: &dyn Fn(&SourcePrincipal) -> Option<PrincipalId>,
    fallback: Option<PrincipalId>,
) -> Translation {
    if let Position::Below { parent } = position
        && same_set(set, parent)
    {
        return Translation { inherit: true, ..Translation::default() };
    }
    let (grants, skipped) = grants(set);
    let mut best: BTreeMap<String, (PrincipalId, Permission)> = BTreeMap::new();
    let mut unmapped: Vec<SourcePrincipal> = Vec::new();
    for g in grants {
        let principal = match map(&g.grantee) {
            Some(p) => Some(p),
            None => {
                if !unmapped.iter().any(|u| u.key == g.grantee.key) {
                    unmapped.push(g.grantee.clone());
                }
                fallback
            }
        };
        if let Some(p) = principal {
            let slot = best.entry(p.to_string()).or_insert((p, g.level));
            slot.1 = slot.1.max(g.level);
        }
    }
    let aces = best
        .into_values()
        .map(|(principal_id, permission)| Ace {
            principal_id,
            permission,
            kind: AceType::Allow,
            inherited: false,
            source: AceSource::Sharepoint,
        })
        .collect();
    Translation { aces, inherit: matches!(position, Position::Root), unmapped, skipped }
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
