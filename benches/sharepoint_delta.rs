//! SharePoint listing cost on a 100,000-file library in the Graph emulator: the initial enumeration pages at
//! the largest page size (1000), and an incremental listing after 10 changes makes requests in proportion to
//! the changes (target: under 20), counted by the emulator. Times are printed for information.
//!
//! Run: `cargo bench --bench sharepoint_delta`.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use scaidrive_connectors::clock::SystemClock;
use scaidrive_connectors::graph_emulator::{GraphEmulator, Seed};
use scaidrive_connectors::sides::sharepoint::{
    AuthConfig, Credential, DeltaState, Grant, GraphClient, SharePointOptions, SharePointSide, TokenSource,
    TokioSleeper,
};
use scaidrive_connectors::sync::{Entry, Side};
use serde_json::json;

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const CLIENT: &str = "22222222-2222-2222-2222-222222222222";
const DRIVE: &str = "b!YmVuY2gtbGlicmFyeS0xMDBrLWl0ZW1zLTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA";

async fn listing(side: &SharePointSide) -> Vec<Entry> {
    let mut stream = side.list();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.expect("listing"));
    }
    out
}

async fn bench() {
    let seed: Seed = serde_json::from_value(json!({
        "tenants": [{"id": TENANT}],
        "apps": [{"tenant": TENANT, "client_id": CLIENT, "secrets": ["s"], "roles": ["Sites.ReadWrite.All"]}],
        "users": [{"id": "u2", "display_name": "Bob", "mail": "bob@contoso.com", "user_principal_name": "bob@contoso.onmicrosoft.com"}],
        "sites": [{"hostname": "contoso.sharepoint.com", "path": "/sites/bench", "name": "bench",
                   "drives": [{"id": DRIVE, "name": "Documents", "generate": {"files": 100_000, "folders": 500, "seed": 1}}]}]
    }))
    .expect("seed");
    let emulator = GraphEmulator::start(seed, "127.0.0.1:0").await.expect("emulator");
    let http = GraphClient::http_client().expect("http");
    let auth = AuthConfig {
        login_base: emulator.base_url.clone(),
        tenant: TENANT.into(),
        client_id: CLIENT.into(),
        credential: Credential::Secret("s".into()),
        grant: Grant::App,
    };
    let tokens = Arc::new(TokenSource::new(auth, http.clone(), Arc::new(SystemClock)));
    let client = Arc::new(GraphClient::new(http, emulator.graph_url(), DRIVE, tokens, Arc::new(TokioSleeper)));
    let side = SharePointSide::new(client, "", DeltaState::default(), SharePointOptions::default());

    let started = Instant::now();
    let first = listing(&side).await;
    let files: Vec<&Entry> = first.iter().filter(|e| !e.is_folder()).collect();
    println!(
        "initial listing: {} entries, {} Graph requests ({} delta pages), {:.2?}",
        first.len(),
        emulator.graph_requests(),
        side.last_report().pages,
        started.elapsed()
    );
    for entry in files.iter().step_by(10_000) {
        emulator
            .knob_json(
                "act",
                json!({"user": "u2", "drive_id": DRIVE, "path": entry.path.as_str(), "action": "upload", "text": "changed"}),
            )
            .expect("act");
    }
    emulator.reset_counters();
    let started = Instant::now();
    let second = listing(&side).await;
    let requests = emulator.graph_requests();
    println!("incremental listing after 10 changes: {requests} Graph requests, {:.2?}", started.elapsed());
    assert_eq!(second.len(), first.len());
    assert!(requests < 20, "{:?}", emulator.counters());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(bench());
}
