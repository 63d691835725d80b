//! Resolution order, ambiguity, caching, refused lookups, fallback and the unmapped report.

use time::OffsetDateTime;

use super::*;
use crate::connectors::mappings::IdentityType;
use crate::drive::AceType;
use crate::ids::{GroupId, MappingId};
use crate::principals::Role;
use crate::sides::smb::acl::{AceKind, NtAce};
use crate::sides::smb::lsa::SidKind;

fn user(user_name: &str, display_name: &str, email: Option<&str>) -> User {
    User {
        id: UserId::new(),
        user_name: user_name.into(),
        display_name: display_name.into(),
        email: email.map(Into::into),
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

fn group(display_name: &str) -> Group {
    Group {
        id: GroupId::new(),
        display_name: display_name.into(),
        slug: normalise(display_name).replace(' ', "-"),
        external_id: None,
        members: vec![],
        scim_managed: false,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        version: 1,
    }
}

fn mapping(smb_principal: &str, to: PrincipalId) -> IdentityMapping {
    IdentityMapping {
        id: MappingId::new(),
        identity_type: if matches!(to, PrincipalId::User(_)) { IdentityType::User } else { IdentityType::Group },
        smb_principal: smb_principal.into(),
        scaidrive_principal_id: to.to_string(),
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn sid(s: &str) -> Sid {
    s.parse().expect("sid")
}

fn name(kind: SidKind, domain: &str, name: &str) -> Option<LookedUpName> {
    Some(LookedUpName { kind, domain: domain.into(), name: name.into() })
}

fn acl_of(owner: &str, allowed: &[&str]) -> NtAcl {
    NtAcl {
        owner: Some(sid(owner)),
        group: None,
        dacl: Some(
            allowed
                .iter()
                .map(|s| NtAce { kind: AceKind::Allow, flags: 0, mask: 0x1F_01FF, sid: Some(sid(s)) })
                .collect(),
        ),
        dacl_protected: false,
        dacl_auto_inherited: false,
    }
}

const ALICE: &str = "S-1-5-21-7-7-7-1000";
const BOB: &str = "S-1-5-21-7-7-7-1001";
const CAROL: &str = "S-1-5-21-7-7-7-1002";
const SALES: &str = "S-1-5-21-7-7-7-2000";
const GHOST: &str = "S-1-5-21-7-7-7-9999";

#[test]
fn explicit_then_email_then_name_and_ambiguous_names_are_reported() {
    let alice = user("alice", "Alice Liddell", Some("alice@corp.example"));
    let alice2 = user("a.smith", "Alice Smith", None);
    let bob = user("bob.jones", "Bob Jones", None);
    let bob_twin = user("bjones", "Bob Jones", None);
    let carol = user("carol", "Carol", Some("carol@corp.example"));
    let sales = group("Sales Team");
    let dir = Directory::new(
        &[alice.clone(), alice2.clone(), bob.clone(), bob_twin.clone(), carol.clone()],
        std::slice::from_ref(&sales),
    );
    // The explicit mapping of CORP\alice wins over her matching display name elsewhere.
    let mut r = Resolver::new(&[mapping(r"CORP\Alice", PrincipalId::User(alice2.id))], dir, None);
    let sids = [sid(ALICE), sid(BOB), sid(CAROL), sid(SALES), sid(GHOST)];
    r.learn_names(
        &sids,
        vec![
            name(SidKind::User, "CORP", "alice"),
            name(SidKind::User, "CORP", "Bob_Jones"),
            name(SidKind::User, "CORP", "carol@corp.example"),
            name(SidKind::Group, "CORP", "sales.team"),
            None,
        ],
    );
    assert_eq!(r.map_sid(&sid(ALICE)), Some(PrincipalId::User(alice2.id)), "explicit, by DOMAIN\\name");
    assert_eq!(r.map_sid(&sid(CAROL)), Some(PrincipalId::User(carol.id)), "a UPN matches the email");
    assert_eq!(r.map_sid(&sid(SALES)), Some(PrincipalId::Group(sales.id)), "a group by its normalised name");
    assert_eq!(r.map_sid(&sid(BOB)), None, "two Bob Joneses: ambiguous");
    assert_eq!(r.map_sid(&sid(GHOST)), None);

    let t = r.translate(&acl_of(BOB, &[BOB, GHOST, SALES]), None);
    assert_eq!(t.owner, None, "no fallback configured");
    let report = r.report().to_list();
    let bob_row = report.iter().find(|u| u.principal == BOB).expect("bob reported");
    assert_eq!(bob_row.reason, UnmappedReason::Ambiguous);
    assert_eq!(bob_row.name.as_deref(), Some(r"CORP\Bob_Jones"));
    assert_eq!((bob_row.count, bob_row.owner_count), (1, 1), "one file, naming Bob as owner and in an allow ACE");
    let mut candidates = bob_row.candidates.clone();
    candidates.sort();
    let mut want = vec![bob.id.to_string(), bob_twin.id.to_string()];
    want.sort();
    assert_eq!(candidates, want);
    let ghost = report.iter().find(|u| u.principal == GHOST).expect("ghost reported");
    assert_eq!((ghost.reason, ghost.name.clone(), ghost.count), (UnmappedReason::NoMatch, None, 1));
    assert!(report.iter().all(|u| u.principal != SALES), "mapped principals are not reported");
}

#[test]
fn a_refused_lookup_still_maps_by_sid_and_an_unmapped_owner_falls_back() {
    let alice = user("alice", "Alice", None);
    let service = UserId::new();
    let mut r = Resolver::new(
        &[mapping(ALICE, PrincipalId::User(alice.id))],
        Directory::new(&[alice.clone(), user("bob", "Bob", None)], &[]),
        Some(service),
    );
    assert_eq!(
        r.unknown_sids(&acl_of(ALICE, &[BOB, "S-1-1-0"])),
        vec![sid(BOB)],
        "mapped and well-known SIDs need no lookup"
    );
    r.lookups_refused("ACCESS_DENIED".into());
    assert!(r.unknown_sids(&acl_of(BOB, &[BOB])).is_empty(), "no more lookups once refused");

    let mine = r.translate(&acl_of(ALICE, &[ALICE]), None);
    assert_eq!(mine.owner, Some(PrincipalId::User(alice.id)), "a SID-keyed mapping needs no name");
    let theirs = r.translate(&acl_of(BOB, &[BOB]), None);
    assert_eq!(theirs.owner, Some(PrincipalId::User(service)), "Bob's name is unknown: the service account owns it");
    let taken: Vec<_> = theirs.aces.iter().map(|a| (a.principal_id, a.kind)).collect();
    assert_eq!(taken, vec![(PrincipalId::User(service), AceType::Allow)], "Bob's allow goes to the service account");
    assert!(theirs.warnings.contains(&Warning::UnmappedOwner { sid: Some(sid(BOB)) }));
}

#[test]
fn everyone_is_reported_as_all_users_until_mapped_to_a_group() {
    let everyone_group = group("Everybody");
    let mut r = Resolver::new(&[], Directory::new(&[], std::slice::from_ref(&everyone_group)), None);
    r.translate(&acl_of(GHOST, &["S-1-1-0"]), None);
    let row = r.report().to_list().into_iter().find(|u| u.principal == "S-1-1-0").expect("everyone reported");
    assert_eq!(row.reason, UnmappedReason::AllUsers);

    let mut r = Resolver::new(
        &[mapping("S-1-1-0", PrincipalId::Group(everyone_group.id))],
        Directory::new(&[], std::slice::from_ref(&everyone_group)),
        None,
    );
    let t = r.translate(&acl_of(GHOST, &["S-1-1-0"]), None);
    assert_eq!(t.aces.len(), 1);
    assert_eq!(t.aces[0].principal_id, PrincipalId::Group(everyone_group.id));
}

#[test]
fn sharepoint_principals_resolve_by_email_and_reports_merge() {
    let dana = user("dana", "Dana Scully", Some("Dana@Corp.example"));
    let mut r = Resolver::new(&[], Directory::new(std::slice::from_ref(&dana), &[]), None);
    let source = SourcePrincipal {
        key: "aad-object-1".into(),
        email: Some("dana@corp.example".into()),
        name: Some("Someone Else".into()),
        ..Default::default()
    };
    assert_eq!(r.resolve(&source), Some((PrincipalId::User(dana.id), Via::Email)));

    let mut a = Resolver::new(&[], Directory::default(), None);
    a.translate(&acl_of(GHOST, &[]), None);
    let mut total = a.report().clone();
    total.merge(a.report());
    assert_eq!(total.to_list()[0].count, 2);
    assert_eq!(total.to_list()[0].owner_count, 2);
}

#[test]
fn names_normalise_case_and_separators() {
    assert_eq!(normalise("  John.Smith "), "john smith");
    assert_eq!(normalise("john__smith"), "john smith");
    assert_eq!(normalise("JOHN - SMITH"), "john smith");
}
