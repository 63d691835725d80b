//! What the per-entry extras pass remembers per connector and SharePoint item between runs (table
//! `SHAREPOINT_ITEMS`, key `connector ++ item id`): the SharePoint version labels already in the drive (so no
//! version is added twice or downloaded again) and the column values both sides held after the last sync (the
//! base of the three-way column merge). It names the drive entry it describes: if the item comes to sync into
//! another entry (deleted and made again), the old memory no longer applies and is ignored.

use redb::{ReadableDatabase, TableError, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{ConnectorId, EntryId};
use crate::store::tables::SHAREPOINT_ITEMS;
use crate::store::{Store, StoreError, codec};

/// One item's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub entry_id: Option<EntryId>,
    /// SharePoint version labels (`"3.0"`) whose content is a version (or the current content) of the entry.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Column values both sides held after the last sync.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

fn key(connector: ConnectorId, item_id: &str) -> Vec<u8> {
    let mut k = connector.to_bytes().to_vec();
    k.extend_from_slice(item_id.as_bytes());
    k
}

/// The memory of `item_id` for `entry` (empty when there is none, or it was about another entry).
pub fn load(store: &Store, connector: ConnectorId, item_id: &str, entry: EntryId) -> Result<ItemState, StoreError> {
    let txn = store.db().begin_read()?;
    let table = match txn.open_table(SHAREPOINT_ITEMS) {
        Ok(t) => t,
        // A database made before this table existed: nothing remembered yet (the first write creates it).
        Err(TableError::TableDoesNotExist(_)) => return Ok(ItemState::default()),
        Err(e) => return Err(e.into()),
    };
    let state: Option<ItemState> = match table.get(key(connector, item_id).as_slice())? {
        Some(v) => Some(codec::decode("sharepoint_items", v.value())?),
        None => None,
    };
    Ok(state.filter(|s| s.entry_id == Some(entry)).unwrap_or_default())
}

pub fn save(store: &Store, connector: ConnectorId, item_id: &str, state: &ItemState) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    txn.open_table(SHAREPOINT_ITEMS)?.insert(key(connector, item_id).as_slice(), codec::encode(state).as_slice())?;
    txn.commit()?;
    Ok(())
}

/// Forgets everything about a deleted connector's items, inside the transaction that deletes it.
pub fn remove_all(txn: &WriteTransaction, connector: ConnectorId) -> Result<(), StoreError> {
    let mut table = txn.open_table(SHAREPOINT_ITEMS)?;
    let start = connector.to_bytes().to_vec();
    let mut end = start.clone();
    end.push(0xff);
    // Item ids are ASCII, so every key of the connector sorts below `connector ++ 0xff`.
    table.retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_kept_per_connector_and_item_and_dropped_for_another_entry_or_a_deleted_connector() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let (c1, c2, entry) = (ConnectorId::new(), ConnectorId::new(), EntryId::new());
        assert_eq!(load(&store, c1, "01ABC", entry).unwrap(), ItemState::default());
        let state = ItemState { entry_id: Some(entry), versions: vec!["1.0".into()], fields: Map::new() };
        save(&store, c1, "01ABC", &state).unwrap();
        assert_eq!(load(&store, c1, "01ABC", entry).unwrap(), state);
        assert_eq!(load(&store, c2, "01ABC", entry).unwrap(), ItemState::default());
        assert_eq!(load(&store, c1, "01ABC", EntryId::new()).unwrap(), ItemState::default());
        let other = ItemState { entry_id: Some(entry), versions: vec!["2.0".into()], fields: Map::new() };
        save(&store, c2, "01ABC", &other).unwrap();
        let txn = store.db().begin_write().unwrap();
        remove_all(&txn, c1).unwrap();
        txn.commit().unwrap();
        assert_eq!(load(&store, c1, "01ABC", entry).unwrap(), ItemState::default());
        assert_eq!(load(&store, c2, "01ABC", entry).unwrap().versions, vec!["2.0".to_string()]);
    }
}
