//! SYNC.md "Conflicts": one test per strategy row, file against folder, and MANUAL resolution.

use futures::executor::block_on;

use super::harness::{Log, World, bidi, config};
use crate::sync::conflict::{Resolution, ResolveError, carry_out};
use crate::sync::execute::RunStatus;
use crate::sync::{Direction, Strategy};

/// `f.txt` tracked as "v0", then changed on both sides: source first, drive later (the drive is newer).
fn diverged(strategy: Strategy) -> World {
    let mut w = World::new();
    w.put_source("f.txt", "v0");
    for b in ["b1.txt", "b2.txt", "b3.txt"] {
        w.put_source(b, b);
    }
    w.sync(&bidi(strategy));
    w.put_source("f.txt", "source edit");
    w.put_drive("f.txt", "drive edit!");
    w
}

fn run_clean(w: &mut World, strategy: Strategy) {
    let run = w.sync(&bidi(strategy));
    assert_eq!(run.outcome.map(|o| o.status), Some(RunStatus::Completed), "{:?}", run.events);
    assert!(w.plan(&bidi(strategy)).map(|p| p.is_empty()).unwrap_or(false), "second run plans nothing");
}

#[test]
fn last_writer_wins_the_newer_modification_time_wins_and_the_loser_is_a_drive_version() {
    let mut w = diverged(Strategy::LastWriterWins);
    run_clean(&mut w, Strategy::LastWriterWins);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("drive edit!"));
    assert!(w.kept().contains(&"source edit".to_string()));
}

#[test]
fn last_writer_wins_on_a_tie_the_source_wins() {
    let mut w = World::new();
    w.put_source("f.txt", "v0");
    for b in ["b1.txt", "b2.txt", "b3.txt"] {
        w.put_source(b, b);
    }
    w.sync(&bidi(Strategy::LastWriterWins));
    let at = w.now();
    w.s().put_file("f.txt", b"source edit", at);
    w.d().put_file("f.txt", b"drive edit!", at);
    run_clean(&mut w, Strategy::LastWriterWins);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
    assert!(w.kept().contains(&"drive edit!".to_string()));
}

#[test]
fn keep_both_the_source_keeps_the_name_and_the_drive_content_moves_to_a_conflict_name_on_both_sides() {
    let mut w = diverged(Strategy::KeepBoth);
    run_clean(&mut w, Strategy::KeepBoth);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("source edit"));
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
    assert_eq!(w.source_text("f (conflict).txt").as_deref(), Some("drive edit!"));
    assert_eq!(w.drive_text("f (conflict).txt").as_deref(), Some("drive edit!"));
}

#[test]
fn keep_both_a_second_conflict_gets_conflict_2() {
    let mut w = diverged(Strategy::KeepBoth);
    run_clean(&mut w, Strategy::KeepBoth);
    w.put_source("f.txt", "source again");
    w.put_drive("f.txt", "drive again!");
    run_clean(&mut w, Strategy::KeepBoth);
    assert_eq!(w.source_text("f (conflict 2).txt").as_deref(), Some("drive again!"));
    assert_eq!(w.drive_text("f (conflict 2).txt").as_deref(), Some("drive again!"));
    assert_eq!(w.drive_text("f (conflict).txt").as_deref(), Some("drive edit!"));
}

#[test]
fn scaidrive_wins_the_drive_content_wins_and_the_source_content_is_a_drive_version() {
    let mut w = diverged(Strategy::DriveWins);
    run_clean(&mut w, Strategy::DriveWins);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("drive edit!"));
    assert!(w.kept().contains(&"source edit".to_string()));
}

#[test]
fn smb_wins_the_source_content_wins_and_the_drive_content_is_kept_as_a_version() {
    let mut w = diverged(Strategy::SourceWins);
    run_clean(&mut w, Strategy::SourceWins);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
    assert!(w.kept().contains(&"drive edit!".to_string()));
}

#[test]
fn manual_moves_nothing_opens_one_conflict_record_and_keeps_it_across_runs() {
    let mut w = diverged(Strategy::Manual);
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.outcome.map(|o| o.counters.conflicts), Some(1));
    assert_eq!(w.conflicts.len(), 1);
    let id = w.conflicts.values().next().map(|c| c.id);
    let again = w.sync(&bidi(Strategy::Manual));
    assert!(again.codes().contains(&"CONFLICT_PENDING"));
    assert_eq!(w.conflicts.values().next().map(|c| c.id), id, "not opened twice");
    assert_eq!(w.source_text("f.txt").as_deref(), Some("source edit"));
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("drive edit!"));
}

#[test]
fn manual_conflict_settles_by_itself_when_both_sides_come_to_agree() {
    let mut w = diverged(Strategy::Manual);
    w.sync(&bidi(Strategy::Manual));
    w.put_source("f.txt", "drive edit!");
    run_clean(&mut w, Strategy::Manual);
    assert!(w.conflicts.is_empty());
}

/// Opens the MANUAL conflict, then carries out `choice` on it as the connector does.
fn try_resolve(w: &mut World, choice: Resolution) -> Result<RunStatus, ResolveError> {
    let record = w.conflicts.values().next().cloned().unwrap_or_else(|| panic!("a conflict is open"));
    let mut log = Log::default();
    let now = w.now();
    let mut base = std::mem::take(&mut w.base);
    let mut conflicts = std::mem::take(&mut w.conflicts);
    let outcome = {
        let mut sink = super::harness::TestSink::new(&mut base, &mut conflicts, w.crashed.clone());
        block_on(carry_out(&w.source, &w.drive, &record, choice, &mut sink, &mut log, now))
    };
    // The caller (the connector's runner) closes the record once the resolution ran cleanly.
    if matches!(&outcome, Ok(o) if o.status == RunStatus::Completed) {
        conflicts.retain(|_, c| c.id != record.id);
    }
    w.base = base;
    w.conflicts = conflicts;
    outcome.map(|o| o.status)
}

fn resolve_with(w: &mut World, choice: Resolution) {
    w.sync(&bidi(Strategy::Manual));
    assert_eq!(try_resolve(w, choice), Ok(RunStatus::Completed));
    run_clean(w, Strategy::Manual);
}

#[test]
fn a_resolution_after_a_side_changed_again_moves_nothing() {
    let mut w = diverged(Strategy::Manual);
    w.sync(&bidi(Strategy::Manual));
    w.put_drive("f.txt", "drive edit, again");
    let result = try_resolve(&mut w, Resolution::KeepSource);
    assert!(matches!(result, Err(ResolveError::Changed { drive_now: Some(_), .. })), "{result:?}");
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("drive edit, again"), "the newer drive content stays");
    assert_eq!(w.source_text("f.txt").as_deref(), Some("source edit"));
    assert_eq!(w.conflicts.len(), 1, "still open for another look");
}

#[test]
fn manual_resolve_keep_source_copies_the_source_over_the_drive() {
    let mut w = diverged(Strategy::Manual);
    resolve_with(&mut w, Resolution::KeepSource);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
    assert!(w.kept().contains(&"drive edit!".to_string()));
}

#[test]
fn manual_resolve_keep_drive_copies_the_drive_over_the_source_after_saving_it() {
    let mut w = diverged(Strategy::Manual);
    resolve_with(&mut w, Resolution::KeepDrive);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("drive edit!"));
    assert!(w.kept().contains(&"source edit".to_string()));
}

#[test]
fn manual_resolve_keep_both_uses_conflict_naming() {
    let mut w = diverged(Strategy::Manual);
    resolve_with(&mut w, Resolution::KeepBoth);
    assert_eq!(w.source_text("f (conflict).txt").as_deref(), Some("drive edit!"));
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
}

#[test]
fn a_file_against_a_folder_is_resolved_by_keep_both_naming_whatever_the_strategy() {
    for strategy in [Strategy::Manual, Strategy::SourceWins, Strategy::DriveWins, Strategy::LastWriterWins] {
        let mut w = World::new();
        w.put_source("x", "a file");
        w.put_drive("x/inner.txt", "inside a folder");
        let run = w.sync(&bidi(strategy));
        assert_eq!(run.outcome.map(|o| o.status), Some(RunStatus::Completed), "{:?}", run.events);
        // The folder's content follows on the next run.
        run_clean(&mut w, strategy);
        assert_eq!(w.source_text("x").as_deref(), Some("a file"));
        assert_eq!(w.drive_text("x").as_deref(), Some("a file"));
        assert_eq!(w.source_text("x (conflict)/inner.txt").as_deref(), Some("inside a folder"));
        assert_eq!(w.drive_text("x (conflict)/inner.txt").as_deref(), Some("inside a folder"));
    }
}

#[test]
fn a_file_against_a_folder_in_a_one_way_mode_moves_the_mirror_aside() {
    let mut w = World::new();
    w.put_source("x/inner.txt", "source folder");
    w.put_drive("x", "drive file");
    let cfg = config(Direction::SourceToDrive, Strategy::Manual);
    w.sync(&cfg);
    let run = w.sync(&cfg);
    assert_eq!(run.outcome.map(|o| o.status), Some(RunStatus::Completed));
    assert_eq!(w.drive_text("x/inner.txt").as_deref(), Some("source folder"));
    assert_eq!(w.drive_text("x (conflict)").as_deref(), Some("drive file"));
    assert_eq!(w.source_text("x (conflict)"), None, "the mirror's stepped-aside copy stays on its side");
}
