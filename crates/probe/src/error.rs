//! Why a check could not be carried out: every variant becomes an `error` outcome.

use std::time::Duration;

/// A check that could not be carried out. The message is the evidence sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// A host or address the rules forbid; the message names the rule.
    #[error("{0}")]
    Refused(String),
    /// DNS, connect, TLS handshake or protocol failure.
    #[error("{0}")]
    Unreachable(String),
    /// No answer within the check's timeout.
    #[error("no answer within {}, the check's timeout", format_duration(*.0))]
    Timeout(Duration),
    /// The check needs something the target context does not give (e.g. a Prometheus URL).
    #[error("{0}")]
    Config(String),
    /// The check used up its request budget.
    #[error("stopped after {0} requests, the most one check may send")]
    Budget(u32),
}

/// `1.5s`, `250ms`, `2m` — the units checklist authors write.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_annotations() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(
            ProbeError::Timeout(Duration::from_secs(2)).to_string(),
            "no answer within 2s, the check's timeout"
        );
    }
}
