//! The check runner: keeps every automated item of every live review verified.
//!
//! One loop per replica claims due items from `check_schedule` (on-demand requests first) into
//! a bounded queue, never more than the queue has room for; `PROBE_CONCURRENCY` workers take
//! them from the queue, run them with the probe engine (which also bounds requests per host)
//! and record each result ([`record`]). Claims are leases renewed while this replica works on
//! them, so with several replicas on one PostgreSQL each due check runs once per round, and the
//! checks of a replica that dies become due again when its leases run out. Beside the loop:
//! the lease heartbeat, readiness refreshes of services whose state changed (at most once a
//! second each), the backlog gauges and retention (one replica per period).
//!
//! On shutdown the loop stops claiming, queued checks are handed back unrun, running ones get
//! the shutdown timeout to finish, and whatever this replica still holds is released.

pub mod metrics;
mod record;
mod retention;
mod target;

use std::collections::HashSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use preflight_probe::{Engine, Outcome, Report};
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

pub use record::{Finished, Recorded, outcome_of};

use crate::readiness;
use crate::state::AppState;
use crate::store::schedule::{self, Claimed};

/// How often the loop looks for due checks when nothing wakes it.
const TICK: Duration = Duration::from_millis(500);
/// How often schedule rows are created for newly automated items and dropped for others.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// How often the backlog gauges are read from the database.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);
/// How often services with new runs get their readiness refreshed.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Pause after a failed claim (the database is away).
const CLAIM_RETRY: Duration = Duration::from_secs(5);
/// Longest spread of the first runs of newly attached items.
const FIRST_RUN_SPREAD: Duration = Duration::from_secs(10);

/// A running check runner; [`RunnerHandle::shutdown`] stops it.
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunnerHandle {
    /// Stops claiming, hands queued checks back, gives running ones `grace` to finish, then
    /// releases whatever is still held.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace + Duration::from_secs(2), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the check runner did not stop in time");
        }
    }
}

struct Shared {
    state: AppState,
    engine: Engine,
    owner: String,
    /// Services whose readiness changed since the last refresh.
    dirty: StdMutex<HashSet<Uuid>>,
    /// Result writes at once: one on SQLite (one writer anyway), a few on PostgreSQL.
    record_slots: Semaphore,
    stop: watch::Receiver<bool>,
    /// Set when the loop stops claiming: workers hand queued checks back instead of running.
    stopping: std::sync::atomic::AtomicBool,
}

/// Starts the runner unless `PROBE_SCHEDULER=false`.
pub fn spawn(state: AppState) -> anyhow::Result<Option<RunnerHandle>> {
    if !state.settings.probe.scheduler {
        tracing::info!("check runner disabled (PROBE_SCHEDULER=false)");
        return Ok(None);
    }
    let engine = Engine::new(target::engine_config(&state.settings.probe))
        .map_err(|e| anyhow::anyhow!("building the probe engine: {e}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let record_slots = if state.settings.is_postgres() { 4 } else { 1 };
    let shared = Arc::new(Shared {
        owner: owner_id(),
        state,
        engine,
        dirty: StdMutex::new(HashSet::new()),
        record_slots: Semaphore::new(record_slots),
        stop: stop_rx,
        stopping: std::sync::atomic::AtomicBool::new(false),
    });
    tracing::info!(
        owner = shared.owner,
        concurrency = shared.state.settings.probe.concurrency,
        interval_s = shared.state.settings.probe.interval.as_secs(),
        "check runner started"
    );
    let task = tokio::spawn(run(shared));
    Ok(Some(RunnerHandle {
        stop: stop_tx,
        task,
    }))
}

/// This replica's name in leases: host, process and a random part (a restarted process never
/// reuses a dead one's leases).
fn owner_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().chars().take(60).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "preflight".into());
    let random = Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

async fn run(shared: Arc<Shared>) {
    let settings = &shared.state.settings.probe;
    let (tx, rx) = mpsc::channel::<Claimed>(settings.queue);
    let rx = Arc::new(Mutex::new(rx));
    ::metrics::gauge!(metrics::QUEUE_CAPACITY).set(settings.queue as f64);
    let mut workers = JoinSet::new();
    for _ in 0..settings.concurrency {
        workers.spawn(worker(shared.clone(), rx.clone()));
    }
    let side = [
        tokio::spawn(heartbeat(shared.clone())),
        tokio::spawn(refresher(shared.clone())),
        tokio::spawn(backlog(shared.clone())),
        tokio::spawn(retention::run(
            shared.state.clone(),
            shared.owner.clone(),
            shared.stop.clone(),
        )),
    ];
    let mut stop = shared.stop.clone();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconciled: Option<tokio::time::Instant> = None;
    // SIGTERM stops claiming at once, while the HTTP server drains, not after it.
    let signal = crate::shutdown::signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            () = &mut signal => break,
            _ = tick.tick() => {}
            () = shared.state.runs_requested.notified() => {}
        }
        if *stop.borrow() {
            break;
        }
        if reconciled.is_none_or(|at| at.elapsed() >= RECONCILE_EVERY) {
            reconciled = Some(tokio::time::Instant::now());
            let spread = FIRST_RUN_SPREAD.min(settings.interval);
            match schedule::reconcile(&shared.state.db, Utc::now(), spread, None).await {
                Ok((added, removed)) if added + removed > 0 => {
                    tracing::info!(added, removed, "check schedule reconciled");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconciling the check schedule failed"),
            }
        }
        let room = tx.capacity();
        let claimed = match schedule::claim(
            &shared.state.db,
            &shared.owner,
            Utc::now(),
            settings.lease,
            room,
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                // The database is away: retry, but not at the tick's pace.
                tracing::warn!(error = %e, "claiming due checks failed");
                tokio::select! {
                    _ = stop.changed() => break,
                    () = &mut signal => break,
                    () = tokio::time::sleep(CLAIM_RETRY) => {}
                }
                continue;
            }
        };
        for c in claimed {
            // Room was counted before claiming and only this loop sends: never waits.
            if tx.send(c).await.is_err() {
                break;
            }
        }
        ::metrics::gauge!(metrics::QUEUE_DEPTH).set((settings.queue - tx.capacity()) as f64);
    }
    // Shutdown: workers hand back what is still queued and finish what runs.
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    drop(tx);
    let grace = shared.state.settings.shutdown_timeout;
    let drained = tokio::time::timeout(grace, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "check runs still running at shutdown are abandoned to their leases' expiry"
        );
        workers.abort_all();
    }
    for task in side {
        task.abort();
    }
    match schedule::release(&shared.state.db, &shared.owner, None).await {
        Ok(n) if n > 0 => tracing::info!(released = n, "check runner released its claims"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "releasing claims at shutdown failed"),
    }
    tracing::info!("check runner stopped");
}

async fn worker(shared: Arc<Shared>, rx: Arc<Mutex<mpsc::Receiver<Claimed>>>) {
    loop {
        let next = rx.lock().await.recv().await;
        let Some(claimed) = next else { return };
        if shared.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            let id = claimed.review_item_id;
            if let Err(e) = schedule::release(&shared.state.db, &shared.owner, Some(&[id])).await {
                tracing::warn!(error = %e, "handing back a queued check failed");
            }
            continue;
        }
        ::metrics::gauge!(metrics::IN_FLIGHT).increment(1.0);
        execute(&shared, claimed).await;
        ::metrics::gauge!(metrics::IN_FLIGHT).decrement(1.0);
    }
}

/// Runs one claimed check and records it.
async fn execute(shared: &Shared, claimed: Claimed) {
    let state = &shared.state;
    let id = claimed.review_item_id;
    let job = match target::load(&state.db, state, claimed).await {
        Ok(Ok(job)) => job,
        Ok(Err(target::Skip::Gone)) => {
            if let Err(e) = schedule::forget(&state.db, id).await {
                tracing::warn!(error = %e, "dropping the schedule of a gone item failed");
            }
            return;
        }
        Err(e) => {
            tracing::warn!(item = %id, error = %e, "loading a claimed check failed");
            let _ = schedule::release(&state.db, &shared.owner, Some(&[id])).await;
            return;
        }
    };
    let report = match &job.target {
        Ok(target) => shared.engine.run(&job.check, target).await,
        Err(reason) => unrunnable(&job.check, reason.clone()),
    };
    let interval = job
        .service
        .probe_interval_s
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
        .unwrap_or(state.settings.probe.interval);
    let finished = Finished {
        review_item_id: id,
        service_id: job.service.id,
        requested: job.claimed.requested,
        next_at: next_due(Utc::now(), interval),
        report,
    };
    let took = Duration::from_secs_f64(finished.report.duration_ms.max(0.0) / 1000.0);
    let outcome = finished.report.outcome.as_str();
    let _slot = shared.record_slots.acquire().await;
    match record::record(state, &shared.owner, &finished).await {
        Ok(Recorded::Stored { .. }) => {
            metrics::run_finished(&finished.report.kind, outcome, took);
            // Even a run that left the state as it was moved the service's last verification
            // (and the item's last run): its cached readiness is refreshed too.
            if let Ok(mut dirty) = shared.dirty.lock() {
                dirty.insert(job.service.id);
            }
        }
        Ok(Recorded::LeaseLost) => {
            ::metrics::counter!(metrics::LOST_LEASES).increment(1);
            tracing::warn!(item = %id, "the lease ran out before the run was recorded; result dropped");
        }
        Ok(Recorded::Gone) => {}
        Err(e) => tracing::warn!(item = %id, error = %e, "recording a check run failed"),
    }
}

/// The report of a check that could not be started (the service has no usable base URL or its
/// credentials cannot be read).
fn unrunnable(check: &preflight_domain::CheckSpec, reason: String) -> Report {
    Report {
        kind: check.kind().to_owned(),
        check: check.to_definition(),
        outcome: Outcome::Error,
        reason,
        started_at: Utc::now(),
        duration_ms: 0.0,
        requests: Vec::new(),
        facts: Default::default(),
    }
}

/// `interval` from now, ±10% so that checks attached together drift apart.
fn next_due(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let factor = 0.9 + rand::random::<f64>() * 0.2;
    let next = Duration::from_secs_f64(interval.as_secs_f64() * factor);
    now + chrono::Duration::from_std(next).unwrap_or(chrono::Duration::minutes(15))
}

async fn heartbeat(shared: Arc<Shared>) {
    let lease = shared.state.settings.probe.lease;
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        if let Err(e) = schedule::renew(&shared.state.db, &shared.owner, until).await {
            tracing::warn!(error = %e, "renewing check leases failed");
        }
    }
}

async fn refresher(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let services: Vec<Uuid> = match shared.dirty.lock() {
            Ok(mut dirty) => dirty.drain().collect(),
            Err(_) => continue,
        };
        for service in services {
            readiness::gauges::after_write(&shared.state, service).await;
        }
    }
}

async fn backlog(shared: Arc<Shared>) {
    loop {
        let now = Utc::now();
        match schedule::backlog(&shared.state.db, now).await {
            Ok((due, oldest)) => {
                ::metrics::gauge!(metrics::DUE).set(due as f64);
                let lag = oldest
                    .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0);
                ::metrics::gauge!(metrics::LAG).set(lag);
            }
            Err(e) => tracing::warn!(error = %e, "reading the check backlog failed"),
        }
        tokio::time::sleep(BACKLOG_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_due_is_within_ten_percent_of_the_interval() {
        let now = Utc::now();
        for _ in 0..1000 {
            let at = next_due(now, Duration::from_secs(100));
            let secs = (at - now).num_milliseconds() as f64 / 1000.0;
            assert!((90.0..=110.0).contains(&secs), "{secs}");
        }
    }

    #[test]
    fn owner_ids_differ_between_runners() {
        assert_ne!(owner_id(), owner_id());
        assert!(owner_id().len() <= 100);
    }
}
