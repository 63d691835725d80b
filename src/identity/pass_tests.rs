//! The permission pass over a scripted source: what it reads and when (new entries, moved tags, a changed
//! identity fingerprint), what ends in the drive, the job and the per-connector view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::*;
use crate::clock::ManualClock;
use crate::connectors::file_states;
use crate::connectors::jobs::Trigger;
use crate::connectors::mappings::{IdentityMapping, IdentityType};
use crate::drive::{AceType, DrivePath, EntryRef, Origin, Permission, Precondition, WriteOptions};
use crate::identity::resolve::{Directory, UnmappedReason};
use crate::ids::{MappingId, UserId};
use crate::sides::smb::acl::{AceKind, NtAce};
use crate::sides::smb::lsa::SidKind;
use crate::sync::execute::{BaseChange, StopFlag};
use crate::sync::{BaseRecord, Kind, SideState};

const ALICE: &str = "S-1-5-21-1-2-3-1000";
const BOB: &str = "S-1-5-21-1-2-3-1001";

/// ACLs by path and names by SID, with counts of what was asked.
#[derive(Default, Clone)]
struct Script {
    acls: Arc<Mutex<HashMap<String, NtAcl>>>,
    reads: Arc<Mutex<Vec<String>>>,
    lookups: Arc<Mutex<Vec<Sid>>>,
    refuse_lookups: bool,
}

impl PermissionSource for Script {
    async fn acl(&self, path: &SyncPath) -> Result<NtAcl, SideError> {
        self.reads.lock().expect("lock").push(path.as_str().to_owned());
        self.acls
            .lock()
            .expect("lock")
            .get(path.as_str())
            .cloned()
            .ok_or_else(|| SideError::new(crate::sync::ErrorCode::PermissionDenied, format!("{path}: access denied")))
    }

    async fn names(&mut self, sids: &[Sid]) -> Result<Vec<Option<LookedUpName>>, String> {
        if self.refuse_lookups {
            return Err("ACCESS_DENIED".into());
        }
        self.lookups.lock().expect("lock").extend(sids.iter().cloned());
        Ok(sids
            .iter()
            .map(|s| match s.to_string().as_str() {
                ALICE => Some(LookedUpName { kind: SidKind::User, domain: "CORP".into(), name: "alice".into() }),
                BOB => Some(LookedUpName { kind: SidKind::User, domain: "CORP".into(), name: "bob".into() }),
                _ => None,
            })
            .collect())
    }

    /// Tags starting with `t` move with ACLs (Windows-like); others do not (Samba-like).
    fn tag_tracks_acl(tag: &str, _modified: OffsetDateTime) -> bool {
        tag.starts_with('t')
    }
}

impl Script {
    fn set(&self, path: &str, owner: &str, allows: &[&str]) {
        let dacl = allows
            .iter()
            .map(|s| NtAce { kind: AceKind::Allow, flags: 0, mask: 0x1f01ff, sid: Some(s.parse().expect("sid")) })
            .collect();
        let acl = NtAcl {
            owner: Some(owner.parse().expect("sid")),
            group: None,
            dacl: Some(dacl),
            dacl_protected: false,
            dacl_auto_inherited: false,
        };
        self.acls.lock().expect("lock").insert(path.to_owned(), acl);
    }

    fn take_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.reads.lock().expect("lock"))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    drive: Drive,
    clock: SharedClock,
    share: ShareId,
    connector: ConnectorId,
    alice: UserId,
    service: UserId,
    ids: HashMap<String, EntryId>,
}

impl Fixture {
    /// A drive with `/team` and `/team/a.txt`, and base records for both (as a content run leaves them).
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.redb")).expect("store");
        let clock: SharedClock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let drive = Drive::open(store.shared_db(), &dir.path().join("content"), clock.clone()).expect("drive");
        let service = UserId::new();
        let share = drive.create_share("Mirror", None, None, Some(service)).expect("share").id;
        let origin = Origin::user(service);
        let folder = drive.create_folder(share, &DrivePath::parse("/team").expect("path"), &origin).expect("folder");
        let file = drive
            .write_file(
                share,
                &DrivePath::parse("/team/a.txt").expect("path"),
                &mut &b"x"[..],
                &WriteOptions::new(origin),
            )
            .expect("file");
        let mut f = Fixture {
            _dir: dir,
            store,
            drive,
            clock,
            share,
            connector: ConnectorId::new(),
            alice: UserId::new(),
            service,
            ids: HashMap::from([("team".to_owned(), folder.id), ("team/a.txt".to_owned(), file.id)]),
        };
        f.base("team", Kind::Folder, "t1");
        f.base("team/a.txt", Kind::File, "t1");
        f
    }

    fn base(&mut self, path: &str, kind: Kind, tag: &str) {
        let side = |id: String| SideState {
            id: id.into(),
            kind,
            size: 0,
            modified: OffsetDateTime::UNIX_EPOCH,
            tag: tag.into(),
            hash: None,
        };
        let record = BaseRecord {
            path: SyncPath::new(path),
            source: side("smb".into()),
            drive: side(self.ids[path].to_string()),
            sha256: None,
        };
        file_states::commit(&self.store, self.connector, &[BaseChange::Put(record)]).expect("base");
    }

    fn resolver(&self, mappings: &[IdentityMapping]) -> Resolver {
        Resolver::new(mappings, Directory::default(), Some(self.service))
    }

    fn alice_by_sid(&self) -> IdentityMapping {
        IdentityMapping {
            id: MappingId::new(),
            identity_type: IdentityType::User,
            smb_principal: ALICE.into(),
            scaidrive_principal_id: self.alice.to_string(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    async fn pass(&self, source: &mut Script, resolver: Resolver) -> Job {
        let stop = StopFlag::default();
        let pass = Pass {
            store: &self.store,
            drive: &self.drive,
            share: self.share,
            connector: self.connector,
            stop: &stop,
            clock: &self.clock,
        };
        let mut job = Job::new(self.connector, Trigger::Manual, self.clock.now());
        job.status = JobStatus::Completed;
        pass.run(source, resolver, &mut job).await.expect("pass");
        job
    }

    fn owner(&self, path: &str) -> Option<UserId> {
        self.drive.entry(self.share, &EntryRef::Id(self.ids[path])).expect("entry").owner_id
    }

    fn aces(&self, path: &str) -> Vec<Ace> {
        self.drive.aces(self.share, &EntryRef::Id(self.ids[path])).expect("aces").0
    }
}

fn updated(job: &Job) -> u64 {
    job.permissions.as_ref().map_or(0, |p| p.updated)
}

fn unmapped(job: &Job) -> Vec<crate::identity::resolve::UnmappedPrincipal> {
    job.permissions.as_ref().map(|p| p.unmapped_principals.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_first_pass_sets_owners_and_aces_and_a_second_reads_nothing() {
    let f = Fixture::new();
    let mut source = Script::default();
    source.set("team", ALICE, &[ALICE]);
    source.set("team/a.txt", BOB, &[ALICE, BOB]);
    let job = f.pass(&mut source, f.resolver(&[f.alice_by_sid()])).await;

    assert_eq!(updated(&job), 2);
    assert_eq!(f.owner("team"), Some(f.alice));
    assert_eq!(f.owner("team/a.txt"), Some(f.service), "Bob maps to nobody: the service account owns his file");
    let mut aces: Vec<_> = f.aces("team/a.txt").iter().map(|a| (a.principal_id, a.permission, a.kind)).collect();
    aces.sort_by_key(|a| a.0.to_string());
    let mut expected = vec![
        (PrincipalId::User(f.alice), Permission::Manage, AceType::Allow),
        (PrincipalId::User(f.service), Permission::Manage, AceType::Allow),
    ];
    expected.sort_by_key(|a| a.0.to_string());
    assert_eq!(aces, expected, "Alice's allow is carried over, and Bob's goes to the service account");
    assert_eq!(unmapped(&job).len(), 1);
    let list = unmapped(&job);
    let bob = &list[0];
    assert_eq!(
        (bob.principal.as_str(), bob.name.as_deref(), bob.reason),
        (BOB, Some(r"CORP\bob"), UnmappedReason::NoMatch)
    );
    assert_eq!((bob.count, bob.owner_count), (1, 1));
    let events = jobs::events(&f.store, job.id, None, 10).expect("events");
    assert!(events.iter().any(|e| e.path == "team/a.txt" && e.code.as_deref() == Some("UNMAPPED_OWNER")), "{events:?}");
    assert_eq!(
        source.lookups.lock().expect("lock").as_slice(),
        [BOB.parse::<Sid>().expect("sid")],
        "Alice is mapped by SID: only Bob is looked up, once"
    );

    source.take_reads();
    let again = f.pass(&mut source, f.resolver(&[f.alice_by_sid()])).await;
    assert_eq!(source.take_reads(), Vec::<String>::new(), "nothing changed: no ACL is read");
    assert_eq!((updated(&again), unmapped(&again).len()), (0, 0));
    let summary = states::summary(&f.store, f.connector).expect("summary");
    assert_eq!(summary.unmapped.to_list()[0].count, 1, "the connector's view still counts Bob's file once");
}

#[tokio::test]
async fn a_moved_tag_reads_that_entry_only_and_a_new_mapping_reads_nothing() {
    let mut f = Fixture::new();
    let mut source = Script::default();
    source.set("team", ALICE, &[ALICE]);
    source.set("team/a.txt", ALICE, &[ALICE]);
    f.pass(&mut source, f.resolver(&[])).await;
    assert_eq!(f.owner("team/a.txt"), Some(f.service), "no mapping yet: the service account owns it");
    let aces: Vec<_> = f.aces("team/a.txt").iter().map(|a| (a.principal_id, a.kind)).collect();
    assert_eq!(aces, vec![(PrincipalId::User(f.service), AceType::Allow)], "and takes Alice's allow");
    assert_eq!(states::summary(&f.store, f.connector).expect("summary").unmapped.to_list()[0].count, 2);

    source.take_reads();
    let job = f.pass(&mut source, f.resolver(&[f.alice_by_sid()])).await;
    assert!(source.take_reads().is_empty(), "a mapping added later needs no ACL read");
    assert_eq!(updated(&job), 2);
    assert_eq!((f.owner("team"), f.owner("team/a.txt")), (Some(f.alice), Some(f.alice)));
    assert!(states::summary(&f.store, f.connector).expect("summary").unmapped.is_empty(), "Alice is mapped now");

    // An ACL-only change: the source's tag moves, content does not.
    source.set("team/a.txt", ALICE, &[ALICE, BOB]);
    f.base("team/a.txt", Kind::File, "t2");
    let job = f.pass(&mut source, f.resolver(&[f.alice_by_sid()])).await;
    assert_eq!(source.take_reads(), ["team/a.txt"]);
    assert_eq!(updated(&job), 1, "Bob maps to nobody: his allow goes to the service account");
    let aces: Vec<_> = f.aces("team/a.txt").iter().map(|a| a.principal_id).collect();
    assert!(aces.contains(&PrincipalId::User(f.service)) && aces.contains(&PrincipalId::User(f.alice)), "{aces:?}");
    assert_eq!(unmapped(&job)[0].principal, BOB, "and the job reports him: the ACL names him now");
}

#[tokio::test]
async fn refused_lookups_still_map_by_sid_and_an_unreadable_acl_is_an_error_of_the_job() {
    let f = Fixture::new();
    let mut source = Script { refuse_lookups: true, ..Default::default() };
    source.set("team", ALICE, &[ALICE, BOB]);
    let job = f.pass(&mut source, f.resolver(&[f.alice_by_sid()])).await;
    assert_eq!(f.owner("team"), Some(f.alice), "a SID-keyed mapping needs no lookup");
    assert_eq!((job.status, job.error_count, updated(&job)), (JobStatus::CompletedWithErrors, 1, 1));
    let events = jobs::events(&f.store, job.id, None, 10).expect("events");
    let codes: Vec<_> = events.iter().map(|e| (e.path.as_str(), e.code.as_deref().unwrap_or(""))).collect();
    assert!(codes.contains(&("", "LOOKUP_REFUSED")), "{codes:?}");
    assert!(codes.contains(&("team/a.txt", "PERMISSION_DENIED")), "{codes:?}");
    assert!(
        states::get(&f.store, f.connector, &SyncPath::new("team/a.txt")).expect("get").is_none(),
        "read again next run"
    );
}

#[tokio::test]
async fn an_entry_no_longer_synced_leaves_the_connector_view() {
    let f = Fixture::new();
    let mut source = Script::default();
    source.set("team", ALICE, &[]);
    source.set("team/a.txt", BOB, &[]);
    f.pass(&mut source, f.resolver(&[])).await;
    assert_eq!(states::summary(&f.store, f.connector).expect("summary").unmapped.to_list().len(), 2);
    file_states::commit(&f.store, f.connector, &[BaseChange::Forget(SyncPath::new("team/a.txt"))]).expect("forget");
    f.pass(&mut source, f.resolver(&[])).await;
    let left = states::summary(&f.store, f.connector).expect("summary").unmapped.to_list();
    assert_eq!(left.iter().map(|u| u.principal.as_str()).collect::<Vec<_>>(), [ALICE], "Bob owned only the file");
}

#[tokio::test]
async fn a_folder_gaining_an_allow_its_child_lacks_stops_the_child_inheriting() {
    let f = Fixture::new();
    let mut source = Script::default();
    source.set("team", ALICE, &[ALICE]);
    source.set("team/a.txt", ALICE, &[ALICE]);
    let mappings = [
        f.alice_by_sid(),
        IdentityMapping {
            smb_principal: BOB.into(),
            scaidrive_principal_id: UserId::new().to_string(),
            ..f.alice_by_sid()
        },
    ];
    f.pass(&mut source, f.resolver(&mappings)).await;
    assert!(
        f.drive.aces(f.share, &EntryRef::Id(f.ids["team/a.txt"])).expect("aces").1,
        "the file covers its folder: it inherits"
    );

    // Bob gets the folder only ("this folder only" on SMB): the file must not inherit it in ScaiDrive.
    source.set("team", ALICE, &[ALICE, BOB]);
    let mut f = f;
    f.base("team", Kind::Folder, "t2");
    f.pass(&mut source, f.resolver(&mappings)).await;
    assert!(
        !f.drive.aces(f.share, &EntryRef::Id(f.ids["team/a.txt"])).expect("aces").1,
        "inheriting would grant Bob the file"
    );
}

#[tokio::test]
async fn a_share_whose_tags_cannot_show_acl_edits_has_every_acl_read_each_run() {
    let mut f = Fixture::new();
    f.base("team", Kind::Folder, "u1");
    f.base("team/a.txt", Kind::File, "u1");
    let bob = IdentityMapping {
        smb_principal: BOB.into(),
        scaidrive_principal_id: UserId::new().to_string(),
        ..f.alice_by_sid()
    };
    let mappings = [f.alice_by_sid(), bob];
    let mut source = Script::default();
    source.set("team", ALICE, &[ALICE]);
    source.set("team/a.txt", ALICE, &[ALICE]);
    f.pass(&mut source, f.resolver(&mappings)).await;
    source.take_reads();

    // An ACL edit that leaves the tag as it was (Samba): found all the same, and only that entry is written.
    source.set("team/a.txt", ALICE, &[ALICE, BOB]);
    let job = f.pass(&mut source, f.resolver(&mappings)).await;
    let mut reads = source.take_reads();
    reads.sort();
    assert_eq!(reads, ["team", "team/a.txt"]);
    assert_eq!(updated(&job), 1);
    assert_eq!(f.aces("team/a.txt").len(), 2);
    let events = jobs::events(&f.store, job.id, None, 10).expect("events");
    assert!(events.is_empty(), "re-reading unchanged ACLs is no news: {events:?}");
}

#[tokio::test]
async fn an_entry_gone_from_the_drive_is_read_again_next_run_and_a_deleted_connector_leaves_no_records() {
    let f = Fixture::new();
    let mut source = Script::default();
    source.set("team", ALICE, &[ALICE]);
    source.set("team/a.txt", BOB, &[]);
    let file = DrivePath::parse("/team/a.txt").expect("path");
    f.drive
        .delete_entry(f.share, &EntryRef::Path(file), &Precondition::None, &Origin::user(f.service))
        .expect("delete");
    let job = f.pass(&mut source, f.resolver(&[f.alice_by_sid()])).await;
    assert_eq!(updated(&job), 1, "only the folder is still there");
    assert!(states::get(&f.store, f.connector, &SyncPath::new("team/a.txt")).expect("get").is_none());
    assert!(states::get(&f.store, f.connector, &SyncPath::new("team")).expect("get").is_some());

    let txn = f.store.db().begin_write().expect("txn");
    states::remove_all(&txn, f.connector).expect("remove");
    txn.commit().expect("commit");
    assert!(states::get(&f.store, f.connector, &SyncPath::new("team")).expect("get").is_none());
    assert_eq!(states::summary(&f.store, f.connector).expect("summary"), states::PermissionSummary::default());
}
