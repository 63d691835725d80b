//! The root supervisor: starts the appliance's actors as linked children, answers liveness pings (readiness
//! and the systemd watchdog ask it), and on shutdown stops its children so in-flight work ends at a safe point.
//!
//! ractor leaves restart policy to the supervisor. The root's is: a child that stops by itself is recorded and
//! the appliance reports not ready (a restart policy for connector runs lives in the connectors supervisor,
//! where it knows what a run is).

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent};

use super::scim::{ScimActor, ScimMessage};
use super::throttle::{Throttle, ThrottleMessage};
use crate::clock::SharedClock;
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

/// The root's children that the API talks to.
#[derive(Clone)]
pub struct Children {
    pub scim: ActorRef<ScimMessage>,
    pub throttle: ActorRef<ThrottleMessage>,
}

/// Starts the children linked to `root`, so it hears when one dies and stops them when it stops. Unnamed:
/// several appliances may run in one process (the tests do).
pub async fn start_children(
    root: &ActorRef<RootMessage>,
    principals: Principals,
    clock: SharedClock,
) -> Result<Children, SpawnErr> {
    let (throttle, _) = Actor::spawn_linked(None, Throttle, clock, root.get_cell()).await?;
    let (scim, _) = Actor::spawn_linked(None, ScimActor, principals, root.get_cell()).await?;
    Ok(Children { scim, throttle })
}
