//! The probe engine: runs the automated checks of `docs/checklists.md` against a live target and
//! returns an outcome (`passed`, `failed`, `error`) with evidence.
//!
//! No database and no server state: the CLI gate (`preflight check`) runs it, and a server-side
//! scheduler can call the same [`Engine`]. Every request goes through [`probe::Probe`], which
//! applies the host rule, the [`NetworkPolicy`], the per-check request budget, the per-host
//! concurrency limit and the byte cap, and records the exchange.

mod engine;
mod error;
mod evidence;
mod kinds;
mod policy;
mod probe;
mod target;

pub use engine::{Engine, EngineConfig, EngineError, USER_AGENT};
pub use error::{ProbeError, format_duration};
pub use evidence::{EXCERPT_BYTES, Exchange, Outcome, Report};
pub use policy::{NetworkPolicy, Refusal};
pub use target::{Credential, Endpoint, Target, TargetError};
