//! SCIM's writes of groups (`scim.rs` has users and what both share): create, import, replace, PATCH and delete,
//! each one transaction that checks `If-Match`, the folded `displayName`'s uniqueness (409 `uniqueness`) and that
//! every member exists (400 `invalidValue`), keeps the membership tables both ways, bumps the version only when
//! the group really changed, and records its `scim.group.*` audit event.

use std::collections::HashSet;

use redb::{ReadableTable, WriteTransaction};

use super::groups::{
    GroupRecord, free_slug, groups_named, members_of, read_record, remove_group_rows, rename_in_index, write_record,
};
use super::scim::{Result, check_if_match, check_text, meta};
use super::scim_read::subgroups_of;
use super::{Acting, Principals, claim_index, move_index};
use crate::audit::{self, AuditEvent};
use crate::ids::GroupId;
use crate::scim::error::ScimError;
use crate::scim::group::{MemberId, ScimGroup, ScimGroupRecord, ScimMember};
use crate::scim::members::{named_members, patch_group};
use crate::scim::patch::PatchRequest;
use crate::store::codec;
use crate::store::tables::{
    GROUP_EXTERNAL_IDS, GROUP_MEMBERS, GROUP_NAMES, GROUP_SUBGROUPS, GROUPS, USER_GROUPS, USERS,
};

/// The member ids of a group, users then groups, without labels: what a PATCH needs.
fn member_ids(txn: &WriteTransaction, id: GroupId) -> Result<Vec<ScimMember>> {
    let users = members_of(&txn.open_table(GROUP_MEMBERS)?, id)?;
    let groups = subgroups_of(&txn.open_table(GROUP_SUBGROUPS)?, id)?;
    Ok(users
        .into_iter()
        .map(MemberId::User)
        .chain(groups.into_iter().map(MemberId::Group))
        .map(|id| ScimMember { id, display: None })
        .collect())
}

/// Which members a group write must see.
enum MembersNeeded {
    All,
    /// Only these, if present (see `named_members`).
    Only(Vec<MemberId>),
}

/// Those of `named` that are members of the group: two point lookups each, whatever the group's size.
fn present_among(txn: &WriteTransaction, id: GroupId, named: &[MemberId]) -> Result<Vec<ScimMember>> {
    let users = txn.open_table(GROUP_MEMBERS)?;
    let groups = txn.open_table(GROUP_SUBGROUPS)?;
    let mut present = Vec::new();
    for m in named {
        let found = match m {
            MemberId::User(u) => users.get(codec::pair(id.to_bytes(), u.to_bytes()))?.is_some(),
            MemberId::Group(g) => groups.get(codec::pair(id.to_bytes(), g.to_bytes()))?.is_some(),
        };
        if found && !present.iter().any(|p: &ScimMember| p.id == *m) {
            present.push(ScimMember { id: *m, display: None });
        }
    }
    Ok(present)
}

/// What a group write changed, for the audit event.
struct MemberDelta {
    added: Vec<MemberId>,
    removed: Vec<MemberId>,
}

/// Adds and removes membership rows; every added member must exist (400 `invalidValue`).
fn apply_members(txn: &WriteTransaction, group: GroupId, delta: &MemberDelta) -> Result<()> {
    let users = txn.open_table(USERS)?;
    let groups = txn.open_table(GROUPS)?;
    for m in &delta.added {
        let exists = match m {
            MemberId::User(u) => users.get(u.to_bytes())?.is_some(),
            MemberId::Group(g) => *g != group && groups.get(g.to_bytes())?.is_some(),
        };
        if !exists {
            return Err(ScimError::InvalidValue(format!("member {m} does not exist")).into());
        }
    }
    let mut members = txn.open_table(GROUP_MEMBERS)?;
    let mut reverse = txn.open_table(USER_GROUPS)?;
    let mut nested = txn.open_table(GROUP_SUBGROUPS)?;
    for m in &delta.removed {
        match m {
            MemberId::User(u) => {
                members.remove(codec::pair(group.to_bytes(), u.to_bytes()))?;
                reverse.remove(codec::pair(u.to_bytes(), group.to_bytes()))?;
            }
            MemberId::Group(g) => {
                nested.remove(codec::pair(group.to_bytes(), g.to_bytes()))?;
            }
        }
    }
    for m in &delta.added {
        match m {
            MemberId::User(u) => {
                members.insert(codec::pair(group.to_bytes(), u.to_bytes()), ())?;
                reverse.insert(codec::pair(u.to_bytes(), group.to_bytes()), ())?;
            }
            MemberId::Group(g) => {
                nested.insert(codec::pair(group.to_bytes(), g.to_bytes()), ())?;
            }
        }
    }
    Ok(())
}

/// Refuses a display name another group already has, compared case-insensitively (Entra matches on it).
fn check_group_name(txn: &WriteTransaction, name: &str, except: Option<GroupId>) -> Result<()> {
    check_text("displayName", name, 256)?;
    let taken = groups_named(&txn.open_table(GROUP_NAMES)?, name)?;
    if taken.iter().any(|g| Some(*g) != except) {
        return Err(ScimError::Uniqueness(format!("a group named '{name}' already exists")).into());
    }
    Ok(())
}

impl Principals {
    /// POST /Groups.
    pub fn scim_create_group(&self, acting: &Acting, group: &ScimGroup) -> Result<ScimGroupRecord> {
        let id = self.in_one_write(|txn| self.create_group_in(txn, acting, group))?;
        self.scim_group(id, true)
    }

    /// Creates many groups in one transaction: an initial import (and the benchmark's fixture).
    pub fn scim_import_groups(&self, acting: &Acting, groups: &[ScimGroup]) -> Result<Vec<GroupId>> {
        self.in_one_write(|txn| groups.iter().map(|g| self.create_group_in(txn, acting, g)).collect())
    }

    fn create_group_in(&self, txn: &WriteTransaction, acting: &Acting, g: &ScimGroup) -> Result<GroupId> {
        check_group_name(txn, &g.display_name, None)?;
        if let Some(e) = &g.external_id {
            check_text("externalId", e, 256)?;
        }
        let now = self.clock.now();
        let record = GroupRecord {
            id: GroupId::new(),
            display_name: g.display_name.clone(),
            slug: free_slug(txn, &g.display_name)?,
            external_id: g.external_id.clone(),
            scim_managed: true,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        claim_index(txn, crate::store::tables::GROUP_SLUGS, "group", "slug", &record.slug, record.id.to_bytes())?;
        if let Some(e) = &record.external_id {
            claim_index(txn, GROUP_EXTERNAL_IDS, "group", "externalId", e, record.id.to_bytes())?;
        }
        write_record(txn, &record)?;
        rename_in_index(txn, record.id, None, Some(&record.display_name))?;
        let delta = MemberDelta { added: g.members.iter().map(|m| m.id).collect(), removed: Vec::new() };
        apply_members(txn, record.id, &delta)?;
        let event = AuditEvent::new("scim.group.created", acting.actor.clone(), Some(record.id.to_string()), now)
            .with_details(serde_json::json!({ "display_name": record.display_name, "members": delta.added.len() }));
        audit::record(txn, &event)?;
        Ok(record.id)
    }

    /// PUT /Groups/{id}: name, externalId and the whole member list (SCIM's membership overwrites).
    pub fn scim_replace_group(
        &self,
        acting: &Acting,
        id: GroupId,
        group: &ScimGroup,
        if_match: Option<&str>,
    ) -> Result<ScimGroupRecord> {
        self.rewrite_group(acting, id, if_match, |current| {
            let before: HashSet<MemberId> = current.group.members.iter().map(|m| m.id).collect();
            let after: HashSet<MemberId> = group.members.iter().map(|m| m.id).collect();
            let delta = MemberDelta {
                added: group.members.iter().map(|m| m.id).filter(|m| !before.contains(m)).collect(),
                removed: current.group.members.iter().map(|m| m.id).filter(|m| !after.contains(m)).collect(),
            };
            Ok((group.clone(), delta))
        })?;
        self.scim_group(id, true)
    }

    /// PATCH /Groups/{id}. Returns the group without members: the answer is 204, or a projection.
    pub fn scim_patch_group(
        &self,
        acting: &Acting,
        id: GroupId,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<()> {
        // Adding or removing named members needs only to know which of those are present, not the whole list.
        let members = match named_members(patch)? {
            Some(named) => MembersNeeded::Only(named),
            None => MembersNeeded::All,
        };
        self.rewrite_group_with(acting, id, if_match, members, |current| {
            let outcome = patch_group(current, patch)?;
            Ok((outcome.group, MemberDelta { added: outcome.added, removed: outcome.removed }))
        })
    }

    /// Reads the group with its member ids, computes the new group and membership delta, and stores what changed.
    fn rewrite_group(
        &self,
        acting: &Acting,
        id: GroupId,
        if_match: Option<&str>,
        change: impl FnOnce(&ScimGroupRecord) -> Result<(ScimGroup, MemberDelta)>,
    ) -> Result<()> {
        self.rewrite_group_with(acting, id, if_match, MembersNeeded::All, change)
    }

    fn rewrite_group_with(
        &self,
        acting: &Acting,
        id: GroupId,
        if_match: Option<&str>,
        members: MembersNeeded,
        change: impl FnOnce(&ScimGroupRecord) -> Result<(ScimGroup, MemberDelta)>,
    ) -> Result<()> {
        let txn = self.store.db().begin_write()?;
        let mut record = read_record(&txn, id).map_err(|_| ScimError::NotFound(format!("group {id} not found")))?;
        check_if_match(if_match, record.version)?;
        let current = ScimGroupRecord {
            id,
            group: ScimGroup {
                display_name: record.display_name.clone(),
                external_id: record.external_id.clone(),
                members: match members {
                    MembersNeeded::All => member_ids(&txn, id)?,
                    MembersNeeded::Only(named) => present_among(&txn, id, &named)?,
                },
            },
            meta: meta(record.created_at, record.updated_at, record.version),
        };
        let (wanted, delta) = change(&current)?;
        let renamed = wanted.display_name != record.display_name;
        let external_changed = wanted.external_id != record.external_id;
        if !renamed && !external_changed && delta.added.is_empty() && delta.removed.is_empty() {
            return Ok(());
        }
        if renamed {
            check_group_name(&txn, &wanted.display_name, Some(id))?;
            rename_in_index(&txn, id, Some(&record.display_name), Some(&wanted.display_name))?;
        }
        if let Some(e) = wanted.external_id.as_ref().filter(|_| external_changed) {
            check_text("externalId", e, 256)?;
        }
        let (old_ext, new_ext) = (record.external_id.as_deref(), wanted.external_id.as_deref());
        move_index(&txn, GROUP_EXTERNAL_IDS, ("group", "externalId"), old_ext, new_ext, id.to_bytes())?;
        apply_members(&txn, id, &delta)?;
        record.display_name = wanted.display_name;
        record.external_id = wanted.external_id;
        record.scim_managed = true;
        record.updated_at = self.clock.now();
        record.version += 1;
        write_record(&txn, &record)?;
        let event =
            AuditEvent::new("scim.group.updated", acting.actor.clone(), Some(id.to_string()), record.updated_at)
                .with_details(serde_json::json!({
                    "display_name": record.display_name,
                    "members_added": delta.added.len(),
                    "members_removed": delta.removed.len(),
                }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    }

    /// DELETE /Groups/{id}: memberships are revoked; share grants naming the group stay.
    pub fn scim_delete_group(&self, acting: &Acting, id: GroupId, if_match: Option<&str>) -> Result<()> {
        let txn = self.store.db().begin_write()?;
        let record = read_record(&txn, id).map_err(|_| ScimError::NotFound(format!("group {id} not found")))?;
        check_if_match(if_match, record.version)?;
        remove_group_rows(&txn, &record)?;
        let event = AuditEvent::new("scim.group.deleted", acting.actor.clone(), Some(id.to_string()), self.clock.now())
            .with_details(serde_json::json!({ "display_name": record.display_name }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    }
}
