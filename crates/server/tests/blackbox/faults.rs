//! Faults under a write load (issue #12, item 4): every acknowledged write survives the
//! process being killed (SQLite, then `PRAGMA integrity_check`), the database refusing
//! connections for a while and a PostgreSQL server of the test's own being restarted and
//! crashed, and a Redis server of its own being killed and started again empty; and a backup
//! into a full disk fails cleanly while the service keeps serving.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::checklist_support::sql;
use crate::harness::{self, Options, TestApp};
use crate::private_servers::{PrivatePostgres, PrivateRedis};

/// Writers creating services until `stop` turns true; the ids the service acknowledged (201),
/// and how many of the other answers each status (or `transport error`) had.
struct Load {
    acknowledged: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<BTreeMap<String, usize>>>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, token: &str, writers: usize) -> Self {
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(BTreeMap::new()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let tasks = (0..writers)
            .map(|w| {
                let (client, acknowledged, refused, stopped) = (
                    client.clone(),
                    acknowledged.clone(),
                    refused.clone(),
                    stopped.clone(),
                );
                let (url, token) = (format!("{base}/api/v1/services"), token.to_owned());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !*stopped.borrow() {
                        n += 1;
                        let res = client
                            .post(&url)
                            .bearer_auth(&token)
                            .json(&json!({"name": format!("load-{w}-{n}")}))
                            .send()
                            .await;
                        match res {
                            Ok(r) if r.status() == 201 => {
                                if let Ok(body) = r.json::<Value>().await {
                                    let id = body["id"].as_str().unwrap().to_owned();
                                    acknowledged.lock().unwrap().push(id);
                                }
                            }
                            // Refused or unreachable: not acknowledged, so nothing to check.
                            other => {
                                let what = match other {
                                    Ok(r) => r.status().as_u16().to_string(),
                                    Err(_) => "transport error".to_owned(),
                                };
                                *refused.lock().unwrap().entry(what).or_default() += 1;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            acknowledged,
            refused,
            stop,
            tasks,
        }
    }

    fn refused(&self) -> BTreeMap<String, usize> {
        self.refused.lock().unwrap().clone()
    }

    fn acknowledged_so_far(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Waits until more than `n` writes have been acknowledged.
    async fn acknowledges_beyond(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.acknowledged_so_far() <= n {
            assert!(
                Instant::now() < deadline,
                "no write acknowledged beyond {n} within 15 s; refused: {:?}",
                self.refused()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(self) -> Vec<String> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.acknowledged.lock().unwrap().clone()
    }
}

/// A tmpfs of a few KiB: a disk that fills up. Mounting needs root; without it the test is
/// skipped, or fails under CI=true.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(!harness::in_ci(), "CI runs as root and can mount a tmpfs");
            eprintln!("skipping: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// Asserts every id is among the services `app` lists. Paging through the list takes a few
/// requests however many writes there were, so the check stays within the rate limit that
/// the load has used up.
async fn all_present(app: &TestApp, ids: &[String]) {
    let admin = app.as_admin().await;
    let mut listed = std::collections::HashSet::new();
    for page in 1.. {
        let body: Value = admin
            .get(&format!(
                "/api/v1/services?name=load-&per_page=200&page={page}"
            ))
            .expect_json(200)
            .await;
        let items = body["items"].as_array().unwrap();
        listed.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        if items.len() < 200 {
            break;
        }
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes missing: {missing:?}",
        missing.len(),
        ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_on_sqlite_under_writes_loses_no_acknowledged_write() {
    if harness::use_postgres() {
        eprintln!("skipping: the SQLite file is what this test kills the writer of");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        data_dir: Some(dir.path().to_owned()),
        database_url: Some(format!(
            "sqlite://{}/test.db?mode=rwc",
            dir.path().display()
        )),
        ..Default::default()
    };
    let mut app = TestApp::spawn_with(options.clone()).await;
    let token = app.admin_token().await;
    let load = Load::start(&app.base, &token, 4);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.child.kill().unwrap();
    let _ = app.child.wait();
    let acknowledged = load.finish().await;
    assert!(
        acknowledged.len() > 5,
        "the load wrote: {}",
        acknowledged.len()
    );
    assert_eq!(sql(&app, "PRAGMA integrity_check"), "ok");
    drop(app);
    let app = TestApp::spawn_with(options).await;
    all_present(&app, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusing_connections_under_writes_loses_no_acknowledged_write() {
    if !harness::use_postgres() || !harness::pg_available() {
        eprintln!("skipping: needs PREFLIGHT_TEST_DATABASE=postgres");
        return;
    }
    let app = TestApp::spawn_with(
        Options::default()
            .env("DB_ACQUIRE_TIMEOUT", "1s")
            .env("DB_IDLE_TIMEOUT", "1s"),
    )
    .await;
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let token = app.admin_token().await;
    let load = Load::start(&app.base, &token, 4);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // As good as a restart for the service: every connection dropped, new ones refused.
    harness::psql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    harness::psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The process stays live meanwhile.
    app.get("/health/live").expect_status(200).await;
    harness::psql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let acknowledged = load.finish().await;
    assert!(
        acknowledged.len() > 5,
        "the load wrote: {}",
        acknowledged.len()
    );
    all_present(&app, &acknowledged).await;
}

// Multi-threaded: the load keeps writing while the test waits for the backup process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_into_a_full_disk_fails_cleanly_and_the_service_keeps_serving() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    for i in 0..20 {
        crate::checklist_support::create_service(
            &admin,
            json!({"name": format!("filler-{i}"), "description": "x".repeat(2000)}),
        )
        .await;
    }
    let token = app.admin_token().await;
    let load = Load::start(&app.base, &token, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Some(disk) = SmallDisk::mount(&app.data_dir.join("backups"), "8k") else {
        return;
    };
    let backups = disk.path.clone();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_preflight"))
        .arg("backup")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", &app.data_dir)
        .env("DATABASE_URL", &app.database_url)
        .env("BACKUP_DIR", &backups)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the backup should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Nothing it left behind passes verification.
    for entry in std::fs::read_dir(&backups).unwrap() {
        let path = entry.unwrap().path();
        let verify = std::process::Command::new(env!("CARGO_BIN_EXE_preflight"))
            .args(["backup", "verify", path.to_str().unwrap()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", &app.data_dir)
            .env("DATABASE_URL", &app.database_url)
            .output()
            .unwrap();
        assert!(!verify.status.success(), "{} verifies", path.display());
    }
    // The failure is counted, where the backup metrics and alerts read it.
    assert_eq!(
        sql(
            &app,
            "SELECT count(*) FROM backup_runs WHERE status = 'failed'"
        ),
        "1"
    );
    let acknowledged = load.finish().await;
    assert!(!acknowledged.is_empty());
    all_present(&app, &acknowledged).await;
    app.get("/health/ready").expect_status(200).await;
}

#[tokio::test]
async fn a_query_past_the_statement_timeout_is_a_503_with_the_request_id() {
    if !harness::use_postgres() || !harness::pg_available() {
        eprintln!("skipping: needs PREFLIGHT_TEST_DATABASE=postgres (statement_timeout)");
        return;
    }
    let app = TestApp::spawn_with(Options::default().env("DB_STATEMENT_TIMEOUT", "1s")).await;
    let admin = app.as_admin().await;
    admin.get("/api/v1/services").expect_status(200).await;
    // Another session holds the table for longer than the timeout: every read of it waits.
    let mut holder = std::process::Command::new("psql")
        .args([
            app.database_url.as_str(),
            "-c",
            "BEGIN; LOCK TABLE services IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let res = admin
        .get("/api/v1/services")
        .header("x-request-id", "slow-query-1")
        .send()
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(res.headers().contains_key("retry-after"));
    let p = harness::assert_problem(res, 503).await;
    assert_eq!(p["request_id"], "slow-query-1");
    assert!(
        p["detail"].as_str().unwrap().contains("statement timeout"),
        "{p}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

// Multi-threaded: the relay and the load run while the test waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_under_writes_is_named_by_ready_and_survived() {
    if !harness::redis_available() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (up, up_rx) = tokio::sync::watch::channel(true);
    tokio::spawn(crate::observability::relay(listener, up_rx));
    let app = TestApp::spawn_with(
        Options {
            force_redis: true,
            ..Default::default()
        }
        .env("REDIS_URL", &format!("redis://127.0.0.1:{port}")),
    )
    .await;
    let token = app.admin_token().await;
    let load = Load::start(&app.base, &token, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    up.send(false).unwrap();
    let mut named = false;
    for _ in 0..50 {
        let res = app.get("/health/ready").send().await;
        if res.status() == 503 {
            let body: Value = res.json().await.unwrap();
            named = body["components"]["redis"]["status"] == "down";
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(named, "ready names Redis while it is gone");
    app.get("/health/live").expect_status(200).await;
    let during = load.acknowledged.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        load.acknowledged.lock().unwrap().len() > during,
        "writes go on without Redis (rate limits fall back to in-process)"
    );
    up.send(true).unwrap();
    let mut back = false;
    for _ in 0..100 {
        if app.get("/health/ready").status().await == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "ready recovers without a restart");
    let acknowledged = load.finish().await;
    all_present(&app, &acknowledged).await;
}

/// Polls `/health/ready` until it answers `status` (for at most `within`) and returns the body.
async fn ready_turns(app: &TestApp, status: u16, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let res = app.get("/health/ready").send().await;
        let got = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or_default();
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/health/ready still {got}, not {status}, after {within:?}: {body}"
        );
        // Answers are reused for 2 s anyway; this stays far below RATE_LIMIT_HEALTH.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// Multi-threaded: the load keeps writing while the test stops and starts the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_and_crashed_under_writes_loses_no_acknowledged_write() {
    // The server is the test's own, so one of scripts/test's four runs is enough.
    if !harness::use_postgres() || harness::use_redis() {
        eprintln!("skipping: runs with PREFLIGHT_TEST_DATABASE=postgres PREFLIGHT_TEST_REDIS=0");
        return;
    }
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let app = TestApp::spawn_with(
        Options {
            database_url: Some(pg.url()),
            ..Default::default()
        }
        // Requests during the outage give up after a second instead of the default five.
        .env("DB_ACQUIRE_TIMEOUT", "1s")
        // A fast machine's load would spend the default budget: this test is about faults.
        .env("RATE_LIMIT_AUTHENTICATED", "100000/m"),
    )
    .await;
    let token = app.admin_token().await;
    let load = Load::start(&app.base, &token, 4);
    // Callers of their own, so that their credential checks do not queue behind the load's.
    let admin = app.as_admin().await;
    // A CI client's API token, first used while the database is away: nothing cached.
    let created: Value = admin
        .post_json(
            "/api/v1/me/tokens",
            &json!({"name": "ci", "scopes": ["read"], "expires_in_days": 1}),
        )
        .expect_json(201)
        .await;
    let ci = app.as_bearer(created["token"].as_str().unwrap());
    load.acknowledges_beyond(5).await;
    // A clean restart (sessions ended, a checkpoint), then a crash (recovery from the WAL).
    for mode in ["fast", "immediate"] {
        pg.stop(mode);
        let body = ready_turns(&app, 503, Duration::from_secs(10)).await;
        assert_eq!(body["components"]["database"]["status"], "down", "{body}");
        app.get("/health/live").expect_status(200).await;
        // Meanwhile clients are told to retry: not a 500, nor a 401 for a good token.
        let (write, read) = tokio::join!(
            admin
                .post_json("/api/v1/services", &json!({"name": "while-down"}))
                .send(),
            ci.get("/api/v1/services").send(),
        );
        for res in [write, read] {
            let retry_after = res.headers().get("retry-after").cloned();
            let what = format!("{mode}: {}", res.url());
            harness::assert_problem(res, 503).await;
            assert_eq!(retry_after.unwrap(), "1", "{what}");
        }

        pg.start_again();
        ready_turns(&app, 200, Duration::from_secs(20)).await;
        // The same process writes again: its pool reconnected.
        load.acknowledges_beyond(load.acknowledged_so_far()).await;
    }
    ci.get("/api/v1/services").expect_status(200).await;
    let refused = load.refused();
    let acknowledged = load.finish().await;
    // Writes caught in flight by the shutdown or the crash were refused as retryable too.
    assert!(
        refused.keys().all(|status| status == "503"),
        "the load was answered {refused:?}"
    );
    all_present(&app, &acknowledged).await;
}

// Multi-threaded: the load keeps writing while the test kills and starts the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_under_writes_is_named_by_ready_and_survived() {
    // The server is the test's own, so one of scripts/test's four runs is enough.
    if !harness::use_redis() || harness::use_postgres() {
        eprintln!("skipping: runs with PREFLIGHT_TEST_DATABASE=sqlite PREFLIGHT_TEST_REDIS=1");
        return;
    }
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let prefix = format!("pftest:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(
        Options {
            force_redis: true,
            redis_prefix: Some(prefix.clone()),
            ..Default::default()
        }
        .env("REDIS_URL", &redis.url())
        // A fast machine's load would spend the default budget: this test is about faults.
        .env("RATE_LIMIT_AUTHENTICATED", "100000/m"),
    )
    .await;
    let token = app.admin_token().await;
    let load = Load::start(&app.base, &token, 2);
    load.acknowledges_beyond(5).await;

    redis.kill();
    let body = ready_turns(&app, 503, Duration::from_secs(10)).await;
    assert_eq!(body["components"]["redis"]["status"], "down", "{body}");
    assert_eq!(body["components"]["database"]["status"], "ok", "{body}");
    app.get("/health/live").expect_status(200).await;
    // Rate limits fall back to this process's own, the cache to misses: writes go on.
    load.acknowledges_beyond(load.acknowledged_so_far()).await;

    // A new, empty server: no data, no loaded scripts.
    redis.start_again();
    ready_turns(&app, 200, Duration::from_secs(20)).await;
    load.acknowledges_beyond(load.acknowledged_so_far()).await;
    let refused = load.refused();
    let acknowledged = load.finish().await;
    // Not one write was refused, with Redis or without.
    assert!(refused.is_empty(), "the load was answered {refused:?}");
    all_present(&app, &acknowledged).await;

    // The rate limiter counted its checks that Redis could not answer, and within a few
    // seconds it is on the new server (its script loaded anew): the count stops growing.
    let errors =
        |text: &str| harness::metric(text, "preflight_rate_limit_errors_total ").unwrap_or(0.0);
    assert!(errors(&app.metrics().await) > 0.0, "the outage was counted");
    let admin = app.as_bearer(&token);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = errors(&app.metrics().await);
        for _ in 0..3 {
            admin.get("/api/v1/services").expect_status(200).await;
        }
        if errors(&app.metrics().await) == before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rate-limit checks still fail 10 s after Redis is back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And the cache is written to it again: the reads since it came back left entries.
    let entries = redis.cli(&["--scan", "--pattern", &format!("{prefix}c:*")]);
    assert!(!entries.is_empty(), "no cache entry in the new Redis");
}
