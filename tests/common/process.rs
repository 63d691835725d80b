//! The real `scaidrive-connectors` binary as a child process: for exit codes, signals and log output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const BINARY: &str = env!("CARGO_BIN_EXE_scaidrive-connectors");

/// Runs a subcommand to completion with the data dir set through the environment.
pub fn run(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env("SCAIDRIVE_DATA_DIR", data_dir)
        .env_remove("SCAIDRIVE_CONFIG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap()
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `init` and the admin token from its last line.
pub fn init(data_dir: &Path) -> String {
    let output = run(data_dir, &["init"]);
    assert!(output.status.success(), "init failed: {}", stderr_of(&output));
    stdout_of(&output).lines().last().unwrap().trim().to_owned()
}

/// A running `serve` whose stderr (the log) goes to a file, killed on drop.
pub struct Served {
    pub child: Child,
    pub log: PathBuf,
    pub base_url: String,
}

impl Served {
    /// Starts `serve` on port 0, learns the bound address from its log, and waits until `/healthz` answers.
    pub async fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        let log = data_dir.with_extension(format!("{}.log", ulid::Ulid::new()));
        let mut command = Command::new(BINARY);
        command
            .arg("serve")
            .env("SCAIDRIVE_DATA_DIR", data_dir)
            .env("SCAIDRIVE_LISTEN", "127.0.0.1:0")
            .env_remove("SCAIDRIVE_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let address = super::wait_until("the served appliance to log its address", || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let exited = child.try_wait().unwrap();
            assert!(exited.is_none(), "serve exited with {exited:?}: {text}");
            let address = text.split("local_addr=").nth(1).and_then(|rest| rest.split_whitespace().next());
            std::future::ready(address.map(str::to_owned))
        })
        .await;
        let served = Self { child, log, base_url: format!("http://{address}") };
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", served.base_url);
        super::wait_until("the served appliance to answer /healthz", || {
            let request = client.get(&url).timeout(Duration::from_secs(2)).send();
            async move { request.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await;
        served
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let mut child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
