//! What a connector knows between runs: the base record of every synced path (both sides as they stood after the
//! last successful sync), the per-file errors of the last runs, and open conflicts. Base rows are keyed by
//! `connector ++ SyncPath::sort_key()`, so one range read streams them back in the engine's walk order and a
//! run's memory follows its changes, not the size of the tree. The file-state actor owns the writes: one write
//! transaction per batch the engine hands over. A source with change tokens (SharePoint's delta) also keeps its
//! cursor here, as opaque bytes, saved after the run's base changes.

use futures::Stream;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{self, AuditActor, AuditEvent};
use crate::ids::{ConflictId, ConnectorId};
use crate::store::tables::{CONFLICTS, FILE_ERRORS, FILE_STATES, RESOLVED_CONFLICTS, SOURCE_CURSORS};
use crate::store::{Store, StoreError, codec};
use crate::sync::Entry;
use crate::sync::conflict::{ConflictRecord, Resolution};
use crate::sync::execute::BaseChange;
use crate::sync::{BaseRecord, SyncPath};

/// How many base records travel from the reading thread to the run at a time.
const STREAM_BUFFER: usize = 1024;

/// A per-file error of a run, kept until the path syncs again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub path: SyncPath,
    pub code: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

pub(crate) fn key(connector: ConnectorId, path: &SyncPath) -> Vec<u8> {
    let mut key = connector.to_bytes().to_vec();
    key.extend(path.sort_key());
    key
}

/// The key range of one connector's rows: from its id up to (excluding) the next possible id.
pub(crate) fn prefix_range(connector: ConnectorId) -> (Vec<u8>, Vec<u8>) {
    let start = connector.to_bytes().to_vec();
    let mut next = connector.to_bytes();
    for byte in next.iter_mut().rev() {
        if *byte == 0xff {
            *byte = 0;
        } else {
            *byte += 1;
            break;
        }
    }
    (start, next.to_vec())
}

/// Applies one batch of the engine's base changes in one transaction; a path that synced loses its old error.
pub fn commit(store: &Store, connector: ConnectorId, batch: &[BaseChange]) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    apply(&txn, connector, batch)?;
    txn.commit()?;
    Ok(())
}

fn apply(txn: &WriteTransaction, connector: ConnectorId, batch: &[BaseChange]) -> Result<(), StoreError> {
    let mut states = txn.open_table(FILE_STATES)?;
    let mut errors = txn.open_table(FILE_ERRORS)?;
    let mut conflicts = txn.open_table(CONFLICTS)?;
    for change in batch {
        match change {
            BaseChange::Put(record) => {
                let k = key(connector, &record.path);
                states.insert(k.as_slice(), codec::encode(record).as_slice())?;
                errors.remove(k.as_slice())?;
            }
            BaseChange::Forget(path) => {
                let k = key(connector, path);
                states.remove(k.as_slice())?;
                errors.remove(k.as_slice())?;
            }
            BaseChange::OpenConflict(record) => {
                let k = codec::pair(connector.to_bytes(), record.id.to_bytes());
                conflicts.insert(k, codec::encode(record.as_ref()).as_slice())?;
                // SYNC.md: a MANUAL conflict raises an audit event, so an admin hears of it without job logs.
                let event = AuditEvent::new(
                    "sync.conflict_opened",
                    AuditActor::Connector(connector),
                    Some(connector.to_string()),
                    record.opened_at,
                )
                .with_details(serde_json::json!({ "conflict_id": record.id, "path": record.path }));
                audit::record(txn, &event)?;
            }
            BaseChange::SettleConflict(id) => {
                conflicts.remove(codec::pair(connector.to_bytes(), id.to_bytes()))?;
            }
        }
    }
    Ok(())
}

/// Records per-file errors of a run (the paths stay as they were; the next run retries them).
pub fn record_errors(store: &Store, connector: ConnectorId, failures: &[FileError]) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    {
        let mut errors = txn.open_table(FILE_ERRORS)?;
        for failure in failures {
            errors.insert(key(connector, &failure.path).as_slice(), codec::encode(failure).as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// The connector's base records in the engine's walk order, read on a blocking thread and handed over in
/// bounded chunks, so a million-file base never sits in memory at once.
pub fn base_stream(
    store: &Store,
    connector: ConnectorId,
) -> impl Stream<Item = Result<BaseRecord, StoreError>> + Send + Unpin + 'static {
    let store = store.clone();
    blocking_stream(STREAM_BUFFER, move |send| {
        let txn = store.db().begin_read()?;
        let table = txn.open_table(FILE_STATES)?;
        let (start, end) = prefix_range(connector);
        for row in table.range(start.as_slice()..end.as_slice())? {
            let (_, value) = row?;
            if !send(codec::decode("file_states", value.value())?) {
                return Ok(());
            }
        }
        Ok(())
    })
}

/// The file-state record of one path, if it is tracked.
pub fn base(store: &Store, connector: ConnectorId, path: &SyncPath) -> Result<Option<BaseRecord>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(FILE_STATES)?;
    let found = table.get(key(connector, path).as_slice())?;
    found.map(|value| codec::decode("file_states", value.value())).transpose()
}

/// Items `produce` makes on a blocking thread (reading the store), handed over `buffer` at a time. `produce`
/// gets a `send` that answers `false` once the consumer has stopped listening (its run failed or stopped):
/// nothing more to read then. An error ends the stream with that error.
pub(crate) fn blocking_stream<T: Send + 'static>(
    buffer: usize,
    produce: impl FnOnce(&mut dyn FnMut(T) -> bool) -> Result<(), StoreError> + Send + 'static,
) -> impl Stream<Item = Result<T, StoreError>> + Send + Unpin + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<T, StoreError>>(buffer);
    tokio::task::spawn_blocking(move || {
        let mut send = |item: T| tx.blocking_send(Ok(item)).is_ok();
        if let Err(error) = produce(&mut send) {
            let _ = tx.blocking_send(Err(error));
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Open conflicts of the connector, oldest first.
pub fn open_conflicts(store: &Store, connector: ConnectorId) -> Result<Vec<ConflictRecord>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(CONFLICTS)?;
    table.range(codec::pairs_of(connector.to_bytes()))?.map(|row| codec::decode("conflicts", row?.1.value())).collect()
}

/// An open conflict, if it is.
pub fn conflict(store: &Store, connector: ConnectorId, id: ConflictId) -> Result<Option<ConflictRecord>, StoreError> {
    one_conflict(store, CONFLICTS, connector, id)
}

/// A conflict an admin resolved, if it was.
pub fn resolved_conflict(
    store: &Store,
    connector: ConnectorId,
    id: ConflictId,
) -> Result<Option<ConflictRecord>, StoreError> {
    one_conflict(store, RESOLVED_CONFLICTS, connector, id)
}

fn one_conflict(
    store: &Store,
    table: redb::TableDefinition<'static, crate::store::tables::IdPair, &'static [u8]>,
    connector: ConnectorId,
    id: ConflictId,
) -> Result<Option<ConflictRecord>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(table)?;
    let row = table.get(codec::pair(connector.to_bytes(), id.to_bytes()))?;
    row.map(|v| codec::decode("conflicts", v.value())).transpose()
}

/// Closes an open conflict with the admin's choice, with its audit event, in one transaction. `None` when the
/// conflict is no longer open.
pub fn mark_resolved(
    store: &Store,
    connector: ConnectorId,
    id: ConflictId,
    choice: Resolution,
    at: OffsetDateTime,
    event: AuditEvent,
) -> Result<Option<ConflictRecord>, StoreError> {
    let key = codec::pair(connector.to_bytes(), id.to_bytes());
    let txn = store.db().begin_write()?;
    let resolved = {
        let mut open = txn.open_table(CONFLICTS)?;
        let Some(mut record) =
            open.remove(key)?.map(|v| codec::decode::<ConflictRecord>("conflicts", v.value())).transpose()?
        else {
            return Ok(None);
        };
        record.resolution = Some(choice);
        record.resolved_at = Some(at);
        txn.open_table(RESOLVED_CONFLICTS)?.insert(key, codec::encode(&record).as_slice())?;
        record
    };
    audit::record(&txn, &event)?;
    txn.commit()?;
    Ok(Some(resolved))
}

/// A conflict whose sides changed since it was found: it shows both sides as they stand now, or, when a side no
/// longer holds the path, it closes (the next run decides it: a change beats a delete).
pub fn refresh_conflict(
    store: &Store,
    connector: ConnectorId,
    id: ConflictId,
    source: Option<Entry>,
    drive: Option<Entry>,
) -> Result<(), StoreError> {
    let key = codec::pair(connector.to_bytes(), id.to_bytes());
    let txn = store.db().begin_write()?;
    {
        let mut open = txn.open_table(CONFLICTS)?;
        let record = open.get(key)?.map(|v| codec::decode::<ConflictRecord>("conflicts", v.value())).transpose()?;
        match (record, source, drive) {
            (Some(mut record), Some(source), Some(drive)) => {
                (record.source, record.drive) = (source, drive);
                open.insert(key, codec::encode(&record).as_slice())?;
            }
            (Some(_), _, _) => {
                open.remove(key)?;
            }
            (None, _, _) => {}
        }
    }
    txn.commit()?;
    Ok(())
}

/// One page of the connector's file states after `after` (a path's sort key), at most `limit`.
pub struct StatePage {
    pub states: Vec<(BaseRecord, Option<FileError>)>,
    pub next: Option<Vec<u8>>,
}

/// Tracked paths with their last error, in walk order.
pub fn list(
    store: &Store,
    connector: ConnectorId,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<StatePage, StoreError> {
    let txn = store.db().begin_read()?;
    let states = txn.open_table(FILE_STATES)?;
    let errors = txn.open_table(FILE_ERRORS)?;
    let (start, end) = prefix_range(connector);
    let from = match after {
        Some(after) => {
            let mut k = connector.to_bytes().to_vec();
            k.extend_from_slice(after);
            k.push(0);
            k
        }
        None => start,
    };
    let mut out = Vec::new();
    let mut next = None;
    for row in states.range(from.as_slice()..end.as_slice())? {
        let (k, v) = row?;
        if out.len() == limit {
            next = out.last().map(|(r, _): &(BaseRecord, Option<FileError>)| r.path.sort_key());
            break;
        }
        let record: BaseRecord = codec::decode("file_states", v.value())?;
        let error = errors.get(k.value())?.map(|e| codec::decode("file_errors", e.value())).transpose()?;
        out.push((record, error));
    }
    Ok(StatePage { states: out, next })
}

/// Per-file errors of paths that have no base record yet (never synced), in walk order.
pub fn untracked_errors(store: &Store, connector: ConnectorId) -> Result<Vec<FileError>, StoreError> {
    let txn = store.db().begin_read()?;
    let (states, errors) = (txn.open_table(FILE_STATES)?, txn.open_table(FILE_ERRORS)?);
    let (start, end) = prefix_range(connector);
    let mut out = Vec::new();
    for row in errors.range(start.as_slice()..end.as_slice())? {
        let (k, v) = row?;
        if states.get(k.value())?.is_none() {
            out.push(codec::decode("file_errors", v.value())?);
        }
    }
    Ok(out)
}

/// The source's change cursor saved by the last run, if any.
pub fn cursor(store: &Store, connector: ConnectorId) -> Result<Option<Vec<u8>>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = match txn.open_table(SOURCE_CURSORS) {
        Ok(table) => table,
        // A database from before cursors were kept: no connector has one yet.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(table.get(connector.to_bytes())?.map(|v| v.value().to_vec()))
}

/// Saves the source's change cursor. Call it only once the run's base changes are committed: the cursor says
/// "everything before this is applied".
pub fn save_cursor(store: &Store, connector: ConnectorId, cursor: &[u8]) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    txn.open_table(SOURCE_CURSORS)?.insert(connector.to_bytes(), cursor)?;
    txn.commit()?;
    Ok(())
}

/// Forgets everything about a deleted connector.
pub fn remove_all(txn: &WriteTransaction, connector: ConnectorId) -> Result<(), StoreError> {
    txn.open_table(SOURCE_CURSORS)?.remove(connector.to_bytes())?;
    let (start, end) = prefix_range(connector);
    for table in [FILE_STATES, FILE_ERRORS] {
        let mut t = txn.open_table(table)?;
        let keys: Vec<Vec<u8>> = t
            .range(start.as_slice()..end.as_slice())?
            .map(|r| r.map(|(k, _)| k.value().to_vec()))
            .collect::<Result<_, _>>()?;
        for k in keys {
            t.remove(k.as_slice())?;
        }
    }
    for table in [CONFLICTS, RESOLVED_CONFLICTS] {
        let mut conflicts = txn.open_table(table)?;
        let keys: Vec<[u8; 32]> = conflicts
            .range(codec::pairs_of(connector.to_bytes()))?
            .map(|r| r.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for k in keys {
            conflicts.remove(k)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::sync::entry::{Kind, SideState};

    fn record(path: &str) -> BaseRecord {
        let state = SideState {
            id: path.into(),
            kind: Kind::File,
            size: 1,
            modified: OffsetDateTime::UNIX_EPOCH,
            tag: "t".into(),
            hash: None,
        };
        BaseRecord { path: SyncPath::new(path), source: state.clone(), drive: state, sha256: None }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn base_streams_back_in_walk_order_per_connector() {
        let (_dir, store) = store();
        let (a, b) = (ConnectorId::new(), ConnectorId::new());
        let paths = ["b.txt", "A/x.txt", "a", "B", "a/y.txt"];
        let batch: Vec<BaseChange> = paths.iter().map(|p| BaseChange::Put(record(p))).collect();
        commit(&store, a, &batch).unwrap();
        commit(&store, b, &[BaseChange::Put(record("other.txt"))]).unwrap();
        let streamed: Vec<SyncPath> = base_stream(&store, a).map(|r| r.unwrap().path).collect().await;
        let mut expected: Vec<SyncPath> = paths.iter().map(|p| SyncPath::new(*p)).collect();
        expected.sort();
        assert_eq!(streamed, expected);
        commit(&store, a, &[BaseChange::Forget(SyncPath::new("b.txt"))]).unwrap();
        assert_eq!(base_stream(&store, a).count().await, 4);
        assert_eq!(base_stream(&store, b).count().await, 1);
    }

    #[test]
    fn a_synced_path_loses_its_error_and_pages_cover_everything() {
        let (_dir, store) = store();
        let c = ConnectorId::new();
        let batch: Vec<BaseChange> = (0..7).map(|i| BaseChange::Put(record(&format!("f{i}.txt")))).collect();
        commit(&store, c, &batch).unwrap();
        let failure = FileError {
            path: SyncPath::new("f3.txt"),
            code: "FILE_LOCKED".into(),
            message: "in use".into(),
            at: OffsetDateTime::UNIX_EPOCH,
        };
        record_errors(&store, c, std::slice::from_ref(&failure)).unwrap();
        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = list(&store, c, after.as_deref(), 3).unwrap();
            seen.extend(page.states.iter().map(|(r, e)| (r.path.to_string(), e.as_ref().map(|e| e.code.clone()))));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7);
        assert_eq!(seen[3], ("f3.txt".to_owned(), Some("FILE_LOCKED".to_owned())));
        commit(&store, c, &[BaseChange::Put(record("f3.txt"))]).unwrap();
        assert!(list(&store, c, None, 10).unwrap().states.iter().all(|(_, e)| e.is_none()));
    }

    #[test]
    fn a_database_from_before_resolved_conflicts_gains_the_table_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        {
            let store = Store::open(&path).unwrap();
            let txn = store.db().begin_write().unwrap();
            txn.delete_table(RESOLVED_CONFLICTS).unwrap();
            txn.open_table(crate::store::tables::META)
                .unwrap()
                .insert("schema_version", 4u32.to_be_bytes().as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(resolved_conflict(&store, ConnectorId::new(), ConflictId::new()).unwrap(), None);
    }

    #[test]
    fn removing_a_connector_leaves_the_others() {
        let (_dir, store) = store();
        let (a, b) = (ConnectorId::new(), ConnectorId::new());
        commit(&store, a, &[BaseChange::Put(record("x"))]).unwrap();
        commit(&store, b, &[BaseChange::Put(record("y"))]).unwrap();
        let txn = store.db().begin_write().unwrap();
        remove_all(&txn, a).unwrap();
        txn.commit().unwrap();
        assert!(list(&store, a, None, 10).unwrap().states.is_empty());
        assert_eq!(list(&store, b, None, 10).unwrap().states.len(), 1);
    }
}
