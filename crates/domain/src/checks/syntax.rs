//! The `key=value key2="quoted value"` syntax used inside `<!-- check: ... -->` annotations.
//!
//! Hand-written because it is tiny and must give precise, parameter-naming errors; a general
//! tokenizer crate would add a dependency for twenty lines of code.

use super::CheckError;

/// Splits `key=value key2="quoted value"` into ordered pairs (repeated keys are kept).
///
/// Values may be quoted with `"` or `'` (single quotes keep PromQL and LogQL selectors
/// readable); inside quotes a backslash makes the next character literal.
pub fn tokenize(input: &str) -> Result<Vec<(String, String)>, CheckError> {
    let mut pairs = Vec::new();
    let mut chars = input.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(pairs);
        };
        let mut key_end = input.len();
        let mut saw_eq = false;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' {
                key_end = i;
                saw_eq = true;
                chars.next();
                break;
            }
            if c.is_whitespace() {
                key_end = i;
                break;
            }
            chars.next();
        }
        let key = &input[start..key_end];
        if !saw_eq {
            return Err(CheckError::Syntax(format!(
                "expected key=value, found \"{key}\""
            )));
        }
        if !is_valid_key(key) {
            return Err(CheckError::Syntax(format!(
                "invalid parameter name \"{key}\" (use lowercase letters, digits and _)"
            )));
        }
        let mut value = String::new();
        if let Some((_, quote)) = chars.next_if(|(_, c)| *c == '"' || *c == '\'') {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                if c == quote {
                    closed = true;
                    break;
                }
                if c == '\\' {
                    match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => break,
                    }
                } else {
                    value.push(c);
                }
            }
            if !closed {
                return Err(CheckError::Syntax(format!(
                    "unterminated quoted value for parameter \"{key}\""
                )));
            }
            if chars.peek().is_some_and(|(_, c)| !c.is_whitespace()) {
                return Err(CheckError::Syntax(format!(
                    "expected a space after the quoted value of parameter \"{key}\""
                )));
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                value.push(c);
            }
        }
        pairs.push((key.to_owned(), value));
    }
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Writes `value` so that [`tokenize`] reads it back unchanged: bare when safe, quoted otherwise.
pub fn quote(value: &str) -> String {
    let needs_quotes = value.is_empty()
        || value.starts_with(['"', '\''])
        || value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if !needs_quotes {
        return value.to_owned();
    }
    if value.contains('"') && !value.contains(['\'', '\\']) {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(input: &str) -> Vec<(String, String)> {
        tokenize(input).unwrap()
    }

    #[test]
    fn splits_bare_and_quoted_values() {
        assert_eq!(
            pairs(r#" path=/a  name="two words" esc="say \"hi\" \\ ok" empty="" "#),
            vec![
                ("path".into(), "/a".into()),
                ("name".into(), "two words".into()),
                ("esc".into(), r#"say "hi" \ ok"#.into()),
                ("empty".into(), String::new()),
            ]
        );
        assert_eq!(pairs("a=x=y"), vec![("a".into(), "x=y".into())]);
        assert!(pairs("   ").is_empty());
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in ["path", "Path=x", "a=\"open", "a=\"x\"y", "=x", "1a=x"] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quote_round_trips() {
        for v in [
            "",
            "plain",
            "two words",
            "q\"uote",
            "back\\slash",
            "\"lead",
            "'lead",
            "tab\there",
            "{job=\"api\"}",
            "it's \"mixed\"",
        ] {
            let text = format!("k={}", quote(v));
            assert_eq!(pairs(&text), vec![("k".into(), v.to_owned())], "{text}");
        }
    }
}
