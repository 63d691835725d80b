//! The scheduler: on each `Tick` it reads the time from the injected clock and asks every connector whose
//! `sync_interval_minutes` has passed since its last scheduled slot for a run (`Trigger::Schedule`). The connector
//! actor decides: it starts the run, or records it as skipped (a run in progress, or paused). A slot is used up
//! either way, so a long run is not followed by a burst of catch-up runs. In production a timer sends `Tick`
//! every few seconds; tests advance a manual clock and send `Tick` themselves, so no test waits on real time.

use std::collections::HashMap;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;

use super::connector::ConnectorMessage;
use super::connectors::ConnectorsMessage;
use crate::clock::SharedClock;
use crate::connectors::jobs::Trigger;
use crate::connectors::{ConnectorKind, Connectors};
use crate::ids::ConnectorId;

pub enum SchedulerMessage {
    /// Look at the clock and start what is due; answers with the connectors asked to run.
    Tick(Option<RpcReplyPort<Vec<ConnectorId>>>),
}

pub struct Scheduler;

pub struct SchedulerArgs {
    pub connectors: Connectors,
    pub supervisor: ActorRef<ConnectorsMessage>,
    pub clock: SharedClock,
    /// How often the timer ticks; `None` for no timer (tests tick by hand).
    pub tick_every: Option<Duration>,
}

pub struct SchedulerState {
    args: SchedulerArgs,
    /// When each connector's last scheduled slot began. A connector not yet in the map counts from its creation:
    /// its first scheduled run comes one interval after it was created (or, after a restart, at once if that
    /// time has passed).
    last_slot: HashMap<ConnectorId, OffsetDateTime>,
}

impl Actor for Scheduler {
    type Msg = SchedulerMessage;
    type State = SchedulerState;
    type Arguments = SchedulerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SchedulerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        if let Some(every) = args.tick_every {
            myself.send_interval(every, || SchedulerMessage::Tick(None));
        }
        Ok(SchedulerState { args, last_slot: HashMap::new() })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SchedulerMessage::Tick(reply) => {
                let started = tick(state).await?;
                if let Some(reply) = reply {
                    let _ = reply.send(started);
                }
            }
        }
        Ok(())
    }
}

async fn tick(state: &mut SchedulerState) -> Result<Vec<ConnectorId>, ActorProcessingErr> {
    let now = state.args.clock.now();
    let connectors = state.args.connectors.clone();
    let intervals =
        tokio::task::spawn_blocking(move || -> Result<Vec<(ConnectorId, u32, OffsetDateTime)>, ActorProcessingErr> {
            let mut out = Vec::new();
            for kind in [ConnectorKind::Smb, ConnectorKind::Sharepoint] {
                out.extend(
                    connectors.list(kind)?.into_iter().map(|c| (c.id, c.common.sync_interval_minutes, c.created_at)),
                );
            }
            Ok(out)
        })
        .await??;
    let mut asked = Vec::new();
    for (id, minutes, created_at) in intervals {
        if minutes == 0 {
            continue;
        }
        let interval = time::Duration::minutes(i64::from(minutes));
        let last = *state.last_slot.entry(id).or_insert(created_at);
        let due = now - last >= interval;
        if !due {
            continue;
        }
        let Some(actor) = ractor::call_t!(state.args.supervisor, ConnectorsMessage::Get, 5000, id)? else { continue };
        state.last_slot.insert(id, now);
        // The answer (started, or refused and recorded as skipped) is the connector's business.
        actor.cast(ConnectorMessage::Sync {
            trigger: Trigger::Schedule,
            force: false,
            full_sync: false,
            reply: noop_reply(),
        })?;
        asked.push(id);
    }
    Ok(asked)
}

/// A reply port nobody listens to: the scheduler does not wait for the connector's answer.
fn noop_reply<T: Send + 'static>() -> RpcReplyPort<T> {
    let (tx, _rx) = ractor::concurrency::oneshot();
    tx.into()
}
