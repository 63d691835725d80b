//! SCIM's store side against a real database: what an identity provider would notice (versions that move only
//! on real changes, roles it may and may not touch, nested groups) and the schema upgrade that indexes names.

use redb::ReadableDatabase;
use serde_json::json;

use super::*;
use crate::audit::AuditActor;
use crate::clock::ManualClock;
use crate::ids::{TokenId, UserId};
use crate::scim::error::ScimError;
use crate::scim::eval::{IndexLookup, IndexedAttr};
use crate::scim::group::{MemberId, ScimGroup, ScimMember};
use crate::scim::patch::PatchRequest;
use crate::scim::resource::ScimUser;
use crate::store::{Store, migrate, tables};

fn principals() -> (tempfile::TempDir, Principals) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.redb")).unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
    (dir, Principals::new(store, clock))
}

fn token(role: Role) -> Acting {
    Acting { actor: AuditActor::Token(TokenId::new()), role }
}

fn patch(ops: serde_json::Value) -> PatchRequest {
    PatchRequest::from_json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))
        .unwrap()
}

fn audit_count(p: &Principals) -> u64 {
    let txn = p.store().db().begin_read().unwrap();
    redb::ReadableTableMetadata::len(&txn.open_table(tables::AUDIT_EVENTS).unwrap()).unwrap()
}

#[test]
fn a_patch_that_changes_nothing_keeps_the_version_and_logs_nothing() {
    let (_dir, p) = principals();
    let acting = token(Role::Admin);
    let user =
        p.scim_create_user(&acting, &ScimUser::from_json(&json!({"userName": "a", "active": true})).unwrap()).unwrap();
    let events = audit_count(&p);
    let same =
        p.scim_patch_user(&acting, user.id, &patch(json!([{"op": "replace", "path": "active", "value": true}])), None);
    assert_eq!(same.unwrap().meta.version, user.meta.version);
    assert_eq!(audit_count(&p), events);
    let stale = p.scim_patch_user(
        &acting,
        user.id,
        &patch(json!([{"op": "replace", "path": "active", "value": false}])),
        Some("W/\"0\""),
    );
    assert!(matches!(stale, Err(ScimStoreError::Scim(ScimError::PreconditionFailed(_)))));
}

#[test]
fn a_token_grants_no_role_above_its_owner_and_unassigning_a_role_returns_to_the_default() {
    let (_dir, p) = principals();
    let admin = token(Role::Admin);
    let body = json!({"userName": "b", "urn:scaidrive:scim:User": {"role": "superadmin"}});
    let refused = p.scim_create_user(&admin, &ScimUser::from_json(&body).unwrap());
    assert!(matches!(refused, Err(ScimStoreError::Scim(ScimError::Forbidden(_)))));
    let body = json!({"userName": "b", "urn:scaidrive:scim:User": {"role": "admin"}});
    let user = p.scim_create_user(&admin, &ScimUser::from_json(&body).unwrap()).unwrap();
    assert_eq!(p.get_user(user.id).unwrap().role, Role::Admin);
    p.scim_patch_user(&admin, user.id, &patch(json!([{"op": "remove", "path": "urn:scaidrive:scim:User:role"}])), None)
        .unwrap();
    assert_eq!(p.get_user(user.id).unwrap().role, Role::User);
}

#[test]
fn groups_nest_and_a_deleted_group_leaves_its_parents() {
    let (_dir, p) = principals();
    let acting = token(Role::Admin);
    let child = p
        .scim_create_group(&acting, &ScimGroup { display_name: "Child".into(), external_id: None, members: vec![] })
        .unwrap();
    let member = ScimMember { id: MemberId::Group(child.id), display: None };
    let parent = p
        .scim_create_group(
            &acting,
            &ScimGroup { display_name: "Parent".into(), external_id: None, members: vec![member] },
        )
        .unwrap();
    assert_eq!(p.scim_group(parent.id, true).unwrap().group.members.len(), 1);
    let taken =
        p.scim_create_group(&acting, &ScimGroup { display_name: "PARENT".into(), external_id: None, members: vec![] });
    assert!(matches!(taken, Err(ScimStoreError::Scim(ScimError::Uniqueness(_)))));
    p.scim_delete_group(&acting, child.id, None).unwrap();
    assert!(p.scim_group(parent.id, true).unwrap().group.members.is_empty());
}

#[test]
fn a_schema_1_database_gets_its_group_names_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    {
        let p = Principals::new(Store::open(&path).unwrap(), ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        p.create_group(
            &Acting::system(),
            NewGroup {
                display_name: "Legacy Team".into(),
                slug: None,
                external_id: None,
                members: vec![],
                scim_managed: false,
            },
        )
        .unwrap();
        // Back to what schema 1 had: no name index.
        let txn = p.store().db().begin_write().unwrap();
        txn.delete_table(tables::GROUP_NAMES).unwrap();
        txn.open_table(tables::META).unwrap().insert("schema_version", 1u32.to_be_bytes().as_slice()).unwrap();
        txn.commit().unwrap();
    }
    let p = Principals::new(Store::open(&path).unwrap(), ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
    let hint =
        IndexLookup { attr: IndexedAttr::DisplayName, key: "legacy team".into(), case_exact: false, complete: true };
    let found = p.scim_groups_by(&hint, false).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].group.display_name, "Legacy Team");
    let txn = p.store().db().begin_write().unwrap();
    assert_eq!(migrate::read_version(&txn).unwrap(), Some(migrate::SCHEMA_VERSION));
}

#[test]
fn deep_pages_match_the_list_after_users_come_and_go() {
    let (_dir, p) = principals();
    let acting = token(Role::Admin);
    let create = |name: String| {
        let body = json!({"userName": name, "active": true});
        p.scim_create_user(&acting, &ScimUser::from_json(&body).unwrap()).unwrap().id
    };
    let mut ids: Vec<UserId> = (0..700).map(|n| create(format!("u{n:04}"))).collect();
    let page =
        |offset: usize| -> Vec<UserId> { p.scim_users_page(offset, 50).unwrap().1.into_iter().map(|r| r.id).collect() };
    // In order of creation: the ids the store handed out, sliced.
    assert_eq!(page(600), ids[600..650].to_vec(), "a deep page, stepping from the first row");
    assert_eq!(page(300), ids[300..350].to_vec(), "from a landmark the first request left");
    assert_eq!(page(650), ids[650..700].to_vec());

    // Users deleted before the landmarks and added after them: the next pages are of the list as it is now.
    let gone = [ids[3], ids[200]];
    for id in gone {
        p.scim_delete_user(&acting, id, None).unwrap();
    }
    ids.retain(|id| !gone.contains(id));
    assert_eq!(page(600), ids[600..650].to_vec());
    ids.push(create("late".into()));
    p.scim_delete_user(&acting, ids[10], None).unwrap();
    ids.remove(10);
    assert_eq!(page(600), ids[600..650].to_vec(), "one added and one removed: the same count, other rows");
    assert_eq!(page(0), ids[0..50].to_vec());
    // Users only added since: the landmarks stay right (new ids come last), and the new users are on the last page.
    ids.extend((0..3).map(|n| create(format!("new{n}"))));
    assert_eq!(page(600), ids[600..650].to_vec());
    assert_eq!(page(690), ids[690..701].to_vec());
    assert_eq!(p.scim_users_page(800, 50).unwrap(), (ids.len(), Vec::new()), "past the end: nothing");
}
