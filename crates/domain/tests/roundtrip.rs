//! Property tests: the parser never panics, and export is faithful and stable.

use preflight_domain::{Checklist, parse_checklist, to_markdown};
use proptest::prelude::*;

/// Text that reads like an item: words, inline code, emoji, sometimes "(optional)".
fn item_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[A-Za-zА-Яа-я0-9]{1,8}", 1..5),
        prop::option::of(prop::sample::select(vec![
            "`CODE_VAR`",
            "🎉",
            "[link](https://example.com)",
            "(optional)",
            "(Опционально)",
        ])),
    )
        .prop_map(|(words, extra)| {
            let mut text = words.join(" ");
            if let Some(extra) = extra {
                text.push(' ');
                text.push_str(extra);
            }
            text
        })
}

fn annotation() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "",
        " <!-- check: health -->",
        " <!-- check: rate_limit path=/login burst=10 -->",
        " <!-- check: http condition=\"latency < 2s\" -->",
        " <!-- manual: re_attest_days=7 -->",
        "   ",
    ])
}

fn item_line() -> impl Strategy<Value = String> {
    (
        // Four spaces after a blank line would be an indented code block, not an item.
        prop::sample::select(vec!["", "", "  "]),
        prop::sample::select(vec!["- ", "* ", "+ ", "1. ", "2) "]),
        prop::sample::select(vec![' ', 'x', 'X']),
        item_text(),
        annotation(),
    )
        .prop_map(|(indent, bullet, mark, text, note)| {
            format!("{indent}{bullet}[{mark}] {text}{note}")
        })
}

fn other_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("---".to_owned()),
        Just("**Date:** 2026-01-01  ".to_owned()),
        item_text().prop_map(|t| format!("## 🔒 {t}")),
        item_text().prop_map(|t| format!("### {t}")),
        item_text(),
        Just("| a | b |".to_owned()),
    ]
}

/// A checklist-shaped document: a title, then a mix of items, headings and prose.
fn document() -> impl Strategy<Value = String> {
    (
        item_text(),
        prop::collection::vec(prop_oneof![3 => item_line(), 2 => other_line()], 1..40),
        // A guaranteed item: after a blank line nothing can swallow it into a paragraph.
        (item_text(), annotation()).prop_map(|(text, note)| format!("\n- [ ] {text}{note}")),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(title, lines, last_item, crlf, final_newline)| {
            let mut doc = format!("# {title}\n\n");
            for line in lines {
                doc.push_str(&line);
                doc.push('\n');
            }
            doc.push_str(&last_item);
            if final_newline {
                doc.push('\n');
            }
            if crlf { doc.replace('\n', "\r\n") } else { doc }
        })
}

/// What must survive a round trip: key, text, section, group, optional, check.
type Shape = (
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
);

fn shape(c: &Checklist) -> Vec<Shape> {
    c.items
        .iter()
        .map(|i| {
            (
                i.key.clone(),
                i.text.clone(),
                i.section.clone(),
                i.group.clone(),
                i.optional,
                i.check.as_ref().map(|c| c.to_annotation()),
            )
        })
        .collect()
}

proptest! {
    // No persistence file: integration tests have no lib.rs beside them to anchor it.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parser_never_panics(input in any::<String>()) {
        let _ = parse_checklist(&input);
    }

    #[test]
    fn parser_never_panics_on_markdownish_noise(
        input in "([-*+#>`|\\[\\]xX0-9.) \t\r\n]|<!--|-->|check: |health|\\(optional\\)|é|🎉){0,120}"
    ) {
        if let Ok(checklist) = parse_checklist(&input) {
            // Whatever imports exports back to the normalised source.
            let normalised = input.replace("\r\n", "\n").replace('\r', "\n");
            let expected = if normalised.ends_with('\n') { normalised } else { normalised + "\n" };
            if !input.contains("<!-- state -->") {
                prop_assert_eq!(to_markdown(&checklist), expected);
            }
        }
    }

    #[test]
    fn round_trip_is_stable(doc in document()) {
        let first = parse_checklist(&doc).expect("generated documents import");
        let exported = to_markdown(&first);
        let second = parse_checklist(&exported).expect("exports import");
        prop_assert_eq!(shape(&first), shape(&second));
        prop_assert_eq!(&first.sections, &second.sections);
        prop_assert_eq!(to_markdown(&second), exported.clone());
        // Only line endings and the final newline change.
        let mut expected = doc.replace("\r\n", "\n");
        if !expected.ends_with('\n') {
            expected.push('\n');
        }
        prop_assert_eq!(exported, expected);
    }

    #[test]
    fn json_round_trip_keeps_export(doc in document()) {
        let checklist = parse_checklist(&doc).expect("generated documents import");
        let json = serde_json::to_string(&checklist).expect("serialises");
        let back: Checklist = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(to_markdown(&back), to_markdown(&checklist));
    }
}
