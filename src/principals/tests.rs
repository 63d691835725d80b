//! Behaviour of users, groups and tokens against a real database in a temp dir.

use std::sync::Arc;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::ids::UserId;

fn principals() -> (tempfile::TempDir, Principals, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.redb")).unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
    (dir, Principals::new(store, clock.clone()), clock)
}

fn admin_acting(p: &Principals) -> (User, Acting) {
    let admin = p.create_user(&Acting::system(), NewUser { role: Role::Admin, ..NewUser::named("admin") }).unwrap();
    let acting = Acting { actor: AuditActor::User(admin.id), role: Role::Admin };
    (admin, acting)
}

#[test]
fn user_names_are_unique_regardless_of_case() {
    let (_dir, p, _) = principals();
    p.create_user(&Acting::system(), NewUser::named("Alice")).unwrap();
    let err = p.create_user(&Acting::system(), NewUser::named("alice")).unwrap_err();
    assert!(matches!(err, PrincipalsError::AlreadyExists { field: "user_name", .. }), "{err}");
    assert_eq!(p.find_user_by_name("ALICE").unwrap().unwrap().user_name, "Alice");
}

#[test]
fn admin_cannot_grant_superadmin_or_touch_one() {
    let (_dir, p, _) = principals();
    let root = p.create_user(&Acting::system(), NewUser { role: Role::Superadmin, ..NewUser::named("root") }).unwrap();
    let (_, admin) = admin_acting(&p);
    let err = p.create_user(&admin, NewUser { role: Role::Superadmin, ..NewUser::named("x") }).unwrap_err();
    assert!(matches!(err, PrincipalsError::Forbidden(_)));
    let err = p.update_user(&admin, root.id, UserPatch { active: Some(false), ..Default::default() }).unwrap_err();
    assert!(matches!(err, PrincipalsError::Forbidden(_)));
    assert!(p.get_user(root.id).unwrap().active);
}

#[test]
fn last_superadmin_cannot_be_removed() {
    let (_dir, p, _) = principals();
    let root = p.create_user(&Acting::system(), NewUser { role: Role::Superadmin, ..NewUser::named("root") }).unwrap();
    let err = p.delete_user(&Acting::system(), root.id).unwrap_err();
    assert!(matches!(err, PrincipalsError::Forbidden(_)));
    let demote = UserPatch { role: Some(Role::User), ..Default::default() };
    assert!(p.update_user(&Acting::system(), root.id, demote).is_err());
}

#[test]
fn patch_null_clears_and_absent_keeps() {
    let (_dir, p, _) = principals();
    let new = NewUser { email: Some("a@x.test".into()), department: Some("Ops".into()), ..NewUser::named("a") };
    let user = p.create_user(&Acting::system(), new).unwrap();
    let patch: UserPatch = serde_json::from_str(r#"{"email": null}"#).unwrap();
    let user = p.update_user(&Acting::system(), user.id, patch).unwrap();
    assert_eq!(user.email, None);
    assert_eq!(user.department.as_deref(), Some("Ops"));
    assert_eq!(user.version, 2);
}

#[test]
fn token_authenticates_until_revoked_or_expired_or_user_inactive() {
    let (_dir, p, clock) = principals();
    let (admin, acting) = admin_acting(&p);
    let issued = p
        .issue_token(&acting, NewToken { name: "ci".into(), user_id: None, expires_at: None }, TokenKind::Api)
        .unwrap();
    let (token, user) = p.authenticate(&issued.token).unwrap().unwrap();
    assert_eq!((token.id, user.id), (issued.info.id, admin.id));
    assert!(p.authenticate("sdt_wrong").unwrap().is_none());
    p.revoke_token(&acting, issued.info.id).unwrap();
    assert!(p.authenticate(&issued.token).unwrap().is_none());

    let soon = clock.now() + time::Duration::hours(1);
    let expiring = NewToken { name: "short".into(), user_id: None, expires_at: Some(soon) };
    let issued = p.issue_token(&acting, expiring, TokenKind::Api).unwrap();
    assert!(p.authenticate(&issued.token).unwrap().is_some());
    clock.advance(time::Duration::hours(2));
    assert!(p.authenticate(&issued.token).unwrap().is_none());

    let bob = p.create_user(&acting, NewUser::named("bob")).unwrap();
    let for_bob = NewToken { name: "bob".into(), user_id: Some(bob.id), expires_at: None };
    let issued = p.issue_token(&acting, for_bob, TokenKind::Api).unwrap();
    p.update_user(&acting, bob.id, UserPatch { active: Some(false), ..Default::default() }).unwrap();
    assert!(p.authenticate(&issued.token).unwrap().is_none());
}

#[test]
fn plain_user_cannot_issue_or_revoke_for_others() {
    let (_dir, p, _) = principals();
    let (_, admin) = admin_acting(&p);
    let bob = p.create_user(&admin, NewUser::named("bob")).unwrap();
    let carol = p.create_user(&admin, NewUser::named("carol")).unwrap();
    let as_bob = Acting { actor: AuditActor::User(bob.id), role: Role::User };
    let for_carol = NewToken { name: "x".into(), user_id: Some(carol.id), expires_at: None };
    assert!(matches!(p.issue_token(&as_bob, for_carol, TokenKind::Api), Err(PrincipalsError::Forbidden(_))));
    let carols = p
        .issue_token(&admin, NewToken { name: "c".into(), user_id: Some(carol.id), expires_at: None }, TokenKind::Api)
        .unwrap();
    assert!(matches!(p.revoke_token(&as_bob, carols.info.id), Err(PrincipalsError::NotFound { .. })));
}

#[test]
fn deleting_a_user_removes_tokens_and_memberships() {
    let (_dir, p, _) = principals();
    let (_, admin) = admin_acting(&p);
    let bob = p.create_user(&admin, NewUser::named("bob")).unwrap();
    let group = p
        .create_group(
            &admin,
            NewGroup {
                display_name: "Ops".into(),
                slug: None,
                external_id: None,
                members: vec![bob.id],
                scim_managed: false,
            },
        )
        .unwrap();
    let issued = p
        .issue_token(&admin, NewToken { name: "b".into(), user_id: Some(bob.id), expires_at: None }, TokenKind::Api)
        .unwrap();
    assert_eq!(p.groups_of(bob.id).unwrap(), vec![group.id]);
    p.delete_user(&admin, bob.id).unwrap();
    assert!(p.authenticate(&issued.token).unwrap().is_none());
    assert!(p.get_group(group.id).unwrap().members.is_empty());
    assert!(p.find_user_by_name("bob").unwrap().is_none());
}

#[test]
fn group_members_are_replaced_and_must_exist() {
    let (_dir, p, _) = principals();
    let (admin_user, admin) = admin_acting(&p);
    let bob = p.create_user(&admin, NewUser::named("bob")).unwrap();
    let new = NewGroup {
        display_name: "Finance Team".into(),
        slug: None,
        external_id: None,
        members: vec![bob.id],
        scim_managed: false,
    };
    let group = p.create_group(&admin, new).unwrap();
    assert_eq!(group.slug, "finance-team");
    let patch = GroupPatch { members: Some(vec![admin_user.id]), ..Default::default() };
    let group = p.update_group(&admin, group.id, patch).unwrap();
    assert_eq!(group.members, vec![admin_user.id]);
    assert!(p.groups_of(bob.id).unwrap().is_empty());
    let ghost = GroupPatch { members: Some(vec![UserId::new()]), ..Default::default() };
    assert!(matches!(p.update_group(&admin, group.id, ghost), Err(PrincipalsError::Invalid { field: "members", .. })));
    assert_eq!(p.get_group(group.id).unwrap().members, vec![admin_user.id], "a failed patch changes nothing");
}

#[test]
fn scim_managed_group_is_refused_to_the_api() {
    let (_dir, p, _) = principals();
    let (_, admin) = admin_acting(&p);
    let new = NewGroup {
        display_name: "Pushed".into(),
        slug: None,
        external_id: Some("idp-1".into()),
        members: vec![],
        scim_managed: true,
    };
    let group = p.create_group(&Acting::system(), new).unwrap();
    let patch = GroupPatch { display_name: Some("x".into()), ..Default::default() };
    assert!(matches!(p.update_group(&admin, group.id, patch), Err(PrincipalsError::ScimManaged(_))));
    assert!(matches!(p.delete_group(&admin, group.id), Err(PrincipalsError::ScimManaged(_))));
}

#[test]
fn listing_pages_through_every_user_once() {
    let (_dir, p, _) = principals();
    for i in 0..7 {
        p.create_user(&Acting::system(), NewUser::named(&format!("u{i}"))).unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = p.list_users(after, 3).unwrap();
        seen.extend(page.into_iter().map(|u| u.user_name));
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("u{i}")).collect::<Vec<_>>());
}

#[test]
fn every_write_is_audited_in_its_transaction() {
    let (_dir, p, _) = principals();
    let (_, admin) = admin_acting(&p);
    let bob = p.create_user(&admin, NewUser::named("bob")).unwrap();
    p.delete_user(&admin, bob.id).unwrap();
    let filter = crate::audit::AuditFilter { event_type: Some("user.*".into()), since: None };
    let (events, _) = crate::audit::list(p.store(), &filter, None, 100).unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["user.created", "user.created", "user.deleted"]);
    assert_eq!(events[2].target.as_deref(), Some(bob.id.to_string().as_str()));
}
