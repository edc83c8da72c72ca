//! `--format junit`: the gate's rows as JUnit XML ([`crate::gate::junit`]).

use crate::cli::check::UsageError;
use crate::cli::check::model::Gate;

pub fn render(gate: &Gate) -> Result<String, UsageError> {
    crate::gate::junit::render(&gate.checklist, &gate.rows).map_err(UsageError::new)
}
