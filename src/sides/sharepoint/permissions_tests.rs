//! One table case per kind of grant, and the property that no translation grants more than SharePoint did.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::ids::{GroupId, UserId};

fn perm(value: serde_json::Value) -> GraphPermission {
    serde_json::from_value(value).unwrap()
}

fn user(id: &str, roles: &[&str]) -> GraphPermission {
    perm(json!({"id": format!("p-{id}-{roles:?}"), "roles": roles,
        "grantedToV2": {"user": {"id": id, "displayName": id, "email": format!("{id}@contoso.com")}}}))
}

struct Case {
    map: HashMap<String, PrincipalId>,
    fallback: Option<PrincipalId>,
}

impl Case {
    fn new(pairs: &[(&str, PrincipalId)]) -> Self {
        Case { map: pairs.iter().map(|(k, p)| (k.to_string(), *p)).collect(), fallback: None }
    }

    fn run(&self, set: &[GraphPermission], position: Position<'_>) -> Translation {
        translate(set, position, &|s: &SourcePrincipal| self.map.get(&s.key).copied(), self.fallback)
    }
}

fn levels(t: &Translation) -> Vec<(PrincipalId, Permission)> {
    t.aces.iter().map(|a| (a.principal_id, a.permission)).collect()
}

#[test]
fn roles_give_their_level_and_the_highest_of_several_wins() {
    let a = PrincipalId::User(UserId::new());
    let case = Case::new(&[("alice", a)]);
    for (roles, want) in [
        (&["read"][..], Permission::Read),
        (&["write"], Permission::Write),
        (&["owner"], Permission::Manage),
        (&["read", "write"], Permission::Write),
    ] {
        let t = case.run(&[user("alice", roles)], Position::Root);
        assert_eq!(levels(&t), [(a, want)], "roles {roles:?}");
        assert!(t.aces.iter().all(|x| x.kind == AceType::Allow && x.source == AceSource::Sharepoint));
    }
    let t = case.run(&[user("alice", &["sp.fancy"])], Position::Root);
    assert!(t.aces.is_empty());
    assert!(matches!(&t.skipped[..], [Skipped::UnknownRoles { .. }]));
}

#[test]
fn entra_groups_map_by_object_id_and_site_groups_by_their_own_key() {
    let (g, sg) = (PrincipalId::Group(GroupId::new()), PrincipalId::Group(GroupId::new()));
    let case = Case::new(&[("g-1", g), ("siteGroup:5", sg)]);
    let set = [
        perm(json!({"id": "a", "roles": ["write"], "grantedToV2": {"group": {"id": "g-1", "displayName": "Sales"}}})),
        perm(json!({"id": "b", "roles": ["read"],
            "grantedToV2": {"siteGroup": {"id": "5", "displayName": "Visitors", "loginName": "Team Visitors"}}})),
    ];
    let t = case.run(&set, Position::Root);
    assert_eq!(levels(&t), [(g, Permission::Write), (sg, Permission::Read)]);
    let principal = set[1].granted_to.as_ref().unwrap().principal().unwrap();
    assert!(principal.group);
    assert_eq!(principal.account.as_deref(), Some("Team Visitors"));
}

#[test]
fn a_people_link_grants_its_recipients_and_open_links_grant_nobody() {
    let (a, b) = (PrincipalId::User(UserId::new()), PrincipalId::User(UserId::new()));
    let case = Case::new(&[("alice", a), ("bob", b)]);
    let set = [
        perm(json!({"id": "l1", "roles": ["write"], "link": {"type": "edit", "scope": "users"},
            "grantedToIdentitiesV2": [{"user": {"id": "alice"}}, {"user": {"id": "bob"}}]})),
        perm(json!({"id": "l2", "roles": ["read"], "link": {"type": "view", "scope": "anonymous"}})),
        perm(json!({"id": "l3", "roles": ["write"], "link": {"type": "edit", "scope": "organization"}})),
        perm(json!({"id": "l4", "roles": ["read"], "link": {"type": "view", "scope": "existingAccess"},
            "grantedToIdentitiesV2": [{"user": {"id": "bob"}}]})),
        perm(json!({"id": "app", "roles": ["write"], "grantedToV2": {"application": {"id": "app-1"}}})),
    ];
    let t = case.run(&set, Position::Root);
    let mut got = levels(&t);
    got.sort_by_key(|(p, _)| p.to_string());
    let mut want = vec![(a, Permission::Write), (b, Permission::Write)];
    want.sort_by_key(|(p, _)| p.to_string());
    assert_eq!(got, want);
    assert_eq!(t.skipped.len(), 3, "{:?}", t.skipped);
    assert!(t.skipped.iter().any(|s| matches!(s, Skipped::OpenLink { scope, .. } if scope == "anonymous")));
    assert!(t.skipped.iter().any(|s| matches!(s, Skipped::Application { .. })));
}

#[test]
fn an_unmapped_principal_is_reported_and_its_grant_falls_back_to_the_service_identity() {
    let service = PrincipalId::User(UserId::new());
    let mut case = Case::new(&[]);
    let set = [user("carol", &["write"]), user("dave", &["read"])];
    let t = case.run(&set, Position::Root);
    assert!(t.aces.is_empty(), "without a fallback the grants go nowhere");
    assert_eq!(t.unmapped.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(), ["carol", "dave"]);
    case.fallback = Some(service);
    let t = case.run(&set, Position::Root);
    assert_eq!(levels(&t), [(service, Permission::Write)], "one ACE, at the highest unmapped grant");
    assert_eq!(t.unmapped.len(), 2);
}

#[test]
fn an_item_with_its_parents_set_inherits_and_a_different_set_breaks_inheritance() {
    let a = PrincipalId::User(UserId::new());
    let case = Case::new(&[("alice", a)]);
    let parent = [user("alice", &["read"]), user("bob", &["write"])];
    let same_reordered = [parent[1].clone(), parent[0].clone()];
    let t = case.run(&same_reordered, Position::Below { parent: &parent });
    assert_eq!(t, Translation { inherit: true, ..Translation::default() });
    let unique = [user("alice", &["owner"])];
    let t = case.run(&unique, Position::Below { parent: &parent });
    assert!(!t.inherit);
    assert_eq!(levels(&t), [(a, Permission::Manage)]);
    assert!(case.run(&unique, Position::Root).inherit, "the connector root keeps the share admin's ACEs above");
}

#[test]
fn two_sources_mapped_to_one_scaidrive_user_give_one_ace_at_the_higher_level() {
    let a = PrincipalId::User(UserId::new());
    let case = Case::new(&[("alice", a), ("siteUser:7", a)]);
    let set = [
        user("alice", &["read"]),
        perm(
            json!({"id": "s", "roles": ["owner"], "grantedToV2": {"siteUser": {"id": "7", "loginName": "i:0#.f|membership|alice"}}}),
        ),
    ];
    assert_eq!(levels(&case.run(&set, Position::Root)), [(a, Permission::Manage)]);
}

/// A random permission over a small pool of principals, so sets share grantees.
fn arb_permission() -> impl Strategy<Value = GraphPermission> {
    let roles = prop::sample::subsequence(vec!["read", "write", "owner", "sp.other"], 0..=2);
    let who = 0usize..6;
    let kind = 0usize..6;
    (roles, who, kind, prop::collection::vec(0usize..6, 0..3)).prop_map(|(roles, who, kind, recipients)| {
        let identity = |n: usize| match n % 3 {
            0 => json!({"user": {"id": format!("u{n}"), "displayName": format!("U{n}")}}),
            1 => json!({"group": {"id": format!("g{n}")}}),
            _ => json!({"siteGroup": {"id": format!("{n}"), "loginName": format!("SG{n}")}}),
        };
        let id = format!("p{who}{kind}{roles:?}");
        let v = match kind {
            0 | 1 => json!({"id": id, "roles": roles, "grantedToV2": identity(who)}),
            2 => json!({"id": id, "roles": roles, "link": {"type": "edit", "scope": "users"},
                "grantedToIdentitiesV2": recipients.iter().map(|r| identity(*r)).collect::<Vec<_>>()}),
            3 => json!({"id": id, "roles": roles, "link": {"type": "view", "scope": "anonymous"}}),
            4 => json!({"id": id, "roles": roles, "link": {"type": "view", "scope": "organization"}}),
            _ => json!({"id": id, "roles": roles, "grantedToV2": {"application": {"id": "app"}}}),
        };
        perm(v)
    })
}

proptest! {
    /// Every ACE is backed by a SharePoint grant of at least its level to a principal that maps to the ACE's
    /// principal (the fallback stands for unmapped principals); nothing is ever denied or taken from links that
    /// name nobody.
    #[test]
    fn no_translation_grants_more_than_sharepoint_did(
        set in prop::collection::vec(arb_permission(), 0..8),
        parent in prop::collection::vec(arb_permission(), 0..4),
        mapped in prop::collection::vec(prop::option::of(0usize..3), 18),
        with_fallback in any::<bool>(),
        root in any::<bool>(),
    ) {
        let targets: Vec<PrincipalId> = (0..3).map(|_| PrincipalId::User(UserId::new())).collect();
        let fallback = with_fallback.then(|| PrincipalId::User(UserId::new()));
        // The 18 keys of the pool (u/g/siteGroup for 0..6), each mapped to one of three users or not at all.
        let keys: Vec<String> = (0..6).flat_map(|n| [format!("u{n}"), format!("g{n}"), format!("siteGroup:{n}")]).collect();
        let map: HashMap<String, PrincipalId> = keys.iter().zip(&mapped)
            .filter_map(|(k, m)| m.map(|i| (k.clone(), targets[i]))).collect();
        let position = if root { Position::Root } else { Position::Below { parent: &parent } };
        let t = translate(&set, position, &|s: &SourcePrincipal| map.get(&s.key).copied(), fallback);
        let (grants, _) = grants(&set);
        for ace in &t.aces {
            prop_assert_eq!(ace.kind, AceType::Allow);
            let backed = grants.iter().any(|g| {
                let to = map.get(&g.grantee.key).copied().or(fallback.filter(|_| !map.contains_key(&g.grantee.key)));
                to == Some(ace.principal_id) && g.level >= ace.permission
            });
            prop_assert!(backed, "{:?} is not backed by any SharePoint grant of {:?}", ace, set);
        }
        if !root && same_set(&set, &parent) {
            prop_assert!(t.aces.is_empty() && t.inherit);
        }
    }
}
