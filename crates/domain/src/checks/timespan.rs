//! Durations with units (`500ms`, `14d`), written back the way they were read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A length of time written with a unit: `500ms`, `30s`, `15m`, `2h`, `14d`.
///
/// The unit is kept so that a duration is written back the way it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeSpan {
    /// How many units.
    pub amount: u64,
    /// The unit the amount counts.
    pub unit: TimeUnit,
}

/// Units accepted in durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Milliseconds (`ms`).
    Ms,
    /// Seconds (`s`).
    S,
    /// Minutes (`m`).
    M,
    /// Hours (`h`).
    H,
    /// Days (`d`).
    D,
}

impl TimeUnit {
    fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
            TimeUnit::M => "m",
            TimeUnit::H => "h",
            TimeUnit::D => "d",
        }
    }

    fn millis(self) -> u64 {
        match self {
            TimeUnit::Ms => 1,
            TimeUnit::S => 1_000,
            TimeUnit::M => 60_000,
            TimeUnit::H => 3_600_000,
            TimeUnit::D => 86_400_000,
        }
    }
}

impl TimeSpan {
    /// Builds a span from an amount and a unit.
    pub const fn new(amount: u64, unit: TimeUnit) -> Self {
        Self { amount, unit }
    }

    /// The span in milliseconds (saturating: absurd spans must not overflow a probe).
    pub fn as_millis(&self) -> u64 {
        self.amount.saturating_mul(self.unit.millis())
    }

    /// The span as a `std::time::Duration`.
    pub fn to_std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.as_millis())
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl FromStr for TimeSpan {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, suffix) = s.split_at(digits_end);
        let unit = match suffix {
            "ms" => TimeUnit::Ms,
            "s" => TimeUnit::S,
            "m" => TimeUnit::M,
            "h" => TimeUnit::H,
            "d" => TimeUnit::D,
            _ => {
                return Err(format!(
                    "\"{s}\" is not a duration (use ms, s, m, h or d, e.g. 500ms)"
                ));
            }
        };
        let amount = digits
            .parse::<u64>()
            .map_err(|_| format!("\"{s}\" is not a duration (e.g. 500ms, 14d)"))?;
        Ok(Self { amount, unit })
    }
}

impl TryFrom<String> for TimeSpan {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<TimeSpan> for String {
    fn from(span: TimeSpan) -> String {
        span.to_string()
    }
}
