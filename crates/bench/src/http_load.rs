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

use crate::baseline::Baseline;
use crate::http_report::{Report, Row, budget};
use crate::populate::{self, Population};
use crate::server::{Api, Launch, Server};
use crate::wrk;

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
        let bytes = body_size(&client, &url, headers).await?;
        // A large body costs the kernel more than anything the server does: the bare handler
        // sending as many bytes shows what is left for preflight to win.
        let same_size = if bytes > SAME_SIZE_FROM {
            Some(flat(&format!("{}bytes/{bytes}", baseline_proc.url), &[])?)
        } else {
            None
        };
        rows.push(Row {
            name,
            run,
            budget,
            bytes,
            same_size,
        });
    }
    drop(baseline_proc);

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
    let after_write = populate::reads_after_writes(&api, &services, 20, &overview).await?;

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

/// Bodies larger than this are also compared with the bare handler sending as many bytes.
const SAME_SIZE_FROM: usize = 4096;

/// The size of the body `url` answers with `headers` (no compression asked, as wrk).
async fn body_size(
    client: &reqwest::Client,
    url: &str,
    headers: &Headers,
) -> anyhow::Result<usize> {
    let mut req = client.get(url);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    Ok(req.send().await?.bytes().await?.len())
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
