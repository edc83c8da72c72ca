//! [`Checklist`] → Markdown. What changes from the source is listed in the [module docs](super).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::annotations::{self, STATE_NOTE_MARKER};
use crate::model::{Block, Checklist, Item, ItemReport};
use crate::state::ItemState;

/// Writes the document back; for an imported checklist this is the source, normalised as
/// described in the [module docs](super).
pub fn to_markdown(checklist: &Checklist) -> String {
    render(checklist, None)
}

/// Writes the document with the current state: `[x]` for passed and waived items, `[ ]` for
/// everything else, and for each item with a report a trailing note after its annotations:
/// `<!-- state --> — *waived by alice@example.com on 2026-11-20: reason*`.
///
/// Import drops the note (it starts with `<!-- state -->`), so the export re-imports to the same
/// items; the visible italic part is for people reading the file.
pub fn to_markdown_with_state(
    checklist: &Checklist,
    report: &dyn Fn(&Item) -> Option<ItemReport>,
) -> String {
    render(checklist, Some(report))
}

/// Looks up the report of one item.
type Reporter<'a> = &'a dyn Fn(&Item) -> Option<ItemReport>;

fn render(checklist: &Checklist, report: Option<Reporter<'_>>) -> String {
    let items: HashMap<&str, &Item> = checklist
        .items
        .iter()
        .map(|item| (item.key.as_str(), item))
        .collect();
    let mut out = String::new();
    for block in &checklist.blocks {
        match block {
            Block::Heading { raw, .. } | Block::Text { raw } => out.push_str(raw),
            Block::Item { key } => {
                // An item deleted after import simply disappears from the document.
                let Some(item) = items.get(key.as_str()) else {
                    continue;
                };
                match report {
                    Some(report) => write_item(&mut out, item, Some(report(item))),
                    None => write_item(&mut out, item, None),
                }
            }
        }
        out.push('\n');
    }
    out
}

/// `state`: `None` writes the item as imported; `Some(r)` writes the state from `r`.
fn write_item(out: &mut String, item: &Item, state: Option<Option<ItemReport>>) {
    let layout = &item.layout;
    let mark = match &state {
        None => layout.mark,
        Some(Some(report)) if matches!(report.state, ItemState::Passed | ItemState::Waived) => 'x',
        Some(_) => ' ',
    };
    let gap = if layout.gap.is_empty() {
        " "
    } else {
        &layout.gap
    };
    let _ = write!(out, "{}[{mark}]{gap}{}", layout.prefix, item.text);
    let tail = current_tail(item);
    match state.flatten() {
        Some(report) => {
            out.push_str(tail.trim_end());
            let _ = write!(out, " {STATE_NOTE_MARKER} — *{}*", describe(&report));
        }
        None => out.push_str(&tail),
    }
}

/// The written tail when it still says what the item says; canonical annotations otherwise.
fn current_tail(item: &Item) -> String {
    let tail = &item.layout.tail;
    match annotations::split(tail) {
        Ok((0, found)) if found.matches(item) => tail.clone(),
        _ => annotations::render(item),
    }
}

fn describe(report: &ItemReport) -> String {
    let mut text = String::from(match report.state {
        ItemState::Pending => "pending",
        ItemState::Passed => "passed",
        ItemState::Failed => "failed",
        ItemState::Waived => "waived",
        ItemState::NotApplicable => "not applicable",
    });
    if let Some(by) = &report.by {
        let _ = write!(text, " by {}", escape(by));
    }
    if let Some(at) = report.at {
        let _ = write!(text, " on {}", at.format("%Y-%m-%d"));
    }
    if let Some(note) = report.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = write!(text, ": {}", escape(note.trim()));
    }
    text
}

/// Keeps user text on one line and inert: no emphasis, links, HTML or comment ends.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push(' ');
            continue;
        }
        if matches!(
            c,
            '\\' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
