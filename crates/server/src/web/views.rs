//! What the templates show, prepared from the API's views: texts rather than types, so that
//! the templates stay free of logic.

use chrono::{DateTime, Utc};

use crate::api::review_items::ReviewItemView;

/// A moment as pages show it (UTC, to the minute).
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An optional moment; "never" when there is none.
pub fn when_or_never(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "never".to_owned(), when)
}

/// A ratio as a whole percentage.
pub fn percent(ratio: f64) -> u32 {
    let p = (ratio * 100.0).floor();
    if p.is_finite() && p >= 0.0 {
        // Bounded to 0..=100 just above.
        p.min(100.0) as u32
    } else {
        0
    }
}

/// How a state is named on a page.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "passed" => "Passed",
        "failed" => "Failed",
        "waived" => "Waived",
        "not_applicable" => "Not applicable",
        _ => "Pending",
    }
}

/// A piece of an item's text: plain, or an inline code span (`` `like this` ``).
pub struct Part {
    pub code: bool,
    pub text: String,
}

/// An item's text in pieces, code spans apart (escaped by the template like any text). An
/// unmatched backtick is plain text.
pub fn parts(text: &str) -> Vec<Part> {
    if !text.matches('`').count().is_multiple_of(2) {
        return vec![Part {
            code: false,
            text: text.to_owned(),
        }];
    }
    text.split('`')
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| Part {
            code: i % 2 == 1,
            text: t.to_owned(),
        })
        .collect()
}

/// One item of a review as its row on the service page.
pub struct ItemRow {
    pub id: uuid::Uuid,
    pub key: String,
    pub text: String,
    pub parts: Vec<Part>,
    pub group: Option<String>,
    pub optional: bool,
    pub nested: bool,
    pub state: String,
    pub label: &'static str,
    /// Who decided the state and when, e.g. "signed off by a@b.c, 2026-12-03 18:00 UTC".
    pub decided: Option<String>,
    /// Comment, reason or waiver expiry.
    pub note: Option<String>,
    /// The automated check, as written in an annotation.
    pub check: Option<String>,
    /// The latest run of the check: outcome, when and why.
    pub last_run: Option<String>,
    /// The latest run's id, for its evidence page.
    pub run_id: Option<String>,
}

impl From<&ReviewItemView> for ItemRow {
    fn from(i: &ReviewItemView) -> Self {
        let (decided, note) = match i.state.as_str() {
            "waived" => match &i.waiver {
                Some(w) => (
                    Some(format!("waived by {}, {}", w.by, when(w.at))),
                    Some(format!(
                        "{} (until {})",
                        w.reason,
                        w.expires_at.format("%Y-%m-%d")
                    )),
                ),
                None => (None, None),
            },
            "not_applicable" => match &i.exclusion {
                Some(e) => (
                    Some(format!("excluded by {}, {}", e.by, when(e.at))),
                    Some(e.reason.clone()),
                ),
                None => (None, None),
            },
            _ => match &i.attestation {
                Some(a) => (
                    Some(format!(
                        "{} by {}, {}",
                        if a.passed {
                            "signed off"
                        } else {
                            "marked failed"
                        },
                        a.by,
                        when(a.at)
                    )),
                    a.comment.clone(),
                ),
                None => (None, None),
            },
        };
        Self {
            id: i.id,
            key: i.key.clone(),
            text: i.text.clone(),
            parts: parts(&i.text),
            group: i.group.clone(),
            optional: i.optional,
            nested: i.depth > 0,
            label: state_label(&i.state),
            state: i.state.clone(),
            decided,
            note,
            check: i.check_definition.clone(),
            last_run: i.check.as_ref().map(|_| match &i.last_run {
                Some(r) => {
                    let outcome = r.outcome.map(|o| o.as_str()).unwrap_or(if r.passed {
                        "passed"
                    } else {
                        "failed"
                    });
                    match &r.reason {
                        Some(why) => format!("{outcome} at {}: {why}", when(r.at)),
                        None => format!("{outcome} at {}", when(r.at)),
                    }
                }
                None => "not run yet".to_owned(),
            }),
            run_id: i.last_run.as_ref().and_then(|r| r.run_id.clone()),
        }
    }
}

/// A section of a review with its items, in document order.
pub struct SectionBlock {
    pub title: String,
    pub ratio: u32,
    pub items: Vec<ItemRow>,
}

/// Groups items by section in the order the sections first appear.
pub fn sections_of(
    items: &[ReviewItemView],
    ratios: &[(Option<String>, f64)],
) -> Vec<SectionBlock> {
    let mut out: Vec<SectionBlock> = Vec::new();
    for item in items {
        let title = item.section.clone().unwrap_or_default();
        let block = match out.iter_mut().position(|b| b.title == title) {
            Some(at) => &mut out[at],
            None => {
                let ratio = ratios
                    .iter()
                    .find(|(s, _)| s.as_deref().unwrap_or_default() == title)
                    .map_or(0, |(_, r)| percent(*r));
                out.push(SectionBlock {
                    title: title.clone(),
                    ratio,
                    items: Vec::new(),
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        block.items.push(item.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_are_parts_of_their_own() {
        let p = parts("`SECRET_KEY` comes from the `env`");
        let shown: Vec<(bool, &str)> = p.iter().map(|p| (p.code, p.text.as_str())).collect();
        assert_eq!(
            shown,
            [
                (true, "SECRET_KEY"),
                (false, " comes from the "),
                (true, "env")
            ]
        );
        let odd = parts("a ` b");
        assert_eq!(odd.len(), 1);
        assert!(!odd[0].code);
    }

    #[test]
    fn percentages_are_whole_and_bounded() {
        assert_eq!(percent(0.0), 0);
        assert_eq!(percent(0.999), 99);
        assert_eq!(percent(1.0), 100);
        assert_eq!(percent(f64::NAN), 0);
        assert_eq!(percent(-1.0), 0);
    }
}
