//! The SCIM Group as a plain record, and its JSON both ways (see `resource.rs` for the User and the shared
//! meta/ETag helpers). Members are ids of users (`usr_…`) or groups (`grp_…`); whether they exist is the
//! store's question, so a well-formed but unknown id passes here and the caller answers `invalidValue`.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::normalize::normalize_body;
use super::resource::{ScimMeta, insert_opt, location, text};
use super::schema::{GROUP_SCHEMA, GROUP_TYPE};
use crate::ids::{GroupId, UserId};

/// Who a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberId {
    User(UserId),
    Group(GroupId),
}

impl MemberId {
    /// Parses a member `value`; `kind` is the member's `type` (`User`/`Group`) when the client sent one.
    pub fn parse(value: &str, kind: Option<&str>) -> ScimResult<Self> {
        let id = if let Ok(u) = value.parse::<UserId>() {
            Self::User(u)
        } else if let Ok(g) = value.parse::<GroupId>() {
            Self::Group(g)
        } else {
            return Err(ScimError::InvalidValue(format!(
                "member '{value}' is not the id of a user or group of this server"
            )));
        };
        match (kind, id) {
            (Some(k), Self::Group(_)) if k.eq_ignore_ascii_case("User") => {
                Err(ScimError::InvalidValue(format!("member '{value}' is a group but its type says User")))
            }
            (Some(k), Self::User(_)) if k.eq_ignore_ascii_case("Group") => {
                Err(ScimError::InvalidValue(format!("member '{value}' is a user but its type says Group")))
            }
            _ => Ok(id),
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            Self::User(_) => "/Users",
            Self::Group(_) => "/Groups",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Self::User(_) => "User",
            Self::Group(_) => "Group",
        }
    }
}

impl std::fmt::Display for MemberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(u) => u.fmt(f),
            Self::Group(g) => g.fmt(f),
        }
    }
}

/// One member. `display` is readOnly: the store fills it on reads; client-sent labels are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimMember {
    pub id: MemberId,
    pub display: Option<String>,
}

/// The writable attributes of a Group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    /// Unique compared with `eval::fold_case` (Entra matches groups by it).
    pub display_name: String,
    pub external_id: Option<String>,
    /// In the order first added; no duplicates.
    pub members: Vec<ScimMember>,
}

impl ScimGroup {
    /// Validates and normalizes a POST/PUT body (or a PATCHed resource). Members sent twice count once.
    pub fn from_json(body: &Value) -> ScimResult<Self> {
        let n = normalize_body(&GROUP_TYPE, body)?.body;
        let display_name =
            text(&n, "displayName").ok_or_else(|| ScimError::InvalidValue("displayName is required".into()))?;
        let mut members: Vec<ScimMember> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        if let Some(Value::Array(items)) = n.get("members") {
            for item in items {
                let value = item
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ScimError::InvalidValue("every member needs a value".into()))?;
                let id = MemberId::parse(value, item.get("type").and_then(Value::as_str))?;
                if seen.insert(id) {
                    members.push(ScimMember { id, display: None });
                }
            }
        }
        Ok(Self { display_name, external_id: text(&n, "externalId"), members })
    }
}

/// A stored Group as the store hands it to the SCIM layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroupRecord {
    pub id: GroupId,
    pub group: ScimGroup,
    pub meta: ScimMeta,
}

impl ScimGroupRecord {
    /// The full resource. For reads with `excludedAttributes=members` (Entra sends it on every group read),
    /// `to_json_without_members` skips building a large member list only to drop it.
    pub fn to_json(&self, base: &str) -> Value {
        let mut out = self.to_json_without_members(base);
        if !self.group.members.is_empty()
            && let Value::Object(o) = &mut out
        {
            let members = self.group.members.iter().map(|m| {
                let id = m.id.to_string();
                let mut v = json!({
                    "value": id,
                    "$ref": location(base, m.id.endpoint(), &id),
                    "type": m.id.type_name(),
                });
                if let (Some(d), Value::Object(mo)) = (&m.display, &mut v) {
                    mo.insert("display".into(), Value::String(d.clone()));
                }
                v
            });
            o.insert("members".into(), Value::Array(members.collect()));
        }
        out
    }

    /// The resource without `members`.
    pub fn to_json_without_members(&self, base: &str) -> Value {
        let mut out = Map::new();
        out.insert("schemas".into(), json!([GROUP_SCHEMA]));
        out.insert("id".into(), Value::String(self.id.to_string()));
        insert_opt(&mut out, "externalId", &self.group.external_id);
        out.insert("displayName".into(), Value::String(self.group.display_name.clone()));
        out.insert("meta".into(), self.meta.to_json("Group", location(base, "/Groups", &self.id.to_string())));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::tests::{BASE, meta};

    #[test]
    fn a_group_with_members_reads_back_with_refs_and_types() {
        let u = UserId::new();
        let g = GroupId::new();
        let group = ScimGroup::from_json(&json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": "Sales",
            "externalId": "okta-1",
            "members": [
                {"value": u.to_string(), "display": "Okta's label", "$ref": null},
                {"value": g.to_string(), "type": "Group"},
                {"value": u.to_string()}
            ]
        }))
        .expect("valid group");
        assert_eq!(group.members.len(), 2, "the duplicate member counts once");
        let rec = ScimGroupRecord { id: GroupId::new(), group, meta: meta() };
        let out = rec.to_json(BASE);
        assert_eq!(
            out["members"],
            json!([
                {"value": u.to_string(), "$ref": format!("{BASE}/Users/{u}"), "type": "User"},
                {"value": g.to_string(), "$ref": format!("{BASE}/Groups/{g}"), "type": "Group"},
            ])
        );
        assert_eq!(out["meta"]["resourceType"], "Group");
        assert_eq!(ScimGroup::from_json(&out), Ok(rec.group.clone()));
        assert!(rec.to_json_without_members(BASE).get("members").is_none());
    }

    #[test]
    fn members_must_be_ids_of_this_server() {
        for members in [
            json!([{"value": "00u1abc"}]),
            json!([{"value": 7}]),
            json!([{"value": UserId::new().to_string(), "type": "Group"}]),
        ] {
            let body = json!({"displayName": "x", "members": members});
            assert!(matches!(ScimGroup::from_json(&body), Err(ScimError::InvalidValue(_))), "{body} should be refused");
        }
        assert!(matches!(ScimGroup::from_json(&json!({"members": []})), Err(ScimError::InvalidValue(_))));
    }
}
