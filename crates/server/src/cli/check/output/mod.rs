//! Writes the verdict in the chosen format, to stdout or `--output FILE`.
//!
//! Colour and the progress bar appear only when stdout is a terminal (and `NO_COLOR` is not
//! set); piped output is plain lines with no escape codes.

mod json;
mod junit;
mod markdown;
mod text;

use std::io::Write;
use std::path::PathBuf;

use super::UsageError;
use super::args::{CheckArgs, Format};
use super::model::Gate;

/// Where and how the report goes.
pub struct Sink {
    format: Format,
    output: Option<PathBuf>,
    terminal: bool,
}

impl Sink {
    pub fn new(args: &CheckArgs) -> Self {
        Self {
            format: args.format,
            output: args.output.clone(),
            terminal: console::Term::stdout().is_term(),
        }
    }

    /// A person is watching: show progress while running.
    pub fn interactive(&self) -> bool {
        self.terminal
    }

    /// Renders and writes the report. With `--output`, the summary line goes to stderr.
    pub fn emit(&self, gate: &Gate) -> Result<(), UsageError> {
        let colour =
            self.terminal && self.output.is_none() && std::env::var_os("NO_COLOR").is_none();
        let body = render(gate, self.format, colour)?;
        match &self.output {
            Some(path) => {
                std::fs::write(path, body.as_bytes()).map_err(|e| {
                    UsageError::new(format!("cannot write {}: {e}", path.display()))
                })?;
                eprintln!("{} (report in {})", gate.summary_line(), path.display());
            }
            None => {
                let mut out = std::io::stdout().lock();
                // A closed pipe (e.g. `| head`) is not a reason to change the verdict.
                let _ = out.write_all(body.as_bytes()).and_then(|()| out.flush());
            }
        }
        Ok(())
    }
}

/// The report as text in `format`.
pub fn render(gate: &Gate, format: Format, colour: bool) -> Result<String, UsageError> {
    match format {
        Format::Text => Ok(text::render(gate, colour)),
        Format::Json => json::render(gate),
        Format::Junit => junit::render(gate),
        Format::Markdown => Ok(markdown::render(gate)),
    }
}
