//! Readiness scoring: ratio of passed and waived items over applicable items,
//! per section and overall, and whether anything required still blocks the release.

use serde::{Deserialize, Serialize};

use crate::model::Item;
use crate::state::ItemState;

/// One item as the scorer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoredItem {
    /// [`Item::key`].
    pub key: String,
    /// [`Item::text`].
    pub text: String,
    /// [`Item::section`].
    pub section: Option<String>,
    /// [`Item::group`].
    pub group: Option<String>,
    /// Optional items count in the ratio but never block.
    pub optional: bool,
    /// Effective state (see [`crate::effective_state`]).
    pub state: ItemState,
}

impl ScoredItem {
    /// Pairs a checklist item with its effective state.
    pub fn new(item: &Item, state: ItemState) -> Self {
        Self {
            key: item.key.clone(),
            text: item.text.clone(),
            section: item.section.clone(),
            group: item.group.clone(),
            optional: item.optional,
            state,
        }
    }
}

/// How many items are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// All items.
    pub total: u32,
    /// Pending items.
    pub pending: u32,
    /// Passed items.
    pub passed: u32,
    /// Failed items.
    pub failed: u32,
    /// Waived items.
    pub waived: u32,
    /// Not-applicable items.
    pub not_applicable: u32,
}

impl StateCounts {
    fn add(&mut self, state: ItemState) {
        self.total += 1;
        let slot = match state {
            ItemState::Pending => &mut self.pending,
            ItemState::Passed => &mut self.passed,
            ItemState::Failed => &mut self.failed,
            ItemState::Waived => &mut self.waived,
            ItemState::NotApplicable => &mut self.not_applicable,
        };
        *slot += 1;
    }

    /// Items that count in the ratio (all but not-applicable).
    pub fn applicable(&self) -> u32 {
        self.total - self.not_applicable
    }

    /// (passed + waived) / applicable; 1.0 when nothing is applicable (nothing left to do).
    pub fn ratio(&self) -> f64 {
        match self.applicable() {
            0 => 1.0,
            applicable => f64::from(self.passed + self.waived) / f64::from(applicable),
        }
    }
}

/// A required item that is pending or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingItem {
    /// Item key.
    pub key: String,
    /// Item text.
    pub text: String,
    /// Item section.
    pub section: Option<String>,
    /// Pending or failed.
    pub state: ItemState,
}

/// Score of a set of items (a section or the whole checklist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Counts by state.
    pub counts: StateCounts,
    /// Items counted in the ratio.
    pub applicable: u32,
    /// (passed + waived) / applicable, 1.0 when nothing is applicable.
    pub ratio: f64,
    /// No required item is pending or failed.
    pub ready: bool,
    /// Number of blocking items.
    pub blocking: u32,
}

/// Score of one section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionScore {
    /// Section title (`None` for items before the first section).
    pub section: Option<String>,
    /// The section's score.
    #[serde(flatten)]
    pub score: Score,
}

/// Readiness of a checklist: overall, per section, and what blocks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// All items together.
    pub overall: Score,
    /// Per section, in order of first appearance.
    pub sections: Vec<SectionScore>,
    /// Required items pending or failed, in item order.
    pub blocking: Vec<BlockingItem>,
}

impl Readiness {
    /// Ready when no required item is pending or failed.
    pub fn ready(&self) -> bool {
        self.overall.ready
    }
}

fn blocks(item: &ScoredItem) -> bool {
    !item.optional && matches!(item.state, ItemState::Pending | ItemState::Failed)
}

fn score<'a>(items: impl Iterator<Item = &'a ScoredItem>) -> Score {
    let mut counts = StateCounts::default();
    let mut blocking = 0;
    for item in items {
        counts.add(item.state);
        blocking += u32::from(blocks(item));
    }
    Score {
        counts,
        applicable: counts.applicable(),
        ratio: counts.ratio(),
        ready: blocking == 0,
        blocking,
    }
}

/// Scores items (in checklist order).
pub fn compute_readiness(items: &[ScoredItem]) -> Readiness {
    let mut order: Vec<Option<&str>> = Vec::new();
    for item in items {
        let section = item.section.as_deref();
        if !order.contains(&section) {
            order.push(section);
        }
    }
    let sections = order
        .into_iter()
        .map(|section| SectionScore {
            section: section.map(str::to_owned),
            score: score(items.iter().filter(|i| i.section.as_deref() == section)),
        })
        .collect();
    let blocking = items
        .iter()
        .filter(|item| blocks(item))
        .map(|item| BlockingItem {
            key: item.key.clone(),
            text: item.text.clone(),
            section: item.section.clone(),
            state: item.state,
        })
        .collect();
    Readiness {
        overall: score(items.iter()),
        sections,
        blocking,
    }
}

/// Readiness of a service over all its reviews (each review a checklist attached to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceReadiness {
    /// Each review's own readiness, in the order given.
    pub reviews: Vec<Readiness>,
    /// Every review's items scored together. A service with no review attached is not
    /// ready and scores 0: nothing about it has been verified.
    pub overall: Score,
    /// Per section title, merged across reviews, in order of first appearance.
    pub sections: Vec<SectionScore>,
}

impl ServiceReadiness {
    /// Ready when it has a review and no required item of any review is pending or failed.
    pub fn ready(&self) -> bool {
        self.overall.ready
    }

    /// Required items pending or failed, review by review, each with the index of its review.
    pub fn blocking(&self) -> impl Iterator<Item = (usize, &BlockingItem)> {
        self.reviews
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.blocking.iter().map(move |b| (i, b)))
    }
}

/// Scores a service from the items of each of its reviews (each in checklist order): the
/// reviews' scores are merged as if their items formed one checklist.
pub fn service_readiness(reviews: &[Vec<ScoredItem>]) -> ServiceReadiness {
    let per_review = reviews
        .iter()
        .map(|items| compute_readiness(items))
        .collect();
    let all: Vec<ScoredItem> = reviews.iter().flatten().cloned().collect();
    let merged = compute_readiness(&all);
    let mut overall = merged.overall;
    if reviews.is_empty() {
        overall.ratio = 0.0;
        overall.ready = false;
    }
    ServiceReadiness {
        reviews: per_review,
        overall,
        sections: merged.sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, section: &str, optional: bool, state: ItemState) -> ScoredItem {
        ScoredItem {
            key: key.into(),
            text: format!("text of {key}"),
            section: Some(section.into()),
            group: None,
            optional,
            state,
        }
    }

    #[test]
    fn scores_per_section_and_overall() {
        let items = [
            item("a", "S1", false, ItemState::Passed),
            item("b", "S1", false, ItemState::Waived),
            item("c", "S1", false, ItemState::NotApplicable),
            item("d", "S1", true, ItemState::Failed),
            item("e", "S2", false, ItemState::Pending),
            item("f", "S2", false, ItemState::Passed),
        ];
        let r = compute_readiness(&items);
        assert_eq!(r.overall.counts.total, 6);
        assert_eq!(r.overall.applicable, 5);
        assert!((r.overall.ratio - 3.0 / 5.0).abs() < 1e-9);
        assert!(!r.ready());
        assert_eq!(r.blocking.len(), 1);
        assert_eq!(r.blocking[0].key, "e");
        assert_eq!(r.sections.len(), 2);
        let s1 = &r.sections[0];
        assert_eq!(s1.section.as_deref(), Some("S1"));
        // The optional failure lowers the ratio but does not block.
        assert!((s1.score.ratio - 2.0 / 3.0).abs() < 1e-9);
        assert!(s1.score.ready);
        assert!(!r.sections[1].score.ready);
    }

    #[test]
    fn nothing_applicable_is_complete() {
        let items = [item("a", "S", false, ItemState::NotApplicable)];
        let r = compute_readiness(&items);
        assert_eq!(r.overall.ratio, 1.0);
        assert!(r.ready());
        let empty = compute_readiness(&[]);
        assert_eq!(empty.overall.ratio, 1.0);
        assert!(empty.sections.is_empty());
    }

    #[test]
    fn serialises_flat_sections() {
        let r = compute_readiness(&[item("a", "S", false, ItemState::Failed)]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["sections"][0]["section"], "S");
        assert_eq!(json["sections"][0]["counts"]["failed"], 1);
        assert_eq!(json["blocking"][0]["state"], "failed");
        assert_eq!(json["overall"]["ready"], false);
    }

    #[test]
    fn a_service_without_reviews_is_not_ready() {
        let r = service_readiness(&[]);
        assert!(!r.ready());
        assert_eq!(r.overall.ratio, 0.0);
        assert_eq!(r.overall.counts.total, 0);
        assert!(r.reviews.is_empty() && r.sections.is_empty());
        assert_eq!(r.blocking().count(), 0);
        // One review with nothing applicable is complete, unlike no review at all.
        let one = service_readiness(&[vec![item("a", "S", false, ItemState::NotApplicable)]]);
        assert!(one.ready());
        assert_eq!(one.overall.ratio, 1.0);
    }

    #[test]
    fn reviews_merge_as_one_checklist() {
        let first = vec![
            item("a", "Security", false, ItemState::Passed),
            item("b", "Database", false, ItemState::Pending),
        ];
        let second = vec![
            item("c", "Security", false, ItemState::Failed),
            item("d", "Security", true, ItemState::Waived),
        ];
        let r = service_readiness(&[first.clone(), second.clone()]);
        assert_eq!(r.reviews.len(), 2);
        assert_eq!(r.reviews[0], compute_readiness(&first));
        assert_eq!(r.reviews[1], compute_readiness(&second));
        // Counted together: 2 done of 4 applicable; sections merged by title, first seen first.
        assert_eq!(r.overall.counts.total, 4);
        assert!((r.overall.ratio - 0.5).abs() < 1e-9);
        assert!(!r.ready());
        let titles: Vec<_> = r.sections.iter().map(|s| s.section.as_deref()).collect();
        assert_eq!(titles, [Some("Security"), Some("Database")]);
        assert_eq!(r.sections[0].score.counts.total, 3);
        // Blocking items keep their review.
        let blocking: Vec<_> = r.blocking().map(|(i, b)| (i, b.key.as_str())).collect();
        assert_eq!(blocking, [(0, "b"), (1, "c")]);
    }
}
