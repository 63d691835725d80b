//! Users and groups as SCIM sees them, over the same tables as the REST API: what a user's SCIM form is made
//! of, and the SCIM writes (the reads are in `scim_read.rs`, the queries in `scim_search.rs`; the pure protocol
//! in `crate::scim`). Each write is one transaction that checks `If-Match`, uniqueness (folded `userName` and
//! group `displayName`, 409 `uniqueness`) and member existence (400 `invalidValue`), bumps the version only
//! when the resource really changed, and records its `scim.*` audit event.
//!
//! What the user record has no room for (every email, the name parts, whether `active` was assigned) is kept in
//! `USER_SCIM_PROFILES`. A user made through the API (just in time) and then pushed by SCIM with the same
//! `externalId` or `userName` is adopted, not duplicated; a second push of a SCIM-managed name is a 409.

use std::collections::HashSet;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::claim_index;
use super::groups::{
    GroupRecord, free_slug, groups_named, members_of, read_record, remove_group_rows, rename_in_index, write_record,
};
use super::scim_read::subgroups_of;
use super::users::{keep_a_superadmin, read_user, remove_user_rows, user_name_key, write_user};
use super::{Acting, Principals, PrincipalsError, Role, User};
use crate::audit::{self, AuditEvent};
use crate::ids::{GroupId, UserId};
use crate::scim::error::ScimError;
use crate::scim::group::{MemberId, ScimGroup, ScimGroupRecord, ScimMember};
use crate::scim::members::{named_members, patch_group};
use crate::scim::patch::{PatchRequest, patch_user};
use crate::scim::resource::{ScimEmail, ScimMeta, ScimName, ScimRole, ScimUser, ScimUserRecord, if_match_allows};
use crate::store::codec;
use crate::store::tables::{
    GROUP_EXTERNAL_IDS, GROUP_MEMBERS, GROUP_NAMES, GROUP_SUBGROUPS, GROUPS, USER_EXTERNAL_IDS, USER_GROUPS,
    USER_NAMES, USER_SCIM_PROFILES, USERS,
};

/// A SCIM request the store refused (`Scim`, answered with its RFC status) or could not carry out (`Store`,
/// an internal error).
#[derive(Debug, thiserror::Error)]
pub enum ScimStoreError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Store(PrincipalsError),
    /// The blocking task carrying the write died (a panic): the transaction was not committed.
    #[error("the write did not finish: {0}")]
    Aborted(String),
}

impl From<PrincipalsError> for ScimStoreError {
    /// The store's refusals in SCIM's words; only database failures stay store errors.
    fn from(e: PrincipalsError) -> Self {
        let text = e.to_string();
        match e {
            PrincipalsError::NotFound { .. } => Self::Scim(ScimError::NotFound(text)),
            PrincipalsError::AlreadyExists { .. } => Self::Scim(ScimError::Uniqueness(text)),
            PrincipalsError::Invalid { .. } => Self::Scim(ScimError::InvalidValue(text)),
            PrincipalsError::Forbidden(_) | PrincipalsError::ScimManaged(_) => Self::Scim(ScimError::Forbidden(text)),
            PrincipalsError::Store(_) => Self::Store(e),
        }
    }
}

macro_rules! scim_error_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ScimStoreError {
            fn from(e: $t) -> Self {
                Self::Store(PrincipalsError::from(e))
            }
        }
    )*};
}
scim_error_from_redb!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

impl From<crate::store::StoreError> for ScimStoreError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Store(PrincipalsError::Store(e))
    }
}

pub(super) type Result<T> = std::result::Result<T, ScimStoreError>;

/// The SCIM-only part of a user, stored beside the user record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Profile {
    display_name: Option<String>,
    formatted: Option<String>,
    family_name: Option<String>,
    given_name: Option<String>,
    emails: Vec<StoredEmail>,
    /// Whether the identity provider assigned `active` (unassigned reads back as unassigned).
    active_assigned: bool,
    /// Whether it assigned a role (else the user keeps the role the appliance gave it).
    role_assigned: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredEmail {
    value: String,
    kind: Option<String>,
    primary: Option<bool>,
}

fn role_of(r: ScimRole) -> Role {
    match r {
        ScimRole::User => Role::User,
        ScimRole::Admin => Role::Admin,
        ScimRole::Superadmin => Role::Superadmin,
    }
}

fn scim_role(r: Role) -> ScimRole {
    match r {
        Role::User => ScimRole::User,
        Role::Admin => ScimRole::Admin,
        Role::Superadmin => ScimRole::Superadmin,
    }
}

/// The SCIM resource of a stored user. Without a profile (a user made through the API), the record's own
/// fields speak for it.
pub(super) fn scim_user(user: &User, profile: Option<&Profile>) -> ScimUser {
    // With a profile the role shows when the identity provider assigned it; a role the appliance gave locally
    // (an adopted admin) is not the identity provider's to see or clear.
    let role_shown = profile.map_or(user.role != Role::User, |p| p.role_assigned);
    let (display_name, name, emails, active) = match profile {
        Some(p) => (
            p.display_name.clone(),
            ScimName {
                formatted: p.formatted.clone(),
                family_name: p.family_name.clone(),
                given_name: p.given_name.clone(),
            },
            p.emails
                .iter()
                .map(|e| ScimEmail { value: e.value.clone(), kind: e.kind.clone(), primary: e.primary })
                .collect(),
            // The appliance may suspend a user on its own: a stored `false` always shows.
            (p.active_assigned || !user.active).then_some(user.active),
        ),
        None => (
            Some(user.display_name.clone()),
            ScimName::default(),
            user.email.iter().map(|e| ScimEmail { value: e.clone(), kind: None, primary: Some(true) }).collect(),
            Some(user.active),
        ),
    };
    ScimUser {
        user_name: user.user_name.clone(),
        external_id: user.external_id.clone(),
        display_name,
        name,
        emails,
        active,
        department: user.department.clone(),
        manager: user.manager.clone(),
        role: role_shown.then_some(scim_role(user.role)),
        quota_bytes: user.quota_bytes,
    }
}

pub(super) fn meta(created: OffsetDateTime, updated: OffsetDateTime, version: u64) -> ScimMeta {
    ScimMeta { created, last_modified: updated, version }
}

/// A text SCIM stores as sent (no trimming: Entra asks that values are not transformed), within bounds.
fn check_text(field: &str, value: &str, max: usize) -> std::result::Result<(), ScimError> {
    if value.is_empty() {
        return Err(ScimError::InvalidValue(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ScimError::InvalidValue(format!("{field} must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ScimError::InvalidValue(format!("{field} must not contain control characters")));
    }
    Ok(())
}

/// Writes the SCIM attributes onto the user record and returns the profile to keep beside it.
fn apply_user(
    user: &mut User,
    s: &ScimUser,
    acting: &Acting,
    previous: Option<&Profile>,
) -> std::result::Result<Profile, ScimError> {
    check_text("userName", &s.user_name, 256)?;
    for (field, value) in [
        ("externalId", &s.external_id),
        ("displayName", &s.display_name),
        ("department", &s.department),
        ("manager", &s.manager),
    ] {
        if let Some(v) = value {
            check_text(field, v, 256)?;
        }
    }
    if let Some(role) = s.role.map(role_of)
        && role > acting.role
    {
        return Err(ScimError::Forbidden(format!(
            "this SCIM token cannot grant the {} role",
            scim_role(role).as_str()
        )));
    }
    user.user_name = s.user_name.clone();
    user.display_name = s
        .display_name
        .clone()
        .or_else(|| s.name.formatted.clone())
        .filter(|d| check_text("displayName", d, 256).is_ok())
        .unwrap_or_else(|| s.user_name.clone());
    // The record's email is the address ScaiDrive writes to; the full list stays in the profile.
    user.email = s.email().filter(|e| e.contains('@') && check_text("email", e, 320).is_ok()).map(str::to_owned);
    user.active = s.is_active();
    match s.role {
        Some(role) => user.role = role_of(role),
        // Unassigning a role the identity provider set returns the user to the default role; a role given
        // locally stays.
        None if previous.is_some_and(|p| p.role_assigned) => user.role = Role::User,
        None => {}
    }
    user.quota_bytes = s.quota_bytes;
    user.external_id = s.external_id.clone();
    user.department = s.department.clone();
    user.manager = s.manager.clone();
    user.scim_managed = true;
    Ok(Profile {
        display_name: s.display_name.clone(),
        formatted: s.name.formatted.clone(),
        family_name: s.name.family_name.clone(),
        given_name: s.name.given_name.clone(),
        emails: s
            .emails
            .iter()
            .map(|e| StoredEmail { value: e.value.clone(), kind: e.kind.clone(), primary: e.primary })
            .collect(),
        active_assigned: s.active.is_some(),
        role_assigned: s.role.is_some(),
    })
}

/// Moves the user's index entries (`userName`, `externalId`) from `old` to `new`, refusing taken values.
fn reindex_user(txn: &WriteTransaction, old: Option<&User>, new: &User) -> Result<()> {
    let new_key = user_name_key(&new.user_name);
    let old_key = old.map(|o| user_name_key(&o.user_name));
    if old_key.as_deref() != Some(new_key.as_str()) {
        claim_index(txn, USER_NAMES, "user", "userName", &new_key, new.id.to_bytes())?;
        if let Some(k) = old_key {
            txn.open_table(USER_NAMES)?.remove(k.as_str())?;
        }
    }
    let old_ext = old.and_then(|o| o.external_id.clone());
    if old_ext != new.external_id {
        if let Some(e) = &new.external_id {
            claim_index(txn, USER_EXTERNAL_IDS, "user", "externalId", e, new.id.to_bytes())?;
        }
        if let Some(e) = old_ext {
            txn.open_table(USER_EXTERNAL_IDS)?.remove(e.as_str())?;
        }
    }
    Ok(())
}

pub(super) fn read_profile(table: &impl ReadableTable<[u8; 16], &'static [u8]>, id: UserId) -> Result<Option<Profile>> {
    Ok(table.get(id.to_bytes())?.map(|row| codec::decode("user_scim_profiles", row.value())).transpose()?)
}

fn check_if_match(if_match: Option<&str>, version: u64) -> Result<()> {
    match if_match {
        Some(header) if !if_match_allows(header, version) => {
            Err(ScimError::PreconditionFailed(format!("the resource is at version W/\"{version}\"")).into())
        }
        _ => Ok(()),
    }
}

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

fn user_event(kind: &str, acting: &Acting, user: &User, now: OffsetDateTime) -> AuditEvent {
    AuditEvent::new(kind, acting.actor.clone(), Some(user.id.to_string()), now)
        .with_details(serde_json::json!({ "user_name": user.user_name, "active": user.active }))
}

impl Principals {
    /// POST /Users. A user the appliance already has under the same `externalId` or `userName` and that SCIM
    /// does not manage yet (made just in time) is adopted instead of duplicated.
    pub fn scim_create_user(&self, acting: &Acting, user: &ScimUser) -> Result<ScimUserRecord> {
        let txn = self.store.db().begin_write()?;
        let id = self.create_user_in(&txn, acting, user)?;
        txn.commit()?;
        self.scim_user(id)
    }

    /// Creates many users in one transaction: an initial import (and the benchmark's fixture).
    pub fn scim_import_users(&self, acting: &Acting, users: &[ScimUser]) -> Result<Vec<UserId>> {
        let txn = self.store.db().begin_write()?;
        let ids = users.iter().map(|u| self.create_user_in(&txn, acting, u)).collect::<Result<_>>()?;
        txn.commit()?;
        Ok(ids)
    }

    fn create_user_in(&self, txn: &WriteTransaction, acting: &Acting, s: &ScimUser) -> Result<UserId> {
        let now = self.clock.now();
        let by_external = match &s.external_id {
            Some(e) => txn.open_table(USER_EXTERNAL_IDS)?.get(e.as_str())?.map(|v| UserId::from_bytes(v.value())),
            None => None,
        };
        let by_name = txn
            .open_table(USER_NAMES)?
            .get(user_name_key(&s.user_name).as_str())?
            .map(|v| UserId::from_bytes(v.value()));
        let (old, mut user) = match by_external.or(by_name) {
            Some(id) => {
                let user = read_user(txn, id)?;
                if user.scim_managed {
                    let what = if by_external == Some(id) { "externalId" } else { "userName" };
                    return Err(
                        ScimError::Uniqueness(format!("a user with this {what} is already provisioned: {id}")).into()
                    );
                }
                (Some(user.clone()), user)
            }
            None => (
                None,
                User {
                    id: UserId::new(),
                    user_name: String::new(),
                    display_name: String::new(),
                    email: None,
                    active: true,
                    role: Role::User,
                    quota_bytes: None,
                    external_id: None,
                    department: None,
                    manager: None,
                    scim_managed: true,
                    created_at: now,
                    updated_at: now,
                    version: 1,
                },
            ),
        };
        let profile = apply_user(&mut user, s, acting, None)?;
        if let Some(old) = &old {
            self.guard_superadmin(txn, old, &user)?;
            user.updated_at = now;
            user.version += 1;
        }
        reindex_user(txn, old.as_ref(), &user)?;
        write_user(txn, &user)?;
        txn.open_table(USER_SCIM_PROFILES)?.insert(user.id.to_bytes(), codec::encode(&profile).as_slice())?;
        let event = user_event("scim.user.created", acting, &user, now);
        let event = if old.is_some() {
            event.with_details(serde_json::json!({ "user_name": user.user_name, "adopted": true }))
        } else {
            event
        };
        audit::record(txn, &event)?;
        Ok(user.id)
    }

    /// Refuses a change that would leave no active superadmin (see `keep_a_superadmin`).
    fn guard_superadmin(&self, txn: &WriteTransaction, old: &User, new: &User) -> Result<()> {
        if old.role == Role::Superadmin && (new.role != Role::Superadmin || !new.active) {
            keep_a_superadmin(txn, old.id)?;
        }
        Ok(())
    }

    /// PUT /Users/{id}: the body replaces every writable attribute.
    pub fn scim_replace_user(
        &self,
        acting: &Acting,
        id: UserId,
        user: &ScimUser,
        if_match: Option<&str>,
    ) -> Result<ScimUserRecord> {
        self.rewrite_user(acting, id, if_match, |_| Ok(user.clone()))
    }

    /// PATCH /Users/{id}.
    pub fn scim_patch_user(
        &self,
        acting: &Acting,
        id: UserId,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<ScimUserRecord> {
        self.rewrite_user(acting, id, if_match, |current| Ok(patch_user(current, patch)?))
    }

    /// Reads the user, computes its new SCIM form, and stores it if it differs (else nothing changes, not even
    /// the version).
    fn rewrite_user(
        &self,
        acting: &Acting,
        id: UserId,
        if_match: Option<&str>,
        change: impl FnOnce(&ScimUserRecord) -> Result<ScimUser>,
    ) -> Result<ScimUserRecord> {
        let txn = self.store.db().begin_write()?;
        let old = read_user(&txn, id).map_err(|_| ScimError::NotFound(format!("user {id} not found")))?;
        check_if_match(if_match, old.version)?;
        let profile = read_profile(&txn.open_table(USER_SCIM_PROFILES)?, id)?;
        let current = ScimUserRecord {
            id,
            user: scim_user(&old, profile.as_ref()),
            groups: Vec::new(),
            meta: meta(old.created_at, old.updated_at, old.version),
        };
        let wanted = change(&current)?;
        if wanted != current.user {
            if old.role > acting.role {
                return Err(
                    ScimError::Forbidden("this SCIM token cannot change a user with a higher role".into()).into()
                );
            }
            let mut user = old.clone();
            let profile = apply_user(&mut user, &wanted, acting, profile.as_ref())?;
            self.guard_superadmin(&txn, &old, &user)?;
            user.updated_at = self.clock.now();
            user.version += 1;
            reindex_user(&txn, Some(&old), &user)?;
            write_user(&txn, &user)?;
            txn.open_table(USER_SCIM_PROFILES)?.insert(id.to_bytes(), codec::encode(&profile).as_slice())?;
            let kind = if old.active && !user.active { "scim.user.deactivated" } else { "scim.user.updated" };
            audit::record(&txn, &user_event(kind, acting, &user, user.updated_at))?;
            txn.commit()?;
        }
        self.scim_user(id)
    }

    /// DELETE /Users/{id}: the user, its tokens and memberships go.
    pub fn scim_delete_user(&self, acting: &Acting, id: UserId, if_match: Option<&str>) -> Result<()> {
        let txn = self.store.db().begin_write()?;
        let user = read_user(&txn, id).map_err(|_| ScimError::NotFound(format!("user {id} not found")))?;
        check_if_match(if_match, user.version)?;
        if user.role > acting.role {
            return Err(ScimError::Forbidden("this SCIM token cannot delete a user with a higher role".into()).into());
        }
        if user.role == Role::Superadmin {
            keep_a_superadmin(&txn, id)?;
        }
        remove_user_rows(&txn, &user)?;
        audit::record(&txn, &user_event("scim.user.deleted", acting, &user, self.clock.now()))?;
        txn.commit()?;
        Ok(())
    }

    /// POST /Groups.
    pub fn scim_create_group(&self, acting: &Acting, group: &ScimGroup) -> Result<ScimGroupRecord> {
        let txn = self.store.db().begin_write()?;
        let id = self.create_group_in(&txn, acting, group)?;
        txn.commit()?;
        self.scim_group(id, true)
    }

    /// Creates many groups in one transaction: an initial import (and the benchmark's fixture).
    pub fn scim_import_groups(&self, acting: &Acting, groups: &[ScimGroup]) -> Result<Vec<GroupId>> {
        let txn = self.store.db().begin_write()?;
        let ids = groups.iter().map(|g| self.create_group_in(&txn, acting, g)).collect::<Result<_>>()?;
        txn.commit()?;
        Ok(ids)
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
        if external_changed {
            if let Some(e) = &wanted.external_id {
                check_text("externalId", e, 256)?;
                claim_index(&txn, GROUP_EXTERNAL_IDS, "group", "externalId", e, id.to_bytes())?;
            }
            if let Some(old) = &record.external_id {
                txn.open_table(GROUP_EXTERNAL_IDS)?.remove(old.as_str())?;
            }
        }
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
