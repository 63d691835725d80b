//! SYNC.md "Filters", "Transfers" and "Safety guards" through whole runs.

use super::harness::{World, bidi, config};
use crate::sync::execute::{RunStatus, StopFlag, StopSignal};
use crate::sync::faulty::Op;
use crate::sync::filters::PatternSet;
use crate::sync::run::PlanError;
use crate::sync::safety::SafetyAbort;
use crate::sync::{Attributes, Direction, ErrorCode, RunConfig, SideId, Strategy};

fn patterns(extensions: &[&str], globs: &[&str]) -> PatternSet {
    PatternSet {
        extensions: extensions.iter().map(|s| s.to_string()).collect(),
        patterns: globs.iter().map(|s| s.to_string()).collect(),
    }
}

fn filtered(include: PatternSet, exclude: PatternSet) -> RunConfig {
    let mut cfg = bidi(Strategy::Manual);
    cfg.settings.include_patterns = include;
    cfg.settings.exclude_patterns = exclude;
    cfg
}

fn status(run: &super::harness::RunResult) -> Option<RunStatus> {
    run.outcome.as_ref().map(|o| o.status.clone())
}

// ---- Filters ----

#[test]
fn only_files_passing_the_include_list_and_no_exclude_are_synced() {
    let mut w = World::new();
    for p in ["a.PDF", "b.docx", "c.txt", "d/e.pdf", "d/~lock.pdf"] {
        w.put_source(p, p);
    }
    w.sync(&filtered(patterns(&["pdf", "docx"], &[]), patterns(&[], &["~*"])));
    let mut synced: Vec<String> = w.d().files().into_iter().map(|(p, _)| p.to_string()).collect();
    synced.sort();
    assert_eq!(synced, vec!["a.PDF", "b.docx", "d/e.pdf"]);
}

#[test]
fn excludes_prune_folders() {
    let mut w = World::new();
    w.put_source("keep/a.txt", "a");
    w.put_source("build/out/b.txt", "b");
    w.put_source("src/build/c.txt", "c");
    w.sync(&filtered(PatternSet::default(), patterns(&[], &["build"])));
    assert_eq!(w.drive_text("keep/a.txt").as_deref(), Some("a"));
    assert_eq!(w.drive_text("build/out/b.txt"), None);
    assert_eq!(w.drive_text("src/build/c.txt"), None, "a name pattern matches the folder at any depth");
}

#[test]
fn changing_a_filter_never_deletes_newly_excluded_paths_just_stop_being_tracked() {
    let mut w = World::new();
    for p in ["a.txt", "b.log", "c.log"] {
        w.put_source(p, p);
    }
    w.sync(&bidi(Strategy::Manual));
    let narrowed = filtered(PatternSet::default(), patterns(&["log"], &[]));
    let run = w.sync(&narrowed);
    assert_eq!(status(&run), Some(RunStatus::Completed));
    assert_eq!(run.outcome.map(|o| o.counters.deleted_on_drive + o.counters.deleted_on_source), Some(0));
    assert_eq!(w.drive_text("b.log").as_deref(), Some("b.log"));
    assert_eq!(w.tracked(), vec!["a.txt"]);
    w.s().remove("b.log");
    w.sync(&narrowed);
    assert_eq!(w.drive_text("b.log").as_deref(), Some("b.log"), "an excluded path is never deleted");
}

#[test]
fn hidden_and_system_files_are_skipped_unless_the_settings_say_otherwise() {
    let mut w = World::new();
    w.put_source("hidden.txt", "h");
    w.put_source("system.txt", "s");
    w.put_source("normal.txt", "n");
    w.s().set_attrs("hidden.txt", Attributes { hidden: true, ..Attributes::default() });
    w.s().set_attrs("system.txt", Attributes { system: true, ..Attributes::default() });
    w.sync(&bidi(Strategy::Manual));
    assert_eq!(w.d().files().len(), 1);
    let mut cfg = bidi(Strategy::Manual);
    cfg.settings.sync_hidden_files = true;
    w.sync(&cfg);
    assert_eq!(w.drive_text("hidden.txt").as_deref(), Some("h"));
    assert_eq!(w.drive_text("system.txt"), None);
    cfg.settings.sync_system_files = true;
    w.sync(&cfg);
    assert_eq!(w.drive_text("system.txt").as_deref(), Some("s"));
}

// ---- Transfers ----

#[test]
fn interrupted_transfer_temp_files_are_never_synced() {
    let mut w = World::new();
    w.put_source("dir/.~scai.report.pdf.7.tmp", "half");
    w.put_source("dir/report.pdf", "whole");
    w.sync(&bidi(Strategy::Manual));
    assert_eq!(w.d().files().len(), 1);
}

#[test]
fn a_destination_changed_since_the_listing_is_skipped_and_seen_as_a_conflict_next_run() {
    let mut w = World::new();
    w.put_source("f.txt", "v0");
    for b in ["b1.txt", "b2.txt", "b3.txt"] {
        w.put_source(b, b);
    }
    w.sync(&bidi(Strategy::Manual));
    w.put_source("f.txt", "source edit");
    let plan = w.plan(&bidi(Strategy::Manual)).unwrap_or_default();
    // Someone edits the drive copy after the listing, before the transfer.
    w.put_drive("f.txt", "late drive edit");
    let mut log = super::harness::Log::default();
    let stop = StopFlag::default();
    let now = w.now();
    let mut base = std::mem::take(&mut w.base);
    let mut conflicts = std::mem::take(&mut w.conflicts);
    let mut sink = super::harness::TestSink::new(&mut base, &mut conflicts, w.crashed.clone());
    let executor = crate::sync::execute::Executor::new(&w.source, &w.drive, &mut sink, &mut log, &stop, now);
    let outcome = futures::executor::block_on(executor.execute(&plan));
    drop(sink);
    w.base = base;
    w.conflicts = conflicts;
    assert_eq!(outcome.status, RunStatus::CompletedWithErrors);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("late drive edit"), "the late edit is not overwritten");
    w.sync(&bidi(Strategy::Manual));
    assert_eq!(w.conflicts.len(), 1);
}

#[test]
fn a_delete_never_touches_content_written_after_the_listing() {
    let mut w = World::new();
    for p in ["f.txt", "b1.txt", "b2.txt", "b3.txt"] {
        w.put_source(p, p);
    }
    w.sync(&bidi(Strategy::Manual));
    w.s().remove("f.txt");
    let plan = w.plan(&bidi(Strategy::Manual)).unwrap_or_default();
    assert_eq!(plan.deletes.len(), 1);
    // Someone saves new content on the drive after the listing.
    w.put_drive("f.txt", "unseen");
    let mut log = super::harness::Log::default();
    let stop = StopFlag::default();
    let now = w.now();
    let mut base = std::mem::take(&mut w.base);
    let mut conflicts = std::mem::take(&mut w.conflicts);
    let mut sink = super::harness::TestSink::new(&mut base, &mut conflicts, w.crashed.clone());
    let executor = crate::sync::execute::Executor::new(&w.source, &w.drive, &mut sink, &mut log, &stop, now);
    let outcome = futures::executor::block_on(executor.execute(&plan));
    drop(sink);
    w.base = base;
    w.conflicts = conflicts;
    assert_eq!(outcome.counters.deleted_on_drive, 0);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("unseen"));
    // Next run: a change beats a delete.
    w.sync(&bidi(Strategy::Manual));
    assert_eq!(w.source_text("f.txt").as_deref(), Some("unseen"));
}

#[test]
fn a_locked_file_is_a_per_file_error_and_the_run_goes_on() {
    let mut w = World::new();
    w.put_source("locked.txt", "l");
    w.put_source("free.txt", "f");
    w.drive.fail_path(Op::Write, "locked.txt", ErrorCode::FileLocked);
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(status(&run), Some(RunStatus::CompletedWithErrors));
    assert_eq!(run.codes(), vec!["FILE_LOCKED"]);
    assert_eq!(w.drive_text("free.txt").as_deref(), Some("f"));
}

#[test]
fn a_permission_error_on_one_file_never_fails_the_run_and_is_retried_next_run() {
    let mut w = World::new();
    w.put_source("secret.txt", "s");
    w.source.fail_path(Op::Read, "secret.txt", ErrorCode::PermissionDenied);
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.codes(), vec!["PERMISSION_DENIED"]);
    assert_eq!(w.drive_text("secret.txt"), None);
    // Permission granted: the next run copies it.
    w.source.clear_path_errors();
    w.sync(&bidi(Strategy::Manual));
    assert_eq!(w.drive_text("secret.txt").as_deref(), Some("s"));
}

#[test]
fn a_broken_listing_stops_the_run_before_anything_changes() {
    let mut w = World::new();
    for p in ["a.txt", "b.txt", "c.txt"] {
        w.put_source(p, p);
    }
    w.sync(&bidi(Strategy::Manual));
    w.source.break_listing(true);
    let run = w.sync(&bidi(Strategy::Manual));
    assert!(matches!(run.plan, Err(PlanError::Merge(_))));
    assert_eq!(w.d().files().len(), 3);
}

// ---- Safety guards ----

fn ten_tracked() -> World {
    let mut w = World::new();
    for i in 0..10 {
        w.put_source(&format!("f{i}.txt"), "x");
    }
    w.sync(&bidi(Strategy::Manual));
    w
}

#[test]
fn deleting_more_than_max_delete_percent_stops_the_run_before_changing_anything() {
    let mut w = ten_tracked();
    for i in 0..6 {
        w.s().remove(&format!("f{i}.txt"));
    }
    let run = w.sync(&bidi(Strategy::Manual));
    assert!(
        matches!(run.plan, Err(PlanError::Safety(SafetyAbort::TooManyDeletes { side: SideId::Drive, deletes: 6, .. }))),
        "{:?}",
        run.plan.as_ref().err()
    );
    assert_eq!(w.d().files().len(), 10);
    let mut forced = bidi(Strategy::Manual);
    forced.force = true;
    w.sync(&forced);
    assert_eq!(w.d().files().len(), 4);
}

#[test]
fn deleting_up_to_max_delete_percent_proceeds() {
    let mut w = ten_tracked();
    for i in 0..5 {
        w.s().remove(&format!("f{i}.txt"));
    }
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(status(&run), Some(RunStatus::Completed));
}

#[test]
fn a_side_listing_nothing_while_the_base_holds_entries_stops_the_run() {
    let mut w = ten_tracked();
    for i in 0..10 {
        w.s().remove(&format!("f{i}.txt"));
    }
    let mut cfg = config(Direction::SourceToDrive, Strategy::Manual);
    cfg.settings.max_delete_percent = 100;
    let run = w.sync(&cfg);
    assert!(matches!(run.plan, Err(PlanError::Safety(SafetyAbort::EmptyListing { side: SideId::Source, .. }))));
    assert_eq!(run.plan.as_ref().err().map(PlanError::code), Some("SAFETY_ABORT"));
    assert_eq!(w.d().files().len(), 10);
}

// ---- A first sync in parts ----

/// A first sync with `files` files in four folders, run with parts of `part` actions; the sizes of the parts.
fn first_sync_in_parts(w: &mut World, part: usize) -> (crate::sync::execute::Outcome, Option<PlanError>, Vec<usize>) {
    let mut ctx = w.context(&bidi(Strategy::Manual));
    ctx.part_actions = part;
    let base = futures::stream::iter(Vec::<Result<crate::sync::BaseRecord, std::convert::Infallible>>::new());
    let (mut records, mut conflicts) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    let mut sink = super::harness::TestSink::new(&mut records, &mut conflicts, w.crashed.clone());
    let mut log = super::harness::Log::default();
    let mut parts = Vec::new();
    let mut inspect = |plan: &crate::sync::Plan| parts.push(plan.all_actions().count());
    let stop = StopFlag::default();
    let run = crate::sync::run::run_inspected(
        &w.source,
        &w.drive,
        base,
        &ctx,
        &mut sink,
        &mut log,
        &stop,
        super::harness::t0(),
        &mut inspect,
    );
    let (outcome, error) = futures::executor::block_on(run);
    w.base = records;
    (outcome, error, parts)
}

#[test]
fn a_first_sync_runs_in_parts_as_its_walk_goes_so_memory_follows_the_part_not_the_tree() {
    let mut w = World::new();
    for i in 0..40 {
        w.put_source(&format!("d{}/f{i:02}.txt", i % 4), &format!("{i}"));
    }
    let (outcome, error, parts) = first_sync_in_parts(&mut w, 4);
    assert_eq!((outcome.status, error), (RunStatus::Completed, None));
    // 4 folders and 40 files: the executor never held more than a part of them.
    assert_eq!(parts.iter().sum::<usize>(), 44);
    assert!(parts.len() >= 11 && parts.iter().all(|&n| n <= 4), "parts {parts:?}");
    assert_eq!((w.d().files().len(), w.tracked().len()), (40, 44));
    assert!(w.plan(&bidi(Strategy::Manual)).unwrap().is_empty(), "a second run has nothing to do");
}

#[test]
fn a_first_sync_whose_listing_breaks_off_keeps_and_records_what_it_copied_and_the_next_run_completes() {
    let mut w = World::new();
    for i in 0..40 {
        w.put_source(&format!("d{}/f{i:02}.txt", i % 4), &format!("{i}"));
    }
    w.source.break_listing_after(20);
    let (outcome, error, parts) = first_sync_in_parts(&mut w, 4);
    assert!(matches!(error, Some(PlanError::Merge(_))), "{error:?}");
    assert!(matches!(outcome.status, RunStatus::Failed { code: "LISTING_INCOMPLETE", .. }), "{outcome:?}");
    let copied = w.d().files().len();
    assert!(copied > 0 && parts.len() > 1, "parts ran before the break: {parts:?}");
    assert_eq!(w.tracked().len(), parts.iter().sum::<usize>(), "everything done is recorded");
    assert!(w.s().files().len() == 40, "nothing is deleted on the side whose listing broke");
    w.source.break_listing(false);
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(status(&run), Some(RunStatus::Completed), "{:?}", run.events);
    assert_eq!(run.outcome.map(|o| o.counters.files_synced), Some(44 - parts.iter().sum::<usize>() as u64));
    assert_eq!((w.d().files().len(), w.tracked().len()), (40, 44));
}

// ---- Pause ----

/// Asks to stop after `n` questions: pause arriving mid-run.
struct StopAfter(std::sync::atomic::AtomicU32);

impl StopSignal for StopAfter {
    fn stop_requested(&self) -> bool {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 0
    }
}

#[test]
fn pause_stops_between_files_keeps_progress_and_a_later_run_continues() {
    let mut w = World::new();
    for i in 0..6 {
        w.put_source(&format!("f{i}.txt"), &format!("{i}"));
    }
    let run = w.sync_with_stop(&bidi(Strategy::Manual), &StopAfter(3.into()));
    assert_eq!(status(&run), Some(RunStatus::Stopped));
    assert_eq!(w.d().files().len(), 3);
    assert_eq!(w.tracked().len(), 3, "progress is recorded");
    let resumed = w.sync(&bidi(Strategy::Manual));
    assert_eq!(resumed.outcome.map(|o| o.counters.files_synced), Some(3));
    assert_eq!(w.d().files().len(), 6);
}

// ---- Runtime fit ----

fn assert_send<T: Send>(_: &T) {}

#[test]
fn a_whole_run_is_a_send_future_so_it_can_live_in_a_tokio_task() {
    let mut w = World::new();
    w.put_source("a.txt", "a");
    let ctx = w.context(&bidi(Strategy::Manual));
    let base = futures::stream::iter(Vec::<Result<crate::sync::BaseRecord, std::convert::Infallible>>::new());
    let mut base_records = std::collections::BTreeMap::new();
    let mut conflicts = std::collections::BTreeMap::new();
    let mut sink = super::harness::TestSink::new(&mut base_records, &mut conflicts, w.crashed.clone());
    let mut log = super::harness::Log::default();
    let stop = StopFlag::default();
    let run = crate::sync::run::run(&w.source, &w.drive, base, &ctx, &mut sink, &mut log, &stop, super::harness::t0());
    assert_send(&run);
    let outcome = futures::executor::block_on(run);
    assert_eq!(outcome.status, RunStatus::Completed);
    drop(sink);
    assert_eq!(base_records.len(), 1);
}
