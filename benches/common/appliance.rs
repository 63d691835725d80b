//! The appliance as a bench sees it: the release binary started as a child process on its own data directory
//! (so its peak RSS is its own), reached over HTTP with the admin token `init` printed.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_scaidrive-connectors");

pub struct Appliance {
    child: Child,
    pub base_url: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Appliance {
    /// `init` then `serve` on an ephemeral loopback port, with data under `work/data`.
    pub fn start(work: &Path) -> Self {
        let data = work.join("data");
        let init = Command::new(BINARY).arg("init").env("SCAIDRIVE_DATA_DIR", &data).output().unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        let token = String::from_utf8(init.stdout).unwrap().lines().last().unwrap().to_owned();
        let log = work.join("serve.log");
        // `SCAIDRIVE_BENCH_WRAP="strace -f -c -w -o /tmp/serve.strace"` runs the appliance under a profiler (its
        // peak RSS is then the wrapper's: profile and measure in separate runs).
        let wrap: Vec<String> = std::env::var("SCAIDRIVE_BENCH_WRAP")
            .map(|w| w.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let mut command = match wrap.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BINARY);
                command
            }
            None => Command::new(BINARY),
        };
        let child = command
            .arg("serve")
            .env("SCAIDRIVE_DATA_DIR", &data)
            .env("SCAIDRIVE_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn,scaidrive_connectors::appliance=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(address) = text.split("local_addr=").nth(1).and_then(|r| r.split_whitespace().next()) {
                break address.to_owned();
            }
            assert!(Instant::now() < deadline, "the appliance did not start: {text}");
            // Polling the log for the bound address: the only signal a child process gives.
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, base_url: format!("http://{address}"), token, client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A JSON request as the admin; panics with the body on a non-2xx answer.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    pub async fn create_share(&self, name: &str) -> String {
        let share = self.call(reqwest::Method::POST, "/api/v1/shares", Some(json!({ "name": name }))).await;
        share["id"].as_str().unwrap().to_owned()
    }

    /// Writes `content` at `path` in the share (a new version if it exists).
    pub async fn put(&self, share: &str, path: &str, content: Vec<u8>) {
        let response = self
            .client
            .put(self.url(&format!("/api/v1/shares/{share}/content")))
            .query(&[("path", path)])
            .bearer_auth(&self.token)
            .body(content)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    }

    /// Starts a sync of the SMB connector and waits for its job to end; returns the job and how long it took
    /// from the request to the end being visible.
    pub async fn sync(&self, connector: &str) -> (Value, Duration) {
        let start = Instant::now();
        let path = format!("/api/v1/smb-connectors/{connector}/sync");
        let job = self.call(reqwest::Method::POST, &path, None).await["job_id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/smb-connectors/{connector}/jobs/{job}");
        loop {
            let job = self.call(reqwest::Method::GET, &path, None).await;
            if !["queued", "running"].contains(&job["status"].as_str().unwrap()) {
                return (job, start.elapsed());
            }
            // Polling the job is how a client learns it ended; 5 ms bounds the error on the measured time.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The process's peak resident set so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
