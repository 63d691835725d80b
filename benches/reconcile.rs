//! Reconcile speed and memory on a million entries: all unchanged, and with 1% changed.
//!
//! The listings and the base are generated lazily, as a side and the file-state store would stream them, so the
//! peak memory printed at the end (VmHWM from /proc/self/status) is the engine's, not the test data's.
//! Targets: 1,000,000 unchanged < 2 s, 1% changed < 3 s, peak RSS < 200 MiB.
//!
//! Run: `cargo bench --bench reconcile`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use scaidrive_connectors::sync::entry::{Attributes, BaseRecord, ContentHash, Entry, Kind, Sha256Digest, SideState};
use scaidrive_connectors::sync::names::NamingRules;
use scaidrive_connectors::sync::reconcile::{Context, reconcile};
use scaidrive_connectors::sync::{Direction, RunConfig, Strategy, SyncPath};
use time::{Duration, OffsetDateTime};

const FOLDERS: u64 = 1_000;
const FILES_PER_FOLDER: u64 = 999;

/// Which side changed entry `i`, for the 1% case: one in 200 on each side.
#[derive(Clone, Copy)]
enum Changes {
    None,
    OnePercent,
}

struct Gen {
    changes: Changes,
    t0: OffsetDateTime,
    hash: ContentHash,
}

impl Gen {
    fn new(changes: Changes) -> Self {
        let t0 = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self { changes, t0, hash: ContentHash::sha256(Sha256Digest::of(b"content")) }
    }

    /// Every path in order: each folder, then its files.
    fn paths(&self) -> impl Iterator<Item = (u64, SyncPath, Kind)> + '_ {
        (0..FOLDERS).flat_map(move |d| {
            let folder = std::iter::once((d * 1000, SyncPath::new(format!("dir{d:04}")), Kind::Folder));
            let files = (0..FILES_PER_FOLDER).map(move |f| {
                (d * 1000 + f + 1, SyncPath::new(format!("dir{d:04}/file{:07}.dat", d * 1000 + f)), Kind::File)
            });
            folder.chain(files)
        })
    }

    fn state(&self, side: char, i: u64, kind: Kind, bump: bool) -> SideState {
        let file = kind == Kind::File;
        SideState {
            id: format!("{side}{i}").into_boxed_str(),
            kind,
            size: if file { 1000 + i % 7 + u64::from(bump) } else { 0 },
            modified: self.t0 + Duration::seconds(i64::try_from(i).unwrap_or(0) + i64::from(bump)),
            tag: format!("{i}.{}", u64::from(bump)).into_boxed_str(),
            hash: (file && side == 'd').then(|| self.hash.clone()),
        }
    }

    fn changed(&self, i: u64, side: char) -> bool {
        match self.changes {
            Changes::None => false,
            Changes::OnePercent => (side == 's' && i % 200 == 1) || (side == 'd' && i % 200 == 101),
        }
    }

    fn entries(&self, side: char) -> impl Iterator<Item = Entry> + '_ {
        self.paths().map(move |(i, path, kind)| {
            let s = self.state(side, i, kind, kind == Kind::File && self.changed(i, side));
            Entry {
                path,
                id: s.id,
                kind,
                size: s.size,
                modified: s.modified,
                tag: s.tag,
                attrs: Attributes::default(),
                hash: s.hash,
            }
        })
    }

    fn base(&self) -> impl Iterator<Item = BaseRecord> + '_ {
        self.paths().map(move |(i, path, kind)| BaseRecord {
            path,
            source: self.state('s', i, kind, false),
            drive: self.state('d', i, kind, false),
            sha256: (kind == Kind::File).then(|| Sha256Digest::of(b"content")),
        })
    }
}

fn context() -> Context {
    let config = RunConfig { direction: Direction::Bidirectional, strategy: Strategy::Manual, ..RunConfig::default() };
    Context::new(config, NamingRules::windows(), NamingRules::permissive(), HashMap::new())
        .unwrap_or_else(|e| panic!("default filters compile: {e}"))
}

fn run(changes: Changes, ctx: &Context) -> usize {
    let g = Gen::new(changes);
    match reconcile(g.entries('s'), g.entries('d'), g.base(), ctx) {
        Ok(plan) => plan.actions.len() + plan.pending.len(),
        Err(e) => panic!("reconcile failed: {e}"),
    }
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.trim().to_string()))
        .unwrap_or_else(|| "VmHWM unavailable".to_string())
}

/// CPU seconds this process has used (user + system), from /proc/self/stat: on a shared, loaded machine this
/// says more than wall time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are utime and stime; after the name they sit at 11 and 12.
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

fn main() {
    let ctx = context();
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let g = Gen::new(Changes::None);
    let generated = g.entries('s').count() + g.entries('d').count() + g.base().count();
    println!(
        "generating the three streams alone ({generated} items): {:?} wall, {:.2} s CPU",
        start.elapsed(),
        cpu_seconds() - cpu
    );
    // One plain timed pass each, so the numbers can be quoted without criterion's statistics.
    for (name, changes) in [("unchanged", Changes::None), ("1% changed", Changes::OnePercent)] {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let planned = run(changes, &ctx);
        println!(
            "reconcile 1,000,000 entries, {name}: {:?} wall, {:.2} s CPU, generation included ({planned} actions)",
            start.elapsed(),
            cpu_seconds() - cpu
        );
    }
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    c.bench_function("reconcile_1m_unchanged", |b| b.iter(|| black_box(run(Changes::None, &ctx))));
    c.bench_function("reconcile_1m_one_percent_changed", |b| b.iter(|| black_box(run(Changes::OnePercent, &ctx))));
    c.final_summary();
    println!("peak memory: {}", peak_rss());
}
