//! The permission pass of a run with `sync_permissions`: after the engine has synced content, the owner and
//! ACEs of every synced entry whose permissions may have moved are read from the source, resolved and
//! translated, and set in ScaiDrive. Content is never touched, so an ACL-only change or a mapping added later
//! costs no transfer.
//!
//! What is read and when is `states`' business (see there: tags for ACL-only changes, a fingerprint for mapping
//! changes). Per batch of work the pass reads the ACLs (one call each), looks up every SID this run has not
//! seen in one call ([`PermissionSource::names`]; the resolver caches per run, so a SID is looked up once per
//! run; a source that refuses lookups still syncs, with SID-keyed mappings only), translates in walk order
//! (a folder's new ACEs are at hand when its children are translated), writes the batch to the drive in one
//! transaction, then records it. A folder whose ACEs changed has its children translated again from their
//! stored ACLs: their `inherit` flag depends on the folder's ACEs.
//!
//! The plumbing knows nothing of SMB beyond the ACL form: a source implements [`PermissionSource`] (SMB in
//! `identity::smb`; SharePoint's permissions, keyed by Entra object ids, can come through the same trait).

use std::collections::HashMap;
use std::future::Future;

use futures::StreamExt;
use time::OffsetDateTime;

use super::resolve::{Resolver, UnmappedReport};
use super::states::{self, Change, PermissionState, Work};
use super::translate::Warning;
use crate::clock::SharedClock;
use crate::connectors::jobs::{self, Job, JobEvent, JobStatus};
use crate::drive::{Ace, Drive, DriveError, EntryPermissions, PrincipalId};
use crate::ids::{ConnectorId, EntryId, ShareId};
use crate::sides::smb::acl::NtAcl;
use crate::sides::smb::lsa::{LookedUpName, Sid};
use crate::store::{Store, StoreError};
use crate::sync::execute::StopSignal;
use crate::sync::{SideError, SyncPath};

/// Entries per batch: one drive transaction and one record transaction each.
const BATCH: usize = 128;
/// ACL reads outstanding at a time.
const READS_IN_FLIGHT: usize = 8;
/// Warning events a run writes at most; the per-connector view counts everything.
const MAX_EVENTS: usize = 1000;
/// The job log's action for what the pass does.
const ACTION: &str = "permissions";

/// Where a run reads permissions from.
pub trait PermissionSource: Send {
    /// The owner and DACL of one synced entry.
    fn acl(&self, path: &SyncPath) -> impl Future<Output = Result<NtAcl, SideError>> + Send;
    /// Names of `sids`, in order (`None`: unknown to the source). An error means the source refuses lookups.
    fn names(&mut self, sids: &[Sid]) -> impl Future<Output = Result<Vec<Option<LookedUpName>>, String>> + Send;
    /// Whether an entry's tag (as the source's side reports it) moves when its ACL does (see `states`).
    fn tag_tracks_acl(tag: &str, modified: OffsetDateTime) -> bool;
}

/// Why the pass could not go on (the job fails with it; what was recorded stays).
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("the permission records could not be read or written")]
    Store(#[from] StoreError),
    #[error("the permissions could not be set in the drive")]
    Drive(#[from] DriveError),
    #[error("a blocking task failed: {0}")]
    Task(String),
}

/// One connector's pass.
pub struct Pass<'a> {
    pub store: &'a Store,
    pub drive: &'a Drive,
    pub share: ShareId,
    pub connector: ConnectorId,
    pub stop: &'a dyn StopSignal,
    pub clock: &'a SharedClock,
}

/// An entry ready to translate.
struct Item {
    path: SyncPath,
    entry: EntryId,
    folder: bool,
    tag: Box<str>,
    acl: NtAcl,
    old: Option<PermissionState>,
}

/// The pass's running state.
struct Progress {
    resolver: Resolver,
    /// Folders' ACEs as they stand now (translated this run, or read from the records), for their children.
    parents: HashMap<SyncPath, Vec<Ace>>,
    /// Folders whose ACEs changed this run.
    changed_folders: Vec<SyncPath>,
    updated: u64,
    failed: u64,
    events: Vec<JobEvent>,
    events_left_out: u64,
    /// The unmapped principals of the entries this run found anew (the job's share of the connector's view).
    report: UnmappedReport,
}

impl Pass<'_> {
    /// Runs the pass for a finished engine run and records it on `job`: entries updated, the run's
    /// unmapped principals (`job.permissions`), warning events, and per-entry failures (the job then completed with errors).
    pub async fn run<P: PermissionSource>(
        &self,
        source: &mut P,
        resolver: Resolver,
        job: &mut Job,
    ) -> Result<(), PassError> {
        let fingerprint = resolver.fingerprint();
        let (store, connector) = (self.store.clone(), self.connector);
        let summary = blocking(move || Ok(states::summary(&store, connector)?)).await?;
        let all = summary.fingerprint.as_deref() != Some(hex::encode(fingerprint).as_str());
        let mut p = Progress {
            resolver,
            parents: HashMap::new(),
            changed_folders: Vec::new(),
            updated: 0,
            failed: 0,
            events: Vec::new(),
            events_left_out: 0,
            report: UnmappedReport::default(),
        };
        let mut plan = states::plan(self.store, self.connector, all, P::tag_tracks_acl);
        let (mut batch, mut stopped) = (Vec::new(), false);
        while let Some(work) = plan.next().await {
            batch.push(work?);
            if batch.len() >= BATCH {
                self.process(&mut p, source, std::mem::take(&mut batch)).await?;
                if self.stop.stop_requested() {
                    stopped = true;
                    break;
                }
            }
        }
        drop(plan);
        if !stopped {
            self.process(&mut p, source, batch).await?;
            for folder in std::mem::take(&mut p.changed_folders) {
                let (store, connector) = (self.store.clone(), self.connector);
                let children = blocking(move || Ok(states::children(&store, connector, &folder)?)).await?;
                for chunk in children.chunks(BATCH) {
                    let work =
                        chunk.iter().map(|(path, old)| Work::Retranslate { path: path.clone(), old: old.clone() });
                    self.process(&mut p, source, work.collect()).await?;
                }
            }
            let (store, connector) = (self.store.clone(), self.connector);
            blocking(move || Ok(states::finish(&store, connector, fingerprint)?)).await?;
        }
        self.record(job, p, stopped).await
    }

    async fn process<P: PermissionSource>(
        &self,
        p: &mut Progress,
        source: &mut P,
        batch: Vec<Work>,
    ) -> Result<(), PassError> {
        let mut ready = Vec::with_capacity(batch.len());
        let mut changes = Vec::new();
        // The reads go out several at a time (each is an open, a query and a close on SMB); order is kept.
        let shared = &*source;
        let mut reads = futures::stream::iter(batch)
            .map(|work| async move {
                let read = match &work {
                    Work::Read { path, .. } => Some(shared.acl(path).await),
                    _ => None,
                };
                (work, read)
            })
            .buffered(READS_IN_FLIGHT);
        while let Some((work, read)) = reads.next().await {
            match (work, read) {
                (Work::Read { path, entry, folder, tag, old }, Some(read)) => match read {
                    Ok(acl) => ready.push(Item { path, entry, folder, tag, acl, old }),
                    Err(e) => {
                        p.failed += 1;
                        let message =
                            format!("its permissions could not be read, and stay as they were: {}", e.message);
                        p.event(self.clock, &path, "failed", e.code.as_str(), message);
                    }
                },
                (Work::Read { .. }, None) => {}
                (Work::Retranslate { path, old }, _) => ready.push(Item {
                    path,
                    entry: old.entry,
                    folder: old.folder,
                    tag: old.tag.clone(),
                    acl: old.acl.clone(),
                    old: Some(old),
                }),
                (Work::Forget { path, old }, _) => changes.push(Change::Forget { path, old: old.unmapped }),
            }
        }
        drop(reads);
        let mut unknown: Vec<Sid> = ready.iter().flat_map(|i| p.resolver.unknown_sids(&i.acl)).collect();
        unknown.sort();
        unknown.dedup();
        if !unknown.is_empty() {
            match source.names(&unknown).await {
                Ok(names) => p.resolver.learn_names(&unknown, names),
                Err(reason) => {
                    let message = format!(
                        "the server refused to look up account names ({reason}): only mappings keyed by SID apply \
                         this run"
                    );
                    p.event(self.clock, &SyncPath::new(""), "noted", "LOOKUP_REFUSED", message);
                    p.resolver.lookups_refused(reason);
                }
            }
        }

        let mut writes = Vec::new();
        for item in ready {
            let parent = self.parent_aces(p, &item.path).await?;
            let (t, unmapped) = p.resolver.translate_entry(&item.acl, parent.as_deref());
            let owner = match t.owner {
                Some(PrincipalId::User(user)) => Some(user),
                // ScaiDrive owners are users: a group that owns a file on SMB leaves it to the service account.
                _ => p.resolver.fallback_user(),
            };
            let state = PermissionState {
                entry: item.entry,
                folder: item.folder,
                tag: item.tag,
                acl: item.acl,
                owner,
                aces: t.aces,
                inherit: t.inherit,
                unmapped,
            };
            // Warnings and the job's unmapped principals are about what this run found anew: an entry re-read
            // with the same ACL and the same outcome (every entry, each run, on Samba) is the connector view's
            // business, not news in every job log.
            let news = item
                .old
                .as_ref()
                .is_none_or(|old| old.acl != state.acl || old.unmapped != state.unmapped || !old.same_effect(&state));
            if news {
                p.warn(self.clock, &item.path, &t.warnings, &state.unmapped);
                p.report.merge(&state.unmapped);
            }
            if item.folder {
                if item.old.as_ref().is_some_and(|old| old.aces != state.aces) {
                    p.changed_folders.push(item.path.clone());
                }
                p.parents.insert(item.path.clone(), state.aces.clone());
            }
            if item.old.as_ref().is_none_or(|old| !old.same_effect(&state)) {
                writes.push(EntryPermissions {
                    entry: state.entry,
                    owner: state.owner,
                    aces: state.aces.clone(),
                    inherit: state.inherit,
                });
            }
            changes.push(Change::Put { path: item.path, old: item.old.map(|o| o.unmapped), state: Box::new(state) });
        }

        let missing = if writes.is_empty() {
            Vec::new()
        } else {
            let (drive, share, count) = (self.drive.clone(), self.share, writes.len());
            let missing = blocking(move || Ok(drive.set_permissions(share, &writes)?)).await?;
            p.updated += (count - missing.len()) as u64;
            missing
        };
        // An entry gone from the drive meanwhile keeps no record: the next run reads it again.
        changes.retain(|c| !matches!(c, Change::Put { state, .. } if missing.contains(&state.entry)));
        if !changes.is_empty() {
            let (store, connector) = (self.store.clone(), self.connector);
            blocking(move || Ok(states::commit(&store, connector, &changes)?)).await?;
        }
        Ok(())
    }

    /// The ACEs of `path`'s parent folder, `None` at the connector's root (or when the parent has no record).
    async fn parent_aces(&self, p: &mut Progress, path: &SyncPath) -> Result<Option<Vec<Ace>>, PassError> {
        let Some(parent) = path.parent() else { return Ok(None) };
        if let Some(aces) = p.parents.get(&parent) {
            return Ok(Some(aces.clone()));
        }
        let (store, connector, key) = (self.store.clone(), self.connector, parent.clone());
        let stored = blocking(move || Ok(states::get(&store, connector, &key)?)).await?;
        let aces = stored.map(|s| s.aces);
        if let Some(aces) = &aces {
            p.parents.insert(parent, aces.clone());
        }
        Ok(aces)
    }

    /// Puts the pass's outcome on the job and its events in the job's log.
    async fn record(&self, job: &mut Job, p: Progress, stopped: bool) -> Result<(), PassError> {
        let outcome = job.permissions.get_or_insert_default();
        outcome.updated += p.updated;
        outcome.unmapped_principals = p.report.to_list();
        if p.failed > 0 {
            job.error_count += p.failed;
            if job.status == JobStatus::Completed {
                job.status = JobStatus::CompletedWithErrors;
            }
        }
        if stopped && job.status.is_final() {
            // Paused during the pass: the job resumes like any paused one, and the pass goes on from its records.
            job.status = JobStatus::Paused;
            job.finished_at = None;
        }
        let mut events = p.events;
        if p.events_left_out > 0 {
            let message =
                format!("{} more entries had permission warnings (see unmapped-principals)", p.events_left_out);
            events.push(JobEvent {
                seq: 0,
                path: String::new(),
                action: ACTION.to_owned(),
                result: "noted".to_owned(),
                code: Some("MORE_WARNINGS".to_owned()),
                message: Some(message),
                at: self.clock.now(),
            });
        }
        let (store, mut progress) = (self.store.clone(), job.clone());
        // Saved under the running status, like the engine's events; the connector actor records the end.
        progress.status = JobStatus::Running;
        progress.finished_at = None;
        blocking(move || {
            let first = jobs::next_seq(&store, progress.id)?;
            for (i, event) in events.iter_mut().enumerate() {
                event.seq = first + i as u32;
            }
            Ok(jobs::save_with_events(&store, &progress, &events)?)
        })
        .await
    }
}

impl Progress {
    fn event(&mut self, clock: &SharedClock, path: &SyncPath, result: &str, code: &str, message: String) {
        if self.events.len() >= MAX_EVENTS {
            self.events_left_out += 1;
            return;
        }
        self.events.push(JobEvent {
            seq: 0,
            path: path.as_str().to_owned(),
            action: ACTION.to_owned(),
            result: result.to_owned(),
            code: Some(code.to_owned()),
            message: Some(message),
            at: clock.now(),
        });
    }

    /// One warning event for an entry whose translation was not exact, naming every reason.
    fn warn(&mut self, clock: &SharedClock, path: &SyncPath, warnings: &[Warning], unmapped: &UnmappedReport) {
        if warnings.is_empty() {
            return;
        }
        let who = |sid: &Sid| match unmapped.get(&sid.to_string()).and_then(|u| u.name.clone()) {
            Some(name) => format!("{sid} ({name})"),
            None => sid.to_string(),
        };
        let mut code = "PERMISSIONS_APPROXIMATED";
        let mut reasons = Vec::new();
        for w in warnings {
            reasons.push(match w {
                Warning::UnmappedOwner { sid } => {
                    code = "UNMAPPED_OWNER";
                    let owner = sid.as_ref().map_or("no owner".to_owned(), |s| format!("the owner {}", who(s)));
                    format!("{owner} maps to no ScaiDrive user: the connector's service account owns it")
                }
                Warning::UnmappedAllow { sid } => {
                    if code != "UNMAPPED_OWNER" {
                        code = "UNMAPPED_PRINCIPAL";
                    }
                    format!("an allow for {} is not granted: nobody in ScaiDrive maps to it", who(sid))
                }
                Warning::DenyAppliedToAll { sid } => {
                    format!("a deny for {} applies to everybody: nobody in ScaiDrive maps to it", who(sid))
                }
                Warning::AllUsersNotGranted { sid: Some(sid) } => {
                    format!("an allow for everybody ({sid}) is not granted: map the SID to a ScaiDrive group")
                }
                Warning::AllUsersNotGranted { sid: None } => {
                    "no DACL (everybody may do anything) is not granted: ScaiDrive has no group of everybody".to_owned()
                }
                Warning::UnsupportedAce { kind } => format!("a {kind:?} ACE is not evaluated"),
            });
        }
        self.event(clock, path, "noted", code, reasons.join("; "));
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PassError> + Send + 'static,
) -> Result<T, PassError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| PassError::Task(e.to_string()))?
}

#[cfg(test)]
#[path = "pass_tests.rs"]
mod tests;
