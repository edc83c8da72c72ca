//! Readiness is read far more often than it changes: it is served from the cache (Redis when
//! configured, else in-process) under one tag, and every write invalidates that tag, so the
//! very next read recomputes. The readiness gauges are refreshed on the same occasions.
//!
//! Effective states also change with time alone (a waiver expires, a sign-off needs
//! re-attestation); cached values carry the moment they stop being true and are recomputed
//! after it.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::readiness::{self, ServiceReadiness, Timed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The cache tag of every readiness entry.
pub const TAG: &str = "readiness";

pub const RATIO_GAUGE: &str = "preflight_service_readiness_ratio";
pub const READY_GAUGE: &str = "preflight_service_ready";
pub const ITEMS_GAUGE: &str = "preflight_checklist_items";

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    value: T,
    valid_until: Option<DateTime<Utc>>,
}

/// The value under `key`, computed on a miss. The entry is stored under the tag generation
/// read before computing, so a write racing the computation never leaves a stale entry behind.
pub async fn cached<T, F, Fut>(state: &AppState, key: &str, compute: F) -> ApiResult<T>
where
    T: Serialize + DeserializeOwned,
    F: Fn() -> Fut,
    Fut: Future<Output = ApiResult<Timed<T>>>,
{
    for _ in 0..2 {
        let entry: Envelope<T> = state
            .cache
            .get_or_insert_with_json(TAG, key, state.settings.cache_ttl, || async {
                compute()
                    .await
                    .map(|(value, valid_until)| Envelope { value, valid_until })
            })
            .await?;
        if entry.valid_until.is_none_or(|until| until > Utc::now()) {
            return Ok(entry.value);
        }
        // Time changed a state (rare): drop every readiness entry and compute again.
        state.cache.invalidate(TAG).await;
    }
    compute().await.map(|(value, _)| value)
}

/// After every committed write that can change readiness: invalidate and refresh the gauges
/// of the service concerned. Never fails the write that already happened.
pub async fn after_write(state: &AppState, service: Option<Uuid>) {
    state.cache.invalidate(TAG).await;
    let Some(id) = service else { return };
    match readiness::compute_service(&state.db, id, Utc::now()).await {
        Ok((r, _)) => publish(&r),
        // A deleted service keeps its last values (the exporter cannot drop series).
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {}
        Err(e) => {
            tracing::warn!(service = %id, error = ?e.detail, "refreshing readiness metrics failed")
        }
    }
}

/// Sets every readiness gauge from the database (at start, then periodically so that expiring
/// waivers show up without a write).
pub async fn refresh_all(state: &AppState) -> Result<usize, ApiError> {
    let all = readiness::compute_all(&state.db, Utc::now()).await?;
    for (r, _) in &all {
        publish(r);
    }
    Ok(all.len())
}

fn publish(r: &ServiceReadiness) {
    let name = r.name.clone();
    metrics::gauge!(RATIO_GAUGE, "service" => name.clone()).set(r.overall.ratio);
    metrics::gauge!(READY_GAUGE, "service" => name.clone()).set(if r.ready { 1.0 } else { 0.0 });
    for (label, item_state) in readiness::state_labels() {
        metrics::gauge!(ITEMS_GAUGE, "service" => name.clone(), "state" => label)
            .set(f64::from(r.overall.counts.get(item_state)));
    }
}

/// `# HELP` lines, so the gauges are documented before the first value.
pub fn describe() {
    metrics::describe_gauge!(
        RATIO_GAUGE,
        "Passed and waived items over applicable items of a service, 0..1."
    );
    metrics::describe_gauge!(
        READY_GAUGE,
        "1 when no required item of the service is pending or failed, else 0."
    );
    metrics::describe_gauge!(
        ITEMS_GAUGE,
        "Checklist items of a service by effective state."
    );
}

/// Publishes the gauges now and then every `every`, for as long as the process runs.
pub fn spawn_refresher(state: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        describe();
        loop {
            if let Err(e) = refresh_all(&state).await {
                tracing::warn!(error = ?e.detail, "refreshing readiness metrics failed");
            }
            tokio::time::sleep(every).await;
        }
    });
}
