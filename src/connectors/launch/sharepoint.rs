//! A SharePoint run: sign in to Graph as the connector (a refused sign-in fails the job before anything is
//! listed), list the library by delta from the cursor kept since the last run (`full_sync` forgets it), run the
//! engine against the drive, and only then keep the new cursor, so a run that dies re-reads the same changes.

use std::sync::Arc;

use ractor::ActorRef;

use super::sharepoint_extras::AfterRun;
use super::{NotStarted, open_drive_side};
use crate::actors::connector::{RunOrder, Work};
use crate::actors::identity::IdentityMessage;
use crate::actors::throttle::ThrottleMessage;
use crate::config::SharePointEndpoints;
use crate::connectors::file_states;
use crate::connectors::jobs::{Job, JobStatus};
use crate::connectors::sharepoint::graph::{AccessError, GraphAccess};
use crate::connectors::{Connectors, resolution, runner};
use crate::drive::Drive;
use crate::ids::ConnectorId;
use crate::sides::sharepoint::{DeltaState, SharePointOptions, SharePointSide, TokioSleeper};
use crate::store::{Store, StoreError, codec};

fn not_started(e: AccessError) -> NotStarted {
    NotStarted(e.code().to_owned(), e.to_string())
}

fn internal(e: impl std::fmt::Display) -> NotStarted {
    NotStarted("INTERNAL".into(), e.to_string())
}

pub(super) async fn run(
    connectors: &Connectors,
    drive: Drive,
    identity: &ActorRef<IdentityMessage>,
    throttle: ActorRef<ThrottleMessage>,
    endpoints: &SharePointEndpoints,
    order: RunOrder,
) -> Result<Job, NotStarted> {
    let RunOrder { connector, job, stop, work } = order;
    let access = GraphAccess::open(connectors, &connector, endpoints).map_err(not_started)?;
    let client = Arc::new(access.drive_client(Arc::new(TokioSleeper)).map_err(not_started)?);
    access.sign_in().await.map_err(not_started)?;
    let store = connectors.store().clone();
    let drive_id = access.settings.drive_id.clone().unwrap_or_default();
    let kept = load_cursor(&store, connector.id, &drive_id).await.map_err(internal)?;
    let side = SharePointSide::new(client, &access.settings.base_path, kept, SharePointOptions::default());
    if job.full_sync {
        side.force_full_listing().await;
    }
    let drive_side = open_drive_side(drive.clone(), &connector, throttle).await?;
    let clock = connectors.clock().clone();
    let finished = match &work {
        // A conflict's resolution moves one path and ends there.
        Work::Resolve(order) => {
            let resolved = resolution::resolve_job(&store, &clock, job, order, &side, &drive_side).await;
            return resolved.map_err(internal);
        }
        Work::Sync => runner::run_job(&store, &clock, &connector.common, job, &side, &drive_side, &stop)
            .await
            .map_err(internal)?,
    };

    // Versions, column metadata and permissions of what the run changed, before the cursor moves on.
    let state = side.delta_state().await;
    let after = AfterRun {
        identity,
        store: &store,
        clock: &clock,
        drive: &drive,
        connector: &connector,
        settings: &access.settings,
        client: side.client(),
        state: &state,
        stop: &stop,
    };
    let finished = after.apply(finished).await;

    // The base changes are committed (run_job returned): keep the cursor unless the run failed outright, in
    // which case the next run re-reads the same changes (which costs requests, never correctness).
    if finished.status != JobStatus::Failed {
        save_cursor(&store, connector.id, Kept { drive_id, state }).await.map_err(internal)?;
    }
    if let Err(error) = access.keep_rotated_refresh_token().await {
        tracing::error!(%error, connector = %connector.id, "could not keep the rotated refresh token");
    }
    Ok(finished)
}

/// What is kept between runs: the delta state, and the library it belongs to (a PATCH may point the connector
/// at another library, whose changes the old token cannot describe).
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    drive_id: String,
    state: DeltaState,
}

/// The delta state kept by the last run on this library; none, another library's, or an unreadable one (an
/// older shape) starts a full listing.
async fn load_cursor(store: &Store, connector: ConnectorId, drive_id: &str) -> Result<DeltaState, StoreError> {
    let store = store.clone();
    let bytes = tokio::task::spawn_blocking(move || file_states::cursor(&store, connector))
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
    Ok(match bytes {
        None => DeltaState::default(),
        Some(bytes) => match codec::decode::<Kept>("source_cursors", &bytes) {
            Ok(kept) if kept.drive_id == drive_id => kept.state,
            Ok(_) => DeltaState::default(),
            Err(error) => {
                tracing::warn!(%error, %connector, "kept delta state unreadable; listing the whole library");
                DeltaState::default()
            }
        },
    })
}

async fn save_cursor(store: &Store, connector: ConnectorId, kept: Kept) -> Result<(), StoreError> {
    let (store, bytes) = (store.clone(), codec::encode(&kept));
    tokio::task::spawn_blocking(move || file_states::save_cursor(&store, connector, &bytes))
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_kept_delta_state_serves_its_own_library_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let connector = ConnectorId::new();
        assert_eq!(load_cursor(&store, connector, "b!one").await.unwrap(), DeltaState::default());
        let state = DeltaState { delta_link: Some("https://graph/delta?token=abc".into()), ..DeltaState::default() };
        save_cursor(&store, connector, Kept { drive_id: "b!one".into(), state: state.clone() }).await.unwrap();
        assert_eq!(load_cursor(&store, connector, "b!one").await.unwrap(), state);
        // PATCHed to another library: its changes start from a full listing, not the old library's token.
        assert_eq!(load_cursor(&store, connector, "b!two").await.unwrap(), DeltaState::default());
        assert_eq!(load_cursor(&store, ConnectorId::new(), "b!one").await.unwrap(), DeltaState::default());
    }
}
