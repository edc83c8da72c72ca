//! The HTTP phases (issue #11): preflight as users run it against a bare axum JSON handler in
//! the same run, on a database of realistic size, with budgets.
//!
//! Per backend configuration (SQLite + in-process cache, SQLite + Redis, PostgreSQL):
//! 1. a fresh server; `--services` services made through the API ([`crate::populate`]);
//! 2. restart on that data: start to ready, idle RSS;
//! 3. 32 clients arriving on the cold cache: peak RSS and every answer 2xx;
//! 4. the baseline, then each endpoint flat out (wrk, 32 connections): req/s, p50, p99, ratio;
//! 5. the overview at half the baseline's rate: p99;
//! 6. the first overview read after a write (one sign-off or reset), 20 times;
//! 7. three identical load rounds: RSS after each;
//! 8. restarted with `DB_LOG_QUERIES=true`: SQL statements per request, cold and cached.
//!
//! Budgets are judged on SQLite + in-process (the embedded default); the others are reported.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::StatusCode;

use crate::populate::{self, Population};
use crate::server::{Api, Launch, Server};
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

/// A backend configuration to measure.
#[derive(Clone, Debug)]
pub struct Config {
    pub label: &'static str,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    /// Budgets are judged on this configuration.
    pub judged: bool,
}

pub struct Options {
    pub bin: String,
    pub seconds: u64,
    pub connections: usize,
    pub services: usize,
}

/// Request headers wrk sends.
type Headers = [(&'static str, String)];

/// One endpoint's figures.
pub struct Row {
    pub name: String,
    pub run: wrk::Run,
    /// Its budget as a ratio of the baseline's rate.
    pub budget: Option<f64>,
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
            "{:<44} {:>10} {:>10} {:>10} {:>7} {:>7}",
            "endpoint (wrk -t1, 32 connections)", "req/s", "p50", "p99", "ratio", "non-2xx"
        );
        let line = |name: &str, run: &wrk::Run| {
            println!(
                "{:<44} {:>10.0} {:>8.2}ms {:>8.2}ms {:>6.2}x {:>7}",
                name,
                run.rps,
                ms(run.p50),
                ms(run.p99),
                self.ratio(run),
                run.errors
            );
        };
        line("bare axum JSON (baseline, same run)", &self.baseline);
        for row in &self.rows {
            line(&row.name, &row.run);
        }
        line("overview, 32 clients on a cold cache", &self.stampede);
        line(
            &format!("overview paced at {:.0} req/s offered", self.half_rate),
            &self.paced,
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

/// The bare axum process: the bench binary itself (`preflight-bench baseline PORT`).
struct Baseline {
    child: std::process::Child,
    url: String,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baseline {
    async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(std::env::current_exe()?)
            .arg("baseline")
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}/");
        let client = reqwest::Client::new();
        for _ in 0..500 {
            if client.get(&url).send().await.is_ok() {
                return Ok(Self { child, url });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("the baseline did not start")
    }
}

/// Serves the baseline: one JSON handler on a default multi-threaded runtime, no middleware.
pub fn serve_baseline(port: u16) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({"status": "ok", "ready": true}))
            }),
        );
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

/// Samples the server's RSS every few milliseconds while `f` runs; the peak, MiB.
fn peak_rss_during<T>(pid: u32, f: impl FnOnce() -> T) -> (T, f64) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0.0_f64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(v) = crate::server::proc_mib(pid, "VmRSS:") {
                    peak = peak.max(v);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let out = f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(f64::NAN);
    (out, peak)
}

/// Signs in through the web form; the session cookie (`name=value`).
async fn sign_in(base: &str) -> anyhow::Result<String> {
    fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let form = client.get(format!("{base}/login")).send().await?;
    let login_cookie = cookie(&form, "preflight_login").context("the sign-in form's cookie")?;
    let html = form.text().await?;
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker).context("the sign-in form's token")? + marker.len();
    let token = &html[start..start + html[start..].find('"').context("token")?];
    let email = crate::server::EMAIL.replace('@', "%40");
    let res = client
        .post(format!("{base}/login"))
        .header("cookie", login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email={email}&password={}&token={token}&next=",
            crate::server::PASSWORD
        ))
        .send()
        .await?;
    cookie(&res, "preflight_session").context("signing in through the web form")
}

/// A long-lived API token for wrk (access tokens expire during a long run).
async fn api_token(api: &Api) -> anyhow::Result<String> {
    let body: serde_json::Value = api
        .expect(
            api.client.post(api.url("/api/v1/me/tokens")).json(
                &serde_json::json!({"name": "benchmark", "scopes": ["read"], "expires_in_days": 1}),
            ),
            StatusCode::CREATED,
            "creating an API token",
        )
        .await?
        .json()
        .await?;
    Ok(body["token"]
        .as_str()
        .context("the API token's secret")?
        .to_owned())
}

/// Runs every phase on one configuration.
pub async fn measure(opts: &Options, config: &Config) -> anyhow::Result<Report> {
    let launch = Launch {
        database_url: config.database_url.clone(),
        redis_url: config.redis_url.clone(),
        ..Launch::new(&opts.bin)
    }
    // A user's server runs its probe scheduler; nothing here is automated, so it stays idle.
    .env("PROBE_SCHEDULER", "true");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    // 1. Fresh server, populated through the API.
    let started = Instant::now();
    let mut server = Server::start(&launch)?;
    let start_empty = server.ready(&client, started).await?;
    let api = Api::login(&client, &server.base).await?;
    let Population {
        services,
        decisions,
        took,
        checklist,
    } = populate::populate(&api, opts.services, true).await?;
    let dir = server.stop();

    // 2. Restart on that data.
    let started = Instant::now();
    let mut server = Server::start_in(&launch, dir.clone())?;
    let start_loaded = server.ready(&client, started).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.rss_mib();
    let api = Api::login(&client, &server.base).await?;
    let token = api_token(&api).await?;
    let bearer = [("Authorization", format!("Bearer {token}"))];
    let overview = format!("{}/api/v1/readiness", server.base);

    // 3. 32 clients on the cold cache.
    let (stampede, stampede_rss) = peak_rss_during(server.pid(), || {
        wrk::run(&wrk::Load {
            url: &overview,
            headers: &bearer,
            connections: opts.connections,
            seconds: 5,
            delay: None,
        })
    });
    let stampede = stampede?;

    // 4. Baseline and endpoints.
    let baseline_proc = Baseline::start().await?;
    let flat = |url: &str, headers: &[(&str, String)]| {
        wrk::run(&wrk::Load {
            url,
            headers,
            connections: opts.connections,
            seconds: opts.seconds,
            delay: None,
        })
    };
    let baseline = flat(&baseline_proc.url, &[])?;
    drop(baseline_proc);
    let first = services.first().context("no services")?;
    let cookie = [("Cookie", sign_in(&server.base).await?)];
    let b = &server.base;
    let endpoints: Vec<(String, String, &Headers, Option<f64>)> = vec![
        (
            "GET /health/live".into(),
            format!("{b}/health/live"),
            &[],
            Some(budget::LIVE_RATIO),
        ),
        (
            "GET /health/ready".into(),
            format!("{b}/health/ready"),
            &[],
            None,
        ),
        (
            "GET /api/v1/readiness".into(),
            overview.clone(),
            &bearer,
            Some(budget::OVERVIEW_RATIO),
        ),
        (
            "GET /api/v1/services/{id}/readiness".into(),
            format!("{b}/api/v1/services/{}/readiness", first.id),
            &bearer,
            Some(budget::OTHER_RATIO),
        ),
        (
            "GET /api/v1/checklists/{id}?format=markdown".into(),
            format!("{b}/api/v1/checklists/{checklist}?format=markdown"),
            &bearer,
            Some(budget::OTHER_RATIO),
        ),
        (
            "web GET /services (overview page)".into(),
            format!("{b}/services"),
            &cookie,
            None,
        ),
        (
            "web GET /services/{id} (service page)".into(),
            format!("{b}/services/{}", first.id),
            &cookie,
            None,
        ),
    ];
    let mut rows = Vec::new();
    for (name, url, headers, budget) in endpoints {
        let run = flat(&url, headers)?;
        rows.push(Row { name, run, budget });
    }

    // 5. Paced at half the baseline's rate: each connection waits between its requests.
    let half_rate = baseline.rps / 2.0;
    let delay = Duration::from_secs_f64(opts.connections as f64 / half_rate);
    let paced = wrk::run(&wrk::Load {
        url: &overview,
        headers: &bearer,
        connections: opts.connections,
        seconds: opts.seconds,
        delay: Some(delay),
    })?;

    // 6. The first overview read after a write.
    let mut after_write = Vec::new();
    for (n, svc) in services.iter().enumerate().take(20) {
        let key = populate::undecided_key(svc, n).context("no items")?;
        populate::decide_item(&api, &svc.review, key, "sign_off").await?;
        let t = Instant::now();
        api.expect(
            client.get(&overview),
            StatusCode::OK,
            "overview after a write",
        )
        .await?
        .bytes()
        .await?;
        after_write.push(t.elapsed());
    }

    // 7. Three identical rounds.
    let mut rounds_rss = Vec::new();
    for _ in 0..3 {
        for url in [
            &overview,
            &format!("{b}/api/v1/services/{}/readiness", first.id),
        ] {
            wrk::run(&wrk::Load {
                url,
                headers: &bearer,
                connections: opts.connections,
                seconds: 3,
                delay: None,
            })?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        rounds_rss.push(server.rss_mib());
    }
    let fds = server.open_fds();
    let stats = server.log_stats();
    let dir = server.stop();

    // 8. Statements per request.
    let queries = count_queries(&launch, dir, &client, first, &services).await?;

    Ok(Report {
        config: config.clone(),
        population: (services.len(), decisions, took),
        start_empty,
        start_loaded,
        idle_rss,
        stampede,
        stampede_rss,
        baseline,
        rows,
        half_rate,
        paced,
        after_write,
        rounds_rss,
        fds,
        queries,
        log_lines: stats.lines,
        warnings: stats.samples,
    })
}

/// SQL statements the server logs (`DB_LOG_QUERIES=true`) while answering one request.
async fn count_queries(
    launch: &Launch,
    dir: std::sync::Arc<tempfile::TempDir>,
    client: &reqwest::Client,
    first: &populate::Service,
    services: &[populate::Service],
) -> anyhow::Result<Vec<(String, u64)>> {
    let launch = launch
        .clone()
        .env("DB_LOG_QUERIES", "true")
        .env("PROBE_SCHEDULER", "false");
    let started = Instant::now();
    let mut server = Server::start_in(&launch, dir)?;
    server.ready(client, started).await?;
    let api = Api::login(client, &server.base).await?;
    // Start-up work (gauges) and the session's first check are not counted.
    tokio::time::sleep(Duration::from_secs(1)).await;
    api.expect(client.get(api.url("/api/v1/me")), StatusCode::OK, "me")
        .await?;
    let settle = || tokio::time::sleep(Duration::from_millis(150));
    settle().await;
    let mut out = Vec::new();
    let overview = api.url("/api/v1/readiness");
    let service = api.url(&format!("/api/v1/services/{}/readiness", first.id));
    // The last service: the read-after-write phase decided items of the first twenty.
    let last = services.len() - 1;
    let other = &services[last];
    for (what, url, write_first) in [
        ("overview cold", &overview, false),
        ("overview cached", &overview, false),
        ("service cold", &service, false),
        ("service cached", &service, false),
        ("overview after a write", &overview, true),
    ] {
        if write_first {
            let key = populate::undecided_key(other, last).context("items")?;
            populate::decide_item(&api, &other.review, key, "not_applicable").await?;
            settle().await;
        }
        let before = server.log_stats().statements;
        api.expect(client.get(url), StatusCode::OK, what).await?;
        settle().await;
        out.push((what.to_owned(), server.log_stats().statements - before));
    }
    if server.log_stats().statements == 0 {
        bail!("DB_LOG_QUERIES=true logged no statement: the log format changed?");
    }
    drop(server);
    Ok(out)
}
