//! The general rate limit of every API call, counted against the caller: per API token or
//! user when authenticated (as [`super::authn::middleware`] resolved them), per client IP
//! otherwise. The login limits are the login handler's business (see [`super::session`]).

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use super::{Authentication, Credential};
use crate::http::ratelimit;
use crate::state::AppState;

/// Counts `req` against its caller's limit (after [`super::authn`] resolved the caller), then
/// runs `next`: a 429 problem instead when the limit is exhausted. Health and metrics
/// endpoints are exempt: probes and scrapers must never be throttled into false alarms.
pub async fn run<F>(state: &AppState, req: Request, next: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    let path = req.uri().path();
    if !state.settings.rate_limit.enabled || path.starts_with("/health/") || path == "/metrics" {
        return next(req).await;
    }
    let (scope, key, spec) = match req.extensions().get::<Authentication>() {
        // The caller could not be checked (the database is away): the answer is a 503, and
        // counting a token's requests against its address's anonymous limit would turn
        // them into 429s instead.
        Some(Authentication::Unavailable) => return next(req).await,
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
            crate::http::extract::client_ip_of_request(&req).to_string(),
            state.settings.rate_limit.anonymous,
        ),
    };
    let decision = ratelimit::decide(state, scope, &key, spec).await;
    if !decision.allowed {
        return ratelimit::rejection(&decision).into_response();
    }
    let mut res = next(req).await;
    // A handler that enforced a limit of its own (the login limits) already described it;
    // the general limit's headers would contradict its 429.
    if !res.headers().contains_key("ratelimit-policy") {
        ratelimit::apply_headers(&mut res, decision.headers());
    }
    res
}
