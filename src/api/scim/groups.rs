//! `/scim/v2/Groups`: create, read, replace, patch and delete groups, through the shared handlers of
//! `resource.rs`. Membership pushed by SCIM overwrites; PATCH answers 204 (Entra recommends not echoing member
//! lists), or 200 with the projection when the request names `attributes`/`excludedAttributes`. Reads that drop
//! `members` never build the member list.

use serde_json::Value;

use super::resource::{ScimResource, scim_resource_routes};
use super::search::Scope;
use crate::actors::scim::{ScimOp, ScimWrite, ScimWritten};
use crate::ids::GroupId;
use crate::principals::{Principals, ScimStoreError};
use crate::scim::error::ScimError;
use crate::scim::group::{ScimGroup, ScimGroupRecord};
use crate::scim::schema::{GROUP_TYPE, ResourceType};

pub struct Groups;

impl ScimResource for Groups {
    type Id = GroupId;
    type Input = ScimGroup;
    type Record = ScimGroupRecord;
    const TYPE: &'static ResourceType = &GROUP_TYPE;
    const KIND: &'static str = "group";
    const SCOPE: Scope = Scope::Groups;
    const PATCH_ECHOES: bool = false;

    fn input(body: &Value) -> Result<ScimGroup, ScimError> {
        ScimGroup::from_json(body)
    }

    fn write(op: ScimOp<GroupId, ScimGroup>) -> ScimWrite {
        ScimWrite::Group(op)
    }

    fn written(written: ScimWritten) -> Option<ScimGroupRecord> {
        match written {
            ScimWritten::Group(record) => Some(record),
            _ => None,
        }
    }

    fn read(p: &Principals, id: GroupId, with_members: bool) -> Result<ScimGroupRecord, ScimStoreError> {
        p.scim_group(id, with_members)
    }

    fn to_json(record: &ScimGroupRecord, base: &str) -> Value {
        record.to_json(base)
    }

    fn id_and_version(record: &ScimGroupRecord) -> (String, u64) {
        (record.id.to_string(), record.meta.version)
    }
}

scim_resource_routes! {
    resource: Groups, one: "group", many: "groups", path: "/scim/v2/Groups", title: "the Group", id: "grp_ id",
    patch_responses: (
        (status = 204), (status = 200, description = "the Group", content_type = "application/scim+json")
    ),
    docs: {
        list: "Groups, filtered, sorted and paged.",
        search: "`POST /Groups/.search`.",
        create: "Create a group (201); its display name must be free (compared case-insensitively).",
        get: "One group; `excludedAttributes=members` skips the member list.",
        replace: "Replace a group, its member list included.",
        patch: "Patch a group: 204, or 200 with the projection asked for.",
        delete: "Delete a group: its memberships are revoked, share grants naming it stay (204).",
    },
}
