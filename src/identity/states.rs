//! What a connector's permission pass remembers between runs (tables `permission_states` and
//! `permission_summaries`), and the plan of work it derives from them and from the base.
//!
//! Per synced path (keyed like the base, `connector ++ SyncPath::sort_key()`): the source's tag when the ACL was
//! read, the ACL itself, and the owner, ACEs and `inherit` flag set in ScaiDrive from it, with the entry's
//! unmapped principals. Per connector: the identity fingerprint of the last complete pass and the unmapped
//! principals summed over every path (what `GET .../unmapped-principals` shows), kept current path by path.
//!
//! How an ACL-only change is found without reading every ACL every run: where the source's tag moves with the
//! entry's security descriptor (on SMB the tag holds the change time, which Windows moves on an ACL edit while
//! the write time stays), the engine records the new tag in the base when it sees the entry merely touched. So
//! the pass compares each base record's source tag with the tag stored here, in one ordered walk of the two
//! tables, and reads the ACL only where they differ (new, changed, touched or renamed entries).
//!
//! Samba does not do this: it reports the write time as the change time (`get_change_timespec` in smbd returns
//! `st_mtime`), so an ACL edit leaves every tag as it was. The source says, per base record, whether its tag
//! can show an ACL change at all ([`TracksAcl`]; SMB: change time apart from write time). A share where no
//! record does is taken for such a server, and the pass reads every ACL each run (concurrently; translating
//! and writing only what changed). A share where some record does is trusted to move tags on ACL edits. The
//! mistake this can make is the safe one: a Windows share whose every entry was written and never touched
//! since is read in full, not skipped.
//!
//! A mapping or directory change changes the fingerprint instead, and then the stored ACLs are translated
//! again without reading any of them.

use std::cmp::Ordering;

use futures::Stream;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::resolve::UnmappedReport;
use crate::connectors::file_states::{blocking_stream, key, prefix_range};
use crate::drive::Ace;
use crate::ids::{ConnectorId, EntryId, UserId};
use crate::sides::smb::acl::NtAcl;
use crate::store::tables::{FILE_STATES, PERMISSION_STATES, PERMISSION_SUMMARIES};
use crate::store::{Store, StoreError, codec};
use crate::sync::SyncPath;

/// Work items travelling from the reading thread to the pass at a time.
const STREAM_BUFFER: usize = 256;

/// The permissions of one synced path, as last read and applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionState {
    /// The drive entry they were applied to.
    pub entry: EntryId,
    pub folder: bool,
    /// The source entry's tag when the ACL was read.
    pub tag: Box<str>,
    pub acl: NtAcl,
    pub owner: Option<UserId>,
    pub aces: Vec<Ace>,
    pub inherit: bool,
    /// The path's unmapped principals (each counted once), part of the connector's summary.
    #[serde(default)]
    pub unmapped: UnmappedReport,
}

impl PermissionState {
    /// Whether applying `other` would change anything in ScaiDrive.
    pub fn same_effect(&self, other: &PermissionState) -> bool {
        self.entry == other.entry
            && self.owner == other.owner
            && self.aces == other.aces
            && self.inherit == other.inherit
    }
}

/// A connector's permission summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSummary {
    /// Hex of `Resolver::fingerprint` at the end of the last complete pass.
    pub fingerprint: Option<String>,
    pub unmapped: UnmappedReport,
}

/// One thing the pass has to do for a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Read the ACL: the path is new to the pass, or its source tag moved.
    Read { path: SyncPath, entry: EntryId, folder: bool, tag: Box<str>, old: Option<PermissionState> },
    /// Translate the stored ACL again (the identity fingerprint changed, or the parent's ACEs did).
    Retranslate { path: SyncPath, old: PermissionState },
    /// The path is no longer synced: forget its record (and its unmapped principals).
    Forget { path: SyncPath, old: PermissionState },
}

/// A change to the records, committed in batches after the drive has the permissions.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Put { path: SyncPath, state: Box<PermissionState>, old: Option<UnmappedReport> },
    Forget { path: SyncPath, old: UnmappedReport },
}

/// Whether a source tag (with the entry's modification time) can show an ACL change (see the module docs).
pub type TracksAcl = fn(tag: &str, modified: time::OffsetDateTime) -> bool;

/// The parts of a base record the plan looks at.
#[derive(Deserialize)]
struct BaseTags {
    source: SourceTag,
    drive: DriveId,
}

#[derive(Deserialize)]
struct SourceTag {
    tag: Box<str>,
    #[serde(with = "time::serde::rfc3339")]
    modified: time::OffsetDateTime,
}

#[derive(Deserialize)]
struct TagOnly {
    tag: Box<str>,
}

#[derive(Deserialize)]
struct DriveId {
    id: Box<str>,
    kind: crate::sync::Kind,
}

/// The path a key stands for (the exact path after the 0 byte, `/` stored as 1).
fn path_of_key(key: &[u8]) -> Option<SyncPath> {
    let exact = &key.get(16..)?[key.get(16..)?.iter().position(|b| *b == 0)? + 1..];
    let text: Vec<u8> = exact.iter().map(|b| if *b == 1 { b'/' } else { *b }).collect();
    String::from_utf8(text).ok().map(SyncPath::new)
}

type Row = Option<(Vec<u8>, Vec<u8>)>;

fn next_row(range: &mut redb::Range<'_, &'static [u8], &'static [u8]>) -> Result<Row, StoreError> {
    Ok(range.next().transpose()?.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
}

/// Whether any base record of the connector has a tag that can show an ACL change (stops at the first).
fn tags_track_acls(
    bases: &redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    connector: ConnectorId,
    tracks: TracksAcl,
) -> Result<bool, StoreError> {
    let (start, end) = prefix_range(connector);
    for row in bases.range(start.as_slice()..end.as_slice())? {
        let tags: BaseTags = codec::decode("file_states", row?.1.value())?;
        if tracks(&tags.source.tag, tags.source.modified) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The pass's work, in the engine's walk order (a folder before what it holds), read on a blocking thread and
/// handed over in bounded chunks. `all`: the fingerprint changed, so every stored ACL is translated again.
pub fn plan(
    store: &Store,
    connector: ConnectorId,
    all: bool,
    tracks: TracksAcl,
) -> impl Stream<Item = Result<Work, StoreError>> + Send + Unpin + 'static {
    let store = store.clone();
    blocking_stream(STREAM_BUFFER, move |send| {
        let txn = store.db().begin_read()?;
        let (bases, states) = (txn.open_table(FILE_STATES)?, txn.open_table(PERMISSION_STATES)?);
        // Tags that cannot show ACL changes: every ACL is read again.
        let read_all = !tags_track_acls(&bases, connector, tracks)?;
        let (start, end) = prefix_range(connector);
        let mut base_range = bases.range(start.as_slice()..end.as_slice())?;
        let mut state_range = states.range(start.as_slice()..end.as_slice())?;
        let (mut base, mut state) = (next_row(&mut base_range)?, next_row(&mut state_range)?);
        loop {
            let order = match (&base, &state) {
                (None, None) => return Ok(()),
                (Some(b), Some(s)) => b.0.cmp(&s.0),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
            };
            let work = match order {
                Ordering::Less => {
                    let Some((k, v)) = base.take() else { return Ok(()) };
                    base = next_row(&mut base_range)?;
                    read_work(&k, &v, None)?
                }
                Ordering::Greater => {
                    let Some((k, v)) = state.take() else { return Ok(()) };
                    state = next_row(&mut state_range)?;
                    match path_of_key(&k) {
                        Some(path) => Some(Work::Forget { path, old: decode(&v)? }),
                        None => None,
                    }
                }
                Ordering::Equal => {
                    let (Some((k, b)), Some((_, s))) = (base.take(), state.take()) else { return Ok(()) };
                    (base, state) = (next_row(&mut base_range)?, next_row(&mut state_range)?);
                    let tags: BaseTags = codec::decode("file_states", &b)?;
                    let stored: TagOnly = codec::decode("permission_states", &s)?;
                    if read_all || tags.source.tag != stored.tag {
                        read_work(&k, &b, Some(decode(&s)?))?
                    } else if all {
                        match path_of_key(&k) {
                            Some(path) => Some(Work::Retranslate { path, old: decode(&s)? }),
                            None => None,
                        }
                    } else {
                        None
                    }
                }
            };
            if let Some(work) = work
                && !send(work)
            {
                return Ok(());
            }
        }
    })
}

fn decode(bytes: &[u8]) -> Result<PermissionState, StoreError> {
    codec::decode("permission_states", bytes)
}

/// A read for a base record; `None` when its drive id is not a drive entry's (nothing to set permissions on).
fn read_work(key: &[u8], base: &[u8], old: Option<PermissionState>) -> Result<Option<Work>, StoreError> {
    let tags: BaseTags = codec::decode("file_states", base)?;
    let (Some(path), Ok(entry)) = (path_of_key(key), tags.drive.id.parse::<EntryId>()) else { return Ok(None) };
    let folder = tags.drive.kind == crate::sync::Kind::Folder;
    Ok(Some(Work::Read { path, entry, folder, tag: tags.source.tag, old }))
}

/// The stored records of `folder`'s direct children (their inherit flag depends on the folder's ACEs).
pub fn children(
    store: &Store,
    connector: ConnectorId,
    folder: &SyncPath,
) -> Result<Vec<(SyncPath, PermissionState)>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(PERMISSION_STATES)?;
    // Descendants share the folder's folded key followed by the separator byte (1).
    let mut start = key(connector, folder);
    let Some(zero) = start.iter().skip(16).position(|b| *b == 0) else { return Ok(Vec::new()) };
    start.truncate(16 + zero);
    start.push(1);
    let mut end = start.clone();
    end.pop();
    end.push(2);
    let mut out = Vec::new();
    for row in table.range(start.as_slice()..end.as_slice())? {
        let (k, v) = row?;
        if let Some(path) = path_of_key(k.value()).filter(|p| p.parent().as_ref() == Some(folder)) {
            out.push((path, decode(v.value())?));
        }
    }
    Ok(out)
}

/// One path's record.
pub fn get(store: &Store, connector: ConnectorId, path: &SyncPath) -> Result<Option<PermissionState>, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(PERMISSION_STATES)?;
    let row = table.get(key(connector, path).as_slice())?;
    row.map(|v| decode(v.value())).transpose()
}

pub fn summary(store: &Store, connector: ConnectorId) -> Result<PermissionSummary, StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(PERMISSION_SUMMARIES)?;
    let row = table.get(connector.to_bytes())?;
    Ok(row.map(|v| codec::decode("permission_summaries", v.value())).transpose()?.unwrap_or_default())
}

/// Applies a batch of changes and keeps the summary's unmapped principals in step, in one transaction.
pub fn commit(store: &Store, connector: ConnectorId, batch: &[Change]) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    {
        let mut summaries = txn.open_table(PERMISSION_SUMMARIES)?;
        let mut summary: PermissionSummary = match summaries.get(connector.to_bytes())? {
            Some(v) => codec::decode("permission_summaries", v.value())?,
            None => PermissionSummary::default(),
        };
        let mut states = txn.open_table(PERMISSION_STATES)?;
        for change in batch {
            match change {
                Change::Put { path, state, old } => {
                    if let Some(old) = old {
                        summary.unmapped.subtract(old);
                    }
                    summary.unmapped.merge(&state.unmapped);
                    states.insert(key(connector, path).as_slice(), codec::encode(state).as_slice())?;
                }
                Change::Forget { path, old } => {
                    summary.unmapped.subtract(old);
                    states.remove(key(connector, path).as_slice())?;
                }
            }
        }
        summaries.insert(connector.to_bytes(), codec::encode(&summary).as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Records the fingerprint a complete pass worked with (an interrupted pass leaves the old one, so the next run
/// translates again whatever this one did not reach).
pub fn finish(store: &Store, connector: ConnectorId, fingerprint: [u8; 32]) -> Result<(), StoreError> {
    let txn = store.db().begin_write()?;
    {
        let mut summaries = txn.open_table(PERMISSION_SUMMARIES)?;
        let mut summary: PermissionSummary = match summaries.get(connector.to_bytes())? {
            Some(v) => codec::decode("permission_summaries", v.value())?,
            None => PermissionSummary::default(),
        };
        summary.fingerprint = Some(hex::encode(fingerprint));
        summaries.insert(connector.to_bytes(), codec::encode(&summary).as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Forgets a deleted connector's records.
pub fn remove_all(txn: &WriteTransaction, connector: ConnectorId) -> Result<(), StoreError> {
    let mut states = txn.open_table(PERMISSION_STATES)?;
    let (start, end) = prefix_range(connector);
    let keys: Vec<Vec<u8>> = states
        .range(start.as_slice()..end.as_slice())?
        .map(|r| r.map(|(k, _)| k.value().to_vec()))
        .collect::<Result<_, _>>()?;
    for k in keys {
        states.remove(k.as_slice())?;
    }
    txn.open_table(PERMISSION_SUMMARIES)?.remove(connector.to_bytes())?;
    Ok(())
}
