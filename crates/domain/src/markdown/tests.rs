use chrono::TimeZone;

use super::*;
use crate::model::{Block, ItemReport};
use crate::state::ItemState;
use crate::{CheckSpec, Item};

const SAMPLE: &str = r#"# 🚀 Launch list

**Owner:** platform  

## 🔒 Safety

### Keys
- [ ] Keys rotated <!-- check: tls min_days=30 -->
* [x] Secrets in `vault` ([docs](https://example.com/a_b))
+ [X] Optional thing (Optional)
  - [ ] Nested child
    1. [ ] Grandchild numbered

| a | b |
|---|---|

```
- [ ] not an item, inside code
```

## Other
2) [ ] Numbered with paren  
"#;

fn parse(text: &str) -> crate::Checklist {
    parse_checklist(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn recognises_structure() {
    let c = parse(SAMPLE);
    assert_eq!(c.title.as_deref(), Some("🚀 Launch list"));
    let titles: Vec<_> = c.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["🔒 Safety", "Other"]);
    assert_eq!(c.sections[0].groups, ["Keys"]);
    let texts: Vec<_> = c.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Keys rotated",
            "Secrets in `vault` ([docs](https://example.com/a_b))",
            "Optional thing (Optional)",
            "Nested child",
            "Grandchild numbered",
            "Numbered with paren",
        ]
    );
    let [keys, secrets, optional, child, grandchild, paren] = &c.items[..] else {
        panic!("six items")
    };
    assert_eq!(keys.key, "safety/keys/keys-rotated");
    assert_eq!(keys.line, 8);
    assert!(matches!(&keys.check, Some(CheckSpec::Tls(t)) if t.min_days == 30));
    assert!(secrets.checked && optional.checked && !keys.checked);
    assert!(optional.optional && !secrets.optional);
    assert_eq!(
        (child.parent.as_deref(), child.depth),
        (Some(optional.key.as_str()), 1)
    );
    assert_eq!(
        (grandchild.parent.as_deref(), grandchild.depth),
        (Some(child.key.as_str()), 2)
    );
    assert_eq!(grandchild.layout.prefix, "    1. ");
    assert_eq!(paren.section.as_deref(), Some("Other"));
    assert_eq!(paren.group, None);
    assert_eq!(paren.layout.tail, "  ");
    assert!(
        c.blocks
            .iter()
            .any(|b| matches!(b, Block::Text { raw } if raw.contains("not an item")))
    );
}

#[test]
fn export_reproduces_the_source() {
    assert_eq!(to_markdown(&parse(SAMPLE)), SAMPLE);
    let json = serde_json::to_string(&parse(SAMPLE)).unwrap();
    let back: crate::Checklist = serde_json::from_str(&json).unwrap();
    assert_eq!(to_markdown(&back), SAMPLE);
}

#[test]
fn export_normalisation_is_exactly_as_documented() {
    // CRLF and lone CR become LF; a missing final newline is added; BOM dropped.
    let crlf = "\u{feff}# T\r\n\r\n- [ ] a  \r- [ ] b\t";
    assert_eq!(to_markdown(&parse(crlf)), "# T\n\n- [ ] a  \n- [ ] b\t\n");
    // Trailing blank lines and whitespace are kept.
    let trailing = "- [ ] a\n\n\n";
    assert_eq!(to_markdown(&parse(trailing)), trailing);
    // Setext headings and blockquote items are kept verbatim.
    let setext = "Title\n=====\n\n> - [ ] quoted\n";
    let c = parse(setext);
    assert_eq!(c.title.as_deref(), Some("Title"));
    assert_eq!(c.items[0].layout.prefix, "> - ");
    assert_eq!(to_markdown(&c), setext);
}

#[test]
fn changed_checks_are_written_canonically() {
    let mut c =
        parse("## S\n- [ ] Rate limited <!--check:rate_limit   burst=10-->   \n- [ ] Plain\n");
    assert_eq!(
        to_markdown(&c),
        "## S\n- [ ] Rate limited <!--check:rate_limit   burst=10-->   \n- [ ] Plain\n"
    );
    let plain = c.items[1].key.clone();
    if let Some(item) = c.item_mut(&plain) {
        item.check = Some(CheckSpec::from_definition("health").unwrap());
        item.re_attest_days = Some(30);
    }
    c.items[0].check = None;
    assert_eq!(
        to_markdown(&c),
        "## S\n- [ ] Rate limited\n- [ ] Plain <!-- check: health --> <!-- manual: re_attest_days=30 -->\n"
    );
}

fn report(item: &Item) -> Option<ItemReport> {
    let at = chrono::Utc
        .with_ymd_and_hms(2026, 11, 20, 9, 30, 0)
        .unwrap();
    match item.text.as_str() {
        "Keys rotated" => Some(ItemReport {
            state: ItemState::Waived,
            by: Some("alice@example.com".into()),
            at: Some(at),
            note: Some("vendor *fix* <!-- due --> soon\nreally".into()),
        }),
        "Nested child" => Some(ItemReport {
            state: ItemState::Passed,
            by: Some("bob".into()),
            at: Some(at),
            note: None,
        }),
        "Optional thing (Optional)" => Some(ItemReport {
            state: ItemState::Failed,
            by: Some("check".into()),
            at: None,
            note: Some("status 500".into()),
        }),
        _ => None,
    }
}

#[test]
fn export_with_state_fills_boxes_and_re_imports() {
    let c = parse(SAMPLE);
    let out = to_markdown_with_state(&c, &report);
    assert!(out.contains(
        "- [x] Keys rotated <!-- check: tls min_days=30 --> <!-- state --> — *waived by alice@example.com on 2026-11-20: vendor \\*fix\\* \\<!-- due --\\> soon really*\n"
    ), "{out}");
    assert!(out.contains("  - [x] Nested child <!-- state --> — *passed by bob on 2026-11-20*\n"));
    assert!(out.contains(
        "+ [ ] Optional thing (Optional) <!-- state --> — *failed by check: status 500*\n"
    ));
    // Items without a report are unticked even if the source ticked them.
    assert!(out.contains("* [ ] Secrets in `vault`"));
    let again = parse(&out);
    let strip = |c: &crate::Checklist| {
        c.items
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    i.text.clone(),
                    i.check.clone(),
                    i.parent.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&again), strip(&c));
    assert_eq!(to_markdown_with_state(&again, &report), out);
}

#[test]
fn errors_carry_line_numbers() {
    let e = parse_checklist("# T\n\n- [ ] fine\n- [ ] typo <!-- check: helth -->\n").unwrap_err();
    assert_eq!(e.line(), Some(4));
    assert!(
        e.to_string()
            .starts_with("line 4: unknown check kind \"helth\""),
        "{e}"
    );
    let e = parse_checklist("- [ ] x <!-- check: rate_limit burst=5000 -->").unwrap_err();
    assert!(e.to_string().contains("line 1: parameter \"burst\""), "{e}");
    assert_eq!(
        parse_checklist("# Only text\n\nNo items.\n"),
        Err(ImportError::NoItems)
    );
    assert_eq!(parse_checklist(""), Err(ImportError::NoItems));
    let e = parse_checklist("- [ ] a\n- [ ] b\0c\n").unwrap_err();
    assert_eq!(
        e,
        ImportError::ControlCharacter {
            line: 2,
            column: 8,
            code: 0
        }
    );
    assert!(e.to_string().contains("U+0000"));
    assert!(parse_checklist("- [ ] bell\u{7}").is_err());
    let e = parse_checklist("- [ ] <!-- check: health -->\n").unwrap_err();
    assert_eq!(e, ImportError::EmptyItem { line: 1 });
}

#[test]
fn optional_detection_is_case_insensitive_in_both_languages() {
    let c = parse("- [ ] A (OPTIONAL)\n- [ ] Б (Опционально)\n- [ ] C optional\n");
    let flags: Vec<_> = c.items.iter().map(|i| i.optional).collect();
    assert_eq!(flags, [true, true, false]);
}

#[test]
fn duplicate_texts_get_distinct_keys() {
    let c = parse("## S\n- [ ] Same\n- [ ] Same\n## T\n- [ ] Same\n");
    let keys: Vec<_> = c.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["s/same", "s/same-2", "t/same"]);
}

#[test]
fn unknown_comments_stay_in_the_text() {
    let c = parse("- [ ] Do it <!-- TODO: owner --> <!-- check: health -->\n");
    assert_eq!(c.items[0].text, "Do it <!-- TODO: owner -->");
    assert!(c.items[0].check.is_some());
}

#[test]
fn duplicate_items_get_keys_in_linear_time() {
    let source = format!("# Dupes\n{}", "- [ ] Same\n".repeat(MAX_ITEMS));
    let started = std::time::Instant::now();
    let doc = parse_checklist(&source).unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(doc.items.len(), MAX_ITEMS);
    assert_eq!(doc.items[0].key, "same");
    assert_eq!(doc.items[1].key, "same-2");
    assert_eq!(doc.items[MAX_ITEMS - 1].key, format!("same-{MAX_ITEMS}"));
    // A literal item spelled like a suffix does not collide with a generated one.
    let doc = parse_checklist("# T\n- [ ] a-2\n- [ ] a\n- [ ] a\n- [ ] a\n").unwrap();
    let keys: Vec<&str> = doc.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["a-2", "a", "a-3", "a-4"]);
}

#[test]
fn imports_are_bounded() {
    let too_many = format!("# T\n{}", "- [ ] x\n".repeat(MAX_ITEMS + 1));
    assert_eq!(
        parse_checklist(&too_many),
        Err(ImportError::TooManyItems {
            line: MAX_ITEMS + 2,
            max: MAX_ITEMS
        })
    );
    let long = format!("# T\n- [ ] {}\n", "x".repeat(MAX_LINE_BYTES));
    assert_eq!(
        parse_checklist(&long),
        Err(ImportError::LineTooLong {
            line: 2,
            max: MAX_LINE_BYTES
        })
    );
    let huge = "a".repeat(MAX_SOURCE_BYTES + 1);
    assert!(matches!(
        parse_checklist(&huge),
        Err(ImportError::TooLarge { .. })
    ));
    let deep = format!("# T\n{}- [ ] deep\n", ">".repeat(MAX_NESTING + 1));
    assert!(
        matches!(parse_checklist(&deep), Err(ImportError::TooDeep { .. })),
        "{:?}",
        parse_checklist(&deep)
    );
    // Nested lists within the bound still import.
    let mut nested = String::from("# T\n");
    for depth in 0..(MAX_NESTING / 2) {
        nested.push_str(&format!("{}- [ ] level {depth}\n", "  ".repeat(depth)));
    }
    assert!(
        parse_checklist(&nested).is_ok(),
        "{:?}",
        parse_checklist(&nested)
    );
}
