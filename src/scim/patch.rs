//! The RFC 7644 section 3.5.2 PATCH engine: `add`, `remove` and `replace`, with and without `path`, value
//! filter paths, sub-attributes and extension URNs, applied in order and all or nothing to a resource's JSON.
//!
//! It also takes what identity providers really send (reference SCIM.md section 8): op names in any case,
//! booleans as strings, dotted and URN keys in path-less values, Okta's `id` echoed in a path-less replace,
//! Entra's `Remove members` with a value list, `add`/`replace` on `emails[type eq "work"].value` for a user
//! with no work email yet (creates it), removal of members already gone (no-op), an empty `Operations` list.
//!
//! `patch_user` and `patch_group` (in `members.rs`) wrap this for the records: render, patch, validate back.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::eval::{check_element_filter, element_matches};
use super::filter::{AttrPath, CompareOp, Filter, Literal, parse_path};
use super::normalize::{KeyTarget, normalize_value, resolve_key};
use super::resource::{ScimUser, ScimUserRecord};
use super::schema::{AttrDef, AttrType, Container, Mutability, ResourceType, Schema, USER_TYPE};

/// The PatchOp message schema URN.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One of the three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

/// One operation of a PATCH request, with its path already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<AttrPath>,
    /// `None` when the client sent no `value`; `Some(Value::Null)` when it sent `null`.
    pub value: Option<Value>,
}

/// A parsed PATCH request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub ops: Vec<PatchOp>,
}

impl PatchRequest {
    /// Parses `{"schemas":[PatchOp], "Operations":[...]}`. Key names and op names are case-insensitive; an
    /// empty `Operations` list is a valid no-op (Microsoft's SCIM Validator sends one).
    pub fn from_json(body: &Value) -> ScimResult<Self> {
        let Value::Object(obj) = body else {
            return Err(ScimError::InvalidSyntax("a PATCH body must be a JSON object".into()));
        };
        if let Some(schemas) = get_ci(obj, "schemas") {
            let listed = schemas
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))));
            if !listed {
                return Err(ScimError::InvalidSyntax(format!("a PATCH body must list the schema {PATCH_SCHEMA}")));
            }
        }
        let Some(Value::Array(raw_ops)) = get_ci(obj, "Operations") else {
            return Err(ScimError::InvalidSyntax("a PATCH body needs an Operations list".into()));
        };
        let mut ops = Vec::with_capacity(raw_ops.len());
        for raw in raw_ops {
            let Value::Object(o) = raw else {
                return Err(ScimError::InvalidSyntax("each PATCH operation must be an object".into()));
            };
            let name = get_ci(o, "op").and_then(Value::as_str).unwrap_or_default();
            let op = match name.to_ascii_lowercase().as_str() {
                "add" => OpKind::Add,
                "remove" => OpKind::Remove,
                "replace" => OpKind::Replace,
                _ => {
                    return Err(ScimError::InvalidSyntax(format!("PATCH op '{name}' is not add, remove or replace")));
                }
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(parse_path(p.trim())?),
                Some(other) => {
                    return Err(ScimError::InvalidPath(format!("path must be a string, got {other}")));
                }
            };
            let value = get_ci(o, "value").cloned();
            if op != OpKind::Remove && value.is_none() {
                return Err(ScimError::InvalidValue(format!("a PATCH {name} needs a value")));
            }
            ops.push(PatchOp { op, path, value });
        }
        Ok(Self { ops })
    }
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Applies a PATCH to a User record and validates the result. The record is untouched; on success the caller
/// stores the returned attributes (and bumps the version only if they differ from `record.user`).
pub fn patch_user(record: &ScimUserRecord, request: &PatchRequest) -> ScimResult<ScimUser> {
    let patched = apply_patch(&USER_TYPE, &record.to_json(""), request)?;
    ScimUser::from_json(&patched)
}

/// Applies every operation to a copy of `resource` (canonical JSON as `to_json` renders it) and returns the
/// copy. On the first failing operation the error is returned and nothing is kept.
pub fn apply_patch(rt: &'static ResourceType, resource: &Value, request: &PatchRequest) -> ScimResult<Value> {
    let mut root = match resource {
        Value::Object(m) => m.clone(),
        _ => {
            return Err(ScimError::InvalidSyntax("the resource to patch is not an object".into()));
        }
    };
    for op in &request.ops {
        apply_op(rt, &mut root, op)?;
    }
    Ok(Value::Object(root))
}

/// Where an operation applies, resolved against the schema.
struct Loc<'a> {
    container: Container,
    attr: &'static AttrDef,
    filter: Option<&'a Filter>,
    sub: Option<&'static AttrDef>,
}

fn apply_op(rt: &'static ResourceType, root: &mut Map<String, Value>, op: &PatchOp) -> ScimResult<()> {
    let Some(path) = &op.path else {
        return match op.op {
            OpKind::Remove => Err(ScimError::NoTarget("remove needs a path".into())),
            _ => apply_pathless(rt, root, op.op, op.value.as_ref().unwrap_or(&Value::Null), None),
        };
    };
    // `urn:...:enterprise:2.0:User` alone names the whole extension object.
    if path.filter.is_none()
        && path.sub.is_none()
        && let Some(urn) = &path.urn
        && let Some(ext) = rt.extension(&format!("{urn}:{}", path.attr))
    {
        return match (op.op, op.value.as_ref()) {
            (OpKind::Remove, _) | (OpKind::Replace, Some(Value::Null)) => {
                root.remove(ext.id);
                Ok(())
            }
            (_, Some(Value::Null)) => Ok(()),
            (kind, value) => apply_pathless(rt, root, kind, value.unwrap_or(&Value::Null), Some(ext)),
        };
    }
    let resolved = rt
        .resolve(path.urn.as_deref(), &path.attr, path.sub.as_deref())
        .ok_or_else(|| ScimError::InvalidPath(format!("'{path}' names no attribute of a {}", rt.id)))?;
    if resolved.attr.mutability == Mutability::ReadOnly
        || resolved.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(ScimError::Mutability(format!("'{path}' is readOnly")));
    }
    // An immutable sub-attribute (a member's `value`) is set when its element is added and never edited:
    // clients remove the element and add another.
    if resolved.sub.is_some_and(|s| s.mutability == Mutability::Immutable) {
        return Err(ScimError::Mutability(format!("'{path}' is immutable: remove the value and add a new one")));
    }
    if let Some(f) = &path.filter {
        if !resolved.attr.multi_valued {
            return Err(ScimError::InvalidPath(format!("'{path}': value filters apply to multi-valued attributes")));
        }
        check_element_filter(f, resolved.attr)?;
    }
    let loc =
        Loc { container: resolved.container, attr: resolved.attr, filter: path.filter.as_deref(), sub: resolved.sub };
    match op.op {
        OpKind::Remove => remove(root, &loc, op.value.as_ref()),
        kind => set(root, &loc, kind, op.value.as_ref().unwrap_or(&Value::Null)),
    }
}

/// A path-less add or replace: `value` is an object of attribute -> value (or, for an extension path, of that
/// extension's attributes). Unknown keys are ignored as in POST; readOnly keys too, except an `id` that is
/// not the resource's own (Okta echoes the id in group renames).
fn apply_pathless(
    rt: &'static ResourceType,
    root: &mut Map<String, Value>,
    kind: OpKind,
    value: &Value,
    only: Option<&'static Schema>,
) -> ScimResult<()> {
    let Value::Object(fields) = value else {
        return Err(ScimError::InvalidValue("a PATCH without path needs an object value".into()));
    };
    for (key, v) in fields {
        let target = match only {
            Some(ext) => match ext.attr(key) {
                Some(attr) => KeyTarget::Attr { container: Container::Extension(ext.id), attr, sub: None },
                None => KeyTarget::Unknown,
            },
            None => resolve_key(rt, key),
        };
        match target {
            KeyTarget::Schemas | KeyTarget::Unknown => {}
            // Unassigned, null and empty are one state (RFC 7643 section 2.5).
            KeyTarget::Extension(ext) if v.is_null() => {
                if kind == OpKind::Replace {
                    root.remove(ext.id);
                }
            }
            KeyTarget::Extension(ext) => apply_pathless(rt, root, kind, v, Some(ext))?,
            KeyTarget::Attr { container, attr, sub } => {
                if attr.mutability == Mutability::ReadOnly || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
                {
                    if attr.name == "id"
                        && v.as_str().is_some_and(|id| root.get("id").and_then(Value::as_str) != Some(id))
                    {
                        return Err(ScimError::Mutability("id cannot change".into()));
                    }
                    continue;
                }
                let loc = Loc { container, attr, filter: None, sub };
                set(root, &loc, kind, v)?;
            }
        }
    }
    Ok(())
}

/// The object an attribute lives in; extension objects are created on demand when `create`.
fn holder(root: &mut Map<String, Value>, container: Container, create: bool) -> Option<&mut Map<String, Value>> {
    match container {
        Container::Core => Some(root),
        Container::Extension(urn) => {
            if create && !root.contains_key(urn) {
                root.insert(urn.to_string(), Value::Object(Map::new()));
            }
            root.get_mut(urn).and_then(Value::as_object_mut)
        }
    }
}

/// Drops an extension object that lost its last attribute, so nothing empty is stored or shown.
fn tidy(root: &mut Map<String, Value>, container: Container) {
    if let Container::Extension(urn) = container
        && root.get(urn).and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        root.remove(urn);
    }
}

fn set(root: &mut Map<String, Value>, loc: &Loc, kind: OpKind, value: &Value) -> ScimResult<()> {
    let replace = kind == OpKind::Replace;
    let target_def = loc.sub.unwrap_or(loc.attr);
    let new = if loc.filter.is_some() && loc.sub.is_none() {
        // `emails[type eq "work"]` takes one element's sub-attributes.
        match normalize_value(loc.attr, value)? {
            Some(Value::Array(mut items)) if items.len() == 1 => items.pop(),
            Some(Value::Array(_)) => {
                return Err(ScimError::InvalidValue(format!(
                    "a value filter path on '{}' takes one value, not a list",
                    loc.attr.name
                )));
            }
            other => other,
        }
    } else {
        normalize_value(target_def, value)?
    };
    let Some(h) = holder(root, loc.container, true) else {
        return Ok(());
    };
    let name = loc.attr.name;
    match (loc.filter, loc.sub) {
        (None, None) => match new {
            None if replace => {
                h.remove(name);
            }
            None => {}
            Some(Value::Array(items)) if loc.attr.multi_valued => {
                let mut list = match (replace, h.remove(name)) {
                    (false, Some(Value::Array(old))) => old,
                    _ => Vec::new(),
                };
                for item in items {
                    push_unique(&mut list, item, loc.attr);
                }
                put_list(h, name, list);
            }
            Some(Value::Object(fields)) if loc.attr.ty == AttrType::Complex => {
                let obj = h.entry(name).or_insert_with(|| Value::Object(Map::new()));
                match obj.as_object_mut() {
                    Some(o) => o.extend(fields),
                    None => *obj = Value::Object(fields),
                }
            }
            Some(v) => {
                h.insert(name.to_string(), v);
            }
        },
        (None, Some(sub)) => {
            if loc.attr.multi_valued {
                return Err(ScimError::InvalidPath(format!(
                    "'{name}.{}': pick the values with a filter, e.g. {name}[type eq \"work\"].{}",
                    sub.name, sub.name
                )));
            }
            let obj = h.entry(name).or_insert_with(|| Value::Object(Map::new()));
            if let Some(o) = obj.as_object_mut() {
                match new {
                    Some(v) => {
                        o.insert(sub.name.to_string(), v);
                    }
                    None => {
                        o.remove(sub.name);
                    }
                }
                if o.is_empty() {
                    h.remove(name);
                }
            }
        }
        (Some(filter), sub) => {
            let mut list = match h.remove(name) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            // Indices of the values this write touched: the filter may no longer match them afterwards.
            let mut touched = Vec::new();
            for (i, item) in list.iter_mut().enumerate() {
                if !element_matches(filter, item, loc.attr) {
                    continue;
                }
                touched.push(i);
                let Some(o) = item.as_object_mut() else {
                    continue;
                };
                match (sub, &new) {
                    (Some(s), Some(v)) => {
                        o.insert(s.name.to_string(), v.clone());
                    }
                    (Some(s), None) => {
                        o.remove(s.name);
                    }
                    (None, Some(Value::Object(fields))) => o.extend(fields.clone()),
                    (None, _) => {}
                }
            }
            if touched.is_empty() {
                // Entra adds `emails[type eq "work"].value` before the user has a work email: build the value
                // from the filter's equalities instead of failing with noTarget.
                let Some(mut element) = element_from_filter(filter, loc.attr) else {
                    put_list(h, name, list);
                    return Err(ScimError::NoTarget(format!("no {name} value matches [{filter}]")));
                };
                match (sub, new) {
                    (Some(s), Some(v)) => {
                        element.insert(s.name.to_string(), v);
                    }
                    (None, Some(Value::Object(fields))) => element.extend(fields),
                    _ => {}
                }
                touched.push(list.len());
                list.push(Value::Object(element));
            }
            let primary_set = list.iter().filter(|e| e.get("primary") == Some(&Value::Bool(true))).count() > 1;
            if primary_set {
                // The write just marked a value primary: it wins over the one marked before.
                let keep = touched.iter().rev().copied().find(|i| list[*i].get("primary") == Some(&Value::Bool(true)));
                for (i, e) in list.iter_mut().enumerate() {
                    if Some(i) != keep
                        && let Some(o) = e.as_object_mut()
                    {
                        o.remove("primary");
                    }
                }
            }
            keep_complete(&mut list, loc.attr);
            put_list(h, name, list);
        }
    }
    tidy(root, loc.container);
    Ok(())
}

/// Appends a value to a multi-valued attribute unless an identical one is there (RFC 7644 section 3.5.2.1).
/// Members are identical when their `value` is: the same user added twice is one member. A value marked
/// primary takes the mark from the others (RFC 7643 section 2.4).
fn push_unique(list: &mut Vec<Value>, item: Value, def: &AttrDef) {
    let same = |e: &Value| match (def.sub("primary"), e.get("value"), item.get("value")) {
        (None, Some(a), Some(b)) => a == b,
        _ => *e == item,
    };
    if list.iter().any(same) {
        return;
    }
    if item.get("primary") == Some(&Value::Bool(true)) {
        for e in list.iter_mut() {
            if let Some(o) = e.as_object_mut() {
                o.remove("primary");
            }
        }
    }
    list.push(item);
}

/// Drops values of a multi-valued attribute that a write left without their `value` (Entra removes
/// `emails[type eq "work"].value` when the address is cleared in the directory): an email without an address
/// is no email, and keeping it would make the whole resource invalid.
fn keep_complete(list: &mut Vec<Value>, def: &AttrDef) {
    let needs_value = def.sub("value").is_some();
    list.retain(|e| e.as_object().is_some_and(|o| !o.is_empty() && (!needs_value || o.contains_key("value"))));
}

fn put_list(h: &mut Map<String, Value>, name: &str, list: Vec<Value>) {
    if list.is_empty() {
        h.remove(name);
    } else {
        h.insert(name.to_string(), Value::Array(list));
    }
}

/// `type eq "work" and primary eq true` -> `{"type": "work", "primary": true}`; `None` for anything but a
/// conjunction of equalities on sub-attributes.
fn element_from_filter(filter: &Filter, parent: &AttrDef) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value }
            if path.urn.is_none() && path.sub.is_none() && path.filter.is_none() =>
        {
            let sub = parent.sub(&path.attr)?;
            let v = match value {
                Literal::String(s) => Value::String(s.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Number(n) => Value::Number(n.clone()),
                Literal::Null => return None,
            };
            let v = normalize_value(sub, &v).ok()??;
            let mut m = Map::new();
            m.insert(sub.name.to_string(), v);
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = element_from_filter(a, parent)?;
            m.extend(element_from_filter(b, parent)?);
            Some(m)
        }
        _ => None,
    }
}

fn remove(root: &mut Map<String, Value>, loc: &Loc, value: Option<&Value>) -> ScimResult<()> {
    let name = loc.attr.name;
    if loc.attr.required && loc.filter.is_none() && loc.sub.is_none() {
        return Err(ScimError::Mutability(format!("'{name}' is required and cannot be removed")));
    }
    let Some(h) = holder(root, loc.container, false) else {
        return Ok(());
    };
    match (loc.filter, loc.sub) {
        (None, None) => {
            let given = match value {
                Some(v) if loc.attr.multi_valued && !v.is_null() => {
                    Some(normalize_value(loc.attr, v)?.unwrap_or_else(|| Value::Array(Vec::new())))
                }
                _ => None,
            };
            match (given, h.remove(name)) {
                // Entra without the aadOptscim062020 flag: `Remove` + `members` + the members to remove.
                // An empty list removes nothing (it must not wipe the attribute).
                (Some(Value::Array(gone)), Some(Value::Array(mut list))) => {
                    list.retain(|e| {
                        !gone.iter().any(|g| match (g.get("value"), e.get("value")) {
                            (Some(a), Some(b)) => a == b,
                            _ => g == e,
                        })
                    });
                    put_list(h, name, list);
                }
                (Some(_), Some(untouched)) => {
                    h.insert(name.to_string(), untouched);
                }
                _ => {}
            }
        }
        (None, Some(sub)) => match h.get_mut(name) {
            Some(Value::Object(o)) => {
                o.remove(sub.name);
                if o.is_empty() {
                    h.remove(name);
                }
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Some(o) = item.as_object_mut() {
                        o.remove(sub.name);
                    }
                }
                keep_complete(items, loc.attr);
                if items.is_empty() {
                    h.remove(name);
                }
            }
            _ => {}
        },
        (Some(filter), sub) => {
            // A filter matching nothing is a success: IdPs re-send removals of members already gone.
            if let Some(Value::Array(mut list)) = h.remove(name) {
                match sub {
                    None => list.retain(|e| !element_matches(filter, e, loc.attr)),
                    Some(s) => {
                        for e in list.iter_mut() {
                            if element_matches(filter, e, loc.attr)
                                && let Some(o) = e.as_object_mut()
                            {
                                o.remove(s.name);
                            }
                        }
                        keep_complete(&mut list, loc.attr);
                    }
                }
                put_list(h, name, list);
            }
        }
    }
    tidy(root, loc.container);
    Ok(())
}

#[cfg(test)]
mod tests;
