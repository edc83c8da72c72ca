//! Production checks for secrets from the environment (`SECRET_KEY`, `ENCRYPTION_KEY`, …).

use std::collections::HashSet;

use crate::crypto::{EncryptionKey, KEY_LEN};

/// Minimum length of a signing secret, in characters (at least 128 bits if random hex).
pub const MIN_SECRET_LEN: usize = 32;

/// Fewer distinct characters than this means a hand-typed pattern, not a random value.
const MIN_DISTINCT_CHARS: usize = 8;

/// Substrings that mark a value copied from documentation or a template. Hex keys never contain
/// them; a random base64 value does only very rarely (regenerate it if so).
const PLACEHOLDER_MARKERS: &[&str] = &[
    "change",
    "example",
    "placeholder",
    "secret",
    "xxx",
    "todo",
    "replace",
    "dummy",
    "insecure",
    "default",
    "password",
    "your_",
    "your-",
    "<",
    "${",
];

/// Problems that make `value` unfit as the production secret `name`; empty when it is fine.
///
/// Reports a missing value, one shorter than 32 characters, a placeholder (contains "change",
/// "example", "secret", "xxx", "todo", …), or a repeated / low-variety pattern. For names
/// starting with `ENCRYPTION_KEY` the value must also parse as a 32-byte key (hex or base64),
/// and the length rule applies to the decoded bytes. Messages start with `name` and never
/// contain the value.
pub fn check_secret(name: &str, value: Option<&str>) -> Vec<String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return vec![format!("{name} is not set")];
    };
    let mut problems = Vec::new();

    if name.starts_with("ENCRYPTION_KEY") {
        if let Err(e) = EncryptionKey::parse(value) {
            problems.push(format!("{name} is not a valid {KEY_LEN}-byte key: {e}"));
        }
    } else if value.chars().count() < MIN_SECRET_LEN {
        problems.push(format!(
            "{name} is shorter than {MIN_SECRET_LEN} characters; use e.g. `openssl rand -hex 32`"
        ));
    }

    let lower = value.to_lowercase();
    if let Some(marker) = PLACEHOLDER_MARKERS.iter().find(|m| lower.contains(*m)) {
        problems.push(format!(
            "{name} looks like a placeholder (contains \"{marker}\"); use a random value"
        ));
    }

    let distinct: HashSet<char> = value.chars().collect();
    if distinct.len() == 1 {
        problems.push(format!(
            "{name} is a single character repeated; use a random value"
        ));
    } else if distinct.len() < MIN_DISTINCT_CHARS {
        problems.push(format!(
            "{name} has fewer than {MIN_DISTINCT_CHARS} distinct characters; use a random value"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::generate_key;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn one(name: &str, value: Option<&str>) -> String {
        let p = check_secret(name, value);
        assert_eq!(p.len(), 1, "{p:?}");
        p.into_iter().next().unwrap()
    }

    #[test]
    fn good_values_pass() {
        let hex = generate_key();
        assert!(check_secret("SECRET_KEY", Some(&hex)).is_empty());
        assert!(check_secret("ENCRYPTION_KEY", Some(&hex)).is_empty());
        assert!(
            check_secret(
                "ENCRYPTION_KEY",
                Some(&STANDARD.encode((0u8..32).collect::<Vec<_>>()))
            )
            .is_empty()
        );
        assert!(check_secret("SECRET_KEY", Some("q8Zr1vN3kT0pW6yB2mD9hJ4sF7cL5xGa")).is_empty());
    }

    #[test]
    fn missing() {
        assert_eq!(one("SECRET_KEY", None), "SECRET_KEY is not set");
        assert_eq!(one("SECRET_KEY", Some("")), "SECRET_KEY is not set");
        assert_eq!(
            one("ENCRYPTION_KEY", Some("  ")),
            "ENCRYPTION_KEY is not set"
        );
    }

    #[test]
    fn short() {
        let msg = one("SECRET_KEY", Some("q8Zr1vN3kT0pW6yB2mD9"));
        assert!(
            msg.starts_with("SECRET_KEY is shorter than 32 characters"),
            "{msg}"
        );
        let msg = one(
            "ENCRYPTION_KEY",
            Some(&hex::encode([
                0x5a, 0x3c, 0x91, 0x07, 0xee, 0x42, 0xb8, 0x1d, 0x66, 0xf0, 0x2b, 0xc4, 0x7e, 0x19,
                0xa3, 0xd5,
            ])),
        );
        assert!(msg.contains("32 bytes") && msg.contains("got 16"), "{msg}");
    }

    #[test]
    fn encryption_key_that_does_not_parse() {
        let msg = one(
            "ENCRYPTION_KEY",
            Some("this is not hex nor base64 at all!!"),
        );
        assert!(
            msg.starts_with("ENCRYPTION_KEY is not a valid 32-byte key"),
            "{msg}"
        );
        // A long random-looking string is fine for SECRET_KEY but not as an encryption key.
        let long = "q8Zr1vN3kT0pW6yB2mD9hJ4sF7cL5xGa!";
        assert!(check_secret("SECRET_KEY", Some(long)).is_empty());
        assert_eq!(check_secret("ENCRYPTION_KEY", Some(long)).len(), 1);
    }

    #[test]
    fn placeholders() {
        for v in [
            "please-change-me-in-production-0123456789",
            "CHANGEME_CHANGEME_CHANGEME_CHANGEME",
            "example-secret-key-for-the-docs-1234",
            "placeholder-value-q8Zr1vN3kT0pW6yB2",
            "super-secret-key-q8Zr1vN3kT0pW6yB2mD9",
            "xxxxxxxxq8Zr1vN3kT0pW6yB2mD9hJ4sF7c",
            "TODO-q8Zr1vN3kT0pW6yB2mD9hJ4sF7cL5xGa",
            "<your signing key q8Zr1vN3kT0pW6yB2>",
        ] {
            let p = check_secret("SECRET_KEY", Some(v));
            assert!(p.iter().any(|m| m.contains("placeholder")), "{v}: {p:?}");
            assert!(p.iter().all(|m| !m.contains(v)), "value leaked: {p:?}");
        }
    }

    #[test]
    fn repeated_and_low_variety() {
        let msg = one("SECRET_KEY", Some(&"a".repeat(40)));
        assert!(msg.contains("single character repeated"), "{msg}");
        let msg = one("ENCRYPTION_KEY", Some(&"0".repeat(64)));
        assert!(msg.contains("single character repeated"), "{msg}");
        let msg = one("SECRET_KEY", Some(&"abc123".repeat(6)));
        assert!(msg.contains("distinct characters"), "{msg}");
    }

    #[test]
    fn several_problems_at_once() {
        let p = check_secret("SECRET_KEY", Some("secret"));
        assert_eq!(p.len(), 3, "{p:?}");
    }
}
