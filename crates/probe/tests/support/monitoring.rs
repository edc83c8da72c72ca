//! Real Prometheus and Alertmanager servers (the Debian binaries `prometheus` and
//! `prometheus-alertmanager`) for the monitoring tests: started on free ports of 127.0.0.1 with
//! temporary directories, waited for (bounded), and killed when their guard is dropped.
//!
//! When a binary is not installed the test is skipped with a message, except with `CI=true`,
//! where it fails: CI must exercise the real servers.

#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use url::Url;

/// How long a server may take to answer its readiness endpoint.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The installed binary, or `None` (with a message) when the test should be skipped.
///
/// # Panics
/// When the binary is missing and `CI=true`.
pub fn binary(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let hint = "apt-get install prometheus prometheus-alertmanager";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed; with CI=true the monitoring tests must run against the real binary ({hint})"
        );
        eprintln!(
            "skipping: {name} is not installed ({hint}); with CI=true this test fails instead"
        );
    }
    found
}

/// A running server; killed (and reaped) on drop.
pub struct Server {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: Url,
    /// Its temporary directory (configuration, storage, log).
    pub dir: TempDir,
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A client for the tests' own readiness polls (no proxy: everything is on 127.0.0.1).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("test HTTP client")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Starts `binary` in a fresh temporary directory prepared by `setup`, with the arguments
/// `args(port, dir)`, and waits until `GET ready_path` answers 200. A start that loses its
/// port to another process is retried on a new port.
pub async fn start(
    binary: &Path,
    ready_path: &str,
    setup: impl Fn(&Path),
    args: impl Fn(u16, &Path) -> Vec<String>,
) -> Server {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for attempt in 1..=3 {
        let dir = TempDir::new().expect("temp dir");
        setup(dir.path());
        let port = free_port();
        let log = dir.path().join(format!("{name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file handle");
        let child = Command::new(binary)
            .args(args(port, dir.path()))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let mut server = Server {
            url: Url::parse(&format!("http://127.0.0.1:{port}")).expect("server URL"),
            dir,
            child,
            log,
        };
        match wait_ready(&mut server, ready_path).await {
            Ok(()) => return server,
            Err(true) if attempt < 3 => {
                // Dropping the guard reaps it; try again on another port.
                eprintln!(
                    "{name} exited at start (port {port} taken?), retrying:\n{}",
                    server.log_tail()
                );
            }
            Err(exited) => panic!(
                "{name} {} within {START_TIMEOUT:?}; its log ends with:\n{}",
                if exited {
                    "exited before it was ready"
                } else {
                    "did not become ready"
                },
                server.log_tail()
            ),
        }
    }
    panic!("{name} could not be started")
}

/// `Err(true)` when the process exited, `Err(false)` on timeout.
async fn wait_ready(server: &mut Server, ready_path: &str) -> Result<(), bool> {
    let client = client();
    let url = server.url.join(ready_path).expect("ready URL");
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if matches!(server.child.try_wait(), Ok(Some(_))) {
            return Err(true);
        }
        if let Ok(response) = client.get(url.clone()).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(false)
}

/// Polls `probe` until it returns `Ok`, at most `timeout`; panics with its last complaint.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(()) => return,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what} did not happen within {timeout:?}: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Prometheus scraping `jobs` (name, `host:port`) every second, with the rule file `rules`.
pub async fn prometheus(binary: &Path, jobs: &[(&str, String)], rules: &str) -> Server {
    let setup = |dir: &Path| {
        let rules_path = dir.join("rules.yml");
        std::fs::write(&rules_path, rules).expect("write rules");
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - '{}'\nscrape_configs:\n",
            rules_path.display()
        );
        for (job, address) in jobs {
            config.push_str(&format!(
                "  - job_name: '{job}'\n    static_configs:\n      - targets: ['{address}']\n"
            ));
        }
        std::fs::write(dir.join("prometheus.yml"), config).expect("write config");
    };
    start(binary, "/-/ready", setup, |port, dir| {
        vec![
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ]
    })
    .await
}

/// Alertmanager with `config` (YAML), clustering disabled.
pub async fn alertmanager(binary: &Path, config: &str) -> Server {
    let setup = |dir: &Path| {
        std::fs::write(dir.join("alertmanager.yml"), config).expect("write config");
    };
    start(binary, "/-/ready", setup, |port, dir| {
        vec![
            format!("--config.file={}", dir.join("alertmanager.yml").display()),
            format!("--storage.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_owned(),
        ]
    })
    .await
}
