//! Shares, metadata, ACEs and effective access.

use super::*;
use crate::ids::GroupId;

#[test]
fn metadata_is_replaced_or_merged_with_null_removing_a_key() {
    let f = fixture();
    f.put("/m", b"").unwrap();
    let at = EntryRef::Path(p("/m"));
    assert!(f.drive.metadata(f.share, &at).unwrap().is_empty());
    let object: Metadata = serde_json::from_str(r#"{"a": 1, "b": "x"}"#).unwrap();
    f.drive.replace_metadata(f.share, &at, object).unwrap();
    let patch: Metadata = serde_json::from_str(r#"{"a": null, "c": [1]}"#).unwrap();
    let merged = f.drive.merge_metadata(f.share, &at, patch).unwrap();
    assert_eq!(serde_json::Value::Object(merged), serde_json::json!({"b": "x", "c": [1]}));
    assert_eq!(f.drive.metadata(f.share, &EntryRef::Path(p("/nope"))).unwrap_err().code(), "NOT_FOUND");
}

struct Groups(Vec<(UserId, GroupId)>);

impl Membership for Groups {
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.0.iter().filter(|(u, _)| *u == user).map(|(_, g)| *g).collect()
    }
}

#[test]
fn effective_access_follows_groups_inheritance_and_deny() {
    let f = fixture();
    let (reader, outsider, group) = (UserId::new(), UserId::new(), GroupId::new());
    let groups = Groups(vec![(reader, group)]);
    let allow = |p, perm| Ace {
        principal_id: p,
        permission: perm,
        kind: AceType::Allow,
        inherited: false,
        source: AceSource::Manual,
    };
    let root = EntryRef::Path(DrivePath::root());
    f.drive
        .set_aces(
            f.share,
            &root,
            &[
                allow(PrincipalId::User(f.user), Permission::Manage),
                allow(PrincipalId::Group(group), Permission::Write),
            ],
            true,
        )
        .unwrap();
    f.put("/open/a.txt", b"a").unwrap();
    f.put("/secret/b.txt", b"b").unwrap();
    let deny = Ace { kind: AceType::Deny, ..allow(PrincipalId::Group(group), Permission::Write) };
    f.drive.set_aces(f.share, &EntryRef::Path(p("/open")), &[deny], true).unwrap();
    f.drive.set_aces(f.share, &EntryRef::Path(p("/secret")), &[], false).unwrap();

    let access = |user, path: &str| {
        f.drive.effective_access(f.share, &p(path), PrincipalId::User(user), &groups).unwrap().permission
    };
    assert_eq!(access(f.user, "/open/a.txt"), Some(Permission::Manage));
    assert_eq!(access(reader, "/"), Some(Permission::Write));
    assert_eq!(access(reader, "/open/a.txt"), Some(Permission::Read));
    assert_eq!(access(reader, "/secret/b.txt"), None);
    assert_eq!(access(f.user, "/secret/b.txt"), None, "inheritance is broken there");
    assert_eq!(access(reader, "/not/yet/here.txt"), Some(Permission::Write));

    let caller = |user| Caller { user, admin: false };
    let upload = f.drive.authorize(f.share, &p("/open/new.txt"), caller(reader), Permission::Write, &groups);
    assert_eq!(upload.unwrap_err().code(), "FORBIDDEN");
    let hidden = f.drive.authorize(f.share, &p("/secret/b.txt"), caller(outsider), Permission::Read, &groups);
    assert_eq!(hidden.unwrap_err().code(), "NOT_FOUND");
    let admin = Caller { user: outsider, admin: true };
    assert!(f.drive.authorize(f.share, &p("/secret/b.txt"), admin, Permission::Manage, &groups).is_ok());

    assert_eq!(f.drive.readable_shares(caller(reader), &groups).unwrap().len(), 1);
    assert!(f.drive.readable_shares(caller(outsider), &groups).unwrap().is_empty());
}

#[test]
fn a_share_creator_gets_manage_and_a_share_in_use_is_not_deleted() {
    let f = fixture();
    let (aces, inherit) = f.drive.aces(f.share, &EntryRef::Path(DrivePath::root())).unwrap();
    assert_eq!(aces.len(), 1);
    assert_eq!(
        (aces[0].principal_id, aces[0].permission, inherit),
        (PrincipalId::User(f.user), Permission::Manage, true)
    );
    let share = f.drive.share(f.share).unwrap();
    assert_eq!((share.retention_days, share.quota_bytes), (30, None));
    f.put("/x", b"data").unwrap();
    let refused = f.drive.delete_share(f.share, &|_| true);
    assert_eq!(refused.unwrap_err().code(), "SHARE_IN_USE");
    assert_eq!(f.get("/x"), b"data");
    f.drive.delete_share(f.share, &|_| false).unwrap();
    assert_eq!(f.drive.share(f.share).unwrap_err().code(), "NOT_FOUND");
    assert!(f.drive.shares().unwrap().is_empty());
    assert_eq!(f.drive.purge().unwrap().blobs_deleted, 1);
}

#[test]
fn an_entry_or_version_of_one_share_is_not_found_through_another() {
    let f = fixture();
    let e = f.put("/mine.txt", b"1").unwrap();
    let other = f.drive.create_share("Other", None, None, None).unwrap().id;
    assert_eq!(f.drive.entry_by_id(other, e.id).unwrap_err().code(), "NOT_FOUND");
    let version = e.version_id.unwrap();
    assert_eq!(f.drive.read_version(other, version).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(f.drive.entry_by_id(ShareId::new(), e.id).unwrap_err().code(), "NOT_FOUND");
    assert_eq!(f.drive.list_folder(other, &DrivePath::root(), None, 10).unwrap().entries.len(), 0);
}
