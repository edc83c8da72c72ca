//! `rate_limit`: a burst of at most `burst` requests meets `429 Too Many Requests` with a
//! `Retry-After` header; the burst stops at the first 429, so a probe never becomes a load test.

use std::collections::BTreeMap;

use http::Method;
use preflight_domain::RateLimitCheck;

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

pub(crate) async fn run(spec: &RateLimitCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| ProbeError::Config(format!("\"{}\" is not an HTTP method", spec.method)))?;
    let url = probe.url(&spec.path)?;
    let mut statuses: BTreeMap<u16, u32> = BTreeMap::new();
    for sent in 1..=spec.burst {
        let mut request = Request::new(method.clone(), url.clone())
            .anonymous()
            .no_redirects()
            .without_excerpt()
            .record([
                "retry-after",
                "ratelimit",
                "ratelimit-policy",
                "x-ratelimit-remaining",
            ]);
        if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            // An empty JSON object: a real client's shape, refused by validation at worst.
            request = request
                .header("Content-Type", "application/json")
                .body("{}");
        }
        let response = probe.send(request).await?;
        let status = response.status.as_u16();
        if status == 429 {
            probe.fact("requests_until_429", sent.to_string());
            return Ok(match response.header("retry-after") {
                Some(after) => Verdict::pass(format!(
                    "{} {} answered 429 with Retry-After: {after} after {sent} of at most {} requests",
                    spec.method, spec.path, spec.burst
                )),
                None => Verdict::fail(format!(
                    "{} {} answered 429 after {sent} requests but without a Retry-After header",
                    spec.method, spec.path
                )),
            });
        }
        *statuses.entry(status).or_default() += 1;
    }
    let seen: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{count} × {status}"))
        .collect();
    Ok(Verdict::fail(format!(
        "expected 429 within {} requests to {} {}, got {}",
        spec.burst,
        spec.method,
        spec.path,
        seen.join(", ")
    )))
}
