//! The connectors supervisor: one `ConnectorActor` per configured connector, spawned linked so this actor hears
//! when one fails, and restarted then (its run, if any, ends as failed; the next run completes what it left). At
//! start it closes the books on runs a crash interrupted: their jobs become `failed` with `INTERRUPTED`, and the
//! file states they committed stay, so the next run converges.
//!
//! Talks to: the API (connector created or deleted; which actor handles a connector), the scheduler (the list).

use std::collections::HashMap;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::connector::{ConnectorActor, ConnectorArgs, ConnectorMessage, Launcher};
use crate::clock::SharedClock;
use crate::connectors::jobs::{self, JobError, JobStatus};
use crate::connectors::{ConnectorKind, Connectors};
use crate::ids::ConnectorId;

pub enum ConnectorsMessage {
    /// A connector was created: start its actor.
    Added(ConnectorId),
    /// A connector was deleted: stop its actor (a run in progress is stopped between files).
    Removed(ConnectorId),
    /// The actor of a connector.
    Get(ConnectorId, RpcReplyPort<Option<ActorRef<ConnectorMessage>>>),
    /// Every connector's actor (the scheduler walks them).
    List(RpcReplyPort<Vec<(ConnectorId, ActorRef<ConnectorMessage>)>>),
}

pub struct ConnectorsSupervisor;

#[derive(Clone)]
pub struct ConnectorsArgs {
    pub connectors: Connectors,
    pub launcher: Launcher,
    pub clock: SharedClock,
}

pub struct ConnectorsState {
    args: ConnectorsArgs,
    actors: HashMap<ConnectorId, ActorRef<ConnectorMessage>>,
}

impl ConnectorsState {
    async fn spawn(&mut self, myself: &ActorRef<ConnectorsMessage>, id: ConnectorId) -> Result<(), ActorProcessingErr> {
        let args = ConnectorArgs {
            id,
            connectors: self.args.connectors.clone(),
            launcher: self.args.launcher.clone(),
            clock: self.args.clock.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, ConnectorActor, args, myself.get_cell()).await?;
        self.actors.insert(id, actor);
        Ok(())
    }
}

impl Actor for ConnectorsSupervisor {
    type Msg = ConnectorsMessage;
    type State = ConnectorsState;
    type Arguments = ConnectorsArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ConnectorsArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let connectors = args.connectors.clone();
        let now = args.clock.now();
        let ids = tokio::task::spawn_blocking(move || -> Result<Vec<ConnectorId>, ActorProcessingErr> {
            let mut ids = Vec::new();
            for kind in [ConnectorKind::Smb, ConnectorKind::Sharepoint] {
                for connector in connectors.list(kind)? {
                    close_interrupted_runs(&connectors, connector.id, now)?;
                    ids.push(connector.id);
                }
            }
            Ok(ids)
        })
        .await??;
        let mut state = ConnectorsState { args, actors: HashMap::new() };
        for id in ids {
            state.spawn(&myself, id).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConnectorsMessage::Added(id) => {
                if !state.actors.contains_key(&id) {
                    state.spawn(&myself, id).await?;
                }
            }
            ConnectorsMessage::Removed(id) => {
                if let Some(actor) = state.actors.remove(&id) {
                    actor.stop(Some("connector deleted".into()));
                }
            }
            ConnectorsMessage::Get(id, reply) => {
                let _ = reply.send(state.actors.get(&id).cloned());
            }
            ConnectorsMessage::List(reply) => {
                let _ = reply.send(state.actors.iter().map(|(id, actor)| (*id, actor.clone())).collect());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // The restart policy: a connector actor that failed is started again, fresh from its stored state.
        if let SupervisionEvent::ActorFailed(child, error) = event {
            let failed = state.actors.iter().find(|(_, a)| a.get_id() == child.get_id()).map(|(id, _)| *id);
            if let Some(id) = failed {
                tracing::error!(connector = %id, %error, "connector actor failed; restarting it");
                state.actors.remove(&id);
                state.spawn(&myself, id).await?;
            }
        }
        Ok(())
    }
}

/// Jobs left queued or running by a crash are over: failed, with a code that says so.
fn close_interrupted_runs(
    connectors: &Connectors,
    id: ConnectorId,
    now: time::OffsetDateTime,
) -> Result<(), ActorProcessingErr> {
    let store = connectors.store();
    let (recent, _) = jobs::list(store, id, None, 10)?;
    for mut job in recent.into_iter().filter(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running)) {
        job.status = JobStatus::Failed;
        job.finished_at = Some(now);
        job.error = Some(JobError {
            code: "INTERRUPTED".into(),
            message: "the appliance stopped during this run; the next run completes what it left".into(),
        });
        jobs::save(store, &job)?;
    }
    Ok(())
}
