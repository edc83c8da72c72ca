//! Runs the plan's checks through the engine, with a progress bar on a terminal.

use std::collections::HashMap;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use preflight_probe::{Engine, Report, Target};

use super::plan::Plan;

/// Every automated item's report, by index into the checklist's items.
pub async fn run(
    engine: &Engine,
    target: &Target,
    plan: &Plan,
    progress: bool,
) -> HashMap<usize, Report> {
    let checks = plan.checks();
    let bar = progress.then(|| bar(checks.len() as u64));
    let mut reports = HashMap::with_capacity(checks.len());
    let mut stream = std::pin::pin!(engine.run_all(checks, target));
    while let Some((index, report)) = stream.next().await {
        if let Some(bar) = &bar {
            let text = plan
                .checklist
                .items
                .get(index)
                .map(|item| item.text.as_str())
                .unwrap_or_default();
            bar.set_message(format!("{}: {text}", report.outcome.as_str()));
            bar.inc(1);
        }
        reports.insert(index, report);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    reports
}

fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
