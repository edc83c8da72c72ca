//! Reading and writing annotation parameters, and the validators shared by every check kind.

use std::fmt::Display;
use std::str::FromStr;

use super::CheckError;
use super::syntax::quote;

/// The parameters of one annotation, already checked against the kind's parameter names.
pub struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    /// Rejects parameters the kind does not know, naming the ones it does.
    pub fn new(
        kind: &'static str,
        allowed: &[&str],
        pairs: &'a [(String, String)],
    ) -> Result<Self, CheckError> {
        // `timeout` is common to every kind (see `kinds::Timed`).
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, _)| name != "timeout" && !allowed.contains(&name.as_str()))
        {
            return Err(CheckError::UnknownParameter {
                kind,
                name: name.clone(),
                expected: allowed
                    .iter()
                    .chain(&["timeout"])
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Self { pairs })
    }

    /// The value of a parameter that may appear at most once.
    pub fn single(&self, name: &str) -> Result<Option<&'a str>, CheckError> {
        let mut found = self.pairs.iter().filter(|(key, _)| key == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(CheckError::DuplicateParameter { name: name.into() });
        }
        Ok(first.map(|(_, value)| value.as_str()))
    }

    /// Every value of a repeatable parameter, in order.
    pub fn repeated(&self, name: &str) -> Vec<&'a str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// A list given as `name=a,b` and/or repeated `name=a name=b`.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.repeated(name)
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A single value parsed with `FromStr`, the error naming the parameter.
    pub fn parsed<T: FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, CheckError> {
        self.single(name)?
            .map(|value| {
                value
                    .parse::<T>()
                    .map_err(|_| CheckError::InvalidParameter {
                        name: name.into(),
                        message: format!("\"{value}\" is not {what}"),
                    })
            })
            .transpose()
    }

    /// A single text value.
    pub fn string(&self, name: &str) -> Result<Option<String>, CheckError> {
        Ok(self.single(name)?.map(str::to_owned))
    }
}

/// Collects `name=value` pairs for [`super::CheckSpec::to_annotation`].
#[derive(Default)]
pub struct Emitter {
    parts: Vec<String>,
}

impl Emitter {
    /// Adds one pair, quoting the value when needed.
    pub fn push(&mut self, name: &str, value: impl Display) {
        self.parts
            .push(format!("{name}={}", quote(&value.to_string())));
    }

    /// Adds the pair only when the value differs from the default, to keep annotations short.
    pub fn push_unless<T: Display + PartialEq>(&mut self, name: &str, value: &T, default: &T) {
        if value != default {
            self.push(name, value);
        }
    }

    /// Adds an optional value when present.
    pub fn push_opt<T: Display>(&mut self, name: &str, value: Option<&T>) {
        if let Some(value) = value {
            self.push(name, value);
        }
    }

    /// Adds a list as one comma-separated value (validators forbid commas inside items).
    pub fn push_list(&mut self, name: &str, values: &[String]) {
        if !values.is_empty() {
            self.push(name, values.join(","));
        }
    }

    /// The pairs separated by spaces.
    pub fn finish(self) -> String {
        self.parts.join(" ")
    }
}

fn invalid(name: &str, message: impl Into<String>) -> CheckError {
    CheckError::InvalidParameter {
        name: name.into(),
        message: message.into(),
    }
}

/// Free text that must fit on one annotation line and must not end the HTML comment early.
pub fn text(name: &str, value: &str) -> Result<(), CheckError> {
    if value.trim().is_empty() {
        return Err(invalid(name, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            name,
            "must not contain line breaks or control characters",
        ));
    }
    if value.contains("-->") || value.contains("<!--") {
        return Err(invalid(name, "must not contain \"<!--\" or \"-->\""));
    }
    Ok(())
}

/// A URL path on the target: absolute, no spaces, no commas (lists are comma-separated).
pub fn path(name: &str, value: &str) -> Result<(), CheckError> {
    text(name, value)?;
    if !value.starts_with('/') {
        return Err(invalid(name, format!("\"{value}\" must start with /")));
    }
    if value.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(invalid(
            name,
            format!("\"{value}\" must not contain spaces or commas"),
        ));
    }
    Ok(())
}

/// A name in a list (metric, alert, receiver): no commas or spaces.
pub fn name(param: &str, value: &str) -> Result<(), CheckError> {
    text(param, value)?;
    if value.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(invalid(
            param,
            format!("\"{value}\" must not contain spaces or commas"),
        ));
    }
    Ok(())
}

/// An HTTP method, normalised to upper case.
pub fn method(name: &str, value: &str) -> Result<String, CheckError> {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let upper = value.to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(invalid(
            name,
            format!("\"{value}\" is not one of {}", METHODS.join(", ")),
        ))
    }
}

/// An origin such as `https://app.example.com`.
pub fn origin(name: &str, value: &str) -> Result<(), CheckError> {
    text(name, value)?;
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(
                name,
                format!("\"{value}\" must start with http:// or https://"),
            )
        })?;
    if rest.is_empty() || rest.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(invalid(
            name,
            format!("\"{value}\" must be scheme://host[:port] only"),
        ));
    }
    Ok(())
}

/// A number within bounds, the message naming both.
pub fn within(name: &str, value: u32, min: u32, max: u32) -> Result<(), CheckError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("{value} is out of range {min}..={max}"),
        ))
    }
}

/// A required value that was not given.
pub fn missing(name: &str) -> CheckError {
    CheckError::MissingParameter { name: name.into() }
}

/// A free-form problem with a parameter.
pub fn problem(name: &str, message: impl Into<String>) -> CheckError {
    invalid(name, message)
}
