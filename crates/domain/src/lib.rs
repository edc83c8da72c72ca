//! Checklist domain: pure types and logic, no I/O.
//!
//! - [`parse_checklist`] imports a Markdown task list, [`to_markdown`] / [`to_markdown_with_state`]
//!   export it again;
//! - [`CheckSpec`] is a typed automated check (`<!-- check: KIND key=value -->`);
//! - [`effective_state`] / [`validate_transition`] decide item states;
//! - [`compute_readiness`] scores a checklist;
//! - [`PRODUCTION_READINESS`] is the built-in template.

pub mod checks;

pub use checks::{CheckError, CheckSpec, Condition, TimeSpan, kinds};
