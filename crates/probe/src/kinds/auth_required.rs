//! `auth_required`: every listed path answers 401 or 403 to a request without credentials.

use http::Method;
use preflight_domain::AuthRequiredCheck;

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

pub(crate) async fn run(
    spec: &AuthRequiredCheck,
    probe: &Probe<'_>,
) -> Result<Verdict, ProbeError> {
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| ProbeError::Config(format!("\"{}\" is not an HTTP method", spec.method)))?;
    let mut open = Vec::new();
    for path in &spec.paths {
        let request = Request::new(method.clone(), probe.url(path)?)
            .anonymous()
            .no_redirects();
        let status = probe.send(request).await?.status.as_u16();
        if status != 401 && status != 403 {
            open.push(format!(
                "{} {path} answered {status} without credentials",
                spec.method
            ));
        }
    }
    let n = spec.paths.len();
    Ok(Verdict::from_problems(
        open,
        if n == 1 {
            format!(
                "{} {} refused an anonymous request",
                spec.method, spec.paths[0]
            )
        } else {
            format!("all {n} paths refused anonymous requests")
        },
    ))
}
