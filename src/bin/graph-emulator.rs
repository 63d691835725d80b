//! The Graph emulator as a standalone server, for the demo and for trying the SharePoint connector by hand.
//!
//! `graph-emulator --listen 127.0.0.1:8443 --seed appliance/graph-emulator-seed.json [--tls-cert c.pem --tls-key k.pem]`
//! prints the bound base URL on stdout once it is ready, then serves until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;

use scaidrive_connectors::graph_emulator::{GraphEmulator, Seed};

struct Args {
    listen: String,
    seed: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { listen: "127.0.0.1:0".into(), seed: None, tls_cert: None, tls_key: None };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => args.listen = value()?,
            "--seed" => args.seed = Some(PathBuf::from(value()?)),
            "--tls-cert" => args.tls_cert = Some(PathBuf::from(value()?)),
            "--tls-key" => args.tls_key = Some(PathBuf::from(value()?)),
            "--help" | "-h" => {
                return Err("usage: graph-emulator [--listen host:port] [--seed file.json] [--tls-cert cert.pem --tls-key key.pem]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let seed = match &args.seed {
        None => Seed::default(),
        Some(path) => {
            match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| Seed::from_json(&t)) {
                Ok(seed) => seed,
                Err(e) => {
                    eprintln!("cannot read seed {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(scaidrive_connectors::graph_emulator::TlsFiles { cert, key }),
        (None, None) => None,
        _ => {
            eprintln!("--tls-cert and --tls-key go together");
            return ExitCode::from(2);
        }
    };
    let clock = std::sync::Arc::new(scaidrive_connectors::clock::SystemClock);
    let handle = match GraphEmulator::start_with(seed, &args.listen, clock, tls).await {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("graph-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", handle.base_url);
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    ExitCode::SUCCESS
}
