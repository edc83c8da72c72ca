//! Which checklist, and which of its items the gate looks at.

use preflight_domain::{Checklist, ImportError, Item, PRODUCTION_READINESS, parse_checklist};

use super::UsageError;

/// A parsed checklist and the items selected by `--kind` (all items without it).
pub struct Plan {
    pub checklist: Checklist,
    /// Indices into `checklist.items`, in document order.
    pub selected: Vec<usize>,
}

impl Plan {
    /// Reads `builtin` or a Markdown file; `kinds` (already validated by clap) keeps only the
    /// items with a check of one of those kinds.
    pub fn load(source: &str, kinds: &[String]) -> Result<Self, UsageError> {
        let checklist = if source == "builtin" {
            parse_checklist(PRODUCTION_READINESS)
                .map_err(|e| UsageError::new(located("the built-in checklist", &e)))?
        } else {
            let text = std::fs::read_to_string(source)
                .map_err(|e| UsageError::new(format!("{source}: cannot read: {e}")))?;
            parse_checklist(&text).map_err(|e| UsageError::new(located(source, &e)))?
        };
        let selected = checklist
            .items
            .iter()
            .enumerate()
            .filter(|(_, item)| wanted(item, kinds))
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        if selected.is_empty() && !kinds.is_empty() {
            // A filter that matches nothing would pass the gate without checking anything.
            return Err(UsageError::new(format!(
                "{source}: no item has a check of kind {}",
                kinds.join(" or ")
            )));
        }
        Ok(Self {
            checklist,
            selected,
        })
    }

    /// The selected items with a check, as the engine takes them.
    pub fn checks(&self) -> Vec<(usize, preflight_domain::CheckSpec)> {
        self.selected
            .iter()
            .filter_map(|&i| {
                let check = self.checklist.items.get(i)?.check.clone()?;
                Some((i, check))
            })
            .collect()
    }
}

fn wanted(item: &Item, kinds: &[String]) -> bool {
    kinds.is_empty()
        || item
            .check
            .as_ref()
            .is_some_and(|c| kinds.iter().any(|k| k == c.kind()))
}

/// `FILE:LINE: message`, the way compilers name a place.
fn located(file: &str, e: &ImportError) -> String {
    let message = e.to_string();
    match e.line() {
        Some(line) => {
            let rest = message
                .strip_prefix(&format!("line {line}: "))
                .or_else(|| message.strip_prefix(&format!("line {line}, ")))
                .unwrap_or(&message);
            format!("{file}:{line}: {rest}")
        }
        None => format!("{file}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_errors_name_file_and_line() {
        let e = parse_checklist("# T\n\n- [ ] ok\n- [ ] bad <!-- check: nope -->\n")
            .expect_err("unknown kind");
        let text = located("list.md", &e);
        assert!(
            text.starts_with("list.md:4: unknown check kind \"nope\""),
            "{text}"
        );
        let e = parse_checklist("# nothing here\n").expect_err("no items");
        assert!(located("x.md", &e).starts_with("x.md: the document has no task items"));
    }

    #[test]
    fn the_builtin_checklist_loads_and_kinds_filter() {
        let all = Plan::load("builtin", &[]).expect("builtin");
        assert_eq!(all.selected.len(), all.checklist.items.len());
        let health = Plan::load("builtin", &["health".into()]).expect("builtin");
        assert!(!health.selected.is_empty());
        assert!(health.checks().iter().all(|(_, c)| c.kind() == "health"));
        assert_eq!(health.checks().len(), health.selected.len());
        let minimal = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/minimal.md");
        let none = Plan::load(minimal, &["loki_logs".into()])
            .err()
            .map(|e| e.to_string());
        assert!(none.is_some_and(|e| e.ends_with("no item has a check of kind loki_logs")));
    }
}
