//! A PostgreSQL and a Redis server of a test's own, which the test may stop, crash or kill
//! without disturbing the servers other tests share. Each listens on 127.0.0.1 only, on a free
//! port, and is stopped (its files removed) when dropped, a failed test included.
//!
//! Their binaries come from Debian's packages (`postgresql`, `redis-server`), which `.ci/run`
//! installs: without them a test is skipped, or fails under CI=true.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness;

/// A port nobody listens on now (the server binds it a moment later; a clash is unlikely).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Says the test is skipped for want of `what`; under CI=true, fails it instead.
fn unavailable(what: &str) {
    assert!(!harness::in_ci(), "{what} is required in CI");
    eprintln!("skipping: {what} is not available");
}

fn output(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} could not run: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding the server's binaries.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    let out = output(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A PostgreSQL server in a temporary directory, with trust authentication, database
/// `postgres`, user `postgres`.
pub struct PrivatePostgres {
    bin: PathBuf,
    /// `initdb` and `postgres` refuse to run as root: as root, they run as the `postgres` user.
    run_as_postgres: bool,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// Creates and starts the server; `None` when skipped.
    pub fn start() -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            unavailable("the PostgreSQL server (/usr/lib/postgresql/<version>/bin)");
            return None;
        };
        let run_as_postgres = running_as_root();
        if run_as_postgres
            && !Command::new("id")
                .arg("postgres")
                .output()
                .is_ok_and(|o| o.status.success())
        {
            unavailable("the postgres OS user");
            return None;
        }
        // Under /tmp, which every user may enter; owned by whoever runs the server.
        let dir = tempfile::Builder::new()
            .prefix("pf-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        if run_as_postgres {
            output(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(dir.path()),
            );
        }
        let pg = Self {
            bin,
            run_as_postgres,
            dir,
            port: free_port(),
        };
        // No fsync, here or in the server: the tests crash the server, never the machine, and
        // what it wrote (the WAL at every commit) survives its crash in the page cache just
        // the same. Syncing would cost seconds, most of them in recovery after a crash.
        pg.run("initdb", |c| {
            c.arg("-D")
                .arg(pg.data())
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
                .arg("--no-sync")
        });
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             shared_buffers = 16MB\nmax_connections = 30\nfsync = off\n",
            pg.port,
            pg.dir.path().display()
        );
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(pg.data().join("postgresql.conf"))
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        pg.start_again();
        Some(pg)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Runs a PostgreSQL binary (as `postgres` when root), panicking with the server's log
    /// when it fails.
    fn run(&self, tool: &str, args: impl FnOnce(&mut Command) -> &mut Command) {
        let out = self.try_run(tool, args);
        assert!(
            out.status.success(),
            "{tool} failed: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    fn try_run(&self, tool: &str, args: impl FnOnce(&mut Command) -> &mut Command) -> Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        // The postgres user may not be able to enter the test's working directory.
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        args(&mut cmd)
            .output()
            .unwrap_or_else(|e| panic!("{tool} could not run: {e}"))
    }

    /// Starts the server on its port and data directory, returning once it accepts connections.
    pub fn start_again(&self) {
        self.run("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.log())
                .args(["-w", "-t", "60", "start"])
        });
    }

    /// Stops the server with `mode`: `fast` (a clean shutdown: sessions are ended, a
    /// checkpoint written) or `immediate` (a crash: the next start recovers from the WAL).
    pub fn stop(&self, mode: &str) {
        self.run("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data())
                .args(["-m", mode, "-w", "-t", "60", "stop"])
        });
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Already stopped is fine; the directory goes with `dir`.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.try_run("pg_ctl", |c| {
                c.arg("-D")
                    .arg(self.data())
                    .args(["-m", "immediate", "-w", "stop"])
            })
        }));
    }
}

/// A `redis-server` without persistence: killed and started again, it comes back empty.
pub struct PrivateRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts the server; `None` when skipped.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            unavailable("redis-server");
            return None;
        }
        let mut redis = Self {
            dir: tempfile::Builder::new()
                .prefix("pf-redis-")
                .tempdir()
                .unwrap(),
            port: free_port(),
            child: None,
        };
        redis.start_again();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts a new server on the same port, returning once it accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "Redis is running already");
        let log = self.dir.path().join("redis.log");
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "redis-server did not start ({exited:?}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, connections cut where they stand.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("Redis is running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = output(
            Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(args),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
