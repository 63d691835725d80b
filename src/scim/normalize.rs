//! Turns what clients send into the canonical JSON this server keeps: attribute names in their schema
//! spelling, extension attributes under their URN key, `null`/`""`/`[]` dropped as unassigned (RFC 7643
//! section 2.5), booleans sent as `"True"`/`"False"` strings made booleans (Entra), a `manager` sent as a
//! bare id or a one-element array made an object, canonical values in their canonical case, readOnly input
//! dropped. Wrong types are `invalidValue`.
//!
//! Both whole bodies (POST, PUT) and PATCH values go through here, so every write path accepts the same forms.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::parse_path;
use super::schema::{AttrDef, AttrType, Container, Mutability, ResourceType, Schema};

/// What a key of a body (or of a path-less PATCH value) names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyTarget {
    /// `schemas`: recomputed on output, so ignored on input.
    Schemas,
    /// A whole extension object, keyed by its URN.
    Extension(&'static Schema),
    /// An attribute, possibly a dotted `name.givenName` or URN-prefixed key (Entra's path-less PATCH).
    Attr { container: Container, attr: &'static AttrDef, sub: Option<&'static AttrDef> },
    /// Nothing this server publishes; POST and PUT ignore it (RFC 7644 section 3.3 lets us), PATCH refuses it.
    Unknown,
}

/// Resolves one body key against the resource type.
pub(crate) fn resolve_key(rt: &'static ResourceType, key: &str) -> KeyTarget {
    if key.eq_ignore_ascii_case("schemas") {
        return KeyTarget::Schemas;
    }
    if let Some(ext) = rt.extension(key) {
        return KeyTarget::Extension(ext);
    }
    let Ok(path) = parse_path(key) else {
        return KeyTarget::Unknown;
    };
    if path.filter.is_some() {
        return KeyTarget::Unknown;
    }
    match rt.resolve(path.urn.as_deref(), &path.attr, path.sub.as_deref()) {
        Some(r) => KeyTarget::Attr { container: r.container, attr: r.attr, sub: r.sub },
        None => KeyTarget::Unknown,
    }
}

/// A whole resource body in canonical form, and the keys that were ignored (for the caller's log).
pub(crate) struct Normalized {
    pub body: Map<String, Value>,
    pub ignored: Vec<String>,
}

/// Normalizes a POST or PUT body. readOnly attributes (`id`, `meta`, `groups`) and unknown keys are ignored.
pub(crate) fn normalize_body(rt: &'static ResourceType, body: &Value) -> ScimResult<Normalized> {
    let Value::Object(input) = body else {
        return Err(ScimError::InvalidSyntax("the request body must be a JSON object".into()));
    };
    let mut out = Normalized { body: Map::new(), ignored: Vec::new() };
    for (key, value) in input {
        match resolve_key(rt, key) {
            KeyTarget::Schemas => {}
            KeyTarget::Unknown => out.ignored.push(key.clone()),
            KeyTarget::Extension(ext) => match value {
                Value::Null => {}
                Value::Object(fields) => {
                    for (k, v) in fields {
                        match ext.attr(k) {
                            Some(def) => put(&mut out, Container::Extension(ext.id), def, None, v, key)?,
                            None => out.ignored.push(format!("{}:{k}", ext.id)),
                        }
                    }
                }
                _ => {
                    return Err(ScimError::InvalidValue(format!(
                        "'{}' must be an object of extension attributes",
                        ext.id
                    )));
                }
            },
            KeyTarget::Attr { container, attr, sub } => put(&mut out, container, attr, sub, value, key)?,
        }
    }
    Ok(out)
}

fn put(
    out: &mut Normalized,
    container: Container,
    attr: &'static AttrDef,
    sub: Option<&'static AttrDef>,
    value: &Value,
    key: &str,
) -> ScimResult<()> {
    let def = sub.unwrap_or(attr);
    if !attr.writable() || !def.writable() {
        out.ignored.push(key.to_string());
        return Ok(());
    }
    let Some(v) = normalize_value(def, value)? else {
        return Ok(());
    };
    let holder = match container {
        Container::Core => &mut out.body,
        Container::Extension(urn) => match out.body.entry(urn).or_insert_with(|| Value::Object(Map::new())) {
            Value::Object(m) => m,
            _ => return Ok(()),
        },
    };
    match sub {
        None => {
            holder.insert(attr.name.to_string(), v);
        }
        Some(sub) => {
            let parent = holder.entry(attr.name).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(p) = parent {
                p.insert(sub.name.to_string(), v);
            }
        }
    }
    Ok(())
}

/// Normalizes one attribute value. `Ok(None)` means "unassigned" (null, empty string, empty list or object).
pub(crate) fn normalize_value(def: &AttrDef, value: &Value) -> ScimResult<Option<Value>> {
    if def.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = normalize_single(def, item)? {
                out.push(v);
            }
        }
        return Ok(if out.is_empty() { None } else { Some(Value::Array(out)) });
    }
    // Entra sends `manager` as `[{"value": ...}]`; a one-element array of a single-valued attribute is that value.
    if let Value::Array(items) = value {
        return match items.as_slice() {
            [] => Ok(None),
            [one] => normalize_single(def, one),
            _ => Err(ScimError::InvalidValue(format!("'{}' is single-valued but got a list", def.name))),
        };
    }
    normalize_single(def, value)
}

fn normalize_single(def: &AttrDef, value: &Value) -> ScimResult<Option<Value>> {
    let wrong =
        |want: &str| Err(ScimError::InvalidValue(format!("'{}' must be {want}, got {}", def.name, short(value))));
    match (def.ty, value) {
        (_, Value::Null) => Ok(None),
        (AttrType::Complex, Value::Object(fields)) => {
            let mut out = Map::new();
            for (k, v) in fields {
                // Unknown or readOnly sub-attributes (Okta's `display` on members) are dropped, not refused.
                let Some(sub) = def.sub(k) else { continue };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = normalize_single(sub, v)? {
                    out.insert(sub.name.to_string(), v);
                }
            }
            Ok(if out.is_empty() { None } else { Some(Value::Object(out)) })
        }
        // A bare string for a complex attribute means its `value` (Entra's `"manager": "u-7"`).
        (AttrType::Complex, Value::String(s)) => match def.sub("value") {
            Some(_) if s.is_empty() => Ok(None),
            Some(_) => {
                let mut out = Map::new();
                out.insert("value".into(), Value::String(s.clone()));
                Ok(Some(Value::Object(out)))
            }
            None => wrong("an object"),
        },
        (AttrType::Complex, _) => wrong("an object"),
        (AttrType::Boolean, Value::Bool(b)) => Ok(Some(Value::Bool(*b))),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
        (AttrType::Boolean, _) => wrong("true or false"),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(value.clone())),
        (AttrType::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Ok(Some(Value::from(n))),
            Err(_) if s.is_empty() => Ok(None),
            Err(_) => wrong("an integer"),
        },
        (AttrType::Integer, _) => wrong("an integer"),
        (AttrType::DateTime, Value::String(s)) => {
            if super::eval::parse_datetime(s).is_some() {
                Ok(Some(value.clone()))
            } else {
                wrong("an xsd:dateTime")
            }
        }
        (AttrType::DateTime, _) => wrong("an xsd:dateTime"),
        (AttrType::String | AttrType::Reference, Value::String(s)) => {
            if s.is_empty() {
                // OneLogin sends unmapped template fields as "": the same as unassigned.
                return Ok(None);
            }
            if def.canonical_values.is_empty() || def.mutability == Mutability::ReadOnly {
                return Ok(Some(value.clone()));
            }
            match def.canonical_values.iter().find(|c| c.eq_ignore_ascii_case(s)) {
                Some(c) => Ok(Some(Value::String((*c).to_string()))),
                None => Err(ScimError::InvalidValue(format!(
                    "'{}' must be one of {}, got {}",
                    def.name,
                    def.canonical_values.join(", "),
                    short(value)
                ))),
            }
        }
        (AttrType::String | AttrType::Reference, _) => wrong("a string"),
    }
}

/// A value for an error message, cut short so a huge body does not end up in a log line.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_SCHEMA, GROUP_TYPE, SCAIDRIVE_SCHEMA, USER_TYPE};
    use serde_json::json;

    #[test]
    fn bodies_come_out_in_canonical_spelling_with_unassigned_values_dropped() {
        let n = normalize_body(
            &USER_TYPE,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "USERNAME": "bjensen",
                "Active": "False",
                "name": {"GivenName": "Barbara", "middleName": "X", "formatted": ""},
                "addresses": null,
                "roles": [],
                "displayName": null,
                "id": "client-chosen",
                "meta": {"resourceType": "User"},
                "groups": [],
                "password": "secret",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "R&D", "manager": null},
                "urn:scaidrive:scim:User": {"role": "Admin", "quota_bytes": "1024"}
            }),
        )
        .expect("normalizes");
        assert_eq!(
            Value::Object(n.body),
            json!({
                "userName": "bjensen",
                "active": false,
                "name": {"givenName": "Barbara"},
                ENTERPRISE_SCHEMA: {"department": "R&D"},
                SCAIDRIVE_SCHEMA: {"role": "admin", "quota_bytes": 1024}
            })
        );
        for ignored in ["addresses", "roles", "id", "meta", "groups", "password"] {
            assert!(n.ignored.iter().any(|k| k == ignored), "{ignored} should be reported");
        }
    }

    #[test]
    fn manager_arrives_in_three_shapes_and_means_one_thing() {
        for manager in [json!("usr_7"), json!({"value": "usr_7", "$ref": null}), json!([{"value": "usr_7"}])] {
            let n = normalize_body(&USER_TYPE, &json!({"userName": "a", ENTERPRISE_SCHEMA: {"manager": manager}}))
                .expect("normalizes");
            assert_eq!(n.body[ENTERPRISE_SCHEMA]["manager"], json!({"value": "usr_7"}));
        }
    }

    #[test]
    fn dotted_and_urn_prefixed_keys_land_in_place() {
        let n = normalize_body(
            &USER_TYPE,
            &json!({
                "name.givenName": "B",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"
            }),
        )
        .expect("normalizes");
        assert_eq!(n.body["name"], json!({"givenName": "B"}));
        assert_eq!(n.body[ENTERPRISE_SCHEMA], json!({"department": "Ops"}));
    }

    #[test]
    fn wrong_types_are_invalid_values() {
        for body in [
            json!({"userName": 42}),
            json!({"active": "yes"}),
            json!({"emails": [{"value": 1}]}),
            json!({"name": "Barbara"}),
            json!({SCAIDRIVE_SCHEMA: {"role": "owner"}}),
            json!({SCAIDRIVE_SCHEMA: {"quota_bytes": "lots"}}),
            json!({SCAIDRIVE_SCHEMA: "admin"}),
        ] {
            assert!(
                matches!(normalize_body(&USER_TYPE, &body), Err(ScimError::InvalidValue(_))),
                "{body} should be refused"
            );
        }
        assert!(matches!(normalize_body(&USER_TYPE, &json!([1])), Err(ScimError::InvalidSyntax(_))));
    }

    #[test]
    fn member_display_from_okta_is_dropped_and_type_canonicalised() {
        let n = normalize_body(
            &GROUP_TYPE,
            &json!({"displayName": "Sales", "members": [{"value": "usr_1", "display": "B", "type": "user"}]}),
        )
        .expect("normalizes");
        assert_eq!(n.body["members"], json!([{"value": "usr_1", "type": "User"}]));
    }
}
