//! `prometheus_target`, `prometheus_rules`, `promql` (work in progress in this session).

use preflight_domain::{PrometheusRulesCheck, PrometheusTargetCheck, PromqlCheck};

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::Probe;

pub(crate) async fn target(_spec: &PrometheusTargetCheck, _probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    Err(ProbeError::Config("not built yet".into()))
}
pub(crate) async fn rules(_spec: &PrometheusRulesCheck, _probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    Err(ProbeError::Config("not built yet".into()))
}
pub(crate) async fn promql(_spec: &PromqlCheck, _probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    Err(ProbeError::Config("not built yet".into()))
}
