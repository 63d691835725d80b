//! The permission pass over an SMB share: ACLs read over the run's own session, names looked up over LSA
//! (`lsarpc` on `IPC$`, opened on first need on the same session), and the call the SMB launcher makes after
//! the engine's run when the connector has `sync_permissions`.

use std::sync::Arc;

use ractor::ActorRef;
use time::OffsetDateTime;

use super::pass::{Pass, PermissionSource};
use crate::actors::identity::{IdentityMessage, resolver_for};
use crate::clock::SharedClock;
use crate::connectors::Connector;
use crate::connectors::jobs::{Job, JobError, JobStatus};
use crate::drive::Drive;
use crate::sides::smb::SmbClient;
use crate::sides::smb::acl::NtAcl;
use crate::sides::smb::lsa::{LookedUpName, LsaClient, Sid};
use crate::sides::smb::side::side_error;
use crate::store::Store;
use crate::sync::execute::StopFlag;
use crate::sync::{SideError, SyncPath};

/// An SMB share as the permission pass reads it.
pub struct SmbPermissions {
    client: Arc<SmbClient>,
    lsa: Option<LsaClient>,
}

impl SmbPermissions {
    pub fn new(client: Arc<SmbClient>) -> Self {
        Self { client, lsa: None }
    }

    /// Closes the LSA pipe if one was opened (the share's session stays the caller's).
    pub async fn close(self) {
        if let Some(lsa) = self.lsa
            && let Err(error) = lsa.close().await
        {
            tracing::debug!(%error, "closing the LSA pipe failed");
        }
    }
}

impl PermissionSource for SmbPermissions {
    async fn acl(&self, path: &SyncPath) -> Result<NtAcl, SideError> {
        self.client.acl(path.as_str()).await.map_err(side_error)
    }

    async fn names(&mut self, sids: &[Sid]) -> Result<Vec<Option<LookedUpName>>, String> {
        let lsa = match &mut self.lsa {
            Some(lsa) => lsa,
            None => self.lsa.insert(self.client.lsa().await.map_err(|e| e.to_string())?),
        };
        lsa.lookup_sids(sids).await.map_err(|e| e.to_string())
    }

    /// The SMB side's tag is `file id (hex) . change time (Unix ns)` (`sides::smb::side::to_entry`): it can show
    /// an ACL edit when the server keeps the change time apart from the write time (Windows does; Samba reports
    /// the write time as the change time).
    fn tag_tracks_acl(tag: &str, modified: OffsetDateTime) -> bool {
        tag.rsplit_once('.')
            .and_then(|(_, changed)| changed.parse::<i128>().ok())
            .is_some_and(|changed| changed != modified.unix_timestamp_nanos())
    }
}

/// What a run needs to carry permissions over after its content.
pub struct AfterRun<'a> {
    pub identity: &'a ActorRef<IdentityMessage>,
    pub store: &'a Store,
    pub clock: &'a SharedClock,
    pub drive: &'a Drive,
    pub connector: &'a Connector,
    pub client: &'a Arc<SmbClient>,
    pub stop: &'a StopFlag,
}

impl AfterRun<'_> {
    /// Runs the permission pass when the connector syncs permissions and the engine's run got through; the
    /// job comes back with the pass's counters, or failed with `INTERNAL` when the pass could not go on.
    pub async fn apply(&self, mut job: Job) -> Job {
        let ran = matches!(job.status, JobStatus::Completed | JobStatus::CompletedWithErrors);
        if !self.connector.common.sync_permissions || !ran {
            return job;
        }
        let connector = self.connector.id;
        let resolver = match resolver_for(self.identity, self.connector).await {
            Ok(resolver) => resolver,
            Err(message) => return failed(job, message),
        };
        let pass = Pass {
            store: self.store,
            drive: self.drive,
            share: self.connector.common.target_share_id,
            connector,
            stop: self.stop,
            clock: self.clock,
        };
        let mut source = SmbPermissions::new(self.client.clone());
        let outcome = pass.run(&mut source, resolver, &mut job).await;
        source.close().await;
        match outcome {
            Ok(()) => job,
            Err(e) => {
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                tracing::error!(error = %e, %cause, %connector, "the permission pass failed");
                failed(job, format!("permissions could not be synced: {e}{cause}"))
            }
        }
    }
}

fn failed(mut job: Job, message: String) -> Job {
    job.status = JobStatus::Failed;
    job.error = Some(JobError { code: "INTERNAL".into(), message });
    job
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::sides::smb::entry::{SmbAttributes, SmbEntry};
    use crate::sides::smb::side::to_entry;

    fn tag(modified: OffsetDateTime, changed: OffsetDateTime) -> Box<str> {
        let e = SmbEntry {
            path: "a.txt".into(),
            name: "a.txt".into(),
            size: 1,
            created: modified,
            modified,
            changed,
            accessed: modified,
            attributes: SmbAttributes::default(),
            reparse_tag: None,
            file_id: 0xbeef,
        };
        to_entry(&e).tag
    }

    #[test]
    fn a_change_time_apart_from_the_write_time_tracks_acl_edits_and_samba_s_does_not() {
        let written = datetime!(2026-03-01 10:00:00.123456700 UTC);
        let edited = datetime!(2026-03-02 09:00:00 UTC);
        assert!(SmbPermissions::tag_tracks_acl(&tag(written, edited), written), "Windows: the ACL edit moved it");
        assert!(!SmbPermissions::tag_tracks_acl(&tag(written, written), written), "Samba: change time = write time");
        assert!(!SmbPermissions::tag_tracks_acl("not a tag", written));
    }
}
