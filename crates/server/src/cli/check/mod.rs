//! `preflight check`: the CI gate.
//!
//! Two modes, one verdict and the same output formats:
//! - **local** (`--checklist FILE.md|builtin --target URL`): runs every automated item of a
//!   checklist against a live target with the probe engine. Needs no database, no server and
//!   no service configuration: `Settings::from_env()` is never called, so a production
//!   environment cannot break the gate.
//! - **server** (`--server URL --service NAME`): asks a running preflight for the readiness of
//!   a registered service (token in `PREFLIGHT_TOKEN`).
//!
//! Exit codes: 0 ready, 1 not ready, 2 usage, configuration or checklist errors (clap's own
//! usage errors exit 2 as well).
//!
//! Modules: [`args`] (command line), [`config`] (the `--config` TOML file), [`plan`] (which
//! items run), [`run`] (the engine run and progress), [`model`] (the verdict every format
//! prints), [`output`] (text, JSON, JUnit, Markdown), [`server`] (server mode).

mod args;
mod config;
mod model;
mod output;
mod plan;
mod run;
mod server;

use std::process::ExitCode;

pub use args::CheckArgs;

/// Why the gate could not give a verdict: always exit 2, with one line on stderr.
#[derive(Debug)]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs `preflight check`; the exit code is the verdict.
pub async fn run(args: CheckArgs) -> ExitCode {
    let verdict = match args.server.clone() {
        Some(server) => server::run(&args, &server).await,
        None => local(&args).await,
    };
    match verdict {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Local mode: checklist, config, engine run, output. `Ok(ready)`.
async fn local(args: &CheckArgs) -> Result<bool, UsageError> {
    let source = args
        .checklist
        .as_deref()
        .ok_or_else(|| UsageError::new("give --checklist FILE.md (or builtin) or --server URL"))?;
    let plan = plan::Plan::load(source, &args.kinds)?;
    let settings = config::load(args)?;
    let engine = preflight_probe::Engine::new(settings.engine.clone())
        .map_err(|e| UsageError::new(format!("cannot set up the probe engine: {e}")))?;
    let sink = output::Sink::new(args);
    let reports = run::run(&engine, &settings.target, &plan, sink.interactive()).await;
    let gate = model::Gate::local(plan, reports, &settings, args.strict);
    sink.emit(&gate)?;
    Ok(gate.ready)
}
