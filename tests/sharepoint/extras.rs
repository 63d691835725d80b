//! Versions, column metadata and permissions of synced entries, from the Graph emulator into a real drive
//! (`sides::sharepoint::extras`). The engine's part (writing an item's current content into the drive) is done
//! here by hand, as each run would, so each test looks only at what the extras pass adds.

use std::io::Read;
use std::sync::Arc;

use futures::StreamExt;
use reqwest::Method;
use scaidrive_connectors::clock::SystemClock;
use scaidrive_connectors::connectors::mappings::{IdentityMapping, IdentityType};
use scaidrive_connectors::drive::{
    Ace, AceSource, Drive, DrivePath, EntryRef, Origin, Permission, PrincipalId, WriteOptions,
};
use scaidrive_connectors::graph_emulator::Seed;
use scaidrive_connectors::identity::resolve::{Directory, Resolver};
use scaidrive_connectors::ids::{ConnectorId, EntryId, MappingId, ShareId, UserId};
use scaidrive_connectors::principals::{Role, User};
use scaidrive_connectors::sides::sharepoint::GraphClient;
use scaidrive_connectors::sides::sharepoint::client::{Call, encode_path};
use scaidrive_connectors::sides::sharepoint::extras::{Extras, ExtrasConfig};
use scaidrive_connectors::store::Store;
use scaidrive_connectors::sync::config::{Direction, Strategy};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::fixture::{CLIENT, DRIVE, Fixture, SECRET, TENANT};

const SITE: &str = "contoso.sharepoint.com,aaaaaaaa-1111-2222-3333-444444444444,bbbbbbbb-1111-2222-3333-444444444444";

fn seed() -> Seed {
    serde_json::from_value(json!({
        "tenants": [{"id": TENANT, "domains": ["contoso.onmicrosoft.com"]}],
        "apps": [{"tenant": TENANT, "client_id": CLIENT, "secrets": [SECRET], "roles": ["Sites.ReadWrite.All"]}],
        "users": [
            {"id": "u1", "display_name": "Alice Cooper", "mail": "alice@contoso.com", "user_principal_name": "alice@contoso.onmicrosoft.com"},
            {"id": "u2", "display_name": "Bob Dylan", "mail": "bob@contoso.com", "user_principal_name": "bob@contoso.onmicrosoft.com"},
            {"id": "u3", "display_name": "Carol King", "mail": "carol@contoso.com", "user_principal_name": "carol@contoso.onmicrosoft.com"}
        ],
        "sites": [{
            "id": SITE, "hostname": "contoso.sharepoint.com", "path": "/sites/sync", "name": "sync",
            "drives": [{
                "id": DRIVE, "name": "Documents",
                "columns": [
                    {"name": "Dept", "kind": "text"},
                    {"name": "DocId", "kind": "text", "read_only": true}
                ],
                "permissions": [{"roles": ["read"], "user": "u1"}, {"roles": ["write"], "site_group": "Team Members"}],
                "folders": ["Private"],
                "files": [
                    {"path": "Report.docx", "text": "three", "versions": ["one", "two"], "author": "alice@contoso.com",
                     "fields": {"Dept": "Sales", "DocId": "D-1"}},
                    {"path": "Private/plan.txt", "text": "plan"},
                    {"path": "Shared.txt", "text": "shared", "permissions": [
                        {"roles": ["write"], "link": {"type": "edit", "scope": "users"}, "recipients": ["u1"]},
                        {"roles": ["read"], "link": {"type": "view", "scope": "anonymous"}}
                    ]}
                ]
            }]
        }]
    }))
    .expect("seed")
}

fn user(name: &str, email: Option<&str>) -> User {
    User {
        id: UserId::new(),
        user_name: name.into(),
        display_name: name.into(),
        email: email.map(Into::into),
        active: true,
        role: Role::User,
        quota_bytes: None,
        external_id: None,
        department: None,
        manager: None,
        scim_managed: false,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        version: 1,
    }
}

/// The emulator, a drive with one share, and ScaiDrive users: Alice (matched by mail), Bob (mapped explicitly by
/// his Entra object id), and the connector's service account.
struct Env {
    fixture: Fixture,
    client: Arc<GraphClient>,
    store: Store,
    drive: Drive,
    share: ShareId,
    connector: ConnectorId,
    alice: User,
    bob: User,
    service: User,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn start() -> Env {
        let fixture = Fixture::start(seed()).await;
        let client = fixture.client();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db.redb")).expect("store");
        let drive = Drive::open(store.shared_db(), &dir.path().join("content"), Arc::new(SystemClock)).expect("drive");
        let service = user("svc", None);
        let share = drive.create_share("Team", None, None, Some(service.id)).expect("share").id;
        Env {
            fixture,
            client,
            store,
            drive,
            share,
            connector: ConnectorId::new(),
            alice: user("alice", Some("alice@contoso.com")),
            bob: user("bob", Some("robert@example.com")),
            service,
            _dir: dir,
        }
    }

    fn extras(&self, configure: impl FnOnce(&mut ExtrasConfig)) -> Extras {
        let mut config = ExtrasConfig {
            connector_id: self.connector,
            site_id: SITE.into(),
            sync_versions: false,
            sync_metadata: false,
            sync_permissions: false,
            direction: Direction::Bidirectional,
            strategy: Strategy::Manual,
        };
        configure(&mut config);
        let mapping = IdentityMapping {
            id: MappingId::new(),
            identity_type: IdentityType::User,
            smb_principal: "u2".into(),
            scaidrive_principal_id: PrincipalId::User(self.bob.id).to_string(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let directory = Directory::new(&[self.alice.clone(), self.bob.clone(), self.service.clone()], &[]);
        let resolver = Resolver::new(&[mapping], directory, Some(self.service.id));
        Extras::new(self.client.clone(), self.store.clone(), self.drive.clone(), self.share, config, resolver)
    }

    async fn get(&self, rest: &str) -> Value {
        self.client.json(&Call::new(Method::GET, self.client.drive_url(rest))).await.expect("Graph GET")
    }

    async fn item_id(&self, path: &str) -> String {
        let rest = if path.is_empty() { "/root".to_string() } else { format!("/root:/{}:", encode_path(path)) };
        self.get(&rest).await["id"].as_str().expect("id").to_string()
    }

    /// What the engine does for a changed file: its current SharePoint content written at the same path.
    async fn pull(&self, path: &str) -> (EntryId, String) {
        let item = self.get(&format!("/root:/{}:", encode_path(path))).await;
        let url = item["@microsoft.graph.downloadUrl"].as_str().expect("download url");
        let mut stream = self.client.download(url).await.expect("download");
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend(chunk.expect("chunk"));
        }
        let origin = Origin::connector(self.connector, "written_by_sync");
        let entry = self
            .drive
            .write_file(self.share, &p(path), &mut &bytes[..], &WriteOptions::new(origin))
            .expect("engine write");
        (entry.id, item["id"].as_str().expect("id").to_string())
    }

    fn folder(&self, path: &str) -> EntryId {
        let origin = Origin::connector(self.connector, "written_by_sync");
        self.drive.create_folder(self.share, &p(path), &origin).expect("folder").id
    }

    fn history(&self, path: &str) -> Vec<String> {
        let versions = self.drive.versions(self.share, &EntryRef::Path(p(path))).expect("versions");
        versions
            .iter()
            .map(|v| {
                let (_, mut r) = self.drive.read_version(self.share, v.id).expect("version");
                let mut s = String::new();
                r.read_to_string(&mut s).expect("read");
                s
            })
            .collect()
    }

    fn access(&self, path: &str, who: &User) -> Option<Permission> {
        self.drive.effective_access(self.share, &p(path), PrincipalId::User(who.id), &()).expect("access").permission
    }
}

fn p(path: &str) -> DrivePath {
    DrivePath::parse(&format!("/{path}")).expect("path")
}

#[tokio::test]
async fn a_file_with_three_versions_arrives_with_three_and_a_fourth_adds_exactly_one() {
    let env = Env::start().await;
    let (entry, item) = env.pull("Report.docx").await;
    let outcome = env.extras(|c| c.sync_versions = true).sync_entry(entry, &item).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(outcome.versions_added, 2);
    assert_eq!(env.history("Report.docx"), ["three", "two", "one"]);
    let versions = env.drive.versions(env.share, &EntryRef::Id(entry)).expect("versions");
    assert_eq!(versions[2].author_id, Some(env.alice.id), "the version's SharePoint author, mapped by mail");

    // Nothing new: nothing added, nothing downloaded again.
    let downloads = env.fixture.count("/versions/{v}/content");
    let again = env.extras(|c| c.sync_versions = true).sync_entry(entry, &item).await;
    assert_eq!(again.versions_added, 0);
    assert_eq!(env.fixture.count("/versions/{v}/content"), downloads);

    // A fourth version in SharePoint: the engine overwrites the current content; exactly one version more.
    env.fixture.act("u1", "Report.docx", json!({"action": "upload", "text": "four"}));
    env.pull("Report.docx").await;
    let fourth = env.extras(|c| c.sync_versions = true).sync_entry(entry, &item).await;
    assert_eq!((fourth.versions_added, fourth.failures.len()), (0, 0));
    assert_eq!(env.history("Report.docx"), ["four", "three", "two", "one"]);

    // Two versions between runs: the one the engine never saw as current is imported beneath the new current.
    env.fixture.act("u1", "Report.docx", json!({"action": "upload", "text": "five"}));
    env.fixture.act("u1", "Report.docx", json!({"action": "upload", "text": "six"}));
    env.pull("Report.docx").await;
    let later = env.extras(|c| c.sync_versions = true).sync_entry(entry, &item).await;
    assert_eq!(later.versions_added, 1);
    assert_eq!(env.history("Report.docx"), ["six", "five", "four", "three", "two", "one"]);
}

#[tokio::test]
async fn history_waits_while_the_drive_does_not_hold_sharepoints_newest_content() {
    let env = Env::start().await;
    let (entry, item) = env.pull("Report.docx").await;
    env.fixture.act("u1", "Report.docx", json!({"action": "upload", "text": "newer, not synced yet"}));
    let outcome = env.extras(|c| c.sync_versions = true).sync_entry(entry, &item).await;
    assert_eq!(outcome.versions_added, 0);
    assert_eq!(outcome.notes.len(), 1, "{:?}", outcome.notes);
    assert_eq!(env.history("Report.docx"), ["three"]);
    env.pull("Report.docx").await;
    let outcome = env.extras(|c| c.sync_versions = true).sync_entry(entry, &item).await;
    // "three" is already there (the engine kept it when it overwrote the file): only the two older ones come.
    assert_eq!(outcome.versions_added, 2);
    assert_eq!(env.history("Report.docx"), ["newer, not synced yet", "three", "two", "one"]);
}

#[tokio::test]
async fn column_values_arrive_in_metadata_and_only_writable_columns_edited_in_scaidrive_go_back() {
    let env = Env::start().await;
    let (entry, item) = env.pull("Report.docx").await;
    let target = EntryRef::Id(entry);
    let outcome = env.extras(|c| c.sync_metadata = true).sync_entry(entry, &item).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let metadata = env.drive.metadata(env.share, &target).expect("metadata");
    assert_eq!(metadata["sharepoint.Dept"], "Sales");
    assert_eq!(metadata["sharepoint.DocId"], "D-1");
    assert_eq!(metadata["sharepoint.Author"], "Alice Cooper", "system columns come along, read-only");
    assert!(!metadata.contains_key("sharepoint.FileLeafRef"), "the name is the engine's");

    // Edited in ScaiDrive: the writable column reaches SharePoint, the read-only one is put back.
    let edit = json!({"sharepoint.Dept": "Legal", "sharepoint.DocId": "forged", "mine": "untouched"});
    env.drive.merge_metadata(env.share, &target, edit.as_object().cloned().unwrap_or_default()).expect("edit");
    let outcome = env.extras(|c| c.sync_metadata = true).sync_entry(entry, &item).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(outcome.columns_sent, ["Dept"]);
    let fields = env.get(&format!("/items/{item}/listItem/fields")).await;
    assert_eq!((fields["Dept"].as_str(), fields["DocId"].as_str()), (Some("Legal"), Some("D-1")));
    let metadata = env.drive.metadata(env.share, &target).expect("metadata");
    assert_eq!((&metadata["sharepoint.DocId"], &metadata["mine"]), (&json!("D-1"), &json!("untouched")));

    // Edited in SharePoint: the drive follows.
    env.fixture.act("u1", "Report.docx", json!({"action": "set_fields", "fields": {"Dept": "HR"}}));
    env.extras(|c| c.sync_metadata = true).sync_entry(entry, &item).await;
    assert_eq!(env.drive.metadata(env.share, &target).expect("metadata")["sharepoint.Dept"], "HR");

    // One way into ScaiDrive: a drive edit never goes back.
    env.drive
        .merge_metadata(env.share, &target, json!({"sharepoint.Dept": "Ops"}).as_object().cloned().unwrap_or_default())
        .expect("edit");
    let one_way = env
        .extras(|c| {
            c.sync_metadata = true;
            c.direction = Direction::SourceToDrive;
        })
        .sync_entry(entry, &item)
        .await;
    assert!(one_way.columns_sent.is_empty());
    assert_eq!(env.get(&format!("/items/{item}/listItem/fields")).await["Dept"], "HR");
    assert_eq!(env.drive.metadata(env.share, &target).expect("metadata")["sharepoint.Dept"], "HR");
}

#[tokio::test]
async fn a_folder_with_broken_inheritance_gives_its_own_aces_its_children_inherit_and_unmapped_fall_back() {
    let env = Env::start().await;
    env.fixture.act(
        "u1",
        "Private",
        json!({"action": "break_inheritance", "permissions": [{"roles": ["owner"], "user": "u2"}, {"roles": ["read"], "user": "u3"}]}),
    );
    let root_entry = env.drive.entry_by_path(env.share, &DrivePath::root()).expect("root").id;
    let private = env.folder("Private");
    let (plan, plan_item) = env.pull("Private/plan.txt").await;
    let (report, report_item) = env.pull("Report.docx").await;
    let mut extras = env.extras(|c| c.sync_permissions = true);
    let root = extras.sync_root(root_entry, &env.item_id("").await).await;
    assert!(root.failures.is_empty(), "{:?}", root.failures);
    let folder = extras.sync_entry(private, &env.item_id("Private").await).await;
    assert!(folder.aces_changed && folder.failures.is_empty(), "{folder:?}");
    let child = extras.sync_entry(plan, &plan_item).await;
    assert!(child.failures.is_empty(), "{child:?}");
    extras.sync_entry(report, &report_item).await;

    // The folder: Bob (explicit mapping) manages; Carol is unmapped, so her read goes to the service account.
    let (aces, inherit) = env.drive.aces(env.share, &EntryRef::Id(private)).expect("aces");
    let sharepoint = |who: &User, permission| Ace {
        principal_id: PrincipalId::User(who.id),
        permission,
        kind: scaidrive_connectors::drive::AceType::Allow,
        inherited: false,
        source: AceSource::Sharepoint,
    };
    assert!(!inherit);
    assert!(aces.contains(&sharepoint(&env.bob, Permission::Manage)), "{aces:?}");
    assert!(aces.contains(&sharepoint(&env.service, Permission::Read)), "{aces:?}");
    assert_eq!(aces.len(), 2);
    // Its child has the folder's set: nothing of its own, and it inherits.
    assert_eq!(env.drive.aces(env.share, &EntryRef::Id(plan)).expect("aces"), (vec![], true));
    assert_eq!(env.access("Private/plan.txt", &env.bob), Some(Permission::Manage));
    assert_eq!(env.access("Private/plan.txt", &env.alice), None, "the library's grants stop at the broken folder");
    assert_eq!(env.access("Report.docx", &env.alice), Some(Permission::Read), "the library's set, from the root");

    let unmapped = extras.unmapped().to_list();
    let keys: Vec<&str> = unmapped.iter().map(|u| u.principal.as_str()).collect();
    assert!(keys.contains(&"u3"), "{unmapped:?}");
    assert!(keys.iter().any(|k| k.starts_with("siteGroup:")), "{unmapped:?}");
    assert!(!keys.contains(&"u1") && !keys.contains(&"u2"), "{unmapped:?}");

    // Inheritance restored in SharePoint: the folder's own ACEs go and it inherits again.
    env.fixture.act("u1", "Private", json!({"action": "restore_inheritance"}));
    let mut extras = env.extras(|c| c.sync_permissions = true);
    let restored = extras.sync_entry(private, &env.item_id("Private").await).await;
    assert!(restored.aces_changed, "{restored:?}");
    assert_eq!(env.drive.aces(env.share, &EntryRef::Id(private)).expect("aces"), (vec![], true));
    assert_eq!(env.access("Private/plan.txt", &env.alice), Some(Permission::Read));
}

#[tokio::test]
async fn a_link_sent_to_people_grants_them_and_an_anonymous_link_grants_nobody() {
    let env = Env::start().await;
    let (shared, item) = env.pull("Shared.txt").await;
    let root_item = env.item_id("").await;
    let root_entry = env.drive.entry_by_path(env.share, &DrivePath::root()).expect("root").id;
    let mut extras = env.extras(|c| c.sync_permissions = true);
    extras.sync_root(root_entry, &root_item).await;
    let outcome = extras.sync_entry(shared, &item).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    assert_eq!(outcome.notes.len(), 1, "the anonymous link is reported: {:?}", outcome.notes);
    let (aces, inherit) = env.drive.aces(env.share, &EntryRef::Id(shared)).expect("aces");
    assert!(!inherit);
    assert_eq!(
        aces.iter().map(|a| (a.principal_id, a.permission)).collect::<Vec<_>>(),
        [(PrincipalId::User(env.alice.id), Permission::Write)]
    );
    assert_eq!(env.access("Shared.txt", &env.alice), Some(Permission::Write));
    assert_eq!(env.access("Shared.txt", &env.bob), None);
}

#[tokio::test]
async fn with_every_extra_off_the_pass_costs_no_request() {
    let env = Env::start().await;
    let (entry, item) = env.pull("Report.docx").await;
    let before = env.fixture.emulator.counters();
    let outcome = env.extras(|_| {}).sync_entry(entry, &item).await;
    assert_eq!(outcome, Default::default());
    assert_eq!(env.fixture.emulator.counters(), before);
}
