//! A connector's transfer budget, spent through the Throttle actor: a transfer slot per open content stream
//! (appliance-wide cap) and, with `max_bytes_per_second` set, bytes from the connector's own token bucket
//! (one second of burst). The drive side spends it (`sides::budget`); the launcher gives it one per run.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ractor::ActorRef;

use super::throttle::{Permit, Rate, ThrottleMessage};
use crate::ids::ConnectorId;
use crate::sides::budget::{Slot, TransferBudget};

/// How a budget waits for tokens to refill: a sleep in production; tests move their manual clock instead.
pub type Waiter = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

pub struct ThrottleBudget {
    throttle: ActorRef<ThrottleMessage>,
    key: String,
    rate: Option<Rate>,
    wait: Waiter,
}

impl ThrottleBudget {
    pub fn new(throttle: ActorRef<ThrottleMessage>, connector: ConnectorId, max_bytes_per_second: Option<u64>) -> Self {
        let rate = max_bytes_per_second.map(|bytes| Rate {
            capacity: u32::try_from(bytes).unwrap_or(u32::MAX).max(1),
            per: Duration::from_secs(1),
        });
        let wait: Waiter = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
        Self { throttle, key: format!("connector-bytes:{connector}"), rate, wait }
    }

    pub fn with_waiter(mut self, wait: Waiter) -> Self {
        self.wait = wait;
        self
    }
}

/// Gives the slot back when the stream that held it is dropped.
struct SlotGuard(ActorRef<ThrottleMessage>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        // The actor is gone only at shutdown, when no slot matters any more.
        let _ = self.0.cast(ThrottleMessage::ReleaseSlot);
    }
}

impl TransferBudget for ThrottleBudget {
    fn slot(&self) -> BoxFuture<'_, Slot> {
        Box::pin(async move {
            // Without the actor (shutting down) the transfer goes on rather than hang.
            match ractor::call!(self.throttle, ThrottleMessage::AcquireSlot) {
                Ok(()) => Slot(Some(Box::new(SlotGuard(self.throttle.clone())))),
                Err(_) => Slot(None),
            }
        })
    }

    fn spend(&self, bytes: u64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(rate) = self.rate else { return };
            let mut left = bytes;
            while left > 0 {
                // A bucket never holds more than its capacity: larger chunks are paid for in pieces.
                let piece = u32::try_from(left.min(u64::from(rate.capacity))).unwrap_or(rate.capacity);
                let key = self.key.clone();
                let permit =
                    ractor::call!(self.throttle, |reply| ThrottleMessage::Acquire { key, rate, cost: piece, reply });
                match permit {
                    Ok(Permit::Go) => left -= u64::from(piece),
                    Ok(Permit::Wait(d)) => (self.wait)(d).await,
                    Err(_) => return,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use ractor::Actor;
    use time::macros::datetime;

    use super::*;
    use crate::actors::throttle::{MAX_CONCURRENT_TRANSFERS, Throttle};
    use crate::clock::{Clock, ManualClock, SharedClock};

    async fn throttle(clock: SharedClock) -> ActorRef<ThrottleMessage> {
        Actor::spawn(None, Throttle, clock).await.unwrap().0
    }

    #[tokio::test]
    async fn bytes_move_at_the_connectors_rate_on_the_injected_clock() {
        let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
        let start = clock.now();
        let actor = throttle(clock.clone() as SharedClock).await;
        // Waiting moves the manual clock by exactly what the throttle asked for.
        let moved = clock.clone();
        let waiter: Waiter = Arc::new(move |d| {
            moved.advance(time::Duration::try_from(d).unwrap_or(time::Duration::ZERO));
            Box::pin(async {})
        });
        let budget = ThrottleBudget::new(actor.clone(), ConnectorId::new(), Some(65_536)).with_waiter(waiter);
        // Ten chunks of 64 KiB at 64 KiB/s: the first from the full bucket, then one a second.
        for _ in 0..10 {
            budget.spend(65_536).await;
        }
        let took = (clock.now() - start).as_seconds_f64();
        assert!((took - 9.0).abs() < 0.01, "{took}");
        // A chunk larger than a second's worth is paid in pieces rather than waited for forever.
        budget.spend(200_000).await;
        let took = (clock.now() - start).as_seconds_f64();
        assert!((took - 9.0 - 200_000.0 / 65_536.0).abs() < 0.01, "{took}");

        let before = clock.now();
        ThrottleBudget::new(actor, ConnectorId::new(), None).spend(u64::MAX).await;
        assert_eq!(clock.now(), before, "a connector without a cap never waits");
    }

    #[tokio::test]
    async fn transfers_past_the_cap_wait_for_a_slot_in_order() {
        let clock: SharedClock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
        let actor = throttle(clock).await;
        let budget = Arc::new(ThrottleBudget::new(actor.clone(), ConnectorId::new(), None));
        let mut held = Vec::new();
        for _ in 0..MAX_CONCURRENT_TRANSFERS {
            held.push(budget.slot().await);
        }
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.slot().await })
        };
        let slots = || async { ractor::call!(actor, ThrottleMessage::GetSlots) };
        let mut seen = slots().await.unwrap();
        while seen.1 == 0 {
            tokio::task::yield_now().await;
            seen = slots().await.unwrap();
        }
        assert_eq!(seen, (MAX_CONCURRENT_TRANSFERS, 1), "the fifth transfer waits");
        assert!(!waiting.is_finished());
        held.pop();
        let fifth = waiting.await.unwrap();
        assert_eq!(slots().await.unwrap(), (MAX_CONCURRENT_TRANSFERS, 0), "it took the freed slot");
        drop(fifth);
        drop(held);
        let mut now = slots().await.unwrap();
        while now.0 != 0 {
            tokio::task::yield_now().await;
            now = slots().await.unwrap();
        }
        assert_eq!(now, (0, 0), "every slot came back");
    }
}
