//! Metadata: a free JSON object of string keys per entry (SharePoint column values land here). It follows the
//! entry through moves and renames because it is keyed by entry id.

use redb::{ReadableDatabase, ReadableTable};
use serde_json::{Map, Value};

use super::Drive;
use super::entries::{EntryRef, find};
use super::error::{DriveError, DriveResult};
use super::tables::{CHILDREN, ENTRIES, METADATA, SHARES};
use super::tree::WriteTables;
use crate::ids::ShareId;

/// An entry's metadata object.
pub type Metadata = Map<String, Value>;

fn decode(bytes: &[u8]) -> DriveResult<Metadata> {
    serde_json::from_slice(bytes).map_err(|_| DriveError::Corrupt("drive_metadata"))
}

impl Drive {
    /// The entry's metadata (an empty object when none was set).
    pub fn metadata(&self, share_id: ShareId, target: &EntryRef) -> DriveResult<Metadata> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (_, _, record) = find(&entries, &children, &shares, share_id, target)?;
        match txn.open_table(METADATA)?.get(record.id.to_bytes())? {
            Some(v) => decode(v.value()),
            None => Ok(Metadata::new()),
        }
    }

    /// Replaces the whole object (`PUT`).
    pub fn replace_metadata(&self, share_id: ShareId, target: &EntryRef, object: Metadata) -> DriveResult<Metadata> {
        self.change_metadata(share_id, target, |m| *m = object)
    }

    /// Merges keys into the object (`PATCH`, JSON merge patch style: a `null` value removes the key).
    pub fn merge_metadata(&self, share_id: ShareId, target: &EntryRef, patch: Metadata) -> DriveResult<Metadata> {
        self.change_metadata(share_id, target, |m| {
            for (k, v) in patch {
                if v.is_null() {
                    m.remove(&k);
                } else {
                    m.insert(k, v);
                }
            }
        })
    }

    fn change_metadata(
        &self,
        share_id: ShareId,
        target: &EntryRef,
        change: impl FnOnce(&mut Metadata),
    ) -> DriveResult<Metadata> {
        let txn = self.db().begin_write()?;
        let object = {
            let t = WriteTables::open(&txn)?;
            let (_, _, record) = find(&t.entries, &t.children, &t.shares, share_id, target)?;
            let mut table = txn.open_table(METADATA)?;
            let key = record.id.to_bytes();
            let mut object = match table.get(key)? {
                Some(v) => decode(v.value())?,
                None => Metadata::new(),
            };
            change(&mut object);
            if object.is_empty() {
                table.remove(key)?;
            } else {
                let bytes = serde_json::to_vec(&object).map_err(|e| DriveError::InvalidArgument(e.to_string()))?;
                table.insert(key, bytes.as_slice())?;
            }
            object
        };
        txn.commit()?;
        Ok(object)
    }
}
