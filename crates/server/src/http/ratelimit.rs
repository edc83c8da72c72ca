//! Rate-limit enforcement: one unit of a scope and key against a quota, a 429 problem with
//! `Retry-After` and `RateLimit` headers when it is exhausted. Who is counted is the caller's
//! business: the general per-caller limit is [`crate::auth::limit`], the login limits are in
//! the login handler.

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

use crate::config::RateSpec;
use crate::error::ApiError;
use crate::state::AppState;

fn quota(spec: RateSpec) -> preflight_kv::Quota {
    preflight_kv::Quota {
        burst: spec.burst,
        per: spec.per,
    }
}

/// Adds the `RateLimit` headers of a decision to a response.
pub fn apply_headers(res: &mut Response, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
}

/// The 429 problem for a refused decision.
pub fn rejection(decision: &preflight_kv::Decision) -> ApiError {
    let secs = decision
        .retry_after
        .map(|d| d.as_secs_f64().ceil() as u64)
        .unwrap_or(1)
        .max(1);
    let mut err = ApiError::from_status(axum::http::StatusCode::TOO_MANY_REQUESTS)
        .detail(format!("rate limit exceeded; retry in {secs} s"));
    for (name, value) in decision.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            err = err.header(HeaderName::from_static(name), v);
        }
    }
    err
}

/// Consumes one unit of `scope`/`key`; a 429 problem when the limit is exhausted.
pub async fn enforce(
    state: &AppState,
    scope: &str,
    key: &str,
    spec: RateSpec,
) -> Result<(), ApiError> {
    if !state.settings.rate_limit.enabled {
        return Ok(());
    }
    let decision = decide(state, scope, key, spec).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(rejection(&decision))
    }
}

/// Consumes one unit of `scope`/`key` and says whether it was allowed.
pub async fn decide(
    state: &AppState,
    scope: &str,
    key: &str,
    spec: RateSpec,
) -> preflight_kv::Decision {
    state.limiter.check(scope, key, quota(spec)).await
}
