//! The connector actors with a fake launcher whose runs the test steps through: each run waits at a "between
//! files" point until the test lets it go, then ends paused if its stop flag was set, completed otherwise.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use tokio::sync::{mpsc, oneshot};

use super::connector::{ConnectorMessage, Launcher, RunOrder, RunState, SyncRefused};
use super::connectors::{ConnectorsArgs, ConnectorsMessage, ConnectorsSupervisor};
use super::scheduler::{Scheduler, SchedulerArgs, SchedulerMessage};
use crate::clock::{ManualClock, SharedClock};
use crate::connectors::jobs::{self, Job, JobStatus, Trigger};
use crate::connectors::settings::SMB;
use crate::connectors::{CommonInput, Connectors, Problems, SmbSettings};
use crate::ids::{ConnectorId, JobId, ShareId};
use crate::principals::Acting;
use crate::secrets::{Plaintext, Sealer};
use crate::store::Store;
use crate::sync::execute::StopSignal;

/// A run the test holds: its order, and the switch that lets it reach its next stop point.
struct HeldRun {
    job: JobId,
    trigger: Trigger,
    release: oneshot::Sender<()>,
}

struct Fixture {
    _dir: tempfile::TempDir,
    connectors: Connectors,
    supervisor: ActorRef<ConnectorsMessage>,
    runs: mpsc::UnboundedReceiver<HeldRun>,
    clock: SharedClock,
    manual: Arc<ManualClock>,
}

fn fake_launcher(_store: Store) -> (Launcher, mpsc::UnboundedReceiver<HeldRun>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let launcher: Launcher = Arc::new(move |order: RunOrder| {
        let (release, released) = oneshot::channel();
        let _ = tx.send(HeldRun { job: order.job.id, trigger: order.job.trigger, release });
        Box::pin(async move {
            let _ = released.await;
            let mut job: Job = order.job;
            job.status = if order.stop.stop_requested() { JobStatus::Paused } else { JobStatus::Completed };
            job
        })
    });
    (launcher, rx)
}

async fn fixture() -> (Fixture, ConnectorId) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.redb")).unwrap();
    let manual = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
    let clock: SharedClock = manual.clone();
    let connectors = Connectors::new(store.clone(), Arc::new(Sealer::from_key(&[1; 32])), clock.clone());
    let id = add_connector(&connectors);
    let (launcher, runs) = fake_launcher(store);
    let args = ConnectorsArgs { connectors: connectors.clone(), launcher, clock: clock.clone() };
    let (supervisor, _) = Actor::spawn(None, ConnectorsSupervisor, args).await.unwrap();
    (Fixture { _dir: dir, connectors, supervisor, runs, clock, manual }, id)
}

fn add_connector(connectors: &Connectors) -> ConnectorId {
    let mut problems = Problems::default();
    let input =
        CommonInput { name: Some("c".into()), target_share_id: Some(ShareId::new().to_string()), ..Default::default() };
    let common = input.create(SMB, &mut problems).unwrap();
    let smb = SmbSettings {
        server_host: "h".into(),
        server_port: 445,
        share_name: "s".into(),
        base_path: String::new(),
        domain: String::new(),
        username: "u".into(),
    };
    connectors.create_smb(&Acting::system(), common, smb, &Plaintext::new("p")).unwrap().id
}

impl Fixture {
    async fn actor(&self, id: ConnectorId) -> ActorRef<ConnectorMessage> {
        ractor::call_t!(self.supervisor, ConnectorsMessage::Get, 5000, id).unwrap().expect("the connector has an actor")
    }

    async fn sync(&self, id: ConnectorId, trigger: Trigger) -> Result<JobId, SyncRefused> {
        let actor = self.actor(id).await;
        ractor::call_t!(actor, |reply| ConnectorMessage::Sync { trigger, force: false, full_sync: false, reply }, 5000)
            .unwrap()
    }

    async fn state(&self, id: ConnectorId) -> RunState {
        ractor::call_t!(self.actor(id).await, ConnectorMessage::GetState, 5000).unwrap()
    }

    /// Waits until the connector's state satisfies `done` (the run task reports back on its own schedule).
    async fn wait_for(&self, id: ConnectorId, done: impl Fn(&RunState) -> bool) -> RunState {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        loop {
            ticks.tick().await;
            let state = self.state(id).await;
            if done(&state) {
                return state;
            }
            assert!(tokio::time::Instant::now() < deadline, "connector never reached the expected state: {state:?}");
        }
    }

    fn jobs(&self, id: ConnectorId) -> Vec<Job> {
        jobs::list(self.connectors.store(), id, None, 100).unwrap().0
    }
}

#[tokio::test]
async fn a_second_manual_sync_is_refused_and_a_scheduled_one_is_recorded_as_skipped() {
    let (mut f, id) = fixture().await;
    let job = f.sync(id, Trigger::Manual).await.unwrap();
    let recorded = jobs::get(f.connectors.store(), id, job).unwrap();
    assert!(recorded.is_some(), "the job is readable as soon as its id is handed out");
    let held = f.runs.recv().await.unwrap();
    assert_eq!(held.job, job);
    assert_eq!(f.sync(id, Trigger::Manual).await, Err(SyncRefused::Running(job)));
    assert_eq!(f.sync(id, Trigger::Schedule).await, Err(SyncRefused::Running(job)));
    let skipped: Vec<Job> = f.jobs(id).into_iter().filter(|j| j.status == JobStatus::Skipped).collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].skip_reason.as_deref(), Some("a run was already in progress"));
    held.release.send(()).unwrap();
    f.wait_for(id, |s| *s == RunState::Idle).await;
    let next = f.sync(id, Trigger::Manual).await.unwrap();
    assert_ne!(next, job, "once the run ended, a new one starts");
}

#[tokio::test]
async fn pause_stops_the_run_between_files_and_resume_continues_the_same_job() {
    let (mut f, id) = fixture().await;
    let job = f.sync(id, Trigger::Manual).await.unwrap();
    let held = f.runs.recv().await.unwrap();
    let actor = f.actor(id).await;
    let paused = ractor::call_t!(actor, ConnectorMessage::Pause, 5000).unwrap().unwrap();
    assert_eq!(paused, RunState::Running { job_id: job, pausing: true });
    held.release.send(()).unwrap();
    assert_eq!(f.wait_for(id, |s| matches!(s, RunState::Paused { .. })).await, RunState::Paused { job_id: Some(job) });
    assert!(f.connectors.get(id).unwrap().paused, "the pause survives a restart");
    assert_eq!(f.sync(id, Trigger::Manual).await, Err(SyncRefused::Paused));

    let resumed = ractor::call_t!(actor, ConnectorMessage::Resume, 5000).unwrap().unwrap();
    assert_eq!(resumed, RunState::Running { job_id: job, pausing: false });
    let again = f.runs.recv().await.unwrap();
    assert_eq!((again.job, again.trigger), (job, Trigger::Resume));
    again.release.send(()).unwrap();
    f.wait_for(id, |s| *s == RunState::Idle).await;
    let finished = f.jobs(id).into_iter().find(|j| j.id == job).unwrap();
    assert_eq!(finished.status, JobStatus::Completed);
    assert!(!f.connectors.get(id).unwrap().paused);
}

#[tokio::test]
async fn a_restart_marks_runs_a_crash_interrupted_and_keeps_a_pause() {
    let (f, id) = fixture().await;
    let mut crashed = Job::new(id, Trigger::Manual, f.clock.now());
    crashed.status = JobStatus::Running;
    jobs::save(f.connectors.store(), &crashed).unwrap();
    f.supervisor.stop(None);
    let (launcher, _runs) = fake_launcher(f.connectors.store().clone());
    let args = ConnectorsArgs { connectors: f.connectors.clone(), launcher, clock: f.clock.clone() };
    let (supervisor, _) = Actor::spawn(None, ConnectorsSupervisor, args).await.unwrap();
    let after = jobs::get(f.connectors.store(), id, crashed.id).unwrap().unwrap();
    assert_eq!(after.status, JobStatus::Failed);
    assert_eq!(after.error.unwrap().code, "INTERRUPTED");
    let actor = ractor::call_t!(supervisor, ConnectorsMessage::Get, 5000, id).unwrap().unwrap();
    assert_eq!(ractor::call_t!(actor, ConnectorMessage::GetState, 5000).unwrap(), RunState::Idle);
}

#[tokio::test]
async fn the_schedule_starts_runs_and_records_the_overlapping_one_as_skipped() {
    let (mut f, id) = fixture().await;
    let quiet = add_connector(&f.connectors);
    f.connectors
        .update(&Acting::system(), quiet, vec![], None, |c| {
            c.common.sync_interval_minutes = 0;
            Ok(())
        })
        .unwrap();
    f.supervisor.cast(ConnectorsMessage::Added(quiet)).unwrap();
    let args = SchedulerArgs {
        connectors: f.connectors.clone(),
        supervisor: f.supervisor.clone(),
        clock: f.clock.clone(),
        tick_every: None,
    };
    let (scheduler, _) = Actor::spawn(None, Scheduler, args).await.unwrap();
    let tick = || async { ractor::call_t!(scheduler, |r| SchedulerMessage::Tick(Some(r)), 5000) };

    assert!(tick().await.unwrap().is_empty(), "a new connector's first scheduled run is one interval away");
    f.manual.advance(time::Duration::minutes(15));
    assert_eq!(tick().await.unwrap(), vec![id], "due after its interval; interval 0 never is");
    let first = f.runs.recv().await.unwrap();
    assert_eq!(first.trigger, Trigger::Schedule);
    f.manual.advance(time::Duration::minutes(5));
    assert!(tick().await.unwrap().is_empty(), "not due before its 15 minutes");
    f.manual.advance(time::Duration::minutes(10));
    assert_eq!(tick().await.unwrap(), vec![id]);
    f.wait_jobs(id, |jobs| jobs.iter().any(|j| j.status == JobStatus::Skipped)).await;
    first.release.send(()).unwrap();
    f.wait_for(id, |s| *s == RunState::Idle).await;
    f.manual.advance(time::Duration::minutes(15));
    assert_eq!(tick().await.unwrap(), vec![id]);
    let second = f.runs.recv().await.unwrap();
    assert_ne!(second.job, first.job);
    let skipped = f.jobs(id).into_iter().filter(|j| j.status == JobStatus::Skipped).count();
    assert_eq!(skipped, 1);
}

impl Fixture {
    async fn wait_jobs(&self, id: ConnectorId, done: impl Fn(&[Job]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        loop {
            ticks.tick().await;
            if done(&self.jobs(id)) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the jobs never reached the expected state");
        }
    }
}

#[tokio::test]
async fn the_retention_actor_purges_trash_past_the_share_retention() {
    use super::retention::{Retention, RetentionArgs, RetentionMessage};
    use crate::drive::{Drive, DrivePath, EntryRef, Origin, Precondition, WriteOptions};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.redb")).unwrap();
    let manual = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
    let drive = Drive::open(store.shared_db(), &dir.path().join("content"), manual.clone()).unwrap();
    let share = drive.create_share("s", None, Some(7), None).unwrap();
    let path = DrivePath::parse("/old.txt").unwrap();
    let origin = Origin::user(crate::ids::UserId::new());
    drive.write_file(share.id, &path, &mut &b"bye"[..], &WriteOptions::new(origin.clone())).unwrap();
    drive.delete_entry(share.id, &EntryRef::Path(path), &Precondition::None, &origin).unwrap();
    let (actor, _) = Actor::spawn(None, Retention, RetentionArgs { drive: drive.clone(), every: None }).await.unwrap();
    let purge = || async { ractor::call_t!(actor, |r| RetentionMessage::Purge(Some(r)), 10_000).unwrap() };

    manual.advance(time::Duration::days(6));
    assert_eq!(purge().await.trash_items_purged, 0, "kept within the share's 7 days");
    assert_eq!(drive.trash(share.id).unwrap().len(), 1);
    manual.advance(time::Duration::days(2));
    assert_eq!(purge().await.trash_items_purged, 1);
    assert!(drive.trash(share.id).unwrap().is_empty());
}

/// An open conflict on `path`, as a MANUAL run would have recorded it.
fn open_conflict(connectors: &Connectors, id: ConnectorId, path: &str) -> crate::ids::ConflictId {
    use crate::sync::conflict::ConflictRecord;
    use crate::sync::execute::BaseChange;
    use crate::sync::{Attributes, Entry, Kind, SyncPath};
    let entry = |tag: &str| Entry {
        path: SyncPath::new(path),
        id: tag.into(),
        kind: Kind::File,
        size: 1,
        modified: time::OffsetDateTime::UNIX_EPOCH,
        tag: tag.into(),
        attrs: Attributes::default(),
        hash: None,
    };
    let record = ConflictRecord {
        id: crate::ids::ConflictId::new(),
        path: SyncPath::new(path),
        source: entry("s"),
        drive: entry("d"),
        base: None,
        opened_at: time::OffsetDateTime::UNIX_EPOCH,
        resolution: None,
        resolved_at: None,
    };
    let conflict = record.id;
    crate::connectors::file_states::commit(connectors.store(), id, &[BaseChange::OpenConflict(Box::new(record))])
        .unwrap();
    conflict
}

#[tokio::test]
async fn a_resolution_never_races_a_run_it_is_one_itself() {
    use super::connector::ResolveRefused;
    use crate::audit::AuditActor;
    use crate::sync::conflict::Resolution;
    let (mut f, id) = fixture().await;
    let conflict = open_conflict(&f.connectors, id, "report.txt");
    let resolve = |actor: ActorRef<ConnectorMessage>, conflict| async move {
        let by = AuditActor::System;
        let message = |reply| ConnectorMessage::Resolve { conflict, choice: Resolution::KeepSource, by, reply };
        ractor::call_t!(actor, message, 5000).unwrap()
    };

    // While a sync runs, a resolution is refused, naming the run.
    let job = f.sync(id, Trigger::Manual).await.unwrap();
    let held = f.runs.recv().await.unwrap();
    assert_eq!(resolve(f.actor(id).await, conflict).await, Err(ResolveRefused::Running(job)));
    held.release.send(()).unwrap();
    f.wait_for(id, |s| *s == RunState::Idle).await;

    // Idle: an unknown conflict is not found; a known one runs as a job of its own, during which syncs wait.
    let unknown = crate::ids::ConflictId::new();
    assert_eq!(resolve(f.actor(id).await, unknown).await, Err(ResolveRefused::NotFound));
    let answer = tokio::spawn(resolve(f.actor(id).await, conflict));
    let held = f.runs.recv().await.unwrap();
    assert_eq!(held.trigger, Trigger::Resolution);
    assert_eq!(f.sync(id, Trigger::Manual).await, Err(SyncRefused::Running(held.job)));
    held.release.send(()).unwrap();
    // The fake launcher moved nothing and closed nothing: the answer says the conflict is not resolved.
    assert!(answer.await.unwrap().is_err());
    f.wait_for(id, |s| *s == RunState::Idle).await;
}
