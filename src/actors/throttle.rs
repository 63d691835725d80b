//! The Throttle actor: token buckets keyed by a name, driven by the injected clock. Anyone that must pace
//! itself asks it for a permit and gets "go" or "wait this long": the SCIM routes (600 requests a minute per
//! SCIM token, keyed by the token id), and later the connectors (bandwidth, Graph pacing) with their own keys.
//!
//! A bucket holds up to `capacity` tokens and refills continuously at `capacity` per `per`; a request takes
//! `cost` tokens or, when too few are left, takes nothing and is told how long until enough have refilled.
//! Time comes from the clock, never from sleeping, so tests move a manual clock instead of waiting.
//!
//! It also holds the appliance-wide transfer slots: at most `MAX_CONCURRENT_TRANSFERS` content streams move at
//! once, whatever the connectors; a request for a slot is answered when one is free, in the order asked.
//! `ThrottleBudget` is how a connector's drive side spends both (slots, and bytes against its
//! `max_bytes_per_second`).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;

use crate::clock::SharedClock;

pub enum ThrottleMessage {
    /// Takes `cost` tokens from the bucket `key` (made with `rate` on first use) and answers with a permit.
    Acquire { key: String, rate: Rate, cost: u32, reply: RpcReplyPort<Permit> },
    /// Asks for a transfer slot: answered when one is free.
    AcquireSlot(RpcReplyPort<()>),
    /// Gives a slot back (sent by the slot's guard when dropped).
    ReleaseSlot,
    /// How many slots are taken and how many requests wait.
    GetSlots(RpcReplyPort<(usize, usize)>),
}

/// Content streams that may move at once across all connectors: enough to keep a disk and a network busy,
/// few enough that many connectors starting together do not thrash either.
pub const MAX_CONCURRENT_TRANSFERS: usize = 4;

/// `capacity` tokens per `per`, with bursts of up to `capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub capacity: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn per_minute(capacity: u32) -> Self {
        Self { capacity, per: Duration::from_secs(60) }
    }

    fn tokens_per_second(self) -> f64 {
        f64::from(self.capacity) / self.per.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// The throttle's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Go,
    /// Come back after this long (rounded up to whole seconds by callers that speak `Retry-After`).
    Wait(Duration),
}

/// One bucket. Pure: the caller passes the time in.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    updated: OffsetDateTime,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: OffsetDateTime) -> Self {
        Self { rate, tokens: f64::from(rate.capacity), updated: now }
    }

    pub fn acquire(&mut self, cost: u32, now: OffsetDateTime) -> Permit {
        // A clock set backwards refills nothing rather than draining the bucket.
        let elapsed = (now - self.updated).as_seconds_f64().max(0.0);
        let capacity = f64::from(self.rate.capacity);
        self.tokens = (self.tokens + elapsed * self.rate.tokens_per_second()).min(capacity);
        self.updated = now.max(self.updated);
        let cost = f64::from(cost);
        if self.tokens >= cost {
            self.tokens -= cost;
            return Permit::Go;
        }
        let missing = cost.min(capacity) - self.tokens;
        // Rounded up to the next microsecond: a wait rounded down would find the bucket a hair short again, and
        // a caller told to wait nothing would ask in a tight loop.
        let micros = (missing / self.rate.tokens_per_second() * 1e6).ceil().max(1.0);
        Permit::Wait(Duration::from_micros(micros as u64))
    }

    /// Full again: nothing is lost by forgetting it.
    fn is_full(&self, now: OffsetDateTime) -> bool {
        let elapsed = (now - self.updated).as_seconds_f64().max(0.0);
        self.tokens + elapsed * self.rate.tokens_per_second() >= f64::from(self.rate.capacity)
    }
}

pub struct Throttle;

pub struct ThrottleState {
    clock: SharedClock,
    buckets: HashMap<String, TokenBucket>,
    slots_taken: usize,
    waiting: VecDeque<RpcReplyPort<()>>,
}

impl ThrottleState {
    /// Hands free slots to the oldest waiters still listening.
    fn grant_waiting(&mut self) {
        while self.slots_taken < MAX_CONCURRENT_TRANSFERS {
            let Some(waiter) = self.waiting.pop_front() else { return };
            // A waiter that gave up (its run stopped) gets nothing and takes nothing.
            if waiter.send(()).is_ok() {
                self.slots_taken += 1;
            }
        }
    }
}

/// Past this many buckets, full ones are forgotten so keys that come and go do not pile up.
const PRUNE_ABOVE: usize = 10_000;

impl Actor for Throttle {
    type Msg = ThrottleMessage;
    type State = ThrottleState;
    type Arguments = SharedClock;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, clock: SharedClock) -> Result<Self::State, ActorProcessingErr> {
        Ok(ThrottleState { clock, buckets: HashMap::new(), slots_taken: 0, waiting: VecDeque::new() })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ThrottleMessage::Acquire { key, rate, cost, reply } => {
                let now = state.clock.now();
                if state.buckets.len() > PRUNE_ABOVE {
                    state.buckets.retain(|_, b| !b.is_full(now));
                }
                let bucket = state.buckets.entry(key).or_insert_with(|| TokenBucket::new(rate, now));
                // A changed rate (a new setting) takes effect from now on.
                bucket.rate = rate;
                // The caller may have given up waiting; nothing to undo then.
                let _ = reply.send(bucket.acquire(cost, now));
            }
            ThrottleMessage::AcquireSlot(reply) => {
                state.waiting.push_back(reply);
                state.grant_waiting();
            }
            ThrottleMessage::ReleaseSlot => {
                state.slots_taken = state.slots_taken.saturating_sub(1);
                state.grant_waiting();
            }
            ThrottleMessage::GetSlots(reply) => {
                let _ = reply.send((state.slots_taken, state.waiting.len()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_bucket_lets_its_capacity_through_then_says_how_long_to_wait() {
        let t0 = datetime!(2026-03-01 09:00 UTC);
        let mut bucket = TokenBucket::new(Rate::per_minute(600), t0);
        for _ in 0..600 {
            assert_eq!(bucket.acquire(1, t0), Permit::Go);
        }
        match bucket.acquire(1, t0) {
            Permit::Wait(d) => assert!((d.as_secs_f64() - 0.1).abs() < 1e-6, "{d:?}"),
            Permit::Go => panic!("the 601st request in the same instant went through"),
        }
    }

    #[test]
    fn tokens_refill_with_time_and_never_beyond_capacity() {
        let t0 = datetime!(2026-03-01 09:00 UTC);
        let mut bucket = TokenBucket::new(Rate::per_minute(60), t0);
        for _ in 0..60 {
            bucket.acquire(1, t0);
        }
        let later = t0 + time::Duration::seconds(2);
        assert_eq!(bucket.acquire(2, later), Permit::Go);
        assert!(matches!(bucket.acquire(1, later), Permit::Wait(_)));
        let much_later = t0 + time::Duration::hours(1);
        for _ in 0..60 {
            assert_eq!(bucket.acquire(1, much_later), Permit::Go);
        }
        assert!(matches!(bucket.acquire(1, much_later), Permit::Wait(_)));
    }

    #[test]
    fn a_clock_set_backwards_does_not_drain_the_bucket() {
        let t0 = datetime!(2026-03-01 09:00 UTC);
        let mut bucket = TokenBucket::new(Rate::per_minute(10), t0);
        assert_eq!(bucket.acquire(1, t0 - time::Duration::hours(1)), Permit::Go);
        assert!(bucket.tokens > 8.0);
    }
}
