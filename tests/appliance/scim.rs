//! `/scim/v2` as identity providers use it: the Entra ID and Okta request sequences replayed over HTTP, users
//! made just in time matched instead of duplicated, the SCIM token's scope and rotation, SCIM-managed groups,
//! the read-only users setting, audit events, ETags, and indexed lookups agreeing with scans.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::scim::SCIM_JSON;
use crate::common::{TestAppliance, expect_error, expect_json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn entra_user_lifecycle_replays_over_http() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    app.replay(&token, include_str!("../fixtures/scim/entra-user-lifecycle.json")).await;
}

#[tokio::test]
async fn entra_group_push_replays_over_http() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    app.replay(&token, include_str!("../fixtures/scim/entra-group-push.json")).await;
}

#[tokio::test]
async fn okta_user_lifecycle_replays_over_http() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    app.replay(&token, include_str!("../fixtures/scim/okta-user-lifecycle.json")).await;
}

#[tokio::test]
async fn okta_group_push_replays_over_http() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    app.replay(&token, include_str!("../fixtures/scim/okta-group-push.json")).await;
}

async fn create_user(app: &TestAppliance, token: &str, body: Value) -> Value {
    let (status, reply) = app.scim_call(token, "POST", "/Users", Some(&body)).await;
    assert_eq!(status, 201, "{reply}");
    reply
}

#[tokio::test]
async fn a_user_made_just_in_time_is_adopted_by_scim_not_duplicated() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    let (jit_id, _) = app.user_with_token("carol@example.com", "user").await;
    let (renamed_id, _) = app.user_with_token("dave.old@example.com", "user").await;
    let set_external =
        app.admin(Method::PATCH, &format!("/api/v1/users/{renamed_id}")).json(&json!({"external_id": "okta-dave"}));
    expect_json(set_external.send().await.unwrap(), 200).await;

    // Matched by userName (case differs, as IdPs and SSO subjects often do).
    let carol = create_user(
        &app,
        &token,
        json!({"schemas": [USER], "userName": "Carol@Example.com", "externalId": "okta-carol"}),
    )
    .await;
    assert_eq!(carol["id"], jit_id);
    // Matched by externalId after a rename in the identity provider.
    let dave = create_user(
        &app,
        &token,
        json!({"schemas": [USER], "userName": "dave@example.com", "externalId": "okta-dave"}),
    )
    .await;
    assert_eq!(dave["id"], renamed_id);
    assert_eq!(dave["userName"], "dave@example.com");

    let users = expect_json(app.admin(Method::GET, "/api/v1/users").send().await.unwrap(), 200).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 3, "admin + the two adopted users, no duplicates: {users}");
    let adopted =
        expect_json(app.admin(Method::GET, &format!("/api/v1/users/{jit_id}")).send().await.unwrap(), 200).await;
    assert_eq!(adopted["scim_managed"], true);
    assert_eq!(adopted["user_name"], "Carol@Example.com");

    // Once SCIM manages the account, a second push of the same name is a conflict, not another adoption.
    let (status, reply) = app
        .scim_call(&token, "POST", "/Users", Some(&json!({"schemas": [USER], "userName": "carol@example.com"})))
        .await;
    assert_eq!((status, reply["scimType"].as_str()), (409, Some("uniqueness")), "{reply}");
    // And the API no longer edits what the identity provider owns.
    let edit = app.admin(Method::PATCH, &format!("/api/v1/users/{jit_id}")).json(&json!({"display_name": "x"}));
    expect_error(edit.send().await.unwrap(), 409, "SCIM_MANAGED").await;
}

#[tokio::test]
async fn the_scim_token_opens_scim_only_and_rotation_revokes_the_old_one() {
    let app = TestAppliance::start().await;
    let (old_id, old) = app.scim_token().await;
    assert!(old_id.starts_with("tok_"));
    let (status, body) = app.scim_call(&app.admin_token, "GET", "/Users", None).await;
    assert_eq!(status, 401, "an API token is refused by SCIM: {body}");
    assert_eq!(body["status"], "401");
    expect_error(app.as_token(&old, Method::GET, "/api/v1/me").send().await.unwrap(), 401, "UNAUTHENTICATED").await;
    assert_eq!(app.scim_call(&old, "GET", "/Users", None).await.0, 200);

    let (new_id, new) = app.scim_token().await;
    assert_ne!(new_id, old_id);
    let response = app.scim(&old, Method::GET, "/Users").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(app.scim_call(&new, "GET", "/Users", None).await.0, 200);

    let (_, user_token) = app.user_with_token("plain", "user").await;
    let refused = app.as_token(&user_token, Method::POST, "/api/v1/scim/token").send().await.unwrap();
    expect_error(refused, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn read_only_users_refuse_api_creation_but_scim_still_provisions() {
    let app = TestAppliance::start_with(|c| c.users.read_only = true).await;
    let (_, token) = app.scim_token().await;
    let create = app.admin(Method::POST, "/api/v1/users").json(&json!({"user_name": "drifter"}));
    expect_error(create.send().await.unwrap(), 403, "USERS_READ_ONLY").await;
    create_user(&app, &token, json!({"schemas": [USER], "userName": "pushed@example.com"})).await;
    let users = expect_json(app.admin(Method::GET, "/api/v1/users").send().await.unwrap(), 200).await;
    let names: Vec<&str> = users["users"].as_array().unwrap().iter().filter_map(|u| u["user_name"].as_str()).collect();
    assert_eq!(names, ["admin", "pushed@example.com"]);
}

#[tokio::test]
async fn every_scim_write_is_audited_with_the_token_as_actor() {
    let app = TestAppliance::start().await;
    let (token_id, token) = app.scim_token().await;
    let user = create_user(&app, &token, json!({"schemas": [USER], "userName": "eve"})).await;
    let id = user["id"].as_str().unwrap();
    let deactivate = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    assert_eq!(app.scim_call(&token, "PATCH", &format!("/Users/{id}"), Some(&deactivate)).await.0, 200);
    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Eve"}]});
    assert_eq!(app.scim_call(&token, "PATCH", &format!("/Users/{id}"), Some(&rename)).await.0, 200);
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops", "members": [{"value": id}]});
    let (status, group) = app.scim_call(&token, "POST", "/Groups", Some(&group)).await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap();
    assert_eq!(app.scim_call(&token, "DELETE", &format!("/Groups/{gid}"), None).await.0, 204);

    let events = app.admin(Method::GET, "/api/v1/audit-events?event_type=scim.*").send().await.unwrap();
    let events = expect_json(events, 200).await;
    let mut kinds: Vec<&str> =
        events["audit_events"].as_array().unwrap().iter().filter_map(|e| e["event_type"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["scim.group.created", "scim.group.deleted", "scim.user.created", "scim.user.deactivated", "scim.user.updated"]
    );
    for event in events["audit_events"].as_array().unwrap() {
        assert_eq!(event["actor"], json!({"type": "token", "id": token_id}), "{event}");
    }
}

#[tokio::test]
async fn scim_groups_are_read_only_in_the_api_and_deleting_one_revokes_memberships() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    let user = create_user(&app, &token, json!({"schemas": [USER], "userName": "fay"})).await;
    let uid = user["id"].as_str().unwrap();
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Finance", "members": [{"value": uid}]});
    let (_, group) = app.scim_call(&token, "POST", "/Groups", Some(&body)).await;
    let gid = group["id"].as_str().unwrap();
    let (_, read) = app.scim_call(&token, "GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(read["groups"][0]["value"], gid);
    assert_eq!(read["groups"][0]["display"], "Finance");

    let edit = app.admin(Method::PATCH, &format!("/api/v1/groups/{gid}")).json(&json!({"display_name": "Money"}));
    expect_error(edit.send().await.unwrap(), 409, "SCIM_MANAGED").await;

    assert_eq!(app.scim_call(&token, "DELETE", &format!("/Groups/{gid}"), None).await.0, 204);
    let (_, read) = app.scim_call(&token, "GET", &format!("/Users/{uid}"), None).await;
    assert!(read.get("groups").is_none(), "membership revoked: {read}");
    // The name is free again.
    assert_eq!(app.scim_call(&token, "POST", "/Groups", Some(&body)).await.0, 201);
}

#[tokio::test]
async fn responses_are_scim_json_with_etags_and_if_match_guards_writes() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    let response = app
        .scim(&token, Method::POST, "/Users")
        .header("content-type", "application/json")
        .body(json!({"schemas": [USER], "userName": "gil"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["content-type"], SCIM_JSON);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["meta"]["version"], etag.as_str());
    assert_eq!(user["meta"]["location"], location.as_str());
    let id = user["id"].as_str().unwrap();

    let unchanged = app.scim(&token, Method::GET, &format!("/Users/{id}")).header("if-none-match", &etag);
    assert_eq!(unchanged.send().await.unwrap().status().as_u16(), 304);

    let stale = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "G"}]});
    let first = app.scim(&token, Method::PATCH, &format!("/Users/{id}")).header("if-match", &etag).json(&stale);
    assert_eq!(first.send().await.unwrap().status().as_u16(), 200);
    let again = app.scim(&token, Method::PATCH, &format!("/Users/{id}")).header("if-match", &etag).json(&stale);
    let again = again.send().await.unwrap();
    assert_eq!(again.status().as_u16(), 412);
    assert_eq!(again.headers()["content-type"], SCIM_JSON);

    // A PATCH that changes nothing keeps the version.
    let (_, before) = app.scim_call(&token, "GET", &format!("/Users/{id}"), None).await;
    let (_, after) = app.scim_call(&token, "PATCH", &format!("/Users/{id}"), Some(&stale)).await;
    assert_eq!(before["meta"]["version"], after["meta"]["version"]);

    let (status, body) = app.scim_call(&token, "GET", "/NoSuchThing", None).await;
    assert_eq!((status, body["status"].as_str()), (404, Some("404")), "{body}");
    let (status, body) = app.scim_call(&token, "POST", "/Schemas", Some(&json!({}))).await;
    assert_eq!((status, body["status"].as_str()), (405, Some("405")), "{body}");
    let (status, _) = app.scim_call(&token, "GET", "/Schemas?filter=id pr", None).await;
    assert_eq!(status, 403, "a filter on a discovery endpoint");
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []});
    let (status, body) = app.scim_call(&token, "POST", "/Bulk", Some(&bulk)).await;
    assert_eq!((status, body["status"].as_str()), (501, Some("501")), "{body}");
}

#[tokio::test]
async fn indexed_lookups_and_scans_find_the_same_users_and_root_search_spans_both_types() {
    let app = TestAppliance::start().await;
    let (_, token) = app.scim_token().await;
    for (name, ext) in
        [("h.one@example.com", "ext-1"), ("h.two@example.com", "ext-2"), ("i.three@example.org", "ext-3")]
    {
        let body = json!({"schemas": [USER], "userName": name, "externalId": ext, "emails": [{"value": name, "primary": true}]});
        create_user(&app, &token, body).await;
    }
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "H Team"});
    assert_eq!(app.scim_call(&token, "POST", "/Groups", Some(&group)).await.0, 201);
    let names = |list: &Value| -> Vec<String> {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (_, by_index) = app.scim_call(&token, "GET", "/Users?filter=userName eq \"H.TWO@example.com\"", None).await;
    let (_, by_scan) = app.scim_call(&token, "GET", "/Users?filter=emails.value ew \"two@example.com\"", None).await;
    assert_eq!(names(&by_index), ["h.two@example.com"]);
    assert_eq!(names(&by_index), names(&by_scan));
    let (_, by_external) = app.scim_call(&token, "GET", "/Users?filter=externalId eq \"ext-3\"", None).await;
    assert_eq!(names(&by_external), ["i.three@example.org"]);
    let (_, sorted) =
        app.scim_call(&token, "GET", "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2", None).await;
    assert_eq!((sorted["totalResults"].as_u64(), sorted["startIndex"].as_u64()), (Some(4), Some(2)));
    assert_eq!(names(&sorted), ["h.two@example.com", "h.one@example.com"]);
    let (_, group) = app.scim_call(&token, "GET", "/Groups?filter=displayName eq \"h team\"", None).await;
    assert_eq!(group["totalResults"], 1);

    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "meta.resourceType pr", "count": 10});
    let (status, all) = app.scim_call(&token, "POST", "/.search", Some(&search)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["totalResults"], 5, "four users (admin included) and one group: {all}");
}
