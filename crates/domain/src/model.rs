//! The checklist document model: what import produces, what the server stores as JSON and
//! what export writes back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::CheckSpec;
use crate::state::ItemState;

/// A checklist imported from Markdown, with enough layout to write the document back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checklist {
    /// Text of the first `# Title` heading, if any.
    pub title: Option<String>,
    /// `## Section` headings in document order, each with its `### Group` headings.
    pub sections: Vec<Section>,
    /// Task items in document order.
    pub items: Vec<Item>,
    /// The document as a sequence of blocks; export writes them in order.
    pub blocks: Vec<Block>,
}

/// A `## Section` and its `### Group` sub-sections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Heading text as written (emoji and inline code included).
    pub title: String,
    /// `### Group` titles under this section, in order.
    pub groups: Vec<String>,
}

/// One task item (`- [ ] text`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Stable identifier, unique in the checklist: slug of section, group and text, so that
    /// states survive reordering and insertions in a new template version.
    pub key: String,
    /// Item text as written, without the check annotation.
    pub text: String,
    /// Enclosing `## Section` title.
    pub section: Option<String>,
    /// Enclosing `### Group` title.
    pub group: Option<String>,
    /// Written with "(optional)" / "(опционально)": counts in the score, never blocks.
    pub optional: bool,
    /// Whether the source box was ticked (`[x]`); informational only, states live elsewhere.
    pub checked: bool,
    /// Key of the enclosing task item for nested items.
    pub parent: Option<String>,
    /// Nesting depth among task items (0 = top level).
    pub depth: u32,
    /// Automated check attached to the item.
    pub check: Option<CheckSpec>,
    /// A passed sign-off older than this many days counts as pending again.
    pub re_attest_days: Option<u32>,
    /// Sign-off and failure must carry a comment.
    pub requires_comment: bool,
    /// 1-based line in the imported document (0 for items created otherwise).
    pub line: usize,
    /// How the line was written, so export reproduces it.
    pub layout: ItemLayout,
}

/// The exact spelling of an item line around its text: `{prefix}[{mark}]{gap}{text}{tail}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemLayout {
    /// Everything before `[`: indentation, bullet or number, blockquote markers.
    pub prefix: String,
    /// The character inside the brackets: ' ', 'x' or 'X'.
    pub mark: char,
    /// Whitespace between `]` and the text.
    pub gap: String,
    /// Everything after the text as written: annotations and trailing whitespace. Export uses it
    /// as long as it still describes the item's check and attestation settings.
    pub tail: String,
}

impl Default for ItemLayout {
    fn default() -> Self {
        Self {
            prefix: "- ".into(),
            mark: ' ',
            gap: " ".into(),
            tail: String::new(),
        }
    }
}

/// A piece of the document in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A heading (`#`..`######`, or setext) as written; may span two lines.
    Heading {
        /// 1..=6.
        level: u8,
        /// Heading text without the markers.
        text: String,
        /// Source lines joined by `\n`.
        raw: String,
    },
    /// A task item, by key.
    Item {
        /// [`Item::key`].
        key: String,
    },
    /// Any other lines (paragraphs, metadata, rules, tables, blank lines), joined by `\n`.
    Text {
        /// Source lines joined by `\n`.
        raw: String,
    },
}

/// What export writes about an item's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemReport {
    /// The effective state.
    pub state: ItemState,
    /// Who signed, waived or excluded it (or the check that ran).
    pub by: Option<String>,
    /// When.
    pub at: Option<DateTime<Utc>>,
    /// Comment, waiver reason or evidence summary.
    pub note: Option<String>,
}

impl Checklist {
    /// The item with this key.
    pub fn item(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.key == key)
    }

    /// Mutable access to the item with this key (to attach a check after import).
    pub fn item_mut(&mut self, key: &str) -> Option<&mut Item> {
        self.items.iter_mut().find(|item| item.key == key)
    }
}

/// Whether an item text marks the item optional ("(optional)" / "(опционально)", any case).
pub fn is_optional_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("(optional)") || lower.contains("(опционально)")
}
