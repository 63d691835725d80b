//! The listing is in the engine's path order for every tree, including case twins whose contents interleave;
//! the store's own walk (name byte order) is not, which is why the drive side walks on its own.

use futures::StreamExt;
use proptest::prelude::*;

use super::*;
use crate::sync::{Side, SyncPath};

async fn listed(side: &DriveSide) -> Vec<SyncPath> {
    side.list().map(|e| e.unwrap().path).collect().await
}

/// Writes the files (skipping one whose path a file or folder already blocks) and returns every path that
/// exists below the target, folders included.
fn build(f: &Fixture, files: &[String]) -> Vec<SyncPath> {
    let mut made: Vec<SyncPath> = Vec::new();
    for rel in files {
        let opts = WriteOptions::new(Origin::user(f.user));
        let Ok(entry) = f.drive.write_file(f.share, &at(rel), &mut rel.as_bytes(), &opts) else { continue };
        // The store's spelling (NFC), as the listing reports it.
        let stored = entry.path.as_str().trim_start_matches(TARGET).trim_start_matches('/').to_owned();
        let mut cur = Some(SyncPath::new(stored));
        while let Some(path) = cur {
            cur = path.parent();
            if !made.contains(&path) {
                made.push(path);
            }
        }
    }
    made.sort();
    made
}

#[tokio::test]
async fn case_twins_interleave_as_the_engine_orders_them_and_the_store_walk_does_not() {
    let f = fixture().await;
    let files: Vec<String> = ["a/y", "B", "A/x", "a/x", "A/y", "b"].iter().map(|s| s.to_string()).collect();
    let expected = build(&f, &files);
    let got = listed(&f.side).await;
    let names: Vec<&str> = got.iter().map(SyncPath::as_str).collect();
    assert_eq!(names, ["A", "a", "A/x", "a/x", "A/y", "a/y", "B", "b"]);
    assert_eq!(got, expected);
    let walk: Vec<String> = f.drive.walk(f.share, &p(TARGET)).unwrap().map(|e| e.unwrap().path.to_string()).collect();
    assert_eq!(walk.first().map(String::as_str), Some("/Sync/Target/A"));
    assert_eq!(walk.get(1).map(String::as_str), Some("/Sync/Target/A/x"), "the store walks depth first by bytes");
}

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "A", "b", "B", "a b", "a-b", "ab", "é", "É", "e\u{301}x", "Z", "_"])
}

fn tree() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::collection::vec(name(), 1..4).prop_map(|c| c.join("/")), 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_tree_lists_in_engine_order_with_every_entry_once(files in tree()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let f = fixture().await;
            let expected = build(&f, &files);
            let got = listed(&f.side).await;
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not in order: {got:?}");
            prop_assert_eq!(got, expected);
            Ok(())
        })?;
    }
}
