//! The Markdown and annotation parsers on arbitrary bytes (issue #12, item 2): they never
//! panic, and their time grows linearly with the input, whatever it repeats.

use std::time::{Duration, Instant};

use preflight_domain::markdown::{MAX_ITEMS, MAX_SOURCE_BYTES};
use preflight_domain::{CheckSpec, parse_checklist};
use proptest::prelude::*;

/// Pieces that stress the parsers: list and quote markers, task boxes, comments opened and
/// never closed, quotes, escapes, long runs of one character.
const PIECES: &[&str] = &[
    "- [ ] ",
    "* [x] ",
    "1. [ ] ",
    "> ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "# ",
    "## ",
    "### ",
    "<!--",
    "-->",
    "<!-- check: ",
    "<!-- manual: ",
    "http ",
    "path=/x ",
    "status=200 ",
    "\"",
    "\\",
    "=",
    "`",
    "```",
    "[",
    "]",
    "(optional)",
    "é",
    "🎉",
    "x",
    "<!-- state -->",
    "|",
    "---",
];

fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(PIECES)
}

/// Median time of a few parses, so one preempted run on a shared machine does not decide.
fn time_to_parse(source: &str) -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let started = Instant::now();
            let _ = parse_checklist(source);
            started.elapsed()
        })
        .collect();
    times.sort();
    times[1]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn markdown_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse_checklist(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn annotation_parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = CheckSpec::from_definition(&text);
        let _ = CheckSpec::from_annotation(&format!("<!-- check: {text} -->"));
        // And through an item line, where the import finds them.
        let _ = parse_checklist(&format!("# T\n- [ ] item <!-- check: {text} -->\n"));
        let _ = parse_checklist(&format!("# T\n- [ ] item <!-- manual: {text} -->\n"));
        let _ = parse_checklist(&format!("# T\n- [ ] item {text} <!-- check: health -->\n"));
    }

    #[test]
    fn annotation_parsers_never_panic_on_pieces(pieces in prop::collection::vec(piece(), 0..64)) {
        let text: String = pieces.concat();
        let _ = CheckSpec::from_definition(&text);
        let _ = parse_checklist(&text);
        let _ = parse_checklist(&format!("# T\n- [ ] a <!-- check: {text} -->\n"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A chunk repeated n times and 8n times: the larger input takes at most about 8 times
    /// as long (with room for noise), never 64 times as a quadratic step would.
    #[test]
    fn parse_time_is_linear_in_input_size(pieces in prop::collection::vec(piece(), 1..12)) {
        // Ends its line, so a repeated chunk is many lines rather than one refused as too long.
        let chunk: String = pieces.concat() + "\n";
        // Sized so the large input stays under the document limit.
        let large_n = (MAX_SOURCE_BYTES / 2) / chunk.len().max(1);
        let small_n = (large_n / 8).max(1);
        let small = chunk.repeat(small_n);
        let large = chunk.repeat(small_n * 8);
        let (t_small, t_large) = (time_to_parse(&small), time_to_parse(&large));
        prop_assert!(
            t_large <= t_small * 8 * 4 + Duration::from_millis(50),
            "{} bytes took {:?}, {} bytes took {:?}; chunk {:?}",
            small.len(), t_small, large.len(), t_large, chunk
        );
    }
}

#[test]
fn many_duplicate_items_parse_in_linear_time() {
    let small = format!("# T\n{}", "- [ ] Same\n".repeat(MAX_ITEMS / 8));
    let large = format!("# T\n{}", "- [ ] Same\n".repeat(MAX_ITEMS));
    let (t_small, t_large) = (time_to_parse(&small), time_to_parse(&large));
    assert!(
        t_large <= t_small * 8 * 4 + Duration::from_millis(50),
        "{t_small:?} vs {t_large:?}"
    );
}
