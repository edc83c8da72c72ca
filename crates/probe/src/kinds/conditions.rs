//! Evaluates the conditions of an `http` check against one response. Pure: the response is
//! given as plain values, so every rule is tested without a server.

use std::time::Duration;

use preflight_domain::{CmpOp, Condition, Operand, Subject};
use serde_json::Value;
use serde_json_path::JsonPath;

/// What a condition can look at.
pub(crate) struct Observed<'a> {
    pub status: u16,
    pub latency: Duration,
    /// Milliseconds until the leaf certificate expires (negative once expired); `None` over
    /// plain HTTP.
    pub cert_left_ms: Option<i64>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// `Ok(())` when the condition holds, else the sentence saying what was seen instead.
pub(crate) fn evaluate(condition: &Condition, seen: &Observed<'_>) -> Result<(), String> {
    let op = condition.op;
    let operand = condition.operand.as_ref();
    match &condition.subject {
        Subject::Status => {
            let expected = number(operand).unwrap_or_default();
            holds_number(f64::from(seen.status), op, expected)
                .then_some(())
                .ok_or_else(|| {
                    format!(
                        "status {} is not {condition_text}",
                        seen.status,
                        condition_text = rhs(condition)
                    )
                })
        }
        Subject::Latency => {
            let ms = seen.latency.as_secs_f64() * 1000.0;
            let limit = duration_ms(operand);
            holds_number(ms, op, limit).then_some(()).ok_or_else(|| {
                format!(
                    "latency {} is not {}",
                    crate::error::format_duration(seen.latency),
                    rhs(condition)
                )
            })
        }
        Subject::CertExpiry => {
            let Some(left) = seen.cert_left_ms else {
                return Err(
                    "cert_expiry needs an https URL; the answer came over plain HTTP".into(),
                );
            };
            let limit = duration_ms(operand);
            holds_number(left as f64, op, limit)
                .then_some(())
                .ok_or_else(|| {
                    format!(
                        "the certificate expires in {:.1} days, which is not {}",
                        left as f64 / 86_400_000.0,
                        rhs(condition)
                    )
                })
        }
        Subject::Header(name) => {
            let value = seen
                .headers
                .get(name.as_str())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            match (op, value) {
                (CmpOp::Exists, Some(_)) => Ok(()),
                (_, None) => Err(format!("header {name} is absent")),
                (_, Some(text)) => compare_text_or_number(&text, op, operand)
                    .then_some(())
                    .ok_or_else(|| {
                        format!(
                            "header {name} is \"{text}\", which is not {}",
                            rhs(condition)
                        )
                    }),
            }
        }
        Subject::Body => {
            let text = String::from_utf8_lossy(seen.body);
            let Some(Operand::Text(expected)) = operand else {
                return Err("the body compares with text".into());
            };
            let holds = match op {
                CmpOp::Contains => text.contains(expected.as_str()),
                CmpOp::Eq => text == expected.as_str(),
                CmpOp::Ne => text != expected.as_str(),
                _ => false,
            };
            holds.then_some(()).ok_or_else(|| match op {
                CmpOp::Contains => format!("the body does not contain \"{expected}\""),
                _ => format!("the body is not {}", rhs(condition)),
            })
        }
        Subject::BodyJson(path) => {
            let parsed =
                JsonPath::parse(path).map_err(|e| format!("{path} is not a JSON path: {e}"))?;
            let document: Value = serde_json::from_slice(seen.body)
                .map_err(|_| format!("body.{path}: the body is not JSON"))?;
            let found = parsed.query(&document).first().cloned();
            match (op, found) {
                (CmpOp::Exists, Some(_)) => Ok(()),
                (_, None) => Err(format!("body.{path} is absent")),
                (_, Some(value)) => {
                    compare_json(&value, op, operand)
                        .then_some(())
                        .ok_or_else(|| {
                            format!("body.{path} is {value}, which is not {}", rhs(condition))
                        })
                }
            }
        }
    }
}

/// The operator and value as written (`== 200`).
fn rhs(condition: &Condition) -> String {
    match &condition.operand {
        Some(operand) => format!("{} {operand}", condition.op.as_str()),
        None => condition.op.as_str().to_owned(),
    }
}

fn number(operand: Option<&Operand>) -> Option<f64> {
    match operand? {
        Operand::Integer(i) => Some(*i as f64),
        Operand::Decimal(x) => Some(*x),
        _ => None,
    }
}

fn duration_ms(operand: Option<&Operand>) -> f64 {
    match operand {
        Some(Operand::Duration(span)) => span.as_millis() as f64,
        _ => f64::NAN,
    }
}

fn holds_number(left: f64, op: CmpOp, right: f64) -> bool {
    match op {
        CmpOp::Eq => left == right,
        CmpOp::Ne => left != right,
        CmpOp::Lt => left < right,
        CmpOp::Le => left <= right,
        CmpOp::Gt => left > right,
        CmpOp::Ge => left >= right,
        CmpOp::Contains | CmpOp::Exists => false,
    }
}

/// Headers are text; they compare as numbers when the operand is a number.
fn compare_text_or_number(text: &str, op: CmpOp, operand: Option<&Operand>) -> bool {
    if let Some(right) = number(operand) {
        return text
            .trim()
            .parse::<f64>()
            .is_ok_and(|left| holds_number(left, op, right));
    }
    let expected = match operand {
        Some(Operand::Text(t)) => t.clone(),
        Some(other) => other.to_string(),
        None => return false,
    };
    match op {
        CmpOp::Contains => text.contains(expected.as_str()),
        CmpOp::Eq => text == expected,
        CmpOp::Ne => text != expected,
        _ => false,
    }
}

fn compare_json(value: &Value, op: CmpOp, operand: Option<&Operand>) -> bool {
    if let Some(right) = number(operand) {
        return value
            .as_f64()
            .is_some_and(|left| holds_number(left, op, right));
    }
    let same = match operand {
        Some(Operand::Text(text)) => match (op, value) {
            (CmpOp::Contains, Value::String(s)) => return s.contains(text.as_str()),
            (CmpOp::Contains, Value::Array(items)) => {
                return items.iter().any(|i| i.as_str() == Some(text.as_str()));
            }
            (_, Value::String(s)) => s == text,
            _ => false,
        },
        Some(Operand::Bool(b)) => value.as_bool() == Some(*b),
        Some(Operand::Null) => value.is_null(),
        _ => return false,
    };
    match op {
        CmpOp::Eq => same,
        CmpOp::Ne => !same,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> Observed<'a> {
        Observed {
            status: 200,
            latency: Duration::from_millis(120),
            cert_left_ms: Some(10 * 86_400_000),
            headers,
            body,
        }
    }

    fn check(condition: &str, observed: &Observed<'_>) -> Result<(), String> {
        evaluate(&condition.parse().expect("valid condition"), observed)
    }

    #[test]
    fn status_latency_and_certificate() {
        let headers = http::HeaderMap::new();
        let o = seen(&headers, b"");
        assert!(check("status == 200", &o).is_ok());
        assert_eq!(
            check("status == 204", &o).expect_err("fails"),
            "status 200 is not == 204"
        );
        assert!(check("latency < 500ms", &o).is_ok());
        assert_eq!(
            check("latency < 100ms", &o).expect_err("fails"),
            "latency 120ms is not < 100ms"
        );
        assert!(check("cert_expiry > 7d", &o).is_ok());
        assert!(
            check("cert_expiry > 14d", &o)
                .expect_err("fails")
                .contains("expires in 10.0 days")
        );
        let plain = Observed {
            cert_left_ms: None,
            ..seen(&headers, b"")
        };
        assert!(
            check("cert_expiry > 1d", &plain)
                .expect_err("fails")
                .contains("plain HTTP")
        );
    }

    #[test]
    fn headers_compare_as_text_or_numbers() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        headers.insert("x-count", http::HeaderValue::from_static("7"));
        let o = seen(&headers, b"");
        assert!(check("header.content-type contains json", &o).is_ok());
        assert!(check("header.Content-Type exists", &o).is_ok());
        assert!(check("header.x-count >= 5", &o).is_ok());
        assert!(check("header.x-count > 7", &o).is_err());
        assert_eq!(
            check("header.etag exists", &o).expect_err("fails"),
            "header etag is absent"
        );
        assert!(
            check("header.content-type == \"text/html\"", &o)
                .expect_err("fails")
                .contains("is \"application/json\"")
        );
    }

    #[test]
    fn json_paths_and_body_text() {
        let headers = http::HeaderMap::new();
        let body = br#"{"status":"ok","checks":{"db":true},"items":[{"id":3}],"tags":["a","b"],"gone":null}"#;
        let o = seen(&headers, body);
        assert!(check("body.$.status == ok", &o).is_ok());
        assert!(check("body.$.checks.db == true", &o).is_ok());
        assert!(check("body.$.items[0].id >= 3", &o).is_ok());
        assert!(check("body.$.tags contains b", &o).is_ok());
        assert!(check("body.$.gone == null", &o).is_ok());
        assert!(check("body.$.status != down", &o).is_ok());
        assert_eq!(
            check("body.$.missing exists", &o).expect_err("fails"),
            "body.$.missing is absent"
        );
        assert!(
            check("body.$.status == down", &o)
                .expect_err("fails")
                .contains("is \"ok\"")
        );
        assert!(check("body contains checks", &o).is_ok());
        assert!(check("body contains nothing-here", &o).is_err());
        let not_json = seen(&headers, b"<html>");
        assert!(
            check("body.$.a exists", &not_json)
                .expect_err("fails")
                .contains("not JSON")
        );
    }
}
