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

use reqwest::{Method, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

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
            // Probes reach only what a test starts: the runner is on where a test says so.
            .env("PROBE_SCHEDULER", "false")
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
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .expect_json(200)
        .await
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Creates a user with `role` and returns its email and access token.
    pub async fn user_token(&self, role: &str) -> (String, String) {
        let admin = self.as_admin().await;
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        admin
            .post_json(
                "/api/v1/users",
                &json!({"email": email, "password": ADMIN_PASSWORD, "role": role}),
            )
            .expect_status(201)
            .await;
        let token = self.login(&email, ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        (email, token)
    }

    /// The bootstrap admin, freshly logged in.
    pub async fn as_admin(&self) -> Caller<'_> {
        self.as_bearer(&self.admin_token().await)
    }

    /// A new user with `role`, logged in: its email, and calls made as that user.
    pub async fn as_new_user(&self, role: &str) -> (String, Caller<'_>) {
        let (email, token) = self.user_token(role).await;
        (email, self.as_bearer(&token))
    }

    /// Calls made with `token` (an access or API token) as the bearer credential.
    pub fn as_bearer(&self, token: &str) -> Caller<'_> {
        Caller {
            app: self,
            token: token.to_owned(),
        }
    }

    /// An anonymous request to `path` (add a credential with [`Call::bearer`]).
    pub fn request(&self, method: Method, path: &str) -> Call {
        Call {
            what: format!("{method} {path}"),
            req: self.client.request(method, self.url(path)),
            fresh_connection: false,
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }

    /// POSTs `body` as JSON.
    pub fn post_json(&self, path: &str, body: &impl Serialize) -> Call {
        self.post(path).json(body)
    }

    /// The Prometheus exposition, as a scraper holding the metrics token reads it.
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .bearer(&self.metrics_token)
            .expect_text(200)
            .await
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
pub async fn assert_problem(res: Response, status: u16) -> Value {
    let url = res.url().clone();
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.expect("problem body");
    assert_eq!(got, status, "unexpected status from {url}: {text}");
    assert_eq!(ct, "application/problem+json", "content type of a {status}");
    let body: Value = serde_json::from_str(&text).expect("problem json");
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

/// Calls made with one bearer token: a logged-in user, or a client holding an API token.
#[derive(Clone)]
pub struct Caller<'a> {
    app: &'a TestApp,
    token: String,
}

impl Caller<'_> {
    /// The bearer token these calls carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn request(&self, method: Method, path: &str) -> Call {
        self.app.request(method, path).bearer(&self.token)
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> Call {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }

    /// POSTs `body` as JSON.
    pub fn post_json(&self, path: &str, body: &impl Serialize) -> Call {
        self.post(path).json(body)
    }
}

/// One request to the service, built up and then sent; the `expect_*` methods assert the
/// exact status and name the request and the response body when it is another.
#[must_use = "a request does nothing until it is sent"]
pub struct Call {
    /// Method and path, for failure messages.
    what: String,
    req: reqwest::RequestBuilder,
    fresh_connection: bool,
}

impl Call {
    pub fn bearer(mut self, token: &str) -> Self {
        self.req = self.req.bearer_auth(token);
        self
    }

    pub fn json(mut self, body: &impl Serialize) -> Self {
        self.req = self.req.json(body);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, value);
        self
    }

    pub fn if_match(self, etag: &str) -> Self {
        self.header("if-match", etag)
    }

    /// A raw body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<reqwest::Body>) -> Self {
        self.req = self.req.header("content-type", content_type).body(body);
        self
    }

    /// A Markdown body (`text/markdown`).
    pub fn markdown(self, text: &str) -> Self {
        self.body("text/markdown", text.to_owned())
    }

    /// Sends on a connection of its own that is not reused afterwards: for requests the
    /// server refuses by closing the connection, which must not break the next request.
    pub fn on_fresh_connection(mut self) -> Self {
        self.fresh_connection = true;
        self
    }

    /// Sends the request; a transport error is returned, not a panic.
    pub async fn try_send(self) -> reqwest::Result<Response> {
        let (client, req) = self.req.build_split();
        let client = if self.fresh_connection {
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()?
        } else {
            client
        };
        client.execute(req?).await
    }

    /// Sends the request; any status is returned as it is.
    pub async fn send(self) -> Response {
        let what = self.what.clone();
        self.try_send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Sends the request and returns the status code.
    pub async fn status(self) -> u16 {
        self.send().await.status().as_u16()
    }

    /// Sends the request and asserts the status; the response is returned for its headers
    /// and body.
    pub async fn expect_status(self, status: u16) -> Response {
        let what = self.what.clone();
        let res = self.send().await;
        let got = res.status().as_u16();
        if got != status {
            let body = res.text().await.unwrap_or_default();
            panic!("{what}: expected {status}, got {got}: {body}");
        }
        res
    }

    /// Asserts the status and decodes the JSON body.
    pub async fn expect_json<T: DeserializeOwned>(self, status: u16) -> T {
        let what = self.what.clone();
        let res = self.expect_status(status).await;
        res.json()
            .await
            .unwrap_or_else(|e| panic!("{what}: body is not the expected JSON: {e}"))
    }

    /// Asserts the status and returns the body as text.
    pub async fn expect_text(self, status: u16) -> String {
        let what = self.what.clone();
        let res = self.expect_status(status).await;
        res.text()
            .await
            .unwrap_or_else(|e| panic!("{what}: body: {e}"))
    }

    /// Asserts the response is a problem document with `status` and returns it.
    pub async fn expect_problem(self, status: u16) -> Value {
        assert_problem(self.send().await, status).await
    }
}

/// The value of the first sample in a Prometheus exposition whose line starts with `prefix`
/// (a name, or a name and labels).
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
