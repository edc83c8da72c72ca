//! `http`: one request, then the expected status and every condition must hold.

use chrono::Utc;
use http::Method;
use preflight_domain::{HttpCheck, Subject};

use super::Verdict;
use super::conditions::{Observed, evaluate};
use crate::error::{ProbeError, format_duration};
use crate::probe::{Probe, Request};

pub(crate) async fn run(spec: &HttpCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| ProbeError::Config(format!("\"{}\" is not an HTTP method", spec.method)))?;
    let mut request = Request::new(method, probe.url(&spec.path)?);
    for header in &spec.headers {
        request = request.header(&header.name, &header.value);
    }
    let recorded: Vec<String> = spec
        .conditions
        .iter()
        .filter_map(|c| match &c.subject {
            Subject::Header(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let response = probe.send(request.record(recorded)).await?;
    let status = response.status.as_u16();
    let cert_left_ms = response.peer_certificate.as_deref().and_then(leaf_left_ms);
    let observed = Observed {
        status,
        latency: response.elapsed,
        cert_left_ms,
        headers: &response.headers,
        body: &response.body,
    };
    let mut problems = Vec::new();
    let status_condition = spec.conditions.iter().any(|c| c.subject == Subject::Status);
    match spec.status {
        Some(expected) if expected != status => {
            problems.push(format!("expected status {expected}, got {status}"));
        }
        None if !status_condition && !response.status.is_success() => {
            problems.push(format!("expected a 2xx status, got {status}"));
        }
        _ => {}
    }
    for condition in &spec.conditions {
        if let Err(problem) = evaluate(condition, &observed) {
            problems.push(problem);
        }
    }
    let summary = format!(
        "{} {} answered {status} in {}",
        spec.method,
        spec.path,
        format_duration(response.elapsed)
    );
    Ok(if problems.is_empty() {
        let held = spec.conditions.len();
        Verdict::pass(match held {
            0 => summary,
            1 => format!("{summary}; the condition holds"),
            n => format!("{summary}; all {n} conditions hold"),
        })
    } else {
        Verdict::fail(format!("{summary}: {}", problems.join("; ")))
    })
}

/// Milliseconds until the certificate's `notAfter` (negative once expired).
pub(crate) fn leaf_left_ms(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    Some(
        not_after
            .saturating_sub(Utc::now().timestamp())
            .saturating_mul(1000),
    )
}
