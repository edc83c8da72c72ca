//! Markdown: the checklist itself with the state filled in (`[x]` for passed items, the
//! evidence sentence as the item's note). Importing it gives back the same items.

use std::collections::HashMap;

use preflight_domain::{ItemReport, ItemState, to_markdown_with_state};

use crate::cli::check::model::{Document, Gate, Status};

pub fn render(gate: &Gate) -> String {
    match &gate.document {
        Document::Checklist(checklist) => {
            let reports: HashMap<&str, ItemReport> = gate
                .rows
                .iter()
                .filter_map(|row| {
                    let state = match row.status {
                        Status::Passed => ItemState::Passed,
                        Status::Failed | Status::Error => ItemState::Failed,
                        // Sign-offs happen elsewhere: the item stays unticked, without a note.
                        _ => return None,
                    };
                    let note = match row.status {
                        Status::Error => format!("could not be checked: {}", row.reason),
                        _ => row.reason.clone(),
                    };
                    Some((
                        row.key.as_str(),
                        ItemReport {
                            state,
                            by: Some("preflight check".to_owned()),
                            at: row.at,
                            note: Some(note),
                        },
                    ))
                })
                .collect();
            to_markdown_with_state(checklist, &|item| reports.get(item.key.as_str()).cloned())
        }
        Document::Exported(documents) => {
            let mut out = String::new();
            for document in documents {
                if !out.is_empty() {
                    out.push_str("\n---\n\n");
                }
                out.push_str(document);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            out
        }
    }
}
