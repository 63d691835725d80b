//! The discovery documents: `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7644 section 4,
//! RFC 7643 sections 5-7), rendered from the tables in `schema.rs` so they cannot drift from what the server
//! really accepts. Common attributes (`id`, `externalId`, `meta`) are not listed, as RFC 7643 section 3.1 says.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::list::{Page, list_response};
use super::resource::location;
use super::schema::{ALL_RESOURCE_TYPES, ALL_SCHEMAS, AttrDef, AttrType, ResourceType, Schema};

pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// What the server advertises. Clients and checkers believe it, so only switch on what the HTTP layer does.
#[derive(Debug, Clone)]
pub struct ProviderFeatures {
    /// `filter.maxResults`: the most resources one list answer returns.
    pub max_results: usize,
    pub sort: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// `GET /ServiceProviderConfig`. PATCH is supported, Bulk and password changes are not (SSO-only).
pub fn service_provider_config(base: &str, features: &ProviderFeatures) -> Value {
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": features.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": features.sort},
        "etag": {"supported": features.etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The SCIM token issued under Identity > SCIM, sent as 'Authorization: Bearer <token>'.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base.trim_end_matches('/')),
        },
    });
    if let (Some(uri), Some(o)) = (&features.documentation_uri, doc.as_object_mut()) {
        o.insert("documentationUri".into(), Value::String(uri.clone()));
    }
    doc
}

/// `GET /Schemas` (a ListResponse of every schema).
pub fn schemas(base: &str) -> Value {
    let docs: Vec<Value> = ALL_SCHEMAS.iter().map(|s| schema_document(s, base)).collect();
    let page = Page::new(None, None, docs.len(), docs.len());
    list_response(docs.len(), &page, docs)
}

/// `GET /Schemas/<urn>`.
pub fn schema(base: &str, urn: &str) -> ScimResult<Value> {
    ALL_SCHEMAS
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .map(|s| schema_document(s, base))
        .ok_or_else(|| ScimError::NotFound(format!("no schema '{urn}'")))
}

/// `GET /ResourceTypes`.
pub fn resource_types(base: &str) -> Value {
    let docs: Vec<Value> = ALL_RESOURCE_TYPES.iter().map(|rt| resource_type_document(rt, base)).collect();
    let page = Page::new(None, None, docs.len(), docs.len());
    list_response(docs.len(), &page, docs)
}

/// `GET /ResourceTypes/<id>` (`User` or `Group`).
pub fn resource_type(base: &str, id: &str) -> ScimResult<Value> {
    ALL_RESOURCE_TYPES
        .iter()
        .find(|rt| rt.id.eq_ignore_ascii_case(id))
        .map(|rt| resource_type_document(rt, base))
        .ok_or_else(|| ScimError::NotFound(format!("no resource type '{id}'")))
}

fn resource_type_document(rt: &ResourceType, base: &str) -> Value {
    let mut doc = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rt.id,
        "name": rt.id,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.core.id,
        "meta": {"resourceType": "ResourceType", "location": location(base, "/ResourceTypes", rt.id)},
    });
    if !rt.extensions.is_empty()
        && let Some(o) = doc.as_object_mut()
    {
        let ext: Vec<Value> = rt.extensions.iter().map(|e| json!({"schema": e.id, "required": false})).collect();
        o.insert("schemaExtensions".into(), Value::Array(ext));
    }
    doc
}

fn schema_document(s: &Schema, base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().filter(|a| !a.unpublished).map(attribute).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": location(base, "/Schemas", s.id)},
    })
}

fn attribute(a: &AttrDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), a.name.into());
    m.insert("type".into(), a.ty.as_str().into());
    m.insert("multiValued".into(), a.multi_valued.into());
    m.insert("description".into(), a.description.into());
    m.insert("required".into(), a.required.into());
    if matches!(a.ty, AttrType::String | AttrType::Reference) {
        m.insert("caseExact".into(), a.case_exact.into());
    }
    if !a.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), json!(a.canonical_values));
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), json!(a.reference_types));
    }
    m.insert("mutability".into(), a.mutability.as_str().into());
    m.insert("returned".into(), a.returned.as_str().into());
    m.insert("uniqueness".into(), a.uniqueness.as_str().into());
    if !a.sub_attributes.is_empty() {
        let subs: Vec<Value> = a.sub_attributes.iter().map(attribute).collect();
        m.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_SCHEMA, SCAIDRIVE_SCHEMA, USER_SCHEMA};

    const BASE: &str = "https://drive.example.com/scim/v2/";

    #[test]
    fn schemas_list_every_published_schema_without_nulls_or_common_attributes() {
        let doc = schemas(BASE);
        assert_eq!(doc["totalResults"], 4);
        let text = doc.to_string();
        assert!(!text.contains("null"), "Entra rejects nulls in /Schemas");
        let user = schema(BASE, USER_SCHEMA).expect("user schema");
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["userName", "name", "displayName", "emails", "active", "groups"]);
        assert_eq!(user["attributes"][0]["caseExact"], false);
        assert_eq!(user["attributes"][0]["uniqueness"], "server");
        assert_eq!(user["meta"]["location"], format!("{BASE}Schemas/{USER_SCHEMA}").replace("v2//", "v2/"));
        let ours = schema(BASE, SCAIDRIVE_SCHEMA).expect("ScaiDrive schema");
        assert_eq!(ours["attributes"][0]["canonicalValues"], json!(["user", "admin", "superadmin"]));
        assert!(matches!(schema(BASE, "urn:nope"), Err(ScimError::NotFound(_))));
    }

    #[test]
    fn the_user_resource_type_lists_both_extensions_as_optional() {
        let user = resource_type(BASE, "user").expect("User");
        assert_eq!(
            user["schemaExtensions"],
            json!([{"schema": ENTERPRISE_SCHEMA, "required": false}, {"schema": SCAIDRIVE_SCHEMA, "required": false}])
        );
        assert_eq!(user["endpoint"], "/Users");
        let group = resource_type(BASE, "Group").expect("Group");
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(resource_types(BASE)["totalResults"], 2);
    }

    #[test]
    fn the_service_provider_config_advertises_what_works() {
        let doc = service_provider_config(
            BASE,
            &ProviderFeatures { max_results: 1000, sort: true, etag: true, documentation_uri: None },
        );
        assert_eq!(doc["patch"]["supported"], true);
        assert_eq!(doc["bulk"]["supported"], false);
        assert_eq!(doc["filter"]["maxResults"], 1000);
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert!(doc.get("id").is_none());
    }
}
