//! `loki_logs`: the Loki of the target (its `loki` endpoint) has recent log lines for the
//! service. One request.
//!
//! - The selector is the check's `selector`, else the target's log selector; without either
//!   the check is a configuration `error`.
//! - `GET /loki/api/v1/query_range?query=SELECTOR&start=NS&end=NS&limit=N&direction=backward`
//!   with `end` = now and `start` = now − `window`, both in nanoseconds since the epoch, and
//!   `limit` = `min_lines`: the probe downloads no more lines than it needs. The lines are
//!   the `values` of every stream of `data.result` (`resultType` must be `streams`; a metric
//!   query is an `error`). Passes with at least `min_lines` lines.
//! - Above [`MAX_LOG_LINES`] lines, downloading them would be too much (Loki's default
//!   `max_entries_limit_per_query` is 5000, and the engine's byte cap applies), so Loki counts
//!   them instead: `GET /loki/api/v1/query?query=sum(count_over_time(SELECTOR[WINDOW]))&time=NS`,
//!   an instant metric query whose single sample is the number of lines.
//! - Facts: the selector, the window, lines counted, streams, the newest line's time.

use chrono::{DateTime, SecondsFormat, Utc};
use preflight_domain::LokiLogsCheck;
use serde::Deserialize;

use super::Verdict;
use super::monitoring::{QueryData, Step, api_url, envelope_data, error, finish, get};
use crate::error::ProbeError;
use crate::probe::{Monitor, Probe};

const LOKI: Monitor = Monitor::Loki;

/// Most log lines one check downloads; above it, Loki counts the lines for the probe.
pub(crate) const MAX_LOG_LINES: u32 = 1000;

#[derive(Deserialize)]
struct Stream {
    /// `[["<ns>", "line"], ...]`; a third element (structured metadata) may follow.
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct CountSample {
    /// `[<seconds>, "<count>"]`.
    value: (f64, String),
}

/// What Loki answered, reduced to counts.
struct Found {
    lines: u64,
    streams: Option<usize>,
    newest_ns: Option<i64>,
}

/// `loki_logs`.
pub(crate) async fn run(spec: &LokiLogsCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    finish(check(spec, probe).await)
}

async fn check(spec: &LokiLogsCheck, probe: &Probe<'_>) -> Step<Verdict> {
    let selector = [
        spec.selector.as_deref(),
        probe.target().log_selector.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|s| !s.is_empty())
    .ok_or_else(|| {
        ProbeError::Config(
            "no log selector: give selector='{service=\"...\"}' or [target] log_selector in the check configuration"
                .into(),
        )
    })?;
    let end = Utc::now().timestamp_nanos_opt().ok_or_else(|| {
        ProbeError::Config("the clock is outside the range Loki timestamps cover".into())
    })?;
    let window_ms = spec.window.as_millis();
    let window_ns = i64::try_from(window_ms)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000);
    let start = end.saturating_sub(window_ns);
    probe.fact("selector", selector);
    probe.fact("window", spec.window.to_string());

    let found = if spec.min_lines <= MAX_LOG_LINES {
        read_lines(probe, selector, start, end, spec.min_lines).await?
    } else {
        count_lines(probe, selector, window_ms, end).await?
    };
    probe.fact("lines", found.lines.to_string());
    if let Some(streams) = found.streams {
        probe.fact("streams", streams.to_string());
    }
    let newest = found.newest_ns.and_then(format_ns);
    if let Some(newest) = &newest {
        probe.fact("newest_line", newest.clone());
    }

    let window = &spec.window;
    let needed = u64::from(spec.min_lines);
    if found.lines >= needed {
        let newest = newest
            .map(|t| format!(", the newest at {t}"))
            .unwrap_or_default();
        let amount = if found.streams.is_some() {
            format!("at least {}", lines(needed))
        } else {
            lines(found.lines)
        };
        Ok(Verdict::pass(format!(
            "Loki has {amount} for {selector} in the last {window}{newest}"
        )))
    } else if found.lines == 0 {
        Ok(Verdict::fail(format!(
            "Loki has no log line for {selector} in the last {window}"
        )))
    } else {
        Ok(Verdict::fail(format!(
            "Loki has only {} for {selector} in the last {window}, fewer than the {needed} required",
            lines(found.lines)
        )))
    }
}

/// Downloads at most `limit` of the newest lines.
async fn read_lines(
    probe: &Probe<'_>,
    selector: &str,
    start: i64,
    end: i64,
    limit: u32,
) -> Step<Found> {
    let (start, end, limit) = (start.to_string(), end.to_string(), limit.to_string());
    let url = api_url(
        probe,
        LOKI,
        "/loki/api/v1/query_range",
        &[
            ("query", selector),
            ("start", &start),
            ("end", &end),
            ("limit", &limit),
            ("direction", "backward"),
        ],
    )?;
    let response = get(probe, LOKI, url).await?;
    let data: QueryData = envelope_data(probe, LOKI, &response, "Loki query_range answer")?;
    if data.result_type != "streams" {
        return error(format!(
            "Loki returned a {} result, not log lines: loki_logs needs a stream selector such as {{service=\"api\"}}",
            data.result_type
        ));
    }
    let streams: Vec<Stream> = serde_json::from_value(data.result)
        .or_else(|e| error(format!("the Loki streams are not the expected JSON: {e}")))?;
    let lines = streams.iter().map(|s| s.values.len() as u64).sum();
    let newest_ns = streams
        .iter()
        .flat_map(|s| &s.values)
        .filter_map(|entry| entry.first()?.as_str()?.parse::<i64>().ok())
        .max();
    Ok(Found {
        lines,
        streams: Some(streams.len()),
        newest_ns,
    })
}

/// Lets Loki count the lines of the window (one sample, whatever the count).
async fn count_lines(probe: &Probe<'_>, selector: &str, window_ms: u64, end: i64) -> Step<Found> {
    let range = if window_ms.is_multiple_of(1000) {
        format!("{}s", window_ms / 1000)
    } else {
        format!("{window_ms}ms")
    };
    let query = format!("sum(count_over_time({selector}[{range}]))");
    let time = end.to_string();
    let url = api_url(
        probe,
        LOKI,
        "/loki/api/v1/query",
        &[("query", query.as_str()), ("time", &time)],
    )?;
    let response = get(probe, LOKI, url).await?;
    let data: QueryData = envelope_data(probe, LOKI, &response, "Loki query answer")?;
    if data.result_type != "vector" {
        return error(format!(
            "Loki answered the line count with a {} result, not a vector",
            data.result_type
        ));
    }
    let samples: Vec<CountSample> = serde_json::from_value(data.result)
        .or_else(|e| error(format!("the Loki line count is not the expected JSON: {e}")))?;
    let mut lines = 0u64;
    for sample in &samples {
        let Ok(value) = sample.value.1.parse::<f64>() else {
            return error(format!(
                "Loki counted \"{}\" lines, which is not a number",
                sample.value.1
            ));
        };
        if value.is_finite() && value > 0.0 {
            // Counts are whole numbers far below 2^53; `as` saturates on anything absurd.
            lines = lines.saturating_add(value as u64);
        }
    }
    Ok(Found {
        lines,
        streams: None,
        newest_ns: None,
    })
}

fn lines(n: u64) -> String {
    if n == 1 {
        "1 log line".into()
    } else {
        format!("{n} log lines")
    }
}

fn format_ns(ns: i64) -> Option<String> {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = u32::try_from(ns.rem_euclid(1_000_000_000)).ok()?;
    DateTime::<Utc>::from_timestamp(secs, nanos)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_timestamps_read_as_times() {
        assert_eq!(
            format_ns(1_700_000_000_123_000_000).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(lines(1), "1 log line");
        assert_eq!(lines(3), "3 log lines");
    }
}
