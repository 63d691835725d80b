//! PATCH for Groups. Membership changes, which are most of what identity providers send to groups (Entra adds
//! and removes members one PATCH at a time; Okta pushes whole lists), are applied straight to the member
//! list in one pass, so a change to a 10,000-member group does not render and re-parse 10,000 JSON objects.
//! Other attributes go through the generic engine in `patch.rs` on the group without its members.
//!
//! The outcome lists the members added and removed, for incremental store updates and the audit log.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::error::{ScimError, ScimResult};
use super::filter::{CompareOp, Filter, Literal};
use super::group::{MemberId, ScimGroup, ScimGroupRecord, ScimMember};
use super::normalize::{KeyTarget, normalize_value, resolve_key};
use super::patch::{OpKind, PatchOp, PatchRequest, apply_patch};
use super::schema::{AttrDef, GROUP_SCHEMA, GROUP_TYPE};

/// The patched group and how its membership changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPatchOutcome {
    pub group: ScimGroup,
    /// Members now present that were not before, in the order they were added.
    pub added: Vec<MemberId>,
    /// Members present before and gone now, in their old order.
    pub removed: Vec<MemberId>,
}

impl GroupPatchOutcome {
    /// Whether the PATCH changed anything (if not, keep `version` and `lastModified`).
    pub fn changed(&self, before: &ScimGroup) -> bool {
        self.group != *before
    }
}

/// Applies a PATCH to a Group record. The record is untouched; member ids are checked for form only, the
/// caller checks that they exist (unknown id: `invalidValue`).
pub fn patch_group(record: &ScimGroupRecord, request: &PatchRequest) -> ScimResult<GroupPatchOutcome> {
    let members_def = GROUP_TYPE
        .resolve(None, "members", None)
        .map(|r| r.attr)
        .ok_or_else(|| ScimError::InvalidPath("members is not defined".into()))?;
    let original: HashSet<MemberId> = record.group.members.iter().map(|m| m.id).collect();
    let (group, present) = match split(request, members_def)? {
        Some((others, member_ops)) => {
            // Membership and the other attributes are independent, so each part goes its own way: the others
            // through the generic engine on the group without its members, the members in one pass.
            let mut group = if others.ops.is_empty() {
                ScimGroup { members: Vec::new(), ..without_members(&record.group) }
            } else {
                let patched = apply_patch(&GROUP_TYPE, &record.to_json_without_members(""), &others)?;
                ScimGroup::from_json(&patched)?
            };
            // Room for every id the request adds: growing a 10,000-entry list or set mid-PATCH copies it all.
            let adding: usize = member_ops
                .iter()
                .map(|op| match op {
                    MemberOp::Add(ids) | MemberOp::Replace(ids) => ids.len(),
                    MemberOp::Remove(_) | MemberOp::RemoveAll => 0,
                })
                .sum();
            group.members = Vec::with_capacity(record.group.members.len() + adding);
            group.members.extend_from_slice(&record.group.members);
            let mut present = HashSet::with_capacity(original.len() + adding);
            present.extend(original.iter().copied());
            let present = apply_member_ops(&mut group.members, present, &member_ops);
            (group, present)
        }
        None => {
            let patched = apply_patch(&GROUP_TYPE, &record.to_json(""), request)?;
            let mut group = ScimGroup::from_json(&patched)?;
            // Keep the labels the store gave us; from_json drops them because clients may not set them.
            let labels: HashMap<MemberId, &Option<String>> =
                record.group.members.iter().map(|m| (m.id, &m.display)).collect();
            for m in &mut group.members {
                if let Some(d) = labels.get(&m.id) {
                    m.display = (*d).clone();
                }
            }
            let present = group.members.iter().map(|m| m.id).collect();
            (group, present)
        }
    };
    Ok(GroupPatchOutcome {
        added: group.members.iter().map(|m| m.id).filter(|id| !original.contains(id)).collect(),
        removed: record.group.members.iter().map(|m| m.id).filter(|id| !present.contains(id)).collect(),
        group,
    })
}

/// The members a PATCH names, when it only adds or removes named members (Entra's one-at-a-time changes, Okta's
/// `remove members[value eq ...]`): a store can then hand `patch_group` a record holding just those of them that
/// are present instead of a 10,000-member list, and get the same outcome. `None` when a `replace`, a remove of
/// all members or a path the generic engine handles needs the whole list.
pub fn named_members(request: &PatchRequest) -> ScimResult<Option<Vec<MemberId>>> {
    let Some(def) = GROUP_TYPE.resolve(None, "members", None).map(|r| r.attr) else {
        return Ok(None);
    };
    let Some((_, ops)) = split(request, def)? else {
        return Ok(None);
    };
    let mut named = Vec::new();
    for op in ops {
        match op {
            MemberOp::Add(ids) | MemberOp::Remove(ids) => named.extend(ids),
            MemberOp::RemoveAll | MemberOp::Replace(_) => return Ok(None),
        }
    }
    Ok(Some(named))
}

fn without_members(g: &ScimGroup) -> ScimGroup {
    ScimGroup { display_name: g.display_name.clone(), external_id: g.external_id.clone(), members: Vec::new() }
}

/// One membership change.
enum MemberOp {
    Add(Vec<MemberId>),
    Remove(Vec<MemberId>),
    RemoveAll,
    Replace(Vec<MemberId>),
}

/// Splits a request into the operations on other attributes and the membership changes (a path-less value
/// holding `members` and other keys is split in two). `None` when a membership change needs the generic
/// engine (a sub-attribute path, a filter other than `value eq`).
fn split(request: &PatchRequest, def: &AttrDef) -> ScimResult<Option<(PatchRequest, Vec<MemberOp>)>> {
    let mut others = Vec::new();
    let mut members = Vec::with_capacity(request.ops.len());
    for op in &request.ops {
        match (&op.path, &op.value) {
            (Some(path), _) if is_members(path.urn.as_deref(), &path.attr) => match member_op(op, def)? {
                Some(m) => members.push(m),
                None => return Ok(None),
            },
            (None, Some(Value::Object(fields))) if op.op != OpKind::Remove => {
                let mut rest = serde_json::Map::new();
                for (k, v) in fields {
                    match resolve_key(&GROUP_TYPE, k) {
                        KeyTarget::Attr { attr, sub: None, .. } if attr.name == "members" => {
                            let ids = ids(def, Some(v))?;
                            members.push(if op.op == OpKind::Add {
                                MemberOp::Add(ids)
                            } else {
                                MemberOp::Replace(ids)
                            });
                        }
                        _ => {
                            rest.insert(k.clone(), v.clone());
                        }
                    }
                }
                if !rest.is_empty() {
                    others.push(PatchOp { op: op.op, path: None, value: Some(Value::Object(rest)) });
                }
            }
            _ => others.push(op.clone()),
        }
    }
    Ok(Some((PatchRequest { ops: others }, members)))
}

fn is_members(urn: Option<&str>, attr: &str) -> bool {
    urn.is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA)) && attr.eq_ignore_ascii_case("members")
}

fn member_op(op: &PatchOp, def: &AttrDef) -> ScimResult<Option<MemberOp>> {
    let Some(path) = &op.path else {
        return Ok(None);
    };
    if path.sub.is_some() {
        return Ok(None);
    }
    Ok(match (op.op, path.filter.as_deref()) {
        (OpKind::Add, None) => Some(MemberOp::Add(ids(def, op.value.as_ref())?)),
        (OpKind::Replace, None) => Some(MemberOp::Replace(ids(def, op.value.as_ref())?)),
        (OpKind::Remove, None) => match &op.value {
            None | Some(Value::Null) => Some(MemberOp::RemoveAll),
            Some(v) => Some(MemberOp::Remove(ids(def, Some(v))?)),
        },
        (OpKind::Remove, Some(Filter::Compare { path: inner, op: CompareOp::Eq, value: Literal::String(id) }))
            if inner.attr.eq_ignore_ascii_case("value") && inner.urn.is_none() && inner.sub.is_none() =>
        {
            // An id of another kind cannot be a member: removing it is a no-op, like any filter matching nothing.
            Some(MemberOp::Remove(MemberId::parse(id, None).into_iter().collect()))
        }
        _ => None,
    })
}

fn ids(def: &AttrDef, value: Option<&Value>) -> ScimResult<Vec<MemberId>> {
    let Some(Value::Array(items)) = value.map(|v| normalize_value(def, v)).transpose()?.flatten() else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| {
            let value = item
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::InvalidValue("every member needs a value".into()))?;
            MemberId::parse(value, item.get("type").and_then(Value::as_str))
        })
        .collect()
}

/// Applies membership changes in order; returns the ids present afterwards.
fn apply_member_ops(
    members: &mut Vec<ScimMember>,
    mut present: HashSet<MemberId>,
    ops: &[MemberOp],
) -> HashSet<MemberId> {
    for op in ops {
        match op {
            MemberOp::Add(ids) => {
                for id in ids {
                    if present.insert(*id) {
                        members.push(ScimMember { id: *id, display: None });
                    }
                }
            }
            MemberOp::Remove(ids) => {
                let gone: HashSet<&MemberId> = ids.iter().filter(|id| present.contains(*id)).collect();
                if !gone.is_empty() {
                    members.retain(|m| !gone.contains(&m.id));
                    present.retain(|id| !gone.contains(id));
                }
            }
            MemberOp::RemoveAll => {
                members.clear();
                present.clear();
            }
            MemberOp::Replace(ids) => {
                let labels: HashMap<MemberId, Option<String>> = members.drain(..).map(|m| (m.id, m.display)).collect();
                present.clear();
                for id in ids {
                    if present.insert(*id) {
                        let display = labels.get(id).cloned().flatten();
                        members.push(ScimMember { id: *id, display });
                    }
                }
            }
        }
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GroupId, UserId};
    use crate::scim::patch::PATCH_SCHEMA;
    use crate::scim::resource::tests::meta;
    use proptest::prelude::*;
    use serde_json::json;

    fn req(ops: Value) -> PatchRequest {
        PatchRequest::from_json(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops})).expect("valid PATCH")
    }

    fn group_with(members: &[UserId]) -> ScimGroupRecord {
        ScimGroupRecord {
            id: GroupId::new(),
            group: ScimGroup {
                display_name: "Sales".into(),
                external_id: None,
                members: members
                    .iter()
                    .map(|u| ScimMember { id: MemberId::User(*u), display: Some(format!("user {u}")) })
                    .collect(),
            },
            meta: meta(),
        }
    }

    fn users(n: usize) -> Vec<UserId> {
        (0..n).map(|_| UserId::new()).collect()
    }

    #[test]
    fn entra_adds_members_with_null_refs_and_removes_by_filter() {
        let u = users(3);
        let rec = group_with(&u[..2]);
        let out = patch_group(
            &rec,
            &req(json!([
                {"op": "Add", "path": "members", "value": [{"value": u[2].to_string(), "$ref": null}]},
                {"op": "Remove", "path": format!("members[value eq \"{}\"]", u[0])},
            ])),
        )
        .expect("patch");
        assert_eq!(out.added, vec![MemberId::User(u[2])]);
        assert_eq!(out.removed, vec![MemberId::User(u[0])]);
        let ids: Vec<_> = out.group.members.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![MemberId::User(u[1]), MemberId::User(u[2])]);
        assert_eq!(out.group.members[0].display, rec.group.members[1].display, "labels survive");
    }

    #[test]
    fn entra_removes_members_by_value_list_without_the_flag() {
        let u = users(3);
        let rec = group_with(&u);
        let out = patch_group(
            &rec,
            &req(json!([{"op": "Remove", "path": "members", "value": [{"value": u[1].to_string()}]}])),
        )
        .expect("patch");
        assert_eq!(out.removed, vec![MemberId::User(u[1])]);
        assert_eq!(out.group.members.len(), 2);
    }

    #[test]
    fn removing_a_member_already_gone_is_a_no_op() {
        let u = users(2);
        let rec = group_with(&u[..1]);
        let out = patch_group(&rec, &req(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", u[1])}])))
            .expect("patch");
        assert!(!out.changed(&rec.group));
        let out = patch_group(&rec, &req(json!([{"op": "remove", "path": "members[value eq \"00u-okta\"]"}])))
            .expect("patch");
        assert!(!out.changed(&rec.group));
    }

    #[test]
    fn adding_an_existing_member_changes_nothing() {
        let u = users(1);
        let rec = group_with(&u);
        let out =
            patch_group(&rec, &req(json!([{"op": "add", "path": "members", "value": [{"value": u[0].to_string()}]}])))
                .expect("patch");
        assert!(!out.changed(&rec.group));
        assert!(out.added.is_empty());
    }

    #[test]
    fn okta_replaces_the_whole_member_list_and_renames_with_its_id_echoed() {
        let u = users(3);
        let rec = group_with(&u[..2]);
        let out = patch_group(
            &rec,
            &req(json!([{"op": "replace", "path": "members", "value": [
                {"value": u[1].to_string(), "display": "b"}, {"value": u[2].to_string(), "display": "c"}
            ]}])),
        )
        .expect("patch");
        assert_eq!(out.added, vec![MemberId::User(u[2])]);
        assert_eq!(out.removed, vec![MemberId::User(u[0])]);

        let out = patch_group(
            &rec,
            &req(json!([{"op": "replace", "value": {"id": rec.id.to_string(), "displayName": "Sales EMEA"}}])),
        )
        .expect("rename");
        assert_eq!(out.group.display_name, "Sales EMEA");
        assert_eq!(out.group.members, rec.group.members, "members and their labels are kept");

        let out =
            patch_group(&rec, &req(json!([{"op": "replace", "value": {"members": [{"value": u[2].to_string()}]}}])))
                .expect("pathless member replace");
        assert_eq!(out.group.members.len(), 1);
    }

    #[test]
    fn a_pathless_value_with_members_and_a_name_changes_both() {
        let u = users(2);
        let rec = group_with(&u[..1]);
        let out = patch_group(
            &rec,
            &req(json!([{"op": "replace", "value": {"displayName": "Ops", "Members": [{"value": u[1].to_string()}]}}])),
        )
        .expect("patch");
        assert_eq!(out.group.display_name, "Ops");
        assert_eq!((out.added, out.removed), (vec![MemberId::User(u[1])], vec![MemberId::User(u[0])]));
        let out = patch_group(
            &rec,
            &req(json!([
                {"op": "add", "path": "externalId", "value": "ext-9"},
                {"op": "remove", "path": "members[type eq \"User\"]"},
            ])),
        )
        .expect("generic member filter");
        assert_eq!(out.group.external_id.as_deref(), Some("ext-9"));
        assert!(out.group.members.is_empty());
    }

    #[test]
    fn bad_member_patches_are_refused() {
        let rec = group_with(&users(1));
        for (ops, kind) in [
            (json!([{"op": "add", "path": "members", "value": [{"value": "not-an-id"}]}]), "invalidValue"),
            (json!([{"op": "add", "path": "members", "value": [{"display": "x", "value": 3}]}]), "invalidValue"),
            (json!([{"op": "remove", "path": "displayName"}]), "mutability"),
            (json!([{"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"}]), "mutability"),
            (json!([{"op": "add", "path": "owners", "value": "x"}]), "invalidPath"),
            (json!([{"op": "replace", "path": "members[value eq \"x\"].value", "value": "y"}]), "mutability"),
        ] {
            let got = patch_group(&rec, &req(ops.clone()));
            assert_eq!(got.as_ref().err().and_then(ScimError::scim_type), Some(kind), "{ops}: {got:?}");
        }
    }

    proptest! {
        #[test]
        fn member_add_and_remove_match_set_semantics(
            start in proptest::collection::vec(0usize..8, 0..8),
            adds in proptest::collection::vec(0usize..8, 0..5),
            removes in proptest::collection::vec(0usize..8, 0..5),
        ) {
            let pool = users(8);
            let mut initial: Vec<UserId> = Vec::new();
            for i in start {
                if !initial.contains(&pool[i]) {
                    initial.push(pool[i]);
                }
            }
            let rec = group_with(&initial);
            let mut ops = vec![json!({"op": "add", "path": "members",
                "value": adds.iter().map(|i| json!({"value": pool[*i].to_string()})).collect::<Vec<_>>()})];
            for r in &removes {
                ops.push(json!({"op": "remove", "path": format!("members[value eq \"{}\"]", pool[*r])}));
            }
            let out = patch_group(&rec, &req(Value::Array(ops))).expect("patch");
            let got: HashSet<MemberId> = out.group.members.iter().map(|m| m.id).collect();
            let mut want: HashSet<MemberId> = initial.iter().map(|u| MemberId::User(*u)).collect();
            want.extend(adds.iter().map(|i| MemberId::User(pool[*i])));
            for r in &removes {
                want.remove(&MemberId::User(pool[*r]));
            }
            prop_assert_eq!(got, want);
            prop_assert_eq!(out.group.members.len(), out.group.members.iter().map(|m| m.id).collect::<HashSet<_>>().len());
        }
    }

    #[test]
    fn named_members_lists_what_adds_and_removes_name_and_gives_up_on_whole_list_changes() {
        let (a, b) = (UserId::new(), UserId::new());
        let request = |ops: Value| {
            PatchRequest::from_json(
                &serde_json::json!({"schemas": [crate::scim::patch::PATCH_SCHEMA], "Operations": ops}),
            )
            .expect("valid patch")
        };
        let named = named_members(&request(serde_json::json!([
            {"op": "Add", "path": "members", "value": [{"value": a.to_string()}]},
            {"op": "remove", "path": format!("members[value eq \"{b}\"]")},
            {"op": "replace", "path": "displayName", "value": "x"}
        ])));
        assert_eq!(named, Ok(Some(vec![MemberId::User(a), MemberId::User(b)])));
        let replace = request(serde_json::json!([{"op": "replace", "path": "members", "value": []}]));
        assert_eq!(named_members(&replace), Ok(None));
        assert_eq!(named_members(&request(serde_json::json!([{"op": "remove", "path": "members"}]))), Ok(None));
    }
}
