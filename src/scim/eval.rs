//! Filter evaluation over a resource's JSON (as `resource.rs` renders it), typed by the schema: strings honour
//! `caseExact`, dateTimes compare as instants, integers as numbers, booleans only with `eq`/`ne`.
//!
//! Use in two steps: `check_filter` once per request (unknown attributes and operators a type forbids are
//! `invalidFilter` there), then `matches` per candidate resource, which cannot fail. `index_hint` tells the
//! store when a filter starts with an indexed equality (`userName eq "x"`) so it can fetch candidates by key
//! instead of scanning; it must still run `matches` on them unless the hint says it is the whole filter.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ScimError, ScimResult};
use super::filter::{AttrPath, CompareOp, Filter, Literal};
use super::schema::{AttrDef, AttrType, Container, ResourceType};

/// Where the paths of a (sub-)filter are resolved: against the resource type, or, inside `attr[...]`, against
/// the sub-attributes of `attr`.
#[derive(Clone, Copy)]
enum Scope {
    Resource(&'static ResourceType),
    Element(&'static AttrDef),
}

/// A path resolved to definitions: the attribute, the sub-attribute (explicit, or `value` implied when a
/// complex attribute is compared), and the container it lives in.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    container: Option<Container>,
    pub(crate) attr: &'static AttrDef,
    pub(crate) sub: Option<&'static AttrDef>,
}

impl Target {
    pub(crate) fn def(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }
}

fn resolve(scope: Scope, path: &AttrPath) -> ScimResult<Target> {
    let unknown = || ScimError::InvalidFilter(format!("unknown attribute '{path}'"));
    match scope {
        Scope::Resource(rt) => {
            let r = rt.resolve(path.urn.as_deref(), &path.attr, path.sub.as_deref()).ok_or_else(unknown)?;
            Ok(Target { container: Some(r.container), attr: r.attr, sub: r.sub })
        }
        Scope::Element(parent) => {
            if path.urn.is_some() || path.sub.is_some() || path.filter.is_some() {
                return Err(ScimError::InvalidFilter(format!(
                    "'{path}' inside a value filter must name a sub-attribute of '{}'",
                    parent.name
                )));
            }
            Ok(Target { container: None, attr: parent.sub(&path.attr).ok_or_else(unknown)?, sub: None })
        }
    }
}

/// Validates a filter against a resource type. Errors are `invalidFilter` with a detail naming the culprit.
pub fn check_filter(filter: &Filter, rt: &'static ResourceType) -> ScimResult<()> {
    check(filter, Scope::Resource(rt))
}

fn check(filter: &Filter, scope: Scope) -> ScimResult<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, scope)?;
            check(b, scope)
        }
        Filter::Not(inner) => check(inner, scope),
        Filter::Present(path) | Filter::ValuePath(path) => check_path(scope, path).map(|_| ()),
        Filter::Compare { path, op, value } => {
            let target = check_path(scope, path)?;
            let def = compared_def(&target).ok_or_else(|| {
                ScimError::InvalidFilter(format!("'{path}' is complex: compare one of its sub-attributes"))
            })?;
            check_comparison(def, *op, value, path)
        }
    }
}

fn check_path(scope: Scope, path: &AttrPath) -> ScimResult<Target> {
    let target = resolve(scope, path)?;
    if let Some(inner) = &path.filter {
        if target.attr.ty != AttrType::Complex {
            return Err(ScimError::InvalidFilter(format!(
                "'{}' is not complex and cannot take a value filter",
                target.attr.name
            )));
        }
        check(inner, Scope::Element(target.attr))?;
    }
    Ok(target)
}

/// The definition a comparison really tests: a complex attribute without a sub-attribute compares its
/// `value` sub-attribute (RFC 7644 section 3.4.2.2, `emails co "x"`).
fn compared_def(target: &Target) -> Option<&'static AttrDef> {
    match target.sub {
        Some(sub) => Some(sub),
        None if target.attr.ty == AttrType::Complex => target.attr.sub("value"),
        None => Some(target.attr),
    }
}

fn check_comparison(def: &AttrDef, op: CompareOp, value: &Literal, path: &AttrPath) -> ScimResult<()> {
    let bad = |why: &str| Err(ScimError::InvalidFilter(format!("'{path} {} {value}': {why}", op.as_str())));
    if *value == Literal::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => bad("null only compares with eq or ne"),
        };
    }
    match def.ty {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return bad("booleans only compare with eq or ne");
            }
            if literal_bool(value).is_none() {
                return bad("expected true or false");
            }
        }
        AttrType::Integer => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return bad("integers do not support co, sw or ew");
            }
            if literal_number(value).is_none() {
                return bad("expected a number");
            }
        }
        AttrType::DateTime => {
            let Literal::String(s) = value else {
                return bad("expected a quoted dateTime");
            };
            if op.is_ordering() || op == CompareOp::Eq || op == CompareOp::Ne {
                parse_datetime(s).ok_or_else(|| {
                    ScimError::InvalidFilter(format!("'{s}' is not an xsd:dateTime such as 2026-01-31T12:00:00Z"))
                })?;
            }
        }
        AttrType::String | AttrType::Reference => {
            if !matches!(value, Literal::String(_)) {
                return bad("expected a quoted string");
            }
        }
        AttrType::Complex => return bad("complex attributes cannot be compared"),
    }
    Ok(())
}

fn literal_bool(value: &Literal) -> Option<bool> {
    match value {
        Literal::Bool(b) => Some(*b),
        // Entra sends booleans as "True"/"False" strings; accept them in filters too.
        Literal::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Literal::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn literal_number(value: &Literal) -> Option<f64> {
    match value {
        Literal::Number(n) => n.as_f64(),
        _ => None,
    }
}

pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Whether a resource matches a filter that `check_filter` accepted for the same resource type.
pub fn matches(filter: &Filter, resource: &Value, rt: &'static ResourceType) -> bool {
    eval(filter, resource, Scope::Resource(rt))
}

fn eval(filter: &Filter, node: &Value, scope: Scope) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, node, scope) && eval(b, node, scope),
        Filter::Or(a, b) => eval(a, node, scope) || eval(b, node, scope),
        Filter::Not(inner) => !eval(inner, node, scope),
        Filter::Present(path) => match selected(scope, path, node) {
            Some((_, values)) => values.into_iter().any(present),
            None => false,
        },
        Filter::ValuePath(path) => match selected(scope, path, node) {
            Some((_, values)) => !values.is_empty(),
            None => false,
        },
        Filter::Compare { path, op, value } => {
            let Some((target, values)) = selected(scope, path, node) else {
                return false;
            };
            let Some(def) = compared_def(&target) else {
                return false;
            };
            let values: Vec<&Value> = if target.sub.is_none() && target.attr.ty == AttrType::Complex {
                values.into_iter().filter_map(|v| v.get(def.name)).collect()
            } else {
                values
            };
            let values: Vec<&Value> = values.into_iter().filter(|v| present(v)).collect();
            match (op, value) {
                (CompareOp::Eq, Literal::Null) => values.is_empty(),
                (CompareOp::Ne, Literal::Null) => !values.is_empty(),
                (CompareOp::Ne, _) => !values.iter().any(|v| compare(def, v, CompareOp::Eq, value)),
                _ => values.iter().any(|v| compare(def, v, *op, value)),
            }
        }
    }
}

/// The values a path selects in `node`: every element of a multi-valued attribute (narrowed by the value
/// filter), then their sub-attribute if the path names one. `None` when the path does not resolve.
fn selected<'v>(scope: Scope, path: &AttrPath, node: &'v Value) -> Option<(Target, Vec<&'v Value>)> {
    let target = resolve(scope, path).ok()?;
    let holder = match target.container {
        Some(Container::Extension(urn)) => node.get(urn)?,
        _ => node,
    };
    let Some(raw) = holder.get(target.attr.name) else {
        return Some((target, Vec::new()));
    };
    let mut elements: Vec<&Value> = match raw {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if let Some(inner) = &path.filter {
        elements.retain(|e| eval(inner, e, Scope::Element(target.attr)));
    }
    if let Some(sub) = target.sub {
        elements = elements.into_iter().filter_map(|e| e.get(sub.name)).collect();
    }
    Some((target, elements))
}

/// Validates the filter inside a PATCH path's brackets against the sub-attributes of `parent`.
pub(crate) fn check_element_filter(filter: &Filter, parent: &'static AttrDef) -> ScimResult<()> {
    check(filter, Scope::Element(parent))
}

/// Whether one value of the multi-valued `parent` matches a bracketed filter.
pub(crate) fn element_matches(filter: &Filter, element: &Value, parent: &'static AttrDef) -> bool {
    eval(filter, element, Scope::Element(parent))
}

/// The values at a resource-level path, for sorting. Multi-valued attributes put their primary value first.
pub(crate) fn values_at<'v>(
    rt: &'static ResourceType,
    path: &AttrPath,
    resource: &'v Value,
) -> Option<(Target, Vec<&'v Value>)> {
    selected(Scope::Resource(rt), path, resource)
}

/// RFC 7644 `pr`: the attribute has a value that is not null, not an empty string and not empty.
fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Case folding for `caseExact: false` attributes. The store folds its userName and displayName index keys
/// with the same function so an indexed lookup agrees with a scan.
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

fn compare(def: &AttrDef, actual: &Value, op: CompareOp, lit: &Literal) -> bool {
    match def.ty {
        AttrType::Boolean => match (actual.as_bool(), literal_bool(lit)) {
            (Some(a), Some(b)) => (op == CompareOp::Eq) == (a == b),
            _ => false,
        },
        AttrType::Integer => match (actual.as_f64(), literal_number(lit)) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|ord| ordered(op, ord)),
            _ => false,
        },
        AttrType::DateTime => {
            let (Some(a), Literal::String(b)) = (actual.as_str(), lit) else {
                return false;
            };
            match op {
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => compare_text(a, b, op),
                _ => match (parse_datetime(a), parse_datetime(b)) {
                    (Some(a), Some(b)) => ordered(op, a.cmp(&b)),
                    _ => false,
                },
            }
        }
        AttrType::String | AttrType::Reference => {
            let (Some(a), Literal::String(b)) = (actual.as_str(), lit) else {
                return false;
            };
            if def.case_exact { compare_text(a, b, op) } else { compare_text(&fold_case(a), &fold_case(b), op) }
        }
        AttrType::Complex => false,
    }
}

fn compare_text(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordered(op, a.cmp(b)),
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Attributes the store keeps an index for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedAttr {
    Id,
    UserName,
    ExternalId,
    DisplayName,
}

/// An equality the store can answer from an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexLookup {
    pub attr: IndexedAttr,
    /// The value to look up; already folded with `fold_case` when `case_exact` is false.
    pub key: String,
    pub case_exact: bool,
    /// The lookup is the whole filter: its result needs no further `matches`.
    pub complete: bool,
}

/// The indexed equality a filter implies, if any: the filter itself (`userName eq "x"`) or one side of a
/// top-level `and` (Entra's `id eq "a" and members[...]` reference checks).
pub fn index_hint(filter: &Filter, rt: &'static ResourceType) -> Option<IndexLookup> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value: Literal::String(s) }
            if path.filter.is_none() && path.sub.is_none() =>
        {
            let r = rt.resolve(path.urn.as_deref(), &path.attr, None)?;
            if r.container != Container::Core {
                return None;
            }
            let attr = match r.attr.name {
                "id" => IndexedAttr::Id,
                "userName" => IndexedAttr::UserName,
                "externalId" => IndexedAttr::ExternalId,
                "displayName" => IndexedAttr::DisplayName,
                _ => return None,
            };
            let case_exact = r.attr.case_exact;
            Some(IndexLookup {
                attr,
                key: if case_exact { s.clone() } else { fold_case(s) },
                case_exact,
                complete: true,
            })
        }
        Filter::And(a, b) => {
            index_hint(a, rt).or_else(|| index_hint(b, rt)).map(|hint| IndexLookup { complete: false, ..hint })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::{GROUP_TYPE, USER_TYPE};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "usr_01ABC",
            "externalId": "Ext-7",
            "userName": "BJensen@Example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@home.org", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
            "urn:scaidrive:scim:User": {"role": "admin", "quota_bytes": 1000},
            "meta": {"created": "2026-01-10T08:00:00Z", "lastModified": "2026-02-01T12:30:00Z"}
        })
    }

    fn hit(text: &str) -> bool {
        let f = parse_filter(text).expect("filter parses");
        check_filter(&f, &USER_TYPE).expect("filter checks");
        matches(&f, &user(), &USER_TYPE)
    }

    #[test]
    fn user_name_compares_case_insensitively_and_ids_exactly() {
        assert!(hit(r#"userName eq "bjensen@example.com""#));
        assert!(hit(r#"USERNAME sw "BJENSEN""#));
        assert!(hit(r#"externalId eq "Ext-7""#));
        assert!(!hit(r#"externalId eq "ext-7""#));
        assert!(!hit(r#"id eq "USR_01ABC""#));
    }

    #[test]
    fn every_string_operator_behaves_as_the_rfc_says() {
        assert!(hit(r#"displayName co "abs J""#));
        assert!(hit(r#"displayName ew "jensen""#));
        assert!(hit(r#"displayName ne "someone""#));
        assert!(hit(r#"displayName gt "Alice""#));
        assert!(hit(r#"displayName ge "babs jensen""#));
        assert!(hit(r#"displayName lt "Carl""#));
        assert!(hit(r#"displayName le "babs jensen""#));
        assert!(!hit(r#"displayName lt "Alice""#));
    }

    #[test]
    fn logic_and_presence() {
        assert!(hit("name.formatted pr or userName pr"));
        assert!(hit(r#"not (active eq false) and (name.familyName eq "jensen" or userName eq "x")"#));
        assert!(!hit("name.formatted pr"));
        assert!(hit("name.givenName pr"));
        assert!(!hit(r#"not (userName pr)"#));
    }

    #[test]
    fn multi_valued_and_value_filters() {
        assert!(hit(r#"emails.value ew "@home.org""#));
        assert!(hit(r#"emails co "home.org""#));
        assert!(hit(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!hit(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(hit(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#));
        assert!(hit(r#"emails[primary eq true].type eq "work""#));
    }

    #[test]
    fn extensions_booleans_integers_and_dates() {
        assert!(hit(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#));
        assert!(hit(r#"urn:scaidrive:scim:User:role eq "admin""#));
        assert!(hit("urn:scaidrive:scim:User:quota_bytes ge 1000"));
        assert!(!hit("urn:scaidrive:scim:User:quota_bytes gt 1000"));
        assert!(hit(r#"active eq "True""#));
        assert!(hit(r#"meta.lastModified gt "2026-01-31T23:00:00Z""#));
        assert!(!hit(r#"meta.created lt "2026-01-10T09:00:00+01:00""#));
        assert!(hit(r#"meta.created eq "2026-01-10T09:00:00+01:00""#));
    }

    #[test]
    fn null_and_absent_attributes() {
        assert!(hit("name.formatted eq null"));
        assert!(hit("userName ne null"));
        assert!(hit(r#"name.formatted ne "x""#));
        assert!(!hit(r#"name.formatted eq "x""#));
    }

    #[test]
    fn bad_filters_are_refused_before_evaluation() {
        for bad in [
            r#"nosuch eq "x""#,
            r#"active gt true"#,
            r#"active eq "maybe""#,
            r#"urn:scaidrive:scim:User:quota_bytes co 1"#,
            r#"userName eq 42"#,
            r#"meta.created gt "yesterday""#,
            r#"name eq "x""#,
            r#"userName[value eq "x"]"#,
            r#"emails[nosuch eq "x"]"#,
            r#"department eq "R&D""#,
        ] {
            let f = parse_filter(bad).expect("parses");
            assert!(
                matches!(check_filter(&f, &USER_TYPE), Err(ScimError::InvalidFilter(_))),
                "{bad} should be refused"
            );
        }
    }

    proptest::proptest! {
        /// The store answers `userName eq` from an index keyed by `fold_case(userName)`; that must find
        /// exactly the users a full scan with `matches` finds.
        #[test]
        fn indexed_lookup_agrees_with_a_scan(
            names in proptest::collection::vec("[a-zA-Z\u{e9}\u{c9}\u{df}]{1,4}", 1..8),
            probe in "[a-zA-Z\u{e9}\u{c9}\u{df}]{1,4}",
        ) {
            let filter = parse_filter(&format!("userName eq {}", serde_json::Value::from(probe.clone()))).expect("parses");
            let hint = index_hint(&filter, &USER_TYPE).expect("indexed");
            for name in &names {
                let user = json!({"userName": name});
                proptest::prop_assert_eq!(matches(&filter, &user, &USER_TYPE), fold_case(name) == hint.key, "{}", name);
            }
        }
    }

    #[test]
    fn index_hints_cover_the_identity_provider_lookups() {
        let hint = |t: &str, rt| index_hint(&parse_filter(t).expect("parses"), rt);
        assert_eq!(
            hint(r#"userName eq "BJensen""#, &USER_TYPE),
            Some(IndexLookup { attr: IndexedAttr::UserName, key: "bjensen".into(), case_exact: false, complete: true })
        );
        let ext = hint(r#"externalId eq "E-1""#, &USER_TYPE).expect("externalId");
        assert_eq!((ext.attr, ext.key.as_str()), (IndexedAttr::ExternalId, "E-1"));
        let group = hint(r#"displayName eq "Sales""#, &GROUP_TYPE).expect("group name");
        assert_eq!((group.attr, group.key.as_str()), (IndexedAttr::DisplayName, "sales"));
        let partial = hint(r#"id eq "grp_1" and members[value eq "usr_2"]"#, &GROUP_TYPE).expect("and");
        assert_eq!((partial.attr, partial.complete), (IndexedAttr::Id, false));
        assert_eq!(hint(r#"userName eq "a" or userName eq "b""#, &USER_TYPE), None);
        assert_eq!(hint(r#"userName co "a""#, &USER_TYPE), None);
        assert_eq!(hint(r#"userName eq "a""#, &GROUP_TYPE), None);
    }
}
