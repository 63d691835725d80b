//! PATCH engine tests: the RFC 7644 section 3.5.2 rules, the identity providers' habits, and property tests
//! that reading after a PATCH gives what the RFC says.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::scim::resource::tests::record;
use crate::scim::resource::{ScimEmail, ScimRole};
use crate::scim::schema::{ENTERPRISE_SCHEMA, SCAIDRIVE_SCHEMA};

fn req(ops: Value) -> PatchRequest {
    PatchRequest::from_json(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops})).expect("valid PATCH body")
}

fn base_user() -> ScimUserRecord {
    record(json!({
        "userName": "bjensen",
        "displayName": "Babs",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@work.example", "type": "work", "primary": true}],
        "active": true,
        ENTERPRISE_SCHEMA: {"department": "R&D"},
    }))
}

fn patched(ops: Value) -> ScimResult<ScimUser> {
    patch_user(&base_user(), &req(ops))
}

#[test]
fn entra_deactivates_with_a_capitalised_op_and_a_string_boolean() {
    let u = patched(json!([{"op": "Replace", "path": "active", "value": "False"}])).expect("patch");
    assert!(!u.is_active());
}

#[test]
fn okta_deactivates_with_a_pathless_replace() {
    let u = patched(json!([{"op": "replace", "value": {"active": false}}])).expect("patch");
    assert_eq!(u.active, Some(false));
}

#[test]
fn pathless_values_with_dotted_and_urn_keys_land_in_their_attributes() {
    let u = patched(json!([{"op": "replace", "value": {
        "displayName": "Barb",
        "name.givenName": "Barbara Ann",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
        "urn:scaidrive:scim:User:role": "Admin",
    }}]))
    .expect("patch");
    assert_eq!(u.display_name.as_deref(), Some("Barb"));
    assert_eq!(u.name.given_name.as_deref(), Some("Barbara Ann"));
    assert_eq!(u.name.family_name.as_deref(), Some("Jensen"), "other name parts are kept");
    assert_eq!(u.department.as_deref(), Some("Ops"));
    assert_eq!(u.role, Some(ScimRole::Admin));
}

#[test]
fn adding_a_work_email_to_a_user_without_one_creates_it() {
    let rec = record(json!({"userName": "a"}));
    let u = patch_user(
        &rec,
        &req(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@work.example"}])),
    )
    .expect("patch");
    assert_eq!(u.emails, vec![ScimEmail { value: "a@work.example".into(), kind: Some("work".into()), primary: None }]);
}

#[test]
fn replacing_a_filtered_sub_attribute_changes_only_the_match() {
    let rec = record(json!({"userName": "a", "emails": [
        {"value": "a@work", "type": "work"}, {"value": "a@home", "type": "home"}
    ]}));
    let u = patch_user(
        &rec,
        &req(json!([{"op": "replace", "path": "emails[type eq \"WORK\"].value", "value": "new@work"}])),
    )
    .expect("patch");
    let values: Vec<_> = u.emails.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(values, ["new@work", "a@home"]);
}

#[test]
fn clearing_an_email_address_removes_that_email() {
    for ops in [
        json!([{"op": "Remove", "path": "emails[type eq \"work\"].value"}]),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": ""}]),
    ] {
        let u = patched(ops.clone()).expect("patch");
        assert!(u.emails.is_empty(), "{ops}");
    }
}

#[test]
fn marking_an_email_primary_clears_the_old_primary() {
    let u = patched(
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@home", "type": "home", "primary": true}]}]),
    )
    .expect("patch");
    assert_eq!(u.email(), Some("b@home"));
    assert_eq!(u.emails.iter().filter(|e| e.is_primary()).count(), 1);
}

#[test]
fn a_filtered_replace_that_marks_primary_takes_the_mark() {
    let rec = record(json!({"userName": "a", "emails": [
        {"value": "a@work", "type": "work", "primary": true}, {"value": "a@home", "type": "home"}
    ]}));
    let u = patch_user(
        &rec,
        &req(json!([{"op": "replace", "path": "emails[value eq \"a@home\"]", "value": {"value": "new@home", "primary": true}}])),
    )
    .expect("patch");
    assert_eq!(u.email(), Some("new@home"));
    assert_eq!(u.emails.iter().filter(|e| e.is_primary()).count(), 1);
}

#[test]
fn manager_and_extension_removal() {
    let u = patched(json!([
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "usr_boss"},
    ]))
    .expect("patch");
    assert_eq!(u.manager.as_deref(), Some("usr_boss"));
    let u = patched(json!([
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},
    ]))
    .expect("patch");
    assert_eq!(u.department, None);
    let u = patched(json!([
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "Legal"}},
        {"op": "add", "path": "urn:scaidrive:scim:User:quota_bytes", "value": 4096},
    ]))
    .expect("patch");
    assert_eq!((u.department.as_deref(), u.quota_bytes), (Some("Legal"), Some(4096)));
    let u = patched(json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]))
        .expect("patch");
    assert_eq!(u.department, None);
}

#[test]
fn replace_of_a_complex_attribute_keeps_unnamed_sub_attributes() {
    let u =
        patched(json!([{"op": "replace", "path": "name", "value": {"formatted": "Ms. B. Jensen"}}])).expect("patch");
    assert_eq!(u.name.formatted.as_deref(), Some("Ms. B. Jensen"));
    assert_eq!(u.name.given_name.as_deref(), Some("Barbara"));
    let u = patched(json!([{"op": "remove", "path": "name.givenName"}])).expect("patch");
    assert_eq!(u.name.given_name, None);
    assert_eq!(u.name.family_name.as_deref(), Some("Jensen"));
}

#[test]
fn replace_with_null_unassigns() {
    let u = patched(json!([{"op": "replace", "path": "displayName", "value": null}])).expect("patch");
    assert_eq!(u.display_name, None);
    let u = patched(json!([{"op": "replace", "value": {ENTERPRISE_SCHEMA: null}}])).expect("patch");
    assert_eq!(u.department, None);
    let u = patched(json!([{"op": "replace", "path": ENTERPRISE_SCHEMA, "value": null}])).expect("patch");
    assert_eq!(u.department, None);
    let u = patched(json!([{"op": "add", "value": {ENTERPRISE_SCHEMA: null}}])).expect("patch");
    assert_eq!(u.department.as_deref(), Some("R&D"), "adding nothing keeps what is there");
}

#[test]
fn empty_operations_change_nothing() {
    assert_eq!(patched(json!([])), Ok(base_user().user));
}

#[test]
fn bad_patches_get_the_rfc_error_and_change_nothing() {
    let cases = [
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "replace", "path": "nickName", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": "name.middle", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": "emails[type eq]", "value": "x"}]), "invalidFilter"),
        (json!([{"op": "replace", "path": "emails[nosuch eq \"x\"].value", "value": "x"}]), "invalidFilter"),
        (json!([{"op": "replace", "path": "emails.value", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": "id", "value": "usr_x"}]), "mutability"),
        (json!([{"op": "replace", "path": "meta.created", "value": "2026-01-01T00:00:00Z"}]), "mutability"),
        (json!([{"op": "add", "path": "groups", "value": [{"value": "grp_x"}]}]), "mutability"),
        (json!([{"op": "remove", "path": "userName"}]), "mutability"),
        (json!([{"op": "replace", "value": {"id": "usr_someone_else"}}]), "mutability"),
        (json!([{"op": "replace", "path": "active", "value": "yes"}]), "invalidValue"),
        (json!([{"op": "replace", "path": "userName", "value": null}]), "invalidValue"),
        (json!([{"op": "replace", "path": "urn:scaidrive:scim:User:role", "value": "owner"}]), "invalidValue"),
        (json!([{"op": "replace", "path": "emails[value co \"@\" or type pr].value", "value": "x"}]), "ok"),
        (json!([{"op": "replace", "path": "emails[value sw \"zz\"].value", "value": "x"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": [{"value": "a"}, {"value": "b"}]}]),
            "invalidValue",
        ),
        (json!([{"op": "replace", "path": "displayName", "value": "changed"}, {"op": "remove"}]), "noTarget"),
    ];
    let before = base_user();
    let json_before = before.to_json("");
    for (ops, want) in cases {
        let got = PatchRequest::from_json(&json!({"Operations": ops.clone()})).and_then(|r| patch_user(&before, &r));
        match (&got, want) {
            (Ok(_), "ok") => {}
            (Err(e), kind) if e.scim_type() == Some(kind) => {}
            _ => panic!("{ops} gave {got:?}, expected {want}"),
        }
    }
    assert_eq!(before.to_json(""), json_before, "the record is never modified in place");
}

#[test]
fn request_bodies_are_checked() {
    let bad_op = PatchRequest::from_json(&json!({"Operations": [{"op": "merge", "value": {}}]}));
    assert!(matches!(bad_op, Err(ScimError::InvalidSyntax(_))));
    let no_ops = PatchRequest::from_json(&json!({"schemas": [PATCH_SCHEMA]}));
    assert!(matches!(no_ops, Err(ScimError::InvalidSyntax(_))));
    let wrong_schema = PatchRequest::from_json(&json!({"schemas": ["urn:x"], "Operations": []}));
    assert!(matches!(wrong_schema, Err(ScimError::InvalidSyntax(_))));
    let no_value = PatchRequest::from_json(&json!({"Operations": [{"op": "add", "path": "displayName"}]}));
    assert!(matches!(no_value, Err(ScimError::InvalidValue(_))));
    let lower_keys =
        PatchRequest::from_json(&json!({"operations": [{"OP": "ADD", "PATH": "displayName", "VALUE": "x"}]}));
    assert_eq!(lower_keys.map(|r| r.ops.len()), Ok(1));
}

fn email_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(vec!["a@x", "b@x", "c@x", "d@x"]),
        proptest::sample::select(vec!["work", "home", "other"]),
    )
        .prop_map(|(v, t)| json!({"value": v, "type": t}))
}

fn user_with_emails(emails: &[Value]) -> ScimUserRecord {
    // Building the record through from_json keeps exactly what a stored user would hold.
    record(json!({"userName": "p", "emails": emails}))
}

proptest! {
    #[test]
    fn replace_then_read_gives_the_value(
        which in proptest::sample::select(vec![
            "displayName", "name.givenName", "name.familyName", "name.formatted", "externalId",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ]),
        value in "[^\u{0}]{1,20}",
    ) {
        let u = patched(json!([{"op": "replace", "path": which, "value": value}])).expect("patch");
        let read = match which {
            "displayName" => u.display_name,
            "name.givenName" => u.name.given_name,
            "name.familyName" => u.name.family_name,
            "name.formatted" => u.name.formatted,
            "externalId" => u.external_id,
            _ => u.department,
        };
        prop_assert_eq!(read, Some(value));
    }

    #[test]
    fn add_to_a_multi_valued_attribute_appends_without_duplicates(
        initial in proptest::collection::vec(email_strategy(), 0..4),
        added in proptest::collection::vec(email_strategy(), 1..4),
    ) {
        let rec = user_with_emails(&initial);
        let before: Vec<Value> = rec.to_json("").get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
        let u = patch_user(&rec, &req(json!([{"op": "add", "path": "emails", "value": added}]))).expect("patch");
        let mut expected = before;
        for a in &added {
            if !expected.contains(a) {
                expected.push(a.clone());
            }
        }
        let got: Vec<Value> = u.emails.iter().map(|e| json!({"value": e.value, "type": e.kind})).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn remove_with_a_filter_removes_exactly_the_matches(
        initial in proptest::collection::vec(email_strategy(), 0..6),
        kind in proptest::sample::select(vec!["work", "home", "other"]),
    ) {
        let rec = user_with_emails(&initial);
        let path = format!("emails[type eq \"{kind}\"]");
        let u = patch_user(&rec, &req(json!([{"op": "remove", "path": path}]))).expect("patch");
        prop_assert!(u.emails.iter().all(|e| e.kind.as_deref() != Some(kind)));
        let kept = rec.user.emails.iter().filter(|e| e.kind.as_deref() != Some(kind)).count();
        prop_assert_eq!(u.emails.len(), kept);
    }

    #[test]
    fn remove_then_read_finds_nothing(
        which in proptest::sample::select(vec![
            "displayName", "name", "emails", "active", "externalId",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ]),
    ) {
        let u = patched(json!([{"op": "remove", "path": which}])).expect("patch");
        let json = ScimUserRecord { user: u, ..base_user() }.to_json("");
        let gone = match which {
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" => json.get(ENTERPRISE_SCHEMA).is_none(),
            other => json.get(other).is_none(),
        };
        prop_assert!(gone, "{} still present in {}", which, json);
        prop_assert!(json.get(SCAIDRIVE_SCHEMA).is_none());
    }
}
