//! Crash injection: for each step of each action (read, write, midway through a write, move, delete, make
//! folder, save version, stat, hash), on each side, before and after it, at its 1st..nth call: crash there,
//! restart, run again, and check the four properties against the state before the crashed run.

use super::harness::{World, config};
use super::props::{all_contents, checked_sync};
use crate::sync::faulty::{Failpoint, FaultySide, Op, When};
use crate::sync::memory::{MemoryKnobs, MemorySide};
use crate::sync::{Action, Direction, Strategy};

/// A world with one of most kinds of change pending, on a tracked base.
fn scenario(source: &MemoryKnobs) -> World {
    let mut w = World::with(source.clone(), MemoryKnobs::drive());
    for p in ["a.txt", "b.txt", "c.txt", "d/e.txt", "f.txt", "g.txt", "same.txt"] {
        w.put_source(p, &format!("v0 {p}"));
    }
    let mut cfg = config(Direction::Bidirectional, Strategy::Manual);
    cfg.force = true;
    w.sync(&cfg);
    w.put_source("a.txt", "source edit a");
    w.put_drive("b.txt", "drive edit b");
    w.s().remove("c.txt");
    w.d().remove("g.txt");
    w.s().rename("d/e.txt", "d/e2.txt");
    w.put_source("f.txt", "source edit f");
    w.put_drive("f.txt", "drive edit f!");
    let later = w.now();
    w.s().touch("same.txt", later);
    w.put_source("n1.txt", "new on source");
    w.put_drive("nd/n2.txt", "new on drive");
    w
}

fn side(w: &World, drive: bool) -> &FaultySide<MemorySide> {
    if drive { &w.drive } else { &w.source }
}

fn crash_everywhere(direction: Direction, strategy: Strategy) {
    crash_everywhere_with(&MemoryKnobs::windows_share(), direction, strategy);
}

fn crash_everywhere_with(source: &MemoryKnobs, direction: Direction, strategy: Strategy) {
    let mut cfg = config(direction, strategy);
    cfg.force = true;
    let mut crashes = 0;
    for drive in [false, true] {
        for op in Op::ALL {
            let whens: &[When] =
                if op == Op::Write { &[When::Before, When::Midway, When::After] } else { &[When::Before, When::After] };
            for &when in whens {
                for nth in 0..8 {
                    let mut w = scenario(source);
                    let before = all_contents(&w);
                    let tracked = w.base.clone();
                    side(&w, drive).set_failpoint(Some(Failpoint { op, when, nth }));
                    let run = w.sync(&cfg);
                    if !w.crashed.load(std::sync::atomic::Ordering::SeqCst) {
                        // Fewer calls of this step than `nth`: later points are unreachable too.
                        break;
                    }
                    crashes += 1;
                    let point = format!(
                        "{direction:?}/{strategy:?} crash {when:?} {op:?} #{nth} on {}",
                        if drive { "drive" } else { "source" }
                    );
                    if let Ok(plan) = &run.plan {
                        for action in plan.all_actions() {
                            if let Action::Delete { entry, .. } = action {
                                assert!(tracked.contains_key(&entry.path), "{point}: deleted untracked {}", entry.path);
                            }
                        }
                    }
                    w.restart();
                    if let Err(e) = checked_sync(&mut w, direction, strategy) {
                        panic!("{point}: {e}");
                    }
                    let after = all_contents(&w);
                    for content in &before {
                        assert!(after.contains(content), "{point}: lost {:?}", String::from_utf8_lossy(content));
                    }
                }
            }
        }
    }
    assert!(crashes > 30, "only {crashes} failpoints were reached");
}

#[test]
fn crashing_at_any_step_of_a_bidirectional_keep_both_run_loses_nothing_and_the_rerun_converges() {
    crash_everywhere(Direction::Bidirectional, Strategy::KeepBoth);
}

#[test]
fn crashing_at_any_step_of_a_bidirectional_last_writer_wins_run_loses_nothing_and_the_rerun_converges() {
    crash_everywhere(Direction::Bidirectional, Strategy::LastWriterWins);
}

#[test]
fn crashing_at_any_step_of_a_bidirectional_manual_run_loses_nothing_and_the_rerun_converges() {
    crash_everywhere(Direction::Bidirectional, Strategy::Manual);
}

#[test]
fn crashing_at_any_step_of_a_source_to_drive_run_loses_nothing_and_the_rerun_converges() {
    crash_everywhere(Direction::SourceToDrive, Strategy::Manual);
}

#[test]
fn crashing_at_any_step_of_a_drive_to_source_run_loses_nothing_and_the_rerun_converges() {
    crash_everywhere(Direction::DriveToSource, Strategy::Manual);
}

#[test]
fn crashing_at_any_step_with_a_sharepoint_like_source_loses_nothing_and_the_rerun_converges() {
    crash_everywhere_with(&MemoryKnobs::sharepoint_library(), Direction::Bidirectional, Strategy::KeepBoth);
    crash_everywhere_with(&MemoryKnobs::sharepoint_library(), Direction::DriveToSource, Strategy::Manual);
}
