//! `security_headers`: `X-Content-Type-Options: nosniff`, frame protection (`X-Frame-Options`
//! DENY/SAMEORIGIN or a CSP `frame-ancestors` directive) and a `Referrer-Policy` that is not
//! `unsafe-url`.

use preflight_domain::SecurityHeadersCheck;

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

const HEADERS: [&str; 4] = [
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
    "referrer-policy",
];

pub(crate) async fn run(
    spec: &SecurityHeadersCheck,
    probe: &Probe<'_>,
) -> Result<Verdict, ProbeError> {
    let response = probe
        .send(Request::get(probe.url(&spec.path)?).record(HEADERS))
        .await?;
    let header = |name: &str| {
        response
            .header(name)
            .map(str::trim)
            .map(str::to_ascii_lowercase)
    };
    let mut problems = Vec::new();
    match header("x-content-type-options") {
        Some(v) if v == "nosniff" => {}
        Some(v) => problems.push(format!(
            "X-Content-Type-Options is \"{v}\", not \"nosniff\""
        )),
        None => problems.push("X-Content-Type-Options is missing".into()),
    }
    let frame_options_ok =
        header("x-frame-options").is_some_and(|v| v == "deny" || v == "sameorigin");
    let ancestors_ok = header("content-security-policy").is_some_and(|csp| {
        csp.split(';')
            .any(|d| d.trim().starts_with("frame-ancestors"))
    });
    if !frame_options_ok && !ancestors_ok {
        problems.push(
            "no frame protection (X-Frame-Options DENY or SAMEORIGIN, or CSP frame-ancestors)"
                .into(),
        );
    }
    match header("referrer-policy") {
        Some(v) if v.split(',').any(|p| p.trim() == "unsafe-url") => {
            problems.push("Referrer-Policy is \"unsafe-url\"".into());
        }
        Some(_) => {}
        None => problems.push("Referrer-Policy is missing".into()),
    }
    Ok(Verdict::from_problems(
        problems
            .iter()
            .map(|p| format!("{} {p}", spec.path))
            .collect(),
        format!(
            "{} sends X-Content-Type-Options, frame protection and Referrer-Policy",
            spec.path
        ),
    ))
}
