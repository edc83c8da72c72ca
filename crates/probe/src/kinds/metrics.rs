//! `metrics`: the endpoint answers 2xx with valid Prometheus text exposition (every line a
//! comment, a blank line or a sample whose value is a number) and exposes the `require`d names.
//!
//! A metric family counts as present when a sample of it is exposed (`name`, or its
//! `_bucket`/`_sum`/`_count`/`_total`/`_created`/`_info` samples).
//!
//! Sample lines are read by hand: the text format's sample grammar is a few rules, and the
//! parser crate available (`prometheus-parse`) matches label sets with `[^}]+` and names with
//! `\w+`, so it refuses valid lines such as `route="/users/{id}"` or `job:errors:rate5m`.

use std::collections::BTreeSet;

use preflight_domain::MetricsCheck;

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
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_sample(trimmed) {
            Ok(name) => {
                names.insert(name.to_owned());
            }
            Err(problem) => {
                let shown: String = trimmed.chars().take(80).collect();
                return Err(format!(
                    "line {} is not Prometheus text exposition ({problem}): \"{shown}\"",
                    number + 1
                ));
            }
        }
    }
    Ok(names)
}

/// `name{label="value",...} value [timestamp]`: returns the name, or what is wrong.
fn parse_sample(line: &str) -> Result<&str, String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let name_end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("no metric name".into());
    }
    let mut rest = &line[name_end..];
    if let Some(labels) = rest.strip_prefix('{') {
        rest = skip_labels(labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no sample value")?;
    let numeric = matches!(value, "+Inf" | "-Inf" | "Inf" | "NaN") || value.parse::<f64>().is_ok();
    if !numeric {
        return Err(format!("\"{value}\" is not a sample value"));
    }
    if let Some(timestamp) = fields.next()
        && timestamp.parse::<i64>().is_err()
    {
        return Err(format!("\"{timestamp}\" is not a timestamp"));
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(name)
}

/// Skips `label="value",...}` (after the `{`), honouring `\\`, `\"` and `\n` escapes; returns
/// what follows the closing brace.
fn skip_labels(mut text: &str) -> Result<&str, String> {
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok(after);
        }
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("unterminated label set")?;
        if name_end == 0 {
            return Err("a label without a name".into());
        }
        let after_name = text[name_end..].trim_start();
        let value = after_name
            .strip_prefix('=')
            .map(str::trim_start)
            .and_then(|v| v.strip_prefix('"'))
            .ok_or("a label without =\"value\"")?;
        let mut chars = value.char_indices();
        let close = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    chars.next();
                }
                Some((i, '"')) => break i,
                Some(_) => {}
                None => return Err("an unterminated label value".into()),
            }
        };
        text = value[close + 1..].trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
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
        // Braces and escaped quotes inside label values, colons in names, timestamps.
        let valid = "http_requests_total{route=\"/api/v1/services/{id}/reviews\",method=\"GET\"} 3\njob:errors:rate5m{msg=\"say \\\"hi\\\"\"} 0.5 1700000000000\nlatency_bucket{le=\"+Inf\",} 7\n";
        let names = sample_names(valid).expect("valid exposition");
        assert!(
            names.contains("http_requests_total") && names.contains("job:errors:rate5m"),
            "{names:?}"
        );
        assert!(
            sample_names("up{job=\"a} 1\n").is_err(),
            "unterminated value"
        );
        assert!(sample_names("up{job} 1\n").is_err(), "label without value");
    }
}
