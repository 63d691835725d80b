//! A [`Side`] wrapper that injects faults (syncthing `errorfs` style): a crash before or after any step, midway
//! through a write (leaving a temp file behind), per-path errors, or a listing that breaks off.
//!
//! A crash makes this call and every later one fail with a `StopRun` error, and raises a flag the test's base
//! sink watches so it stops committing: the process is gone. The effects already applied stay, exactly as on a
//! real disk.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;

use super::entry::{ContentHash, Entry, HashKind, SideState};
use super::names::temp_path;
use super::path::SyncPath;
use super::side::{
    ByteStream, Capabilities, DriveSide, ErrorCode, Listing, Precondition, Side, SideError, VersionOrigin,
    WriteRequest, Written,
};

/// A step of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Stat,
    Hash,
    Read,
    Write,
    Move,
    Delete,
    MakeFolder,
    SaveVersion,
}

impl Op {
    pub const ALL: [Op; 8] =
        [Op::Stat, Op::Hash, Op::Read, Op::Write, Op::Move, Op::Delete, Op::MakeFolder, Op::SaveVersion];
}

/// Where, relative to the step, the crash happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    Before,
    /// Writes only: the temp file is written, the rename never happens.
    Midway,
    After,
}

/// Crash at the `nth` (0-based) call of `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Failpoint {
    pub op: Op,
    pub when: When,
    pub nth: u64,
}

#[derive(Debug, Default)]
struct Faults {
    failpoint: Option<Failpoint>,
    calls: HashMap<Op, u64>,
    path_errors: Vec<(Op, SyncPath, ErrorCode)>,
    /// The listing breaks off after this many entries.
    break_listing: Option<usize>,
}

/// The wrapper.
#[derive(Debug)]
pub struct FaultySide<S> {
    inner: S,
    faults: Mutex<Faults>,
    crashed: Arc<AtomicBool>,
}

fn crash_error() -> SideError {
    SideError::new(ErrorCode::Internal, "injected crash")
}

impl<S: Side> FaultySide<S> {
    /// Wraps `inner`; `crashed` is shared with whatever must notice the crash (the test's sink).
    pub fn new(inner: S, crashed: Arc<AtomicBool>) -> Self {
        Self { inner, faults: Mutex::new(Faults::default()), crashed }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_failpoint(&self, failpoint: Option<Failpoint>) {
        let mut faults = self.lock();
        faults.failpoint = failpoint;
        faults.calls.clear();
    }

    /// Makes every `op` on `path` fail with `code`.
    pub fn fail_path(&self, op: Op, path: &str, code: ErrorCode) {
        self.lock().path_errors.push((op, SyncPath::new(path), code));
    }

    pub fn clear_path_errors(&self) {
        self.lock().path_errors.clear();
    }

    pub fn break_listing(&self, broken: bool) {
        self.lock().break_listing = broken.then_some(1);
    }

    /// The listing breaks off after `entries` entries.
    pub fn break_listing_after(&self, entries: usize) {
        self.lock().break_listing = Some(entries);
    }

    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Whether the failpoint was reached in this run.
    pub fn calls(&self, op: Op) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Counts the call and says where a crash falls for it.
    fn enter(&self, op: Op, path: &SyncPath) -> Result<Option<When>, SideError> {
        if self.crashed() {
            return Err(crash_error());
        }
        let mut faults = self.lock();
        if let Some((_, _, code)) = faults.path_errors.iter().find(|(o, p, _)| *o == op && p == path) {
            return Err(SideError::new(*code, format!("injected {code} on '{path}'")));
        }
        let n = faults.calls.entry(op).or_insert(0);
        let this = *n;
        *n += 1;
        let when = faults.failpoint.filter(|f| f.op == op && f.nth == this).map(|f| f.when);
        if when == Some(When::Before) {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(crash_error());
        }
        Ok(when)
    }

    fn leave<T>(&self, when: Option<When>, result: Result<T, SideError>) -> Result<T, SideError> {
        if when.is_some() {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(crash_error());
        }
        result
    }
}

impl<S: Side> Side for FaultySide<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn list(&self) -> Listing<'_> {
        let inner = self.inner.list();
        if let Some(entries) = self.lock().break_listing {
            let broken = SideError::new(ErrorCode::ListingIncomplete, "injected listing failure");
            Box::pin(inner.take(entries).chain(futures::stream::iter([Err(broken)])))
        } else {
            inner
        }
    }

    async fn stat(&self, path: &SyncPath) -> Result<Option<Entry>, SideError> {
        let when = self.enter(Op::Stat, path)?;
        let result = self.inner.stat(path).await;
        self.leave(when, result)
    }

    async fn hash(&self, path: &SyncPath, kind: HashKind) -> Result<ContentHash, SideError> {
        let when = self.enter(Op::Hash, path)?;
        let result = self.inner.hash(path, kind).await;
        self.leave(when, result)
    }

    async fn read(&self, path: &SyncPath, expect: &SideState) -> Result<ByteStream, SideError> {
        let when = self.enter(Op::Read, path)?;
        let result = self.inner.read(path, expect).await;
        self.leave(when, result)
    }

    async fn write(&self, request: WriteRequest, content: ByteStream) -> Result<Written, SideError> {
        let when = self.enter(Op::Write, &request.path)?;
        if when == Some(When::Midway) {
            // The temp file lands; the process dies before the rename.
            let temp =
                WriteRequest { path: temp_path(&request.path, 7), precondition: Precondition::MustNotExist, ..request };
            let _ = self.inner.write(temp, content).await;
            self.crashed.store(true, Ordering::SeqCst);
            return Err(crash_error());
        }
        let result = self.inner.write(request, content).await;
        self.leave(when, result)
    }

    async fn move_entry(&self, from: &SyncPath, to: &SyncPath, expect: &SideState) -> Result<Entry, SideError> {
        let when = self.enter(Op::Move, from)?;
        let result = self.inner.move_entry(from, to, expect).await;
        self.leave(when, result)
    }

    async fn delete(&self, path: &SyncPath, expect: &SideState) -> Result<(), SideError> {
        let when = self.enter(Op::Delete, path)?;
        let result = self.inner.delete(path, expect).await;
        self.leave(when, result)
    }

    async fn make_folder(&self, path: &SyncPath) -> Result<Entry, SideError> {
        let when = self.enter(Op::MakeFolder, path)?;
        let result = self.inner.make_folder(path).await;
        self.leave(when, result)
    }
}

impl<S: DriveSide> DriveSide for FaultySide<S> {
    async fn save_version(&self, path: &SyncPath, content: ByteStream, origin: VersionOrigin) -> Result<(), SideError> {
        let when = self.enter(Op::SaveVersion, path)?;
        let result = self.inner.save_version(path, content, origin).await;
        self.leave(when, result)
    }
}
