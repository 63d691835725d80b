//! One test per cell of SYNC.md's change-detection, bidirectional and one-way tables, named after the cell.

use super::harness::{World, bidi, config};
use crate::sync::execute::RunStatus;
use crate::sync::{Direction, Strategy};

/// A world where `f.txt` holds "v0" on both sides, tracked, plus ballast files so a single delete stays under
/// the 50% safety limit.
fn tracked() -> World {
    let mut w = World::new();
    w.put_source("f.txt", "v0");
    for b in ["b1.txt", "b2.txt", "b3.txt"] {
        w.put_source(b, b);
    }
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.outcome.map(|o| o.status), Some(RunStatus::Completed));
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("v0"));
    w
}

fn completed(w: &mut World, direction: Direction) {
    let run = w.sync(&config(direction, Strategy::Manual));
    assert_eq!(run.outcome.map(|o| o.status), Some(RunStatus::Completed), "events: {:?}", run.events);
    assert!(
        w.plan(&config(direction, Strategy::Manual)).map(|p| p.is_empty()).unwrap_or(false),
        "second run plans nothing"
    );
}

// ---- Bidirectional ----

#[test]
fn bidirectional_unchanged_unchanged_does_nothing() {
    let w = tracked();
    let plan = w.plan(&bidi(Strategy::Manual)).unwrap();
    assert!(plan.is_empty());
}

#[test]
fn bidirectional_source_unchanged_drive_changed_goes_drive_to_source_keeping_the_old_source_as_a_version() {
    let mut w = tracked();
    w.put_drive("f.txt", "drive edit");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("drive edit"));
    assert!(w.kept().contains(&"v0".to_string()));
}

#[test]
fn bidirectional_source_unchanged_drive_deleted_deletes_on_source_recoverably() {
    let mut w = tracked();
    w.d().remove("f.txt");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.source_text("f.txt"), None);
    assert!(w.kept().contains(&"v0".to_string()), "source content saved into drive versions first");
    assert!(!w.tracked().contains(&"f.txt".to_string()));
}

#[test]
fn bidirectional_source_changed_drive_unchanged_goes_source_to_drive() {
    let mut w = tracked();
    w.put_source("f.txt", "source edit");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
    assert!(w.kept().contains(&"v0".to_string()), "the drive keeps the old content as a version");
}

#[test]
fn bidirectional_source_changed_drive_changed_is_a_conflict() {
    let mut w = tracked();
    w.put_source("f.txt", "source edit");
    w.put_drive("f.txt", "drive edit");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.conflicts.len(), 1, "MANUAL opens a conflict record");
    assert_eq!(w.source_text("f.txt").as_deref(), Some("source edit"));
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("drive edit"));
}

#[test]
fn bidirectional_source_changed_drive_changed_with_equal_hashes_just_records() {
    let mut w = tracked();
    w.put_source("f.txt", "same edit");
    w.put_drive("f.txt", "same edit");
    let plan = w.plan(&bidi(Strategy::Manual)).unwrap();
    assert!(plan.actions.iter().all(|a| a.name() == "record"), "{:?}", plan.actions);
    completed(&mut w, Direction::Bidirectional);
    assert!(w.conflicts.is_empty());
}

#[test]
fn bidirectional_source_changed_drive_deleted_goes_source_to_drive_a_change_beats_a_delete() {
    let mut w = tracked();
    w.put_source("f.txt", "source edit");
    w.d().remove("f.txt");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
}

#[test]
fn bidirectional_source_deleted_drive_unchanged_deletes_on_drive_recoverably() {
    let mut w = tracked();
    w.s().remove("f.txt");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.drive_text("f.txt"), None);
    assert!(w.d().trash().iter().any(|k| *k.content == b"v0"), "in the drive's trash");
}

#[test]
fn bidirectional_source_deleted_drive_changed_goes_drive_to_source_a_change_beats_a_delete() {
    let mut w = tracked();
    w.s().remove("f.txt");
    w.put_drive("f.txt", "drive edit");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("drive edit"));
}

#[test]
fn bidirectional_source_deleted_drive_deleted_forgets_the_base() {
    let mut w = tracked();
    w.s().remove("f.txt");
    w.d().remove("f.txt");
    completed(&mut w, Direction::Bidirectional);
    assert!(!w.tracked().contains(&"f.txt".to_string()));
}

#[test]
fn no_base_present_on_one_side_is_copied_over() {
    let mut w = tracked();
    w.put_source("new-on-source.txt", "s");
    w.put_drive("new-on-drive.txt", "d");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.drive_text("new-on-source.txt").as_deref(), Some("s"));
    assert_eq!(w.source_text("new-on-drive.txt").as_deref(), Some("d"));
}

#[test]
fn no_base_present_on_both_with_equal_hashes_records() {
    let mut w = World::new();
    w.put_source("same.txt", "x");
    w.put_drive("same.txt", "x");
    let plan = w.plan(&bidi(Strategy::Manual)).unwrap();
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.actions[0].name(), "record");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.tracked(), vec!["same.txt"]);
}

#[test]
fn no_base_present_on_both_with_different_content_is_a_conflict() {
    let mut w = World::new();
    w.put_source("c.txt", "source");
    w.put_drive("c.txt", "drive");
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.conflicts.len(), 1);
}

// ---- Change detection ----

#[test]
fn equal_hashes_are_in_step_whatever_the_times_say() {
    let mut w = tracked();
    let later = w.now();
    w.s().touch("f.txt", later);
    let plan = w.plan(&bidi(Strategy::Manual)).unwrap();
    assert_eq!(plan.actions.iter().map(|a| a.name()).collect::<Vec<_>>(), vec!["record"]);
    completed(&mut w, Direction::Bidirectional);
    assert_eq!(w.d().versions().len(), 0, "nothing was transferred");
}

#[test]
fn only_files_whose_size_or_time_changed_are_hashed() {
    let mut w = World::new();
    for i in 0..20 {
        w.put_source(&format!("f{i}.txt"), "v0");
    }
    w.sync(&bidi(Strategy::Manual));
    let before = w.s().hash_calls().len() + w.d().hash_calls().len();
    let later = w.now();
    w.s().touch("f3.txt", later); // time changed, same size: must hash to know
    w.put_source("f4.txt", "v1"); // same size, new time and tag: must hash
    w.put_source("f5.txt", "longer content"); // size changed: no hash needed, the content differs
    w.sync(&bidi(Strategy::Manual));
    let mut hashed: Vec<String> = w.s().hash_calls().iter().chain(&w.d().hash_calls()).map(|p| p.to_string()).collect();
    hashed.drain(..before);
    hashed.sort();
    assert_eq!(hashed, vec!["f3.txt", "f4.txt"]);
}

// ---- One-way: source to drive ----

#[test]
fn source_to_drive_a_drive_change_to_a_tracked_file_is_overwritten_and_kept_as_a_version() {
    let mut w = tracked();
    w.put_drive("f.txt", "drive edit");
    completed(&mut w, Direction::SourceToDrive);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("v0"));
    assert!(w.kept().contains(&"drive edit".to_string()));
}

#[test]
fn source_to_drive_a_tracked_file_deleted_on_the_drive_is_copied_again() {
    let mut w = tracked();
    w.d().remove("f.txt");
    completed(&mut w, Direction::SourceToDrive);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("v0"));
}

#[test]
fn source_to_drive_a_source_delete_deletes_on_the_drive_to_trash() {
    let mut w = tracked();
    w.s().remove("f.txt");
    completed(&mut w, Direction::SourceToDrive);
    assert_eq!(w.drive_text("f.txt"), None);
    assert!(w.d().trash().iter().any(|k| *k.content == b"v0"));
}

#[test]
fn source_to_drive_a_source_change_is_copied() {
    let mut w = tracked();
    w.put_source("f.txt", "source edit");
    completed(&mut w, Direction::SourceToDrive);
    assert_eq!(w.drive_text("f.txt").as_deref(), Some("source edit"));
}

#[test]
fn source_to_drive_untracked_drive_only_files_are_left_alone_and_shown_untracked() {
    let mut w = tracked();
    w.put_drive("mine.txt", "drive only");
    let run = w.sync(&config(Direction::SourceToDrive, Strategy::Manual));
    assert!(run.codes().contains(&"UNTRACKED"));
    assert_eq!(w.drive_text("mine.txt").as_deref(), Some("drive only"));
    assert_eq!(w.source_text("mine.txt"), None);
}

// ---- One-way: drive to source ----

#[test]
fn drive_to_source_a_source_change_is_overwritten_after_saving_it_into_drive_versions() {
    let mut w = tracked();
    w.put_source("f.txt", "source edit");
    completed(&mut w, Direction::DriveToSource);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("v0"));
    assert!(w.kept().contains(&"source edit".to_string()));
}

#[test]
fn drive_to_source_a_drive_delete_deletes_on_the_source_after_saving_it() {
    let mut w = tracked();
    w.d().remove("f.txt");
    completed(&mut w, Direction::DriveToSource);
    assert_eq!(w.source_text("f.txt"), None);
    assert!(w.kept().contains(&"v0".to_string()));
}

#[test]
fn drive_to_source_a_tracked_file_deleted_on_the_source_is_copied_again() {
    let mut w = tracked();
    w.s().remove("f.txt");
    completed(&mut w, Direction::DriveToSource);
    assert_eq!(w.source_text("f.txt").as_deref(), Some("v0"));
}

#[test]
fn drive_to_source_untracked_source_only_files_are_left_alone() {
    let mut w = tracked();
    w.put_source("legacy.txt", "source only");
    let run = w.sync(&config(Direction::DriveToSource, Strategy::Manual));
    assert!(run.codes().contains(&"UNTRACKED"));
    assert_eq!(w.drive_text("legacy.txt"), None);
    assert_eq!(w.source_text("legacy.txt").as_deref(), Some("source only"));
}

// ---- Content equality across sides with least hashing ----

#[test]
fn a_sharepoint_like_source_is_not_downloaded_when_its_own_hash_answers() {
    use crate::sync::memory::MemoryKnobs;
    let mut w = World::with(MemoryKnobs::sharepoint_library(), MemoryKnobs::drive());
    for p in ["f.txt", "g.txt", "b1.txt", "b2.txt"] {
        w.put_source(p, "v0");
    }
    w.sync(&bidi(Strategy::Manual));
    let later = w.now();
    w.s().touch("f.txt", later); // time moved, quickXorHash did not: in step, nothing to read
    w.put_source("g.txt", "v1"); // same size, new quickXorHash: changed, copied without a compare
    let run = w.sync(&bidi(Strategy::Manual));
    assert!(w.s().hash_calls().is_empty());
    assert_eq!(w.drive_text("g.txt").as_deref(), Some("v1"));
    let names: Vec<&str> = run.plan().all_actions().map(|a| a.name()).collect();
    assert_eq!(names, vec!["record", "copy_to_drive"]);
}

#[test]
fn untracked_files_are_counted_and_only_the_first_thousand_reported_by_path() {
    let mut w = tracked();
    let now = w.now();
    for i in 0..1005 {
        w.d().put_file(&format!("mine/{i:04}.txt"), b"x", now);
    }
    let plan = w.plan(&config(Direction::SourceToDrive, Strategy::Manual)).unwrap();
    assert_eq!(plan.stats.untracked, 1006, "1005 files and their folder");
    assert_eq!(plan.reports.len(), 1000);
    assert!(plan.is_empty());
}
