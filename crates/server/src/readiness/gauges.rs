//! Readiness as Prometheus gauges, per service: refreshed at start, periodically (so expiring
//! waivers show up without a write) and after every write that can change readiness.

use chrono::Utc;
use preflight_domain::ItemState;
use uuid::Uuid;

use super::ServiceScore;
use crate::state::AppState;
use crate::store::{StoreError, StoreResult};

pub const RATIO_GAUGE: &str = "preflight_service_readiness_ratio";
pub const READY_GAUGE: &str = "preflight_service_ready";
pub const ITEMS_GAUGE: &str = "preflight_checklist_items";

/// The `state` label of each item state (same spelling as the API).
pub const STATE_LABELS: [(&str, ItemState); 5] = [
    ("failed", ItemState::Failed),
    ("not_applicable", ItemState::NotApplicable),
    ("passed", ItemState::Passed),
    ("pending", ItemState::Pending),
    ("waived", ItemState::Waived),
];

/// After every committed write that can change readiness: invalidate the cached readiness of
/// the service concerned (and the overview) and refresh its gauges. Never fails the write that already happened.
pub async fn after_write(state: &AppState, id: Uuid) {
    super::cache::invalidate_service(state, id).await;
    match super::service(&state.db, id, Utc::now()).await {
        Ok((score, _)) => publish(&score),
        // A deleted service keeps its last values (the exporter cannot drop series).
        Err(StoreError::NotFound(_)) => {}
        Err(e) => tracing::warn!(service = %id, error = %e, "refreshing readiness metrics failed"),
    }
}

/// Sets every readiness gauge from the database; returns how many services were published.
/// A batch of services at a time, each batch's scores dropped once published: at start-up
/// this runs before any request, and holding every service's score at once was the peak
/// that the process's idle memory kept.
pub async fn refresh_all(state: &AppState) -> StoreResult<usize> {
    let services = crate::store::services::all(&state.db).await?;
    let now = Utc::now();
    for batch in services.chunks(super::BATCH) {
        for (score, _) in super::score_services(&state.db, batch, now).await? {
            publish(&score);
        }
    }
    Ok(services.len())
}

fn publish(score: &ServiceScore) {
    let name = score.service.name.clone();
    let overall = &score.readiness.overall;
    metrics::gauge!(RATIO_GAUGE, "service" => name.clone()).set(overall.ratio);
    metrics::gauge!(READY_GAUGE, "service" => name.clone()).set(if score.readiness.ready() {
        1.0
    } else {
        0.0
    });
    for (label, item_state) in STATE_LABELS {
        let count = match item_state {
            ItemState::Pending => overall.counts.pending,
            ItemState::Passed => overall.counts.passed,
            ItemState::Failed => overall.counts.failed,
            ItemState::Waived => overall.counts.waived,
            ItemState::NotApplicable => overall.counts.not_applicable,
        };
        metrics::gauge!(ITEMS_GAUGE, "service" => name.clone(), "state" => label)
            .set(f64::from(count));
    }
}

/// `# HELP` lines, so the gauges are documented before the first value.
pub fn describe() {
    super::cache::describe();
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
                tracing::warn!(error = %e, "refreshing readiness metrics failed");
            }
            tokio::time::sleep(every).await;
        }
    });
}
