//! File content: pre-authenticated downloads with ranges (and resuming one broken off), upload sessions
//! (aligned fragments, resuming, a name clash at commit), the quota, hashes computed late, and copies.

use reqwest::{Method, StatusCode};
use scaidrive_connectors::sides::sharepoint::quickxor::quick_xor_hash;
use serde_json::{Value, json};

use super::harness::{DRIVE, Fixture, drive, expect_graph_error, json_of, send};

#[tokio::test]
async fn downloads_redirect_to_a_preauthenticated_url_that_serves_ranges() {
    let f = Fixture::start().await;
    let item = f.item("Docs/plan.docx").await;
    let id = item["id"].as_str().expect("id");
    let redirect = f.get(&drive(&format!("/items/{id}/content"))).await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().expect("location").to_string();
    let body = f.fetch(&location).await.bytes().await.expect("bytes");
    assert_eq!(&body[..], b"third");
    let ranged = send(f.http.get(&location).header("Range", "bytes=1-2")).await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["content-range"], "bytes 1-2/5");
    assert_eq!(&ranged.bytes().await.expect("bytes")[..], b"hi");
    let direct = item["@microsoft.graph.downloadUrl"].as_str().expect("downloadUrl");
    assert_eq!(&f.fetch(direct).await.bytes().await.expect("bytes")[..], b"third");
}

#[tokio::test]
async fn a_download_broken_off_half_way_resumes_with_a_range() {
    let f = Fixture::start().await;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let item = json_of(f.put_bytes(&drive("/root:/Docs/large.bin:/content"), body.clone()).await).await;
    let url = item["@microsoft.graph.downloadUrl"].as_str().expect("downloadUrl");
    f.knob("drop_body", json!({"count": 1, "path": "/_download"})).await;
    // The connection breaks mid-body: depending on timing the client fails while reading headers or body.
    match f.http.get(url).send().await {
        Err(_) => {}
        Ok(broken) => assert!(broken.bytes().await.is_err(), "the body breaks off"),
    }
    let resumed = send(f.http.get(url).header("Range", "bytes=50000-")).await;
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&resumed.bytes().await.expect("bytes")[..], &body[50_000..]);
}

#[tokio::test]
async fn a_missing_hash_appears_after_a_download() {
    let f = Fixture::start().await;
    f.knob("hash_pending", json!({"drive_id": DRIVE, "path": "Docs/plan.docx"})).await;
    let item = f.item("Docs/plan.docx").await;
    assert_eq!(item["file"]["hashes"], json!({}));
    let url = item["@microsoft.graph.downloadUrl"].as_str().expect("downloadUrl");
    f.fetch(url).await.bytes().await.expect("bytes");
    assert_eq!(f.item("Docs/plan.docx").await["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"third"));
}

#[tokio::test]
async fn upload_sessions_take_aligned_fragments_in_order_and_resume() {
    let f = Fixture::start().await;
    let unit = 327_680usize;
    let data: Vec<u8> = (0..unit * 3 + 1000).map(|i| (i % 251) as u8).collect();
    let total = data.len();
    let session =
        f.upload_session("Docs/big.bin", json!({"item": {"@microsoft.graph.conflictBehavior": "fail"}})).await;
    assert_eq!(session.status(), StatusCode::OK);
    let upload_url = json_of(session).await["uploadUrl"].as_str().expect("uploadUrl").to_string();
    let put = |start: usize, end: usize| f.put_fragment(&upload_url, start, total, data[start..end].to_vec());
    let first = put(0, unit).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(json_of(first).await["nextExpectedRanges"], json!([format!("{unit}-")]));
    assert_eq!(put(unit * 2, unit * 3).await.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(put(0, unit).await.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(put(unit, unit + 1000).await.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // Resume: ask where to continue.
    let status = json_of(f.fetch(&upload_url).await).await;
    let next: usize =
        status["nextExpectedRanges"][0].as_str().and_then(|r| r.trim_end_matches('-').parse().ok()).expect("range");
    assert_eq!(next, unit);
    assert_eq!(put(unit, unit * 3).await.status(), StatusCode::ACCEPTED);
    let done = put(unit * 3, total).await;
    assert_eq!(done.status(), StatusCode::CREATED);
    let item = json_of(done).await;
    assert_eq!(item["size"], total);
    assert_eq!(item["file"]["hashes"]["quickXorHash"], quick_xor_hash(&data));
    assert_eq!(f.fetch(&upload_url).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_name_clash_at_commit_is_recovered_by_putting_the_session_to_a_new_name() {
    let f = Fixture::start().await;
    let url = f.upload_url("Docs/clash.txt", json!({"item": {"@microsoft.graph.conflictBehavior": "fail"}})).await;
    // Someone else creates the name while we upload.
    f.act("bob@contoso.com", "Docs/clash.txt", json!({"action": "upload", "text": "bob"})).await;
    let clash = f.put_fragment(&url, 0, 4, b"ours".to_vec()).await;
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let recovered = f
        .call_json(Method::PUT, &drive("/root:/Docs/clash (ours).txt:"), json!({"@microsoft.graph.sourceUrl": url}))
        .await;
    assert_eq!(recovered.status(), StatusCode::CREATED);
    assert_eq!(json_of(recovered).await["size"], 4);
    assert_eq!(f.item("Docs/clash.txt").await["size"], 3);
}

#[tokio::test]
async fn a_full_quota_refuses_uploads_with_507() {
    let f = Fixture::start().await;
    f.knob("quota", json!({"drive_id": DRIVE, "total": 300})).await;
    let put = f.put_bytes(&drive("/root:/big.txt:/content"), vec![0u8; 400]).await;
    expect_graph_error(put, StatusCode::INSUFFICIENT_STORAGE, "quotaLimitReached").await;
    let session = f.upload_session("big.bin", json!({"item": {"fileSize": 10_000}})).await;
    assert_eq!(session.status(), StatusCode::INSUFFICIENT_STORAGE);
}

#[tokio::test]
async fn copy_reports_progress_on_a_monitor_url_then_the_new_id() {
    let f = Fixture::start().await;
    let id = f.item_id("Docs").await;
    let target = json!({"parentReference": {"driveId": DRIVE, "id": "root"}, "name": "Docs copy"});
    let response = f.call_json(Method::POST, &drive(&format!("/items/{id}/copy")), target).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let monitor = response.headers()["location"].to_str().expect("location").to_string();
    let first: Value = json_of(f.fetch(&monitor).await).await;
    assert_eq!(first["status"], "inProgress");
    let done: Value = json_of(f.fetch(&monitor).await).await;
    assert_eq!(done["status"], "completed");
    let copy = f.item("Docs copy/plan.docx").await;
    assert_eq!(copy["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"third"));
    let folder = f.item("Docs copy").await;
    assert_eq!(done["resourceId"], folder["id"]);
}
