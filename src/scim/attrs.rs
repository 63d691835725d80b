//! What a response shows and in which order: the `attributes` / `excludedAttributes` projection (RFC 7644
//! section 3.4.2.5, honouring each attribute's `returned`), and the `sortBy` / `sortOrder` comparator
//! (section 3.4.2.3, case-insensitive for `caseExact: false` attributes, unassigned values last).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::eval::{fold_case, parse_datetime, values_at};
use super::filter::{AttrPath, parse_path};
use super::schema::{AttrDef, AttrType, Container, ResourceType, Returned};

/// One attribute named in `attributes` or `excludedAttributes`.
#[derive(Debug, Clone)]
struct Named {
    container: Container,
    /// `None` names a whole extension object.
    attr: Option<&'static AttrDef>,
    sub: Option<&'static AttrDef>,
}

#[derive(Debug, Clone)]
enum Mode {
    Default,
    Only(Vec<Named>),
    Exclude(Vec<Named>),
}

/// A parsed `attributes` / `excludedAttributes` pair, ready to apply to every resource of a response.
#[derive(Debug, Clone)]
pub struct Projection {
    mode: Mode,
}

impl Projection {
    /// The default set: every attribute whose `returned` is `always` or `default`.
    pub fn default_set() -> Self {
        Self { mode: Mode::Default }
    }

    /// Parses the two comma-separated lists (query parameters or `/.search` fields; empty counts as absent).
    /// Names this resource type does not define are skipped: with `/.search` at the root one list serves
    /// Users and Groups alike.
    pub fn parse(rt: &'static ResourceType, attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Self> {
        let attributes = attributes.filter(|s| !s.trim().is_empty());
        let excluded = excluded.filter(|s| !s.trim().is_empty());
        Ok(match (attributes, excluded) {
            (Some(_), Some(_)) => {
                return Err(ScimError::InvalidSyntax(
                    "attributes and excludedAttributes cannot be used together".into(),
                ));
            }
            (Some(list), None) => Self { mode: Mode::Only(names(rt, list)?) },
            (None, Some(list)) => Self { mode: Mode::Exclude(names(rt, list)?) },
            (None, None) => Self::default_set(),
        })
    }

    /// Whether `members` is left out, so the caller can skip building a large member list
    /// (`ScimGroupRecord::to_json_without_members`). Entra sends `excludedAttributes=members` on every read.
    pub fn drops_members(&self, rt: &'static ResourceType) -> bool {
        let Some(members) = rt.resolve(None, "members", None) else {
            return true;
        };
        let is_members = |n: &Named| n.attr.is_some_and(|a| std::ptr::eq(a, members.attr)) && n.sub.is_none();
        match &self.mode {
            Mode::Default => false,
            Mode::Only(list) => !list.iter().any(|n| n.attr.is_some_and(|a| std::ptr::eq(a, members.attr))),
            Mode::Exclude(list) => list.iter().any(is_members),
        }
    }

    /// Applies the projection to a full resource (as `to_json` renders it).
    pub fn apply(&self, rt: &'static ResourceType, resource: Value) -> Value {
        let Value::Object(mut full) = resource else {
            return resource;
        };
        let mut out = match &self.mode {
            Mode::Default => {
                drop_unreturned(rt, &mut full, false);
                full
            }
            Mode::Exclude(list) => {
                for n in list {
                    exclude(&mut full, n);
                }
                drop_unreturned(rt, &mut full, false);
                full
            }
            Mode::Only(list) => {
                let mut out = Map::new();
                for key in ["schemas", "id"] {
                    if let Some(v) = full.get(key) {
                        out.insert(key.to_string(), v.clone());
                    }
                }
                for n in list {
                    include(&full, &mut out, n);
                }
                drop_unreturned(rt, &mut out, true);
                out
            }
        };
        fix_schemas(rt, &mut out);
        Value::Object(out)
    }
}

fn names(rt: &'static ResourceType, list: &str) -> ScimResult<Vec<Named>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(ext) = rt.extension(item) {
            out.push(Named { container: Container::Extension(ext.id), attr: None, sub: None });
            continue;
        }
        let path = parse_path(item).map_err(|e| ScimError::InvalidValue(format!("attribute list: {}", e.detail())))?;
        if path.filter.is_some() {
            return Err(ScimError::InvalidValue(format!("'{item}': attribute lists take names, not filters")));
        }
        if let Some(r) = rt.resolve(path.urn.as_deref(), &path.attr, path.sub.as_deref()) {
            out.push(Named { container: r.container, attr: Some(r.attr), sub: r.sub });
        }
    }
    Ok(out)
}

fn holder_of(m: &Map<String, Value>, c: Container) -> Option<&Map<String, Value>> {
    match c {
        Container::Core => Some(m),
        Container::Extension(urn) => m.get(urn).and_then(Value::as_object),
    }
}

fn holder_of_mut(m: &mut Map<String, Value>, c: Container, create: bool) -> Option<&mut Map<String, Value>> {
    match c {
        Container::Core => Some(m),
        Container::Extension(urn) => {
            if create && !m.contains_key(urn) {
                m.insert(urn.to_string(), Value::Object(Map::new()));
            }
            m.get_mut(urn).and_then(Value::as_object_mut)
        }
    }
}

fn include(full: &Map<String, Value>, out: &mut Map<String, Value>, n: &Named) {
    let Some(attr) = n.attr else {
        if let Container::Extension(urn) = n.container
            && let Some(v) = full.get(urn)
        {
            out.insert(urn.to_string(), v.clone());
        }
        return;
    };
    let Some(value) = holder_of(full, n.container).and_then(|h| h.get(attr.name)) else {
        return;
    };
    let picked = match n.sub {
        None => Some(value.clone()),
        Some(sub) => pick_sub(value, sub.name),
    };
    let Some(picked) = picked else { return };
    let Some(h) = holder_of_mut(out, n.container, true) else {
        return;
    };
    match (h.get_mut(attr.name), picked) {
        // `name.givenName` and `name.familyName` both asked: merge into one `name`.
        (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
        (Some(Value::Array(existing)), Value::Array(more)) if existing.len() == more.len() => {
            for (e, m) in existing.iter_mut().zip(more) {
                if let (Some(eo), Value::Object(mo)) = (e.as_object_mut(), m) {
                    eo.extend(mo);
                }
            }
        }
        (_, picked) => {
            h.insert(attr.name.to_string(), picked);
        }
    }
}

fn pick_sub(value: &Value, sub: &str) -> Option<Value> {
    let one = |v: &Value| {
        v.get(sub).map(|s| {
            let mut m = Map::new();
            m.insert(sub.to_string(), s.clone());
            Value::Object(m)
        })
    };
    match value {
        Value::Array(items) => {
            let picked: Vec<Value> = items.iter().map(|i| one(i).unwrap_or(Value::Object(Map::new()))).collect();
            Some(Value::Array(picked))
        }
        other => one(other),
    }
}

fn exclude(full: &mut Map<String, Value>, n: &Named) {
    let Some(attr) = n.attr else {
        if let Container::Extension(urn) = n.container {
            full.remove(urn);
        }
        return;
    };
    if attr.returned == Returned::Always {
        return;
    }
    let Some(h) = holder_of_mut(full, n.container, false) else {
        return;
    };
    match n.sub {
        None => {
            h.remove(attr.name);
        }
        Some(sub) => {
            match h.get_mut(attr.name) {
                Some(Value::Object(o)) => {
                    o.remove(sub.name);
                }
                Some(Value::Array(items)) => {
                    for i in items.iter_mut() {
                        if let Some(o) = i.as_object_mut() {
                            o.remove(sub.name);
                        }
                    }
                }
                _ => {}
            }
            prune(h, attr.name);
        }
    }
    if let Container::Extension(urn) = n.container
        && full.get(urn).and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        full.remove(urn);
    }
}

/// Removes an attribute left empty by a projection (an empty `name`, or emails with nothing left).
fn prune(h: &mut Map<String, Value>, name: &str) {
    let empty = match h.get_mut(name) {
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Array(items)) => {
            items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
            items.is_empty()
        }
        _ => false,
    };
    if empty {
        h.remove(name);
    }
}

/// Drops `returned: never` attributes, and `returned: request` ones unless they were asked for by name.
fn drop_unreturned(rt: &'static ResourceType, m: &mut Map<String, Value>, asked: bool) {
    let urns: Vec<Option<&'static str>> =
        std::iter::once(None).chain(rt.extensions.iter().map(|e| Some(e.id))).collect();
    for urn in urns {
        let schema_attrs = match urn {
            None => rt.core.attributes,
            Some(u) => match rt.extension(u) {
                Some(s) => s.attributes,
                None => continue,
            },
        };
        let container = urn.map_or(Container::Core, Container::Extension);
        let Some(h) = holder_of_mut(m, container, false) else {
            continue;
        };
        for a in schema_attrs {
            if a.returned == Returned::Never || (a.returned == Returned::Request && !asked) {
                h.remove(a.name);
            }
        }
    }
}

/// `schemas` lists the core URN plus each extension still present after projection.
fn fix_schemas(rt: &'static ResourceType, m: &mut Map<String, Value>) {
    if !m.contains_key("schemas") {
        return;
    }
    let list: Vec<Value> =
        rt.schema_urns().filter(|urn| *urn == rt.core.id || m.contains_key(*urn)).map(Value::from).collect();
    m.insert("schemas".into(), Value::Array(list));
}

/// A parsed `sortBy` / `sortOrder`.
#[derive(Debug, Clone)]
pub struct SortSpec {
    rt: &'static ResourceType,
    path: AttrPath,
    descending: bool,
}

impl SortSpec {
    /// `None` when no `sortBy` was given (the caller keeps its stable creation order). An unknown attribute or
    /// an order other than ascending/descending is `invalidValue`.
    pub fn parse(
        rt: &'static ResourceType,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> ScimResult<Option<Self>> {
        let Some(by) = sort_by.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let path = parse_path(by).map_err(|e| ScimError::InvalidValue(format!("sortBy: {}", e.detail())))?;
        let known = path.filter.is_none() && rt.resolve(path.urn.as_deref(), &path.attr, path.sub.as_deref()).is_some();
        if !known {
            return Err(ScimError::InvalidValue(format!("sortBy '{by}' is not a sortable attribute")));
        }
        let descending = match sort_order.map(str::trim).filter(|s| !s.is_empty()) {
            None => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::InvalidValue(format!("sortOrder '{o}' is neither ascending nor descending")));
            }
        };
        Ok(Some(Self { rt, path, descending }))
    }

    /// Orders two resources (full JSON). Use with a stable sort so ties keep creation order across pages.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        let ord = match (self.key(a), self.key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if self.descending { ord.reverse() } else { ord }
    }

    fn key(&self, resource: &Value) -> Option<SortKey> {
        let (target, values) = values_at(self.rt, &self.path, resource)?;
        // A multi-valued attribute sorts by its primary value, else its first (RFC 7644 section 3.4.2.3).
        let chosen = values.iter().find(|v| v.get("primary") == Some(&Value::Bool(true))).or_else(|| values.first())?;
        let (def, v) = match (target.sub, target.attr.ty) {
            (None, AttrType::Complex) => (target.attr.sub("value")?, chosen.get("value")?),
            _ => (target.def(), *chosen),
        };
        Some(match def.ty {
            AttrType::Boolean => SortKey::Bool(v.as_bool()?),
            AttrType::Integer => SortKey::Int(v.as_i64()?),
            AttrType::DateTime => {
                let s = v.as_str()?;
                match parse_datetime(s) {
                    Some(t) => SortKey::Time(t),
                    None => SortKey::Text(s.to_string()),
                }
            }
            _ if def.case_exact => SortKey::Text(v.as_str()?.to_string()),
            _ => SortKey::Text(fold_case(v.as_str()?)),
        })
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Bool(bool),
    Int(i64),
    Time(time::OffsetDateTime),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_SCHEMA, GROUP_TYPE, USER_SCHEMA, USER_TYPE};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": "usr_1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work", "primary": true}],
            ENTERPRISE_SCHEMA: {"department": "R&D"},
            "meta": {"resourceType": "User"}
        })
    }

    fn project(attrs: Option<&str>, excluded: Option<&str>) -> Value {
        Projection::parse(&USER_TYPE, attrs, excluded).expect("parses").apply(&USER_TYPE, user())
    }

    #[test]
    fn attributes_returns_the_named_ones_plus_id_and_schemas() {
        assert_eq!(
            project(Some("userName,name.givenName,EMAILS.value"), None),
            json!({
                "schemas": [USER_SCHEMA],
                "id": "usr_1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@x"}],
            })
        );
        assert_eq!(
            project(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None),
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "id": "usr_1", ENTERPRISE_SCHEMA: {"department": "R&D"}})
        );
    }

    #[test]
    fn excluded_attributes_drop_from_the_default_set_but_never_id() {
        let out =
            project(None, Some("emails,name.familyName,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA],
                "id": "usr_1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "meta": {"resourceType": "User"}
            })
        );
    }

    #[test]
    fn both_lists_at_once_are_refused_and_unknown_names_skipped() {
        assert!(matches!(
            Projection::parse(&USER_TYPE, Some("userName"), Some("emails")),
            Err(ScimError::InvalidSyntax(_))
        ));
        assert_eq!(project(Some("nosuch"), None), json!({"schemas": [USER_SCHEMA], "id": "usr_1"}));
    }

    #[test]
    fn entra_group_reads_skip_members() {
        let p = Projection::parse(&GROUP_TYPE, None, Some("members")).expect("parses");
        assert!(p.drops_members(&GROUP_TYPE));
        assert!(!Projection::default_set().drops_members(&GROUP_TYPE));
        let only_name = Projection::parse(&GROUP_TYPE, Some("displayName"), None).expect("parses");
        assert!(only_name.drops_members(&GROUP_TYPE));
    }

    #[test]
    fn sorting_folds_case_puts_unassigned_last_and_honours_order() {
        let mut users = [
            json!({"id": "3", "userName": "carol"}),
            json!({"id": "1", "userName": "Alice", "displayName": "z"}),
            json!({"id": "2", "userName": "bob"}),
        ];
        let spec = SortSpec::parse(&USER_TYPE, Some("userName"), None).expect("parses").expect("some");
        users.sort_by(|a, b| spec.compare(a, b));
        let ids: Vec<_> = users.iter().map(|u| u["id"].as_str().unwrap_or_default()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        let spec = SortSpec::parse(&USER_TYPE, Some("displayName"), Some("ascending")).expect("ok").expect("some");
        users.sort_by(|a, b| spec.compare(a, b));
        assert_eq!(users[0]["id"], "1", "the only assigned displayName sorts first");
        let spec = SortSpec::parse(&USER_TYPE, Some("userName"), Some("DESCENDING")).expect("ok").expect("some");
        users.sort_by(|a, b| spec.compare(a, b));
        assert_eq!(users[0]["id"], "3");
    }

    #[test]
    fn bad_sort_parameters_are_invalid_values() {
        assert!(matches!(SortSpec::parse(&USER_TYPE, Some("nosuch"), None), Err(ScimError::InvalidValue(_))));
        assert!(matches!(SortSpec::parse(&USER_TYPE, Some("userName"), Some("up")), Err(ScimError::InvalidValue(_))));
        assert!(matches!(SortSpec::parse(&USER_TYPE, None, Some("descending")), Ok(None)));
    }
}
