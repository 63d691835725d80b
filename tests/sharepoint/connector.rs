//! The SharePoint connector through the appliance's HTTP API, against the in-process Graph emulator: the
//! appliance's `[sharepoint]` endpoints point at the emulator, everything else is as an administrator does it.
//! This file holds the set-up and the configuration/auth tests; `connector_sync.rs` the runs.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_error, expect_json, wait_until};
use crate::fixture::{CLIENT, DRIVE, Fixture, REDIRECT, SECRET, SITE, TENANT, seed};

/// An emulator seeded with `files`, an appliance pointed at it, and a target share.
pub struct Setup {
    pub fx: Fixture,
    pub app: TestAppliance,
    pub share: String,
}

impl Setup {
    pub async fn start(files: Vec<Value>) -> Self {
        Self::start_seeded(seed(files, None)).await
    }

    pub async fn start_seeded(seed: scaidrive_connectors::graph_emulator::Seed) -> Self {
        let fx = Fixture::start(seed).await;
        let (login, graph) = (fx.emulator.base_url.clone(), fx.emulator.graph_url());
        let app = TestAppliance::start_with(|config| {
            config.sharepoint.login_base = login;
            config.sharepoint.graph_base = graph;
            config.sharepoint.redirect_uri = Some(REDIRECT.into());
        })
        .await;
        let share = app.share("SharePoint mirror").await;
        Setup { fx, app, share }
    }

    /// The body of a valid create request, with `extra` merged in.
    pub fn body(&self, extra: Value) -> Value {
        let mut body = json!({
            "name": "Marketing SP Site",
            "site_url": "https://contoso.sharepoint.com/sites/sync",
            "site_id": SITE,
            "drive_id": DRIVE,
            "library_name": "Documents",
            "base_path": "Library",
            "azure_tenant_id": TENANT,
            "azure_client_id": CLIENT,
            "azure_client_secret": SECRET,
            "auth_type": "app_auth",
            "target_share_id": self.share,
            "target_path": "/From SharePoint",
            "sync_direction": "sharepoint_to_scaidrive",
        });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    }

    pub async fn connector(&self, extra: Value) -> String {
        let created = self.app.admin(Method::POST, "/api/v1/sharepoint-connectors").json(&self.body(extra));
        expect_json(created.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned()
    }

    pub fn path(&self, connector: &str, rest: &str) -> String {
        format!("/api/v1/sharepoint-connectors/{connector}{rest}")
    }

    /// Starts a sync (with `query`) and waits for its job to end; returns the job with its events.
    pub async fn sync_with(&self, connector: &str, query: &[(&str, &str)]) -> Value {
        let started = self.app.admin(Method::POST, &self.path(connector, "/sync")).query(query).send().await.unwrap();
        let job = expect_json(started, 202).await["job_id"].as_str().unwrap().to_owned();
        let url = self.path(connector, &format!("/jobs/{job}"));
        wait_until("the sync job to end", || {
            let request = self.app.admin(Method::GET, &url).send();
            async move {
                let job: Value = request.await.ok()?.json().await.ok()?;
                let status = job["status"].as_str()?.to_owned();
                (!["queued", "running"].contains(&status.as_str())).then_some(job)
            }
        })
        .await
    }

    pub async fn sync(&self, connector: &str) -> Value {
        self.sync_with(connector, &[]).await
    }

    /// A file of the target share, or `None` when it is not there.
    pub async fn read(&self, path: &str) -> Option<Vec<u8>> {
        let response = self
            .app
            .admin(Method::GET, &format!("/api/v1/shares/{}/content", self.share))
            .query(&[("path", format!("/From SharePoint/{path}"))])
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            return None;
        }
        Some(response.bytes().await.unwrap().to_vec())
    }

    /// The content of a library file (below the library root), as SharePoint holds it.
    pub async fn library_file(&self, path: &str) -> Option<Vec<u8>> {
        let side = self.fx.side("");
        let path = scaidrive_connectors::sync::SyncPath::new(path);
        let entry = scaidrive_connectors::sync::side::Side::stat(&side, &path).await.ok()??;
        let stream = scaidrive_connectors::sync::side::Side::read(&side, &path, &entry.state()).await.ok()?;
        let chunks: Vec<_> = futures::StreamExt::collect::<Vec<_>>(stream).await;
        Some(chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect())
    }

    pub async fn audit_types(&self) -> Vec<String> {
        let events = expect_json(self.app.admin(Method::GET, "/api/v1/audit-events").send().await.unwrap(), 200).await;
        let list = events["audit_events"].as_array().cloned().unwrap_or_default();
        list.iter().filter_map(|e| e["event_type"].as_str().map(str::to_owned)).collect()
    }
}

#[tokio::test]
async fn a_connector_is_created_with_every_field_and_the_secret_is_never_shown() {
    let s = Setup::start(vec![]).await;
    let created = s.app.admin(Method::POST, "/api/v1/sharepoint-connectors").json(&s.body(json!({
        "description": "Marketing team SharePoint library", "sync_permissions": true, "sync_versions": true,
        "sync_metadata": true, "sync_interval_minutes": 30, "conflict_resolution": "SHAREPOINT_WINS",
        "include_patterns": {"extensions": ["docx"], "patterns": []}
    })));
    let connector = expect_json(created.send().await.unwrap(), 201).await;
    let id = connector["id"].as_str().unwrap();
    for (field, value) in [
        ("site_id", json!(SITE)),
        ("drive_id", json!(DRIVE)),
        ("base_path", json!("Library")),
        ("auth_type", json!("app_auth")),
        ("azure_client_secret_set", json!(true)),
        ("sync_versions", json!(true)),
        ("sync_metadata", json!(true)),
        ("sync_permissions", json!(true)),
        ("conflict_resolution", json!("SHAREPOINT_WINS")),
        ("sync_direction", json!("sharepoint_to_scaidrive")),
        ("sync_interval_minutes", json!(30)),
    ] {
        assert_eq!(connector[field], value, "{field}: {connector}");
    }
    let read = expect_json(s.app.admin(Method::GET, &s.path(id, "")).send().await.unwrap(), 200).await;
    assert!(!read.to_string().contains(SECRET), "the secret never comes back: {read}");
    assert!(read.get("azure_client_secret").is_none());
    // At rest too: the secret is sealed in the database.
    assert!(crate::common::bytes_found_under(&s.app.data_dir(), SECRET.as_bytes()).is_none());

    let list = expect_json(s.app.admin(Method::GET, "/api/v1/sharepoint-connectors").send().await.unwrap(), 200).await;
    assert_eq!(list["connectors"].as_array().unwrap().len(), 1);
    let smb_list = expect_json(s.app.admin(Method::GET, "/api/v1/smb-connectors").send().await.unwrap(), 200).await;
    assert!(smb_list["connectors"].as_array().unwrap().is_empty(), "a SharePoint connector is not an SMB one");
    let as_smb = s.app.admin(Method::GET, &format!("/api/v1/smb-connectors/{id}")).send().await.unwrap();
    expect_error(as_smb, 404, "NOT_FOUND").await;
    assert!(s.audit_types().await.contains(&"connector.created".to_owned()));
}

#[tokio::test]
async fn bad_fields_are_listed_together_and_the_target_share_cannot_change() {
    let s = Setup::start(vec![]).await;
    let bad = s.body(json!({
        "site_url": "ftp://contoso", "azure_client_id": "nope", "sync_direction": "smb_to_scaidrive",
        "conflict_resolution": "SMB_WINS", "base_path": "../outside"
    }));
    let mut bad = bad.as_object().unwrap().clone();
    bad.remove("azure_client_secret");
    let refused = s.app.admin(Method::POST, "/api/v1/sharepoint-connectors").json(&bad).send().await.unwrap();
    let error = expect_error(refused, 422, "VALIDATION_FAILED").await;
    let mut fields: Vec<&str> =
        error["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["azure_client_id", "azure_client_secret", "base_path", "conflict_resolution", "site_url", "sync_direction"]
    );

    let id = s.connector(json!({})).await;
    let other = s.app.share("Other").await;
    let patch = s.app.admin(Method::PATCH, &s.path(&id, "")).json(&json!({"target_share_id": other}));
    expect_error(patch.send().await.unwrap(), 422, "IMMUTABLE_FIELD").await;
    let patch = s.app.admin(Method::PATCH, &s.path(&id, "")).json(&json!({"sync_direction": "bidirectional"}));
    assert_eq!(expect_json(patch.send().await.unwrap(), 200).await["sync_direction"], "bidirectional");
    let deleted = s.app.admin(Method::DELETE, &s.path(&id, "")).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    expect_error(s.app.admin(Method::GET, &s.path(&id, "")).send().await.unwrap(), 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_user_without_manage_on_the_share_cannot_see_or_create_connectors() {
    let s = Setup::start(vec![]).await;
    let id = s.connector(json!({})).await;
    let (_, token) = s.app.user_with_token("mallory", "user").await;
    let seen = s.app.as_token(&token, Method::GET, &s.path(&id, "")).send().await.unwrap();
    expect_error(seen, 404, "NOT_FOUND").await;
    let made = s.app.as_token(&token, Method::POST, "/api/v1/sharepoint-connectors").json(&s.body(json!({})));
    expect_error(made.send().await.unwrap(), 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn under_the_smb_prefix_a_sharepoint_connector_is_not_found_on_any_route() {
    let s = Setup::start(vec![]).await;
    let id = s.connector(json!({})).await;
    let smb = |rest: &str| format!("/api/v1/smb-connectors/{id}{rest}");
    let cfl = "cfl_01JAAAAAAAAAAAAAAAAAAAAAAA";
    for (method, path) in [
        (Method::GET, smb("")),
        (Method::GET, smb("/status")),
        (Method::POST, smb("/test")),
        (Method::GET, smb("/jobs")),
        (Method::GET, smb("/file-states")),
        (Method::GET, smb("/conflicts")),
        (Method::GET, smb("/unmapped-principals")),
        (Method::GET, smb("/identity-mappings")),
        (Method::POST, smb("/sync")),
        (Method::POST, smb("/pause")),
    ] {
        let answer = s.app.admin(method.clone(), &path).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{method} {path}");
        expect_error(answer, 404, "NOT_FOUND").await;
    }
    let resolve = s.app.admin(Method::POST, &smb(&format!("/conflicts/{cfl}/resolve")));
    expect_error(resolve.json(&json!({"resolution": "keep_source"})).send().await.unwrap(), 404, "NOT_FOUND").await;
    // Under its own prefix the same routes answer, and nothing above started a run.
    let jobs = expect_json(s.app.admin(Method::GET, &s.path(&id, "/jobs")).send().await.unwrap(), 200).await;
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(0), "{jobs}");
    expect_json(s.app.admin(Method::GET, &s.path(&id, "/conflicts")).send().await.unwrap(), 200).await;
}

#[tokio::test]
async fn test_reports_the_connection_the_site_the_library_and_the_permissions() {
    let s = Setup::start(vec![]).await;
    let id = s.connector(json!({})).await;
    let report = expect_json(s.app.admin(Method::POST, &s.path(&id, "/test")).send().await.unwrap(), 200).await;
    assert_eq!((report["connected"].as_bool(), report["site_accessible"].as_bool()), (Some(true), Some(true)));
    assert_eq!(
        (report["drive_accessible"].as_bool(), report["success"].as_bool()),
        (Some(true), Some(true)),
        "{report}"
    );
    let permissions: Vec<&str> =
        report["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(permissions.contains(&"Sites.ReadWrite.All"), "{report}");

    s.fx.knob("revoke_secret", json!({"client_id": CLIENT}));
    let report = expect_json(s.app.admin(Method::POST, &s.path(&id, "/test")).send().await.unwrap(), 200).await;
    assert_eq!((report["connected"].as_bool(), report["success"].as_bool()), (Some(false), Some(false)));
    assert_eq!(report["error"]["code"], "CONNECTOR_AUTH_FAILED", "{report}");
}

#[tokio::test]
async fn sites_drives_and_directory_lookups_find_what_a_mapping_needs() {
    let s = Setup::start(vec![]).await;
    // Created before the site and library are known; the lookups find them.
    let mut body = s.body(json!({}));
    body.as_object_mut().unwrap().retain(|k, _| k != "site_id" && k != "drive_id");
    let created = s.app.admin(Method::POST, "/api/v1/sharepoint-connectors").json(&body).send().await.unwrap();
    let id = expect_json(created, 201).await["id"].as_str().unwrap().to_owned();

    let job = s.sync(&id).await;
    assert_eq!(job["error"]["code"], "VALIDATION_FAILED", "a run needs the library: {job}");
    assert!(job["error"]["message"].as_str().unwrap().contains("drive_id"), "{job}");

    let sites = s.app.admin(Method::GET, &s.path(&id, "/sites")).query(&[("search", "sync")]).send();
    let sites = expect_json(sites.await.unwrap(), 200).await;
    assert_eq!(sites["sites"][0]["site_id"], SITE, "{sites}");
    let drives = s.app.admin(Method::GET, &s.path(&id, "/drives")).query(&[("site_id", SITE)]).send();
    let drives = expect_json(drives.await.unwrap(), 200).await;
    assert_eq!(drives["drives"][0]["drive_id"], DRIVE, "{drives}");
    let patch = s.app.admin(Method::PATCH, &s.path(&id, "")).json(&json!({"site_id": SITE, "drive_id": DRIVE}));
    assert_eq!(expect_json(patch.send().await.unwrap(), 200).await["drive_id"], DRIVE);

    let users = s.app.admin(Method::POST, &s.path(&id, "/azure/users/search")).json(&json!({"query": "alice"}));
    let users = expect_json(users.send().await.unwrap(), 200).await;
    assert_eq!(users["users"], json!([{"id": "u1", "email": "alice@contoso.com", "name": "Alice Cooper"}]));
    let groups = s.app.admin(Method::POST, &s.path(&id, "/azure/groups/search")).json(&json!({"query": "zzz"}));
    assert_eq!(expect_json(groups.send().await.unwrap(), 200).await["groups"], json!([]));

    // An identity mapping keyed by the Azure AD object id (in `smb_principal`, as the spec names it).
    let (user, _) = s.app.user_with_token("alice", "user").await;
    let guid = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let mapping = s.app.admin(Method::POST, &s.path(&id, "/identity-mappings")).json(&json!({
        "identity_type": "user", "smb_principal": guid, "scaidrive_principal_id": user
    }));
    let mapping = expect_json(mapping.send().await.unwrap(), 201).await;
    assert_eq!(mapping["smb_principal"], guid);
    let sid = s.app.admin(Method::POST, &s.path(&id, "/identity-mappings")).json(&json!({
        "identity_type": "user", "smb_principal": "S-1-5-21-1-2-3-1001", "scaidrive_principal_id": user
    }));
    expect_error(sid.send().await.unwrap(), 422, "VALIDATION_FAILED").await;
    let list = expect_json(s.app.admin(Method::GET, &s.path(&id, "/identity-mappings")).send().await.unwrap(), 200);
    assert_eq!(list.await["identity_mappings"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn user_auth_goes_through_authorize_and_the_callback_then_syncs_as_the_user() {
    let s = Setup::start(vec![json!({"path": "Library/shared.txt", "text": "from alice's library"})]).await;
    let id = s.connector(json!({"auth_type": "user_auth"})).await;
    // Before consent, a run cannot sign in and says what to do.
    let job = s.sync(&id).await;
    assert_eq!(job["error"]["code"], "CONNECTOR_AUTH_FAILED", "{job}");
    assert!(job["error"]["message"].as_str().unwrap().contains("authorize"), "{job}");

    let started = s.app.admin(Method::POST, &s.path(&id, "/authorize")).send().await.unwrap();
    let url = expect_json(started, 200).await["authorization_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&s.fx.emulator.base_url) && url.contains("code_challenge="), "{url}");
    // The browser: Microsoft signs the user in and redirects to the registered callback with code and state.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent = browser.get(&url).send().await.unwrap();
    assert_eq!(consent.status(), 302);
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let back = reqwest::Url::parse(&location).unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let callback = s.app.client.get(s.app.url("/api/v1/sharepoint-connectors/oauth/callback")).query(&query);
    let page = callback.send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("is authorized"));
    let read = expect_json(s.app.admin(Method::GET, &s.path(&id, "")).send().await.unwrap(), 200).await;
    assert_eq!(read["user_authorized"], true);
    // The same callback again is refused: the state was single-use.
    let replay = s.app.client.get(s.app.url("/api/v1/sharepoint-connectors/oauth/callback")).query(&query);
    assert!(replay.send().await.unwrap().text().await.unwrap().contains("failed"));

    // Runs sign in with the refresh token, which rotates on each use. The connector keeps the newest one: once
    // the tokens it has already used are revoked, the next run still signs in.
    let used: Vec<String> = s.fx.emulator.emulator.lock().grants.refresh.keys().cloned().collect();
    let job = s.sync(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.read("shared.txt").await.as_deref(), Some(&b"from alice's library"[..]));
    for token in &used {
        if let Some(grant) = s.fx.emulator.emulator.lock().grants.refresh.get_mut(token) {
            grant.revoked = true;
        }
    }
    assert_eq!(s.sync(&id).await["status"], "completed", "the rotated refresh token was kept");
    let types = s.audit_types().await;
    assert!(types.contains(&"connector.authorized".to_owned()), "{types:?}");
}

#[tokio::test]
async fn authorize_needs_user_auth_and_the_app_secret() {
    let s = Setup::start(vec![]).await;
    let app_only = s.connector(json!({})).await;
    let refused = s.app.admin(Method::POST, &s.path(&app_only, "/authorize")).send().await.unwrap();
    let error = expect_error(refused, 422, "VALIDATION_FAILED").await;
    assert_eq!(error["details"]["fields"][0]["field"], "auth_type");

    let mut body = s.body(json!({"auth_type": "user_auth"}));
    body.as_object_mut().unwrap().remove("azure_client_secret");
    let created = s.app.admin(Method::POST, "/api/v1/sharepoint-connectors").json(&body).send().await.unwrap();
    let created = expect_json(created, 201).await;
    assert_eq!(created["azure_client_secret_set"], false);
    let id = created["id"].as_str().unwrap();
    let refused = s.app.admin(Method::POST, &s.path(id, "/authorize")).send().await.unwrap();
    let error = expect_error(refused, 422, "VALIDATION_FAILED").await;
    assert_eq!(error["details"]["fields"][0]["field"], "azure_client_secret");
}
