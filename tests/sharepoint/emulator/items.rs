//! Finding sites and libraries, the shape of items, and what hangs off an item: versions, list item fields,
//! permissions; and the directory's user and group search.

use reqwest::{Method, StatusCode};
use scaidrive_connectors::sides::sharepoint::quickxor::quick_xor_hash;
use serde_json::json;

use super::harness::{DRIVE, Fixture, drive, expect_graph_error, json_of, send, send_json};

#[tokio::test]
async fn sites_are_found_by_search_and_by_path_and_list_their_drives() {
    let f = Fixture::start().await;
    let found = f.get_json("/sites?search=market").await;
    assert_eq!(found["value"][0]["name"], "marketing");
    let sdk_style = f.get_json("/sites?$search=market").await;
    assert_eq!(sdk_style["value"].as_array().map(Vec::len), Some(1));
    let by_path = f.get_json("/sites/contoso.sharepoint.com:/sites/marketing").await;
    let id = by_path["id"].as_str().expect("id");
    assert_eq!(id.split(',').count(), 3);
    let drives = f.get_json("/sites/contoso.sharepoint.com:/sites/marketing:/drives").await;
    assert_eq!(drives["value"][0]["id"], DRIVE);
    assert_eq!(drives["value"][0]["driveType"], "documentLibrary");
    let encoded = f.get_json(&format!("/drives/{}", DRIVE.replace('!', "%21"))).await;
    assert_eq!(encoded["id"], DRIVE);
}

#[tokio::test]
async fn items_have_the_sharepoint_shape() {
    let f = Fixture::start().await;
    let file = f.item("DOCS/Plan.docx").await; // paths match case-insensitively
    assert_eq!(file["name"], "plan.docx");
    let etag = file["eTag"].as_str().expect("eTag");
    assert!(etag.starts_with("\"{") && etag.ends_with(",3\""), "{etag}");
    assert_eq!(file["file"]["hashes"], json!({"quickXorHash": quick_xor_hash(b"third")}));
    assert!(file["parentReference"]["path"].as_str().expect("path").ends_with("/root:/Docs"));
    assert!(file.get("publication").is_none());
    let folder = f.item("Docs").await;
    assert!(folder.get("cTag").is_none());
    assert_eq!(folder["folder"]["childCount"], 3);
    assert_eq!(folder["size"], json!("third".len() + "numbers".len() + "shared".len()));
    let not_modified =
        send(f.request(Method::GET, &drive("/root:/Docs/plan.docx")).header("If-None-Match", etag)).await;
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let missing = f.get(&drive("/root:/nope.txt")).await;
    expect_graph_error(missing, StatusCode::NOT_FOUND, "itemNotFound").await;
}

#[tokio::test]
async fn versions_list_newest_first_and_restore_adds_a_version() {
    let f = Fixture::start().await;
    let id = f.item_id("Docs/plan.docx").await;
    let versions = f.get_json(&drive(&format!("/items/{id}/versions"))).await;
    let labels: Vec<&str> =
        versions["value"].as_array().expect("value").iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(labels, vec!["3.0", "2.0", "1.0"]);
    let old = f.get(&drive(&format!("/items/{id}/versions/1.0/content"))).await;
    assert_eq!(old.status(), StatusCode::FOUND);
    let location = old.headers()["location"].to_str().expect("location").to_string();
    assert_eq!(&f.fetch(&location).await.bytes().await.expect("bytes")[..], b"first");
    let restore = f.call(Method::POST, &drive(&format!("/items/{id}/versions/1.0/restoreVersion"))).await;
    assert_eq!(restore.status(), StatusCode::NO_CONTENT);
    let versions = f.get_json(&drive(&format!("/items/{id}/versions"))).await;
    assert_eq!(versions["value"][0]["id"], "4.0");
    assert_eq!(versions["value"].as_array().map(Vec::len), Some(4));
    let now = f.item("Docs/plan.docx").await;
    assert_eq!(now["file"]["hashes"]["quickXorHash"], quick_xor_hash(b"first"));
}

#[tokio::test]
async fn list_item_fields_are_readable_and_only_writable_columns_change() {
    let f = Fixture::start().await;
    let id = f.item_id("Docs/plan.docx").await;
    let fields = f.get_json(&drive(&format!("/items/{id}/listItem?expand=fields"))).await;
    assert_eq!(fields["fields"]["FileLeafRef"], "plan.docx");
    assert_eq!(fields["fields"]["_UIVersionString"], "3.0");
    let path = drive(&format!("/items/{id}/listItem/fields"));
    let ok = f.call_json(Method::PATCH, &path, json!({"Department": "Sales"})).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(json_of(ok).await["Department"], "Sales");
    let read_only = f.call_json(Method::PATCH, &path, json!({"DocId": "X"})).await;
    assert_eq!(read_only.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn permissions_inherit_unless_broken() {
    let f = Fixture::start().await;
    let perms = |path: &'static str| {
        let f = &f;
        async move {
            let id = f.item_id(path).await;
            f.get_json(&drive(&format!("/items/{id}/permissions"))).await["value"].clone()
        }
    };
    let folder = perms("Docs").await;
    let inherited = perms("Docs/plan.docx").await;
    let unique = perms("Docs/budget.xlsx").await;
    assert_eq!(folder, inherited);
    assert_ne!(folder, unique);
    assert_eq!(unique[0]["grantedToV2"]["user"]["id"], "u2");
    assert!(inherited.as_array().expect("array").iter().all(|p| p.get("inheritedFrom").is_none()));
    assert!(
        folder
            .as_array()
            .expect("array")
            .iter()
            .any(|p| p["grantedToV2"]["siteGroup"]["displayName"] == "Marketing Owners")
    );
    let alice_only =
        json!({"action": "break_inheritance", "permissions": [{"roles": ["read"], "user": "alice@contoso.com"}]});
    f.act("alice@contoso.com", "Docs/plan.docx", alice_only).await;
    assert_ne!(perms("Docs/plan.docx").await, folder);
}

#[tokio::test]
async fn directory_search_needs_the_consistency_header() {
    let f = Fixture::start().await;
    let users = f.get_json("/users?$filter=startswith(displayName,'ali')&$select=id,mail").await;
    assert_eq!(users["value"], json!([{"id": "u1", "mail": "alice@contoso.com"}]));
    let refused = f.get("/users?$search=\"displayName:bob\"").await;
    expect_graph_error(refused, StatusCode::BAD_REQUEST, "Request_UnsupportedQuery").await;
    let groups = f.request(Method::GET, "/groups?$search=\"displayName:market\"");
    let found = send_json(groups.header("ConsistencyLevel", "eventual")).await;
    assert_eq!(found["value"][0]["id"], "g1");
    let first = f.get_json("/users?$top=1&$select=id").await;
    assert_eq!(first["value"], json!([{"id": "u1"}]));
    let next = first["@odata.nextLink"].as_str().expect("nextLink");
    let second = f.get_json(next).await;
    assert_eq!(second["value"], json!([{"id": "u2"}]));
    assert!(second.get("@odata.nextLink").is_none());
}
