//! Permissions flowing from SMB into ScaiDrive in real runs (`sync_permissions: true`): NT ACLs set on a real
//! Samba share (`samba-tool ntacl`), names looked up over LSA, identity mappings made through the API, and the
//! outcome read back through the API as a user would: owners, effective access, inheritance, the job's
//! counters and warnings, and the connector's unmapped principals.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestAppliance, expect_json, wait_until};
use crate::samba::{NETBIOS_NAME, Samba};

/// A share with Alice's team folder, as an SMB admin would set it up, and the ScaiDrive side of the story.
struct Setup {
    samba: Samba,
    app: TestAppliance,
    share: String,
    connector: String,
    admin: String,
    alice: String,
    robert: String,
    carol: String,
    alice_sid: String,
    bob_sid: String,
    ghost_sid: String,
}

/// On SMB: `team/` breaks inheritance (Alice full control, the team group read, both inherited by children);
/// `team/report.txt` is Alice's, denies Bob write but allows him modify, lets the team and Everyone read;
/// `team/orphan.txt` is owned by an account the server does not know. In ScaiDrive: Alice is found by her
/// name through LSA, Bob is mapped as `SERVER\bob` to Robert, the team's SID to a group holding Carol.
async fn setup() -> Setup {
    let mut samba = Samba::start();
    let alice = samba.user().clone();
    let bob = samba.add_user();
    let (alice_sid, bob_sid) = (samba.user_sid(&alice), samba.user_sid(&bob));
    let team_sid = format!("{}-3000", samba.machine_sid());
    let ghost_sid = format!("{}-4242", samba.machine_sid());
    std::fs::create_dir_all(samba.share_dir().join("team")).expect("mkdir");
    std::fs::write(samba.share_dir().join("team/report.txt"), b"numbers").expect("write");
    std::fs::write(samba.share_dir().join("team/orphan.txt"), b"who?").expect("write");
    samba.set_ntacl(
        "team",
        &format!("O:{alice_sid}G:{alice_sid}D:P(A;OICI;0x001f01ff;;;{alice_sid})(A;OICI;0x001200a9;;;{team_sid})"),
    );
    samba.set_ntacl(
        "team/report.txt",
        &format!(
            "O:{alice_sid}G:{alice_sid}D:(D;;0x00000116;;;{bob_sid})(A;;0x001f01ff;;;{alice_sid})\
             (A;;0x001301bf;;;{bob_sid})(A;;0x001200a9;;;{team_sid})(A;;0x001200a9;;;S-1-1-0)"
        ),
    );
    samba.set_ntacl("team/orphan.txt", &format!("O:{ghost_sid}G:{alice_sid}D:(A;;0x001f01ff;;;{alice_sid})"));

    let app = TestAppliance::start().await;
    let admin = expect_json(app.admin(Method::GET, "/api/v1/me").send().await.unwrap(), 200).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (alice_id, _) = app.user_with_token(&alice.name, "user").await;
    let (robert, _) = app.user_with_token("robert", "user").await;
    let (carol, _) = app.user_with_token("carol", "user").await;
    let team = app.admin(Method::POST, "/api/v1/groups").json(&json!({"display_name": "Team", "members": [carol]}));
    let team = expect_json(team.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned();
    let share = app.share("Mirror").await;
    let body = json!({
        "name": "Team share",
        "server": format!("smb://127.0.0.1:{}/data", samba.port),
        "username": alice.name,
        "password": alice.password,
        "target_share_id": share,
        "target_path": "/From SMB",
        "sync_direction": "smb_to_scaidrive",
        "sync_permissions": true,
    });
    let created = app.admin(Method::POST, "/api/v1/smb-connectors").json(&body).send().await.unwrap();
    let connector = expect_json(created, 201).await["id"].as_str().unwrap().to_owned();
    map(&app, &connector, "user", &format!(r"{NETBIOS_NAME}\{}", bob.name), &robert).await;
    map(&app, &connector, "group", &team_sid, &team).await;
    Setup { samba, app, share, connector, admin, alice: alice_id, robert, carol, alice_sid, bob_sid, ghost_sid }
}

async fn map(app: &TestAppliance, connector: &str, kind: &str, principal: &str, to: &str) {
    let body = json!({"identity_type": kind, "smb_principal": principal, "scaidrive_principal_id": to});
    let url = format!("/api/v1/smb-connectors/{connector}/identity-mappings");
    expect_json(app.admin(Method::POST, &url).json(&body).send().await.unwrap(), 201).await;
}

impl Setup {
    /// Starts a sync and waits for its job to end; returns the job with its events.
    async fn sync(&self) -> Value {
        let url = format!("/api/v1/smb-connectors/{}/sync", self.connector);
        let job = expect_json(self.app.admin(Method::POST, &url).send().await.unwrap(), 202).await["job_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let url = format!("/api/v1/smb-connectors/{}/jobs/{job}", self.connector);
        let job = wait_until("the sync job to end", || {
            let request = self.app.admin(Method::GET, &url).send();
            async move {
                let job: Value = request.await.ok()?.json().await.ok()?;
                (!["queued", "running"].contains(&job["status"].as_str()?)).then_some(job)
            }
        })
        .await;
        assert_eq!(job["status"], "completed", "{job}");
        job
    }

    async fn entry(&self, path: &str) -> Value {
        let url = format!("/api/v1/shares/{}/entries", self.share);
        let request = self.app.admin(Method::GET, &url).query(&[("path", format!("/From SMB/{path}"))]);
        expect_json(request.send().await.unwrap(), 200).await
    }

    /// The permission `principal` holds at `path` (`null` for none).
    async fn access(&self, path: &str, principal: &str) -> Value {
        let url = format!("/api/v1/shares/{}/effective-access", self.share);
        let query = [("path", format!("/From SMB/{path}")), ("principal_id", principal.to_owned())];
        let access = self.app.admin(Method::GET, &url).query(&query).send().await.unwrap();
        expect_json(access, 200).await["permission"].clone()
    }

    async fn unmapped(&self) -> Vec<Value> {
        let url = format!("/api/v1/smb-connectors/{}/unmapped-principals", self.connector);
        let list = expect_json(self.app.admin(Method::GET, &url).send().await.unwrap(), 200).await;
        list["unmapped_principals"].as_array().unwrap().clone()
    }

    async fn version_count(&self, path: &str) -> u64 {
        self.entry(path).await["version_count"].as_u64().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb_owners_groups_denies_and_broken_inheritance_arrive_in_scaidrive() {
    let s = setup().await;
    let job = s.sync().await;
    assert_eq!(job["permissions"]["updated"], 3, "the folder and both files: {job}");

    let report = s.entry("team/report.txt").await;
    assert_eq!(report["owner_id"], s.alice.as_str(), "a file owned by a mapped user shows that owner");
    assert_eq!(s.access("team/report.txt", &s.alice).await, "manage");
    assert_eq!(s.access("team/report.txt", &s.carol).await, "read", "the team's ACE maps to the ScaiDrive group");
    assert_eq!(s.access("team/report.txt", &s.robert).await, "read", "Bob's deny-write ACE denies in ScaiDrive");
    let aces = s.app.admin(Method::GET, &format!("/api/v1/shares/{}/aces", s.share));
    let aces = expect_json(aces.query(&[("path", "/From SMB/team")]).send().await.unwrap(), 200).await;
    assert_eq!(aces["inherit"], false, "broken inheritance on the SMB folder is broken here: {aces}");
    assert!(aces["aces"].as_array().unwrap().iter().all(|a| a["source"] == "smb"), "{aces}");

    let orphan = s.entry("team/orphan.txt").await;
    assert_eq!(orphan["owner_id"], s.admin.as_str(), "an unmapped owner falls back to the connector's account");
    let warned = job["events"].as_array().unwrap().iter().any(|e| {
        e["path"] == "team/orphan.txt"
            && e["code"] == "UNMAPPED_OWNER"
            && e["message"].as_str().unwrap().contains(&s.ghost_sid)
    });
    assert!(warned, "the job log warns about the unmapped owner: {job}");
    let in_job = job["permissions"]["unmapped_principals"].as_array().unwrap();
    assert!(in_job.iter().any(|u| u["principal"] == s.ghost_sid.as_str() && u["owner_count"] == 1), "{job}");

    let unmapped = s.unmapped().await;
    let ghost = unmapped.iter().find(|u| u["principal"] == s.ghost_sid.as_str()).expect("the ghost is listed");
    assert_eq!((ghost["count"].as_u64(), ghost["reason"].as_str()), (Some(1), Some("no_match")));
    let everyone = unmapped.iter().find(|u| u["principal"] == "S-1-1-0").expect("Everyone is listed");
    assert_eq!(everyone["reason"], "all_users", "{unmapped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_change_and_a_later_mapping_update_permissions_without_moving_content() {
    let mut s = setup().await;
    s.sync().await;
    assert_eq!(s.access("team/report.txt", &s.robert).await, "read");
    let versions = s.version_count("team/report.txt").await;

    // Bob's deny goes on SMB; the content stays as it is.
    let (alice_sid, bob_sid) = (s.alice_sid.clone(), s.bob_sid.clone());
    s.samba.set_ntacl(
        "team/report.txt",
        &format!("O:{alice_sid}G:{alice_sid}D:(A;;0x001f01ff;;;{alice_sid})(A;;0x001301bf;;;{bob_sid})"),
    );
    let job = s.sync().await;
    assert_eq!(s.access("team/report.txt", &s.robert).await, "write", "the ACL change arrived");
    assert_eq!(job["bytes_transferred"], 0, "no content moved: {job}");
    assert_eq!(job["permissions"]["updated"], 1, "only the changed file's ACEs were set: {job}");
    assert_eq!(s.version_count("team/report.txt").await, versions, "no new version");

    // The ghost gets a ScaiDrive account and a mapping: its file changes owner, nothing else moves.
    let (ghost_user, _) = s.app.user_with_token("ghostwriter", "user").await;
    map(&s.app, &s.connector, "user", &s.ghost_sid, &ghost_user).await;
    let job = s.sync().await;
    assert_eq!(s.entry("team/orphan.txt").await["owner_id"], ghost_user.as_str(), "the mapping fixed ownership");
    assert_eq!((job["bytes_transferred"].as_u64(), job["files_synced"].as_u64()), (Some(0), Some(0)), "{job}");
    assert!(s.unmapped().await.iter().all(|u| u["principal"] != s.ghost_sid.as_str()), "the ghost is mapped now");
}
