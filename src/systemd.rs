//! systemd integration: `READY=1` once serving, `STOPPING=1` on shutdown, and watchdog pings that are sent only
//! while the actor tree answers, so a wedged appliance is restarted by systemd rather than pinged forever.
//! Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op.

use std::time::Duration;

use ractor::ActorRef;
use sd_notify::NotifyState;

use crate::actors::root::RootMessage;

pub fn notify_ready() {
    if let Err(error) = sd_notify::notify(&[NotifyState::Ready]) {
        tracing::warn!(%error, "could not notify systemd of readiness");
    }
}

pub fn notify_stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

/// Pings the systemd watchdog at half its interval for as long as the root actor answers.
pub fn spawn_watchdog(root: ActorRef<RootMessage>) {
    let Some(interval) = sd_notify::watchdog_enabled() else { return };
    let period = interval / 2;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let alive = root.call(RootMessage::Ping, Some(period.min(Duration::from_secs(5)))).await;
            if matches!(alive, Ok(ractor::rpc::CallResult::Success(()))) {
                let _ = sd_notify::notify(&[NotifyState::Watchdog]);
            } else {
                tracing::error!("actor tree did not answer; withholding the watchdog ping");
            }
        }
    });
}
