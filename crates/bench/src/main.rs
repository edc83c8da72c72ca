//! `cargo run --release -p preflight-bench [-- --seconds 10 --concurrency 32]`
//! `cargo run --release -p preflight-bench -- probe-round [--check]`
//!
//! Measures, in one run on one machine (ratios, not absolute numbers, are what the performance
//! budgets are about, because these machines are shared and noisy):
//! 1. start-to-ready of the release binary on a fresh SQLite database (migrations applied);
//! 2. its idle resident memory;
//! 3. requests per second of a bare axum JSON handler (the baseline) and of preflight's
//!    authenticated readiness read (JWT, rate limit, cache, metrics, log line), at full load;
//! 4. p99 latency of the readiness read at half the baseline's rate;
//! 5. the web UI's overview and service pages (server-rendered HTML, cookie session): latency
//!    of one page at a time (render time plus the round trip) and pages per second at load.
//! 6. the probe round (issue #9): a second, fresh replica verifies 1,000 local targets
//!    (20 services x 50 automated `http` items, 20-200 ms latency, 1% hanging past their
//!    `timeout=1s`, 2% answering 503) per round; round wall time, runs per second, outcomes
//!    and peak RSS against the budget (round <= 10 s, peak RSS < 300 MiB), see
//!    [`probe_round`] and `docs/performance.md`.
//!
//! Everything runs on a database of realistic size: `--services` services (default 200), each
//! with the built-in checklist attached.
//!
//! `probe-round` runs only 6; `--skip-probe-round` only 1-5. `--check` exits non-zero when
//! the probe round misses its budget (the other figures are printed, not judged).

use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod probe_round;

const HELP: &str = "\
usage: preflight-bench [probe-round] [options]

  (no command)            every phase: start-up, idle memory, HTTP load, then the probe round
  probe-round             only the probe round: 1,000 automated checks against local targets

options:
  --seconds N             seconds per HTTP load phase (default 10)
  --concurrency N         connections of the HTTP load phases (default 32)
  --services N            services seeded with the built-in checklist for the HTTP and
                          web UI phases (default 200)
  --probe-services N      services (= target listeners) of the probe round (default 20)
  --probe-items N         automated items per service (default 50)
  --skip-probe-round      only the HTTP phases (the output of earlier versions)
  --check                 exit 1 when the probe round misses its budget
                          (round <= 10 s, peak RSS < 300 MiB, expected outcomes)
  -h, --help              this text

environment: PREFLIGHT_BIN (default $CARGO_TARGET_DIR/release/preflight, else
target/release/preflight); PROBE_CONCURRENCY, PROBE_HOST_CONCURRENCY and PROBE_QUEUE reach
the probe round's server.
";

struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

/// Closed-loop load (or paced when `rate` is set) for `secs` seconds from `conc` workers.
async fn drive(
    url: String,
    auth: Option<(&'static str, String)>,
    conc: usize,
    secs: u64,
    rate: Option<f64>,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..conc {
        let client = client.clone();
        let url = url.clone();
        let auth = auth.clone();
        let stop = stop.clone();
        // Each worker paces itself to rate/conc when a rate is given.
        let interval = rate.map(|r| Duration::from_secs_f64(conc as f64 / r));
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut next = Instant::now()
                + interval
                    .map(|i| i.mul_f64(w as f64 / conc as f64))
                    .unwrap_or_default();
            while !stop.load(Ordering::Relaxed) {
                if let Some(i) = interval {
                    let now = Instant::now();
                    if next > now {
                        tokio::time::sleep(next - now).await;
                    }
                    next += i;
                }
                let t = Instant::now();
                let mut req = client.get(&url);
                if let Some((name, value)) = &auth {
                    req = req.header(*name, value);
                }
                match req.send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.await?;
        all.extend(l);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Load {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
        errors,
    })
}

fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("no VmRSS")?
        .parse()?;
    Ok(kb / 1024.0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().skip(1).any(|a| a == name)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    if flag("--help") || flag("-h") {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    let bin = std::env::var("PREFLIGHT_BIN").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{target}/release/preflight")
    });
    // The server starts in its temporary data directory: a relative path would not resolve.
    let bin = std::fs::canonicalize(&bin)
        .map(|p| p.display().to_string())
        .unwrap_or(bin);
    let only_probe_round = flag("probe-round");
    if !only_probe_round {
        http_phases(&bin).await?;
    }
    if only_probe_round || !flag("--skip-probe-round") {
        let opts = probe_round::Options {
            bin,
            services: usize::try_from(arg("--probe-services", 20))?,
            items: usize::try_from(arg("--probe-items", 50))?,
        };
        let report = probe_round::run(&opts).await?;
        report.print();
        if flag("--check") && !report.passed() {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Phases 1-4: start-up, idle memory, the HTTP load phases; prints their figures.
async fn http_phases(bin: &str) -> anyhow::Result<()> {
    let secs = arg("--seconds", 10);
    let conc = usize::try_from(arg("--concurrency", 32))?;

    // Baseline: a bare axum JSON handler in this process.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::Json(serde_json::json!({"status": "ok", "ready": true}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    // preflight on a fresh SQLite database.
    let dir = tempfile::tempdir()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("serve")
        .env("DATA_DIR", dir.path())
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "warn")
        .env("ADMIN_EMAIL", "bench@example.com")
        .env("ADMIN_PASSWORD", "Bench-Password-12345")
        .env("RATE_LIMIT_AUTHENTICATED", "100000000/s")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!("starting {bin} (build it: cargo build --release -p preflight)")
        })?;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready_after = loop {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
            && r.status().is_success()
        {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("preflight did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_mib(child.id())?;

    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(
            &serde_json::json!({"email": "bench@example.com", "password": "Bench-Password-12345"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().context("login")?.to_owned();
    let services = usize::try_from(arg("--services", 200))?;
    let first_service = seed(&client, &base, &token, services).await?;
    let cookie = sign_in(&client, &base).await?;
    // The readiness overview when the build has it, else the cheapest authenticated read.
    let mut path = "/api/v1/readiness".to_owned();
    let probe = client
        .get(format!("{base}{path}"))
        .bearer_auth(&token)
        .send()
        .await?;
    if !probe.status().is_success() {
        path = "/api/v1/me".to_owned();
    }

    let bearer = Some(("authorization", format!("Bearer {token}")));
    let baseline = drive(format!("http://{base_addr}/"), None, conc, secs, None).await?;
    let full = drive(format!("{base}{path}"), bearer.clone(), conc, secs, None).await?;
    let half_rate = baseline.rps / 2.0;
    let paced = drive(format!("{base}{path}"), bearer, conc, secs, Some(half_rate)).await?;
    let session = Some(("cookie", cookie));
    let mut pages = Vec::new();
    for page in ["/services".to_owned(), format!("/services/{first_service}")] {
        let one = drive(format!("{base}{page}"), session.clone(), 1, secs, None).await?;
        let loaded = drive(format!("{base}{page}"), session.clone(), conc, secs, None).await?;
        pages.push((page, one, loaded));
    }
    let loaded = rss_mib(child.id())?;
    let _ = child.kill();
    let _ = child.wait();

    println!(
        "preflight benchmark ({secs} s per phase, {conc} connections, same machine, same run)"
    );
    println!(
        "start to ready (SQLite, migrations applied): {:.0} ms   budget < 500 ms",
        ready_after.as_secs_f64() * 1000.0
    );
    println!("idle memory (RSS): {idle:.1} MiB   budget < 50 MiB; after load: {loaded:.1} MiB");
    println!(
        "baseline bare axum JSON: {:.0} req/s (p50 {:?}, p99 {:?})",
        baseline.rps, baseline.p50, baseline.p99
    );
    println!(
        "preflight GET {path} (JWT, rate limit, cache, metrics, log): {:.0} req/s (p50 {:?}, p99 {:?}, errors {})",
        full.rps, full.p50, full.p99, full.errors
    );
    println!(
        "ratio preflight/baseline: {:.2}   budget >= 0.50",
        full.rps / baseline.rps
    );
    println!(
        "at half the baseline rate ({half_rate:.0} req/s offered): achieved {:.0} req/s, p99 {:?}   budget p99 < 5 ms",
        paced.rps, paced.p99
    );
    println!("database: {services} services, each with the built-in checklist attached");
    for (page, one, loaded) in &pages {
        println!(
            "web UI GET {page}: one at a time p50 {:?} (p99 {:?}) — render time plus the round trip, budget a few ms; at load {:.0} pages/s ({:.2} of baseline, errors {})",
            one.p50,
            one.p99,
            loaded.rps,
            loaded.rps / baseline.rps,
            one.errors + loaded.errors
        );
    }
    Ok(())
}

/// Registers `n` services with the built-in checklist attached; the first service's id.
async fn seed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<String> {
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/checklists"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let checklist = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["builtin"] == true))
        .and_then(|c| c["id"].as_str())
        .context("the built-in checklist")?
        .to_owned();
    let mut first = None;
    for i in 0..n.max(1) {
        let svc: serde_json::Value = client
            .post(format!("{base}/api/v1/services"))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": format!("bench-{i:04}"), "owners": [format!("team-{}", i % 10)]}))
            .send()
            .await?
            .json()
            .await?;
        let id = svc["id"].as_str().context("service id")?.to_owned();
        let res = client
            .post(format!("{base}/api/v1/services/{id}/reviews"))
            .bearer_auth(token)
            .json(&serde_json::json!({"checklist_id": checklist}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("attaching the checklist: {}", res.status());
        }
        first.get_or_insert(id);
    }
    first.context("no service")
}

/// Signs in through the web form; the session cookie (`name=value`).
async fn sign_in(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }
    let form = client.get(format!("{base}/login")).send().await?;
    let login_cookie = cookie(&form, "preflight_login").context("the sign-in form's cookie")?;
    let html = form.text().await?;
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker).context("the sign-in form's token")? + marker.len();
    let token = &html[start..start + html[start..].find('"').context("token")?];
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("{base}/login"))
        .header("cookie", login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email=bench%40example.com&password=Bench-Password-12345&token={token}&next="
        ))
        .send()
        .await?;
    cookie(&res, "preflight_session").context("signing in through the web form")
}
