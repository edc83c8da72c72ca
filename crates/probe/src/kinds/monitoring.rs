//! What the monitoring kinds (`prometheus_*`, `promql`, `alertmanager_receivers`, `loki_logs`,
//! `grafana_dashboard`) share: one GET to a monitoring server, credential refusals as an
//! `error` outcome, the `{"status":"success","data":...}` envelope of the Prometheus and Loki
//! APIs, and bounded lists in sentences.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::Verdict;
use crate::error::ProbeError;
use crate::probe::{Monitor, Probe, Request, Response};

/// Most names listed in one sentence or fact; the rest are counted.
pub(crate) const LISTED: usize = 10;

/// Why a monitoring check stopped before its own judgement: the request could not be made
/// (a [`ProbeError`]), or the server answered something that settles the outcome.
/// The `data` of a Prometheus or Loki query answer: its result type and the result itself.
#[derive(Deserialize)]
pub(crate) struct QueryData {
    #[serde(rename = "resultType", default)]
    pub result_type: String,
    #[serde(default)]
    pub result: serde_json::Value,
}

#[derive(Debug)]
pub(crate) enum Stop {
    Probe(ProbeError),
    Verdict(Verdict),
}

impl From<ProbeError> for Stop {
    fn from(e: ProbeError) -> Self {
        Stop::Probe(e)
    }
}

/// A step of a monitoring check.
pub(crate) type Step<T> = Result<T, Stop>;

/// Stops with an `error` outcome.
pub(crate) fn error<T>(reason: impl Into<String>) -> Step<T> {
    Err(Stop::Verdict(Verdict::error(reason)))
}

/// Turns a check's steps into what the engine expects.
pub(crate) fn finish(step: Step<Verdict>) -> Result<Verdict, ProbeError> {
    match step {
        Ok(verdict) | Err(Stop::Verdict(verdict)) => Ok(verdict),
        Err(Stop::Probe(e)) => Err(e),
    }
}

/// The server's name in sentences.
pub(crate) fn server(which: Monitor) -> &'static str {
    which.name()
}

/// `path` on the monitoring endpoint with query parameters, each URL-encoded.
pub(crate) fn api_url(
    probe: &Probe<'_>,
    which: Monitor,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Url, ProbeError> {
    let mut url = probe.endpoint_url(which, path)?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// Sends one GET (with the endpoint's credentials). 401 and 403 stop the check with an
/// `error`: the server could not be asked, which says nothing about the service. The
/// sentence names the status only, never the credential.
pub(crate) async fn get(probe: &Probe<'_>, which: Monitor, url: Url) -> Step<Response> {
    let response = probe.send(Request::get(url)).await?;
    let status = response.status.as_u16();
    if status == 401 || status == 403 {
        let none_sent = probe.endpoint(which)?.credentials.is_empty();
        return error(format!(
            "{} refused the credentials (HTTP {status}){}",
            server(which),
            if none_sent {
                "; none is configured for this endpoint"
            } else {
                ""
            }
        ));
    }
    Ok(response)
}

/// The first line of a (non-JSON) answer, bounded, for an error sentence.
pub(crate) fn hint(response: &Response) -> String {
    let text = response.text();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut shown: String = line.chars().take(200).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    if shown.is_empty() {
        String::new()
    } else {
        format!(": {shown}")
    }
}

/// An answer that is not 2xx, as an `error`.
pub(crate) fn unexpected_status<T>(which: Monitor, response: &Response) -> Step<T> {
    error(format!(
        "{} answered HTTP {}{}",
        server(which),
        response.status.as_u16(),
        hint(response)
    ))
}

/// The envelope of the Prometheus HTTP API (also used by Loki).
#[derive(Deserialize)]
struct Envelope {
    status: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// `data` of a `{"status":"success","data":...}` answer. `status: "error"` stops with an
/// `error` quoting the server's message (Prometheus answers 400/422/503 with that envelope);
/// a non-2xx answer without the envelope stops with its status and first line.
pub(crate) fn envelope_data<T: DeserializeOwned>(
    probe: &Probe<'_>,
    which: Monitor,
    response: &Response,
    what: &str,
) -> Step<T> {
    let envelope: Envelope = match response.json(what) {
        Ok(envelope) => envelope,
        Err(_) if !response.status.is_success() => return unexpected_status(which, response),
        Err(sentence) => return error(sentence),
    };
    if !envelope.warnings.is_empty() {
        probe.fact("warnings", bounded_list(&envelope.warnings, LISTED, "; "));
    }
    match envelope.status.as_deref() {
        Some("success") => {}
        Some("error") => {
            let kind = envelope
                .error_type
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            let message = envelope.error.unwrap_or_else(|| "no message".into());
            return error(format!(
                "{} answered an error{kind}: {message}",
                server(which)
            ));
        }
        other => {
            return error(format!(
                "the {what} has status {}, not \"success\"",
                other.map_or_else(|| "missing".to_owned(), |s| format!("\"{s}\""))
            ));
        }
    }
    if !response.status.is_success() {
        return unexpected_status(which, response);
    }
    serde_json::from_value(envelope.data)
        .or_else(|e| error(format!("the {what} is not the expected JSON: {e}")))
}

/// `a, b, c and 4 more` (at most `max` items, joined with `sep`).
pub(crate) fn bounded_list<S: AsRef<str>>(items: &[S], max: usize, sep: &str) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    let mut text = shown.join(sep);
    if items.len() > max {
        text.push_str(&format!(" and {} more", items.len() - max));
    }
    text
}

/// `"a", "b"` — names quoted, bounded.
pub(crate) fn quoted<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    bounded_list(&quoted, LISTED, ", ")
}

/// `1 rule` / `2 rules`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_bounded() {
        let names: Vec<String> = (0..13).map(|i| format!("n{i}")).collect();
        let text = bounded_list(&names, LISTED, ", ");
        assert!(text.starts_with("n0, n1"));
        assert!(text.ends_with("n9 and 3 more"), "{text}");
        assert_eq!(quoted(&["a", "b"]), "\"a\", \"b\"");
        assert_eq!(count(1, "rule", "rules"), "1 rule");
        assert_eq!(count(0, "rule", "rules"), "0 rules");
    }
}
