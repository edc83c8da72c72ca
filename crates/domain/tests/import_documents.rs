//! Imports the reference seed checklists (`examples/seed/`) and the crate's own fixtures.

// Helpers below are not `#[test]` functions, so clippy.toml's test allowance misses them.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use preflight_domain::{Checklist, parse_checklist, to_markdown};

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed")
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a plain line scan of a simple document (no code blocks) says it contains.
struct Expected {
    sections: Vec<String>,
    groups: Vec<Vec<String>>,
    items: Vec<String>,
}

fn scan(source: &str) -> Expected {
    let mut expected = Expected {
        sections: Vec::new(),
        groups: Vec::new(),
        items: Vec::new(),
    };
    for line in source.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            expected.sections.push(title.trim().to_owned());
            expected.groups.push(Vec::new());
        } else if let Some(title) = line.strip_prefix("### ") {
            expected
                .groups
                .last_mut()
                .unwrap()
                .push(title.trim().to_owned());
        } else if let Some(text) = ["- [ ] ", "- [x] ", "- [X] "]
            .iter()
            .find_map(|marker| line.trim_start().strip_prefix(marker))
        {
            expected.items.push(text.trim_end().to_owned());
        }
    }
    expected
}

fn assert_imports_everything(source: &str, checklist: &Checklist) {
    let expected = scan(source);
    let sections: Vec<_> = checklist.sections.iter().map(|s| s.title.clone()).collect();
    assert_eq!(sections, expected.sections);
    let groups: Vec<_> = checklist
        .sections
        .iter()
        .map(|s| s.groups.clone())
        .collect();
    assert_eq!(groups, expected.groups);
    let items: Vec<_> = checklist.items.iter().map(|i| i.text.clone()).collect();
    assert_eq!(items, expected.items, "items in document order");
    // Every item sits under the section and group it appears under.
    for item in &checklist.items {
        let section = item.section.as_deref().expect("every item has a section");
        let group = item.group.as_deref().expect("every item has a group");
        let s = checklist
            .sections
            .iter()
            .find(|s| s.title == section)
            .unwrap();
        assert!(
            s.groups.iter().any(|g| g == group),
            "{} / {}",
            section,
            group
        );
    }
    let keys: std::collections::HashSet<_> = checklist.items.iter().map(|i| &i.key).collect();
    assert_eq!(keys.len(), checklist.items.len(), "keys are unique");
    assert_eq!(
        to_markdown(checklist),
        source,
        "export gives back the document"
    );
    let crlf = source.replace('\n', "\r\n");
    let from_crlf = parse_checklist(&crlf).unwrap();
    assert_eq!(
        from_crlf.items, checklist.items,
        "CRLF imports the same items"
    );
    assert_eq!(to_markdown(&from_crlf), source, "CRLF exports as LF");
}

fn check_seed(name: &str, title_word: &str, optional_word: &str) {
    let path = seed_dir().join(name);
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let checklist = parse_checklist(&source).unwrap();
    assert!(checklist.title.as_deref().unwrap().contains(title_word));
    assert_eq!(checklist.items.len(), 78);
    assert_eq!(checklist.sections.len(), 10);
    assert_eq!(
        checklist
            .sections
            .iter()
            .map(|s| s.groups.len())
            .sum::<usize>(),
        21
    );
    assert!(checklist.sections[0].title.starts_with("🔒 "));
    let optional: Vec<_> = checklist.items.iter().filter(|i| i.optional).collect();
    assert_eq!(optional.len(), 2);
    assert!(optional.iter().all(|i| i.text.contains(optional_word)));
    assert!(
        checklist
            .items
            .iter()
            .all(|i| i.check.is_none() && i.parent.is_none())
    );
    assert_imports_everything(&source, &checklist);
}

#[test]
fn seed_english_imports_completely() {
    check_seed("production-checklist.en.md", "CHECKLIST", "(optional)");
}

#[test]
fn seed_russian_imports_completely() {
    check_seed("production-checklist.ru.md", "ЧЕКЛИСТ", "(опционально)");
}

fn check_release_fixture(name: &str) {
    let source = fixture(name);
    let checklist = parse_checklist(&source).unwrap();
    assert!(checklist.title.as_deref().unwrap().starts_with("✅ "));
    assert_eq!(checklist.items.len(), 12);
    assert_eq!(checklist.sections.len(), 4);
    assert_eq!(
        checklist
            .sections
            .iter()
            .map(|s| s.groups.len())
            .sum::<usize>(),
        6
    );
    assert_eq!(checklist.items.iter().filter(|i| i.optional).count(), 2);
    assert_imports_everything(&source, &checklist);
}

#[test]
fn fixture_english_imports_completely() {
    check_release_fixture("release-checklist.en.md");
}

#[test]
fn fixture_russian_imports_completely() {
    check_release_fixture("release-checklist.ru.md");
}

#[test]
fn fixture_with_every_shape() {
    let source = fixture("shapes.md");
    let c = parse_checklist(&source).unwrap();
    assert_eq!(c.title.as_deref(), Some("Title with `code` and a #hash"));
    let sections: Vec<_> = c.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        sections,
        ["Section one", "🧪 Section two", "Setext heading below"]
    );
    assert_eq!(c.sections[0].groups, ["Group A", "Group B"]);
    let texts: Vec<_> = c.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Item before the first section",
            "Plain dash item",
            "Star item, ticked",
            "Plus item, ticked with capital X",
            "Numbered item",
            "Second numbered item",
            "Parent item",
            "Child item",
            "Grandchild item",
            "Second child",
            "Item with `inline code`, a [link](https://example.com/x), and emoji 🎉",
            "Item with trailing spaces",
            "Item with an unknown comment <!-- keep me -->",
            "Item with attestation",
            "Item inside a quote",
            "Duplicate text",
            "Duplicate text",
            "Item under a setext section",
            "Item after a level-4 heading",
        ]
    );
    let by_text = |text: &str| c.items.iter().find(|i| i.text == text).unwrap();
    assert_eq!(by_text("Item before the first section").section, None);
    assert_eq!(
        by_text("Child item").parent,
        Some(by_text("Parent item").key.clone())
    );
    assert_eq!(
        by_text("Grandchild item").parent,
        Some(by_text("Child item").key.clone())
    );
    assert_eq!(by_text("Second child").depth, 1);
    assert_eq!(
        by_text("Grandchild item").check.as_ref().map(|c| c.kind()),
        Some("http")
    );
    assert_eq!(
        by_text("Second numbered item")
            .check
            .as_ref()
            .map(|c| c.kind()),
        Some("rate_limit")
    );
    let attested = by_text("Item with attestation");
    assert_eq!(
        (attested.re_attest_days, attested.requires_comment),
        (Some(30), true)
    );
    assert_eq!(by_text("Item inside a quote").layout.prefix, "> - ");
    assert_eq!(by_text("Item after a level-4 heading").group, None);
    assert_eq!(c.items[16].key, format!("{}-2", c.items[15].key));
    assert_eq!(to_markdown(&c), source);
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Checklist>(&json).unwrap(), c);
}
