//! Storage figures per drive table (for the metrics endpoint and the size benchmark): how many pages each table
//! holds and how full they are.

use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

use super::Drive;
use super::error::DriveResult;
use super::tables;

/// One table's storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableUsage {
    pub name: &'static str,
    pub rows: u64,
    pub leaf_pages: u64,
    pub branch_pages: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes of page headers and offsets.
    pub metadata_bytes: u64,
    /// Unused space inside the table's pages.
    pub fragmented_bytes: u64,
}

fn usage<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    name: &'static str,
    def: TableDefinition<K, V>,
) -> DriveResult<TableUsage> {
    let table = txn.open_table(def)?;
    let s = table.stats()?;
    Ok(TableUsage {
        name,
        rows: table.len()?,
        leaf_pages: s.leaf_pages(),
        branch_pages: s.branch_pages(),
        stored_bytes: s.stored_bytes(),
        metadata_bytes: s.metadata_bytes(),
        fragmented_bytes: s.fragmented_bytes(),
    })
}

impl Drive {
    /// Storage used by each drive table.
    pub fn table_usage(&self) -> DriveResult<Vec<TableUsage>> {
        let txn = self.db().begin_read()?;
        Ok(vec![
            usage(&txn, "drive_shares", tables::SHARES)?,
            usage(&txn, "drive_children", tables::CHILDREN)?,
            usage(&txn, "drive_entries", tables::ENTRIES)?,
            usage(&txn, "drive_versions", tables::VERSIONS)?,
            usage(&txn, "drive_version_owner", tables::VERSION_OWNER)?,
            usage(&txn, "drive_trash", tables::TRASH)?,
            usage(&txn, "drive_blobs", tables::BLOBS)?,
            usage(&txn, "drive_dead_blobs", tables::DEAD_BLOBS)?,
            usage(&txn, "drive_metadata", tables::METADATA)?,
            usage(&txn, "drive_aces", tables::ACES)?,
        ])
    }
}
