//! The retention purge: on a timer, the drive deletes versions and trash records past their share's
//! `retention_days` and the content files nothing refers to any more. The drive decides what is due from its
//! injected clock; this actor only gives it the occasions, off the async threads.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::drive::{Drive, PurgeReport};

pub enum RetentionMessage {
    /// Purge what is due now; answers with what went (tests), or nobody listens (the timer).
    Purge(Option<RpcReplyPort<PurgeReport>>),
}

pub struct Retention;

pub struct RetentionArgs {
    pub drive: Drive,
    /// How often to purge; `None` for no timer.
    pub every: Option<Duration>,
}

impl Actor for Retention {
    type Msg = RetentionMessage;
    type State = Drive;
    type Arguments = RetentionArgs;

    async fn pre_start(&self, myself: ActorRef<Self::Msg>, args: RetentionArgs) -> Result<Drive, ActorProcessingErr> {
        if let Some(every) = args.every {
            myself.send_interval(every, || RetentionMessage::Purge(None));
        }
        Ok(args.drive)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        drive: &mut Drive,
    ) -> Result<(), ActorProcessingErr> {
        let RetentionMessage::Purge(reply) = message;
        let purging = drive.clone();
        match tokio::task::spawn_blocking(move || purging.purge()).await? {
            Ok(report) => {
                if let Some(reply) = reply {
                    let _ = reply.send(report);
                }
            }
            // A failed purge is retried at the next occasion; nothing is lost by purging late.
            Err(error) => tracing::error!(%error, "retention purge failed"),
        }
        Ok(())
    }
}
