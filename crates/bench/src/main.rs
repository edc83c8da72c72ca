//! `scripts/bench [--check]` (installs wrk, builds the release binaries, runs this).
//!
//! Measures preflight as users run it, in one run on one machine (ratios to a bare axum
//! baseline measured in the same run, not absolute numbers, are what the budgets are about,
//! because these machines are shared and noisy):
//! - [`http_load`]: start-up, memory, and every hot endpoint under `wrk` on a database of
//!   `--services` services with the seed checklist attached, per backend configuration;
//! - [`sizes`]: the overview at 100 / 1,000 / 10,000 services;
//! - [`probe_round`]: one replica verifying 1,000 local targets per round.
//!
//! `--check` exits 1 when a budget is missed. It is a benchmark, not a test: CI times nothing.

use std::process::ExitCode;

use anyhow::Context;

mod baseline;
mod http_load;
mod http_report;
mod populate;
mod probe_round;
mod server;
mod sizes;
mod wrk;

const HELP: &str = "\
usage: preflight-bench [http | sizes | probe-round] [options]

  (no command)            every phase: HTTP load per backend, sizes, the probe round
  http                    only the HTTP load phases
  sizes                   only the overview by number of services
  probe-round             only the probe round: 1,000 automated checks against local targets

options:
  --seconds N             seconds per wrk phase (default 10)
  --concurrency N         connections of the wrk phases (default 32)
  --services N            services of the HTTP phases (default 200)
  --backends LIST         of sqlite, redis, postgres (default: all that are reachable;
                          budgets are judged on sqlite)
  --sizes LIST            service counts of the sizes phase (default 100,1000,10000)
  --probe-services N      services (= target listeners) of the probe round (default 20)
  --probe-items N         automated items per service (default 50)
  --check                 exit 1 when a budget is missed
  -h, --help              this text

environment: PREFLIGHT_BIN (default $CARGO_TARGET_DIR/release/preflight, else
target/release/preflight); BENCH_REDIS_URL (default redis://127.0.0.1:6379),
BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test; a fresh database is
created beside it for each run); PROBE_CONCURRENCY, PROBE_HOST_CONCURRENCY and PROBE_QUEUE
reach the probe round's server.
";

fn args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

fn value(name: &str) -> Option<String> {
    let args = args();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn number(name: &str, default: u64) -> anyhow::Result<u64> {
    value(name).map_or(Ok(default), |v| {
        v.parse()
            .with_context(|| format!("{name} wants a number, got {v:?}"))
    })
}

fn flag(name: &str) -> bool {
    args().iter().any(|a| a == name)
}

fn command() -> Option<String> {
    args().into_iter().next().filter(|a| !a.starts_with('-'))
}

fn reachable(addr: &str) -> bool {
    addr.parse::<std::net::SocketAddr>().is_ok_and(|a| {
        std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_millis(500)).is_ok()
    })
}

/// A fresh PostgreSQL database beside `base` (same server), via `psql`.
fn fresh_postgres(base: &str) -> anyhow::Result<String> {
    let name = format!("preflight_bench_{}", std::process::id());
    let status = std::process::Command::new("psql")
        .arg(base)
        // One statement per -c: psql sends a single -c as one transaction, which DROP
        // DATABASE and CREATE DATABASE refuse.
        .arg("-q")
        .arg("-c")
        .arg(format!("DROP DATABASE IF EXISTS {name}"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .context("running psql to create the benchmark's database")?;
    anyhow::ensure!(status.success(), "psql could not create {name}");
    let (server, _) = base
        .rsplit_once('/')
        .context("BENCH_POSTGRES_URL has no database")?;
    Ok(format!("{server}/{name}"))
}

fn configs() -> anyhow::Result<Vec<http_load::Config>> {
    let wanted = value("--backends").unwrap_or_else(|| "sqlite,redis,postgres".to_owned());
    let explicit = value("--backends").is_some();
    let redis = std::env::var("BENCH_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let pg = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
    let mut out = Vec::new();
    for name in wanted.split(',').map(str::trim) {
        let config = match name {
            "sqlite" => http_load::Config {
                label: "SQLite, in-process cache and rate limiter",
                database_url: None,
                redis_url: None,
                judged: true,
            },
            "redis" if explicit || reachable("127.0.0.1:6379") => http_load::Config {
                label: "SQLite, Redis cache and rate limiter",
                database_url: None,
                redis_url: Some(redis.clone()),
                judged: false,
            },
            "postgres" if explicit || reachable("127.0.0.1:5432") => http_load::Config {
                label: "PostgreSQL, in-process cache and rate limiter",
                database_url: Some(fresh_postgres(&pg)?),
                redis_url: None,
                judged: false,
            },
            "redis" | "postgres" => {
                println!("skipping {name}: not reachable");
                continue;
            }
            other => anyhow::bail!("unknown backend {other:?} (sqlite, redis, postgres)"),
        };
        out.push(config);
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    if flag("--help") || flag("-h") {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    let command = command();
    if command.as_deref() == Some("baseline") {
        let port = args().get(1).context("baseline PORT")?.parse()?;
        // Its own process and runtime, like a real server: the bench's own load stays out.
        std::thread::spawn(move || baseline::serve_baseline(port))
            .join()
            .map_err(|_| anyhow::anyhow!("the baseline panicked"))??;
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
    let all = command.is_none();
    let mut passed = true;
    let connections = usize::try_from(number("--concurrency", 32)?)?;

    if all || command.as_deref() == Some("http") {
        anyhow::ensure!(
            wrk::available(),
            "wrk is missing: scripts/bench installs it"
        );
        let opts = http_load::Options {
            bin: bin.clone(),
            seconds: number("--seconds", 10)?,
            connections,
            services: usize::try_from(number("--services", 200)?)?.max(21),
        };
        println!(
            "preflight benchmark: release binary, LOG_FORMAT=json LOG_LEVEL=info, wrk -t1 -c{connections}, {} s per phase",
            opts.seconds
        );
        for config in configs()? {
            let report = http_load::measure(&opts, &config).await?;
            report.print();
            passed &= !config.judged || report.passed();
        }
    }
    if all || command.as_deref() == Some("sizes") {
        anyhow::ensure!(
            wrk::available(),
            "wrk is missing: scripts/bench installs it"
        );
        let sizes: Vec<usize> = value("--sizes")
            .unwrap_or_else(|| "100,1000,10000".into())
            .split(',')
            .map(|s| s.trim().parse().context("--sizes wants numbers"))
            .collect::<anyhow::Result<_>>()?;
        sizes::print(&sizes::measure(&bin, &sizes, connections).await?);
    }
    if all || command.as_deref() == Some("probe-round") {
        let opts = probe_round::Options {
            bin,
            services: usize::try_from(number("--probe-services", 20)?)?,
            items: usize::try_from(number("--probe-items", 50)?)?,
        };
        let report = probe_round::run(&opts).await?;
        report.print();
        passed &= report.passed();
    }
    if !matches!(
        command.as_deref(),
        None | Some("http" | "sizes" | "probe-round")
    ) {
        anyhow::bail!("unknown command; see --help");
    }
    Ok(if flag("--check") && !passed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
