//! Identity mapping and ACL translation against a real Samba server: ACLs set with `samba-tool ntacl`, read
//! over SMB, names looked up over LSA, translated with real mappings, stored in a drive, and checked with the
//! drive's `effective_access`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scaidrive_connectors::clock::ManualClock;
use scaidrive_connectors::connectors::mappings::{IdentityMapping, IdentityType};
use scaidrive_connectors::drive::{
    AceType, Drive, DrivePath, Membership, Origin, Permission, PrincipalId, WriteOptions,
};
use scaidrive_connectors::identity::resolve::{Directory, Resolver, UnmappedReason};
use scaidrive_connectors::identity::translate::Warning;
use scaidrive_connectors::ids::{GroupId, MappingId, UserId};
use scaidrive_connectors::principals::{Group, Role, User};
use scaidrive_connectors::sides::smb::{SmbClient, SmbConfig};
use time::OffsetDateTime;

use crate::samba::{NETBIOS_NAME, SHARE, Samba};

fn user(name: &str) -> User {
    User {
        id: UserId::new(),
        user_name: name.into(),
        display_name: name.into(),
        email: None,
        active: true,
        role: Role::User,
        quota_bytes: None,
        external_id: None,
        department: None,
        manager: None,
        scim_managed: false,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        version: 1,
    }
}

fn group(name: &str, members: Vec<UserId>) -> Group {
    Group {
        id: GroupId::new(),
        display_name: name.into(),
        slug: name.to_lowercase(),
        external_id: None,
        members,
        scim_managed: false,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        version: 1,
    }
}

fn mapping(smb_principal: &str, identity_type: IdentityType, to: String) -> IdentityMapping {
    IdentityMapping {
        id: MappingId::new(),
        identity_type,
        smb_principal: smb_principal.into(),
        scaidrive_principal_id: to,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

struct Groups(HashMap<UserId, Vec<GroupId>>);

impl Membership for Groups {
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.0.get(&user).cloned().unwrap_or_default()
    }
}

/// Alice owns a file that denies Bob write and lets a group read; the folder above breaks inheritance; a file
/// owned by an account the server does not know falls back to the service account, which also takes that
/// account's allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_acls_translate_to_owners_and_aces_with_real_mappings() {
    let mut s = Samba::start();
    let alice = s.user().clone();
    let bob = s.add_user();
    let (alice_sid, bob_sid) = (s.user_sid(&alice), s.user_sid(&bob));
    let team_sid = format!("{}-3000", s.machine_sid());
    let ghost_sid = format!("{}-4242", s.machine_sid());
    std::fs::create_dir_all(s.share_dir().join("team")).expect("mkdir");
    std::fs::write(s.share_dir().join("team/report.txt"), b"numbers").expect("write");
    std::fs::write(s.share_dir().join("team/orphan.txt"), b"who?").expect("write");
    s.set_ntacl("team", &format!("O:{alice_sid}G:{alice_sid}D:P(A;OICI;0x001f01ff;;;{alice_sid})"));
    s.set_ntacl(
        "team/report.txt",
        &format!(
            "O:{alice_sid}G:{alice_sid}D:(D;;0x00000116;;;{bob_sid})(A;;0x001f01ff;;;{alice_sid})\
             (A;;0x001301bf;;;{bob_sid})(A;;0x001200a9;;;{team_sid})(A;;0x001200a9;;;S-1-1-0)"
        ),
    );
    s.set_ntacl(
        "team/orphan.txt",
        &format!("O:{ghost_sid}G:{alice_sid}D:(A;;0x001f01ff;;;{alice_sid})(A;;0x001200a9;;;{ghost_sid})"),
    );

    // ScaiDrive: Alice found by name (through LSA), Bob by an explicit DOMAIN\name, the team by SID.
    let (sd_alice, sd_bob, carol, service) = (user(&alice.name), user("robert"), user("carol"), UserId::new());
    let team = group("Team", vec![carol.id]);
    let mappings = [
        mapping(&format!(r"{NETBIOS_NAME}\{}", bob.name), IdentityType::User, sd_bob.id.to_string()),
        mapping(&team_sid, IdentityType::Group, team.id.to_string()),
    ];
    let directory = Directory::new(&[sd_alice.clone(), sd_bob.clone(), carol.clone()], std::slice::from_ref(&team));
    let mut resolver = Resolver::new(&mappings, directory, Some(service));

    let mut cfg = SmbConfig::new("127.0.0.1", s.port, SHARE, &alice.name, &alice.password);
    cfg.call_timeout = Duration::from_secs(60);
    let client = SmbClient::connect(cfg).await.expect("connect");
    let mut lsa = client.lsa().await.expect("open lsa");
    let mut acls = HashMap::new();
    for rel in ["team", "team/report.txt", "team/orphan.txt"] {
        let acl = client.acl(rel).await.unwrap_or_else(|e| panic!("acl of {rel}: {e}"));
        let unknown = resolver.unknown_sids(&acl);
        let names = lsa.lookup_sids(&unknown).await.expect("lookup");
        resolver.learn_names(&unknown, names);
        acls.insert(rel, acl);
    }
    lsa.close().await.expect("close lsa");
    client.shutdown().await.expect("shutdown");

    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(redb::Database::create(dir.path().join("store.redb")).expect("db"));
    let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
    let drive = Drive::open(db, &dir.path().join("content"), clock).expect("drive");
    let share = drive.create_share("Mirror", None, None, Some(service)).expect("share").id;
    let origin = Origin::user(service);
    drive.create_folder(share, &DrivePath::parse("/team").expect("path"), &origin).expect("folder");
    let folder = resolver.translate(&acls["team"], None);
    assert!(!folder.inherit, "broken inheritance on the SMB folder is broken in ScaiDrive");
    assert_eq!(folder.owner, Some(PrincipalId::User(sd_alice.id)), "Alice is found by her name");
    drive.set_aces(share, &DrivePath::parse("/team").expect("path").into(), &folder.aces, folder.inherit).expect("set");

    let file = resolver.translate(&acls["team/report.txt"], Some(&folder.aces));
    assert_eq!(file.owner, Some(PrincipalId::User(sd_alice.id)), "a file owned by a mapped user shows that owner");
    for rel in ["/team/report.txt", "/team/orphan.txt"] {
        let opts = WriteOptions::new(origin.clone());
        drive.write_file(share, &DrivePath::parse(rel).expect("path"), &mut &b"x"[..], &opts).expect("write");
    }
    let path = DrivePath::parse("/team/report.txt").expect("path");
    drive.set_aces(share, &path.clone().into(), &file.aces, file.inherit).expect("set");
    let groups = Groups(HashMap::from([(carol.id, vec![team.id])]));
    let access =
        |p: UserId| drive.effective_access(share, &path, PrincipalId::User(p), &groups).expect("access").permission;
    assert_eq!(access(sd_alice.id), Some(Permission::Manage));
    assert_eq!(access(sd_bob.id), Some(Permission::Read), "Bob's deny-write ACE denies in effective access");
    assert_eq!(access(carol.id), Some(Permission::Read), "the team's ACE maps to the ScaiDrive group");
    assert_eq!(access(service), None, "every allow here is mapped (or Everyone's): the service account gets none");

    let orphan = resolver.translate(&acls["team/orphan.txt"], Some(&folder.aces));
    assert_eq!(orphan.owner, Some(PrincipalId::User(service)), "an unmapped owner falls back to the service account");
    assert!(orphan.warnings.iter().any(|w| matches!(w, Warning::UnmappedOwner { .. })));
    let taken: Vec<_> = orphan.aces.iter().map(|a| (a.principal_id, a.permission, a.kind)).collect();
    assert!(
        taken.contains(&(PrincipalId::User(service), Permission::Read, AceType::Allow)),
        "the unknown account's read goes to the service account: {taken:?}"
    );

    let report = resolver.report().to_list();
    let ghost = report.iter().find(|u| u.principal == ghost_sid).expect("the ghost owner is reported");
    assert_eq!((ghost.owner_count, ghost.reason), (1, UnmappedReason::NoMatch));
    let everyone = report.iter().find(|u| u.principal == "S-1-1-0").expect("Everyone is reported");
    assert_eq!(everyone.reason, UnmappedReason::AllUsers);
}
