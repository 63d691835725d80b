//! SYNC.md "Renames" and "Names that cannot cross".

use super::harness::{World, bidi, config};
use crate::sync::execute::RunStatus;
use crate::sync::memory::MemoryKnobs;
use crate::sync::{Attributes, Direction, Strategy};

fn tracked(paths: &[&str]) -> World {
    let mut w = World::new();
    for p in paths {
        w.put_source(p, &format!("content of {p}"));
    }
    for b in ["b1.txt", "b2.txt", "b3.txt"] {
        w.put_source(b, b);
    }
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.outcome.map(|o| o.status), Some(RunStatus::Completed));
    w
}

fn clean(w: &mut World, direction: Direction) -> Vec<&'static str> {
    let cfg = config(direction, Strategy::Manual);
    let run = w.sync(&cfg);
    assert_eq!(run.outcome.as_ref().map(|o| o.status.clone()), Some(RunStatus::Completed), "{:?}", run.events);
    let names = run.plan().all_actions().map(|a| a.name()).collect();
    assert!(w.plan(&cfg).map(|p| p.is_empty()).unwrap_or(false), "second run plans nothing");
    names
}

fn drive_id(w: &World, path: &str) -> Option<Box<str>> {
    w.d().snapshot().into_iter().find(|e| e.path.as_str() == path).map(|e| e.id)
}

#[test]
fn a_file_renamed_on_the_source_is_moved_on_the_drive_keeping_its_identity() {
    let mut w = tracked(&["a.txt"]);
    let id = drive_id(&w, "a.txt");
    assert!(w.s().rename("a.txt", "renamed.txt"));
    let actions = clean(&mut w, Direction::Bidirectional);
    assert!(actions.contains(&"move_on_drive"), "{actions:?}");
    assert!(!actions.contains(&"copy_to_drive") && !actions.contains(&"delete_on_drive"));
    assert_eq!(drive_id(&w, "renamed.txt"), id, "versions and metadata stay attached");
    assert_eq!(w.drive_text("a.txt"), None);
}

#[test]
fn a_file_renamed_on_the_drive_is_moved_on_the_source() {
    let mut w = tracked(&["a.txt"]);
    assert!(w.d().rename("a.txt", "moved.txt"));
    let actions = clean(&mut w, Direction::Bidirectional);
    assert_eq!(actions, vec!["move_on_source", "record"]);
    assert_eq!(w.source_text("moved.txt").as_deref(), Some("content of a.txt"));
}

#[test]
fn a_renamed_folder_moves_once_with_its_content() {
    let mut w = tracked(&["dir/one.txt", "dir/sub/two.txt"]);
    let now = w.now();
    w.s().mkdir("elsewhere", now);
    assert!(w.s().rename("dir", "elsewhere/dir2"));
    clean(&mut w, Direction::Bidirectional);
    assert_eq!(w.drive_text("elsewhere/dir2/sub/two.txt").as_deref(), Some("content of dir/sub/two.txt"));
    assert_eq!(w.drive_text("dir/one.txt"), None);
    assert_eq!(w.d().versions().len(), 0, "nothing was copied");
}

#[test]
fn a_rename_and_an_edit_on_the_other_side_both_arrive() {
    let mut w = tracked(&["a.txt"]);
    assert!(w.s().rename("a.txt", "b.txt"));
    w.put_drive("a.txt", "drive edit");
    clean(&mut w, Direction::Bidirectional);
    assert_eq!(w.source_text("b.txt").as_deref(), Some("drive edit"));
    assert_eq!(w.drive_text("b.txt").as_deref(), Some("drive edit"));
}

#[test]
fn a_case_only_rename_on_the_drive_reaches_the_case_insensitive_source() {
    let mut w = tracked(&["readme.txt"]);
    assert!(w.d().rename("readme.txt", "README.txt"));
    clean(&mut w, Direction::Bidirectional);
    let names: Vec<String> = w.s().files().into_iter().map(|(p, _)| p.to_string()).collect();
    assert!(names.contains(&"README.txt".to_string()), "{names:?}");
}

#[test]
fn a_rename_on_the_mirror_of_a_one_way_connector_is_moved_back() {
    let mut w = tracked(&["a.txt"]);
    assert!(w.d().rename("a.txt", "mine.txt"));
    clean(&mut w, Direction::SourceToDrive);
    assert_eq!(w.drive_text("a.txt").as_deref(), Some("content of a.txt"));
    assert_eq!(w.drive_text("mine.txt"), None);
}

#[test]
fn two_drive_names_differing_only_in_case_the_second_is_a_case_collision_left_where_it_is() {
    let mut w = World::new();
    w.put_drive("Report.txt", "first");
    w.put_drive("report.txt", "second");
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.codes(), vec!["CASE_COLLISION"]);
    assert_eq!(w.source_text("Report.txt").as_deref(), Some("first"));
    assert_eq!(w.drive_text("report.txt").as_deref(), Some("second"), "left where it is");
    let again = w.sync(&bidi(Strategy::Manual));
    assert_eq!(again.codes(), vec!["CASE_COLLISION"], "reported again, nothing else happens");
    assert!(again.plan().is_empty());
}

#[test]
fn a_new_drive_name_colliding_in_case_with_a_source_file_is_not_pushed_over_it() {
    let mut w = tracked(&["data.csv"]);
    w.put_drive("DATA.csv", "other");
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.codes(), vec!["CASE_COLLISION"]);
    assert_eq!(w.source_text("data.csv").as_deref(), Some("content of data.csv"));
}

#[test]
fn names_windows_refuses_are_reported_as_invalid_name_and_not_pushed() {
    let mut w = World::new();
    for name in ["a:b.txt", "CON", "nul.txt", "trail.", "q?.txt", "dir./inside.txt"] {
        w.put_drive(name, "x");
    }
    w.put_drive("fine.txt", "ok");
    let run = w.sync(&bidi(Strategy::Manual));
    let codes = run.codes();
    assert_eq!(codes.iter().filter(|c| **c == "INVALID_NAME").count(), 6, "{:?}", run.events);
    assert_eq!(w.source_text("fine.txt").as_deref(), Some("ok"));
    assert_eq!(w.s().files().len(), 1);
}

#[test]
fn the_destinations_own_refused_names_apply() {
    let mut w = World::with(MemoryKnobs::windows_share().refusing(&["desktop.ini"]), MemoryKnobs::drive());
    w.put_drive("Desktop.ini", "x");
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.codes(), vec!["INVALID_NAME"]);
}

#[test]
fn symlinks_and_other_reparse_points_are_reported_not_synced() {
    let mut w = World::new();
    w.put_source("link", "target");
    w.s().set_attrs("link", Attributes { reparse_point: true, ..Attributes::default() });
    let run = w.sync(&bidi(Strategy::Manual));
    assert_eq!(run.codes(), vec!["SYMLINK_SKIPPED"]);
    assert_eq!(w.drive_text("link"), None);
}

/// The drive stores names in NFC; a source that keeps names as written (Samba on Linux) may hold them in NFD.
/// One name: it crosses once, stays in step, and the drive's changes land under the source's spelling, new
/// files inside the source's folder rather than in a second folder spelled in NFC.
#[test]
fn a_name_in_nfd_on_the_source_is_one_name_with_its_nfc_spelling_on_the_drive() {
    let mut source = MemoryKnobs::windows_share();
    source.naming = crate::sync::names::NamingRules::permissive();
    let mut w = World::with(source, MemoryKnobs::drive());
    w.put_source("Re\u{301}sume\u{301}/cv.txt", "cv");
    w.put_source("cafe\u{301}.txt", "menu");
    clean(&mut w, Direction::Bidirectional);
    assert_eq!(w.drive_text("R\u{e9}sum\u{e9}/cv.txt").as_deref(), Some("cv"));
    let stored: Vec<String> = w.d().files().into_iter().map(|(p, _)| p.to_string()).collect();
    assert!(stored.contains(&"caf\u{e9}.txt".to_string()), "the drive holds NFC: {stored:?}");

    w.put_drive("R\u{e9}sum\u{e9}/letter.txt", "letter");
    w.put_drive("caf\u{e9}.txt", "menu, spring");
    let actions = clean(&mut w, Direction::Bidirectional);
    assert!(!actions.iter().any(|a| a.starts_with("delete")), "{actions:?}");
    let mut on_source: Vec<String> = w.s().files().into_iter().map(|(p, _)| p.to_string()).collect();
    on_source.sort();
    assert_eq!(on_source, ["Re\u{301}sume\u{301}/cv.txt", "Re\u{301}sume\u{301}/letter.txt", "cafe\u{301}.txt"]);
    assert_eq!(w.source_text("cafe\u{301}.txt").as_deref(), Some("menu, spring"));
    assert_eq!(w.s().folders(), [crate::sync::SyncPath::new("Re\u{301}sume\u{301}")], "no second spelling");
    assert!(w.kept().iter().all(|k| k != "cv" && k != "letter"), "nothing chased: {:?}", w.kept());
}

/// Samba keeps `café` in NFC and in NFD as two files; the drive can hold one of them. The other is reported like
/// a case collision and left where it is, run after run, and nothing is lost.
#[test]
fn two_source_files_one_name_after_nfc_send_one_to_the_drive_and_report_the_other() {
    let mut source = MemoryKnobs::windows_share();
    source.naming = crate::sync::names::NamingRules::permissive();
    let mut w = World::with(source, MemoryKnobs::drive());
    w.put_source("caf\u{e9}.txt", "composed");
    w.put_source("cafe\u{301}.txt", "decomposed");
    for _ in 0..2 {
        let run = w.sync(&bidi(Strategy::Manual));
        let status = run.outcome.as_ref().map(|o| o.status.clone());
        assert_eq!(status, Some(RunStatus::Completed), "{:?} {:?}", run.plan.as_ref().err(), run.events);
        assert_eq!(run.codes(), vec!["CASE_COLLISION"], "{:?}", run.events);
    }
    assert_eq!(w.s().files().len(), 2, "both stay on the source");
    assert_eq!(w.d().files().len(), 1);
    let on_drive = w.drive_text("caf\u{e9}.txt");
    assert!(matches!(on_drive.as_deref(), Some("composed" | "decomposed")), "{on_drive:?}");
}
