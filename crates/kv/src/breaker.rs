//! Skips a sick Redis for a while. Without it, every request during an outage would wait out
//! the response timeout, several times (rate limit, cache reads and writes): requests would
//! crawl instead of falling back at once. After a failure Redis is left alone for
//! [`COOL_OFF`]; then one caller at a time tries it again, the others keep to the fallback
//! (in-process limits, cache misses) until it answers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long Redis is skipped after it failed.
pub const COOL_OFF: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    /// Until when Redis is skipped; `None` while it answers.
    open_until: Mutex<Option<Instant>>,
    /// Whether a caller is trying Redis again after the cool-off.
    probing: AtomicBool,
}

impl Breaker {
    /// Whether to call Redis now.
    pub(crate) fn allow(&self) -> bool {
        let open_until = *self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) => !self.probing.swap(true, Ordering::AcqRel),
        }
    }

    /// Redis answered.
    pub(crate) fn success(&self) {
        *self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.probing.store(false, Ordering::Release);
    }

    /// Redis failed or did not answer in time.
    pub(crate) fn failure(&self) {
        *self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + COOL_OFF);
        self.probing.store(false, Ordering::Release);
    }

    /// Records the outcome of a call and passes it on.
    pub(crate) fn record<T, E>(&self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.success(),
            Err(_) => self.failure(),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_failure_and_lets_one_probe_through_after_the_cool_off() {
        let b = Breaker::default();
        assert!(b.allow());
        b.failure();
        assert!(!b.allow(), "skipped right after a failure");
        *b.open_until.lock().unwrap() = Some(Instant::now() - Duration::from_millis(1));
        assert!(b.allow(), "one probe after the cool-off");
        assert!(!b.allow(), "only one at a time");
        b.success();
        assert!(b.allow());
        assert!(b.allow());
    }
}
