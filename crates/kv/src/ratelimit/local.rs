//! In-process GCRA on governor's keyed limiters.
//!
//! governor gives everything the headers need, if not all of it directly:
//! - allowed: `remaining` exactly, from the
//!   [`StateSnapshot`](governor::middleware::StateSnapshot); `reset_after` only as the
//!   bound `(burst - remaining) × T`, because the snapshot keeps its timestamp private. The
//!   bound is late by less than one emission interval T, which errs on the safe side for a
//!   client: after it, the capacity is surely full.
//! - rejected: `retry_after` exactly, from [`NotUntil`](governor::NotUntil); `reset_after` exactly as
//!   `retry_after + (burst - 1) × T`, because a rejection happens precisely when the theoretical
//!   arrival time is `(burst - 1) × T` ahead of the next conforming instant.
//!
//! So governor's lock-free, well-tested state store is kept rather than a hand-rolled one.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use super::{Outcome, Quota};

type KeyedLimiter = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// How often idle keys are dropped. Keys are cheap (a timestamp each), so this only needs to
/// keep memory bounded under a stream of one-off client IPs, not to be prompt.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub(super) struct LocalLimiter {
    /// One governor limiter per scope and quota, created on first use.
    limiters: RwLock<HashMap<String, HashMap<Quota, Arc<KeyedLimiter>>>>,
    /// Reference point for `last_sweep_ms`.
    started: Instant,
    /// Milliseconds after `started` of the last sweep; an atomic so that only one caller
    /// sweeps while the others go on undisturbed.
    last_sweep_ms: AtomicU64,
}

impl LocalLimiter {
    pub(super) fn new() -> Self {
        Self {
            limiters: RwLock::new(HashMap::new()),
            started: Instant::now(),
            last_sweep_ms: AtomicU64::new(0),
        }
    }

    pub(super) fn check(&self, scope: &str, key: &str, quota: Quota) -> Outcome {
        self.maybe_sweep();
        let limiter = self.limiter(scope, quota);
        let interval = quota.emission_interval();
        let burst = quota.effective_burst();
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Outcome {
                    allowed: true,
                    remaining,
                    retry_after: None,
                    reset_after: interval.saturating_mul(burst.saturating_sub(remaining)),
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                Outcome {
                    allowed: false,
                    remaining: 0,
                    retry_after: Some(wait),
                    reset_after: wait.saturating_add(interval.saturating_mul(burst - 1)),
                }
            }
        }
    }

    fn limiter(&self, scope: &str, quota: Quota) -> Arc<KeyedLimiter> {
        // Fast path: a read lock and no allocation, as every request after the first takes it.
        if let Some(limiter) = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(scope)
            .and_then(|by_quota| by_quota.get(&quota))
        {
            return Arc::clone(limiter);
        }
        let mut limiters = self
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let limiter = limiters
            .entry(scope.to_owned())
            .or_default()
            .entry(quota)
            .or_insert_with(|| {
                Arc::new(governor::RateLimiter::keyed(governor_quota(quota)).with_middleware())
            });
        Arc::clone(limiter)
    }

    /// At most once per [`SWEEP_EVERY`], forgets keys whose state is back to full capacity
    /// (they behave exactly like unseen keys) and limiters left with no key, so that memory
    /// stays bounded under a stream of one-off client IPs.
    fn maybe_sweep(&self) {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        let due = now_ms.saturating_sub(last) >= millis(SWEEP_EVERY);
        if !due
            || self
                .last_sweep_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.sweep();
    }

    /// Forgets keys back at full capacity and limiters left empty.
    fn sweep(&self) {
        // Sweep outside the map lock so that checks go on meanwhile.
        let all: Vec<Arc<KeyedLimiter>> = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(|by_quota| by_quota.values().cloned())
            .collect();
        for limiter in &all {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        drop(all);
        // A check racing this removal may count one request on a limiter that is being
        // dropped; that key then starts afresh, which is the state it was sweepable in anyway.
        let mut limiters = self
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for by_quota in limiters.values_mut() {
            by_quota.retain(|_, limiter| !limiter.is_empty());
        }
        limiters.retain(|_, by_quota| !by_quota.is_empty());
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn governor_quota(quota: Quota) -> governor::Quota {
    let burst = NonZeroU32::MIN.saturating_add(quota.effective_burst() - 1);
    // `with_period` only refuses a zero period, which `emission_interval` never returns; the
    // fallback keeps this function total without a panic path.
    governor::Quota::with_period(quota.emission_interval())
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter_count(limiter: &LocalLimiter) -> usize {
        let limiters = limiter
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        limiters.values().map(HashMap::len).sum()
    }

    #[test]
    fn sweeping_forgets_idle_keys_but_keeps_busy_ones() {
        let limiter = LocalLimiter::new();
        let fast = Quota::new(1, Duration::from_millis(1));
        let slow = Quota::new(1, Duration::from_secs(600));
        limiter.check("fast", "k", fast);
        assert!(limiter.check("slow", "k", slow).allowed);
        assert_eq!(limiter_count(&limiter), 2);
        std::thread::sleep(Duration::from_millis(20));
        limiter.sweep();
        // "fast" is back at full capacity, so its key and then its limiter are dropped; the
        // "slow" key still owes time and must be remembered.
        assert_eq!(limiter_count(&limiter), 1);
        assert!(!limiter.check("slow", "k", slow).allowed);
    }
}
