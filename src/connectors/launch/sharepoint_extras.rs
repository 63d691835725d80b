//! After a SharePoint run's content: the versions, column metadata and permissions of the entries the run created
//! or changed (`sides::sharepoint::extras`), when the connector asks for any of them. The entries come from the
//! job's own log (its `done` events) and their file-state records (drive entry id, Graph item id), so the pass
//! costs requests in proportion to the changes, not to the library. A part that fails is a job error and the next
//! run that touches the entry retries it; the content the run moved stays recorded either way.

use std::sync::Arc;

use ractor::ActorRef;

use crate::actors::identity::{IdentityMessage, resolver_for};
use crate::clock::SharedClock;
use crate::connectors::jobs::{self, Job, JobEvent, JobStatus, PermissionsOutcome};
use crate::connectors::{Connector, SharePointSettings, file_states};
use crate::drive::{Drive, DrivePath, EntryRef};
use crate::ids::EntryId;
use crate::sides::sharepoint::DeltaState;
use crate::sides::sharepoint::client::GraphClient;
use crate::sides::sharepoint::extras::{EntryOutcome, Extras, ExtrasConfig};
use crate::store::{Store, StoreError};
use crate::sync::SyncPath;
use crate::sync::execute::{StopFlag, StopSignal};

/// Job events read per page when collecting the run's changed paths.
const EVENT_PAGE: usize = 1000;

pub(super) struct AfterRun<'a> {
    pub identity: &'a ActorRef<IdentityMessage>,
    pub store: &'a Store,
    pub clock: &'a SharedClock,
    pub drive: &'a Drive,
    pub connector: &'a Connector,
    pub settings: &'a SharePointSettings,
    pub client: &'a Arc<GraphClient>,
    /// The delta state after the run: where the connector's root folder is among the library's items.
    pub state: &'a DeltaState,
    pub stop: &'a StopFlag,
}

impl AfterRun<'_> {
    /// The pass, when the connector syncs versions, metadata or permissions and the run got through; the job
    /// comes back with what the pass did and its failures counted.
    pub async fn apply(&self, mut job: Job) -> Job {
        let common = &self.connector.common;
        let wanted = self.settings.sync_versions || self.settings.sync_metadata || common.sync_permissions;
        if !wanted || !matches!(job.status, JobStatus::Completed | JobStatus::CompletedWithErrors) {
            return job;
        }
        let connector = self.connector.id;
        let resolver = match resolver_for(self.identity, self.connector).await {
            Ok(resolver) => resolver,
            Err(message) => return failed(job, message),
        };
        let site = self.settings.site_id.clone().unwrap_or_default();
        let config =
            ExtrasConfig::new(connector, &site, common, self.settings.sync_versions, self.settings.sync_metadata);
        let share = common.target_share_id;
        let mut extras =
            Extras::new(self.client.clone(), self.store.clone(), self.drive.clone(), share, config, resolver);
        let mut tally = Tally::default();

        if let (Some(root_item), Ok(root_entry)) = (self.root_item(), self.target_entry().await) {
            tally.add("/", extras.sync_root(root_entry, &root_item).await);
        }
        let paths = match self.changed_paths(&job).await {
            Ok(paths) => paths,
            Err(e) => return failed(job, e.to_string()),
        };
        for path in paths {
            if self.stop.stop_requested() {
                break;
            }
            let (store, key) = (self.store.clone(), SyncPath::new(path.clone()));
            let base = match blocking(move || file_states::base(&store, connector, &key)).await {
                Ok(Some(base)) => base,
                Ok(None) => continue,
                Err(e) => return failed(job, e.to_string()),
            };
            let Ok(entry) = base.drive.id.parse::<EntryId>() else { continue };
            tally.add(&path, extras.sync_entry(entry, &base.source.id).await);
        }
        let unmapped = extras.finish();
        job.permissions =
            Some(Box::new(PermissionsOutcome { updated: tally.aces_changed, unmapped_principals: unmapped.to_list() }));
        if !tally.events.is_empty() {
            job.error_count += tally.failures;
            if tally.failures > 0 {
                job.status = JobStatus::CompletedWithErrors;
            }
            if let Err(e) = self.log(&job, tally.events).await {
                tracing::error!(error = %e, job = %job.id, "could not record the SharePoint extras' events");
            }
        }
        job
    }

    /// The Graph item of the connector's root folder: the library root, or the `base_path` folder in it.
    fn root_item(&self) -> Option<String> {
        let mut id = self.state.root_id.clone()?;
        for segment in self.settings.base_path.split('/').filter(|s| !s.is_empty()) {
            let segment = segment.to_lowercase();
            id = self
                .state
                .items
                .iter()
                .find(|(_, item)| item.parent.as_deref() == Some(id.as_str()) && item.name.to_lowercase() == segment)
                .map(|(key, _)| key.clone())?;
        }
        Some(id)
    }

    async fn target_entry(&self) -> Result<EntryId, String> {
        let (drive, share) = (self.drive.clone(), self.connector.common.target_share_id);
        let target = DrivePath::parse(&self.connector.common.target_path).map_err(|e| e.to_string())?;
        let found = tokio::task::spawn_blocking(move || drive.entry(share, &EntryRef::Path(target)))
            .await
            .map_err(|e| e.to_string())?;
        found.map(|entry| entry.id).map_err(|e| e.to_string())
    }

    /// Paths of this job's completed actions, each once, in log order.
    async fn changed_paths(&self, job: &Job) -> Result<Vec<String>, StoreError> {
        let (store, id) = (self.store.clone(), job.id);
        blocking(move || {
            let mut paths = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut after = None;
            loop {
                let page = jobs::events(&store, id, after, EVENT_PAGE)?;
                let Some(last) = page.last() else { break };
                after = Some(last.seq);
                for event in &page {
                    if event.result == "done" && !event.action.starts_with("delete") && seen.insert(event.path.clone())
                    {
                        paths.push(event.path.clone());
                    }
                }
            }
            Ok(paths)
        })
        .await
    }

    async fn log(
        &self,
        job: &Job,
        events: Vec<(String, String, Option<String>, Option<String>)>,
    ) -> Result<(), StoreError> {
        let (store, job, now) = (self.store.clone(), job.clone(), self.clock.now());
        blocking(move || {
            let first = jobs::next_seq(&store, job.id)?;
            let events: Vec<JobEvent> = events
                .into_iter()
                .enumerate()
                .map(|(i, (path, result, code, message))| JobEvent {
                    seq: first + i as u32,
                    path,
                    action: "sharepoint_extras".into(),
                    result,
                    code,
                    message,
                    at: now,
                })
                .collect();
            // Saved under the running status: the connector actor records the job's end.
            let mut progress = job.clone();
            progress.status = JobStatus::Running;
            progress.finished_at = None;
            jobs::save_with_events(&store, &progress, &events)
        })
        .await
    }
}

/// What the pass did over the run's entries, and the job-log lines it owes.
#[derive(Default)]
struct Tally {
    aces_changed: u64,
    failures: u64,
    events: Vec<(String, String, Option<String>, Option<String>)>,
}

impl Tally {
    fn add(&mut self, path: &str, outcome: EntryOutcome) {
        self.aces_changed += u64::from(outcome.aces_changed);
        for note in outcome.notes {
            self.events.push((path.to_owned(), "noted".into(), None, Some(note)));
        }
        for failure in outcome.failures {
            self.failures += 1;
            self.events.push((
                path.to_owned(),
                "failed".into(),
                Some(failure.code.as_str().into()),
                Some(failure.message),
            ));
        }
    }
}

fn failed(mut job: Job, message: String) -> Job {
    job.status = JobStatus::Failed;
    job.error = Some(jobs::JobError { code: "INTERNAL".into(), message });
    job
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
}
