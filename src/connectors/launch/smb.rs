//! An SMB run: log in to the share with the connector's sealed password, then run the engine against the drive.

use std::sync::Arc;

use ractor::ActorRef;

use super::{NotStarted, open_drive_side};
use crate::actors::connector::{RunOrder, Work};
use crate::actors::identity::IdentityMessage;
use crate::actors::throttle::ThrottleMessage;
use crate::connectors::jobs::Job;
use crate::connectors::{Connector, Connectors, resolution, runner};
use crate::drive::Drive;
use crate::identity::smb::AfterRun;
use crate::sides::smb::side::SmbSide;
use crate::sides::smb::{SmbClient, SmbConfig};

pub(super) async fn run(
    connectors: &Connectors,
    drive: Drive,
    identity: &ActorRef<IdentityMessage>,
    throttle: ActorRef<ThrottleMessage>,
    order: RunOrder,
) -> Result<Job, NotStarted> {
    let RunOrder { connector, job, stop, work } = order;
    let source = connect_smb(connectors, &connector).await?;
    let drive_side = open_drive_side(drive.clone(), &connector, throttle).await?;
    let store = connectors.store().clone();
    let clock = connectors.clock().clone();
    let order = match work {
        Work::Sync => None,
        Work::Resolve(order) => Some(order),
    };
    // A resolution moves one path and ends there: the permissions pass belongs to sync runs.
    let finished = match &order {
        Some(order) => resolution::resolve_job(&store, &clock, job, order, &source, &drive_side).await,
        None => runner::run_job(&store, &clock, &connector.common, job, &source, &drive_side, &stop).await,
    };
    // Owners and ACEs, when the connector syncs permissions (issue 7): after the content, on the same session.
    let finished = match finished {
        Ok(job) if order.is_none() => {
            let client = source.client();
            let after = AfterRun {
                identity,
                store: &store,
                clock: &clock,
                drive: &drive,
                connector: &connector,
                client,
                stop: &stop,
            };
            Ok(after.apply(job).await)
        }
        other => other,
    };
    if let Err(error) = source.client().shutdown().await {
        tracing::debug!(%error, connector = %connector.id, "SMB logoff after the run failed");
    }
    finished.map_err(|e| NotStarted("INTERNAL".into(), e.to_string()))
}

async fn connect_smb(connectors: &Connectors, connector: &Connector) -> Result<SmbSide, NotStarted> {
    let config = smb_config(connectors, connector).map_err(|e| NotStarted("INTERNAL".into(), e))?;
    let client = SmbClient::connect(config).await.map_err(|e| NotStarted(e.code().to_owned(), e.to_string()))?;
    Ok(SmbSide::new(Arc::new(client)))
}

/// The SMB client configuration of a connector, its password unsealed (runs and the `test` endpoint).
pub fn smb_config(connectors: &Connectors, connector: &Connector) -> Result<SmbConfig, String> {
    let smb = connector.smb.as_ref().ok_or_else(|| "not an SMB connector".to_owned())?;
    let password = connectors.secret(connector, "password").map_err(|e| e.to_string())?;
    let mut config =
        SmbConfig::new(&smb.server_host, smb.server_port, &smb.share_name, &smb.username, password.expose());
    config.base_path = smb.base_path.clone();
    config.domain = smb.domain.clone();
    Ok(config)
}
