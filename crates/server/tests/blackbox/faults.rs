//! Faults under a write load (issue #12, item 4): every acknowledged write survives the
//! process being killed (SQLite, then `PRAGMA integrity_check`) and the database refusing
//! connections for a while (PostgreSQL), and a backup into a full disk fails cleanly while
//! the service keeps serving.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::checklist_support::sql;
use crate::harness::{self, Options, TestApp};

/// Writers creating services until `stop` turns true; the ids the service acknowledged (201).
struct Load {
    acknowledged: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, token: &str, writers: usize) -> Self {
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let tasks = (0..writers)
            .map(|w| {
                let (client, acknowledged, stopped) =
                    (client.clone(), acknowledged.clone(), stopped.clone());
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
                            _ => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                })
            })
            .collect();
        Self {
            acknowledged,
            stop,
            tasks,
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

/// Asserts every id is readable on `app`.
async fn all_present(app: &TestApp, ids: &[String]) {
    let admin = app.as_admin().await;
    let page: Value = admin
        .get("/api/v1/services?name=load-&per_page=200")
        .expect_json(200)
        .await;
    let total = page["total"].as_u64().unwrap() as usize;
    assert!(
        total >= ids.len(),
        "{total} services for {} acknowledged",
        ids.len()
    );
    for id in ids {
        admin
            .get(&format!("/api/v1/services/{id}"))
            .expect_status(200)
            .await;
    }
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
