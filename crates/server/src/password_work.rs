//! Password hashing and verification off the async workers, a few at a time.
//!
//! argon2id takes 19 MiB and tens of milliseconds per check by design. Run on the blocking
//! pool without a bound, N sign-ins arriving together (or failed ones from N addresses, each
//! within its own login limit) cost N x 19 MiB at once, and the allocator keeps much of that
//! peak. At most one check per core runs; the others queue for a permit.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(limit()));

/// Checks at once: the number of cores (at least one).
fn limit() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs `work` (a password hash or verification) on the blocking pool once a permit is free.
///
/// # Errors
///
/// When the work panicked (or the runtime is shutting down).
pub async fn run<T, F>(work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let _permit = PERMITS
        .acquire()
        .await
        .map_err(|e| format!("password checks are closed: {e}"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn at_most_one_check_per_core_runs_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let checks = (0..4 * super::limit() + 4).map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            super::run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for result in futures::future::join_all(checks).await {
            assert!(result.is_ok());
        }
        assert!(peak.load(Ordering::SeqCst) <= super::limit());
        assert!(peak.load(Ordering::SeqCst) >= 1);
    }
}
