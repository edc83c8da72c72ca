//! The probe round (issue #9, item 9): one preflight replica verifies 1,000 targets per round.
//!
//! The bench serves the targets itself: one axum listener on 127.0.0.1 per service (20 by
//! default, so the per-host limit `PROBE_HOST_CONCURRENCY` and the global `PROBE_CONCURRENCY`
//! both matter), each answering `GET /t/{n}` after 20–200 ms (pseudo-random, fixed per path).
//! One path in fifty answers 503 (a failing check) and one in a hundred never answers within
//! the check's `timeout=1s` (an `error`). Every service gets its own checklist of automated
//! `http` items and a review of it.
//!
//! preflight (release binary, fresh SQLite in a temporary `DATA_DIR`, `LOG_FORMAT=json
//! LOG_LEVEL=info`, its stdout drained and counted) runs with `PROBE_INTERVAL=24h`, so only
//! on-demand runs happen: a round is `POST /api/v1/services/{id}/runs` for every service at
//! once, then polling the runs until all are finished. Two rounds are measured: the first
//! (every item goes from pending to its outcome: a state change, an audit entry and a readiness
//! refresh per item) and a steady one (same outcomes, nothing changes state). Both must stay
//! within the budget: round ≤ 10 s wall time, peak RSS (`VmHWM`) < 300 MiB.
//!
//! `PROBE_CONCURRENCY`, `PROBE_HOST_CONCURRENCY` and `PROBE_QUEUE` set in the bench's
//! environment reach the server (the figures printed say which were in effect).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::server::{Api, Launch, LogStats, Server, proc_mib};

/// Longest round the budget allows.
pub const ROUND_BUDGET: Duration = Duration::from_secs(10);
/// Peak resident memory the budget allows, MiB.
pub const RSS_BUDGET_MIB: f64 = 300.0;

/// One path in `HANG_EVERY` never answers within its check's timeout.
const HANG_EVERY: usize = 100;
/// One path in `FAIL_EVERY` answers 503.
const FAIL_EVERY: usize = 50;
/// How long a hanging target sits on a request (far beyond the check's `timeout=1s`).
const HANG_FOR: Duration = Duration::from_secs(60);
/// How often an unfinished run is polled.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How often the server's RSS is sampled during a round.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// A round that takes longer than this is abandoned (something is broken, not slow).
const ROUND_LIMIT: Duration = Duration::from_secs(180);

/// What to run.
pub struct Options {
    /// The release binary.
    pub bin: String,
    /// Services (= target listeners).
    pub services: usize,
    /// Automated items per service.
    pub items: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Pass,
    Fail,
    Hang,
}

/// What target path `g` (numbered across all services) does.
fn behaviour(g: usize) -> Behaviour {
    if g % HANG_EVERY == HANG_EVERY - 1 {
        Behaviour::Hang
    } else if g % FAIL_EVERY == FAIL_EVERY / 2 - 1 {
        Behaviour::Fail
    } else {
        Behaviour::Pass
    }
}

/// 20–200 ms, fixed per path (splitmix64 of its number).
fn latency(g: usize) -> Duration {
    let mut z = (g as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    Duration::from_millis(20 + z % 181)
}

#[derive(Clone)]
struct Target {
    first: usize,
    hits: Arc<AtomicU64>,
}

async fn answer(State(t): State<Target>, Path(n): Path<usize>) -> (StatusCode, &'static str) {
    t.hits.fetch_add(1, Ordering::Relaxed);
    let g = t.first + n;
    match behaviour(g) {
        Behaviour::Hang => {
            tokio::time::sleep(HANG_FOR).await;
            (StatusCode::OK, "late")
        }
        Behaviour::Fail => {
            tokio::time::sleep(latency(g)).await;
            (StatusCode::SERVICE_UNAVAILABLE, "dependency down")
        }
        Behaviour::Pass => {
            tokio::time::sleep(latency(g)).await;
            (StatusCode::OK, "ok")
        }
    }
}

/// Starts one listener per service; returns their base URLs.
async fn targets(
    services: usize,
    items: usize,
    hits: &Arc<AtomicU64>,
) -> anyhow::Result<Vec<String>> {
    let mut urls = Vec::with_capacity(services);
    for s in 0..services {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/t/{n}", axum::routing::get(answer))
            .with_state(Target {
                first: s * items,
                hits: hits.clone(),
            });
        tokio::spawn(async move { axum::serve(listener, app).await });
        urls.push(format!("http://{addr}"));
    }
    Ok(urls)
}

fn checklist(service: usize, items: usize) -> String {
    let mut md = format!("# Probe round {service}\n\n## Endpoints\n\n");
    for n in 0..items {
        let timeout = if behaviour(service * items + n) == Behaviour::Hang {
            " timeout=1s"
        } else {
            ""
        };
        md.push_str(&format!(
            "- [ ] Endpoint {n} answers <!-- check: http path=/t/{n}{timeout} -->\n"
        ));
    }
    md
}

/// Registers the services, imports their checklists and attaches them.
async fn set_up(api: &Api, targets: &[String], items: usize) -> anyhow::Result<Vec<String>> {
    let mut services = Vec::with_capacity(targets.len());
    for (s, base_url) in targets.iter().enumerate() {
        let service = api
            .created(
                api.client.post(api.url("/api/v1/services")).json(&json!({
                    "name": format!("probe-round-{s}"),
                    "base_url": base_url,
                    "environment": "staging",
                })),
                "creating a service",
            )
            .await?;
        let checklist = api
            .created(
                api.client
                    .post(api.url("/api/v1/checklists"))
                    .header("content-type", "text/markdown")
                    .body(checklist(s, items)),
                "importing a checklist",
            )
            .await?;
        api.created(
            api.client
                .post(api.url(&format!("/api/v1/services/{service}/reviews")))
                .json(&json!({"checklist_id": checklist})),
            "attaching a checklist",
        )
        .await?;
        services.push(service);
    }
    Ok(services)
}

/// One measured round.
pub struct Round {
    pub wall: Duration,
    pub checks: u64,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// Requests the targets received during the round (each check makes one).
    pub target_requests: u64,
    /// Highest RSS sampled during the round, MiB.
    pub rss_sampled: f64,
    /// When the last check was started, from the round's start (server clock = bench clock).
    pub last_started: Option<Duration>,
    /// When the last check finished probing.
    pub last_finished: Option<Duration>,
    /// Median and 99th percentile of the checks' own durations.
    pub check_p50: Duration,
    pub check_p99: Duration,
}

impl Round {
    pub fn runs_per_second(&self) -> f64 {
        self.checks as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    fn line(&self) -> String {
        let secs = |d: Option<Duration>| {
            d.map(|d| format!("+{:.2} s", d.as_secs_f64()))
                .unwrap_or_else(|| "?".into())
        };
        format!(
            "{:.2} s, {:.0} runs/s; passed {}, failed {}, error {} of {}; {} target requests; \
             last check started {}, last probe done {}; check p50 {:?}, p99 {:?}; RSS sampled peak {:.1} MiB",
            self.wall.as_secs_f64(),
            self.runs_per_second(),
            self.passed,
            self.failed,
            self.errors,
            self.checks,
            self.target_requests,
            secs(self.last_started),
            secs(self.last_finished),
            self.check_p50,
            self.check_p99,
            self.rss_sampled,
        )
    }
}

fn since(start: DateTime<Utc>, at: &Value) -> Option<Duration> {
    let at = DateTime::parse_from_rfc3339(at.as_str()?).ok()?;
    (at.with_timezone(&Utc) - start).to_std().ok()
}

/// Starts a run of every service at once and waits until all are finished.
async fn round(
    api: &Arc<Api>,
    services: &[String],
    pid: u32,
    hits: &AtomicU64,
) -> anyhow::Result<Round> {
    let hits_before = hits.load(Ordering::Relaxed);
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0.0f64;
            while sampling.load(Ordering::Relaxed) {
                if let Ok(mib) = proc_mib(pid, "VmRSS:") {
                    peak = peak.max(mib);
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
            peak
        })
    };

    let start_at = Utc::now();
    let start = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for (i, service) in services.iter().enumerate() {
        let api = api.clone();
        let url = api.url(&format!("/api/v1/services/{service}/runs"));
        posts.spawn(async move {
            let res = api
                .expect(api.client.post(url), StatusCode::ACCEPTED, "starting a run")
                .await?;
            let location = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .context("a run answered 202 without a Location")?
                .to_owned();
            anyhow::Ok((i, location))
        });
    }
    let mut runs = vec![String::new(); services.len()];
    while let Some(joined) = posts.join_next().await {
        let (i, location) = joined??;
        runs[i] = location;
    }

    // Poll one unfinished run at a time (the round ends when the last one ends), so that
    // polling costs the server little.
    let mut finished = Vec::with_capacity(runs.len());
    for location in &runs {
        loop {
            let run: Value = api
                .expect(
                    api.client.get(api.url(location)),
                    StatusCode::OK,
                    "reading a run",
                )
                .await?
                .json()
                .await?;
            if run["status"] == "finished" {
                finished.push(run);
                break;
            }
            if start.elapsed() > ROUND_LIMIT {
                bail!(
                    "the round did not finish within {ROUND_LIMIT:?}: {location} is at {} of {}",
                    run["done"],
                    run["total"]
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
    let wall = start.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let rss_sampled = sampler.await?;

    let count = |run: &Value, field: &str| run[field].as_u64().unwrap_or(0);
    let mut durations = Vec::new();
    let (mut last_started, mut last_finished) = (None::<Duration>, None::<Duration>);
    for run in &finished {
        for line in run["items"].as_array().into_iter().flatten() {
            let check = &line["run"];
            if let Some(ms) = check["duration_ms"].as_u64() {
                durations.push(Duration::from_millis(ms));
            }
            last_started = last_started.max(since(start_at, &check["started_at"]));
            last_finished = last_finished.max(since(start_at, &check["finished_at"]));
        }
    }
    durations.sort();
    let pct = |p: f64| {
        durations
            .get(((durations.len() as f64 * p) as usize).min(durations.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Round {
        wall,
        checks: finished.iter().map(|r| count(r, "total")).sum(),
        passed: finished.iter().map(|r| count(r, "passed")).sum(),
        failed: finished.iter().map(|r| count(r, "failed")).sum(),
        errors: finished.iter().map(|r| count(r, "errors")).sum(),
        target_requests: hits.load(Ordering::Relaxed) - hits_before,
        rss_sampled,
        last_started,
        last_finished,
        check_p50: pct(0.5),
        check_p99: pct(0.99),
    })
}

/// Everything the scenario measured.
pub struct Report {
    pub services: usize,
    pub items: usize,
    pub first: Round,
    pub steady: Round,
    /// `VmHWM` after both rounds, MiB.
    pub peak_rss: f64,
    pub rss_after: f64,
    pub setup: Duration,
    expected: (u64, u64, u64),
    log: LogStats,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl Report {
    fn targets(&self) -> u64 {
        (self.services * self.items) as u64
    }

    fn round_ok(&self, r: &Round) -> bool {
        r.wall <= ROUND_BUDGET
            && r.checks == self.targets()
            && (r.passed, r.failed, r.errors) == self.expected
    }

    /// Within the budget, and every round ran every check with the expected outcome.
    pub fn passed(&self) -> bool {
        self.round_ok(&self.first) && self.round_ok(&self.steady) && self.peak_rss < RSS_BUDGET_MIB
    }

    pub fn print(&self) {
        let (p, f, e) = self.expected;
        println!(
            "probe round: {} services x {} automated http items = {} targets on {} local listeners \
             (20-200 ms each; {f} answer 503, {e} never answer within timeout=1s); \
             PROBE_CONCURRENCY {}, PROBE_HOST_CONCURRENCY {}, PROBE_QUEUE {}; SQLite; set-up {:.1} s",
            self.services,
            self.items,
            self.targets(),
            self.services,
            env_or("PROBE_CONCURRENCY", "64"),
            env_or("PROBE_HOST_CONCURRENCY", "4"),
            env_or("PROBE_QUEUE", "256"),
            self.setup.as_secs_f64(),
        );
        println!(
            "  first round (every item changes state): {}",
            self.first.line()
        );
        println!("  steady round (no state changes): {}", self.steady.line());
        println!(
            "  server peak RSS (VmHWM) {:.1} MiB, RSS after {:.1} MiB; log {} lines ({:.1} MiB), {} warnings/errors",
            self.peak_rss,
            self.rss_after,
            self.log.lines,
            self.log.bytes as f64 / (1024.0 * 1024.0),
            self.log.warnings,
        );
        for sample in &self.log.samples {
            println!("    {sample}");
        }
        for (name, r) in [("first", &self.first), ("steady", &self.steady)] {
            if (r.passed, r.failed, r.errors) != self.expected {
                println!(
                    "  {name} round outcomes differ from the targets' behaviour: expected passed {p}, failed {f}, error {e}"
                );
            }
            if r.target_requests != r.checks {
                println!(
                    "  {name} round: the targets got {} requests for {} checks",
                    r.target_requests, r.checks
                );
            }
        }
        let worst = self.first.wall.max(self.steady.wall);
        println!(
            "probe round budget (round <= {} s, peak RSS < {RSS_BUDGET_MIB:.0} MiB): round {:.2} s, {:.0} runs/s, peak RSS {:.1} MiB: {}",
            ROUND_BUDGET.as_secs(),
            worst.as_secs_f64(),
            self.first
                .runs_per_second()
                .min(self.steady.runs_per_second()),
            self.peak_rss
                .max(self.first.rss_sampled)
                .max(self.steady.rss_sampled),
            if self.passed() { "PASS" } else { "FAIL" }
        );
    }
}

/// Runs the scenario: targets, a fresh server, set-up, two rounds.
pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    if opts.services == 0 || opts.items == 0 {
        bail!("--probe-services and --probe-items must be at least 1");
    }
    let hits = Arc::new(AtomicU64::new(0));
    let urls = targets(opts.services, opts.items, &hits).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let launch = Launch::new(&opts.bin)
        .env("RATE_LIMIT_RUNS", "10000/m")
        .env("PROBE_SCHEDULER", "true")
        .env("PROBE_INTERVAL", "24h");
    let mut server = Server::start(&launch)?;
    server.ready(&client, Instant::now()).await?;
    let api = Arc::new(Api::login(&client, &server.base).await?);

    let setup_started = Instant::now();
    let services = set_up(&api, &urls, opts.items).await?;
    let setup = setup_started.elapsed();

    let first = round(&api, &services, server.pid(), &hits).await?;
    let steady = round(&api, &services, server.pid(), &hits).await?;
    let peak_rss = proc_mib(server.pid(), "VmHWM:")?;
    let rss_after = proc_mib(server.pid(), "VmRSS:")?;
    let log = server.log_stats();
    drop(server);

    let total = opts.services * opts.items;
    let mut expected = (0, 0, 0);
    for g in 0..total {
        match behaviour(g) {
            Behaviour::Pass => expected.0 += 1,
            Behaviour::Fail => expected.1 += 1,
            Behaviour::Hang => expected.2 += 1,
        }
    }
    Ok(Report {
        services: opts.services,
        items: opts.items,
        first,
        steady,
        peak_rss,
        rss_after,
        setup,
        expected,
        log,
    })
}
