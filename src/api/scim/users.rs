//! `/scim/v2/Users`: create, read, replace, patch and delete users, through the shared handlers of
//! `resource.rs`. PATCH answers 200 with the resource (Okta shows it); DELETE 204.

use serde_json::Value;

use super::resource::{ScimResource, scim_resource_routes};
use super::search::Scope;
use crate::actors::scim::{ScimOp, ScimWrite, ScimWritten};
use crate::ids::UserId;
use crate::principals::{Principals, ScimStoreError};
use crate::scim::error::ScimError;
use crate::scim::resource::{ScimUser, ScimUserRecord, ignored_attributes};
use crate::scim::schema::{ResourceType, USER_TYPE};

pub struct Users;

impl ScimResource for Users {
    type Id = UserId;
    type Input = ScimUser;
    type Record = ScimUserRecord;
    const TYPE: &'static ResourceType = &USER_TYPE;
    const KIND: &'static str = "user";
    const SCOPE: Scope = Scope::Users;
    const PATCH_ECHOES: bool = true;

    /// RFC 7644 section 3.3: attributes no schema defines, and readOnly ones, are ignored; the log names them.
    fn input(body: &Value) -> Result<ScimUser, ScimError> {
        let ignored = ignored_attributes(&USER_TYPE, body);
        if !ignored.is_empty() {
            tracing::debug!(?ignored, "SCIM user body: attributes ignored");
        }
        ScimUser::from_json(body)
    }

    fn write(op: ScimOp<UserId, ScimUser>) -> ScimWrite {
        ScimWrite::User(op)
    }

    fn written(written: ScimWritten) -> Option<ScimUserRecord> {
        match written {
            ScimWritten::User(record) => Some(record),
            _ => None,
        }
    }

    fn read(p: &Principals, id: UserId, _with_members: bool) -> Result<ScimUserRecord, ScimStoreError> {
        p.scim_user(id)
    }

    fn to_json(record: &ScimUserRecord, base: &str) -> Value {
        record.to_json(base)
    }

    fn id_and_version(record: &ScimUserRecord) -> (String, u64) {
        (record.id.to_string(), record.meta.version)
    }
}

scim_resource_routes! {
    resource: Users, one: "user", many: "users", path: "/scim/v2/Users", title: "the User", id: "usr_ id",
    patch_responses: ((status = 200, description = "the User", content_type = "application/scim+json")),
    docs: {
        list: "Users, filtered (`filter`), sorted (`sortBy`), paged (`startIndex`, `count`).",
        search: "`POST /Users/.search`: the query in the body, so it stays out of URLs and logs.",
        create: "Create a user (201). A user made just in time with the same externalId or userName is adopted.",
        get: "One user; 304 when `If-None-Match` names its version.",
        replace: "Replace a user: attributes left out of the body are cleared.",
        patch: "Patch a user (RFC 7644 section 3.5.2, with the identity providers' habits); 200 with the resource.",
        delete: "Delete a user with its tokens and memberships (204).",
    },
}
