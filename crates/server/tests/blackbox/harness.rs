//! Starts the real `preflight` binary on a free port against a fresh database.
//!
//! The backend comes from `PREFLIGHT_TEST_DATABASE` (`sqlite`, the default, or `postgres`) and
//! Redis is used when `PREFLIGHT_TEST_REDIS=1`; `scripts/test` runs the suite in each
//! combination. With `CI=true` a missing PostgreSQL or Redis fails the test instead of skipping.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const ADMIN_PASSWORD: &str = "Correct-Horse-Battery-42";
pub const ORIGIN: &str = "https://app.example.com";

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

pub fn use_postgres() -> bool {
    std::env::var("PREFLIGHT_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

pub fn use_redis() -> bool {
    std::env::var("PREFLIGHT_TEST_REDIS").is_ok_and(|v| v == "1" || v == "true")
}

pub fn pg_admin_url() -> String {
    std::env::var("PREFLIGHT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether Redis answers; panics in CI when it does not.
pub fn redis_available() -> bool {
    let ok = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().expect("static address"),
        Duration::from_secs(1),
    )
    .is_ok();
    if !ok {
        assert!(
            !in_ci(),
            "Redis is required in CI but unreachable at 127.0.0.1:6379"
        );
        eprintln!("skipping: Redis unreachable at 127.0.0.1:6379");
    }
    ok
}

/// A throwaway PostgreSQL database, dropped when this value is dropped.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let name = format!("pf_test_{}", uuid::Uuid::new_v4().simple());
        psql(&format!("CREATE DATABASE {name}"));
        let admin = pg_admin_url();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            psql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
        });
    }
}

/// Runs SQL against the admin database with `psql`.
pub fn psql(sql: &str) -> String {
    psql_on(&pg_admin_url(), sql)
}

pub fn psql_on(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn pg_available() -> bool {
    let ok = Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(!in_ci(), "PostgreSQL is required in CI but unreachable");
        eprintln!("skipping: PostgreSQL unreachable at 127.0.0.1:5432");
    }
    ok
}

/// Options for one service instance.
#[derive(Clone, Default)]
pub struct Options {
    pub env: HashMap<String, String>,
    /// Share this database instead of creating one (two instances on one store).
    pub database_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub force_redis: bool,
    /// Use this data directory (to restart on the same keys) instead of a fresh one.
    pub data_dir: Option<std::path::PathBuf>,
}

impl Options {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }
}

/// A running service.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub metrics_token: String,
    pub database_url: String,
    pub data_dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub child: Child,
    pub logs: Arc<Mutex<Vec<String>>>,
    _pg: Option<PgDatabase>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> Self {
        let tmp = match &opts.data_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().expect("temp dir")),
        };
        let data_dir = opts
            .data_dir
            .clone()
            .or_else(|| tmp.as_ref().map(|t| t.path().to_owned()))
            .expect("a data dir");
        let (database_url, pg) = match opts.database_url.clone() {
            Some(url) => (url, None),
            None if use_postgres() => {
                assert!(pg_available() || !in_ci());
                let db = PgDatabase::create();
                (db.url.clone(), Some(db))
            }
            None => (
                format!("sqlite://{}/test.db?mode=rwc", data_dir.display()),
                None,
            ),
        };
        let redis_prefix = if use_redis() || opts.force_redis {
            Some(
                opts.redis_prefix
                    .clone()
                    .unwrap_or_else(|| format!("pftest:{}:", uuid::Uuid::new_v4().simple())),
            )
        } else {
            None
        };
        let metrics_token = format!("metrics-{}", uuid::Uuid::new_v4().simple());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ENVIRONMENT", "development")
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("DATA_DIR", &data_dir)
            .env("DATABASE_URL", &database_url)
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info")
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ALLOWED_ORIGINS", ORIGIN)
            .env("METRICS_TOKEN", &metrics_token)
            .current_dir(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(prefix) = &redis_prefix {
            cmd.env("REDIS_URL", redis_url())
                .env("REDIS_PREFIX", prefix);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start preflight");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let logs = logs.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("preflight is listening") {
                        let _ = tx.send(line.clone());
                    }
                    logs.lock().expect("logs lock").push(line);
                }
            });
        }
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "preflight did not start; output:\n{}",
                    logs.lock().expect("logs lock").join("\n")
                )
            });
        let v: Value = serde_json::from_str(&line).expect("listening line is JSON");
        let addr = v["address"].as_str().expect("address field").to_owned();
        let tls = v["tls"].as_bool().unwrap_or(false);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // Test certificates are self-signed; the test checks TLS is served, not the PKI.
            .tls_danger_accept_invalid_certs(tls)
            .build()
            .expect("client");
        Self {
            base: format!("{}://{addr}", if tls { "https" } else { "http" }),
            client,
            metrics_token,
            database_url,
            data_dir,
            _tmp: tmp,
            child,
            logs,
            _pg: pg,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().expect("logs lock").join("\n")
    }

    /// Logs in and returns the token response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let res = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request");
        assert_eq!(res.status(), 200, "login failed: {:?}", res.text().await);
        res.json().await.expect("login json")
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Creates a user with `role` and returns its access token.
    pub async fn user_token(&self, role: &str) -> (String, String) {
        let admin = self.admin_token().await;
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let res = self
            .client
            .post(self.url("/api/v1/users"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"email": email, "password": ADMIN_PASSWORD, "role": role}))
            .send()
            .await
            .expect("create user");
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let token = self.login(&email, ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        (email, token)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "preflight did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts a response is a problem document with `status` and returns it.
pub async fn assert_problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json", "content type of a {status}");
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:preflight:problem:")),
        "stable type: {body}"
    );
    assert!(body["title"].is_string());
    body
}
