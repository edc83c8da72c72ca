//! Load from `wrk` (Debian's package): a C load generator that outruns the server, which the
//! benchmark proves by driving the bare axum baseline faster than any preflight endpoint.
//! Its text report is parsed here; wrk has no machine-readable output without a Lua script.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// One wrk run.
#[derive(Clone, Debug)]
pub struct Run {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub requests: u64,
    /// Answers other than 2xx/3xx, plus socket errors.
    pub errors: u64,
}

/// What to load.
pub struct Load<'a> {
    pub url: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub connections: usize,
    pub seconds: u64,
    /// Pause per connection between its requests (paces the load); `None`: flat out.
    pub delay: Option<Duration>,
}

/// Installs nothing: the bench script (`scripts/bench`) installs wrk with apt-get.
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// Runs wrk (one thread: the server gets the other core) and parses its report.
pub fn run(load: &Load) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let mut cmd = Command::new("wrk");
    cmd.arg("-t1")
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.seconds))
        .arg("--latency")
        .arg("--timeout")
        .arg("10s");
    for (name, value) in load.headers {
        cmd.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(delay) = load.delay {
        // wrk calls `delay()` before each request of a connection: milliseconds to wait.
        let script = dir.path().join("pace.lua");
        std::fs::write(
            &script,
            format!(
                "function delay()\n  return {}\nend\n",
                delay.as_millis().max(1)
            ),
        )?;
        cmd.arg("-s").arg(&script);
    }
    let out = cmd
        .arg(load.url)
        .output()
        .context("running wrk (scripts/bench installs it: apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text).with_context(|| format!("parsing wrk's report:\n{text}"))
}

fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

fn parse(text: &str) -> anyhow::Result<Run> {
    let mut run = Run {
        rps: 0.0,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        requests: 0,
        errors: 0,
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50 = duration(v).context("p50")?,
            ["99%", v] => run.p99 = duration(v).context("p99")?,
            ["Requests/sec:", v] => run.rps = v.parse()?,
            [n, "requests", "in", ..] => run.requests = n.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => run.errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                for pair in rest.chunks(2) {
                    if let [_, n] = pair {
                        run.errors += n.trim_end_matches(',').parse::<u64>().unwrap_or(0);
                    }
                }
            }
            _ => {}
        }
    }
    if run.requests == 0 {
        bail!("no requests completed");
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_wrk_report() {
        let report = "Running 2s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   610.00us  100.00us   2.00ms   90.00%\n    Req/Sec    50.00k     1.00k   52.00k    80.00%\n  Latency Distribution\n     50%  600.00us\n     75%  650.00us\n     90%  700.00us\n     99%    1.20ms\n  99000 requests in 2.00s, 10.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\nRequests/sec:  49500.00\nTransfer/sec:      5.00MB\n";
        let run = parse(report).unwrap();
        assert_eq!(run.requests, 99_000);
        assert!((run.rps - 49_500.0).abs() < 0.1);
        assert_eq!(run.p50, Duration::from_micros(600));
        assert_eq!(run.p99, Duration::from_micros(1200));
        assert_eq!(run.errors, 7);
    }
}
