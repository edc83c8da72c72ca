#!/usr/bin/env python3
"""Soak test: a mixed load at half capacity for a long time, watching for anything that grows
(issue #12, item 5).

Starts the release binary on 127.0.0.1 (a temporary SQLite database unless --database-url),
populates it through the API (50 services, each with the seed checklist attached), measures
what the mix sustains flat out for a few seconds, then paces the same mix at half that rate
(open loop: a schedule of start times, not "as fast as the answers come") for --duration.
Every --interval it prints requests, 5xx, other non-2xx by status, p50/p99 latency, and the
server's RSS, open file descriptors, threads and database connections; at the end a verdict.

    python3 ops/soak.py --bin target/release/preflight                      # 60 s, a row every 10 s
    python3 ops/soak.py --bin target/release/preflight --duration 30m --interval 1m --warmup 5 --json soak.json

Exit status: 0 when the verdict passes, 1 when a check fails (any 5xx or transport error,
growth past the tolerances, the server dying or not stopping cleanly), 2 on a usage or setup
error. The tolerances are described in docs/reliability.md ("Soak"). Only the standard
library: load comes from processes of threads with keep-alive connections (http.client).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_CHECKLIST = REPO / "examples" / "seed" / "production-checklist.en.md"
API = "/api/v1"

# The mix, by weight per 100 operations. A write is a read of the item (for its ETag and
# state) followed by the sign-off or reset sent with If-Match; a login signs in again and
# signs the previous session out, so sessions do not pile up faster than a real team's.
MIX = {
    "overview": 12,  # GET /readiness: every service at a glance
    "service_readiness": 22,  # GET /services/{id}/readiness
    "review_readiness": 6,  # GET /reviews/{id}/readiness
    "review_item": 8,  # GET /reviews/{id}/items/{key}
    "service_list": 4,  # GET /services
    "item_write": 24,  # GET + POST /reviews/{id}/items/{key} (sign_off / reset)
    "review_markdown": 7,  # GET /reviews/{id}?format=markdown
    "review_json": 7,  # GET /reviews/{id}
    "checklist_markdown": 5,  # GET /checklists/{id}, Accept: text/markdown
    "login": 5,  # POST /auth/login + POST /auth/logout
}

# Tolerances of the verdict (see docs/reliability.md). The first --warmup intervals are
# skipped for growth: caches, the SQLite page cache and the pool fill up there.
RSS_GROWTH_FRACTION = 0.20
RSS_GROWTH_MIB = 10.0
FD_GROWTH = 10
P99_FACTOR = 3.0
# p99 is noisy in milliseconds on a shared 2-core machine: a rise smaller than this is not a
# trend even when it is 3x.
P99_SLACK_MS = 25.0
# A rise of p99 is not the server's when, in the last intervals against the first ones, other
# processes took this many more cores or tasks waited for a core or for the disk this many
# percentage points more of the time (PSI), while the server's CPU per request rose less than
# this share.
OTHER_CORES_MARGIN = 0.25
PRESSURE_MARGIN_PCT = 10.0
CPU_PER_REQUEST_MARGIN = 0.25
# An operation that starts this late against its schedule means the generator fell behind.
LATE_MS = 100.0
# Pool size given to the server (DB_MAX_CONNECTIONS), so that the verdict knows the ceiling.
DEFAULT_POOL = 10
# Access tokens live 15 minutes by default: a client signs in again well before that.
TOKEN_REFRESH_S = 300.0


class SetupError(Exception):
    """Something stopped the soak before the load (no binary, no readiness, a refused call)."""


# --------------------------------------------------------------------------------------------
# HTTP client: one keep-alive connection per thread.


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float

    def json(self):
        return json.loads(self.body or b"null")


class Http:
    """A keep-alive HTTP/1.1 connection to the server. A connection the server closed while idle
    is reopened once (what every pooled client does); any other transport failure raises."""

    def __init__(self, port: int, timeout: float = 15.0):
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> Answer:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = self.open()
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                res = self.conn.getresponse()
                payload = res.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1:
                    self.reconnects += 1
                    continue
                raise
            except Exception:
                self.close()
                raise
            ms = (time.perf_counter() - start) * 1000.0
            if res.will_close:
                self.close()
            return Answer(res.status, {k.lower(): v for k, v in res.getheaders()}, payload, ms)
        raise AssertionError("unreachable")

    def open(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        conn.connect()  # a refusal raises here, to the caller, which records it
        # No Nagle on the client side: its delay would be counted as the server's.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def quote(segment: str) -> str:
    """A path segment, `/` included, as the API wants item keys (`%2F`)."""
    return urllib.parse.quote(segment, safe="")


# --------------------------------------------------------------------------------------------
# The server under test.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    binary: Path
    workdir: Path
    database_url: str | None
    redis_url: str | None
    pool: int
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_email: str = field(default_factory=lambda: f"soak-admin-{secrets.token_hex(4)}@preflight.local")
    # Generated per run and never printed: neither belongs in a report.
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18) + "-Aa1")
    metrics_token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = None
    log_name: str = "server.log"

    @property
    def log_path(self) -> Path:
        return self.workdir / self.log_name

    @property
    def sqlite_path(self) -> Path | None:
        return None if self.database_url else self.workdir / "soak.db"

    def env(self) -> dict[str, str]:
        generous = "1000000/m"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ENVIRONMENT": "development",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATA_DIR": str(self.workdir),
            "BACKUP_DIR": str(self.workdir / "backups"),
            "DATABASE_URL": self.database_url or f"sqlite://{self.sqlite_path}?mode=rwc",
            "DB_MAX_CONNECTIONS": str(self.pool),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "ADMIN_EMAIL": self.admin_email,
            "ADMIN_PASSWORD": self.admin_password,
            "METRICS_TOKEN": self.metrics_token,
            # The limits stay on (their code runs on every request) but far above the load:
            # all clients come from 127.0.0.1 and share a handful of accounts.
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_ANONYMOUS": generous,
            "RATE_LIMIT_AUTHENTICATED": generous,
            "RATE_LIMIT_LOGIN": generous,
            "RATE_LIMIT_LOGIN_ADDRESS": generous,
            "RATE_LIMIT_LOGIN_ACCOUNT": generous,
            "RATE_LIMIT_HEALTH": generous,
            # The seed checklist has no automated items; should one appear, probes stay local.
            "PROBE_ALLOW_NETWORKS": "127.0.0.0/8",
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return {**env, **self.extra_env}

    def start(self, log_name: str = "server.log", timeout: float = 30.0, attempts: int = 3) -> None:
        """Starts the server and waits for /health/ready. The port was free when picked, but
        another process on a shared machine may take it first: then a new one is tried."""
        self.log_name = log_name
        (self.workdir / "backups").mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(
                    [str(self.binary), "serve"], env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
                )
            if self.wait_ready(timeout):
                return
            if attempt == attempts or "in use" not in self.log_tail():
                raise SetupError(f"the server exited with {self.proc.returncode} before ready:\n{self.log_tail()}")
            self.port = free_port()

    def wait_ready(self, timeout: float) -> bool:
        """True once /health/ready answers 200 from this process (not from another one that
        took the port); False when the process exits first."""
        client = Http(self.port, timeout=2.0)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            try:
                if listens_on(self.proc.pid, self.port) and client.request("GET", "/health/ready").status == 200:
                    client.close()
                    return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SetupError(f"/health/ready was not 200 within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)
        return False

    def restart(self, log_name: str) -> None:
        """A new process on the same database (and a new port: the old one may linger)."""
        code = self.stop()
        if code != 0:
            raise SetupError(f"the server exited with {code} on SIGTERM:\n{self.log_tail()}")
        self.port = free_port()
        self.start(log_name)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, as an orchestrator stops it; the exit code (None when it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening TCP socket on `port`."""
    inodes = {t[len("socket:["):-1] for t in fd_targets(pid) if t.startswith("socket:[")}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        for r in rows:
            # local_address is HEX_IP:HEX_PORT, state 0A is LISTEN, inode is the tenth field.
            if int(r[1].rsplit(":", 1)[1], 16) == port and r[3] == "0A" and r[9] in inodes:
                return True
    return False


# --------------------------------------------------------------------------------------------
# What the server holds: read from /proc, its own /metrics, and pg_stat_activity.


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem (KiB) and Threads from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[name] = int(value.split()[0])
    return out


def fd_targets(pid: int) -> list[str]:
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass  # closed between listing and reading
    return targets


def parse_metrics(text: str) -> dict[str, float]:
    """The few samples the soak reads, summed over labels where that makes sense."""
    out = {"pool_idle": 0.0, "pool_in_use": 0.0, "pool_max": 0.0, "server_5xx": 0.0, "server_requests": 0.0}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, _, value = line.rpartition(" ")
        try:
            v = float(value)
        except ValueError:
            continue
        if name_labels.startswith("preflight_db_pool_connections{"):
            out["pool_idle" if 'state="idle"' in name_labels else "pool_in_use"] += v
        elif name_labels.startswith("preflight_db_pool_max_connections"):
            out["pool_max"] = v
        elif name_labels.startswith("preflight_http_requests_total{"):
            out["server_requests"] += v
            if re.search(r'status="5\d\d"', name_labels):
                out["server_5xx"] += v
    return out


def pg_connections(database_url: str) -> int | None:
    """Backends of the server's pool (application_name preflight) in pg_stat_activity; None
    without psql. The URL goes to psql as an argument and is never printed."""
    if not shutil.which("psql"):
        return None
    sql = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'preflight'"
    )
    try:
        res = subprocess.run(
            ["psql", "-X", "-At", "-d", database_url, "-c", sql],
            check=False, capture_output=True, text=True, timeout=10,
        )
    except subprocess.TimeoutExpired:
        return None
    return int(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip().isdigit() else None


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (None once it has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()  # the name may hold spaces
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15


def pressure_s(resource: str) -> float:
    """Seconds during which some task waited for `resource` (PSI, /proc/pressure/cpu or io): for
    a core, or for the disk; 0 where the kernel does not report it."""
    try:
        with open(f"/proc/pressure/{resource}") as f:
            return int(f.readline().rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every state but idle and iowait)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


class CpuMeter:
    """Between two readings: cores used by the server, by this generator and by everything else,
    and how long runnable tasks waited for a core. A p99 that rises while the server waits for
    cores, doing no more work per request, says nothing about the server."""

    def __init__(self, server_pid: int, generator_pids: list[int]):
        self.server_pid, self.generator_pids = server_pid, generator_pids
        self.last_generator = {pid: 0.0 for pid in generator_pids}
        self.previous = self.read()

    def read(self) -> tuple[float, ...]:
        generator = 0.0
        for pid in self.generator_pids:
            value = process_cpu_s(pid)
            if value is not None:
                self.last_generator[pid] = value
            generator += self.last_generator[pid]
        return (time.monotonic(), process_cpu_s(self.server_pid) or 0.0, generator, machine_busy_s(),
                pressure_s("cpu"), pressure_s("io"))

    def delta(self) -> dict:
        now = self.read()
        wall, server, generator, machine, cpu_wait, io_wait = (b - a for a, b in zip(self.previous, now))
        self.previous = now
        wall = max(wall, 1e-9)
        return {
            "server_cpu_s": round(server, 2),
            "server_cores": round(server / wall, 2),
            "other_cores": round(max(0.0, machine - server - generator) / wall, 2),
            "cpu_pressure_pct": round(100 * cpu_wait / wall, 1),
            "io_pressure_pct": round(100 * io_wait / wall, 1),
        }


class ResourceProbe:
    """One sample of what the server process holds."""

    def __init__(self, server: Server):
        self.server = server
        self.http = Http(server.port, timeout=10.0)

    def sample(self) -> dict:
        pid = self.server.proc.pid
        status = proc_status(pid)
        targets = fd_targets(pid)
        sample = {
            "rss_mib": round(status.get("VmRSS", 0) / 1024, 1),
            "hwm_mib": round(status.get("VmHWM", 0) / 1024, 1),
            # The heap apart from mapped files (the binary, SQLite's shared memory index).
            "anon_mib": round(status.get("RssAnon", 0) / 1024, 1),
            "file_mib": round((status.get("RssFile", 0) + status.get("RssShmem", 0)) / 1024, 1),
            "threads": status.get("Threads", 0),
            "fds": len(targets),
            "sockets": sum(t.startswith("socket:") for t in targets),
        }
        if self.server.sqlite_path is not None:
            # Each SQLite connection of the pool holds the database file open once.
            sample["db_connections"] = targets.count(str(self.server.sqlite_path))
        else:
            sample["db_connections"] = pg_connections(self.server.database_url)
        answer = self.http.request("GET", "/metrics", headers={"Authorization": f"Bearer {self.server.metrics_token}"})
        if answer.status == 200:
            m = parse_metrics(answer.body.decode())
            sample["pool_open"] = int(m["pool_idle"] + m["pool_in_use"])
            sample["pool_max"] = int(m["pool_max"])
            sample["server_5xx"] = int(m["server_5xx"])
            sample["server_requests"] = int(m["server_requests"])
        return sample


# --------------------------------------------------------------------------------------------
# Population: through the API only, as a platform team would set it up.


class Admin:
    """The bootstrap admin's session, for populating."""

    def __init__(self, port: int, email: str, password: str):
        self.http = Http(port)
        answer = self.http.request("POST", f"{API}/auth/login", {"email": email, "password": password})
        if answer.status != 200:
            raise SetupError(
                f"the bootstrap admin could not sign in ({answer.status}): {answer.body[:300]!r}"
            )
        self.token = answer.json()["access_token"]

    def created(self, path: str, body, content_type: str = "application/json") -> dict:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}
        answer = self.http.request("POST", path, body, headers)
        if answer.status != 201:
            raise SetupError(f"POST {path}: {answer.status} {answer.body[:300]!r}")
        return answer.json()


def populate(server: Server, services: int, editors: int) -> dict:
    """Imports the seed checklist, registers `services` services with it attached, and creates
    `editors` editor accounts; what the load needs to know about them."""
    if not SEED_CHECKLIST.is_file():
        raise SetupError(f"the seed checklist {SEED_CHECKLIST} is missing")
    admin = Admin(server.port, server.admin_email, server.admin_password)
    checklist = admin.created(f"{API}/checklists", SEED_CHECKLIST.read_bytes(), "text/markdown")
    run = secrets.token_hex(3)
    population = {"checklist_id": checklist["id"], "services": [], "accounts": []}
    for n in range(services):
        service = admin.created(
            f"{API}/services",
            {
                "name": f"soak-{run}-{n:03d}",
                "base_url": f"http://127.0.0.1:{server.port}",
                "environment": "production" if n % 3 else "staging",
                "owners": [f"team-{n % 7}@example.com"],
            },
        )
        review = admin.created(f"{API}/services/{service['id']}/reviews", {"checklist_id": checklist["id"]})
        # Manual items only: those are the ones people sign off.
        keys = [item["key"] for item in review["items"] if not item.get("check")]
        population["services"].append({"id": service["id"], "review_id": review["id"], "keys": keys})
    population["accounts"].append({"email": server.admin_email, "password": server.admin_password})
    for n in range(editors):
        account = {"email": f"soak-editor-{run}-{n}@example.com", "password": secrets.token_urlsafe(18) + "-Aa1"}
        admin.created(f"{API}/users", {**account, "role": "editor"})
        population["accounts"].append(account)
    admin.http.close()
    items = sum(len(s["keys"]) for s in population["services"])
    print(f"populated: {services} services with the seed checklist ({items} manual items), "
          f"{len(population['accounts'])} accounts", flush=True)
    return population


# --------------------------------------------------------------------------------------------
# The load: worker processes, each with threads on a shared schedule.


class Client:
    """One simulated user: a connection, an account and its session."""

    def __init__(self, port: int, account: dict, rng: random.Random, tag: str, login_lane):
        self.http = Http(port)
        self.login_lane = login_lane
        self.account = account
        self.rng = rng
        self.tag = tag
        self.seq = 0
        self.access: str | None = None
        self.refresh: str | None = None
        self.signed_in_at = 0.0

    def send(self, kind: str, method: str, path: str, body=None, headers=None, records=None) -> Answer | None:
        """One request, recorded as (kind, status, ms, request id, method, path); status 0 is a
        transport failure."""
        self.seq += 1
        request_id = f"soak-{self.tag}-{self.seq}"
        hdrs = {"X-Request-Id": request_id, **(headers or {})}
        if self.access and not path.startswith(f"{API}/auth/"):
            hdrs["Authorization"] = f"Bearer {self.access}"
        try:
            answer = self.http.request(method, path, body, hdrs)
        except (OSError, http.client.HTTPException) as e:
            records.append((kind, 0, 0.0, request_id, method, path, f"{type(e).__name__}: {e}"))
            return None
        excerpt = answer.body[:300].decode(errors="replace") if answer.status >= 500 else ""
        records.append((kind, answer.status, answer.ms, request_id, method, path, excerpt))
        if answer.status == 401 and "Authorization" in hdrs:
            self.access = None  # expired or revoked: the next operation signs in again
        return answer

    def sign_in(self, records: list) -> None:
        previous = self.refresh
        with self.login_lane:
            answer = self.send("login", "POST", f"{API}/auth/login",
                               {"email": self.account["email"], "password": self.account["password"]}, records=records)
        if answer is None or answer.status != 200:
            return
        tokens = answer.json()
        self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]
        self.signed_in_at = time.monotonic()
        if previous:
            self.send("login", "POST", f"{API}/auth/logout", {"refresh_token": previous}, records=records)


def run_operation(name: str, client: Client, population: dict, records: list) -> None:
    rng = client.rng
    svc = rng.choice(population["services"])
    review = svc["review_id"]
    if name == "overview":
        client.send("read", "GET", f"{API}/readiness", records=records)
    elif name == "service_readiness":
        client.send("read", "GET", f"{API}/services/{svc['id']}/readiness", records=records)
    elif name == "review_readiness":
        client.send("read", "GET", f"{API}/reviews/{review}/readiness", records=records)
    elif name == "review_item":
        client.send("read", "GET", f"{API}/reviews/{review}/items/{quote(rng.choice(svc['keys']))}", records=records)
    elif name == "service_list":
        client.send("read", "GET", f"{API}/services?per_page=50&page={rng.randint(1, 2)}", records=records)
    elif name == "item_write":
        write_item(client, review, rng.choice(svc["keys"]), records)
    elif name == "review_markdown":
        client.send("export", "GET", f"{API}/reviews/{review}?format=markdown", records=records)
    elif name == "review_json":
        client.send("export", "GET", f"{API}/reviews/{review}", records=records)
    elif name == "checklist_markdown":
        client.send("export", "GET", f"{API}/checklists/{population['checklist_id']}",
                    headers={"Accept": "text/markdown"}, records=records)
    elif name == "login":
        client.sign_in(records)
    else:
        raise ValueError(f"unknown operation {name}")


def write_item(client: Client, review: str, key: str, records: list) -> None:
    """Reads the item, then signs it off or resets it with If-Match on the version read: a 412
    (someone wrote it in between) is a correct answer, recorded like any other non-2xx."""
    path = f"{API}/reviews/{review}/items/{quote(key)}"
    read = client.send("read", "GET", path, records=records)
    if read is None or read.status != 200:
        return
    state = read.json().get("state")
    action = "reset" if state in ("passed", "waived", "not_applicable") else "sign_off"
    client.send("write", "POST", path, {"action": action, "comment": "soak"},
                headers={"If-Match": read.headers.get("etag", "*")}, records=records)


class Schedule:
    """Start times shared by a process's threads: slot k at t0 + k / rate (open loop), or at
    once when rate is None (flat out, for calibration). None once the phase is over."""

    def __init__(self, t0: float, end: float, rate: float | None, offset: float):
        self.t0, self.end, self.rate = t0, end, rate
        self.k = offset  # fractional: processes interleave their slots instead of firing together
        self.lock = threading.Lock()

    def next(self) -> float | None:
        with self.lock:
            if self.rate is None:
                now = time.monotonic()
                return now if now < self.end else None
            at = self.t0 + self.k / self.rate
            self.k += 1
            return at if at < self.end else None


def client_thread(spec: dict, index: int, schedule: Schedule, out: list, out_lock: threading.Lock,
                  login_lane) -> None:
    try:
        run_client(spec, index, schedule, out, out_lock, login_lane)
    except Exception as e:  # noqa: BLE001 -- an answer the client cannot read stops the run, named
        with out_lock:
            out.append(("crash", f"client {index}: {type(e).__name__}: {e}"))


def run_client(spec: dict, index: int, schedule: Schedule, out: list, out_lock: threading.Lock,
               login_lane) -> None:
    population = spec["population"]
    accounts = population["accounts"]
    tag = f"{spec['phase']}{spec['process']}.{index}"
    rng = random.Random(f"{spec['seed']}-{tag}")
    account = accounts[(spec["process"] * spec["threads"] + index) % len(accounts)]
    client = Client(spec["port"], account, rng, tag, login_lane)
    names, weights = list(spec["mix"]), list(spec["mix"].values())
    while True:
        at = schedule.next()
        if at is None:
            break
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        late_ms = max(0.0, -delay * 1000.0)
        records: list = []
        if client.access is None or time.monotonic() - client.signed_in_at > TOKEN_REFRESH_S:
            client.sign_in(records)  # counted as a login like any other
        else:
            run_operation(rng.choices(names, weights)[0], client, population, records)
        done = time.monotonic() - schedule.t0
        with out_lock:
            out.append((done, late_ms, records))
    client.http.close()
    with out_lock:
        out.append(("reconnects", client.http.reconnects))


def worker_process(spec: dict, results, ready, go, t0_value) -> None:
    """A process of `threads` clients. Records go to `results` in batches every quarter second
    (the parent aggregates them per interval)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
        ready.set()
        go.wait()
        t0 = t0_value.value
        rate = spec["rate"] / spec["processes"] if spec["rate"] else None
        schedule = Schedule(t0, t0 + spec["duration"], rate, offset=spec["process"] / spec["processes"])
        out: list = []
        out_lock = threading.Lock()
        # Sign-ins take turns within a process unless asked otherwise: at a real team's rate
        # they hardly ever overlap, and each overlapping one costs the server 19 MiB of argon2
        # memory that it keeps (docs/reliability.md, "Soak"), which would read as growth here.
        login_lane = contextlib.nullcontext() if spec["concurrent_logins"] else threading.Lock()
        threads = [
            threading.Thread(target=client_thread, args=(spec, i, schedule, out, out_lock, login_lane), daemon=True)
            for i in range(spec["threads"])
        ]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(0.25)
            flush(out, out_lock, results)
        flush(out, out_lock, results)
        results.put(("done", spec["process"]))
    except Exception as e:  # noqa: BLE001 -- reported by the parent, which stops the run
        results.put(("crash", spec["process"], f"{type(e).__name__}: {e}"))


def flush(out: list, lock: threading.Lock, results) -> None:
    with lock:
        batch = out[:]
        out.clear()
    if batch:
        results.put(("batch", batch))


# --------------------------------------------------------------------------------------------
# Aggregation per interval.


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


class Interval:
    """What completed within one interval of a phase: operations, answers by status and kind,
    latencies."""

    def __init__(self, index: int, start: float, end: float):
        self.index, self.start, self.end = index, start, end
        self.ops = 0
        self.late = 0
        self.statuses: Counter = Counter()
        self.kinds: Counter = Counter()
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}

    def add(self, late_ms: float, records: list) -> None:
        self.ops += 1
        self.late += late_ms > LATE_MS
        for kind, status, ms, *_ in records:
            self.statuses[status] += 1
            self.kinds[kind] += 1
            if status:
                self.by_kind.setdefault(kind, []).append(ms)
                # Logins verify an argon2id hash, slow on purpose: their latency is the CPU's,
                # and counted in with the rest it would be all that p99 shows.
                if kind != "login":
                    self.latencies.append(ms)

    def summary(self, resources: dict) -> dict:
        lat = sorted(self.latencies)
        seconds = max(1e-9, self.end - self.start)
        requests = sum(self.statuses.values())
        return {
            "index": self.index,
            "start_s": round(self.start, 1),
            "end_s": round(self.end, 1),
            "ops": self.ops,
            "ops_per_s": round(self.ops / seconds, 1),
            "requests": requests,
            "requests_per_s": round(requests / seconds, 1),
            "by_kind": dict(self.kinds),
            "status_5xx": sum(n for s, n in self.statuses.items() if s >= 500),
            "transport_errors": self.statuses.get(0, 0),
            "non_2xx": {str(s): n for s, n in sorted(self.statuses.items()) if 0 < s < 500 and not 200 <= s < 300},
            "p50_ms": round(percentile(lat, 0.50), 2),
            "p99_ms": round(percentile(lat, 0.99), 2),
            "login_p99_ms": round(percentile(sorted(self.by_kind.get("login", [])), 0.99), 2),
            "p99_ms_by_kind": {k: round(percentile(sorted(v), 0.99), 2) for k, v in sorted(self.by_kind.items())},
            "late_ops": self.late,
            **resources,
        }


def collect(results, processes: int, intervals: list[Interval], width: float, on_tick, failures: list,
            reconnects: list) -> None:
    """Reads worker batches until every process is done; `on_tick()` runs between reads (the
    caller samples resources and prints finished intervals there)."""
    done = 0
    while done < processes:
        try:
            msg = results.get(timeout=0.05)
        except queue.Empty:
            on_tick()
            continue
        if msg[0] == "batch":
            for entry in msg[1]:
                if entry[0] == "reconnects":
                    reconnects.append(entry[1])
                    continue
                if entry[0] == "crash":
                    raise SetupError(f"the load generator failed: {entry[1]}")
                t_done, late_ms, records = entry
                # Operations still in flight at the end count in the last interval.
                slot = min(len(intervals) - 1, max(0, int(t_done // width)))
                intervals[slot].add(late_ms, records)
                failures.extend(
                    {"kind": k, "status": s, "request_id": rid, "method": m, "path": p, "detail": d, "at_s": round(t_done, 2)}
                    for k, s, _, rid, m, p, d in records
                    if s == 0 or s >= 500
                )
        elif msg[0] == "done":
            done += 1
        elif msg[0] == "crash":
            raise SetupError(f"load process {msg[1]} failed: {msg[2]}")
        on_tick()


def run_phase(server: Server, population: dict, *, phase: str, rate: float | None, duration: float,
              interval: float, processes: int, threads: int, seed: str, mix: dict, concurrent_logins: bool,
              reporter: Reporter | None = None) -> dict:
    """Runs the mix for `duration` s, at `rate` operations/s in total (None: flat out); the
    intervals, failures and connection reopenings it saw."""
    ctx = mp.get_context("spawn")
    results, go, t0_value = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    readies, procs = [], []
    for p in range(processes):
        spec = {"phase": phase, "process": p, "processes": processes, "threads": threads, "rate": rate,
                "duration": duration, "port": server.port, "population": population, "seed": seed, "mix": mix,
                "concurrent_logins": concurrent_logins}
        ready = ctx.Event()
        proc = ctx.Process(target=worker_process, args=(spec, results, ready, go, t0_value), daemon=True)
        proc.start()
        readies.append(ready)
        procs.append(proc)
    for ready in readies:
        if not ready.wait(timeout=30):
            raise SetupError("a load process did not start within 30 s")
    n = max(1, math.ceil(duration / interval - 1e-9))
    intervals = [Interval(i, i * interval, min(duration, (i + 1) * interval)) for i in range(n)]
    failures: list = []
    reconnects: list = []
    t0 = time.monotonic() + 0.2
    t0_value.value = t0
    go.set()
    if reporter is not None:
        reporter.start(t0, intervals, [proc.pid for proc in procs])
    try:
        collect(results, processes, intervals, interval, reporter.tick if reporter else (lambda: None),
                failures, reconnects)
    except BaseException:
        for proc in procs:  # the run is over: do not let the load go on for its whole duration
            proc.terminate()
        raise
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
    return {"intervals": intervals, "failures": failures, "reconnects": sum(reconnects)}


# --------------------------------------------------------------------------------------------
# Reporting.


# p50/p99 are over reads, writes and exports; logins have their own column. cpu: cores used by
# the server / by other processes than the server and this generator; wait: share of the time
# some runnable task waited for a core (the JSON also has the disk's).
COLUMNS = ("  t(s)   ops/s  req/s   5xx  err  reads writes logins exports   p50ms   p99ms  login p99"
           "  RSS MiB  fds  thr  db conn  cpu srv/other  wait  late  other non-2xx")


def row(s: dict) -> str:
    k = s["by_kind"]
    db = s.get("db_connections")
    db_text = f"{'-' if db is None else db}/{s.get('pool_max', '?')}"
    other = " ".join(f"{code}:{n}" for code, n in s["non_2xx"].items()) or "-"
    return (f"{s['end_s']:6.0f} {s['ops_per_s']:7.1f} {s['requests_per_s']:6.0f} {s['status_5xx']:5d} "
            f"{s['transport_errors']:4d} {k.get('read', 0):5d} {k.get('write', 0):6d} {k.get('login', 0):6d} "
            f"{k.get('export', 0):7d} {s['p50_ms']:7.2f} {s['p99_ms']:7.2f} {s['login_p99_ms']:10.1f} {s.get('rss_mib', 0):8.1f} "
            f"{s.get('fds', 0):4d} {s.get('threads', 0):4d} {db_text:>8} "
            f"{s.get('server_cores', 0):8.2f}/{s.get('other_cores', 0):<5.2f} {s.get('cpu_pressure_pct', 0):4.0f}% "
            f"{s['late_ops']:5d}  {other}")


class Reporter:
    """Samples the server just before each interval's end (at the very end of the last one the
    clients are already closing their connections) and prints the interval's row once its last
    batches had time to arrive."""

    def __init__(self, server: Server, probe: ResourceProbe, grace: float = 1.0):
        self.server, self.probe, self.grace = server, probe, grace
        self.samples: dict[int, dict] = {}
        self.summaries: list[dict] = []

    def start(self, t0: float, intervals: list[Interval], generator_pids: list[int]) -> None:
        self.t0, self.intervals = t0, intervals
        self.cpu = CpuMeter(self.server.proc.pid, [os.getpid(), *generator_pids])

    def tick(self) -> None:
        now = time.monotonic() - self.t0
        for iv in self.intervals[len(self.samples):]:
            if now < iv.end - min(1.0, (iv.end - iv.start) / 10):
                break
            self.sample(iv)
        while len(self.summaries) < len(self.samples) and now >= self.intervals[len(self.summaries)].end + self.grace:
            self.print_next()

    def finish(self) -> list[dict]:
        """The rows not printed yet (the last interval's grace runs past the load's end)."""
        for iv in self.intervals[len(self.samples):]:
            self.sample(iv)
        while len(self.summaries) < len(self.intervals):
            self.print_next()
        return self.summaries

    def sample(self, iv: Interval) -> None:
        if not self.server.alive():
            raise SetupError(f"the server exited with {self.server.proc.returncode} during the soak:\n"
                             f"{self.server.log_tail()}")
        self.samples[iv.index] = {**self.probe.sample(), **self.cpu.delta()}

    def print_next(self) -> None:
        iv = self.intervals[len(self.summaries)]
        summary = iv.summary(self.samples[iv.index])
        # CPU per request rises when the server does more work for the same answers, whoever
        # else shares the machine.
        summary["server_cpu_ms_per_request"] = round(1000 * summary["server_cpu_s"] / max(1, summary["requests"]), 3)
        self.summaries.append(summary)
        print(row(summary), flush=True)


def totals_of(summaries: list[dict], calibration: dict) -> dict:
    kinds: Counter = Counter()
    non_2xx: Counter = Counter()
    for s in summaries:
        kinds.update(s["by_kind"])
        non_2xx.update(s["non_2xx"])
    return {
        "requests": dict(kinds),
        "status_5xx": sum(s["status_5xx"] for s in summaries),
        "transport_errors": sum(s["transport_errors"] for s in summaries),
        "non_2xx": dict(non_2xx),
        "calibration_5xx": calibration["status_5xx"],
        "calibration_transport_errors": calibration["transport_errors"],
    }


# --------------------------------------------------------------------------------------------
# The verdict.


def verdict(summaries: list[dict], calibration: dict, warmup: int, pool: int, exit_code: int | None,
            tolerances: argparse.Namespace) -> list[tuple[str, bool, str]]:
    """(check, passed, what was seen) for each check."""
    checks = []
    fivexx = calibration["status_5xx"] + sum(s["status_5xx"] for s in summaries)
    errors = calibration["transport_errors"] + sum(s["transport_errors"] for s in summaries)
    checks.append(("no 5xx answer", fivexx == 0, f"{fivexx} (calibration included)"))
    checks.append(("no transport error", errors == 0, f"{errors} (refused, reset or timed out)"))
    server_5xx = summaries[-1].get("server_5xx") if summaries else None
    if server_5xx is not None:
        checks.append(("no 5xx in the server's own metrics", server_5xx == 0, str(server_5xx)))
    first, last = windows(summaries, warmup)
    rss_early, rss_late = early_and_late(first, last, "rss_mib")
    rss_limit = rss_early * (1 + tolerances.rss_growth_pct / 100) + tolerances.rss_growth_mib
    checks.append(("RSS flat", rss_late <= rss_limit, f"{rss_early} -> {rss_late} MiB (limit {rss_limit:.1f})"))
    fds_early, fds_late = early_and_late(first, last, "fds")
    checks.append(("open fds flat", fds_late - fds_early <= tolerances.fd_growth,
                   f"{fds_early:g} -> {fds_late:g} (limit +{tolerances.fd_growth})"))
    db = [s["db_connections"] for s in summaries if s.get("db_connections") is not None]
    pools = [s["pool_open"] for s in summaries if s.get("pool_open") is not None]
    checks.append(("DB connections within the pool", all(n <= pool for n in db + pools),
                   f"max {max(db, default='-')} held, {max(pools, default='-')} in the pool gauge (pool {pool})"))
    checks.append(p99_check(first, last, tolerances))
    checks.append(("server stopped cleanly on SIGTERM", exit_code == 0,
                   "exit 0" if exit_code == 0 else f"exit {exit_code}" if exit_code is not None else "killed after 40 s"))
    return checks


def windows(summaries: list[dict], warmup: int) -> tuple[list[dict], list[dict]]:
    """The first and the last intervals after warm-up, two of each when there are four or more:
    growth raises every late interval, a noise spike on a shared machine only one."""
    steady = summaries[min(warmup, len(summaries) - 1):]
    window = 2 if len(steady) >= 4 else 1
    return steady[:window], steady[-window:]


def early_and_late(first: list[dict], last: list[dict], key: str) -> tuple[float, float]:
    """The mean of the early window against the lowest of the late one."""
    return round(sum(s[key] for s in first) / len(first), 2), min(s[key] for s in last)


def p99_check(first: list[dict], last: list[dict], tolerances: argparse.Namespace) -> tuple[str, bool, str]:
    """p99 of the late window against the early one. A rise while other processes took more of
    the cores is reported but not judged: it says nothing about the server."""
    name = "p99 flat (reads, writes, exports)"
    early, late = early_and_late(first, last, "p99_ms")
    limit = max(early * tolerances.p99_factor, early + tolerances.p99_slack_ms)
    seen = f"{early} -> {late} ms (limit {limit:.1f})"
    if late <= limit:
        return name, True, seen
    work = rise(first, last, "server_cpu_ms_per_request")
    other = rise(first, last, "other_cores")
    cpu_wait = rise(first, last, "cpu_pressure_pct")
    io_wait = rise(first, last, "io_pressure_pct")
    busier = other > OTHER_CORES_MARGIN or max(cpu_wait, io_wait) > PRESSURE_MARGIN_PCT
    if busier and work < CPU_PER_REQUEST_MARGIN * mean(first, "server_cpu_ms_per_request"):
        return name, True, (f"not judged: {seen}, while other processes took {other:+.2f} cores, tasks waited for "
                            f"a core {cpu_wait:+.0f} and for the disk {io_wait:+.0f} points of the time more, and "
                            "the server's CPU per request stayed flat")
    return name, False, seen


def mean(window: list[dict], key: str) -> float:
    return sum(s.get(key, 0) for s in window) / len(window)


def rise(first: list[dict], last: list[dict], key: str) -> float:
    """How much higher `key` is in the late window than in the early one (means)."""
    return mean(last, key) - mean(first, key)


# --------------------------------------------------------------------------------------------
# Putting it together.


def parse_duration(text: str) -> float:
    """`60`, `90s`, `30m`, `1h` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 60, 90s, 30m or 1h")
    return float(m.group(1)) * {"ms": 0.001, None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def parse_mix(text: str) -> dict[str, int]:
    """`name=weight,...` over the default mix."""
    mix = dict(MIX)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in MIX or not weight.isdigit():
            raise argparse.ArgumentTypeError(f"{part!r}: expected NAME=WEIGHT with NAME one of {', '.join(MIX)}")
        mix[name] = int(weight)
    if not any(mix.values()):
        raise argparse.ArgumentTypeError("every weight is 0")
    return mix


def arguments(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("PREFLIGHT_BIN"), help="release binary (default: $PREFLIGHT_BIN)")
    p.add_argument("--database-url", help="PostgreSQL URL of a scratch database, which keeps what the soak writes (default: a temporary SQLite file)")
    p.add_argument("--redis-url", help="Redis for the cache and rate limiter (default: in-process)")
    p.add_argument("--duration", type=parse_duration, default=60.0, help="length of the soak (default 60 s; 30m documented)")
    p.add_argument("--interval", type=parse_duration,
                   help="one row per interval (default 1 m, or a sixth of a --duration under 6 m)")
    p.add_argument("--warmup", type=int, default=1, help="intervals skipped by the growth checks (default 1)")
    p.add_argument("--calibrate", type=parse_duration, default=6.0, help="flat-out measurement of capacity (default 6 s)")
    p.add_argument("--load", type=float, default=0.5, help="fraction of the measured capacity to run at (default 0.5)")
    p.add_argument("--rate", type=float, help="operations per second instead of calibrating")
    p.add_argument("--processes", type=int, default=2, help="load processes (default 2)")
    p.add_argument("--threads", type=int, default=8, help="client threads per process (default 8)")
    p.add_argument("--services", type=int, default=50, help="services to register (default 50)")
    p.add_argument("--editors", type=int, default=4, help="editor accounts besides the admin (default 4)")
    p.add_argument("--pool", type=int, default=DEFAULT_POOL, help=f"DB_MAX_CONNECTIONS (default {DEFAULT_POOL})")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment of the server (repeatable), e.g. DB_MAX_CONNECTIONS is --pool")
    p.add_argument("--mix", type=parse_mix, default=dict(MIX),
                   help="weights to change, e.g. login=0,overview=30 (operations: " + ", ".join(MIX) + ")")
    p.add_argument("--concurrent-logins", action="store_true",
                   help="let every client sign in at once (default: one sign-in at a time per load process)")
    p.add_argument("--seed", default="soak", help="seed of the random choices")
    p.add_argument("--json", type=Path, help="write the samples and the verdict here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server log)")
    p.add_argument("--rss-growth-pct", type=float, default=RSS_GROWTH_FRACTION * 100)
    p.add_argument("--rss-growth-mib", type=float, default=RSS_GROWTH_MIB)
    p.add_argument("--fd-growth", type=int, default=FD_GROWTH)
    p.add_argument("--p99-factor", type=float, default=P99_FACTOR)
    p.add_argument("--p99-slack-ms", type=float, default=P99_SLACK_MS)
    args = p.parse_args(argv)
    if any("=" not in e for e in args.env):
        p.error("--env takes NAME=VALUE")
    args.env = dict(e.split("=", 1) for e in args.env)
    if args.interval is None:
        args.interval = min(60.0, args.duration / 6)
    if not args.bin:
        p.error("no binary: pass --bin or set PREFLIGHT_BIN (cargo build --release -p preflight)")
    args.bin = Path(args.bin).resolve()
    if not (args.bin.is_file() and os.access(args.bin, os.X_OK)):
        p.error(f"{args.bin} is not an executable")
    if args.interval <= 0 or args.duration < args.interval:
        p.error("--duration must be at least one --interval")
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        p.error("--database-url must be a postgres:// URL (SQLite is the default)")
    for host_url in filter(None, (args.database_url, args.redis_url)):
        host = urllib.parse.urlsplit(host_url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            p.error("--database-url and --redis-url must point at 127.0.0.1 (the soak is local)")
    return args


def calibrate(server: Server, population: dict, args) -> dict:
    """Operations per second the mix sustains flat out, leaving the first second out (new
    connections, cold caches)."""
    seconds = max(2.0, args.calibrate)
    result = run_phase(server, population, phase="c", rate=None, duration=seconds, interval=1.0,
                       processes=args.processes, threads=args.threads, seed=args.seed, mix=args.mix,
                       concurrent_logins=args.concurrent_logins)
    whole = merge(result["intervals"])
    steady = result["intervals"][1:]
    capacity = sum(iv.ops for iv in steady) / (seconds - 1.0)
    requests = sum(sum(iv.statuses.values()) for iv in steady) / (seconds - 1.0)
    summary = whole.summary({})
    return {
        "seconds": seconds,
        "peak_rss_mib": round(proc_status(server.proc.pid).get("VmHWM", 0) / 1024, 1),
        "concurrency": args.processes * args.threads,
        "capacity_ops_per_s": round(capacity, 1),
        "capacity_requests_per_s": round(requests, 1),
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "by_kind": summary["by_kind"],
        "status_5xx": summary["status_5xx"],
        "transport_errors": summary["transport_errors"],
        "non_2xx": summary["non_2xx"],
        "failures": result["failures"],
    }


def merge(intervals: list[Interval]) -> Interval:
    """One interval covering several (for the calibration's summary)."""
    whole = Interval(0, intervals[0].start, intervals[-1].end)
    for iv in intervals:
        whole.ops += iv.ops
        whole.late += iv.late
        whole.statuses.update(iv.statuses)
        whole.kinds.update(iv.kinds)
        whole.latencies.extend(iv.latencies)
        for kind, values in iv.by_kind.items():
            whole.by_kind.setdefault(kind, []).extend(values)
    return whole


def server_env(args) -> dict[str, str]:
    """--env over the soak's own settings. Cached entries live CACHE_TTL (300 s by default), and
    the cache grows until the first ones expire: a TTL no longer than the warm-up lets the
    growth checks start from the cache's steady size (the 30-minute run keeps 300 s with
    --warmup 5 and one-minute intervals)."""
    ttl = max(5, min(300, round(args.warmup * args.interval)))
    env = {"CACHE_TTL": f"{ttl}s"}
    if args.redis_url:
        env["REDIS_PREFIX"] = f"preflight-soak-{secrets.token_hex(4)}:"  # apart from anyone else's keys
    return {**env, **args.env}


def soak(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="preflight-soak-"))
    args.server_env = server_env(args)
    server = Server(args.bin, workdir, args.database_url, args.redis_url, args.pool, args.server_env)
    keep = args.keep
    try:
        server.start("server.log" if args.rate else "calibration.log")
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"server: {args.bin} on 127.0.0.1:{server.port}, {backend}"
              f"{', Redis' if args.redis_url else ''}, pool {args.pool}, CACHE_TTL {server.extra_env['CACHE_TTL']}, "
              f"logs in {workdir}", flush=True)
        t = time.monotonic()
        population = populate(server, args.services, args.editors)
        print(f"population took {time.monotonic() - t:.1f} s", flush=True)

        if args.rate:
            calibration = {"capacity_ops_per_s": None, "status_5xx": 0, "transport_errors": 0, "failures": []}
            rate = args.rate
        else:
            calibration = calibrate(server, population, args)
            rate = calibration["capacity_ops_per_s"] * args.load
            print(f"capacity: {calibration['capacity_ops_per_s']} ops/s ({calibration['capacity_requests_per_s']} req/s) "
                  f"flat out with {calibration['concurrency']} clients for {args.calibrate:.0f} s, p99 "
                  f"{calibration['p99_ms']} ms, peak RSS {calibration['peak_rss_mib']} MiB; "
                  f"soaking at {args.load:.0%}: {rate:.1f} ops/s", flush=True)
            if rate <= 0:
                raise SetupError("calibration completed no operation")
            # The soak gets a fresh process on the same database: the flat-out burst leaves
            # its peak memory behind, and growth under that peak would go unseen.
            server.restart("server.log")

        probe = ResourceProbe(server)
        baseline = probe.sample()
        print(f"before the soak: RSS {baseline['rss_mib']} MiB, {baseline['fds']} fds, "
              f"{baseline['threads']} threads, {baseline.get('db_connections')} DB connections", flush=True)
        print(COLUMNS, flush=True)
        reporter = Reporter(server, probe)
        result = run_phase(server, population, phase="s", rate=rate, duration=args.duration, interval=args.interval,
                           processes=args.processes, threads=args.threads, seed=args.seed, mix=args.mix,
                           concurrent_logins=args.concurrent_logins, reporter=reporter)
        summaries = reporter.finish()
        probe.http.close()
        exit_code = server.stop()
        checks = verdict(summaries, calibration, args.warmup, args.pool, exit_code, args)
        failures = calibration["failures"] + result["failures"]
        report_failures(failures, server)
        ok = all(passed for _, passed, _ in checks)
        print_verdict(checks, ok, summaries, rate, result["reconnects"], args.warmup)
        if args.json:
            write_json(args, calibration, rate, baseline, summaries, totals_of(summaries, calibration),
                       checks, ok, failures, result["reconnects"])
        keep = keep or not ok
        return 0 if ok else 1
    except SetupError as e:
        print(f"soak: {e}", file=sys.stderr)
        keep = True
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        return 130
    finally:
        server.stop()
        if keep:
            print(f"kept {workdir} (database and server log)", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report_failures(failures: list[dict], server: Server, limit: int = 10) -> None:
    """Each failed request with the server's log line for its request id."""
    if not failures:
        return
    lines = [line for log in sorted(server.workdir.glob("*.log")) for line in log.read_text(errors="replace").splitlines()]
    print(f"\n{len(failures)} failed requests (first {min(limit, len(failures))}):")
    for f in failures[:limit]:
        print(f"  {f['method']} {f['path']} -> {f['status'] or 'transport error'} at {f['at_s']} s, "
              f"request id {f['request_id']}: {f['detail'][:200]}")
        for line in lines:
            if f'"{f["request_id"]}"' in line:
                print(f"    log: {line[:400]}")


def print_verdict(checks, ok: bool, summaries: list[dict], rate: float, reconnects: int, warmup: int) -> None:
    achieved = sum(s["ops"] for s in summaries) / max(1e-9, summaries[-1]["end_s"])
    print(f"\nrate: {rate:.1f} ops/s asked, {achieved:.1f} achieved; late starts "
          f"(> {LATE_MS:.0f} ms): {sum(s['late_ops'] for s in summaries)}; idle connections reopened: {reconnects}")
    late = sum(s["late_ops"] for s in summaries)
    if late > 0.01 * sum(s["ops"] for s in summaries):
        print(f"note: {late} operations started more than {LATE_MS:.0f} ms behind schedule: the machine was busier "
              "than during calibration, or the server slowed down (see p99)")
    first, last = windows(summaries, warmup)
    print(f"growth: intervals {'+'.join(str(s['index'] + 1) for s in first)} (mean) against "
          f"{'+'.join(str(s['index'] + 1) for s in last)} (lowest)")
    for name, passed, seen in checks:
        mark = "FAIL" if not passed else "n/j " if seen.startswith("not judged") else "ok  "
        print(f"  {mark} {name}: {seen}")
    print(f"verdict: {'PASS' if ok else 'FAIL'}", flush=True)


def write_json(args, calibration, rate, baseline, summaries, totals, checks, ok, failures, reconnects) -> None:
    report = {
        "config": {
            "binary": str(args.bin),
            "backend": "postgresql" if args.database_url else "sqlite",
            "redis": bool(args.redis_url),
            "duration_s": args.duration,
            "interval_s": args.interval,
            "warmup_intervals": args.warmup,
            "processes": args.processes,
            "threads": args.threads,
            "services": args.services,
            "pool": args.pool,
            "cache_ttl": args.server_env["CACHE_TTL"],
            # Names only: a value given with --env may be a secret.
            "extra_env": sorted(args.env),
            "concurrent_logins": args.concurrent_logins,
            "mix": args.mix,
        },
        "calibration": {k: v for k, v in calibration.items() if k != "failures"},
        "rate_ops_per_s": round(rate, 1),
        "before": baseline,
        "intervals": summaries,
        "totals": totals,
        "reconnects": reconnects,
        "failures": failures[:100],
        "checks": [{"check": n, "passed": p, "seen": s} for n, p, s in checks],
        "passed": ok,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")


def main(argv=None) -> int:
    return soak(arguments(argv))


if __name__ == "__main__":
    sys.exit(main())
