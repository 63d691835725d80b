//! Users and groups as SCIM sees them, over the same tables as the REST API: what a user's SCIM form is made
//! of, and the SCIM writes of users (groups' are in `scim_groups.rs`, the reads in `scim_read.rs`, the queries
//! in `scim_search.rs`; the pure protocol in `crate::scim`). Each write is one transaction that checks
//! `If-Match`, uniqueness (folded `userName` and group `displayName`, 409 `uniqueness`) and member existence
//! (400 `invalidValue`), bumps the version only when the resource really changed, and records its `scim.*`
//! audit event.
//!
//! What the user record has no room for (every email, the name parts, whether `active` was assigned) is kept in
//! `USER_SCIM_PROFILES`. A user made through the API (just in time) and then pushed by SCIM with the same
//! `externalId` or `userName` is adopted, not duplicated; a second push of a SCIM-managed name is a 409.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::move_index;
use super::users::{keep_a_superadmin, read_user, remove_user_rows, user_name_key, write_user};
use super::{Acting, Principals, PrincipalsError, Role, User};
use crate::audit::{self, AuditEvent};
use crate::ids::UserId;
use crate::scim::error::ScimError;
use crate::scim::patch::{PatchRequest, patch_user};
use crate::scim::resource::{ScimEmail, ScimMeta, ScimName, ScimRole, ScimUser, ScimUserRecord, if_match_allows};
use crate::store::codec;
use crate::store::tables::{USER_EXTERNAL_IDS, USER_NAMES, USER_SCIM_PROFILES};

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
pub(super) fn check_text(field: &str, value: &str, max: usize) -> std::result::Result<(), ScimError> {
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
    let old_key = old.map(|o| user_name_key(&o.user_name));
    let new_key = user_name_key(&new.user_name);
    move_index(txn, USER_NAMES, ("user", "userName"), old_key.as_deref(), Some(&new_key), new.id.to_bytes())?;
    let old_ext = old.and_then(|o| o.external_id.as_deref());
    let new_ext = new.external_id.as_deref();
    move_index(txn, USER_EXTERNAL_IDS, ("user", "externalId"), old_ext, new_ext, new.id.to_bytes())?;
    Ok(())
}

pub(super) fn read_profile(table: &impl ReadableTable<[u8; 16], &'static [u8]>, id: UserId) -> Result<Option<Profile>> {
    Ok(table.get(id.to_bytes())?.map(|row| codec::decode("user_scim_profiles", row.value())).transpose()?)
}

pub(super) fn check_if_match(if_match: Option<&str>, version: u64) -> Result<()> {
    match if_match {
        Some(header) if !if_match_allows(header, version) => {
            Err(ScimError::PreconditionFailed(format!("the resource is at version W/\"{version}\"")).into())
        }
        _ => Ok(()),
    }
}

fn user_event(kind: &str, acting: &Acting, user: &User, now: OffsetDateTime) -> AuditEvent {
    AuditEvent::new(kind, acting.actor.clone(), Some(user.id.to_string()), now)
        .with_details(serde_json::json!({ "user_name": user.user_name, "active": user.active }))
}

impl Principals {
    /// Runs `work` in one write transaction, committed when it succeeds.
    pub(super) fn in_one_write<T>(&self, work: impl FnOnce(&WriteTransaction) -> Result<T>) -> Result<T> {
        let txn = self.store.db().begin_write()?;
        let done = work(&txn)?;
        txn.commit()?;
        Ok(done)
    }

    /// POST /Users. A user the appliance already has under the same `externalId` or `userName` and that SCIM
    /// does not manage yet (made just in time) is adopted instead of duplicated.
    pub fn scim_create_user(&self, acting: &Acting, user: &ScimUser) -> Result<ScimUserRecord> {
        let id = self.in_one_write(|txn| self.create_user_in(txn, acting, user))?;
        self.scim_user(id)
    }

    /// Creates many users in one transaction: an initial import (and the benchmark's fixture).
    pub fn scim_import_users(&self, acting: &Acting, users: &[ScimUser]) -> Result<Vec<UserId>> {
        self.in_one_write(|txn| users.iter().map(|u| self.create_user_in(txn, acting, u)).collect())
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
}
