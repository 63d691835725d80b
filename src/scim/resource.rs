//! The SCIM User as a plain record the store can keep, and its JSON both ways: `ScimUser::from_json`
//! validates and normalizes a POST/PUT body (or a PATCHed resource), `ScimUserRecord::to_json` renders the
//! full resource with `meta`. Shared pieces (meta, ETags, locations) are here too; `group.rs` does the Group.
//!
//! Only what these records hold is published in `/Schemas`, so every advertised attribute round-trips.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ScimError, ScimResult};
use super::normalize::normalize_body;
use super::schema::{ENTERPRISE_SCHEMA, ResourceType, SCAIDRIVE_SCHEMA, USER_SCHEMA, USER_TYPE};
use crate::ids::{GroupId, UserId};

/// The readOnly bookkeeping of a stored resource. `version` increases on every change that alters the resource;
/// the weak ETag is `W/"<version>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimMeta {
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub version: u64,
}

impl ScimMeta {
    pub(crate) fn to_json(&self, resource_type: &str, location: String) -> Value {
        json!({
            "resourceType": resource_type,
            "created": timestamp(self.created),
            "lastModified": timestamp(self.last_modified),
            "location": location,
            "version": etag(self.version),
        })
    }
}

/// xsd:dateTime as RFC 7643 section 2.3.5 wants it (`2026-01-31T12:00:00Z`).
pub fn timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The weak ETag for a version: both the `ETag` header and `meta.version`.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match` header allows a write to the resource at `version` (RFC 7232: `*` or any listed tag,
/// compared weakly). A write whose `If-Match` fails gets 412.
pub fn if_match_allows(header: &str, version: u64) -> bool {
    let want = version.to_string();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == want)
}

/// `<base>/<Users|Groups>/<id>`, the `meta.location` and `Location` header. `base` is the public SCIM base URL
/// (`https://drive.example.com/scim/v2`), with or without a trailing slash.
pub fn location(base: &str, endpoint: &str, id: &str) -> String {
    format!("{}{endpoint}/{id}", base.trim_end_matches('/'))
}

/// `name`: only the parts ScaiDrive keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimName {
    pub formatted: Option<String>,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
}

impl ScimName {
    fn is_empty(&self) -> bool {
        self.formatted.is_none() && self.family_name.is_none() && self.given_name.is_none()
    }
}

/// One entry of `emails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimEmail {
    pub value: String,
    /// `work`, `home`, ... as the client labelled it.
    pub kind: Option<String>,
    /// As the client sent it: `Some(false)` reads back as `false`, unassigned stays unassigned.
    pub primary: Option<bool>,
}

impl ScimEmail {
    pub fn is_primary(&self) -> bool {
        self.primary == Some(true)
    }
}

/// The `urn:scaidrive:scim:User:role` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimRole {
    User,
    Admin,
    Superadmin,
}

impl ScimRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Superadmin => "superadmin",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Admin, Self::Superadmin].into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

/// The writable attributes of a User: what POST and PUT carry and what PATCH changes. `None` means unassigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    /// The SSO subject; unique compared with `eval::fold_case`; stored exactly as sent.
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub name: ScimName,
    pub emails: Vec<ScimEmail>,
    /// `Some(false)` suspends the account; unassigned counts as active (see `is_active`).
    pub active: Option<bool>,
    pub department: Option<String>,
    /// The manager's id as the IdP sent it (free text for ScaiDrive).
    pub manager: Option<String>,
    /// Unassigned means the store's default role.
    pub role: Option<ScimRole>,
    pub quota_bytes: Option<u64>,
}

impl ScimUser {
    /// Validates and normalizes a POST/PUT body (or a PATCHed resource). `id`, `meta`, `groups` and unknown
    /// attributes are ignored (see `ignored_attributes` to log them); a missing `userName` or a wrong type is
    /// `invalidValue`.
    pub fn from_json(body: &Value) -> ScimResult<Self> {
        let n = normalize_body(&USER_TYPE, body)?.body;
        let user_name = text(&n, "userName").ok_or_else(|| ScimError::InvalidValue("userName is required".into()))?;
        let name = n.get("name");
        let emails = match n.get("emails") {
            Some(Value::Array(items)) => items.iter().map(email).collect::<ScimResult<Vec<_>>>()?,
            _ => Vec::new(),
        };
        let enterprise = n.get(ENTERPRISE_SCHEMA);
        let scaidrive = n.get(SCAIDRIVE_SCHEMA);
        let role = match scaidrive.and_then(|s| s.get("role")).and_then(Value::as_str) {
            // normalize_body already refused values outside the schema's canonical list.
            Some(r) => ScimRole::parse(r),
            None => None,
        };
        let quota_bytes = match scaidrive.and_then(|s| s.get("quota_bytes")) {
            Some(q) => Some(q.as_u64().ok_or_else(|| {
                ScimError::InvalidValue(format!("quota_bytes must be a non-negative integer, got {q}"))
            })?),
            None => None,
        };
        let mut user = Self {
            user_name,
            external_id: text(&n, "externalId"),
            display_name: text(&n, "displayName"),
            name: ScimName {
                formatted: name.and_then(|v| sub_text(v, "formatted")),
                family_name: name.and_then(|v| sub_text(v, "familyName")),
                given_name: name.and_then(|v| sub_text(v, "givenName")),
            },
            emails,
            active: n.get("active").and_then(Value::as_bool),
            department: enterprise.and_then(|e| sub_text(e, "department")),
            manager: enterprise.and_then(|e| e.get("manager")).and_then(|m| sub_text(m, "value")),
            role,
            quota_bytes,
        };
        // RFC 7643 section 2.4: at most one primary value. Keep the first the client marked.
        let mut seen_primary = false;
        for e in &mut user.emails {
            if e.is_primary() && seen_primary {
                e.primary = Some(false);
            }
            seen_primary |= e.is_primary();
        }
        Ok(user)
    }

    /// Whether the account may sign in (unassigned `active` counts as active).
    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(true)
    }

    /// The address ScaiDrive uses: the primary email, else the first.
    pub fn email(&self) -> Option<&str> {
        self.emails.iter().find(|e| e.is_primary()).or_else(|| self.emails.first()).map(|e| e.value.as_str())
    }
}

/// A group the user belongs to, for the derived readOnly `groups` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroupRef {
    pub id: GroupId,
    pub display: String,
}

/// A stored User as the store hands it to the SCIM layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserRecord {
    pub id: UserId,
    pub user: ScimUser,
    /// Derived from group membership by the store at read time, never written through SCIM.
    pub groups: Vec<ScimGroupRef>,
    pub meta: ScimMeta,
}

impl ScimUserRecord {
    /// The full resource (every `returned: default` attribute). `base` is the public SCIM base URL.
    pub fn to_json(&self, base: &str) -> Value {
        let u = &self.user;
        let mut out = Map::new();
        let mut schemas = vec![Value::from(USER_SCHEMA)];
        out.insert("id".into(), Value::String(self.id.to_string()));
        insert_opt(&mut out, "externalId", &u.external_id);
        out.insert("userName".into(), Value::String(u.user_name.clone()));
        if !u.name.is_empty() {
            let mut name = Map::new();
            insert_opt(&mut name, "formatted", &u.name.formatted);
            insert_opt(&mut name, "familyName", &u.name.family_name);
            insert_opt(&mut name, "givenName", &u.name.given_name);
            out.insert("name".into(), Value::Object(name));
        }
        insert_opt(&mut out, "displayName", &u.display_name);
        if !u.emails.is_empty() {
            let emails = u.emails.iter().map(|e| {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(e.value.clone()));
                insert_opt(&mut m, "type", &e.kind);
                if let Some(p) = e.primary {
                    m.insert("primary".into(), Value::Bool(p));
                }
                Value::Object(m)
            });
            out.insert("emails".into(), Value::Array(emails.collect()));
        }
        if let Some(active) = u.active {
            out.insert("active".into(), Value::Bool(active));
        }
        if !self.groups.is_empty() {
            let groups = self.groups.iter().map(|g| {
                json!({
                    "value": g.id.to_string(),
                    "$ref": location(base, "/Groups", &g.id.to_string()),
                    "display": g.display,
                    "type": "direct",
                })
            });
            out.insert("groups".into(), Value::Array(groups.collect()));
        }
        let mut enterprise = Map::new();
        insert_opt(&mut enterprise, "department", &u.department);
        if let Some(m) = &u.manager {
            enterprise.insert("manager".into(), json!({ "value": m }));
        }
        if !enterprise.is_empty() {
            schemas.push(Value::from(ENTERPRISE_SCHEMA));
            out.insert(ENTERPRISE_SCHEMA.into(), Value::Object(enterprise));
        }
        let mut scaidrive = Map::new();
        if let Some(role) = u.role {
            scaidrive.insert("role".into(), Value::from(role.as_str()));
        }
        if let Some(q) = u.quota_bytes {
            scaidrive.insert("quota_bytes".into(), Value::from(q));
        }
        if !scaidrive.is_empty() {
            schemas.push(Value::from(SCAIDRIVE_SCHEMA));
            out.insert(SCAIDRIVE_SCHEMA.into(), Value::Object(scaidrive));
        }
        let id = self.id.to_string();
        out.insert("meta".into(), self.meta.to_json("User", location(base, "/Users", &id)));
        out.insert("schemas".into(), Value::Array(schemas));
        Value::Object(out)
    }
}

/// The keys of a body that no published schema defines or that are readOnly, for the caller to log
/// (RFC 7644 section 3.3: they are ignored, not refused).
pub fn ignored_attributes(rt: &'static ResourceType, body: &Value) -> Vec<String> {
    normalize_body(rt, body).map(|n| n.ignored).unwrap_or_default()
}

pub(crate) fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_string)
}

fn sub_text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn insert_opt(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(key.to_string(), Value::String(v.clone()));
    }
}

fn email(v: &Value) -> ScimResult<ScimEmail> {
    let value = sub_text(v, "value").ok_or_else(|| ScimError::InvalidValue("every email needs a value".into()))?;
    Ok(ScimEmail { value, kind: sub_text(v, "type"), primary: v.get("primary").and_then(Value::as_bool) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::option;
    use proptest::prelude::*;
    use time::macros::datetime;

    pub(crate) const BASE: &str = "https://drive.example.com/scim/v2";

    pub(crate) fn meta() -> ScimMeta {
        ScimMeta {
            created: datetime!(2026-01-10 08:00 UTC),
            last_modified: datetime!(2026-02-01 12:30 UTC),
            version: 3,
        }
    }

    pub(crate) fn record(body: Value) -> ScimUserRecord {
        ScimUserRecord {
            id: UserId::new(),
            user: ScimUser::from_json(&body).expect("valid user"),
            groups: Vec::new(),
            meta: meta(),
        }
    }

    #[test]
    fn a_created_user_reads_back_as_sent_with_meta() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, SCAIDRIVE_SCHEMA],
            "externalId": "e-1",
            "userName": "bjensen@example.com",
            "name": {"formatted": "Ms. Barbara Jensen", "familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs",
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true,
            ENTERPRISE_SCHEMA: {"department": "R&D", "manager": {"value": "boss"}},
            SCAIDRIVE_SCHEMA: {"role": "admin", "quota_bytes": 1_000_000},
        });
        let rec = record(body.clone());
        let out = rec.to_json(BASE);
        let id = rec.id.to_string();
        let mut expected = body;
        expected["id"] = json!(id);
        expected["meta"] = json!({
            "resourceType": "User",
            "created": "2026-01-10T08:00:00Z",
            "lastModified": "2026-02-01T12:30:00Z",
            "location": format!("{BASE}/Users/{id}"),
            "version": "W/\"3\"",
        });
        assert_eq!(out, expected);
        assert_eq!(ScimUser::from_json(&out), Ok(rec.user));
    }

    #[test]
    fn unassigned_attributes_are_omitted_not_null() {
        let rec = record(json!({"userName": "a", "displayName": null, "emails": []}));
        assert_eq!(
            rec.to_json(BASE).as_object().map(|o| {
                let mut keys: Vec<_> = o.keys().cloned().collect();
                keys.sort();
                keys
            }),
            Some(vec!["id".into(), "meta".into(), "schemas".into(), "userName".into()])
        );
        assert!(rec.user.is_active());
    }

    #[test]
    fn missing_user_name_is_invalid_value() {
        assert!(matches!(ScimUser::from_json(&json!({"displayName": "x"})), Err(ScimError::InvalidValue(_))));
        assert!(matches!(ScimUser::from_json(&json!({"userName": ""})), Err(ScimError::InvalidValue(_))));
    }

    #[test]
    fn entra_string_booleans_deactivate() {
        let u = ScimUser::from_json(&json!({"userName": "a", "active": "False"})).expect("valid");
        assert!(!u.is_active());
    }

    #[test]
    fn only_one_email_stays_primary() {
        let u = ScimUser::from_json(&json!({"userName": "a", "emails": [
            {"value": "a@x", "primary": true}, {"value": "b@x", "primary": "True"}
        ]}))
        .expect("valid");
        assert_eq!(u.emails.iter().filter(|e| e.is_primary()).count(), 1);
        assert_eq!(u.email(), Some("a@x"));
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{1,12}"
    }

    fn user_strategy() -> impl Strategy<Value = ScimUser> {
        let name = (option::of(text()), option::of(text()), option::of(text()))
            .prop_map(|(formatted, family_name, given_name)| ScimName { formatted, family_name, given_name });
        let email = (text(), option::of(text()), prop_oneof![Just(None), Just(Some(false))])
            .prop_map(|(value, kind, primary)| ScimEmail { value, kind, primary });
        let emails = (proptest::collection::vec(email, 0..3), any::<bool>()).prop_map(|(mut emails, first_primary)| {
            if let Some(first) = emails.first_mut().filter(|_| first_primary) {
                first.primary = Some(true);
            }
            emails
        });
        let role = option::of(proptest::sample::select(vec![ScimRole::User, ScimRole::Admin, ScimRole::Superadmin]));
        (
            (text(), option::of(text()), option::of(text()), name, emails),
            (option::of(any::<bool>()), option::of(text()), option::of(text()), role, option::of(any::<u64>())),
        )
            .prop_map(
                |(
                    (user_name, external_id, display_name, name, emails),
                    (active, department, manager, role, quota_bytes),
                )| {
                    ScimUser {
                        user_name,
                        external_id,
                        display_name,
                        name,
                        emails,
                        active,
                        department,
                        manager,
                        role,
                        quota_bytes,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn every_published_user_attribute_round_trips(user in user_strategy()) {
            let rec = ScimUserRecord { id: UserId::new(), user, groups: Vec::new(), meta: meta() };
            prop_assert_eq!(ScimUser::from_json(&rec.to_json(BASE)), Ok(rec.user));
        }
    }

    #[test]
    fn if_match_compares_weakly_and_accepts_star() {
        assert!(if_match_allows("W/\"3\"", 3));
        assert!(if_match_allows("\"3\"", 3));
        assert!(if_match_allows("W/\"1\", W/\"3\"", 3));
        assert!(if_match_allows("*", 9));
        assert!(!if_match_allows("W/\"2\"", 3));
    }
}
