//! Upload and download of a large file through the HTTP API, against `cp` of the same file on the same disk,
//! measured in one run and reported as ratios (speed relative to cp: 1.0 means as fast), with the appliance's
//! peak RSS. Targets (issue 4): at least 0.7x of cp both ways, peak RSS under 64 MiB.
//!
//! `cargo bench --bench drive_transfer` runs it on 1 GiB, median of 3. Under `cargo test --benches` (no
//! `--bench` argument) it runs once on 16 MiB, so the code stays exercised without taking minutes.
//! `SCAIDRIVE_BENCH_MIB` overrides the size. The appliance is the release binary started as a child process, so
//! its RSS is its own.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/appliance.rs"]
mod appliance;
use appliance::{Appliance, median};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let mib: u64 =
        std::env::var("SCAIDRIVE_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(if full { 1024 } else { 16 });
    let runs = if full { 3 } else { 1 };
    // On the project's disk, as the data directory would be, not on a tmpfs.
    let work = tempfile::Builder::new().prefix("drive-transfer-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let source = work.path().join("source.bin");
    write_file(&source, mib);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut appliance = Appliance::start(work.path());

    let mut cp = Vec::new();
    let mut cp_sync = Vec::new();
    let mut up = Vec::new();
    let mut down = Vec::new();
    let mut served = Vec::new();
    let share = runtime.block_on(appliance.create_share("bench"));
    for run in 0..runs {
        let copy = work.path().join(format!("copy-{run}.bin"));
        cp.push(timed(|| assert!(Command::new("cp").arg(&source).arg(&copy).status().unwrap().success())));
        let synced = work.path().join(format!("synced-{run}.bin"));
        cp_sync.push(timed(|| {
            assert!(Command::new("cp").arg(&source).arg(&synced).status().unwrap().success());
            assert!(Command::new("sync").arg(&synced).status().unwrap().success());
        }));
        // Distinct content each run, so the store cannot skip work by finding the blob already there.
        append_marker(&source, run);
        up.push(upload(&appliance, &share, &source, run));
        let target = work.path().join(format!("download-{run}.bin"));
        down.push(download(&appliance, &share, run, &target));
        served.push(download(&appliance, &share, run, Path::new("/dev/null")));
        for file in [copy, synced, target] {
            let _ = std::fs::remove_file(file);
        }
    }
    let rss_kib = appliance.peak_rss_kib();
    appliance.stop();

    let (cp, cp_sync, up, down, served) = (median(cp), median(cp_sync), median(up), median(down), median(served));
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    println!("drive_transfer: {mib} MiB, median of {runs}");
    println!("  cp                 {:>8.3} s  {:>8.1} MiB/s", cp.as_secs_f64(), rate(cp));
    println!("  cp + fsync         {:>8.3} s  {:>8.1} MiB/s", cp_sync.as_secs_f64(), rate(cp_sync));
    println!(
        "  upload (HTTP PUT)  {:>8.3} s  {:>8.1} MiB/s  {:.2}x of cp, {:.2}x of cp+fsync",
        up.as_secs_f64(),
        rate(up),
        cp.as_secs_f64() / up.as_secs_f64(),
        cp_sync.as_secs_f64() / up.as_secs_f64()
    );
    println!(
        "  download (HTTP GET){:>8.3} s  {:>8.1} MiB/s  {:.2}x of cp",
        down.as_secs_f64(),
        rate(down),
        cp.as_secs_f64() / down.as_secs_f64()
    );
    println!(
        "  download to /dev/null {:>6.3} s  {:>8.1} MiB/s  {:.2}x of cp (the server's side alone)",
        served.as_secs_f64(),
        rate(served),
        cp.as_secs_f64() / served.as_secs_f64()
    );
    println!("  appliance peak RSS {:>8.1} MiB", rss_kib as f64 / 1024.0);
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// A file of `mib` MiB whose 1 MiB blocks all differ (no block dedupe can shortcut it).
fn write_file(path: &Path, mib: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut block = vec![0u8; 1 << 20];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..mib {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&(state ^ i).to_le_bytes()[..chunk.len()]);
        }
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
}

fn append_marker(path: &Path, run: usize) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all(format!("run {run:08}").as_bytes()).unwrap();
}

/// Uploads with `curl -T`, the client the README uses: the bench measures the appliance, not a client written for
/// it (the first version streamed through `tokio::fs` and reqwest, whose per-chunk hops cost more than the server).
fn upload(appliance: &Appliance, share: &str, source: &Path, run: usize) -> Duration {
    let url = appliance.url(&format!("/api/v1/shares/{share}/content?path=/big-{run}.bin"));
    timed(|| curl(appliance, &["--fail", "-o", "/dev/null", "-T"], source, &url))
}

/// Downloads with `curl -o` into `target`, or into `/dev/null` to see the server's side alone.
fn download(appliance: &Appliance, share: &str, run: usize, target: &Path) -> Duration {
    let url = appliance.url(&format!("/api/v1/shares/{share}/content?path=/big-{run}.bin"));
    timed(|| curl(appliance, &["--fail", "-o"], target, &url))
}

fn curl(appliance: &Appliance, args: &[&str], file: &Path, url: &str) {
    let status = Command::new("curl")
        .arg("-s")
        .args(args)
        .arg(file)
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", appliance.token))
        .arg(url)
        .status()
        .expect("curl (scripts/install-bench-deps.sh installs it)");
    assert!(status.success(), "curl {args:?} {url}: {status}");
}
