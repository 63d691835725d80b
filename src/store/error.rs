//! Errors of the storage layer: the database failed, or a stored record could not be read back.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    #[error("stored record in {table} is unreadable: {message}")]
    Corrupt { table: &'static str, message: String },
    #[error(
        "the database was written by a newer version (schema {found}, this build knows {known}); refusing to downgrade"
    )]
    TooNew { found: u32, known: u32 },
    #[error("the database has schema {found} but this build knows {known}: use the same version as the service")]
    SchemaMismatch { found: u32, known: u32 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// redb splits its errors by operation; they all mean "the database failed" to our callers.
macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(e.into())
            }
        }
    )*};
}

from_redb!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);
