//! `/health/live` (the process answers) and `/health/ready` (database, Redis when configured,
//! migrations at head), each component reported in the JSON body.
//!
//! `/health/ready` is unauthenticated, so its answer is reused for [`READY_TTL`] (one check
//! at a time; callers meanwhile share its result) and calls are limited per client address
//! (`RATE_LIMIT_HEALTH`): however often it is called, the database sees at most a couple of
//! queries every [`READY_TTL`], and a lost database still shows within a few seconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::extract::ClientIp;
use crate::state::AppState;

const COMPONENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a readiness answer is reused.
pub const READY_TTL: Duration = Duration::from_secs(2);

/// The last readiness answer and when it was computed. Per process, like the server.
static LAST_READY: tokio::sync::Mutex<Option<(Instant, StatusCode, std::sync::Arc<Readiness>)>> =
    tokio::sync::Mutex::const_new(None);

/// Health of one dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Component {
    /// `ok` or `down`.
    pub status: &'static str,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Body of `/health/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when every component is ok, else `unavailable`.
    pub status: &'static str,
    pub components: BTreeMap<&'static str, Component>,
    /// When the components were checked (answers are reused for two seconds).
    pub checked_at: chrono::DateTime<chrono::Utc>,
}

/// Body of `/health/live`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    pub status: &'static str,
    pub version: &'static str,
}

/// `/health/live` and `/health/ready`.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

#[utoipa::path(get, path = "/health/live", operation_id = "health_live", tag = "health",
    responses((status = 200, description = "The process is alive", body = Liveness)))]
pub async fn live() -> Json<Liveness> {
    Json(Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

async fn timed<F, E>(f: F) -> Component
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let start = Instant::now();
    let result = tokio::time::timeout(COMPONENT_TIMEOUT, f).await;
    let latency_ms = (start.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {COMPONENT_TIMEOUT:?}")),
    };
    Component {
        status: if error.is_none() { "ok" } else { "down" },
        latency_ms,
        error,
    }
}

#[utoipa::path(get, path = "/health/ready", operation_id = "health_ready", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 429, response = crate::docs::problems::TooManyRequests),
        (status = 503, description = "A component is down; the body names it", body = Readiness)))]
pub async fn ready(State(state): State<AppState>, ClientIp(ip): ClientIp) -> Response {
    if let Err(e) = crate::http::ratelimit::enforce(
        &state,
        "health",
        &ip.to_string(),
        state.settings.rate_limit.health,
    )
    .await
    {
        return e.into_response();
    }
    // Held while checking, so concurrent callers wait for one check instead of each running
    // their own.
    let mut last = LAST_READY.lock().await;
    let (status, body) = match last.as_ref() {
        Some((at, status, body)) if at.elapsed() < READY_TTL => (*status, body.clone()),
        _ => {
            let (status, body) = check(&state).await;
            let body = std::sync::Arc::new(body);
            *last = Some((Instant::now(), status, body.clone()));
            (status, body)
        }
    };
    drop(last);
    (status, Json(&*body)).into_response()
}

async fn check(state: &AppState) -> (StatusCode, Readiness) {
    let mut components = BTreeMap::new();
    components.insert("database", timed(crate::db::ping(&state.db)).await);
    let migrations = timed(async {
        let pending = crate::db::pending_migrations(&state.db)
            .await
            .map_err(|e| e.to_string())?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("pending migrations: {}", pending.join(", ")))
        }
    })
    .await;
    components.insert("migrations", migrations);
    if state.settings.redis_url.is_some() {
        components.insert("redis", timed(state.cache.ping()).await);
    }
    let all_ok = components.values().all(|c| c.error.is_none());
    for (name, c) in &components {
        if let Some(err) = &c.error {
            tracing::warn!(component = name, error = %err, "readiness check failed");
        }
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if all_ok { "ok" } else { "unavailable" },
        components,
        checked_at: chrono::Utc::now(),
    };
    (status, body)
}
