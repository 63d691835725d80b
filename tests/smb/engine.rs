//! The real sync engine between an SMB share on Samba (through `SmbSide`) and an in-memory drive:
//! an initial sync of a nested tree with odd names, a change each way, a rename arriving as a
//! move, and a rerun with nothing to do.

use std::sync::Arc;
use std::time::Duration;

use crate::engine_run::{MemoryBase, drive_files, run_once};
use crate::samba::{SHARE, Samba};
use scaidrive_connectors::sides::smb::side::SmbSide;
use scaidrive_connectors::sides::smb::{SmbClient, SmbConfig};
use scaidrive_connectors::sync::execute::{FileEvent, RunStatus};
use scaidrive_connectors::sync::memory::{MemoryKnobs, MemorySide};
use time::OffsetDateTime;

struct World {
    smb: SmbSide,
    drive: MemorySide,
    base: MemoryBase,
}

impl World {
    async fn sync(&mut self) -> (RunStatus, Vec<FileEvent>) {
        run_once(&self.smb, &self.drive, &mut self.base).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_syncs_a_samba_share_both_ways_and_converges() {
    let s = Samba::start();
    let d = s.share_dir();
    let long = "l".repeat(120);
    let tree = [
        ("Projects/Q1 report.docx".to_string(), b"q1".to_vec()),
        ("Projects/Ünïcødé/naïve €.txt".to_string(), b"unicode".to_vec()),
        (format!("Deep/{long}/{long}/file.bin"), vec![7u8; 300_000]),
        ("top.txt".to_string(), b"top".to_vec()),
    ];
    for (path, content) in &tree {
        let p = d.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    s.hand_over();
    let u = s.user();
    let mut cfg = SmbConfig::new("127.0.0.1", s.port, SHARE, &u.name, &u.password);
    cfg.call_timeout = Duration::from_secs(60);
    let client = Arc::new(SmbClient::connect(cfg).await.expect("connect"));
    let mut world = World {
        smb: SmbSide::new(client.clone()),
        drive: MemorySide::new(MemoryKnobs::drive(), "drv"),
        base: MemoryBase::default(),
    };

    // Initial sync: everything arrives in the drive.
    let (status, _) = world.sync().await;
    assert_eq!(status, RunStatus::Completed);
    let mut expected: Vec<_> = tree.iter().map(|(p, c)| (p.clone(), c.clone())).collect();
    expected.sort();
    assert_eq!(drive_files(&world.drive), expected);

    // Nothing changed: nothing to do.
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed);
    assert!(events.is_empty(), "{events:?}");

    // A file added in the drive reaches the share; a file changed on the share reaches the drive.
    world.drive.put_file("Projects/from drive.txt", b"hello smb", OffsetDateTime::now_utc());
    std::fs::write(d.join("top.txt"), b"top, edited on the share").expect("edit");
    let (status, _) = world.sync().await;
    assert_eq!(status, RunStatus::Completed);
    assert_eq!(std::fs::read(d.join("Projects/from drive.txt")).expect("arrived"), b"hello smb");
    assert_eq!(world.drive.content("top.txt").map(|c| c.to_vec()), Some(b"top, edited on the share".to_vec()));

    // A rename on the share arrives as a move: the content is not sent again.
    std::fs::rename(d.join("Projects/Q1 report.docx"), d.join("Projects/Q1 final.docx")).expect("rename");
    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed);
    assert!(events.iter().any(|e| e.action.contains("move")), "{events:?}");
    assert_eq!(world.drive.content("Projects/Q1 final.docx").map(|c| c.to_vec()), Some(b"q1".to_vec()));
    assert_eq!(world.drive.content("Projects/Q1 report.docx"), None);

    let (status, events) = world.sync().await;
    assert_eq!(status, RunStatus::Completed);
    assert!(events.is_empty(), "converged: {events:?}");
    client.shutdown().await.expect("shutdown");
}
