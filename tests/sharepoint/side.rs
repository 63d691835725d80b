//! `SharePointSide` against the Graph emulator: the conformance suite, and the behaviours GRAPH.md says a
//! client meets on the real service (token expiry and revocation, throttling storms, 410 resync, paging,
//! upload-session resume, `If-Match` races, check-outs).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use scaidrive_connectors::sides::sharepoint::{DeltaState, Grant, SharePointOptions, SharePointSide};
use scaidrive_connectors::sync::conformance::check_side;
use scaidrive_connectors::sync::side::{
    ByteStream, Disposition, ErrorCode, Precondition, Side, SideError, WriteRequest,
};
use scaidrive_connectors::sync::{Entry, Sha256Digest, SyncPath};
use serde_json::json;
use time::OffsetDateTime;

use crate::fixture::{CLIENT, DRIVE, Fixture, TENANT, VERIFIER, authorize_url, code_in, redeem_form, seed};

async fn listing(side: &SharePointSide) -> Result<Vec<Entry>, SideError> {
    let mut stream = side.list();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

fn paths(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.path.to_string()).collect()
}

fn bytes(data: Vec<u8>) -> ByteStream {
    let chunks: Vec<Result<Vec<u8>, SideError>> = data.chunks(100_000).map(|c| Ok(c.to_vec())).collect();
    Box::pin(futures::stream::iter(chunks))
}

async fn read_all(side: &SharePointSide, entry: &Entry) -> Vec<u8> {
    let mut stream = side.read(&entry.path, &entry.state()).await.expect("read");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend(chunk.expect("chunk"));
    }
    out
}

fn request(path: &str, data: &[u8], precondition: Precondition) -> WriteRequest {
    WriteRequest {
        path: SyncPath::new(path),
        precondition,
        size: data.len() as u64,
        sha256: Some(Sha256Digest::of(data)),
        modified: OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time"),
    }
}

async fn stat(side: &SharePointSide, path: &str) -> Entry {
    side.stat(&SyncPath::new(path)).await.expect("stat").unwrap_or_else(|| panic!("{path} exists"))
}

#[tokio::test]
async fn the_side_passes_the_conformance_suite_below_a_base_path() {
    let f = Fixture::start(seed(vec![json!({"path": "Outside/keep.txt", "text": "not ours"})], None)).await;
    let side = f.side("Sync/Here");
    check_side(&side).await.expect("conformance");
    // base_path scoping: nothing outside the base was listed or touched.
    assert!(listing(&side).await.expect("list").iter().all(|e| !e.path.as_str().contains("keep")));
    let whole = f.side("");
    let outside = stat(&whole, "Outside/keep.txt").await;
    assert_eq!(read_all(&whole, &outside).await, b"not ours");
    assert!(stat(&whole, "Sync/Here/archive/a-renamed.txt").await.size > 0);
}

#[tokio::test]
async fn listing_pages_through_delta_and_an_incremental_run_asks_only_for_changes() {
    let files =
        (0..25).map(|n| json!({"path": format!("Many/file-{n:02}.txt"), "text": format!("file {n}")})).collect();
    let f = Fixture::start(seed(files, None)).await;
    let side = f.side_with("", DeltaState::default(), SharePointOptions { page_size: 10, ..Default::default() });
    let first = listing(&side).await.expect("list");
    assert_eq!(first.len(), 26, "{:?}", paths(&first));
    assert!(side.last_report().pages >= 3, "{:?}", side.last_report());
    assert_eq!(f.count("/root/delta"), u64::from(side.last_report().pages));

    // The kept state carries over to the next run: one delta request for one change.
    let kept = side.delta_state().await;
    f.act("u2", "Many/file-03.txt", json!({"action": "upload", "text": "edited by bob"}));
    f.emulator.reset_counters();
    let next = f.side_with("", kept, SharePointOptions { page_size: 10, ..Default::default() });
    let second = listing(&next).await.expect("list");
    assert_eq!(paths(&second), paths(&first));
    assert_eq!(f.emulator.graph_requests(), 1, "{:?}", f.emulator.counters());
    let changed = second.iter().find(|e| e.path.as_str() == "Many/file-03.txt").expect("listed");
    assert_eq!(changed.size, "edited by bob".len() as u64);
    assert!(!next.last_report().full);
}

#[tokio::test]
async fn an_expired_token_is_renewed_mid_run_and_a_revoked_secret_fails_auth() {
    let f = Fixture::start(seed(vec![json!({"path": "a.txt", "text": "a"})], None)).await;
    let side = f.side("");
    listing(&side).await.expect("list");
    let tokens = f.count("oauth2/v2.0/token");
    f.knob("expire_tokens", json!({}));
    assert_eq!(stat(&side, "a.txt").await.size, 1, "the run goes on with a new token");
    assert_eq!(f.count("oauth2/v2.0/token"), tokens + 1);

    // Revoking the secret does not kill the issued token; once it expires, nothing works.
    f.knob("revoke_secret", json!({"client_id": CLIENT}));
    f.knob("expire_tokens", json!({}));
    let error = side.stat(&SyncPath::new("a.txt")).await.expect_err("refused");
    assert_eq!(error.code, ErrorCode::ConnectorAuthFailed, "{error}");
    assert_eq!(error.disposition(), Disposition::StopRun);
}

#[tokio::test]
async fn a_throttling_storm_is_waited_out_honouring_every_retry_after() {
    let files = (0..5).map(|n| json!({"path": format!("f{n}.txt"), "text": "x"})).collect();
    let f = Fixture::start(seed(files, None)).await;
    let side = f.side("");
    f.knob("throttle", json!({"count": 6, "status": 429, "retry_after": 7}));
    f.knob("throttle", json!({"count": 2, "status": 503, "retry_after": 3}));
    let listed = listing(&side).await.expect("the run finishes");
    assert_eq!(listed.len(), 5);
    let entry = stat(&side, "f1.txt").await;
    assert_eq!(read_all(&side, &entry).await, b"x");
    let waits = f.sleeper.waits();
    let mut expected = vec![Duration::from_secs(7); 6];
    expected.extend([Duration::from_secs(3); 2]);
    assert_eq!(waits, expected, "one wait per throttled answer, each as long as Retry-After said");
    // Every throttled answer was counted by the emulator as a request of its own.
    let throttled_and_served: u64 = f.emulator.graph_requests();
    assert!(throttled_and_served >= 8 + 3, "{:?}", f.emulator.counters());

    // Without Retry-After the client backs off exponentially instead of hammering.
    f.knob("throttle", json!({"count": 2, "status": 503}));
    stat(&side, "f2.txt").await;
    let more = f.sleeper.waits();
    assert_eq!(&more[8..], &[Duration::from_secs(2), Duration::from_secs(4)], "2 s doubling");
}

#[tokio::test]
async fn a_410_on_delta_resyncs_the_whole_library() {
    let f = Fixture::start(seed(vec![json!({"path": "a.txt", "text": "a"})], None)).await;
    let side = f.side("");
    assert_eq!(paths(&listing(&side).await.expect("list")), vec!["a.txt"]);
    f.act("u2", "b.txt", json!({"action": "upload", "text": "b"}));
    f.act("u2", "a.txt", json!({"action": "delete"}));
    f.knob("invalidate_delta", json!({"drive_id": DRIVE, "code": "resyncChangesUploadDifferences"}));
    assert_eq!(paths(&listing(&side).await.expect("list")), vec!["b.txt"]);
    let report = side.last_report();
    assert!(report.resynced && report.full, "{report:?}");
    // The new cursor works: the next listing is incremental again.
    assert_eq!(paths(&listing(&side).await.expect("list")), vec!["b.txt"]);
    assert!(!side.last_report().full);
}

#[tokio::test]
async fn a_large_upload_resumes_after_a_dropped_fragment_answer() {
    let f = Fixture::start(seed(vec![], None)).await;
    let options = SharePointOptions { fragment_size: 2 * 320 * 1024, ..Default::default() };
    let side = f.side_with("", DeltaState::default(), options);
    let data: Vec<u8> = (0..5 * 1024 * 1024 + 123).map(|i: usize| (i % 251) as u8).collect();
    // A fragment lands but its answer breaks off; one is only partly taken (an unaligned nextExpectedRanges).
    f.knob("drop_body", json!({"count": 1, "method": "PUT", "path": "/_upload"}));
    f.knob("partial_fragment", json!({"bytes": 1000}));
    let written = side
        .write(request("big/blob.bin", &data, Precondition::MustNotExist), bytes(data.clone()))
        .await
        .expect("written despite the dropped answer");
    assert_eq!(written.entry.size, data.len() as u64);
    assert_eq!(written.sha256, Sha256Digest::of(&data));
    assert_eq!(read_all(&side, &written.entry).await, data);
    assert!(f.count("GET /_upload") >= 1, "the client asked the session where to resume: {:?}", f.emulator.counters());
    // The request log shows the upload going on from byte 1000 (unaligned), in a 320 KiB multiple, with no
    // Authorization sent to the pre-authenticated upload URL.
    let log: Vec<serde_json::Value> = f.emulator.emulator.lock().request_log.iter().cloned().collect();
    let puts: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| r["method"] == "PUT" && r["path"].as_str().is_some_and(|p| p.starts_with("/_upload")))
        .collect();
    assert!(puts.iter().all(|r| r["headers"].get("authorization").is_none()));
    let continued = format!("bytes 1000-{}/{}", 1000 + 2 * 320 * 1024 - 1, data.len());
    assert!(puts.iter().any(|r| r["headers"]["content-range"] == continued.as_str()), "{puts:?}");
    assert_eq!(
        written.entry.hash.as_ref().map(|h| h.value.to_string()),
        Some(scaidrive_connectors::sides::sharepoint::quickxor::quick_xor_hash(&data))
    );

    // Verification before commit: a stream longer than announced leaves the old file in place.
    let mut short = request("big/blob.bin", &data, Precondition::Matches(written.entry.state()));
    short.size -= 1;
    short.sha256 = None;
    let error = side.write(short, bytes(data.clone())).await.expect_err("verify fails");
    assert_eq!(error.code, ErrorCode::VerifyFailed);
    assert_eq!(stat(&side, "big/blob.bin").await.state(), written.entry.state());
}

#[tokio::test]
async fn an_edit_racing_the_overwrite_gets_412_and_a_check_out_gets_a_per_file_lock_error() {
    let f = Fixture::start(seed(
        vec![json!({"path": "doc.txt", "text": "v1"}), json!({"path": "held.txt", "text": "h"})],
        None,
    ))
    .await;
    let side = f.side("");
    let doc = stat(&side, "doc.txt").await;
    // Bob saves between our check and our upload: If-Match makes the upload fail instead of overwriting him.
    f.knob(
        "act_before",
        json!({"on_method": "PUT", "on_path": "/content", "user": "u2", "drive_id": DRIVE, "path": "doc.txt",
               "action": "upload", "text": "bob's edit"}),
    );
    let error = side
        .write(request("doc.txt", b"ours", Precondition::Matches(doc.state())), bytes(b"ours".to_vec()))
        .await
        .expect_err("refused");
    assert_eq!(error.code, ErrorCode::PreconditionFailed, "{error}");
    let now = stat(&side, "doc.txt").await;
    assert_eq!(read_all(&side, &now).await, b"bob's edit");

    // A file checked out by someone else is not written: a per-file error, the run goes on.
    let held = stat(&side, "held.txt").await;
    f.act("u2", "held.txt", json!({"action": "checkout"}));
    let held = side.stat(&held.path).await.expect("stat").expect("exists");
    let error = side
        .write(request("held.txt", b"ours", Precondition::Matches(held.state())), bytes(b"ours".to_vec()))
        .await
        .expect_err("locked");
    assert_eq!(error.code, ErrorCode::FileLocked, "{error}");
    assert_eq!(error.disposition(), Disposition::SkipFile);
    let error = side.delete(&held.path, &held.state()).await.expect_err("locked");
    assert_eq!(error.code, ErrorCode::FileLocked, "{error}");
}

#[tokio::test]
async fn refused_names_are_invalid_before_any_request() {
    let f = Fixture::start(seed(vec![], None)).await;
    let side = Arc::new(f.side(""));
    f.emulator.reset_counters();
    for name in ["a|b.txt", "CON", "x/~$lock.docx", "desktop.ini", "trailing "] {
        let error = side
            .write(request(name, b"x", Precondition::MustNotExist), bytes(b"x".to_vec()))
            .await
            .expect_err("refused");
        assert_eq!(error.code, ErrorCode::InvalidName, "{name}: {error}");
    }
    assert_eq!(f.emulator.graph_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_library_pages_at_1000_and_ten_changes_cost_requests_in_proportion() {
    // 20,000 files keep the debug test quick; benches/sharepoint_delta.rs runs the same at 100,000.
    let generate = json!({"files": 20_000, "folders": 100, "seed": 1});
    let f = Fixture::start(seed(vec![], Some(generate))).await;
    let side = f.side("");
    let first = listing(&side).await.expect("initial listing");
    let files: Vec<&Entry> = first.iter().filter(|e| !e.is_folder()).collect();
    assert_eq!(files.len(), 20_000);
    let pages = f.count("/root/delta");
    println!("initial listing of {} entries: {pages} delta pages", first.len());
    assert!(pages <= 21, "{pages} pages: the largest page size is used");

    for entry in files.iter().step_by(2_000) {
        f.act("u2", entry.path.as_str(), json!({"action": "upload", "text": "changed"}));
    }
    f.emulator.reset_counters();
    let second = listing(&side).await.expect("incremental listing");
    let requests = f.emulator.graph_requests();
    println!("incremental listing with 10 changes: {requests} Graph requests {:?}", f.emulator.counters());
    assert!(requests < 20, "{:?}", f.emulator.counters());
    assert_eq!(second.len(), first.len());
    assert_eq!(second.iter().filter(|e| e.size == "changed".len() as u64).count(), 10);
}

/// Signs in through the emulator's `/authorize` (auto-approved user) and redeems the code with PKCE.
async fn user_refresh_token(f: &Fixture) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http");
    let response = http.get(authorize_url(&f.emulator.base_url, "s")).send().await.expect("authorize");
    let code = code_in(response.headers()["location"].to_str().expect("location"));
    let body: serde_json::Value = http
        .post(f.emulator.token_url(TENANT))
        .form(&redeem_form(&code, VERIFIER))
        .send()
        .await
        .expect("redeem")
        .json()
        .await
        .expect("json");
    body["refresh_token"].as_str().expect("refresh token").to_string()
}

#[tokio::test]
async fn user_auth_refresh_tokens_rotate_and_a_revoked_one_fails_auth() {
    let f = Fixture::start(seed(vec![json!({"path": "a.txt", "text": "a"})], None)).await;
    let original = user_refresh_token(&f).await;
    let (tokens, client) = f.client_with(Grant::RefreshToken(original.clone()));
    let side = SharePointSide::new(client, "", DeltaState::default(), SharePointOptions::default());
    assert_eq!(stat(&side, "a.txt").await.size, 1);
    let rotated = tokens.refresh_token().expect("a refresh token");
    assert_ne!(rotated, original, "every refresh returns a new refresh token, which the connector keeps");
    f.knob("expire_tokens", json!({}));
    assert_eq!(stat(&side, "a.txt").await.size, 1);
    assert_ne!(tokens.refresh_token(), Some(rotated));

    f.knob("revoke_refresh_tokens", json!({}));
    f.knob("expire_tokens", json!({}));
    let error = side.stat(&SyncPath::new("a.txt")).await.expect_err("refused");
    assert_eq!(error.code, ErrorCode::ConnectorAuthFailed, "{error}");
}

/// A fresh RSA key (PKCS#8 DER) and a self-signed certificate (PEM and DER), made with the openssl tool.
fn certificate(dir: &std::path::Path, name: &str) -> (Vec<u8>, String, Vec<u8>) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(status.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    let (key, cert) = (format!("{name}.key"), format!("{name}.pem"));
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &cert, "-days", "2", "-subj",
        "/CN=sp",
    ]);
    run(&["pkcs8", "-topk8", "-nocrypt", "-in", &key, "-outform", "DER", "-out", &format!("{name}.key.der")]);
    run(&["x509", "-in", &cert, "-outform", "DER", "-out", &format!("{name}.der")]);
    let read = |f: String| std::fs::read(dir.join(f)).expect("read");
    (read(format!("{name}.key.der")), String::from_utf8(read(cert)).expect("pem"), read(format!("{name}.der")))
}

#[tokio::test]
async fn a_certificate_assertion_gets_tokens_and_a_wrong_key_fails_auth() {
    use scaidrive_connectors::clock::SystemClock;
    use scaidrive_connectors::graph_emulator::seed::SeedCert;
    use scaidrive_connectors::sides::sharepoint::{AuthConfig, Credential, GraphClient, TokenSource};

    let dir = tempfile::tempdir().expect("tempdir");
    let (key, pem, der) = certificate(dir.path(), "app");
    let (other_key, _, _) = certificate(dir.path(), "other");
    let mut s = seed(vec![json!({"path": "a.txt", "text": "a"})], None);
    s.apps[0].certificates.push(SeedCert { pem: Some(pem), x5t: None, x5t_s256: None });
    let f = Fixture::start(s).await;
    let side_for = |private_key_pkcs8: Vec<u8>| {
        let http = GraphClient::http_client().expect("http");
        let auth = AuthConfig {
            login_base: f.emulator.base_url.clone(),
            tenant: TENANT.into(),
            client_id: CLIENT.into(),
            credential: Credential::Certificate { private_key_pkcs8, certificate_der: der.clone() },
            grant: Grant::App,
        };
        let tokens = Arc::new(TokenSource::new(auth, http.clone(), Arc::new(SystemClock)));
        let client = GraphClient::new(http, f.emulator.graph_url(), DRIVE, tokens, f.sleeper.clone());
        SharePointSide::new(Arc::new(client), "", DeltaState::default(), SharePointOptions::default())
    };
    assert_eq!(stat(&side_for(key), "a.txt").await.size, 1);
    let error = side_for(other_key).stat(&SyncPath::new("a.txt")).await.expect_err("bad signature");
    assert_eq!(error.code, ErrorCode::ConnectorAuthFailed, "{error}");
}
