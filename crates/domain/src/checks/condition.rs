//! Typed conditions of `http` checks (`status == 200`, `latency < 500ms`, ...) and the
//! numeric comparison of `promql` checks.
//!
//! Conditions serialise as their text form, so the JSON API accepts exactly what a Markdown
//! annotation says, and a stored check reads like the document it came from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::CheckError;
use super::timespan::TimeSpan;
/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains` (text contains the operand).
    Contains,
    /// `exists` (no operand: the header or JSON field is present).
    Exists,
}

impl CmpOp {
    const ALL: [(&'static str, CmpOp); 8] = [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
        ("contains", CmpOp::Contains),
        ("exists", CmpOp::Exists),
    ];

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("==", |(text, _)| text)
    }

    fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// What a condition looks at in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The HTTP status code.
    Status,
    /// Time to the full response.
    Latency,
    /// Time left before the leaf certificate expires.
    CertExpiry,
    /// A response header (name lowercased).
    Header(String),
    /// The whole body as text.
    Body,
    /// A field of the JSON body, path starting with `$` (`$.status`, `$.items[0].id`).
    BodyJson(String),
}

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A whole number.
    Integer(i64),
    /// A number with a fraction or exponent.
    Decimal(f64),
    /// A duration with its unit.
    Duration(TimeSpan),
    /// Text, quoted or a bare word.
    Text(String),
    /// `true` / `false`.
    Bool(bool),
    /// `null` (JSON).
    Null,
}

impl Operand {
    fn parse(token: &str) -> Result<Operand, String> {
        if let Some(inner) = token.strip_prefix('"').or_else(|| token.strip_prefix('\'')) {
            return unquote(inner, token.chars().next().unwrap_or('"')).map(Operand::Text);
        }
        match token {
            "true" => return Ok(Operand::Bool(true)),
            "false" => return Ok(Operand::Bool(false)),
            "null" => return Ok(Operand::Null),
            _ => {}
        }
        if token.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            if let Ok(i) = token.parse::<i64>() {
                return Ok(Operand::Integer(i));
            }
            if is_decimal(token)
                && let Ok(f) = token.parse::<f64>()
                && f.is_finite()
            {
                return Ok(Operand::Decimal(f));
            }
            if let Ok(span) = token.parse::<TimeSpan>() {
                return Ok(Operand::Duration(span));
            }
        }
        Ok(Operand::Text(token.to_owned()))
    }

    fn is_number(&self) -> bool {
        matches!(self, Operand::Integer(_) | Operand::Decimal(_))
    }
}

/// Plain decimal syntax only, so that words like `inf` or `NaN` stay text.
fn is_decimal(token: &str) -> bool {
    let body = token.strip_prefix('-').unwrap_or(token);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix('-').unwrap_or(e))),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    digits(int) && digits(frac) && exponent.is_none_or(digits)
}

fn unquote(inner: &str, quote: char) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(escaped) => out.push(escaped),
                None => break,
            }
        } else if c == quote {
            return if chars.next().is_none() {
                Ok(out)
            } else {
                Err("unexpected text after a quoted value".into())
            };
        } else {
            out.push(c);
        }
    }
    Err("unterminated quoted value".into())
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Integer(i) => write!(f, "{i}"),
            // Debug keeps a fraction or exponent, so the number reads back as a decimal.
            Operand::Decimal(x) => write!(f, "{x:?}"),
            Operand::Duration(span) => write!(f, "{span}"),
            Operand::Text(text) => {
                f.write_str("\"")?;
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
            Operand::Bool(b) => write!(f, "{b}"),
            Operand::Null => f.write_str("null"),
        }
    }
}

/// One condition of an `http` check, e.g. `header.content-type contains json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Condition {
    /// What is looked at.
    pub subject: Subject,
    /// How it is compared.
    pub op: CmpOp,
    /// The value compared against (`None` only for `exists`).
    pub operand: Option<Operand>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Subject::Status => f.write_str("status")?,
            Subject::Latency => f.write_str("latency")?,
            Subject::CertExpiry => f.write_str("cert_expiry")?,
            Subject::Header(name) => write!(f, "header.{name}")?,
            Subject::Body => f.write_str("body")?,
            Subject::BodyJson(path) => write!(f, "body.{path}")?,
        }
        write!(f, " {}", self.op.as_str())?;
        if let Some(operand) = &self.operand {
            write!(f, " {operand}")?;
        }
        Ok(())
    }
}

impl FromStr for Condition {
    type Err = CheckError;

    fn from_str(text: &str) -> Result<Self, CheckError> {
        let bad = |message: String| CheckError::InvalidParameter {
            name: "condition".into(),
            message: format!("\"{text}\": {message}"),
        };
        let text = text.trim();
        // The subject ends at a space or at the operator, so `status==200` reads too.
        let subject_end = text
            .find(|c: char| c.is_whitespace() || "=!<>".contains(c))
            .ok_or_else(|| bad("expected `subject operator value`".into()))?;
        let (subject_text, rest) = text.split_at(subject_end);
        let subject = parse_subject(subject_text).map_err(&bad)?;
        let (op, operand_text) = strip_operator(rest.trim_start(), &CmpOp::ALL)
            .ok_or_else(|| bad("expected one of == != < <= > >= contains exists".into()))?;
        let operand = match (op, operand_text.is_empty()) {
            (CmpOp::Exists, true) => None,
            (CmpOp::Exists, false) => return Err(bad("`exists` takes no value".into())),
            (_, true) => return Err(bad("missing value after the operator".into())),
            (_, false) => Some(Operand::parse(operand_text).map_err(&bad)?),
        };
        let condition = Condition {
            subject,
            op,
            operand,
        };
        condition.type_check().map_err(bad)?;
        Ok(condition)
    }
}

/// Finds the operator at the start of `text`; word operators must end at a space.
fn strip_operator<'t>(text: &'t str, ops: &[(&'static str, CmpOp)]) -> Option<(CmpOp, &'t str)> {
    ops.iter().find_map(|(word, op)| {
        let rest = text.strip_prefix(word)?;
        let is_word = word.starts_with(|c: char| c.is_ascii_alphabetic());
        if is_word && rest.starts_with(|c: char| !c.is_whitespace()) {
            return None;
        }
        Some((*op, rest.trim()))
    })
}

fn parse_subject(text: &str) -> Result<Subject, String> {
    match text {
        "status" => return Ok(Subject::Status),
        "latency" => return Ok(Subject::Latency),
        "cert_expiry" => return Ok(Subject::CertExpiry),
        "body" => return Ok(Subject::Body),
        _ => {}
    }
    if let Some(name) = text.strip_prefix("header.") {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        return if valid {
            Ok(Subject::Header(name.to_ascii_lowercase()))
        } else {
            Err(format!("\"{name}\" is not a header name"))
        };
    }
    if let Some(path) = text.strip_prefix("body.") {
        return if path.starts_with('$') {
            Ok(Subject::BodyJson(path.to_owned()))
        } else {
            Err("JSON paths start with $, e.g. body.$.status".into())
        };
    }
    Err(format!(
        "unknown subject \"{text}\" (use status, latency, cert_expiry, header.NAME, body or body.$.path)"
    ))
}

impl Condition {
    /// Rejects comparisons that can never make sense, so a typo fails at import, not at 3 am.
    fn type_check(&self) -> Result<(), String> {
        let operand = self.operand.as_ref();
        match (&self.subject, self.op) {
            (_, CmpOp::Exists) => match self.subject {
                Subject::Header(_) | Subject::BodyJson(_) => Ok(()),
                _ => Err("`exists` applies to header.NAME and body.$ paths".into()),
            },
            (Subject::Status, CmpOp::Contains) => Err("status is a number; use == or <, >".into()),
            (Subject::Status, _) => match operand {
                Some(Operand::Integer(code)) if (100..=599).contains(code) => Ok(()),
                _ => Err("status compares with a code between 100 and 599".into()),
            },
            (Subject::Latency | Subject::CertExpiry, CmpOp::Contains) => {
                Err("durations compare with <, <=, >, >=, == or !=".into())
            }
            (Subject::Latency | Subject::CertExpiry, _) => match operand {
                Some(Operand::Duration(_)) => Ok(()),
                _ => Err("durations need a unit: ms, s, m, h or d (e.g. 500ms, 14d)".into()),
            },
            (Subject::Body, CmpOp::Contains | CmpOp::Eq | CmpOp::Ne) => match operand {
                Some(Operand::Text(_)) => Ok(()),
                _ => Err("the body compares with text".into()),
            },
            (Subject::Body, _) => Err("the body supports contains, == and !=".into()),
            (Subject::Header(_) | Subject::BodyJson(_), op) => match operand {
                Some(Operand::Duration(_)) => {
                    Err("durations only apply to latency and cert_expiry".into())
                }
                Some(value) if op.is_ordering() && !value.is_number() => {
                    Err("<, <=, >, >= need a number".into())
                }
                Some(Operand::Text(_)) | None => Ok(()),
                Some(_) if op == CmpOp::Contains => Err("contains needs text".into()),
                Some(_) => Ok(()),
            },
        }
    }
}

impl TryFrom<String> for Condition {
    type Error = CheckError;
    fn try_from(text: String) -> Result<Self, CheckError> {
        text.parse()
    }
}

impl From<Condition> for String {
    fn from(condition: Condition) -> String {
        condition.to_string()
    }
}

/// A numeric comparison applied to every sample a PromQL query returns (`< 90000`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ValueCondition {
    /// The operator (ordering, `==` or `!=`).
    pub op: CmpOp,
    /// The number compared against.
    pub value: f64,
}

impl fmt::Display for ValueCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.as_str(), Operand::Decimal(self.value))
    }
}

impl FromStr for ValueCondition {
    type Err = CheckError;
    fn from_str(text: &str) -> Result<Self, CheckError> {
        let bad = || CheckError::InvalidParameter {
            name: "condition".into(),
            message: format!("\"{text}\": expected an operator and a number, e.g. \"< 90000\""),
        };
        let trimmed = text.trim();
        let (op, rest) = strip_operator(trimmed, &CmpOp::ALL[..6]).ok_or_else(bad)?;
        let value = match Operand::parse(rest).map_err(|_| bad())? {
            Operand::Integer(i) => i as f64,
            Operand::Decimal(x) => x,
            _ => return Err(bad()),
        };
        Ok(Self { op, value })
    }
}

impl TryFrom<String> for ValueCondition {
    type Error = CheckError;
    fn try_from(text: String) -> Result<Self, CheckError> {
        text.parse()
    }
}

impl From<ValueCondition> for String {
    fn from(condition: ValueCondition) -> String {
        condition.to_string()
    }
}
#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
