//! Groups and their members. Membership rows live in two tables (`group ++ user` and `user ++ group`), so adding
//! one member to a group of ten thousand touches two rows, and a caller's groups are one range read.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Acting, Principals, PrincipalsError, Role, claim_index, clean_text, double_option, move_index, page_of, rows_after,
};
use crate::audit::{self, AuditEvent};
use crate::ids::{GroupId, UserId};
use crate::store::codec;
use crate::store::tables::{
    GROUP_EXTERNAL_IDS, GROUP_MEMBERS, GROUP_NAMES, GROUP_SLUGS, GROUP_SUBGROUPS, GROUPS, USER_GROUPS, USERS,
};

/// A group as stored; members live in their own tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct GroupRecord {
    pub(super) id: GroupId,
    pub(super) display_name: String,
    pub(super) slug: String,
    pub(super) external_id: Option<String>,
    pub(super) scim_managed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) updated_at: OffsetDateTime,
    pub(super) version: u64,
}

/// A group as the API shows it. Its `scim_managed`, timestamps and `version` repeat `User`'s on purpose: a
/// shared part with `#[serde(flatten)]` would keep the JSON but turn both OpenAPI schemas into `allOf`
/// compositions, for four fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Group {
    #[schema(value_type = String, example = "grp_01J4M3Z1K8M0Q9R2S3T4V5W6X7")]
    pub id: GroupId,
    pub display_name: String,
    pub slug: String,
    pub external_id: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub members: Vec<UserId>,
    pub scim_managed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub display_name: String,
    /// Defaults to a slug of the display name.
    pub slug: Option<String>,
    pub external_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub members: Vec<UserId>,
    #[serde(skip)]
    pub scim_managed: bool,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    pub display_name: Option<String>,
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    /// Replaces the member list.
    #[schema(value_type = Option<Vec<String>>)]
    pub members: Option<Vec<UserId>>,
}

/// `Finance Team` -> `finance-team`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "group".to_owned() } else { slug.to_owned() }
}

pub(super) fn valid_slug(slug: &str) -> Result<String, PrincipalsError> {
    let slug = clean_text("slug", slug, 128)?;
    if slug.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        Ok(slug.to_lowercase())
    } else {
        Err(PrincipalsError::Invalid { field: "slug", message: "may hold letters, digits, '-' and '_' only".into() })
    }
}

pub(super) fn read_record(txn: &WriteTransaction, id: GroupId) -> Result<GroupRecord, PrincipalsError> {
    let table = txn.open_table(GROUPS)?;
    let row = table.get(id.to_bytes())?;
    let row = row.ok_or_else(|| PrincipalsError::NotFound { kind: "group", id: id.to_string() })?;
    Ok(codec::decode("groups", row.value())?)
}

pub(super) fn write_record(txn: &WriteTransaction, record: &GroupRecord) -> Result<(), PrincipalsError> {
    txn.open_table(GROUPS)?.insert(record.id.to_bytes(), codec::encode(record).as_slice())?;
    Ok(())
}

/// The `GROUP_NAMES` key of a group: its folded display name, then its id (names need not be unique there).
pub fn group_name_key(display_name: &str, id: GroupId) -> String {
    format!("{}\0{id}", crate::scim::eval::fold_case(display_name))
}

/// The groups whose display name folds to the same text as `display_name`, by the name index.
pub(super) fn groups_named(
    table: &impl ReadableTable<&'static str, [u8; 16]>,
    display_name: &str,
) -> Result<Vec<GroupId>, PrincipalsError> {
    let folded = crate::scim::eval::fold_case(display_name);
    let (from, to) = (format!("{folded}\0"), format!("{folded}\u{1}"));
    table.range(from.as_str()..to.as_str())?.map(|row| Ok(GroupId::from_bytes(row?.1.value()))).collect()
}

/// Moves a group's entry in the name index from `old` (if any) to `new`.
pub(super) fn rename_in_index(
    txn: &WriteTransaction,
    id: GroupId,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), PrincipalsError> {
    let mut names = txn.open_table(GROUP_NAMES)?;
    if let Some(old) = old {
        names.remove(group_name_key(old, id).as_str())?;
    }
    if let Some(new) = new {
        names.insert(group_name_key(new, id).as_str(), id.to_bytes())?;
    }
    Ok(())
}

/// Removes a group's rows: the record, its index entries, its members and nested memberships either way.
/// Grants naming the group elsewhere stay (they simply match nobody).
pub(super) fn remove_group_rows(txn: &WriteTransaction, record: &GroupRecord) -> Result<(), PrincipalsError> {
    let id = record.id;
    set_members(txn, id, &[])?;
    {
        let mut nested = txn.open_table(GROUP_SUBGROUPS)?;
        // Nested rows are few (only SCIM writes them): a scan finds the parents without a reverse table.
        let keys: Vec<[u8; 32]> = nested
            .iter()?
            .map(|row| row.map(|(k, _)| k.value()))
            .filter(|k| k.as_ref().map_or(true, |k| k[..16] == id.to_bytes() || codec::second(k) == id.to_bytes()))
            .collect::<Result<_, _>>()?;
        for key in keys {
            nested.remove(key)?;
        }
    }
    txn.open_table(GROUPS)?.remove(id.to_bytes())?;
    txn.open_table(GROUP_SLUGS)?.remove(record.slug.as_str())?;
    if let Some(external_id) = &record.external_id {
        txn.open_table(GROUP_EXTERNAL_IDS)?.remove(external_id.as_str())?;
    }
    rename_in_index(txn, id, Some(&record.display_name), None)
}

pub(super) fn members_of(
    table: &impl ReadableTable<[u8; 32], ()>,
    id: GroupId,
) -> Result<Vec<UserId>, PrincipalsError> {
    table
        .range(codec::pairs_of(id.to_bytes()))?
        .map(|row| Ok(UserId::from_bytes(codec::second(&row?.0.value()))))
        .collect()
}

pub(super) fn with_members(record: GroupRecord, members: Vec<UserId>) -> Group {
    Group {
        id: record.id,
        display_name: record.display_name,
        slug: record.slug,
        external_id: record.external_id,
        members,
        scim_managed: record.scim_managed,
        created_at: record.created_at,
        updated_at: record.updated_at,
        version: record.version,
    }
}

/// Makes the member list of `group` exactly `wanted`; every wanted user must exist.
pub(super) fn set_members(txn: &WriteTransaction, group: GroupId, wanted: &[UserId]) -> Result<(), PrincipalsError> {
    let users = txn.open_table(USERS)?;
    for user in wanted {
        if users.get(user.to_bytes())?.is_none() {
            return Err(PrincipalsError::Invalid { field: "members", message: format!("user {user} does not exist") });
        }
    }
    let mut members = txn.open_table(GROUP_MEMBERS)?;
    let mut reverse = txn.open_table(USER_GROUPS)?;
    let current = members_of(&members, group)?;
    for user in current.iter().filter(|u| !wanted.contains(u)) {
        members.remove(codec::pair(group.to_bytes(), user.to_bytes()))?;
        reverse.remove(codec::pair(user.to_bytes(), group.to_bytes()))?;
    }
    for user in wanted {
        members.insert(codec::pair(group.to_bytes(), user.to_bytes()), ())?;
        reverse.insert(codec::pair(user.to_bytes(), group.to_bytes()), ())?;
    }
    Ok(())
}

/// A free slug for a display name: `team`, then `team-2`, `team-3`, ...
pub(super) fn free_slug(txn: &WriteTransaction, name: &str) -> Result<String, PrincipalsError> {
    let base = slugify(name);
    let index = txn.open_table(GROUP_SLUGS)?;
    let mut candidate = base.clone();
    let mut n = 1;
    while index.get(candidate.as_str())?.is_some() {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

fn require_admin(acting: &Acting) -> Result<(), PrincipalsError> {
    if acting.role < Role::Admin {
        return Err(PrincipalsError::Forbidden("managing groups needs the admin role".into()));
    }
    Ok(())
}

impl Principals {
    pub fn create_group(&self, acting: &Acting, new: NewGroup) -> Result<Group, PrincipalsError> {
        require_admin(acting)?;
        let display_name = clean_text("display_name", &new.display_name, 256)?;
        let external_id = new.external_id.map(|e| clean_text("external_id", &e, 256)).transpose()?;
        let now = self.clock.now();
        let txn = self.store.db().begin_write()?;
        let slug = match new.slug {
            Some(slug) => valid_slug(&slug)?,
            None => free_slug(&txn, &display_name)?,
        };
        let record = GroupRecord {
            id: GroupId::new(),
            display_name,
            slug,
            external_id,
            scim_managed: new.scim_managed,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        claim_index(&txn, GROUP_SLUGS, "group", "slug", &record.slug, record.id.to_bytes())?;
        if let Some(external_id) = &record.external_id {
            claim_index(&txn, GROUP_EXTERNAL_IDS, "group", "external_id", external_id, record.id.to_bytes())?;
        }
        write_record(&txn, &record)?;
        rename_in_index(&txn, record.id, None, Some(&record.display_name))?;
        set_members(&txn, record.id, &new.members)?;
        let event = AuditEvent::new("group.created", acting.actor.clone(), Some(record.id.to_string()), now)
            .with_details(serde_json::json!({ "display_name": record.display_name, "members": new.members.len() }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(with_members(record, new.members))
    }

    pub fn get_group(&self, id: GroupId) -> Result<Group, PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(GROUPS)?;
        let row = table.get(id.to_bytes())?;
        let row = row.ok_or_else(|| PrincipalsError::NotFound { kind: "group", id: id.to_string() })?;
        let record: GroupRecord = codec::decode("groups", row.value())?;
        let members = members_of(&txn.open_table(GROUP_MEMBERS)?, id)?;
        Ok(with_members(record, members))
    }

    pub fn list_groups(
        &self,
        after: Option<GroupId>,
        limit: usize,
    ) -> Result<(Vec<Group>, Option<GroupId>), PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(GROUPS)?;
        let members = txn.open_table(GROUP_MEMBERS)?;
        let groups = rows_after(&table, after.map(|a| a.to_bytes()))?.map(|row| {
            let record: GroupRecord = codec::decode("groups", row?.1.value())?;
            let list = members_of(&members, record.id)?;
            Ok(with_members(record, list))
        });
        page_of(groups, limit, |g| g.id)
    }

    /// The groups `user` belongs to: what access checks expand a caller into.
    pub fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(USER_GROUPS)?;
        table
            .range(codec::pairs_of(user.to_bytes()))?
            .map(|row| Ok(GroupId::from_bytes(codec::second(&row?.0.value()))))
            .collect()
    }

    pub fn update_group(&self, acting: &Acting, id: GroupId, patch: GroupPatch) -> Result<Group, PrincipalsError> {
        require_admin(acting)?;
        let txn = self.store.db().begin_write()?;
        let mut record = read_record(&txn, id)?;
        if record.scim_managed {
            return Err(PrincipalsError::ScimManaged(id.to_string()));
        }
        if let Some(name) = patch.display_name {
            let name = clean_text("display_name", &name, 256)?;
            rename_in_index(&txn, id, Some(&record.display_name), Some(&name))?;
            record.display_name = name;
        }
        if let Some(slug) = patch.slug {
            let slug = valid_slug(&slug)?;
            move_index(&txn, GROUP_SLUGS, ("group", "slug"), Some(&record.slug), Some(&slug), id.to_bytes())?;
            record.slug = slug;
        }
        if let Some(external_id) = patch.external_id {
            let external_id = external_id.map(|e| clean_text("external_id", &e, 256)).transpose()?;
            let (old, new) = (record.external_id.as_deref(), external_id.as_deref());
            move_index(&txn, GROUP_EXTERNAL_IDS, ("group", "external_id"), old, new, id.to_bytes())?;
            record.external_id = external_id;
        }
        if let Some(members) = &patch.members {
            set_members(&txn, id, members)?;
        }
        record.updated_at = self.clock.now();
        record.version += 1;
        write_record(&txn, &record)?;
        let members = members_of(&txn.open_table(GROUP_MEMBERS)?, id)?;
        let event = AuditEvent::new("group.updated", acting.actor.clone(), Some(id.to_string()), record.updated_at);
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(with_members(record, members))
    }

    /// Deletes a group and revokes its memberships. Grants naming the group elsewhere stay (they simply match
    /// nobody), as the SCIM page promises for identity-provider deletes.
    pub fn delete_group(&self, acting: &Acting, id: GroupId) -> Result<(), PrincipalsError> {
        require_admin(acting)?;
        let txn = self.store.db().begin_write()?;
        let record = read_record(&txn, id)?;
        if record.scim_managed {
            return Err(PrincipalsError::ScimManaged(id.to_string()));
        }
        remove_group_rows(&txn, &record)?;
        let event = AuditEvent::new("group.deleted", acting.actor.clone(), Some(id.to_string()), self.clock.now());
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(slugify("Finance Team"), "finance-team");
        assert_eq!(slugify("  R&D / Labs!"), "r-d-labs");
        assert_eq!(slugify("***"), "group");
        assert_eq!(slugify("Équipe Été"), "équipe-été");
    }
}
