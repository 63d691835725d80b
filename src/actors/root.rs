//! The root supervisor: starts every actor of the appliance as its linked children (one place, one order), answers liveness pings (readiness
//! and the systemd watchdog ask it), and on shutdown stops its children so in-flight work ends at a safe point.
//!
//! ractor leaves restart policy to the supervisor. The root's is: a child that stops by itself is recorded and
//! the appliance reports not ready (a restart policy for connector runs lives in the connectors supervisor,
//! where it knows what a run is).

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent};

use super::connectors::{ConnectorsArgs, ConnectorsMessage, ConnectorsSupervisor};
use super::identity::{IdentityActor, IdentityArgs, IdentityMessage};
use super::retention::{Retention, RetentionArgs};
use super::scheduler::{Scheduler, SchedulerArgs};
use super::scim::{ScimActor, ScimMessage};
use super::throttle::{Throttle, ThrottleMessage};
use crate::clock::SharedClock;
use crate::connectors::{Connectors, launch};
use crate::drive::Drive;
use crate::principals::Principals;

pub enum RootMessage {
    /// Answers when the actor system is processing messages.
    Ping(RpcReplyPort<()>),
}

pub struct RootSupervisor;

pub struct RootState {
    /// Children that died; non-empty means not ready.
    failed: Vec<String>,
}

impl Actor for RootSupervisor {
    type Msg = RootMessage;
    type State = RootState;
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<Self::Msg>, _args: ()) -> Result<Self::State, ActorProcessingErr> {
        Ok(RootState { failed: Vec::new() })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMessage::Ping(reply) => {
                if state.failed.is_empty() {
                    // The caller may have given up waiting; nothing to do then.
                    let _ = reply.send(());
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(child, error) => {
                tracing::error!(child = %child.get_id(), %error, "actor failed");
                state.failed.push(child.get_id().to_string());
            }
            SupervisionEvent::ActorTerminated(child, _, reason) => {
                tracing::warn!(child = %child.get_id(), ?reason, "actor stopped");
            }
            _ => {}
        }
        Ok(())
    }
}

/// How often versions and trash past their retention are purged.
const RETENTION_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What the children are built from.
pub struct ChildrenArgs {
    pub principals: Principals,
    pub connectors: Connectors,
    pub drive: Drive,
    pub clock: SharedClock,
    /// How often the scheduler looks at the clock for due runs.
    pub schedule_tick: Duration,
}

/// The root's children that the API talks to.
#[derive(Clone)]
pub struct Children {
    pub scim: ActorRef<ScimMessage>,
    pub throttle: ActorRef<ThrottleMessage>,
    pub identity: ActorRef<IdentityMessage>,
    pub connectors: ActorRef<ConnectorsMessage>,
}

/// Starts every child linked to `root`, so it hears when one dies and stops them when it stops: throttle,
/// SCIM, identity, the connectors supervisor (whose runs ask identity for resolvers), the scheduler (which
/// asks the supervisor for runs) and the retention purge. Unnamed: several appliances may run in one process
/// (the tests do).
pub async fn start_children(root: &ActorRef<RootMessage>, args: ChildrenArgs) -> Result<Children, SpawnErr> {
    let ChildrenArgs { principals, connectors, drive, clock, schedule_tick } = args;
    let cell = root.get_cell();
    let (throttle, _) = Actor::spawn_linked(None, Throttle, clock.clone(), cell.clone()).await?;
    let (scim, _) = Actor::spawn_linked(None, ScimActor, principals.clone(), cell.clone()).await?;
    let identity_args = IdentityArgs { connectors: connectors.clone(), principals };
    let (identity, _) = Actor::spawn_linked(None, IdentityActor, identity_args, cell.clone()).await?;
    let supervisor_args = ConnectorsArgs {
        connectors: connectors.clone(),
        launcher: launch::launcher(connectors.clone(), drive.clone(), identity.clone()),
        clock: clock.clone(),
    };
    let (supervisor, _) = Actor::spawn_linked(None, ConnectorsSupervisor, supervisor_args, cell.clone()).await?;
    let schedule = SchedulerArgs { connectors, supervisor: supervisor.clone(), clock, tick_every: Some(schedule_tick) };
    Actor::spawn_linked(None, Scheduler, schedule, cell.clone()).await?;
    let retention = RetentionArgs { drive, every: Some(RETENTION_PURGE_EVERY) };
    Actor::spawn_linked(None, Retention, retention, cell).await?;
    Ok(Children { scim, throttle, identity, connectors: supervisor })
}
