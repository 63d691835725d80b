//! The drive side's listing in the engine's path order, from one snapshot of the store.
//!
//! The store keeps a folder's children in name byte order and its own walk ([`crate::drive::Drive::walk`])
//! visits them so, but the engine orders by the case-folded path first ([`SyncPath`]'s order): `a` before
//! `B`, and the contents of case twins `A/` and `a/` interleave (`A`, `a`, `A/x`, `a/x`, `A/y`). So this walk
//! goes over the *folded* tree: a node is a group of entries whose paths fold alike (usually one entry), its
//! children are the children of all its folders, grouped again. Groups are visited in folded-name order and
//! the members of a group in exact order, which is the engine's order for every input (see the property test).
//! Memory: the children of the folders on the current branch, never the whole share.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use super::errors::classify;
use super::{Inner, SYNC_ROOT_GONE};
use crate::drive::{DriveResult, Entry as DriveEntry, TreeSnapshot};
use crate::sync::entry::Entry;
use crate::sync::path::fold;
use crate::sync::side::{ErrorCode, Listing, SideError};

/// Entries buffered between the walking thread and the engine.
const DEPTH: usize = 256;

/// One folded node: entries with the same folded path, in exact order, each with its engine form.
type Group = Vec<(DriveEntry, Entry)>;

/// Sorts sibling entries (children of one folded node) into groups, in the engine's order.
fn groups(inner: &Inner, children: Vec<DriveEntry>) -> VecDeque<Group> {
    let mut keyed: Vec<(String, DriveEntry, Entry)> = children
        .into_iter()
        .filter_map(|e| {
            let sync = inner.to_sync(&e)?;
            Some((fold(sync.path.name()).into_owned(), e, sync))
        })
        .collect();
    keyed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| a.2.path.cmp(&b.2.path)));
    let mut out: VecDeque<Group> = VecDeque::new();
    let mut last: Option<String> = None;
    for (folded, drive, sync) in keyed {
        match out.back_mut() {
            Some(group) if last.as_deref() == Some(folded.as_str()) => group.push((drive, sync)),
            _ => out.push_back(vec![(drive, sync)]),
        }
        last = Some(folded);
    }
    out
}

/// Walks the snapshot below `root`, handing each entry to `emit` until it returns `false`.
pub(super) fn walk(
    inner: &Inner,
    snapshot: &TreeSnapshot,
    root: &DriveEntry,
    mut emit: impl FnMut(Entry) -> bool,
) -> DriveResult<()> {
    let mut stack = vec![groups(inner, snapshot.children(root)?)];
    while let Some(frame) = stack.last_mut() {
        let Some(group) = frame.pop_front() else {
            stack.pop();
            continue;
        };
        let mut below = Vec::new();
        for (drive, _) in group.iter().filter(|(d, _)| d.is_folder()) {
            below.extend(snapshot.children(drive)?);
        }
        for (_, sync) in group {
            if !emit(sync) {
                return Ok(());
            }
        }
        if !below.is_empty() {
            stack.push(groups(inner, below));
        }
    }
    Ok(())
}

/// The listing stream: a blocking thread walks and sends; the stream ends with an error item unless the walk
/// says it finished, so a walk that died (a panic) never passes for a complete listing.
pub(super) fn list(inner: std::sync::Arc<Inner>) -> Listing<'static> {
    let (tx, rx) = mpsc::channel::<Result<Option<Entry>, SideError>>(DEPTH);
    tokio::task::spawn_blocking(move || {
        let result = inner.drive.tree_snapshot(inner.share, &inner.root).map_err(|e| match classify(e) {
            e if e.code == ErrorCode::NotFound => SideError::new(ErrorCode::ListingIncomplete, SYNC_ROOT_GONE),
            e => e,
        });
        let result = result.and_then(|(snapshot, root)| {
            walk(&inner, &snapshot, &root, |entry| tx.blocking_send(Ok(Some(entry))).is_ok()).map_err(classify)
        });
        let _ = tx.blocking_send(result.map(|()| None));
    });
    let stream = futures::stream::unfold((rx, false), |(mut rx, done)| async move {
        if done {
            return None;
        }
        match rx.recv().await {
            Some(Ok(Some(entry))) => Some((Ok(entry), (rx, false))),
            Some(Ok(None)) => None,
            Some(Err(e)) => Some((Err(e), (rx, true))),
            None => {
                let e = SideError::new(ErrorCode::ListingIncomplete, "the drive listing broke off");
                Some((Err(e), (rx, true)))
            }
        }
    });
    Box::pin(stream)
}
