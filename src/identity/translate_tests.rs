//! One table case per rule of the translation, then the property: no ACL ever grants more in ScaiDrive than on
//! SMB, checked against a reference NT evaluation and the drive's own `effective_access`.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use time::macros::datetime;

use super::mask::*;
use super::*;
use crate::clock::ManualClock;
use crate::drive::{Drive, DrivePath, Membership, Origin};
use crate::ids::{GroupId, UserId};
use crate::sides::smb::acl::{NtAce, ace_flags};

const ALICE: &str = "S-1-5-21-1-2-3-1000";
const BOB: &str = "S-1-5-21-1-2-3-1001";
const STAFF: &str = "S-1-5-21-1-2-3-2000";
const STRANGER: &str = "S-1-5-21-1-2-3-3000";
const EVERYONE: &str = "S-1-1-0";
const AUTH_USERS: &str = "S-1-5-11";
const ADMINS: &str = "S-1-5-32-544";
const SYSTEM: &str = "S-1-5-18";
const CREATOR_OWNER: &str = "S-1-3-0";
const OWNER_RIGHTS: &str = "S-1-3-4";

fn sid(s: &str) -> Sid {
    s.parse().expect("test SID")
}

struct Names {
    alice: PrincipalId,
    bob: PrincipalId,
    staff: PrincipalId,
}

impl Names {
    fn new() -> Self {
        Self {
            alice: PrincipalId::User(UserId::new()),
            bob: PrincipalId::User(UserId::new()),
            staff: PrincipalId::Group(GroupId::new()),
        }
    }

    fn map(&self) -> impl Fn(&Sid) -> Option<PrincipalId> + '_ {
        move |s: &Sid| match s.to_string().as_str() {
            ALICE => Some(self.alice),
            BOB => Some(self.bob),
            STAFF => Some(self.staff),
            _ => None,
        }
    }
}

fn allow(who: &str, mask: u32) -> NtAce {
    NtAce { kind: AceKind::Allow, flags: 0, mask, sid: Some(sid(who)) }
}

fn deny(who: &str, mask: u32) -> NtAce {
    NtAce { kind: AceKind::Deny, flags: 0, mask, sid: Some(sid(who)) }
}

fn with_flags(ace: NtAce, flags: u8) -> NtAce {
    NtAce { flags, ..ace }
}

fn acl(owner: &str, dacl: Vec<NtAce>) -> NtAcl {
    NtAcl { owner: Some(sid(owner)), group: None, dacl: Some(dacl), dacl_protected: false, dacl_auto_inherited: true }
}

fn run(n: &Names, acl: &NtAcl) -> Translation {
    translate(acl, &n.map(), None, None)
}

/// The ACEs as (principal, permission, type, inherited), order-insensitive.
fn shape(t: &Translation) -> Vec<(PrincipalId, Permission, AceType, bool)> {
    let mut v: Vec<_> = t.aces.iter().map(|a| (a.principal_id, a.permission, a.kind, a.inherited)).collect();
    v.sort_by_key(|x| format!("{x:?}"));
    v
}

#[test]
fn masks_reduce_to_levels_after_generic_bits_are_mapped() {
    let cases: &[(&str, u32, Option<Permission>)] = &[
        ("full control", FILE_ALL_ACCESS, Some(Permission::Manage)),
        ("read", FILE_GENERIC_READ, Some(Permission::Read)),
        ("read & execute", 0x0012_00A9, Some(Permission::Read)),
        ("modify", 0x0013_01BF, Some(Permission::Write)),
        ("read + write + WRITE_DAC", FILE_GENERIC_READ | FILE_GENERIC_WRITE | WRITE_DAC, Some(Permission::Manage)),
        ("read + write + WRITE_OWNER", READ_DATA | APPEND_DATA | WRITE_OWNER, Some(Permission::Manage)),
        ("append only counts as write", READ_DATA | APPEND_DATA, Some(Permission::Write)),
        ("GENERIC_READ", GENERIC_READ, Some(Permission::Read)),
        ("GENERIC_READ | GENERIC_WRITE", GENERIC_READ | GENERIC_WRITE, Some(Permission::Write)),
        ("GENERIC_ALL", GENERIC_ALL, Some(Permission::Manage)),
        ("write without read is no level", FILE_GENERIC_WRITE, None),
        ("WRITE_DAC alone is no level", WRITE_DAC, None),
        ("execute only", FILE_GENERIC_EXECUTE, None),
    ];
    for (what, m, want) in cases {
        assert_eq!(level_of(map_generic(*m)), *want, "{what}");
    }
}

#[test]
fn allow_aces_map_to_their_principals_and_levels() {
    let n = Names::new();
    let t =
        run(&n, &acl(ALICE, vec![allow(ALICE, FILE_ALL_ACCESS), allow(STAFF, 0x0013_01BF), allow(BOB, GENERIC_READ)]));
    assert_eq!(t.owner, Some(n.alice), "a file owned by a mapped user shows that owner");
    assert_eq!(
        shape(&t),
        shape(&Translation {
            aces: vec![
                ace(n.alice, Permission::Manage, AceType::Allow, false),
                ace(n.staff, Permission::Write, AceType::Allow, false),
                ace(n.bob, Permission::Read, AceType::Allow, false),
            ],
            ..Default::default()
        })
    );
    assert!(t.inherit && t.warnings.is_empty());
}

#[test]
fn a_principal_s_allow_masks_are_united_before_reduction() {
    let n = Names::new();
    let t = run(&n, &acl(ALICE, vec![allow(BOB, FILE_GENERIC_READ), allow(BOB, WRITE_DATA), allow(BOB, WRITE_DAC)]));
    assert_eq!(shape(&t), vec![(n.bob, Permission::Manage, AceType::Allow, false)]);
}

#[test]
fn deny_aces_take_away_the_level_they_touch_and_every_level_above() {
    let n = Names::new();
    let cases: &[(&str, u32, Permission)] = &[
        ("deny write (0x116)", 0x116, Permission::Write),
        (
            "deny FILE_GENERIC_WRITE also denies READ_CONTROL and SYNCHRONIZE: Samba refuses even reads",
            FILE_GENERIC_WRITE,
            Permission::Read,
        ),
        ("deny read", READ_DATA, Permission::Read),
        ("deny change permissions", WRITE_DAC, Permission::Manage),
        ("deny GENERIC_WRITE maps to FILE_GENERIC_WRITE", GENERIC_WRITE, Permission::Read),
    ];
    for (what, m, level) in cases {
        let t = run(&n, &acl(ALICE, vec![deny(STAFF, *m), allow(STAFF, FILE_ALL_ACCESS)]));
        assert_eq!(
            shape(&t),
            vec![(n.staff, *level, AceType::Deny, false), (n.staff, Permission::Manage, AceType::Allow, false)]
                .into_iter()
                .collect::<Vec<_>>()
                .tap_sort(),
            "{what}"
        );
    }
    // A deny of bits no level needs (DELETE) takes nothing away.
    let t = run(&n, &acl(ALICE, vec![deny(BOB, 0x1_0000), allow(BOB, FILE_ALL_ACCESS)]));
    assert_eq!(shape(&t), vec![(n.bob, Permission::Manage, AceType::Allow, false)]);
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<(PrincipalId, Permission, AceType, bool)> {
    fn tap_sort(mut self) -> Self {
        self.sort_by_key(|x| format!("{x:?}"));
        self
    }
}

#[test]
fn inherited_aces_stay_inherited_and_inherit_only_aces_do_not_apply() {
    let n = Names::new();
    let inherited = ace_flags::INHERITED | ace_flags::OBJECT_INHERIT | ace_flags::CONTAINER_INHERIT;
    let t = run(
        &n,
        &acl(
            ALICE,
            vec![
                with_flags(allow(STAFF, FILE_GENERIC_READ), inherited),
                with_flags(allow(BOB, FILE_ALL_ACCESS), ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT),
            ],
        ),
    );
    assert_eq!(shape(&t), vec![(n.staff, Permission::Read, AceType::Allow, true)]);
}

#[test]
fn a_protected_dacl_breaks_inheritance_and_an_uncovered_parent_is_not_inherited() {
    let n = Names::new();
    let mut protected = acl(ALICE, vec![allow(BOB, FILE_GENERIC_READ)]);
    protected.dacl_protected = true;
    assert!(!run(&n, &protected).inherit, "broken inheritance on SMB is broken in ScaiDrive");

    let child = acl(ALICE, vec![allow(BOB, FILE_GENERIC_READ)]);
    let parent_read = [ace(n.bob, Permission::Read, AceType::Allow, false)];
    let parent_more =
        [ace(n.bob, Permission::Read, AceType::Allow, false), ace(n.staff, Permission::Write, AceType::Allow, false)];
    assert!(translate(&child, &n.map(), None, Some(&parent_read)).inherit, "the parent adds nothing: inherit");
    assert!(
        !translate(&child, &n.map(), None, Some(&parent_more)).inherit,
        "a parent allow the child's DACL lacks (\"this folder only\") must not leak down"
    );
}

#[test]
fn all_users_sids_are_not_granted_but_their_denies_apply_to_everybody() {
    let n = Names::new();
    for who in [EVERYONE, AUTH_USERS, "S-1-5-32-545"] {
        let t = run(&n, &acl(ALICE, vec![allow(who, FILE_GENERIC_READ)]));
        assert!(t.aces.is_empty(), "{who}");
        assert_eq!(t.warnings, vec![Warning::AllUsersNotGranted { sid: Some(sid(who)) }], "{who}");
    }
    let t = run(&n, &acl(ALICE, vec![deny(EVERYONE, 0x116), allow(BOB, FILE_ALL_ACCESS)]));
    assert_eq!(shape(&t), vec![(n.bob, Permission::Read, AceType::Allow, false)], "Everyone denied write: Bob reads");
}

#[test]
fn an_explicit_mapping_of_a_well_known_sid_wins() {
    let n = Names::new();
    let map = |s: &Sid| (s.to_string() == EVERYONE).then_some(n.staff);
    let t = translate(&acl(ALICE, vec![allow(EVERYONE, FILE_GENERIC_READ)]), &map, None, None);
    assert_eq!(shape(&t), vec![(n.staff, Permission::Read, AceType::Allow, false)]);
}

#[test]
fn administrators_system_and_creator_placeholders_are_skipped_quietly() {
    let n = Names::new();
    let t = run(
        &n,
        &acl(
            ALICE,
            vec![
                allow(ADMINS, FILE_ALL_ACCESS),
                allow(SYSTEM, FILE_ALL_ACCESS),
                with_flags(allow(CREATOR_OWNER, GENERIC_ALL), ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT),
                allow(CREATOR_OWNER, FILE_ALL_ACCESS),
                deny(CREATOR_OWNER, READ_DATA),
            ],
        ),
    );
    assert!(t.aces.is_empty());
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn owner_rights_mean_the_owner_when_the_owner_is_mapped() {
    let n = Names::new();
    let t = run(&n, &acl(BOB, vec![allow(OWNER_RIGHTS, FILE_GENERIC_READ)]));
    assert_eq!(shape(&t), vec![(n.bob, Permission::Read, AceType::Allow, false)]);
    let t = run(&n, &acl(STRANGER, vec![allow(OWNER_RIGHTS, FILE_GENERIC_READ)]));
    assert!(t.aces.is_empty() && t.owner.is_none());
    assert!(t.warnings.contains(&Warning::UnmappedOwner { sid: Some(sid(STRANGER)) }));
}

#[test]
fn unmapped_principals_are_reported_and_their_denies_apply_to_everybody() {
    let n = Names::new();
    let t = run(
        &n,
        &acl(STRANGER, vec![allow(STRANGER, FILE_ALL_ACCESS), deny(ADMINS, WRITE_DATA), allow(BOB, FILE_ALL_ACCESS)]),
    );
    assert_eq!(t.owner, None, "the caller falls back to the service account");
    assert_eq!(shape(&t), vec![(n.bob, Permission::Read, AceType::Allow, false)]);
    assert_eq!(
        t.warnings,
        vec![
            Warning::UnmappedOwner { sid: Some(sid(STRANGER)) },
            Warning::UnmappedAllow { sid: sid(STRANGER) },
            Warning::DenyAppliedToAll { sid: sid(ADMINS) },
        ]
    );
}

#[test]
fn the_service_account_takes_unmapped_allows_never_their_denies_nor_everyone() {
    let n = Names::new();
    let service = PrincipalId::User(crate::ids::UserId::new());
    let dacl = vec![
        allow(STRANGER, FILE_GENERIC_READ | FILE_GENERIC_WRITE),
        allow(EVERYONE, FILE_ALL_ACCESS),
        allow(BOB, FILE_GENERIC_READ),
    ];
    let t = translate(&acl(ALICE, dacl.clone()), &n.map(), Some(service), None);
    let mut expected =
        vec![(n.bob, Permission::Read, AceType::Allow, false), (service, Permission::Write, AceType::Allow, false)];
    expected.sort_by_key(|x| format!("{x:?}"));
    assert_eq!(shape(&t), expected, "the stranger's write goes to the service account; Everyone's allow to nobody");
    assert!(t.warnings.contains(&Warning::UnmappedAllow { sid: sid(STRANGER) }), "still reported");

    // An unmapped deny caps everybody, the service account included, and is never its own deny.
    let mut capped = dacl;
    capped.push(deny(STRANGER, WRITE_DATA));
    let t = translate(&acl(ALICE, capped), &n.map(), Some(service), None);
    assert!(t.aces.iter().all(|a| a.kind == AceType::Allow && a.permission == Permission::Read), "{:?}", t.aces);
}

#[test]
fn conditional_aces_never_grant_and_always_deny() {
    let n = Names::new();
    let cond_allow = NtAce { kind: AceKind::AllowCallback, ..allow(BOB, FILE_ALL_ACCESS) };
    let cond_deny = NtAce { kind: AceKind::DenyCallback, ..deny(STRANGER, WRITE_DATA) };
    let t = run(&n, &acl(ALICE, vec![cond_allow, cond_deny, allow(STAFF, FILE_ALL_ACCESS)]));
    assert_eq!(shape(&t), vec![(n.staff, Permission::Read, AceType::Allow, false)]);
    assert_eq!(t.warnings.len(), 2);
}

#[test]
fn no_dacl_grants_everyone_so_nothing_is_taken_from_the_parent_and_an_empty_dacl_grants_nobody() {
    let n = Names::new();
    let none = NtAcl { dacl: None, ..acl(ALICE, vec![]) };
    let t = run(&n, &none);
    assert!(t.aces.is_empty() && t.inherit);
    assert!(t.warnings.contains(&Warning::AllUsersNotGranted { sid: None }));
    let empty = run(&n, &acl(ALICE, vec![]));
    assert!(empty.aces.is_empty() && !empty.inherit, "an empty DACL: nobody, not even through the parent");
}

// ---- property: never more than SMB ----

/// SIDs the generator draws from: three mapped, the rest unmapped or well-known.
const UNIVERSE: [&str; 11] =
    [ALICE, BOB, STAFF, STRANGER, EVERYONE, AUTH_USERS, ADMINS, SYSTEM, CREATOR_OWNER, OWNER_RIGHTS, "S-1-5-32-545"];
/// SIDs a real token may also carry. CREATOR OWNER/GROUP and OWNER RIGHTS never appear in a token: they are
/// placeholders an ACE names.
const TOKEN_EXTRAS: [&str; 6] = [STRANGER, EVERYONE, AUTH_USERS, ADMINS, SYSTEM, "S-1-5-32-545"];
const MASKS: [u32; 12] = [
    FILE_ALL_ACCESS,
    FILE_GENERIC_READ,
    FILE_GENERIC_WRITE,
    0x116,
    0x0013_01BF,
    READ_DATA,
    WRITE_DAC,
    GENERIC_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    READ_DATA | APPEND_DATA,
    SYNCHRONIZE,
];

fn arb_ace() -> impl Strategy<Value = NtAce> {
    (0..UNIVERSE.len(), 0..MASKS.len(), any::<u32>(), any::<bool>(), 0u8..6, 0u8..0x20).prop_map(
        |(who, m, noise, add_noise, kind, flags)| NtAce {
            kind: match kind {
                0 | 1 => AceKind::Allow,
                2 | 3 => AceKind::Deny,
                4 => AceKind::AllowCallback,
                _ => AceKind::DenyCallback,
            },
            flags,
            mask: if add_noise { MASKS[m] | (noise & 0xF01F_01FF) } else { MASKS[m] },
            sid: Some(sid(UNIVERSE[who])),
        },
    )
}

fn arb_acl() -> impl Strategy<Value = NtAcl> {
    (0..UNIVERSE.len(), prop::option::weighted(0.9, prop::collection::vec(arb_ace(), 0..7)), any::<bool>()).prop_map(
        |(owner, dacl, dacl_protected)| NtAcl {
            owner: Some(sid(UNIVERSE[owner])),
            group: None,
            dacl,
            dacl_protected,
            dacl_auto_inherited: false,
        },
    )
}

/// The NT access check for a token (MS-DTYP 2.5.3.2, without privileges and the owner's implicit rights, which
/// only make SMB grant more): ACEs in order, the first ACE that decides a bit wins. Conditional ACEs are taken
/// at their strictest: their allows never apply, their denies do.
fn nt_level(acl: &NtAcl, token: &[Sid]) -> Option<Permission> {
    let Some(dacl) = &acl.dacl else { return Some(Permission::Manage) };
    let (mut granted, mut denied) = (0u32, 0u32);
    for a in dacl.iter().filter(|a| !a.inherit_only()) {
        let Some(s) = &a.sid else { continue };
        let matches = if s.to_string() == OWNER_RIGHTS {
            acl.owner.as_ref().is_some_and(|o| token.contains(o))
        } else {
            token.contains(s)
        };
        if !matches {
            continue;
        }
        let m = map_generic(a.mask);
        match a.kind {
            AceKind::Allow => granted |= m & !denied,
            AceKind::Deny | AceKind::DenyCallback => denied |= m & !granted,
            _ => {}
        }
    }
    level_of(granted)
}

struct Groups(HashMap<UserId, Vec<GroupId>>);

impl Membership for Groups {
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.0.get(&user).cloned().unwrap_or_default()
    }
}

struct World {
    _dir: tempfile::TempDir,
    drive: Drive,
    share: crate::ids::ShareId,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(redb::Database::create(dir.path().join("store.redb")).expect("db"));
    let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
    let drive = Drive::open(db, &dir.path().join("content"), clock).expect("drive");
    let share = drive.create_share("P", None, None, None).expect("share").id;
    let origin = Origin::user(UserId::new());
    drive.create_folder(share, &DrivePath::parse("/a").expect("path"), &origin).expect("folder");
    drive.create_folder(share, &DrivePath::parse("/a/b").expect("path"), &origin).expect("folder");
    World { _dir: dir, drive, share }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// For every mapped user, with or without the mapped group, with any extra well-known or unmapped SIDs in
    /// its SMB token: ScaiDrive's effective access on a folder and on its subfolder (parent translated first,
    /// child translated against the parent's list, inherited through the drive's chain) is never above SMB's.
    #[test]
    fn no_acl_ever_grants_more_in_scaidrive_than_on_smb(
        parent_acl in arb_acl(),
        child_acl in arb_acl(),
        in_staff in any::<bool>(),
        extra in prop::collection::vec(prop::sample::select(&TOKEN_EXTRAS[..]), 0..3),
    ) {
        let n = Names::new();
        let w = world();
        let map = n.map();
        let root = DrivePath::parse("/a").expect("path");
        let sub = DrivePath::parse("/a/b").expect("path");
        let parent = translate(&parent_acl, &map, None, None);
        w.drive.set_aces(w.share, &root.clone().into(), &parent.aces, parent.inherit).expect("set parent");
        let child = translate(&child_acl, &map, None, Some(&parent.aces));
        w.drive.set_aces(w.share, &sub.clone().into(), &child.aces, child.inherit).expect("set child");

        let PrincipalId::Group(staff) = n.staff else { unreachable!() };
        for (user_sid, principal) in [(ALICE, n.alice), (BOB, n.bob)] {
            let PrincipalId::User(user) = principal else { unreachable!() };
            let groups = Groups(HashMap::from([(user, if in_staff { vec![staff] } else { vec![] })]));
            let mut token = vec![sid(user_sid), sid(EVERYONE), sid(AUTH_USERS)];
            if in_staff {
                token.push(sid(STAFF));
            }
            token.extend(extra.iter().map(|s| sid(s)));
            for (path, nt) in [(&root, &parent_acl), (&sub, &child_acl)] {
                let got = w.drive.effective_access(w.share, path, principal, &groups).expect("access").permission;
                let smb = nt_level(nt, &token);
                prop_assert!(got <= smb, "{user_sid} at {path}: ScaiDrive {got:?} > SMB {smb:?}\nparent {parent:?}\nchild {child:?}");
            }
        }
    }
}
