//! The engine's first promise over random histories with the real drive side: whatever content existed before a
//! run (a current file on the source, or anything the drive can give back: a file, a version, the trash) still
//! exists after it. Users edit, delete and rename on both ends between runs, with case games the
//! case-insensitive source folds and the case-sensitive drive keeps apart.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::engine::World;
use super::*;
use crate::sync::execute::RunStatus;
use crate::sync::{Direction, RunConfig, Strategy as Resolve};

const PATHS: [&str; 8] = ["a.txt", "A.txt", "b.txt", "d/c.txt", "d/C.txt", "D/e.txt", "g/h/i.txt", "g/j.txt"];
const FOLDERS: [&str; 4] = ["d", "D", "g", "k"];

#[derive(Debug, Clone)]
enum Step {
    Write { drive: bool, path: usize },
    Delete { drive: bool, path: usize },
    Rename { drive: bool, from: usize, to: usize },
    RenameFolder { drive: bool, from: usize, to: usize },
    Sync,
}

fn step() -> impl Strategy<Value = Step> {
    let p = 0..PATHS.len();
    prop_oneof![
        4 => (any::<bool>(), p.clone()).prop_map(|(drive, path)| Step::Write { drive, path }),
        2 => (any::<bool>(), p.clone()).prop_map(|(drive, path)| Step::Delete { drive, path }),
        2 => (any::<bool>(), p.clone(), p).prop_map(|(drive, from, to)| Step::Rename { drive, from, to }),
        1 => (any::<bool>(), 0..FOLDERS.len(), 0..FOLDERS.len())
            .prop_map(|(drive, from, to)| Step::RenameFolder { drive, from, to }),
        3 => Just(Step::Sync),
    ]
}

fn config() -> impl Strategy<Value = RunConfig> {
    let direction =
        prop_oneof![Just(Direction::Bidirectional), Just(Direction::SourceToDrive), Just(Direction::DriveToSource)];
    let strategy = prop_oneof![
        Just(Resolve::LastWriterWins),
        Just(Resolve::KeepBoth),
        Just(Resolve::DriveWins),
        Just(Resolve::SourceWins),
        Just(Resolve::Manual),
    ];
    (direction, strategy).prop_map(|(direction, strategy)| RunConfig {
        direction,
        strategy,
        // The mass-delete guard has its own tests; here every run goes through.
        force: true,
        ..RunConfig::default()
    })
}

/// Everything the drive can give back: the trash is restored outside the target folder first (out of the
/// connector's sight), then every version of every file in the share is read.
fn drive_kept(f: &Fixture) -> BTreeSet<Vec<u8>> {
    let user = Origin::user(f.user);
    for item in f.drive.trash(f.share).unwrap() {
        let to = p(&format!("/recovered/{}", item.id));
        f.drive.restore_trash(f.share, item.id, Some(&to), &user).unwrap();
    }
    let mut out = BTreeSet::new();
    for entry in f.drive.walk(f.share, &DrivePath::root()).unwrap() {
        let entry = entry.unwrap();
        if entry.is_folder() {
            continue;
        }
        for v in f.drive.versions(f.share, &EntryRef::Id(entry.id)).unwrap() {
            out.insert(read_all(f.drive.read_version(f.share, v.id).unwrap().1));
        }
    }
    out
}

fn everything(w: &World) -> BTreeSet<Vec<u8>> {
    let mut all = drive_kept(&w.f);
    all.extend(w.source.files().into_iter().map(|(_, c)| c.to_vec()));
    all
}

fn apply(w: &mut World, step: &Step, n: usize) {
    let user = Origin::user(w.f.user);
    let (f, share) = (&w.f, w.f.share);
    match *step {
        Step::Write { drive: true, path } => {
            let opts = WriteOptions::new(user);
            // A path blocked by a file (or folder) of the other kind is simply not written.
            let _ = f.drive.write_file(share, &at(PATHS[path]), &mut format!("d{n}").as_bytes(), &opts);
        }
        Step::Write { drive: false, path } => {
            let now = w.now();
            w.source.put_file(PATHS[path], format!("s{n}").as_bytes(), now);
        }
        Step::Delete { drive: true, path } => {
            let any = crate::drive::Precondition::None;
            let _ = f.drive.delete_entry(share, &EntryRef::Path(at(PATHS[path])), &any, &user);
        }
        Step::Delete { drive: false, path } => w.source.remove(PATHS[path]),
        Step::Rename { drive: true, from, to } => {
            let _ = f.drive.move_entry(share, &EntryRef::Path(at(PATHS[from])), &at(PATHS[to]), &user);
        }
        Step::Rename { drive: false, from, to } => {
            w.source.rename(PATHS[from], PATHS[to]);
        }
        Step::RenameFolder { drive: true, from, to } => {
            let _ = f.drive.move_entry(share, &EntryRef::Path(at(FOLDERS[from])), &at(FOLDERS[to]), &user);
        }
        Step::RenameFolder { drive: false, from, to } => {
            w.source.rename(FOLDERS[from], FOLDERS[to]);
        }
        Step::Sync => {}
    }
}

async fn history(steps: Vec<Step>, config: RunConfig) -> Result<(), TestCaseError> {
    let mut w = World::new().await;
    for (n, step) in steps.iter().chain([&Step::Sync]).enumerate() {
        apply(&mut w, step, n);
        if !matches!(step, Step::Sync) {
            continue;
        }
        let before = everything(&w);
        let (outcome, events) = w.sync(&config).await;
        prop_assert!(
            matches!(outcome.status, RunStatus::Completed | RunStatus::CompletedWithErrors),
            "run {n}: {:?} {events:?}",
            outcome.status
        );
        let after = everything(&w);
        for content in &before {
            prop_assert!(after.contains(content), "run {n} lost {:?}; {events:?}", String::from_utf8_lossy(content));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn nothing_is_lost_over_random_histories(steps in prop::collection::vec(step(), 1..16), config in config()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(history(steps, config))?;
    }
}
