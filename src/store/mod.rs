//! The appliance's one redb database. `Store` is a cheap handle to share; tables, record codec, schema
//! migrations and backup live in the submodules. Writes belong to the module that owns a table; anyone may read.

mod backup;
pub mod codec;
mod error;
pub mod migrate;
pub mod tables;

use std::path::Path;
use std::sync::Arc;

pub use error::StoreError;

/// redb's page cache (its default is 1 GiB). Every written page stays cached up to the cap, so uncapped the cache
/// grows with the database; and once the database outgrows the cache, each run that reads it through left up to
/// a cache's worth more resident (likely the allocator's per-thread arenas: the pages are allocated and freed by
/// whichever blocking thread reads or writes; not profiled). Measured with `benches/smb_peers.rs` on 100,000 files (initial sync, then
/// a no-change and a 1% run): peak RSS 196 MiB with a 64 MiB cache (each later run added ~40 MiB), 92 MiB with
/// 16 MiB, at the same speed within this machine's noise. Reads past the cap come from the OS page cache.
const CACHE_BYTES: usize = 16 << 20;

fn builder() -> redb::Builder {
    let mut builder = redb::Database::builder();
    builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter).set_cache_size(CACHE_BYTES);
    builder
}

#[derive(Clone)]
pub struct Store {
    db: Arc<redb::Database>,
}

impl Store {
    /// Opens (or creates) the database and brings its schema up to date. The file is opened in redb's
    /// multi-process mode, so the CLI (`token`, `backup`) can work on it while the appliance runs; redb still
    /// allows one write transaction at a time across processes.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = builder().create(path)?;
        migrate::migrate(&db)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Opens an existing database without changing its schema: for the command-line tools, which may run beside
    /// a service of another version and must never migrate the file under it.
    pub fn open_current(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no database at {}", path.display()),
            )));
        }
        let db = builder().open(path)?;
        let txn = db.begin_write()?;
        let version = migrate::read_version(&txn)?;
        txn.abort()?;
        match version {
            Some(v) if v == migrate::SCHEMA_VERSION => Ok(Self { db: Arc::new(db) }),
            found => Err(StoreError::SchemaMismatch { found: found.unwrap_or(0), known: migrate::SCHEMA_VERSION }),
        }
    }

    pub fn db(&self) -> &redb::Database {
        &self.db
    }

    pub fn shared_db(&self) -> Arc<redb::Database> {
        self.db.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;

    #[test]
    fn fresh_database_gets_the_current_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path).unwrap();
        let txn = store.db().begin_write().unwrap();
        assert_eq!(migrate::read_version(&txn).unwrap(), Some(migrate::SCHEMA_VERSION));
        txn.abort().unwrap();
        drop(store);
        Store::open(&path).unwrap();
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path).unwrap();
        let txn = store.db().begin_write().unwrap();
        txn.open_table(tables::META).unwrap().insert("schema_version", 99u32.to_be_bytes().as_slice()).unwrap();
        txn.commit().unwrap();
        drop(store);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
    }

    #[test]
    fn backup_is_a_database_with_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let txn = store.db().begin_write().unwrap();
        txn.open_table(tables::USER_NAMES).unwrap().insert("alice", [1u8; 16]).unwrap();
        txn.commit().unwrap();
        let copy = dir.path().join("copy.redb");
        store.backup_to(&copy).unwrap();
        assert!(store.backup_to(&copy).is_err(), "an existing file is never overwritten");
        let restored = Store::open(&copy).unwrap();
        let read = restored.db().begin_read().unwrap();
        let names = read.open_table(tables::USER_NAMES).unwrap();
        assert_eq!(names.get("alice").unwrap().unwrap().value(), [1u8; 16]);
    }
}
