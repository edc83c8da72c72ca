//! Rate-limit enforcement: per user or API token when authenticated, per client IP otherwise,
//! and strict per-account / per-IP limits on login (in the login handler).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{Authentication, Credential};
use crate::config::RateSpec;
use crate::error::ApiError;
use crate::state::AppState;

fn quota(spec: RateSpec) -> preflight_kv::Quota {
    preflight_kv::Quota {
        burst: spec.burst,
        per: spec.per,
    }
}

fn apply_headers(res: &mut Response, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
}

fn rejection(decision: &preflight_kv::Decision) -> ApiError {
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
    let decision = state.limiter.check(scope, key, quota(spec)).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(rejection(&decision))
    }
}

/// General limit for every API call; health and metrics endpoints are exempt (probes and
/// scrapers must never be throttled into false alarms).
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !state.settings.rate_limit.enabled || path.starts_with("/health/") || path == "/metrics" {
        return next.run(req).await;
    }
    let (scope, key, spec) = match req.extensions().get::<Authentication>() {
        Some(Authentication::Authenticated(user)) => match &user.credential {
            Credential::ApiToken { id, .. } => (
                "token",
                id.to_string(),
                state.settings.rate_limit.authenticated,
            ),
            Credential::Session => (
                "user",
                user.user_id.to_string(),
                state.settings.rate_limit.authenticated,
            ),
        },
        _ => (
            "ip",
            super::extract::client_ip_of_request(&req).to_string(),
            state.settings.rate_limit.anonymous,
        ),
    };
    let decision = state.limiter.check(scope, &key, quota(spec)).await;
    if !decision.allowed {
        return rejection(&decision).into_response();
    }
    let mut res = next.run(req).await;
    apply_headers(&mut res, decision.headers());
    res
}
