//! Stable item keys.
//!
//! A key is `section/group/text` slugged, without an ordinal: a position-based key would
//! change for every item below an insertion, detaching stored states from their items when a
//! template gains a line. Only exact duplicates get a `-2`, `-3` suffix.

use std::collections::{HashMap, HashSet};

/// Longest slug kept per component (in characters), so keys stay readable in URLs and logs.
const SECTION_CHARS: usize = 32;
const TEXT_CHARS: usize = 64;

/// Hands out keys unique within one checklist.
#[derive(Default)]
pub struct KeyMaker {
    used: HashSet<String>,
    /// For each base key, the next suffix to try: n copies of one item cost O(n) in all,
    /// not O(n²) by probing `-2`, `-3`, … from the start every time.
    next_suffix: HashMap<String, usize>,
}

impl KeyMaker {
    /// A key for an item under the given section and group.
    pub fn make(&mut self, section: Option<&str>, group: Option<&str>, text: &str) -> String {
        let mut parts: Vec<String> = [section, group]
            .into_iter()
            .flatten()
            .map(|title| slug(title, SECTION_CHARS))
            .filter(|part| !part.is_empty())
            .collect();
        let text_slug = slug(text, TEXT_CHARS);
        parts.push(if text_slug.is_empty() {
            "item".into()
        } else {
            text_slug
        });
        let base = parts.join("/");
        if self.used.insert(base.clone()) {
            return base;
        }
        let n = self.next_suffix.entry(base.clone()).or_insert(2);
        loop {
            let key = format!("{base}-{n}");
            *n += 1;
            // A literal "x-2" item may have taken a suffix already: skip it.
            if self.used.insert(key.clone()) {
                return key;
            }
        }
    }
}

/// Lowercase letters and digits of any script, other runs collapsed to `-`; emoji dropped.
pub fn slug(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut pending_dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if count >= max_chars {
                break;
            }
            if pending_dash && !out.is_empty() {
                out.push('-');
                count += 1;
            }
            pending_dash = false;
            out.push(c);
            count += 1;
        } else {
            pending_dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable() {
        assert_eq!(slug("🔒 SECURITY", 32), "security");
        assert_eq!(
            slug("`SECRET_KEY` is set (a secure key)", 64),
            "secret-key-is-set-a-secure-key"
        );
        assert_eq!(slug("🗄️ БАЗА ДАННЫХ", 32), "база-данных");
        assert_eq!(slug("🚀", 32), "");
        assert!(slug(&"word ".repeat(40), 64).chars().count() <= 64);
    }

    #[test]
    fn keys_are_unique() {
        let mut keys = KeyMaker::default();
        assert_eq!(
            keys.make(Some("🔒 Security"), Some("Env"), "A b"),
            "security/env/a-b"
        );
        assert_eq!(
            keys.make(Some("🔒 Security"), Some("Env"), "A  b!"),
            "security/env/a-b-2"
        );
        assert_eq!(
            keys.make(Some("🔒 Security"), Some("Env"), "a-b"),
            "security/env/a-b-3"
        );
        assert_eq!(keys.make(None, None, "✅"), "item");
        assert_eq!(keys.make(Some("✅"), None, "✅"), "item-2");
    }
}
