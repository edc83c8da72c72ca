//! The preflight process under measurement (release binary, as users run it: `LOG_FORMAT=json
//! LOG_LEVEL=info`, its stdout drained and counted), its resource figures from `/proc`, and an
//! authenticated API client for setting it up.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::StatusCode;
use serde_json::{Value, json};

pub const EMAIL: &str = "bench@example.com";
pub const PASSWORD: &str = "Bench-Password-12345";

/// What the server's log said.
#[derive(Clone, Default)]
pub struct LogStats {
    pub lines: u64,
    pub bytes: u64,
    pub warnings: u64,
    /// Lines logging an SQL statement (with `DB_LOG_QUERIES=true`).
    pub statements: u64,
    /// The first few warnings and errors, verbatim.
    pub samples: Vec<String>,
}

/// How to start the server.
#[derive(Clone, Debug)]
pub struct Launch {
    pub bin: String,
    /// `DATABASE_URL`; `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    /// `REDIS_URL`; `None`: in-process cache and rate limiter.
    pub redis_url: Option<String>,
    /// Settings on top of the bench's defaults.
    pub env: Vec<(String, String)>,
}

impl Launch {
    pub fn new(bin: &str) -> Self {
        Self {
            bin: bin.to_owned(),
            database_url: None,
            redis_url: None,
            env: Vec::new(),
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The server process, killed when dropped; its data directory lives as long as `dir`.
///
/// Its stdout (the JSON log) goes to a file, as a container runtime's log driver would take
/// it: no reader of ours competes with the server for the CPU while it is measured.
pub struct Server {
    child: Child,
    pub base: String,
    log_path: PathBuf,
    stderr: Arc<Mutex<String>>,
    pub dir: Arc<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the server on a fresh data directory.
    pub fn start(launch: &Launch) -> anyhow::Result<Self> {
        Self::start_in(launch, Arc::new(tempfile::tempdir()?))
    }

    /// Starts the server on `dir` (say, the data of a server stopped before).
    pub fn start_in(launch: &Launch, dir: Arc<tempfile::TempDir>) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = Command::new(&launch.bin);
        cmd.arg("serve")
            .env("DATA_DIR", dir.path())
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info")
            .env("ADMIN_EMAIL", EMAIL)
            .env("ADMIN_PASSWORD", PASSWORD)
            .env("RATE_LIMIT_AUTHENTICATED", "100000000/s")
            .env("RATE_LIMIT_LOGIN", "1000/m")
            .env("RATE_LIMIT_HEALTH", "100000000/s");
        if let Some(url) = &launch.database_url {
            cmd.env("DATABASE_URL", url);
        }
        if let Some(url) = &launch.redis_url {
            cmd.env("REDIS_URL", url);
            // Each run its own keys: a second run must not start on the first one's cache.
            cmd.env(
                "REDIS_PREFIX",
                format!("bench-{}-{port}:", std::process::id()),
            );
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        // One log file per start, beside the data.
        let log_path = dir.path().join(format!("server-{port}.log"));
        let log_file = std::fs::File::create(&log_path)?;
        let mut child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it: cargo build --release -p preflight)",
                    launch.bin
                )
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = stderr.lock()
                        && s.len() < 16 * 1024
                    {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log_path,
            stderr,
            dir,
        })
    }

    /// Waits for `/health/ready`; how long it took from `since`.
    pub async fn ready(
        &mut self,
        client: &reqwest::Client,
        since: Instant,
    ) -> anyhow::Result<Duration> {
        loop {
            if let Ok(r) = client
                .get(format!("{}/health/ready", self.base))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(since.elapsed());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("preflight exited ({status}): {}", self.stderr_text());
            }
            if since.elapsed() > Duration::from_secs(60) {
                bail!("preflight did not become ready: {}", self.stderr_text());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops the server (SIGKILL: its data is committed) and hands back its data directory.
    pub fn stop(mut self) -> Arc<tempfile::TempDir> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.clone()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What the log file says so far.
    pub fn log_stats(&self) -> LogStats {
        std::fs::File::open(&self.log_path)
            .map(read_log)
            .unwrap_or_default()
    }

    pub fn rss_mib(&self) -> f64 {
        proc_mib(self.pid(), "VmRSS:").unwrap_or(f64::NAN)
    }

    /// Open file descriptors of the process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(PathBuf::from(format!("/proc/{}/fd", self.pid())))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn read_log(file: impl Read) -> LogStats {
    let mut stats = LogStats::default();
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        stats.lines += 1;
        stats.bytes += line.len() as u64 + 1;
        if line.contains("\"target\":\"sqlx::query\"") {
            stats.statements += 1;
        }
        if line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\"") {
            stats.warnings += 1;
            if stats.samples.len() < 3 {
                stats.samples.push(line.chars().take(300).collect());
            }
        }
    }
    stats
}

/// A `VmRSS:`/`VmHWM:` figure of `/proc/<pid>/status`, MiB.
pub fn proc_mib(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?
        .parse()?;
    Ok(kb / 1024.0)
}

/// An authenticated JSON client of the API.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    /// Logs in as the bench's admin.
    pub async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let login: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": EMAIL, "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["access_token"]
            .as_str()
            .context("login answered without an access_token")?
            .to_owned();
        Ok(Self {
            client: client.clone(),
            base: base.to_owned(),
            token,
        })
    }

    /// Sends `req`, expects `want`, returns the response.
    pub async fn expect(
        &self,
        req: reqwest::RequestBuilder,
        want: StatusCode,
        what: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let res = req.bearer_auth(&self.token).send().await?;
        if res.status() != want {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            bail!("{what}: {status} (wanted {want}): {body}");
        }
        Ok(res)
    }

    pub async fn created(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<String> {
        let body: Value = self
            .expect(req, StatusCode::CREATED, what)
            .await?
            .json()
            .await?;
        Ok(body["id"]
            .as_str()
            .with_context(|| format!("{what}: no id in {body}"))?
            .to_owned())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
