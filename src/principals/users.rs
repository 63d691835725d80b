//! Users: create, read, update, delete, with a case-insensitive unique `user_name` and an optional unique
//! `external_id` (the identity provider's id), both indexed so lookups never scan.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Acting, Principals, PrincipalsError, claim_index, clean_text, double_option, move_index, page_of, rows_after,
};
use crate::audit::{self, AuditEvent};
use crate::ids::UserId;
use crate::store::codec;
use crate::store::tables::{
    GROUP_MEMBERS, TOKEN_HASHES, TOKENS, USER_EXTERNAL_IDS, USER_GROUPS, USER_NAMES, USER_SCIM_PROFILES, USERS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    Admin,
    Superadmin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    #[schema(value_type = String, example = "usr_01J4M3Z1K8M0Q9R2S3T4V5W6X7")]
    pub id: UserId,
    pub user_name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub active: bool,
    pub role: Role,
    pub quota_bytes: Option<u64>,
    pub external_id: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
    /// Pushed by an identity provider through SCIM; its identity fields are changed there, not here.
    pub scim_managed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Bumped by every change; SCIM's ETag.
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub role: Role,
    #[serde(default = "yes")]
    pub active: bool,
    pub quota_bytes: Option<u64>,
    pub external_id: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
    #[serde(skip)]
    pub scim_managed: bool,
}

fn yes() -> bool {
    true
}

impl NewUser {
    pub fn named(user_name: &str) -> Self {
        Self {
            user_name: user_name.to_owned(),
            display_name: None,
            email: None,
            role: Role::User,
            active: true,
            quota_bytes: None,
            external_id: None,
            department: None,
            manager: None,
            scim_managed: false,
        }
    }
}

/// A PATCH body: absent fields stay, `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub user_name: Option<String>,
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub active: Option<bool>,
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>)]
    pub quota_bytes: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub manager: Option<Option<String>>,
}

impl UserPatch {
    /// Whether the patch touches what the identity provider owns (everything but local authorisation).
    fn touches_identity(&self) -> bool {
        self.user_name.is_some()
            || self.display_name.is_some()
            || self.email.is_some()
            || self.active.is_some()
            || self.external_id.is_some()
            || self.department.is_some()
            || self.manager.is_some()
    }
}

pub(super) fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

pub(super) fn clean_email(email: Option<String>) -> Result<Option<String>, PrincipalsError> {
    let Some(email) = email else { return Ok(None) };
    let email = clean_text("email", &email, 320)?;
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !email.contains(' ') => Ok(Some(email)),
        _ => Err(PrincipalsError::Invalid { field: "email", message: "is not an email address".into() }),
    }
}

fn clean_optional(field: &'static str, value: Option<String>) -> Result<Option<String>, PrincipalsError> {
    value.map(|v| clean_text(field, &v, 256)).transpose()
}

fn require_admin(acting: &Acting, role: Role) -> Result<(), PrincipalsError> {
    if acting.role < Role::Admin {
        return Err(PrincipalsError::Forbidden("managing users needs the admin role".into()));
    }
    if role > acting.role {
        return Err(PrincipalsError::Forbidden(format!("an {:?} cannot grant a higher role", acting.role)));
    }
    Ok(())
}

pub(super) fn read_user(txn: &WriteTransaction, id: UserId) -> Result<User, PrincipalsError> {
    let table = txn.open_table(USERS)?;
    let row = table.get(id.to_bytes())?;
    let row = row.ok_or_else(|| PrincipalsError::NotFound { kind: "user", id: id.to_string() })?;
    Ok(codec::decode("users", row.value())?)
}

pub(super) fn write_user(txn: &WriteTransaction, user: &User) -> Result<(), PrincipalsError> {
    txn.open_table(USERS)?.insert(user.id.to_bytes(), codec::encode(user).as_slice())?;
    Ok(())
}

/// Refuses a change that would leave the appliance with no active superadmin to administer it.
pub(super) fn keep_a_superadmin(txn: &WriteTransaction, leaving: UserId) -> Result<(), PrincipalsError> {
    let table = txn.open_table(USERS)?;
    for row in table.iter()? {
        let (_, value) = row?;
        let user: User = codec::decode("users", value.value())?;
        if user.id != leaving && user.active && user.role == Role::Superadmin {
            return Ok(());
        }
    }
    Err(PrincipalsError::Forbidden("the last active superadmin cannot be removed, demoted or deactivated".into()))
}

impl Principals {
    pub fn create_user(&self, acting: &Acting, new: NewUser) -> Result<User, PrincipalsError> {
        require_admin(acting, new.role)?;
        let now = self.clock.now();
        let user_name = clean_text("user_name", &new.user_name, 256)?;
        let user = User {
            id: UserId::new(),
            display_name: match new.display_name {
                Some(name) => clean_text("display_name", &name, 256)?,
                None => user_name.clone(),
            },
            user_name,
            email: clean_email(new.email)?,
            active: new.active,
            role: new.role,
            quota_bytes: new.quota_bytes,
            external_id: clean_optional("external_id", new.external_id)?,
            department: clean_optional("department", new.department)?,
            manager: clean_optional("manager", new.manager)?,
            scim_managed: new.scim_managed,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let txn = self.store.db().begin_write()?;
        claim_index(&txn, USER_NAMES, "user", "user_name", &user_name_key(&user.user_name), user.id.to_bytes())?;
        if let Some(external_id) = &user.external_id {
            claim_index(&txn, USER_EXTERNAL_IDS, "user", "external_id", external_id, user.id.to_bytes())?;
        }
        write_user(&txn, &user)?;
        let event = AuditEvent::new("user.created", acting.actor.clone(), Some(user.id.to_string()), now)
            .with_details(serde_json::json!({ "user_name": user.user_name, "role": user.role }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(user)
    }

    pub fn get_user(&self, id: UserId) -> Result<User, PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(USERS)?;
        let row = table.get(id.to_bytes())?;
        let row = row.ok_or_else(|| PrincipalsError::NotFound { kind: "user", id: id.to_string() })?;
        Ok(codec::decode("users", row.value())?)
    }

    /// Finds a user by `user_name`, ignoring case.
    pub fn find_user_by_name(&self, user_name: &str) -> Result<Option<User>, PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let id = txn.open_table(USER_NAMES)?.get(user_name_key(user_name).as_str())?.map(|v| v.value());
        drop(txn);
        id.map(|id| self.get_user(UserId::from_bytes(id))).transpose()
    }

    /// Users in creation order after `after`, at most `limit`, and the id to continue from if more remain.
    pub fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<(Vec<User>, Option<UserId>), PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(USERS)?;
        let rows = rows_after(&table, after.map(|a| a.to_bytes()))?;
        page_of(rows.map(|row| Ok(codec::decode::<User>("users", row?.1.value())?)), limit, |u| u.id)
    }

    pub fn update_user(&self, acting: &Acting, id: UserId, patch: UserPatch) -> Result<User, PrincipalsError> {
        require_admin(acting, patch.role.unwrap_or(Role::User))?;
        let txn = self.store.db().begin_write()?;
        let mut user = read_user(&txn, id)?;
        if user.role > acting.role {
            return Err(PrincipalsError::Forbidden("an admin cannot change a superadmin".into()));
        }
        if user.scim_managed && patch.touches_identity() {
            return Err(PrincipalsError::ScimManaged(id.to_string()));
        }
        let losing_superadmin = user.role == Role::Superadmin
            && (patch.role.is_some_and(|r| r != Role::Superadmin) || patch.active == Some(false));
        if losing_superadmin {
            keep_a_superadmin(&txn, id)?;
        }
        if let Some(name) = patch.user_name {
            let name = clean_text("user_name", &name, 256)?;
            let (old_key, new_key) = (user_name_key(&user.user_name), user_name_key(&name));
            move_index(&txn, USER_NAMES, ("user", "user_name"), Some(&old_key), Some(&new_key), id.to_bytes())?;
            user.user_name = name;
        }
        if let Some(external_id) = patch.external_id {
            let external_id = clean_optional("external_id", external_id)?;
            let (old, new) = (user.external_id.as_deref(), external_id.as_deref());
            move_index(&txn, USER_EXTERNAL_IDS, ("user", "external_id"), old, new, id.to_bytes())?;
            user.external_id = external_id;
        }
        if let Some(name) = patch.display_name {
            user.display_name = clean_text("display_name", &name, 256)?;
        }
        if let Some(email) = patch.email {
            user.email = clean_email(email)?;
        }
        if let Some(department) = patch.department {
            user.department = clean_optional("department", department)?;
        }
        if let Some(manager) = patch.manager {
            user.manager = clean_optional("manager", manager)?;
        }
        user.active = patch.active.unwrap_or(user.active);
        user.role = patch.role.unwrap_or(user.role);
        if let Some(quota) = patch.quota_bytes {
            user.quota_bytes = quota;
        }
        user.updated_at = self.clock.now();
        user.version += 1;
        write_user(&txn, &user)?;
        let event = AuditEvent::new("user.updated", acting.actor.clone(), Some(id.to_string()), user.updated_at);
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(user)
    }

    /// Deletes a user with its tokens and memberships. SCIM-managed users are deprovisioned by their identity
    /// provider instead.
    pub fn delete_user(&self, acting: &Acting, id: UserId) -> Result<(), PrincipalsError> {
        require_admin(acting, Role::User)?;
        let txn = self.store.db().begin_write()?;
        let user = read_user(&txn, id)?;
        if user.role > acting.role {
            return Err(PrincipalsError::Forbidden("an admin cannot delete a superadmin".into()));
        }
        if user.scim_managed {
            return Err(PrincipalsError::ScimManaged(id.to_string()));
        }
        if user.role == Role::Superadmin {
            keep_a_superadmin(&txn, id)?;
        }
        remove_user_rows(&txn, &user)?;
        let now = self.clock.now();
        let event = AuditEvent::new("user.deleted", acting.actor.clone(), Some(id.to_string()), now)
            .with_details(serde_json::json!({ "user_name": user.user_name }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    }
}

pub(super) fn remove_user_rows(txn: &WriteTransaction, user: &User) -> Result<(), PrincipalsError> {
    let id = user.id.to_bytes();
    txn.open_table(USERS)?.remove(id)?;
    txn.open_table(USER_NAMES)?.remove(user_name_key(&user.user_name).as_str())?;
    if let Some(external_id) = &user.external_id {
        txn.open_table(USER_EXTERNAL_IDS)?.remove(external_id.as_str())?;
    }
    let groups: Vec<[u8; 16]> = {
        let mut memberships = txn.open_table(USER_GROUPS)?;
        let keys: Vec<[u8; 32]> =
            memberships.range(codec::pairs_of(id))?.map(|row| row.map(|(k, _)| k.value())).collect::<Result<_, _>>()?;
        for key in &keys {
            memberships.remove(key)?;
        }
        keys.iter().map(codec::second).collect()
    };
    let mut members = txn.open_table(GROUP_MEMBERS)?;
    for group in groups {
        members.remove(codec::pair(group, id))?;
    }
    txn.open_table(USER_SCIM_PROFILES)?.remove(id)?;
    let mut tokens = txn.open_table(TOKENS)?;
    let mut hashes = txn.open_table(TOKEN_HASHES)?;
    let mut revoked = Vec::new();
    for row in tokens.iter()? {
        let (key, value) = row?;
        let token: super::Token = codec::decode("tokens", value.value())?;
        if token.user_id == user.id {
            revoked.push((key.value(), token.hash));
        }
    }
    for (key, hash) in revoked {
        tokens.remove(key)?;
        hashes.remove(hash)?;
    }
    Ok(())
}
