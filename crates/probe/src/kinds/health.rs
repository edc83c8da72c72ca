//! `health`: the liveness and readiness endpoints both answer 2xx.

use preflight_domain::HealthCheck;

use super::{Verdict, excerpt_line};
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

pub(crate) async fn run(spec: &HealthCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (what, path) in [("live", &spec.live), ("ready", &spec.ready)] {
        let response = probe.send(Request::get(probe.url(path)?)).await?;
        let status = response.status.as_u16();
        seen.push(format!("{path} answered {status}"));
        if !response.status.is_success() {
            problems.push(format!(
                "{what} endpoint {path} answered {status}{}",
                excerpt_line(&response.body)
            ));
        }
    }
    Ok(Verdict::from_problems(problems, seen.join(", ")))
}
