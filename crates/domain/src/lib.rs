//! Checklist domain for preflight: pure types and logic, no I/O.
//!
//! - [`parse_checklist`] imports a Markdown task list; [`to_markdown`] and
//!   [`to_markdown_with_state`] export it again (see [`markdown`] for what is normalised);
//! - [`CheckSpec`] is a typed automated check (`<!-- check: KIND key=value -->`);
//! - [`effective_state`] and [`validate_transition`] decide item states;
//! - [`compute_readiness`] scores a checklist, [`service_readiness`] a service over its reviews;
//! - [`PRODUCTION_READINESS`] is the built-in template.

#![warn(missing_docs)]

pub mod checks;
pub mod markdown;
pub mod model;
pub mod readiness;
pub mod state;
pub mod template;

pub use checks::*;
pub use markdown::{ImportError, parse_checklist, to_markdown, to_markdown_with_state};
pub use model::{Block, Checklist, Item, ItemLayout, ItemReport, Section, is_optional_text};
pub use readiness::{
    BlockingItem, Readiness, Score, ScoredItem, SectionScore, ServiceReadiness, StateCounts,
    compute_readiness, service_readiness,
};
pub use state::{
    Action, Attestation, Exclusion, ItemRecord, ItemState, RunOutcome, RunResult,
    TransitionContext, TransitionError, Waiver, apply_action, earliest, effective_state,
    next_change, validate_transition,
};
pub use template::PRODUCTION_READINESS;
