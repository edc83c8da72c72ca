//! `metrics`: the endpoint answers 2xx with valid Prometheus text exposition (every line a
//! comment, a blank line or a sample whose value is a number) and exposes the `require`d names.
//!
//! Lines are read with the `prometheus-parse` crate's line parser; a metric family counts as
//! present when a sample of it is exposed (`name`, or `name_bucket`/`_sum`/`_count`).

use std::collections::BTreeSet;

use preflight_domain::MetricsCheck;
use prometheus_parse::LineInfo;

use super::{Verdict, excerpt_line};
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

pub(crate) async fn run(spec: &MetricsCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let response = probe
        .send(Request::get(probe.url(&spec.path)?).header("Accept", "text/plain"))
        .await?;
    let status = response.status.as_u16();
    if !response.status.is_success() {
        return Ok(Verdict::fail(format!(
            "{} answered {status}{}",
            spec.path,
            excerpt_line(&response.body)
        )));
    }
    if response.truncated {
        return Ok(Verdict::fail(format!(
            "{} is larger than the {} bytes a probe reads",
            spec.path,
            response.body.len()
        )));
    }
    let text = response.text();
    let names = match sample_names(&text) {
        Ok(names) => names,
        Err(problem) => return Ok(Verdict::fail(format!("{} {problem}", spec.path))),
    };
    probe.fact("metric_names", names.len().to_string());
    let missing: Vec<&str> = spec
        .require
        .iter()
        .filter(|name| !has_family(&names, name))
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        return Ok(Verdict::fail(format!("{} exposes no sample", spec.path)));
    }
    if !missing.is_empty() {
        return Ok(Verdict::fail(format!(
            "{} lacks the required metrics {}",
            spec.path,
            missing.join(", ")
        )));
    }
    Ok(Verdict::pass(format!(
        "{} exposes {} metric names in valid Prometheus text format{}",
        spec.path,
        names.len(),
        if spec.require.is_empty() {
            String::new()
        } else {
            format!(", including all {} required", spec.require.len())
        }
    )))
}

/// Every sample name, or the first line that is not valid exposition.
fn sample_names(text: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match LineInfo::parse(trimmed) {
            LineInfo::Sample {
                metric_name, value, ..
            } => {
                let numeric =
                    matches!(value, "+Inf" | "-Inf" | "NaN") || value.parse::<f64>().is_ok();
                if !numeric {
                    return Err(format!(
                        "line {}: \"{value}\" is not a sample value",
                        number + 1
                    ));
                }
                names.insert(metric_name.to_owned());
            }
            LineInfo::Ignored if !trimmed.starts_with('#') => {
                let shown: String = trimmed.chars().take(80).collect();
                return Err(format!(
                    "line {} is not Prometheus text exposition: \"{shown}\"",
                    number + 1
                ));
            }
            _ => {}
        }
    }
    Ok(names)
}

fn has_family(names: &BTreeSet<String>, family: &str) -> bool {
    [
        "", "_bucket", "_sum", "_count", "_total", "_created", "_info",
    ]
    .iter()
    .any(|suffix| names.contains(&format!("{family}{suffix}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_families_and_names_the_bad_line() {
        let text = "# HELP up Up.\n# TYPE up gauge\nup 1\nhttp_seconds_bucket{le=\"+Inf\"} 3\nhttp_seconds_count 3\n";
        let names = sample_names(text).expect("valid");
        assert!(has_family(&names, "up"));
        assert!(has_family(&names, "http_seconds"));
        assert!(!has_family(&names, "missing"));
        let err = sample_names("up 1\n<html>oops</html>\n").expect_err("html is not metrics");
        assert!(
            err.starts_with("line 2 is not Prometheus text exposition"),
            "{err}"
        );
        let err = sample_names("up one\n").expect_err("bad value");
        assert!(err.contains("\"one\" is not a sample value"), "{err}");
    }
}
