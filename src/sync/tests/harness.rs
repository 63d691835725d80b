//! A two-sided world for engine tests: an SMB-like source and a drive-like drive (both in memory, both behind
//! the fault injector), a base store, open conflicts, and a logical clock. `sync` runs the real pipeline: list,
//! reconcile, hash, guard, execute.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::executor::block_on;
use time::{Duration, OffsetDateTime};

use crate::sync::conflict::ConflictRecord;
use crate::sync::execute::{BaseChange, BaseSink, FileEvent, Observer, Outcome, SinkError, StopFlag, StopSignal};
use crate::sync::faulty::FaultySide;
use crate::sync::memory::{MemoryKnobs, MemorySide};
use crate::sync::reconcile::Context;
use crate::sync::run::{PlanError, plan_run, run_inspected};
use crate::sync::side::Side;
use crate::sync::{BaseRecord, Direction, Plan, RunConfig, Strategy, SyncPath};

pub struct World {
    pub source: FaultySide<MemorySide>,
    pub drive: FaultySide<MemorySide>,
    pub base: BTreeMap<SyncPath, BaseRecord>,
    pub conflicts: BTreeMap<SyncPath, ConflictRecord>,
    pub crashed: Arc<AtomicBool>,
    /// Filters and attribute settings the property tests toggle between runs.
    pub settings: crate::sync::SyncSettings,
    tick: i64,
}

/// What one run did.
pub struct RunResult {
    pub plan: Result<Plan, PlanError>,
    pub outcome: Option<Outcome>,
    pub events: Vec<FileEvent>,
}

impl RunResult {
    pub fn plan(&self) -> &Plan {
        match &self.plan {
            Ok(plan) => plan,
            Err(e) => panic!("planning failed: {e}"),
        }
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter_map(|e| match &e.result {
                crate::sync::execute::EventResult::Failed { code, .. }
                | crate::sync::execute::EventResult::Noted { code } => Some(*code),
                crate::sync::execute::EventResult::Done => None,
            })
            .collect()
    }
}

pub struct TestSink<'a> {
    base: &'a mut BTreeMap<SyncPath, BaseRecord>,
    conflicts: &'a mut BTreeMap<SyncPath, ConflictRecord>,
    crashed: Arc<AtomicBool>,
}

impl<'a> TestSink<'a> {
    pub fn new(
        base: &'a mut BTreeMap<SyncPath, BaseRecord>,
        conflicts: &'a mut BTreeMap<SyncPath, ConflictRecord>,
        crashed: Arc<AtomicBool>,
    ) -> Self {
        Self { base, conflicts, crashed }
    }
}

impl BaseSink for TestSink<'_> {
    async fn commit(&mut self, batch: Vec<BaseChange>) -> Result<(), SinkError> {
        if self.crashed.load(Ordering::SeqCst) {
            // The process is gone: nothing more reaches the database.
            return Ok(());
        }
        for change in batch {
            match change {
                BaseChange::Put(record) => {
                    self.base.insert(record.path.clone(), record);
                }
                BaseChange::Forget(path) => {
                    self.base.remove(&path);
                }
                BaseChange::OpenConflict(record) => {
                    self.conflicts.insert(record.path.clone(), *record);
                }
                BaseChange::SettleConflict(id) => self.conflicts.retain(|_, c| c.id != id),
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct Log(pub Vec<FileEvent>);

impl Observer for Log {
    fn file_event(&mut self, event: FileEvent) {
        self.0.push(event);
    }
}

pub fn config(direction: Direction, strategy: Strategy) -> RunConfig {
    RunConfig { direction, strategy, ..RunConfig::default() }
}

pub fn bidi(strategy: Strategy) -> RunConfig {
    config(Direction::Bidirectional, strategy)
}

pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl World {
    pub fn new() -> Self {
        Self::with(MemoryKnobs::windows_share(), MemoryKnobs::drive())
    }

    pub fn with(source: MemoryKnobs, drive: MemoryKnobs) -> Self {
        let crashed = Arc::new(AtomicBool::new(false));
        Self {
            source: FaultySide::new(MemorySide::new(source, "s"), crashed.clone()),
            drive: FaultySide::new(MemorySide::new(drive, "d"), crashed.clone()),
            base: BTreeMap::new(),
            conflicts: BTreeMap::new(),
            crashed,
            settings: crate::sync::SyncSettings::default(),
            tick: 0,
        }
    }

    pub fn s(&self) -> &MemorySide {
        self.source.inner()
    }

    pub fn d(&self) -> &MemorySide {
        self.drive.inner()
    }

    /// The next instant of the logical clock (10 s apart, so times never tie by accident).
    pub fn now(&mut self) -> OffsetDateTime {
        self.tick += 10;
        t0() + Duration::seconds(self.tick)
    }

    pub fn put_source(&mut self, path: &str, content: &str) {
        let now = self.now();
        self.s().put_file(path, content.as_bytes(), now);
    }

    pub fn put_drive(&mut self, path: &str, content: &str) {
        let now = self.now();
        self.d().put_file(path, content.as_bytes(), now);
    }

    pub fn context(&self, config: &RunConfig) -> Context {
        let open = self.conflicts.iter().map(|(p, c)| (p.clone(), c.id)).collect::<HashMap<_, _>>();
        let naming = |caps: crate::sync::Capabilities| caps.naming;
        Context::new(config.clone(), naming(self.source.capabilities()), naming(self.drive.capabilities()), open)
            .unwrap_or_else(|e| panic!("bad filters: {e}"))
    }

    pub fn plan(&self, config: &RunConfig) -> Result<Plan, PlanError> {
        let ctx = self.context(config);
        let base = futures::stream::iter(self.base.values().cloned().map(Ok::<_, Infallible>));
        block_on(plan_run(&self.source, &self.drive, base, &ctx))
    }

    pub fn sync(&mut self, config: &RunConfig) -> RunResult {
        self.sync_with_stop(config, &StopFlag::default())
    }

    /// One run through the real pipeline ([`run_inspected`]). A first sync runs in parts of two actions while
    /// its walk goes on (production parts are larger), so every test's first sync exercises the parts; the plan
    /// returned is every part carried out, in order.
    pub fn sync_with_stop(&mut self, config: &RunConfig, stop: &dyn StopSignal) -> RunResult {
        let now = self.now();
        let mut ctx = self.context(config);
        ctx.part_actions = 2;
        let base: Vec<BaseRecord> = self.base.values().cloned().collect();
        let base = futures::stream::iter(base.into_iter().map(Ok::<_, Infallible>));
        let mut log = Log::default();
        let mut carried = Plan::default();
        let mut sink = TestSink { base: &mut self.base, conflicts: &mut self.conflicts, crashed: self.crashed.clone() };
        let mut inspect = |part: &Plan| absorb(&mut carried, part);
        let (outcome, error) = block_on(run_inspected(
            &self.source,
            &self.drive,
            base,
            &ctx,
            &mut sink,
            &mut log,
            stop,
            now,
            &mut inspect,
        ));
        let (plan, outcome) = match error {
            Some(e) => (Err(e), None),
            None => (Ok(carried), Some(outcome)),
        };
        RunResult { plan, outcome, events: log.0 }
    }

    /// Brings the process back after an injected crash.
    pub fn restart(&self) {
        self.crashed.store(false, Ordering::SeqCst);
        self.source.set_failpoint(None);
        self.drive.set_failpoint(None);
    }

    pub fn source_text(&self, path: &str) -> Option<String> {
        self.s().content(path).map(|c| String::from_utf8_lossy(&c).into_owned())
    }

    pub fn drive_text(&self, path: &str) -> Option<String> {
        self.d().content(path).map(|c| String::from_utf8_lossy(&c).into_owned())
    }

    /// Every content the drive kept: versions and trash.
    pub fn kept(&self) -> Vec<String> {
        let d = self.d();
        d.versions().into_iter().chain(d.trash()).map(|k| String::from_utf8_lossy(&k.content).into_owned()).collect()
    }

    pub fn tracked(&self) -> Vec<String> {
        self.base.keys().map(|p| p.to_string()).collect()
    }
}

/// Appends a part of a run's plan to what the run carried out so far.
fn absorb(into: &mut Plan, part: &Plan) {
    into.moves.extend(part.moves.iter().cloned());
    into.actions.extend(part.actions.iter().cloned());
    into.deletes.extend(part.deletes.iter().cloned());
    into.reports.extend(part.reports.iter().cloned());
    into.errors.extend(part.errors.iter().cloned());
    into.stats = part.stats;
}
