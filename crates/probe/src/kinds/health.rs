//! `health` (work in progress in this session).

use preflight_domain::HealthCheck;

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::Probe;

pub(crate) async fn run(_spec: &HealthCheck, _probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    Err(ProbeError::Config("not built yet".into()))
}
