//! `promql`, split from `prometheus.rs` (which documents its semantics): one instant query,
//! every returned sample judged against the condition.

use std::collections::BTreeMap;

use preflight_domain::{CmpOp, PromqlCheck};
use serde::Deserialize;

use super::PROMETHEUS;
use crate::kinds::Verdict;
use crate::kinds::monitoring::{QueryData, Step, api_url, bounded_list, envelope_data, error, get};
use crate::probe::Probe;

#[derive(Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for a native histogram sample (which has `histogram` instead).
    value: Option<(f64, String)>,
}

/// One returned sample: its series and its value as Prometheus wrote it (`None` for a native
/// histogram, which no number compares with).
struct Sample {
    series: String,
    value: Option<String>,
}

/// `promql` (see the parent module's documentation).
pub(super) async fn check(spec: &PromqlCheck, probe: &Probe<'_>) -> Step<Verdict> {
    let url = api_url(
        probe,
        PROMETHEUS,
        "/api/v1/query",
        &[("query", spec.query.as_str())],
    )?;
    let response = get(probe, PROMETHEUS, url).await?;
    let data: QueryData = envelope_data(probe, PROMETHEUS, &response, "Prometheus query answer")?;
    probe.fact("result_type", data.result_type.clone());
    let samples = samples(data)?;
    probe.fact("samples", samples.len().to_string());
    let shown: Vec<String> = samples
        .iter()
        .map(|s| {
            format!(
                "{} = {}",
                s.series,
                s.value.as_deref().unwrap_or("histogram")
            )
        })
        .collect();
    if !shown.is_empty() {
        probe.fact("values", bounded_list(&shown, 5, ", "));
    }
    let Some(first) = samples.first() else {
        return Ok(Verdict::fail("the query returned no sample"));
    };
    let returned = if samples.len() == 1 {
        format!(
            "the query returned 1 sample (value {})",
            first.value.as_deref().unwrap_or("a histogram")
        )
    } else {
        format!("the query returned {} samples", samples.len())
    };
    let Some(condition) = &spec.condition else {
        return Ok(Verdict::pass(returned));
    };
    let mut offending: Vec<(&Sample, &str)> = Vec::new();
    for sample in &samples {
        let Some(text) = sample.value.as_deref() else {
            return error(format!(
                "{} is a native histogram, which condition {condition} cannot compare",
                sample.series
            ));
        };
        let Ok(value) = text.parse::<f64>() else {
            return error(format!(
                "{} has value \"{text}\", which is not a number",
                sample.series
            ));
        };
        match meets(condition.op, value, condition.value) {
            Some(true) => {}
            Some(false) => offending.push((sample, text)),
            None => {
                return error(format!("condition {condition} does not compare numbers"));
            }
        }
    }
    match offending.first() {
        None if samples.len() == 1 => Ok(Verdict::pass(format!(
            "{returned}, which meets {condition}"
        ))),
        None => Ok(Verdict::pass(format!(
            "{returned}, all meeting {condition}"
        ))),
        Some((sample, text)) => {
            let share = if samples.len() == 1 {
                String::new()
            } else {
                format!(" ({} of {} samples fail)", offending.len(), samples.len())
            };
            Ok(Verdict::fail(format!(
                "{} has value {text}, which does not meet {condition}{share}",
                sample.series
            )))
        }
    }
}

/// The samples of an instant query's result.
fn samples(data: QueryData) -> Step<Vec<Sample>> {
    let QueryData {
        result_type,
        result,
    } = data;
    let unreadable = |e: serde_json::Error| {
        error::<Vec<Sample>>(format!(
            "the Prometheus {result_type} result is not the expected JSON: {e}"
        ))
    };
    match result_type.as_str() {
        "vector" => {
            let vector: Vec<VectorSample> = match serde_json::from_value(result) {
                Ok(vector) => vector,
                Err(e) => return unreadable(e),
            };
            Ok(vector
                .into_iter()
                .map(|s| Sample {
                    series: series(s.metric),
                    value: s.value.map(|(_, value)| value),
                })
                .collect())
        }
        "scalar" => match serde_json::from_value::<(f64, String)>(result) {
            Ok((_, value)) => Ok(vec![Sample {
                series: "the scalar".into(),
                value: Some(value),
            }]),
            Err(e) => unreadable(e),
        },
        "matrix" => error(
            "the query returned a range vector (matrix): a promql check needs instant samples; \
             drop the [range] or aggregate it, e.g. with max_over_time",
        ),
        other => error(format!(
            "the query returned a {other} result: a promql check needs a vector or a scalar"
        )),
    }
}

/// `name{a="1", b="2"}`, the way Prometheus prints a series.
fn series(mut labels: BTreeMap<String, String>) -> String {
    let name = labels.remove("__name__").unwrap_or_default();
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    if pairs.is_empty() && !name.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", pairs.join(", "))
    }
}

/// Whether `sample` meets `op bound`; `None` for operators that do not compare numbers.
fn meets(op: CmpOp, sample: f64, bound: f64) -> Option<bool> {
    if sample.is_nan() {
        return Some(false);
    }
    Some(match op {
        CmpOp::Eq => sample == bound,
        CmpOp::Ne => sample != bound,
        CmpOp::Lt => sample < bound,
        CmpOp::Le => sample <= bound,
        CmpOp::Gt => sample > bound,
        CmpOp::Ge => sample >= bound,
        CmpOp::Contains | CmpOp::Exists => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_never_meets_and_infinities_parse() {
        let nan: f64 = "NaN".parse().expect("NaN parses");
        assert_eq!(meets(CmpOp::Ne, nan, 1.0), Some(false));
        assert_eq!(meets(CmpOp::Eq, nan, nan), Some(false));
        let inf: f64 = "+Inf".parse().expect("+Inf parses");
        assert_eq!(meets(CmpOp::Gt, inf, 1e300), Some(true));
        let minus: f64 = "-Inf".parse().expect("-Inf parses");
        assert_eq!(meets(CmpOp::Lt, minus, 0.0), Some(true));
        assert_eq!(meets(CmpOp::Le, 1.0, 1.0), Some(true));
        assert_eq!(meets(CmpOp::Contains, 1.0, 1.0), None);
    }

    #[test]
    fn series_print_like_prometheus() {
        let labels = BTreeMap::from([
            ("__name__".to_owned(), "up".to_owned()),
            ("job".to_owned(), "api".to_owned()),
            ("instance".to_owned(), "h:1".to_owned()),
        ]);
        assert_eq!(series(labels), r#"up{instance="h:1", job="api"}"#);
        assert_eq!(series(BTreeMap::new()), "{}");
        assert_eq!(
            series(BTreeMap::from([("__name__".to_owned(), "up".to_owned())])),
            "up"
        );
    }
}
