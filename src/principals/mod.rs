//! Users, groups and API tokens: the principals of the store spec. `Principals` owns the writes of their tables;
//! each write is one short redb transaction that also appends its audit event. The methods block on the
//! database: async callers run them on the blocking pool. `scim` is SCIM's view of the same users and groups.

mod groups;
mod landmarks;
mod scim;
mod scim_groups;
mod scim_read;
mod scim_search;
mod tokens;
mod users;

pub use groups::{Group, GroupPatch, NewGroup, group_name_key};
pub use scim::ScimStoreError;
pub use scim_search::{DEFAULT_COUNT, MAX_RESULTS, Scope};
pub use tokens::{IssuedToken, NewToken, Token, TokenKind, TokenView};
pub use users::{NewUser, Role, User, UserPatch};

use serde::{Deserialize, Deserializer};

use crate::audit::AuditActor;
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PrincipalsError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("a {kind} with {field} '{value}' already exists")]
    AlreadyExists { kind: &'static str, field: &'static str, value: String },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0} is managed by SCIM; change it in the identity provider")]
    ScimManaged(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

macro_rules! store_error_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for PrincipalsError {
            fn from(e: $t) -> Self {
                PrincipalsError::Store(e.into())
            }
        }
    )*};
}
store_error_from_redb!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

#[derive(Clone)]
pub struct Principals {
    store: Store,
    clock: SharedClock,
    /// Landmarks in the user list, so a deep SCIM page starts near its offset (`landmarks.rs`).
    scim_landmarks: std::sync::Arc<std::sync::Mutex<landmarks::Landmarks>>,
}

/// Who is acting, as the audit log records it, and with which role.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: AuditActor,
    pub role: Role,
}

impl Acting {
    /// The command line on the appliance itself: trusted as a superadmin.
    pub fn system() -> Self {
        Self { actor: AuditActor::System, role: Role::Superadmin }
    }
}

impl Principals {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock, scim_landmarks: Default::default() }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// For PATCH bodies: tells "absent" (`None`) from "set to null" (`Some(None)`).
pub(crate) fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Claims `key` in a unique index for the row `id`; refused when another row holds it.
pub(crate) fn claim_index(
    txn: &redb::WriteTransaction,
    table: redb::TableDefinition<&str, [u8; 16]>,
    kind: &'static str,
    field: &'static str,
    key: &str,
    id: [u8; 16],
) -> Result<(), PrincipalsError> {
    let mut index = txn.open_table(table)?;
    if redb::ReadableTable::get(&index, key)?.is_some_and(|owner| owner.value() != id) {
        return Err(PrincipalsError::AlreadyExists { kind, field, value: key.to_owned() });
    }
    index.insert(key, id)?;
    Ok(())
}

/// Moves the row `id`'s entry in a unique index from `old` to `new` (either may be absent), refusing a `new`
/// another row holds; equal keys change nothing.
pub(crate) fn move_index(
    txn: &redb::WriteTransaction,
    table: redb::TableDefinition<&str, [u8; 16]>,
    (kind, field): (&'static str, &'static str),
    old: Option<&str>,
    new: Option<&str>,
    id: [u8; 16],
) -> Result<(), PrincipalsError> {
    if old == new {
        return Ok(());
    }
    if let Some(new) = new {
        claim_index(txn, table, kind, field, new, id)?;
    }
    if let Some(old) = old {
        txn.open_table(table)?.remove(old)?;
    }
    Ok(())
}

/// The rows of an id-keyed table in key (creation) order, after the key `after` (from the first without it).
pub(crate) fn rows_after<T: redb::ReadableTable<[u8; 16], &'static [u8]>>(
    table: &T,
    after: Option<[u8; 16]>,
) -> Result<redb::Range<'_, [u8; 16], &'static [u8]>, redb::StorageError> {
    match after {
        Some(after) => table.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
        None => table.range::<[u8; 16]>(..),
    }
}

/// A page of at most `limit` items, and the id of its last one when more follow (one item past the page is
/// read to tell).
pub(crate) fn page_of<T, Id>(
    items: impl Iterator<Item = Result<T, PrincipalsError>>,
    limit: usize,
    id: impl Fn(&T) -> Id,
) -> Result<(Vec<T>, Option<Id>), PrincipalsError> {
    let mut page = items.take(limit + 1).collect::<Result<Vec<T>, _>>()?;
    if page.len() <= limit {
        return Ok((page, None));
    }
    page.truncate(limit);
    let next = page.last().map(id);
    Ok((page, next))
}

/// A display text: trimmed, 1 to `max` characters, no control characters.
pub(crate) fn clean_text(field: &'static str, value: &str, max: usize) -> Result<String, PrincipalsError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(PrincipalsError::Invalid { field, message: "must not be empty".into() });
    }
    if value.chars().count() > max {
        return Err(PrincipalsError::Invalid { field, message: format!("must be at most {max} characters") });
    }
    if value.chars().any(char::is_control) {
        return Err(PrincipalsError::Invalid { field, message: "must not contain control characters".into() });
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod scim_tests;
#[cfg(test)]
mod tests;
