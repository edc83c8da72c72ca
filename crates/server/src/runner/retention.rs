//! Retention of check runs: every `PROBE_RETENTION_INTERVAL`, the replica that takes the
//! period's lease in `job_locks` deletes runs beyond the newest `PROBE_KEEP_RUNS` of each item,
//! keeping failed and error runs younger than `PROBE_KEEP_FAILURES`.

use chrono::Utc;
use tokio::sync::watch;

use crate::backup::schedule::try_lock;
use crate::state::AppState;
use crate::store::check_runs;

/// Prunes once under the current period's lease; `None` when another replica holds it.
pub async fn prune_once(state: &AppState, owner: &str) -> anyhow::Result<Option<u64>> {
    let probe = &state.settings.probe;
    let now = Utc::now();
    let period = probe.retention_every.as_secs().max(1) as i64;
    let slot = now.timestamp().div_euclid(period);
    let expires = chrono::DateTime::from_timestamp((slot + 1) * period, 0).unwrap_or(now);
    if !try_lock(
        &state.db,
        &format!("check-run-retention:{slot}"),
        owner,
        expires,
    )
    .await?
    {
        return Ok(None);
    }
    let since = now - chrono::Duration::from_std(probe.keep_failures).unwrap_or_default();
    let deleted = check_runs::prune(&state.db, probe.keep_runs, since).await?;
    ::metrics::counter!(super::metrics::PRUNED).increment(deleted);
    if deleted > 0 {
        tracing::info!(deleted, keep = probe.keep_runs, "check runs pruned");
    }
    Ok(Some(deleted))
}

pub async fn run(state: AppState, owner: String, mut stop: watch::Receiver<bool>) {
    let every = state.settings.probe.retention_every;
    loop {
        if let Err(e) = prune_once(&state, &owner).await {
            tracing::warn!(error = %format!("{e:#}"), "pruning check runs failed");
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
