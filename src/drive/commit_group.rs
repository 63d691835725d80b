//! Group commit: writes that reach their commit step while another commit is in flight are linked together, in
//! one redb write transaction (one commit, one set of database syncs), instead of paying each for its own.
//!
//! Why: a durable write used to cost about 4.6 fsyncs per file (its blob's data, its blob folder, redb's commit),
//! and redb commits run one at a time, so an initial sync of many small files was bound by the disk's flush
//! latency rather than by the network (`benches/smb_peers.rs`: 3.5x rclone's time on 10,000 files). The engine
//! copies several files at once; their writes now queue here while a commit runs, and the next commit takes the
//! whole queue.
//!
//! How: a writer stages its content and publishes it under its hash name (both synced, by the writer itself, so
//! concurrent writers sync in parallel: see `blobs.rs`), holding the retention gate from before publishing, and
//! queues a [`Unit`] (one file, or a batch that must land whole). The first writer to find no commit in flight
//! leads: it takes every queued unit, links them in one transaction, commits, and answers each unit with its own
//! result; then the next waiting writer leads with whatever queued meanwhile.
//!
//! One unit's failure never fails the others: every check a link needs (a folder or file in the way, the
//! precondition, the quota, against the state the earlier units of the group left) runs before it changes
//! anything (`content::check_write`), so a unit failing its checks is skipped with nothing to undo. Should a
//! later item of a batch, or the database itself, fail mid-change, the transaction is dropped and redone without
//! that unit (redb's savepoints cannot serve: the store runs redb in multi-writer mode, where ephemeral savepoints
//! are refused, and a savepoint cannot be taken once a transaction has changed anything). A failure of the whole
//! group (the commit) is retried unit by unit, so each gets its own error.
//!
//! Durability: each blob's data is synced before its rename to the hash name, and the folder holding the name
//! after it, both before the writer queues (`BlobStore::publish`); the redb commit (itself durable) that links
//! the blobs comes after. So a blob name on disk always means complete content, no entry can name a blob that
//! a crash could lose, and a crash before the commit leaves at most `.part` files (swept at start-up) or blobs
//! no row refers to (deleted by the retention purge). The gate, held from before publishing until the answer,
//! keeps the purge from deleting a blob between its existence check and the commit that refers to it.
//!
//! What is shared is the commit only, on purpose: the serial section stays as short as it can be, while blob
//! syncs run in parallel in the writers. Tried and dropped (SMB bench, 2,000 files, this 2-core machine with
//! other builds running, so single runs vary by 2x): the leader renaming the group's blobs and syncing each
//! distinct shard folder once (fewer syscalls, but groups of concurrent copies are small, so it mostly
//! lengthened the serial section: 21.4 s and 27.4 s against 18.4 s before at load 6); and staging without syncs
//! with one `syncfs` before and after the renames (`syncfs` flushes every dirty page of the file system: 10 ms
//! to 0.6 s on a shared disk, `sync -f`, against 0.6 ms for a 32 KiB write and fsync).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::content::{WriteOptions, apply_link, check_write};
use super::error::{DriveError, DriveResult};
use super::paths::DrivePath;
use super::tables::to_nanos;
use super::tree::WriteTables;
use super::{Drive, Entry};
use crate::ids::ShareId;

/// Writes that commit together or not at all: one file from `write_file`, or a whole `write_files_batch`.
pub(super) struct Unit {
    pub share_id: ShareId,
    pub opts: WriteOptions,
    /// Path, content hash and size of each file (its blob published already), in write order.
    pub items: Vec<(DrivePath, [u8; 32], u64)>,
}

type UnitResult = DriveResult<Vec<Entry>>;

/// The queue of units waiting for a commit, and counters of what the commits did.
#[derive(Default)]
pub(super) struct CommitQueue {
    state: Mutex<State>,
    turn: Condvar,
    commits: AtomicU64,
    files: AtomicU64,
}

#[derive(Default)]
struct State {
    waiting: Vec<(u64, Unit)>,
    answers: HashMap<u64, UnitResult>,
    next_ticket: u64,
    /// A leader is committing a group now.
    leading: bool,
    /// Units handed in and not answered yet (queued or in the leader's hands).
    unanswered: usize,
}

impl CommitQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the group commits did: redb commits, and files they linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitCounts {
    pub commits: u64,
    pub files: u64,
}

/// Answers a leader's units even if it panics, so their writers do not wait for ever, and passes the lead on.
struct Leading<'a> {
    queue: &'a CommitQueue,
    tickets: Vec<u64>,
    answers: Vec<(u64, UnitResult)>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        let answered: Vec<u64> = self.answers.iter().map(|(t, _)| *t).collect();
        for ticket in self.tickets.iter().filter(|t| !answered.contains(t)) {
            let lost = io::Error::other("the group commit holding this write failed");
            state.answers.insert(*ticket, Err(DriveError::Io(lost)));
        }
        state.unanswered = state.unanswered.saturating_sub(self.tickets.len());
        state.answers.extend(self.answers.drain(..));
        state.leading = false;
        self.queue.turn.notify_all();
    }
}

impl Drive {
    /// Commits `unit`, together with whatever other writers queued meanwhile, and returns its own result. The
    /// caller holds the blob gate (shared), from before its blobs' existence was checked until this returns.
    pub(super) fn commit_unit(&self, unit: Unit) -> UnitResult {
        let queue = &self.inner.commits;
        let mut state = queue.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((ticket, unit));
        state.unanswered += 1;
        loop {
            if let Some(answer) = state.answers.remove(&ticket) {
                return answer;
            }
            if state.leading {
                state = queue.turn.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state.leading = true;
            let group = std::mem::take(&mut state.waiting);
            drop(state);
            let tickets = group.iter().map(|(t, _)| *t).collect();
            let mut leading = Leading { queue, tickets, answers: Vec::new() };
            leading.answers = self.commit_group(group);
            drop(leading);
            state = queue.lock();
        }
    }

    /// How many writes are waiting for a commit (queued, or being committed now).
    pub fn writes_awaiting_commit(&self) -> usize {
        self.inner.commits.lock().unanswered
    }

    /// What the group commits did since the store was opened.
    pub fn commit_counts(&self) -> CommitCounts {
        let queue = &self.inner.commits;
        CommitCounts { commits: queue.commits.load(Ordering::Relaxed), files: queue.files.load(Ordering::Relaxed) }
    }

    /// Commits a group; when the group as a whole fails, commits each unit alone so each gets its own error.
    fn commit_group(&self, group: Vec<(u64, Unit)>) -> Vec<(u64, UnitResult)> {
        let (tickets, units): (Vec<u64>, Vec<Unit>) = group.into_iter().unzip();
        match self.try_group(&units) {
            Ok(results) => tickets.into_iter().zip(results).collect(),
            Err(e) if units.len() == 1 => vec![(tickets[0], Err(e))],
            Err(e) => {
                tracing::warn!(error = %e, units = units.len(), "group commit failed; committing its writes one by one");
                tickets
                    .into_iter()
                    .zip(units)
                    .map(|(ticket, unit)| {
                        let one = std::slice::from_ref(&unit);
                        (ticket, self.try_group(one).and_then(|mut r| r.pop().unwrap_or(Ok(Vec::new()))))
                    })
                    .collect()
            }
        }
    }

    /// Links every unit that passes its checks in one transaction. `Err` only when the whole group failed (the
    /// database); a unit's own failure is its result.
    fn try_group(&self, units: &[Unit]) -> DriveResult<Vec<UnitResult>> {
        let mut failed: Vec<Option<DriveError>> = units.iter().map(|_| None).collect();
        let now = to_nanos(self.now());
        'attempt: loop {
            let txn = self.db().begin_write()?;
            let mut linked: Vec<Option<Vec<Entry>>> = units.iter().map(|_| None).collect();
            {
                let mut t = WriteTables::open(&txn)?;
                for (i, unit) in units.iter().enumerate() {
                    if failed[i].is_some() {
                        continue;
                    }
                    let mut entries = Vec::with_capacity(unit.items.len());
                    for (path, hash, size) in &unit.items {
                        let checked = check_write(&t.children, &t.shares, unit.share_id, path, &unit.opts, Some(*size));
                        let changed_before = !entries.is_empty();
                        let outcome = match checked {
                            Ok(checked) => {
                                apply_link(&mut t, checked, unit.share_id, path, *hash, *size, &unit.opts, now)
                                    .map_err(|e| (e, true))
                            }
                            Err(e) => Err((e, changed_before)),
                        };
                        match outcome {
                            Ok((record, _)) => entries.push(Entry::from_record(unit.share_id, path.clone(), &record)),
                            Err((e, changed)) => {
                                failed[i] = Some(e);
                                if changed {
                                    // Part of this unit is in the transaction: redo the group without it.
                                    continue 'attempt;
                                }
                                break;
                            }
                        }
                    }
                    if failed[i].is_none() {
                        linked[i] = Some(entries);
                    }
                }
            }
            txn.commit()?;
            let files: usize = linked.iter().flatten().map(Vec::len).sum();
            self.inner.commits.commits.fetch_add(1, Ordering::Relaxed);
            self.inner.commits.files.fetch_add(files as u64, Ordering::Relaxed);
            metrics::counter!("scaidrive_drive_commits_total").increment(1);
            metrics::counter!("scaidrive_drive_files_committed_total").increment(files as u64);
            let results = linked.into_iter().zip(failed).map(|(entries, failure)| match (entries, failure) {
                (_, Some(e)) => Err(e),
                (Some(entries), None) => Ok(entries),
                (None, None) => Err(DriveError::Corrupt("group commit answer")),
            });
            return Ok(results.collect());
        }
    }
}
