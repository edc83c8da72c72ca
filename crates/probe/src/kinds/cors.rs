//! `cors`: a foreign origin gets no `Access-Control-Allow-Origin` — neither `*` nor its own
//! origin reflected — on a simple request nor on a preflight (`OPTIONS`); an `allowed` origin,
//! when given, gets exactly its own origin back.

use http::Method;
use preflight_domain::CorsCheck;

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

const ACAO: &str = "access-control-allow-origin";

pub(crate) async fn run(spec: &CorsCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let url = probe.url(&spec.path)?;
    let mut problems = Vec::new();
    let simple = Request::get(url.clone()).header("Origin", &spec.origin);
    let preflight = Request::new(Method::OPTIONS, url.clone())
        .header("Origin", &spec.origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        );
    for (what, request) in [("GET", simple), ("preflight OPTIONS", preflight)] {
        let response = probe.send(request.no_redirects()).await?;
        match response.header(ACAO) {
            Some("*") => problems.push(format!(
                "{what} from {} is answered with Access-Control-Allow-Origin: * (any site may call the API)",
                spec.origin
            )),
            Some(value) if value == spec.origin || value.eq_ignore_ascii_case("null") => {
                problems.push(format!(
                    "{what} from the foreign origin {} is allowed (Access-Control-Allow-Origin: {value})",
                    spec.origin
                ));
            }
            _ => {}
        }
    }
    if let Some(allowed) = &spec.allowed {
        let response = probe
            .send(Request::get(url).header("Origin", allowed).no_redirects())
            .await?;
        match response.header(ACAO) {
            Some(value) if value == allowed => {}
            Some(value) => problems.push(format!(
                "the allowed origin {allowed} got Access-Control-Allow-Origin: {value} instead of its own origin"
            )),
            None => problems.push(format!(
                "the allowed origin {allowed} got no Access-Control-Allow-Origin"
            )),
        }
    }
    let passed = match &spec.allowed {
        Some(allowed) => format!(
            "{} refuses the foreign origin {} and allows {allowed}",
            spec.path, spec.origin
        ),
        None => format!("{} refuses the foreign origin {}", spec.path, spec.origin),
    };
    Ok(Verdict::from_problems(problems, passed))
}
