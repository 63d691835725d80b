//! Listing a library: children pages and delta (enumeration, changes only, invalidated tokens, repeated items,
//! permission changes on request, subfolder delta), up to a large generated library.

use reqwest::{Method, StatusCode};
use scaidrive_connectors::graph_emulator::Seed;
use serde_json::{Value, json};

use super::harness::{DRIVE, Fixture, drive, expect_graph_error, json_of, seed, send_json};

#[tokio::test]
async fn children_page_with_top_and_absolute_next_links() {
    let f = Fixture::start().await;
    let mut url = drive("/root:/Many:/children?$top=10");
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page = f.get_json(&url).await;
        pages += 1;
        names.extend(
            page["value"].as_array().expect("value").iter().map(|v| v["name"].as_str().unwrap_or("").to_string()),
        );
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&f.emulator.base_url), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25);
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 25);
}

#[tokio::test]
async fn delta_enumerates_then_reports_only_changes() {
    let f = Fixture::start().await;
    let (items, delta_link, pages) = f.delta_all(&drive("/root/delta?$top=10")).await;
    assert!(pages >= 3);
    assert!(items.iter().any(|i| i.get("root").is_some()));
    assert!(items.iter().all(|i| i["parentReference"].get("path").is_none() && i.get("cTag").is_none()));

    // Nothing changed: an empty page with a new deltaLink.
    let (unchanged, delta_link, _) = f.delta_all(&delta_link).await;
    assert!(unchanged.is_empty(), "{unchanged:?}");

    // A rename, an upload, a delete.
    let id = f.item_id("Docs/shared.txt").await;
    let renamed = f.call_json(Method::PATCH, &drive(&format!("/items/{id}")), json!({"name": "renamed.txt"})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let put = f.put_bytes(&drive("/root:/Docs/new.txt:/content"), "new").await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let victim_id = f.item_id("Many/file-00.txt").await;
    let deleted = f.call(Method::DELETE, &drive(&format!("/items/{victim_id}"))).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let (changes, _, _) = f.delta_all(&delta_link).await;
    let by_id = |id: &str| changes.iter().rfind(|c| c["id"] == id).cloned();
    assert_eq!(by_id(&id).expect("renamed item")["name"], "renamed.txt");
    let gone = by_id(&victim_id).expect("deleted item");
    assert_eq!(gone["deleted"]["state"], "deleted");
    assert!(gone.get("name").is_none());
    assert!(changes.iter().any(|c| c["name"] == "new.txt"));
    assert!(changes.iter().all(|c| c["name"] != "file-01.txt"), "unchanged items stay out");

    // token=latest starts from now without enumerating.
    let latest = f.get_json(&drive("/root/delta?token=latest")).await;
    assert_eq!(latest["value"], json!([]));
    assert!(latest["@odata.deltaLink"].is_string());
    // The SDK's function form.
    let function = f.get_json(&drive("/root/delta()")).await;
    assert!(function["value"].as_array().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn select_without_deleted_hides_the_deleted_facet() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&drive("/root/delta")).await;
    let id = f.item_id("Many/file-03.txt").await;
    f.call(Method::DELETE, &drive(&format!("/items/{id}"))).await;
    let selected = format!("{link}&$select=id,name");
    let page = f.get_json(&selected).await;
    let entry = page["value"].as_array().expect("value").iter().find(|v| v["id"] == id).cloned().expect("entry");
    assert!(entry.get("deleted").is_none());
}

#[tokio::test]
async fn invalidated_delta_tokens_get_410_with_a_location_that_restarts() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&drive("/root/delta")).await;
    f.knob("invalidate_delta", json!({"drive_id": DRIVE, "code": "resyncChangesUploadDifferences"})).await;
    let gone = f.get(&link).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    let location = gone.headers()["location"].to_str().expect("location").to_string();
    assert_eq!(json_of(gone).await["error"]["code"], "resyncChangesUploadDifferences");
    let (items, _, _) = f.delta_all(&location).await;
    assert!(items.len() > 25);
}

#[tokio::test]
async fn delta_shape_knobs_repeat_items_and_the_last_occurrence_is_current() {
    let f = Fixture::start().await;
    f.knob("delta_shape", json!({"duplicates": true, "shuffle": true})).await;
    let (items, _, _) = f.delta_all(&drive("/root/delta")).await;
    let plan: Vec<&Value> = items.iter().filter(|i| i["name"] == "plan.docx").collect();
    assert_eq!(plan.len(), 2);
}

#[tokio::test]
async fn permission_changes_reach_delta_only_when_asked_for() {
    let f = Fixture::start().await;
    let (_, link, _) = f.delta_all(&drive("/root/delta")).await;
    let before = f.item("Docs/plan.docx").await;
    let alice_only =
        json!({"action": "break_inheritance", "permissions": [{"roles": ["read"], "user": "alice@contoso.com"}]});
    f.act("alice@contoso.com", "Docs/plan.docx", alice_only).await;
    assert_eq!(f.item("Docs/plan.docx").await["eTag"], before["eTag"], "a permission change is not an item change");
    let (plain, _, _) = f.delta_all(&link).await;
    assert!(plain.iter().all(|i| i["name"] != "plan.docx"), "{plain:?}");
    let prefer = "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges";
    let asked = send_json(f.request(Method::GET, &link).header("Prefer", prefer)).await;
    let entry = asked["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|i| i["name"] == "plan.docx")
        .cloned()
        .expect("plan.docx");
    assert_eq!(entry["@microsoft.graph.sharedChanged"], "True");
}

#[tokio::test]
async fn subfolder_delta_is_refused_unless_enabled_and_then_stays_inside_the_folder() {
    let f = Fixture::start().await;
    let id = f.item_id("Docs").await;
    let refused = f.get(&drive(&format!("/items/{id}/delta"))).await;
    expect_graph_error(refused, StatusCode::NOT_IMPLEMENTED, "notSupported").await;
    f.knob("subfolder_delta", json!({"enabled": true})).await;
    let (items, _, _) = f.delta_all(&drive(&format!("/items/{id}/delta"))).await;
    let names: std::collections::BTreeSet<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["Docs", "budget.xlsx", "plan.docx", "shared.txt"].into_iter().collect());
}

#[tokio::test]
async fn a_large_generated_library_enumerates_at_the_largest_page_size() {
    let mut seed = seed();
    let big: Seed = serde_json::from_value(json!({
        "sites": [{"hostname": "contoso.sharepoint.com", "path": "/sites/big", "name": "big", "drives": [{"id": "b!big", "name": "Big", "generate": {"files": 10000, "folders": 50, "seed": 1}}]}]
    }))
    .expect("seed");
    seed.sites.extend(big.sites);
    let f = Fixture::start_with(seed).await;
    // 10,000 files and 51 folders plus the root, at the largest page the service serves (1000).
    let (items, link, pages) = f.delta_all("/drives/b!big/root/delta?$top=5000").await;
    let files = items.iter().filter(|i| i.get("file").is_some()).count();
    assert_eq!(files, 10000);
    assert_eq!(pages, 10052_usize.div_ceil(1000));
    // Ten changes cost requests in proportion to the changes.
    for n in 0..10 {
        let change = json!({"user": "alice@contoso.com", "drive_id": "b!big", "path": format!("gen/file-{:06}.bin", n * 51), "action": "upload", "text": "changed"});
        f.emulator.knob_json("act", change).expect("in-process knob");
    }
    f.emulator.reset_counters();
    let (changes, _, pages) = f.delta_all(&link).await;
    assert_eq!(pages, 1);
    assert_eq!(changes.iter().filter(|c| c.get("file").is_some()).count(), 10);
}
