//! A consistent copy of the database while the appliance runs: one read transaction is a snapshot, and every
//! table of `tables.rs` is copied from it into a fresh database file, which is renamed into place only once
//! complete. redb lets another process open the file while the appliance has it (see `Store::open`), so the
//! `backup` subcommand needs no cooperation from the running service.

use std::path::Path;

use redb::{Key, ReadableDatabase, ReadableTable, TableDefinition, Value};

use super::{Store, StoreError, tables};

pub(crate) fn copy_table<K: Key + 'static, V: Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<(), StoreError> {
    let source = match from.open_table(table) {
        Ok(source) => source,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut target = to.open_table(table)?;
    for row in source.iter()? {
        let (key, value) = row?;
        target.insert(key.value(), value.value())?;
    }
    Ok(())
}

impl Store {
    /// Writes a consistent copy of the database to `destination` (which must not exist).
    pub fn backup_to(&self, destination: &Path) -> Result<(), StoreError> {
        if destination.exists() {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", destination.display()),
            )));
        }
        let partial = destination.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let snapshot = self.db.begin_read()?;
        let copy = redb::Database::create(&partial)?;
        let txn = copy.begin_write()?;
        tables::copy_all(&snapshot, &txn)?;
        txn.commit()?;
        drop(copy);
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, destination)?;
        if let Some(parent) = destination.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}
