//! Markdown import and export of checklists.
//!
//! # Import
//! `# Title` (the first level-1 heading) names the checklist, `## Section` and `### Group`
//! structure it, and every task item (`- [ ]`, `* [x]`, `+ [X]`, `1. [ ]`, nested or inside a
//! blockquote) becomes an [`Item`](crate::Item). Items mentioning "(optional)" or
//! "(опционально)" are optional. At the end of an item line, `<!-- check: KIND key=value -->`
//! attaches an automated check and `<!-- manual: re_attest_days=90 requires_comment=true -->`
//! sets attestation rules. Everything else is kept verbatim as blocks.
//!
//! # What export normalises
//! [`to_markdown`] of an imported checklist gives back the source exactly, except that:
//! - a leading byte-order mark is dropped;
//! - line endings become LF (`\r\n` and a lone `\r` both become `\n`);
//! - the document ends with a newline (one is added when the source had none; extra blank
//!   lines at the end are kept);
//! - a state note written by [`to_markdown_with_state`] (from `<!-- state -->` to the end of
//!   an item line, and the whitespace before it) is not imported, so it is not written back.
//!
//! Trailing whitespace, blank lines, indentation, bullets, numbers, tick marks, annotation
//! spelling and unknown HTML comments are all kept. When an item's check or attestation
//! settings were changed after import, its annotations are rewritten in canonical form
//! ([`CheckSpec::to_annotation`](crate::CheckSpec::to_annotation)).

mod annotations;
mod export;
mod keys;
mod parse;

pub use export::{to_markdown, to_markdown_with_state};
pub use keys::slug;
pub use parse::parse_checklist;

use crate::checks::CheckError;

/// The largest document imported, in bytes (after the request body limit, this bounds the
/// parser's work).
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;
/// The most task items one checklist may have.
pub const MAX_ITEMS: usize = 2000;
/// The deepest nesting of lists, list items and block quotes.
pub const MAX_NESTING: usize = 32;
/// The longest line, in bytes.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Why a document could not be imported. Line and column numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Nothing in the document is a task item.
    #[error("the document has no task items (lines like \"- [ ] something\")")]
    NoItems,
    /// A NUL or other control character (tab, CR and LF are fine).
    #[error("line {line}, column {column}: control character U+{code:04X} is not allowed")]
    ControlCharacter {
        /// Line of the character.
        line: usize,
        /// Column (in characters).
        column: usize,
        /// The character's code point.
        code: u32,
    },
    /// A check or manual annotation is invalid.
    #[error("line {line}: {source}")]
    Check {
        /// Line of the item.
        line: usize,
        /// What is wrong with the annotation.
        source: CheckError,
    },
    /// A task item with nothing but a box.
    #[error("line {line}: task item has no text")]
    EmptyItem {
        /// Line of the item.
        line: usize,
    },
    /// The document is longer than [`MAX_SOURCE_BYTES`].
    #[error("the document is {size} bytes; at most {max} are imported")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// More task items than [`MAX_ITEMS`].
    #[error("line {line}: more than {max} task items in one checklist")]
    TooManyItems {
        /// Line of the first item past the limit.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// Lists or quotes nested deeper than [`MAX_NESTING`].
    #[error("line {line}: nested deeper than {max} levels of lists and quotes")]
    TooDeep {
        /// Line where the limit is passed.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// A line longer than [`MAX_LINE_BYTES`].
    #[error("line {line}: longer than {max} bytes")]
    LineTooLong {
        /// The line.
        line: usize,
        /// The limit.
        max: usize,
    },
}

impl ImportError {
    /// The 1-based line the error is about, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            ImportError::NoItems | ImportError::TooLarge { .. } => None,
            ImportError::ControlCharacter { line, .. }
            | ImportError::Check { line, .. }
            | ImportError::TooManyItems { line, .. }
            | ImportError::TooDeep { line, .. }
            | ImportError::LineTooLong { line, .. }
            | ImportError::EmptyItem { line } => Some(*line),
        }
    }
}

#[cfg(test)]
mod tests;
