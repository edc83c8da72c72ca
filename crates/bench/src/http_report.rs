//! The HTTP phases' figures, judged against the budgets and printed as one table.

use std::time::Duration;

use crate::http_load::Config;
use crate::wrk;

/// Budgets of issue #11 item 3.
pub mod budget {
    pub const OVERVIEW_RATIO: f64 = 0.5;
    pub const OTHER_RATIO: f64 = 0.4;
    pub const LIVE_RATIO: f64 = 0.7;
    pub const PACED_P99_MS: f64 = 5.0;
    pub const FIRST_READ_AFTER_WRITE_MS: f64 = 50.0;
    pub const STAMPEDE_RSS_MIB: f64 = 100.0;
    pub const IDLE_RSS_MIB: f64 = 50.0;
    pub const START_MS: f64 = 500.0;
    pub const ROUND_GROWTH: f64 = 0.10;
}

/// One endpoint's figures.
pub struct Row {
    pub name: String,
    pub run: wrk::Run,
    /// Its budget as a ratio of the baseline's rate.
    pub budget: Option<f64>,
    /// The body's size, bytes.
    pub bytes: usize,
    /// The bare handler sending a body of the same size, for large bodies.
    pub same_size: Option<wrk::Run>,
}

/// Everything measured on one configuration.
pub struct Report {
    pub config: Config,
    pub population: (usize, usize, Duration),
    pub start_empty: Duration,
    pub start_loaded: Duration,
    pub idle_rss: f64,
    pub stampede: wrk::Run,
    pub stampede_rss: f64,
    pub baseline: wrk::Run,
    pub rows: Vec<Row>,
    pub half_rate: f64,
    pub paced: wrk::Run,
    pub after_write: Vec<Duration>,
    pub rounds_rss: Vec<f64>,
    pub fds: usize,
    pub queries: Vec<(String, u64)>,
    pub log_lines: u64,
    pub warnings: Vec<String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

impl Report {
    fn ratio(&self, run: &wrk::Run) -> f64 {
        run.rps / self.baseline.rps.max(1.0)
    }

    /// Each budget: (what, measured, limit, met).
    pub fn verdicts(&self) -> Vec<(String, String, String, bool)> {
        let mut out = Vec::new();
        for row in &self.rows {
            if let Some(min) = row.budget {
                let r = self.ratio(&row.run);
                out.push((
                    format!("{} vs baseline", row.name),
                    format!("{r:.2}x"),
                    format!(">= {min:.1}x"),
                    r >= min && row.run.errors == 0,
                ));
            }
        }
        let p99 = ms(self.paced.p99);
        out.push((
            "overview p99 at half the baseline rate".into(),
            format!("{p99:.2} ms"),
            format!("< {} ms", budget::PACED_P99_MS),
            p99 < budget::PACED_P99_MS && self.paced.errors == 0,
        ));
        let worst = self.after_write.iter().max().copied().unwrap_or_default();
        out.push((
            "first overview read after a write (max of 20)".into(),
            format!(
                "{:.1} ms (median {:.1})",
                ms(worst),
                ms(median(&self.after_write))
            ),
            format!("< {} ms", budget::FIRST_READ_AFTER_WRITE_MS),
            ms(worst) < budget::FIRST_READ_AFTER_WRITE_MS,
        ));
        out.push((
            "32 clients on a cold cache: peak RSS, non-2xx".into(),
            format!("{:.1} MiB, {}", self.stampede_rss, self.stampede.errors),
            format!("< {} MiB, 0", budget::STAMPEDE_RSS_MIB),
            self.stampede_rss < budget::STAMPEDE_RSS_MIB && self.stampede.errors == 0,
        ));
        out.push((
            "idle RSS with the services loaded".into(),
            format!("{:.1} MiB", self.idle_rss),
            format!("< {} MiB", budget::IDLE_RSS_MIB),
            self.idle_rss < budget::IDLE_RSS_MIB,
        ));
        let (lo, hi) = self
            .rounds_rss
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let growth = (hi - lo) / lo.max(1.0);
        out.push((
            "RSS across three identical rounds".into(),
            format!(
                "{} MiB ({:+.0}%)",
                self.rounds_rss
                    .iter()
                    .map(|v| format!("{v:.1}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                growth * 100.0
            ),
            format!("within {:.0}%", budget::ROUND_GROWTH * 100.0),
            growth <= budget::ROUND_GROWTH,
        ));
        out.push((
            "start to ready with the services loaded".into(),
            format!("{:.0} ms", ms(self.start_loaded)),
            format!("< {} ms", budget::START_MS),
            ms(self.start_loaded) < budget::START_MS,
        ));
        out
    }

    pub fn passed(&self) -> bool {
        self.verdicts().iter().all(|v| v.3)
    }

    pub fn print(&self) {
        let c = &self.config;
        let (services, decisions, took) = self.population;
        println!();
        println!(
            "== {} ({}) ==",
            c.label,
            if c.judged {
                "budgets judged"
            } else {
                "reported"
            }
        );
        println!(
            "database: {services} services with the 78-item seed checklist attached, {decisions} item decisions in the audit log (made through the API in {:.1} s)",
            took.as_secs_f64()
        );
        println!(
            "start to ready: {:.0} ms empty, {:.0} ms with the services loaded; idle RSS {:.1} MiB; open fds {}",
            ms(self.start_empty),
            ms(self.start_loaded),
            self.idle_rss,
            self.fds
        );
        println!(
            "{:<44} {:>10} {:>10} {:>10} {:>7} {:>7}   same-size bare handler",
            "endpoint (wrk -t1, 32 connections)", "req/s", "p50", "p99", "ratio", "non-2xx"
        );
        let line = |name: &str, run: &wrk::Run, same: &str| {
            println!(
                "{:<44} {:>10.0} {:>8.2}ms {:>8.2}ms {:>6.2}x {:>7}   {same}",
                name,
                run.rps,
                ms(run.p50),
                ms(run.p99),
                self.ratio(run),
                run.errors
            );
        };
        line("bare axum JSON (baseline, same run)", &self.baseline, "");
        for row in &self.rows {
            let same = match &row.same_size {
                Some(bare) => format!(
                    "{} bytes: {:.0} req/s, preflight {:.2}x of it",
                    row.bytes,
                    bare.rps,
                    row.run.rps / bare.rps.max(1.0)
                ),
                None => String::new(),
            };
            line(&row.name, &row.run, &same);
        }
        line("overview, 32 clients on a cold cache", &self.stampede, "");
        line(
            &format!("overview paced at {:.0} req/s offered", self.half_rate),
            &self.paced,
            "",
        );
        let fastest = self.rows.iter().map(|r| r.run.rps).fold(0.0_f64, f64::max);
        println!(
            "load generator: wrk drove the baseline at {:.0} req/s, {:.1}x the fastest preflight endpoint: the server, not wrk, is the limit",
            self.baseline.rps,
            self.baseline.rps / fastest.max(1.0)
        );
        println!(
            "SQL statements per request: {}",
            self.queries
                .iter()
                .map(|(what, n)| format!("{what} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "log: {} lines at info; {} warnings{}",
            self.log_lines,
            self.warnings.len(),
            self.warnings
                .first()
                .map(|w| format!(" (first: {w})"))
                .unwrap_or_default()
        );
        for (what, measured, limit, met) in self.verdicts() {
            let mark = if !c.judged {
                "    "
            } else if met {
                "ok  "
            } else {
                "MISS"
            };
            println!("  {mark} {what}: {measured} (budget {limit})");
        }
    }
}
