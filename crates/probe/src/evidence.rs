//! What a check run records: its outcome, one sentence saying why, and every request it made.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most bytes of a response body kept in evidence.
pub const EXCERPT_BYTES: usize = 4096;

/// How a check run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The target answered as required.
    Passed,
    /// The target answered, wrongly.
    Failed,
    /// The check could not be carried out (DNS, connect, timeout, refused address, bad config).
    Error,
}

impl Outcome {
    /// The outcome as written in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
        }
    }
}

/// One request a probe sent and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Request method.
    pub method: String,
    /// Request URL.
    pub url: String,
    /// Where the answer came from, when same-origin redirects led elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_to: Option<String>,
    /// Response status, absent when no response came.
    pub status: Option<u16>,
    /// The response headers that mattered to the check.
    pub headers: BTreeMap<String, String>,
    /// The start of the body (at most [`EXCERPT_BYTES`], lossy UTF-8).
    pub body_excerpt: Option<String>,
    /// Bytes of body read.
    pub body_bytes: u64,
    /// True when the body was cut at the engine's byte cap.
    pub body_truncated: bool,
    /// Time from sending to the end of the body.
    pub elapsed_ms: f64,
    /// Why no response came (connect error, refused redirect, ...).
    pub error: Option<String>,
}

/// The result of one check run: what the API stores and every output format prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The check kind.
    pub kind: String,
    /// The check as written in an annotation.
    pub check: String,
    /// How it ended.
    pub outcome: Outcome,
    /// One sentence saying why it passed or failed.
    pub reason: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How long the whole run took.
    pub duration_ms: f64,
    /// Every request made, in order.
    pub requests: Vec<Exchange>,
    /// Findings that are not an HTTP exchange (TLS version, certificate dates, counts...).
    pub facts: BTreeMap<String, String>,
}

impl Report {
    /// Replaces every occurrence of each secret in the report's text with `[redacted]`. The
    /// engine calls it with the target's credentials; callers holding other spellings of a
    /// secret (e.g. a token without its `Bearer ` prefix) call it again with those.
    pub fn scrub(&mut self, secrets: &[String]) {
        if secrets.is_empty() {
            return;
        }
        let clean = |text: &mut String| {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), "[redacted]");
                }
            }
        };
        clean(&mut self.reason);
        clean(&mut self.check);
        for exchange in &mut self.requests {
            clean(&mut exchange.url);
            if let Some(to) = &mut exchange.redirected_to {
                clean(to);
            }
            exchange.headers.values_mut().for_each(clean);
            if let Some(excerpt) = &mut exchange.body_excerpt {
                clean(excerpt);
            }
            if let Some(error) = &mut exchange.error {
                clean(error);
            }
        }
        self.facts.values_mut().for_each(clean);
    }
}

/// The first `max` bytes of `body` as text, cut on a character boundary.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max)]).into_owned();
    // A multi-byte character cut in half shows as U+FFFD at the end; drop it.
    match text.strip_suffix('\u{FFFD}') {
        Some(cut) if body.len() > max => cut.to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_secrets_everywhere() {
        let mut report = Report {
            kind: "http".into(),
            check: "http".into(),
            outcome: Outcome::Failed,
            reason: "server said s3cret".into(),
            started_at: Utc::now(),
            duration_ms: 1.0,
            requests: vec![Exchange {
                method: "GET".into(),
                url: "http://h/?t=s3cret".into(),
                redirected_to: None,
                status: Some(200),
                headers: BTreeMap::from([("x-echo".into(), "Bearer s3cret".into())]),
                body_excerpt: Some("token: s3cret".into()),
                body_bytes: 13,
                body_truncated: false,
                elapsed_ms: 1.0,
                error: None,
            }],
            facts: BTreeMap::from([("echo".into(), "s3cret".into())]),
        };
        report.scrub(&["s3cret".into()]);
        let text = serde_json::to_string(&report).expect("serialises");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("[redacted]"));
    }

    #[test]
    fn excerpt_is_bounded_and_valid_text() {
        let body = "é".repeat(3000);
        let cut = excerpt(body.as_bytes(), EXCERPT_BYTES);
        assert!(cut.len() <= EXCERPT_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(excerpt(b"short", EXCERPT_BYTES), "short");
    }
}
