//! The ScaiDrive store through its HTTP API: shares, entries, content, versions, trash, metadata and access.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_error, expect_json};

fn entries(app: &TestAppliance, share: &str, path: &str) -> reqwest::RequestBuilder {
    app.admin(Method::GET, &format!("/api/v1/shares/{share}/entries")).query(&[("path", path)])
}

#[tokio::test]
async fn upload_list_download_and_nested_folders() {
    let app = TestAppliance::start().await;
    let share = app.share("Finance").await;
    let created = app.upload(&share, "/2026/Q1/report.pdf", b"quarterly numbers").await;
    assert_eq!(created["name"], "report.pdf");
    assert_eq!(created["type"], "file");
    assert_eq!(created["size"], 17);
    assert_eq!(created["content_hash"], sha256_hex(b"quarterly numbers"));
    assert!(created["id"].as_str().unwrap().starts_with("ent_"));

    let root = expect_json(entries(&app, &share, "/").send().await.unwrap(), 200).await;
    assert_eq!(root["entries"][0]["name"], "2026");
    assert_eq!(root["entries"][0]["type"], "folder");
    let file = expect_json(entries(&app, &share, "/2026/Q1/report.pdf").send().await.unwrap(), 200).await;
    assert_eq!(file["id"], created["id"]);
    let by_id = app.admin(Method::GET, &format!("/api/v1/shares/{share}/entries/{}", created["id"].as_str().unwrap()));
    assert_eq!(expect_json(by_id.send().await.unwrap(), 200).await["path"], "/2026/Q1/report.pdf");
    assert_eq!(app.download(&share, "/2026/Q1/report.pdf").await, b"quarterly numbers");

    let share_info =
        expect_json(app.admin(Method::GET, &format!("/api/v1/shares/{share}")).send().await.unwrap(), 200).await;
    assert_eq!(share_info["used_bytes"], 17);
    assert_eq!(share_info["file_count"], 1);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn listing_pages_in_name_order() {
    let app = TestAppliance::start().await;
    let share = app.share("Many").await;
    for name in ["c", "a", "e", "b", "d"] {
        app.upload(&share, &format!("/dir/{name}.txt"), name.as_bytes()).await;
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = entries(&app, &share, "/dir").query(&[("limit", "2")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = expect_json(request.send().await.unwrap(), 200).await;
        names.extend(page["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]);
}

#[tokio::test]
async fn overwrite_keeps_the_old_content_as_a_restorable_version() {
    let app = TestAppliance::start().await;
    let share = app.share("Docs").await;
    let first = app.upload(&share, "/plan.txt", b"version one").await;
    let second = app.upload(&share, "/plan.txt", b"version two, longer").await;
    assert_eq!(second["id"], first["id"], "an overwrite keeps the entry");
    assert_ne!(second["etag"], first["etag"]);
    let versions = app.admin(Method::GET, &format!("/api/v1/shares/{share}/versions")).query(&[("path", "/plan.txt")]);
    let versions = expect_json(versions.send().await.unwrap(), 200).await["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    let old = versions.as_array().unwrap().iter().find(|v| v["size"] == 11).unwrap();
    let old_id = old["id"].as_str().unwrap();
    let content =
        app.admin(Method::GET, &format!("/api/v1/shares/{share}/versions/{old_id}/content")).send().await.unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), b"version one");
    let restored =
        app.admin(Method::POST, &format!("/api/v1/shares/{share}/versions/{old_id}/restore")).send().await.unwrap();
    expect_json(restored, 200).await;
    assert_eq!(app.download(&share, "/plan.txt").await, b"version one");
    let versions = app.admin(Method::GET, &format!("/api/v1/shares/{share}/versions")).query(&[("path", "/plan.txt")]);
    let versions = expect_json(versions.send().await.unwrap(), 200).await["versions"].clone();
    let sizes: Vec<u64> = versions.as_array().unwrap().iter().map(|v| v["size"].as_u64().unwrap()).collect();
    assert!(sizes.contains(&19), "the overwritten current content became a version: {sizes:?}");
}

#[tokio::test]
async fn delete_goes_to_the_trash_and_restores_byte_identical() {
    let app = TestAppliance::start().await;
    let share = app.share("Trash").await;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    app.upload(&share, "/folder/data.bin", &bytes).await;
    app.upload(&share, "/folder/note.txt", b"note").await;
    let deleted = app.admin(Method::DELETE, &format!("/api/v1/shares/{share}/entries")).query(&[("path", "/folder")]);
    let trashed = expect_json(deleted.send().await.unwrap(), 200).await;
    expect_error(entries(&app, &share, "/folder/data.bin").send().await.unwrap(), 404, "NOT_FOUND").await;
    let trash =
        expect_json(app.admin(Method::GET, &format!("/api/v1/shares/{share}/trash")).send().await.unwrap(), 200).await;
    let item = &trash["trash"][0];
    assert_eq!(item["original_path"], "/folder");
    assert_eq!(item["id"], trashed["id"]);
    let restore =
        app.admin(Method::POST, &format!("/api/v1/shares/{share}/trash/{}/restore", item["id"].as_str().unwrap()));
    expect_json(restore.send().await.unwrap(), 200).await;
    assert_eq!(app.download(&share, "/folder/data.bin").await, bytes);
    assert_eq!(app.download(&share, "/folder/note.txt").await, b"note");
}

#[tokio::test]
async fn restore_into_a_taken_name_gets_a_restored_suffix() {
    let app = TestAppliance::start().await;
    let share = app.share("Clash").await;
    app.upload(&share, "/a.txt", b"old").await;
    let trashed = app.admin(Method::DELETE, &format!("/api/v1/shares/{share}/entries")).query(&[("path", "/a.txt")]);
    let trashed = expect_json(trashed.send().await.unwrap(), 200).await;
    app.upload(&share, "/a.txt", b"new").await;
    let restore =
        app.admin(Method::POST, &format!("/api/v1/shares/{share}/trash/{}/restore", trashed["id"].as_str().unwrap()));
    let restored = expect_json(restore.send().await.unwrap(), 200).await;
    assert_eq!(restored["path"], "/a (restored).txt");
    assert_eq!(app.download(&share, "/a (restored).txt").await, b"old");
    assert_eq!(app.download(&share, "/a.txt").await, b"new");
}

#[tokio::test]
async fn conditional_writes_and_reads() {
    let app = TestAppliance::start().await;
    let share = app.share("Cond").await;
    let url = format!("/api/v1/shares/{share}/content");
    let put = |headers: Vec<(&'static str, String)>, body: &'static [u8]| {
        let mut request = app.admin(Method::PUT, &url).query(&[("path", "/c.txt")]).body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    };
    let first = expect_json(put(vec![("if-none-match", "*".into())], b"one").await.unwrap(), 201).await;
    expect_error(put(vec![("if-none-match", "*".into())], b"two").await.unwrap(), 412, "PRECONDITION_FAILED").await;
    let etag = format!("\"{}\"", first["etag"].as_str().unwrap());
    let second = expect_json(put(vec![("if-match", etag.clone())], b"two").await.unwrap(), 200).await;
    expect_error(put(vec![("if-match", etag.clone())], b"three").await.unwrap(), 412, "PRECONDITION_FAILED").await;
    assert_eq!(app.download(&share, "/c.txt").await, b"two");

    let fresh = format!("\"{}\"", second["etag"].as_str().unwrap());
    let get =
        app.admin(Method::GET, &url).query(&[("path", "/c.txt")]).header("if-none-match", &fresh).send().await.unwrap();
    assert_eq!(get.status(), 304);
    let get =
        app.admin(Method::GET, &url).query(&[("path", "/c.txt")]).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["etag"].to_str().unwrap(), fresh);
}

#[tokio::test]
async fn ranges_are_served_and_bad_ranges_refused() {
    let app = TestAppliance::start().await;
    let share = app.share("Range").await;
    app.upload(&share, "/r.txt", b"0123456789").await;
    let get = |range: &str| {
        app.admin(Method::GET, &format!("/api/v1/shares/{share}/content"))
            .query(&[("path", "/r.txt")])
            .header("range", range)
            .send()
    };
    let part = get("bytes=2-5").await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 2-5/10");
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"2345");
    assert_eq!(get("bytes=-3").await.unwrap().bytes().await.unwrap().as_ref(), b"789");
    let bad = get("bytes=50-60").await.unwrap();
    assert_eq!(bad.status(), 416);
    assert_eq!(bad.headers()["content-range"], "bytes */10");
}

#[tokio::test]
async fn modified_time_can_be_set_on_upload() {
    let app = TestAppliance::start().await;
    let share = app.share("Times").await;
    let response = app
        .admin(Method::PUT, &format!("/api/v1/shares/{share}/content"))
        .query(&[("path", "/t.txt")])
        .header("x-modified-at", "2021-03-04T05:06:07Z")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(response, 201).await["modified_at"], "2021-03-04T05:06:07Z");
    let bad = app
        .admin(Method::PUT, &format!("/api/v1/shares/{share}/content"))
        .query(&[("path", "/u.txt")])
        .header("x-modified-at", "yesterday")
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(bad, 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn move_keeps_the_id_and_the_versions() {
    let app = TestAppliance::start().await;
    let share = app.share("Moves").await;
    let file = app.upload(&share, "/in/a.txt", b"1").await;
    app.upload(&share, "/in/a.txt", b"2").await;
    let moved = app
        .admin(Method::POST, &format!("/api/v1/shares/{share}/move"))
        .json(&json!({"from": "/in/a.txt", "to": "/out/b.txt"}));
    let moved = expect_json(moved.send().await.unwrap(), 200).await;
    assert_eq!(moved["id"], file["id"]);
    assert_eq!(moved["path"], "/out/b.txt");
    assert_eq!(moved["version_count"], 2);
    let by_id = app
        .admin(Method::POST, &format!("/api/v1/shares/{share}/move"))
        .json(&json!({"entry_id": file["id"], "to": "/c.txt"}));
    assert_eq!(expect_json(by_id.send().await.unwrap(), 200).await["path"], "/c.txt");
    let clash = app.upload(&share, "/d.txt", b"d").await;
    let onto = app
        .admin(Method::POST, &format!("/api/v1/shares/{share}/move"))
        .json(&json!({"from": "/c.txt", "to": clash["path"]}));
    expect_error(onto.send().await.unwrap(), 409, "ALREADY_EXISTS").await;
    let both = app
        .admin(Method::POST, &format!("/api/v1/shares/{share}/move"))
        .json(&json!({"from": "/c.txt", "entry_id": file["id"], "to": "/e"}));
    expect_error(both.send().await.unwrap(), 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn folders_metadata_and_share_settings() {
    let app = TestAppliance::start().await;
    let share = app.share("Meta").await;
    let folder = app.admin(Method::POST, &format!("/api/v1/shares/{share}/folders")).json(&json!({"path": "/x/y"}));
    assert_eq!(expect_json(folder.send().await.unwrap(), 201).await["type"], "folder");
    let again = app.admin(Method::POST, &format!("/api/v1/shares/{share}/folders")).json(&json!({"path": "/x/y"}));
    expect_error(again.send().await.unwrap(), 409, "ALREADY_EXISTS").await;

    app.upload(&share, "/x/y/doc.txt", b"d").await;
    let url = format!("/api/v1/shares/{share}/metadata");
    let put = app
        .admin(Method::PUT, &url)
        .query(&[("path", "/x/y/doc.txt")])
        .json(&json!({"Department": "Ops", "Status": "Draft"}));
    expect_json(put.send().await.unwrap(), 200).await;
    let patch = app.admin(Method::PATCH, &url).query(&[("path", "/x/y/doc.txt")]).json(&json!({"Status": "Final"}));
    expect_json(patch.send().await.unwrap(), 200).await;
    let got =
        expect_json(app.admin(Method::GET, &url).query(&[("path", "/x/y/doc.txt")]).send().await.unwrap(), 200).await;
    assert_eq!(got, json!({"Department": "Ops", "Status": "Final"}));

    let renamed = app
        .admin(Method::PATCH, &format!("/api/v1/shares/{share}"))
        .json(&json!({"name": "Metadata", "retention_days": 7}));
    let renamed = expect_json(renamed.send().await.unwrap(), 200).await;
    assert_eq!((renamed["name"].as_str(), renamed["retention_days"].as_u64()), (Some("Metadata"), Some(7)));
    let bad = app.admin(Method::PATCH, &format!("/api/v1/shares/{share}")).json(&json!({"retention_days": 0}));
    expect_error(bad.send().await.unwrap(), 422, "VALIDATION_FAILED").await;
    assert_eq!(app.admin(Method::DELETE, &format!("/api/v1/shares/{share}")).send().await.unwrap().status(), 204);
    expect_error(app.admin(Method::GET, &format!("/api/v1/shares/{share}")).send().await.unwrap(), 404, "NOT_FOUND")
        .await;
}

#[tokio::test]
async fn quota_refuses_an_upload_and_writes_nothing() {
    let app = TestAppliance::start().await;
    let created = app.admin(Method::POST, "/api/v1/shares").json(&json!({"name": "Small", "quota_bytes": 1000}));
    let share = expect_json(created.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned();
    app.upload(&share, "/fits.bin", &[1u8; 600]).await;
    let response = app.upload_as(&app.admin_token, &share, "/too-big.bin", vec![2u8; 600]).await;
    let error = expect_error(response, 413, "QUOTA_EXCEEDED").await;
    assert_eq!(error["details"]["available_bytes"], 400);
    expect_error(entries(&app, &share, "/too-big.bin").send().await.unwrap(), 404, "NOT_FOUND").await;
    let info = expect_json(app.admin(Method::GET, &format!("/api/v1/shares/{share}")).send().await.unwrap(), 200).await;
    assert_eq!(info["used_bytes"], 600);
}

async fn effective(app: &TestAppliance, share: &str, path: &str, principal: &str) -> Value {
    let query = [("path", path), ("principal_id", principal)];
    let response =
        app.admin(Method::GET, &format!("/api/v1/shares/{share}/effective-access")).query(&query).send().await;
    expect_json(response.unwrap(), 200).await
}

#[tokio::test]
async fn access_entries_decide_who_reads_writes_or_sees_nothing() {
    let app = TestAppliance::start().await;
    let share = app.share("Private").await;
    app.upload(&share, "/team/plan.txt", b"plan").await;
    let (reader, reader_token) = app.user_with_token("reader", "user").await;
    let (_, stranger_token) = app.user_with_token("stranger", "user").await;
    let (member, member_token) = app.user_with_token("member", "user").await;
    let group = app.admin(Method::POST, "/api/v1/groups").json(&json!({"display_name": "Team", "members": [member]}));
    let group = expect_json(group.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned();
    let aces = json!({"aces": [
        {"principal_id": reader, "permission": "read", "type": "allow", "source": "manual"},
        {"principal_id": group, "permission": "write", "type": "allow", "source": "manual"},
    ]});
    let put = app.admin(Method::PUT, &format!("/api/v1/shares/{share}/aces")).query(&[("path", "/team")]).json(&aces);
    expect_json(put.send().await.unwrap(), 200).await;

    let read = app
        .as_token(&reader_token, Method::GET, &format!("/api/v1/shares/{share}/content"))
        .query(&[("path", "/team/plan.txt")]);
    assert_eq!(read.send().await.unwrap().bytes().await.unwrap().as_ref(), b"plan");
    let write = app.upload_as(&reader_token, &share, "/team/plan.txt", b"mine now".to_vec()).await;
    expect_error(write, 403, "FORBIDDEN").await;
    let stranger = app
        .as_token(&stranger_token, Method::GET, &format!("/api/v1/shares/{share}/entries"))
        .query(&[("path", "/team/plan.txt")]);
    expect_error(stranger.send().await.unwrap(), 404, "NOT_FOUND").await;
    let ghost = app
        .as_token(&stranger_token, Method::GET, &format!("/api/v1/shares/{share}/entries"))
        .query(&[("path", "/team/none.txt")]);
    expect_error(ghost.send().await.unwrap(), 404, "NOT_FOUND").await;
    let member_write = app.upload_as(&member_token, &share, "/team/plan.txt", b"edited by the team".to_vec()).await;
    assert_eq!(member_write.status(), 200);
    assert_eq!(app.download(&share, "/team/plan.txt").await, b"edited by the team");

    // A deny beats the group's allow, and shows in effective access.
    let deny = json!({"aces": [{"principal_id": member, "permission": "write", "type": "deny", "source": "manual"}]});
    let put = app
        .admin(Method::PUT, &format!("/api/v1/shares/{share}/aces"))
        .query(&[("path", "/team/plan.txt")])
        .json(&deny);
    expect_json(put.send().await.unwrap(), 200).await;
    let access = effective(&app, &share, "/team/plan.txt", &member).await;
    assert_eq!((access["read"].as_bool(), access["write"].as_bool()), (Some(true), Some(false)));
    let blocked = app.upload_as(&member_token, &share, "/team/plan.txt", b"again".to_vec()).await;
    expect_error(blocked, 403, "FORBIDDEN").await;

    // Breaking inheritance on the file drops the folder's grants there.
    let broken = json!({"aces": [], "inherit": false});
    let put = app
        .admin(Method::PUT, &format!("/api/v1/shares/{share}/aces"))
        .query(&[("path", "/team/plan.txt")])
        .json(&broken);
    expect_json(put.send().await.unwrap(), 200).await;
    assert_eq!(effective(&app, &share, "/team/plan.txt", &reader).await["read"], false);
    assert_eq!(effective(&app, &share, "/team", &reader).await["read"], true);

    // Shares list only what the caller can read.
    let listed =
        expect_json(app.as_token(&stranger_token, Method::GET, "/api/v1/shares").send().await.unwrap(), 200).await;
    assert!(listed["shares"].as_array().unwrap().is_empty());
    let peek = app
        .as_token(&stranger_token, Method::GET, &format!("/api/v1/shares/{share}/effective-access"))
        .query(&[("path", "/"), ("principal_id", reader.as_str())]);
    expect_error(peek.send().await.unwrap(), 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn creator_of_a_share_manages_it_and_others_do_not_see_it() {
    let app = TestAppliance::start().await;
    let (_, alice) = app.user_with_token("alice", "user").await;
    let (_, bob) = app.user_with_token("bob", "user").await;
    let created =
        app.as_token(&alice, Method::POST, "/api/v1/shares").json(&json!({"name": "Alice's"})).send().await.unwrap();
    let share = expect_json(created, 201).await["id"].as_str().unwrap().to_owned();
    assert_eq!(app.upload_as(&alice, &share, "/mine.txt", b"a".to_vec()).await.status(), 201);
    expect_error(
        app.as_token(&bob, Method::GET, &format!("/api/v1/shares/{share}")).send().await.unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    let rename = app.as_token(&bob, Method::PATCH, &format!("/api/v1/shares/{share}")).json(&json!({"name": "Bob's"}));
    expect_error(rename.send().await.unwrap(), 404, "NOT_FOUND").await;
}
