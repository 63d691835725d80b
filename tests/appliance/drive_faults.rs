//! Bad paths, interrupted and racing uploads, and a kill in the middle of an upload: the store ends up
//! consistent, with nothing half-written visible.

use reqwest::Method;

use crate::common::process::{Served, init};
use crate::common::{TestAppliance, expect_error, expect_json, files_under, wait_until};

#[tokio::test]
async fn bad_paths_are_refused_with_a_stable_code() {
    let app = TestAppliance::start().await;
    let share = app.share("Paths").await;
    let long = format!("/{}", "n".repeat(256));
    let cases = [
        ("/a/../b.txt", "INVALID_NAME"),
        ("/a/./b.txt", "INVALID_NAME"),
        ("/a//b.txt", "INVALID_PATH"),
        ("relative.txt", "INVALID_PATH"),
        ("/nul\u{0}.txt", "INVALID_NAME"),
        ("/tab\t.txt", "INVALID_NAME"),
        (long.as_str(), "INVALID_NAME"),
    ];
    for (path, code) in cases {
        let response = app.upload_as(&app.admin_token, &share, path, b"x".to_vec()).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!((status, body["error"]["code"].as_str().unwrap()), (422, code), "{path:?}: {body}");
    }
    let root = app.admin(Method::GET, &format!("/api/v1/shares/{share}/entries")).query(&[("path", "/")]).send().await;
    assert!(expect_json(root.unwrap(), 200).await["entries"].as_array().unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn names_equal_after_nfc_normalisation_are_one_file() {
    let app = TestAppliance::start().await;
    let share = app.share("Unicode").await;
    let composed = "/caf\u{e9}.txt";
    let decomposed = "/cafe\u{301}.txt";
    let first = app.upload(&share, composed, b"one").await;
    let second = app.upload(&share, decomposed, b"two").await;
    assert_eq!(first["id"], second["id"], "the decomposed name is the same entry");
    assert_eq!(second["path"], composed);
    assert_eq!(app.download(&share, decomposed).await, b"two");
}

#[tokio::test]
async fn an_upload_cut_off_half_way_commits_nothing_and_leaves_no_temp_file() {
    let app = TestAppliance::start().await;
    let share = app.share("Cut").await;
    let url = app.url(&format!("/api/v1/shares/{share}/content?path=/cut.bin"));
    // Announce 10 MB and send 1 MB, then close the connection: the server sees the body end early.
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Length: 10000000\r\n\r\n",
        url.trim_start_matches(&app.base_url),
        app.admin_token
    );
    use tokio::io::AsyncWriteExt;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![7u8; 1_000_000]).await.unwrap();
    drop(stream);
    let temp_dir = app.data_dir().join("content");
    wait_until("the interrupted upload's temp file to be removed", || {
        let temps = files_under(&temp_dir).into_iter().filter(|p| p.to_string_lossy().contains("tmp")).count();
        std::future::ready((temps == 0).then_some(()))
    })
    .await;
    let entry =
        app.admin(Method::GET, &format!("/api/v1/shares/{share}/entries")).query(&[("path", "/cut.bin")]).send().await;
    expect_error(entry.unwrap(), 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn two_concurrent_uploads_to_one_path_leave_one_current_and_one_version() {
    let app = TestAppliance::start().await;
    let share = app.share("Race").await;
    let a: Vec<u8> = vec![b'a'; 3_000_000];
    let b: Vec<u8> = vec![b'b'; 3_000_000];
    let (ra, rb) = tokio::join!(
        app.upload_as(&app.admin_token, &share, "/race.bin", a.clone()),
        app.upload_as(&app.admin_token, &share, "/race.bin", b.clone())
    );
    assert!(ra.status().is_success() && rb.status().is_success());
    let current = app.download(&share, "/race.bin").await;
    assert!(current == a || current == b, "the current content is one whole upload, not a mix");
    let versions = app.admin(Method::GET, &format!("/api/v1/shares/{share}/versions")).query(&[("path", "/race.bin")]);
    let versions = expect_json(versions.send().await.unwrap(), 200).await["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 2, "the loser's content is a version: {versions}");
    let hashes: Vec<&str> = versions.as_array().unwrap().iter().map(|v| v["content_hash"].as_str().unwrap()).collect();
    assert_ne!(hashes[0], hashes[1]);
}

#[tokio::test]
async fn killed_during_an_upload_the_restarted_appliance_shows_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = init(&data);
    let mut served = Served::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let share = client
        .post(format!("{}/api/v1/shares", served.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Kill"}));
    let share = expect_json(share.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned();
    // A slow body: the first megabyte, then nothing until the server is killed.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(vec![9u8; 1_000_000])).await.unwrap();
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|x| (x, rx))
    }));
    let url = format!("{}/api/v1/shares/{share}/content?path=/big.bin", served.base_url);
    let upload =
        tokio::spawn(client.put(url).bearer_auth(&token).header("content-length", "50000000").body(body).send());
    let content = data.join("content");
    wait_until("the upload to be staged on disk", || {
        let staged = files_under(&content)
            .into_iter()
            .any(|p| p.to_string_lossy().contains("tmp") && std::fs::metadata(&p).is_ok_and(|m| m.len() > 0));
        std::future::ready(staged.then_some(()))
    })
    .await;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    assert!(upload.await.unwrap().is_err(), "the upload cannot have succeeded");
    drop(tx);

    let restarted = Served::start(&data, &[]).await;
    let temps = files_under(&content).into_iter().filter(|p| p.to_string_lossy().contains("tmp")).count();
    assert_eq!(temps, 0, "the start-up sweep removed the orphan temp file");
    let entry =
        client.get(format!("{}/api/v1/shares/{share}/entries?path=/big.bin", restarted.base_url)).bearer_auth(&token);
    expect_error(entry.send().await.unwrap(), 404, "NOT_FOUND").await;
}
