//! Writes that the service refuses or holds back: stale `If-Match` (412), name clashes (409), invalid names
//! (400), someone else's check-out or co-authoring lock (423), and edits made under a check-out.

use reqwest::{Method, StatusCode};
use scaidrive_connectors::sides::sharepoint::quickxor::quick_xor_hash;
use serde_json::json;

use super::harness::{DRIVE, Fixture, drive, expect_graph_error, json_of, send};

#[tokio::test]
async fn stale_if_match_gets_412_and_name_clashes_409() {
    let f = Fixture::start().await;
    let item = f.item("Docs/plan.docx").await;
    let id = item["id"].as_str().expect("id");
    let etag = item["eTag"].as_str().expect("etag").to_string();
    let content = drive(&format!("/items/{id}/content"));
    let ok = send(f.request(Method::PUT, &content).header("If-Match", &etag).body("fourth")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let stale = send(f.request(Method::PUT, &content).header("If-Match", &etag).body("fifth")).await;
    expect_graph_error(stale, StatusCode::PRECONDITION_FAILED, "resourceModified").await;
    let item_path = drive(&format!("/items/{id}"));
    let patch =
        send(f.request(Method::PATCH, &item_path).header("If-Match", &etag).json(&json!({"name": "x.docx"}))).await;
    assert_eq!(patch.status(), StatusCode::PRECONDITION_FAILED);
    let clash = f.call_json(Method::PATCH, &item_path, json!({"name": "BUDGET.xlsx"})).await;
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let fail = f.put_bytes(&drive("/root:/Docs/shared.txt:/content?@microsoft.graph.conflictBehavior=fail"), "x").await;
    assert_eq!(fail.status(), StatusCode::CONFLICT);
    let renamed =
        f.put_bytes(&drive("/root:/Docs/shared.txt:/content?@microsoft.graph.conflictBehavior=rename"), "x").await;
    assert_eq!(json_of(renamed).await["name"], "shared 1.txt");
    let bad_name = f.put_bytes(&drive("/root:/Docs/a%3Fb.txt:/content"), "x").await;
    assert_eq!(bad_name.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_change_made_just_before_our_write_makes_it_fail_the_precondition() {
    let f = Fixture::start().await;
    let item = f.item("Docs/shared.txt").await;
    let id = item["id"].as_str().expect("id");
    let etag = item["eTag"].as_str().expect("etag");
    f.knob(
        "act_before",
        json!({"on_method": "PUT", "on_path": "/content", "user": "bob@contoso.com", "drive_id": DRIVE, "path": "Docs/shared.txt", "action": "upload", "text": "bob's"}),
    )
    .await;
    let put =
        send(f.request(Method::PUT, &drive(&format!("/items/{id}/content"))).header("If-Match", etag).body("ours"))
            .await;
    assert_eq!(put.status(), StatusCode::PRECONDITION_FAILED);
    let now = f.item("Docs/shared.txt").await;
    assert_eq!(now["lastModifiedBy"]["user"]["displayName"], "Bob Dylan");
}

#[tokio::test]
async fn a_file_checked_out_by_someone_else_refuses_writes_with_423() {
    let f = Fixture::start().await;
    f.act("bob@contoso.com", "Docs/shared.txt", json!({"action": "checkout"})).await;
    let item = f.get_json(&drive("/root:/Docs/shared.txt?$select=id,name,publication")).await;
    assert_eq!(item["publication"]["level"], "checkout");
    assert_eq!(item["publication"]["checkedOutBy"]["user"]["displayName"], "Bob Dylan");
    let id = item["id"].as_str().expect("id");
    let content = drive(&format!("/items/{id}/content"));
    assert_eq!(f.put_bytes(&content, "mine").await.status(), StatusCode::LOCKED);
    assert_eq!(f.call(Method::DELETE, &drive(&format!("/items/{id}"))).await.status(), StatusCode::LOCKED);
    f.act("bob@contoso.com", "Docs/shared.txt", json!({"action": "checkin"})).await;
    assert_eq!(f.put_bytes(&content, "mine").await.status(), StatusCode::OK);
    // Our own check-out does not lock us out.
    let out = f.call(Method::POST, &drive(&format!("/items/{id}/checkout"))).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(f.put_bytes(&content, "again").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_coauthoring_lock_refuses_writes_with_423_not_allowed() {
    let f = Fixture::start().await;
    f.act("bob@contoso.com", "Docs/shared.txt", json!({"action": "lock"})).await;
    let put = f.put_bytes(&drive("/root:/Docs/shared.txt:/content"), "x").await;
    let error = expect_graph_error(put, StatusCode::LOCKED, "notAllowed").await;
    assert_eq!(error["innerError"]["code"], "resourceLocked");
}

#[tokio::test]
async fn edits_under_someone_elses_check_out_stay_invisible_until_check_in() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&drive("/root/delta")).await;
    let bob = |action| f.act("bob@contoso.com", "Docs/shared.txt", action);
    bob(json!({"action": "checkout"})).await;
    bob(json!({"action": "upload", "text": "bob's draft"})).await;
    assert_eq!(f.item("Docs/shared.txt").await["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"shared"));
    bob(json!({"action": "checkin"})).await;
    let now = f.item("Docs/shared.txt").await;
    assert_eq!(now["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"bob's draft"));
    assert_eq!(now["lastModifiedBy"]["user"]["displayName"], "Bob Dylan");
    let (changes, _, _) = f.delta_all(&link).await;
    assert!(changes.iter().any(|c| c["name"] == "shared.txt"));
}
