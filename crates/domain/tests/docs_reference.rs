//! The checklist authors' reference (docs/checklists.md) tells the truth: every check kind and
//! every parameter is documented, and every example parses.

use preflight_domain::{CheckSpec, kinds, parse_checklist};

fn read(relative: &str) -> String {
    let path = format!("{}/../../{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of every fenced block with the given info string.
fn fenced(doc: &str, info: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(tag)) if tag.trim() == info => current = Some(String::new()),
            (Some(_), Some("")) => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The section of the doc under `### \`kind\``, up to the next heading of that level.
fn kind_section<'d>(doc: &'d str, kind: &str) -> Option<&'d str> {
    let heading = format!("### `{kind}`\n");
    let start = doc.find(&heading)? + heading.len();
    let end = doc[start..].find("\n### ").map_or(doc.len(), |i| start + i);
    Some(&doc[start..end])
}

#[test]
fn every_kind_and_parameter_is_documented_with_an_example() {
    let doc = read("docs/checklists.md");
    for kind in kinds() {
        let section = kind_section(&doc, kind).unwrap_or_else(|| panic!("no section for `{kind}`"));
        let params = CheckSpec::parameters(kind).unwrap_or_default();
        for param in params {
            assert!(
                section.contains(&format!("| `{param}` |")),
                "parameter `{param}` of `{kind}` is not in its table"
            );
        }
        assert!(
            section.contains(&format!("<!-- check: {kind}")),
            "`{kind}` has no example"
        );
        assert!(
            section.contains("Evidence"),
            "`{kind}` does not say what evidence it records"
        );
    }
    assert!(
        doc.contains("**`timeout`**"),
        "the common timeout parameter is documented"
    );
}

#[test]
fn every_example_in_the_reference_parses() {
    let doc = read("docs/checklists.md");
    let blocks = fenced(&doc, "markdown");
    assert!(
        blocks.len() > kinds().len(),
        "one example per kind at least"
    );
    let mut checks = 0;
    for block in &blocks {
        let with_title = if block.starts_with("# ") {
            block.clone()
        } else {
            format!("# Example\n\n{block}")
        };
        let checklist = parse_checklist(&with_title)
            .unwrap_or_else(|e| panic!("example does not import: {e}\n{block}"));
        checks += checklist.items.iter().filter(|i| i.check.is_some()).count();
    }
    assert!(checks > kinds().len(), "examples carry checks");
}

#[test]
fn the_example_checklists_of_the_repository_import() {
    let dir = format!("{}/../../examples", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).expect("readable example");
            let checklist =
                parse_checklist(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!checklist.items.is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 2, "examples/ holds the example checklists");
}
