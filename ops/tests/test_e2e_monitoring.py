"""End to end: a real preflight, Prometheus and Alertmanager on 127.0.0.1.

    PREFLIGHT_BIN=target/release/preflight python -m pytest ops/tests/test_e2e_monitoring.py -v

Starts `preflight serve` (SQLite in a temporary directory), Prometheus scraping it every second
with the repository's scrape job and alert rules plus one synthetic alert (PreflightE2E, fires
as soon as preflight_build_info is scraped), and Alertmanager with the repository's
configuration rendered by its own entrypoint script, routing to a webhook served by this test.
Then it asserts that

  * Prometheus scrapes /metrics with the bearer token (and /metrics refuses requests without it),
  * the alert travels Prometheus -> Alertmanager -> webhook within a bounded time,
  * every PromQL query of every Grafana dashboard returns data after some traffic,
  * the log lines are the JSON the log shipper expects, with no secret in them.

Without PREFLIGHT_BIN the module is skipped (it fails with CI=true). Every process is started
by this test, bounded in time, and stopped in teardown by its own pid.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import DEPLOY, IN_CI, load_yaml, render_alertmanager, require_tool, sample_alertmanager_env
from dashboards import promql_queries

PREFLIGHT_BIN = os.environ.get("PREFLIGHT_BIN", "")
ALERT_TIMEOUT_S = 60
START_TIMEOUT_S = 30
QUERY_SETTLE_S = 45

if not PREFLIGHT_BIN and not IN_CI:
    pytest.skip("PREFLIGHT_BIN is not set (path to a built preflight binary); end-to-end test skipped",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body=None, headers=None, timeout: float = 5.0):
    """(status, headers, body bytes) without raising on HTTP errors."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except (OSError, urllib.error.URLError, ValueError) as e:  # not up yet
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class Processes:
    """Processes started by this test; stopped by pid, SIGTERM then SIGKILL."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict | None = None, cwd: Path | None = None):
        log = open(self.tmp / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd or self.tmp, start_new_session=True
        )
        return self.procs[name]

    def log(self, name: str, tail: int = 4000) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def check_running(self, name: str):
        proc = self.procs[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class Webhook:
    """Alertmanager webhook receiver on 127.0.0.1: records every notification."""

    def __init__(self):
        self.notifications: list[dict] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, name: str, status: str = "firing") -> list[tuple[dict, dict]]:
        return [
            (n, a) for n in list(self.notifications) for a in n.get("alerts", [])
            if a.get("labels", {}).get("alertname") == name and a.get("status") == status
        ]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not PREFLIGHT_BIN:  # only reached with CI=true: the other tests still run
        pytest.fail("PREFLIGHT_BIN is not set: CI must run the end-to-end monitoring test "
                    "(build with `cargo build --release -p preflight`)", pytrace=False)
    prometheus_bin = require_tool("prometheus")
    # Debian names the binary prometheus-alertmanager; upstream releases call it alertmanager.
    alertmanager_bin = require_tool("alertmanager" if shutil.which("alertmanager") else "prometheus-alertmanager")
    binary = Path(PREFLIGHT_BIN).resolve()
    assert binary.is_file() and os.access(binary, os.X_OK), f"PREFLIGHT_BIN={PREFLIGHT_BIN} is not an executable"

    tmp = tmp_path_factory.mktemp("e2e")
    procs = Processes(tmp)
    webhook = Webhook()
    ports = {name: free_port() for name in ("preflight", "prometheus", "alertmanager")}
    token = secrets.token_hex(32)
    admin_password = "E2e-" + secrets.token_urlsafe(24)
    (tmp / "backups").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite://{tmp}/p.db?mode=rwc",
        "HOST": "127.0.0.1",
        "PORT": str(ports["preflight"]),
        "DATA_DIR": str(tmp),
        "BACKUP_DIR": str(tmp / "backups"),
        "METRICS_TOKEN": token,
        "ADMIN_EMAIL": "e2e-admin@example.com",
        "ADMIN_PASSWORD": admin_password,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
    }
    base = f"http://127.0.0.1:{ports['preflight']}"
    ctx = {
        "tmp": tmp, "procs": procs, "webhook": webhook, "ports": ports, "token": token, "env": env,
        "binary": binary, "base": base, "admin_password": admin_password, "notes": [],
        "prometheus": f"http://127.0.0.1:{ports['prometheus']}",
    }
    try:
        # --- preflight
        procs.start("preflight", [str(binary), "serve"], env=env)
        wait_until(lambda: (procs.check_running("preflight"), http("GET", base + "/health/ready")[0] == 200)[1],
                   START_TIMEOUT_S, f"preflight /health/ready\n{procs.log('preflight')}")

        # --- Alertmanager: the repository's config, rendered by its entrypoint, routing to the
        # webhook above. Only the grouping waits are shortened so the test is quick; SMTP points
        # at a closed local port (e-mail fails, the webhook integration is independent).
        am_env = sample_alertmanager_env(webhook.url)
        am_env["SMTP_SMARTHOST"] = f"127.0.0.1:{free_port()}"
        am_dir = tmp / "alertmanager"
        am_dir.mkdir()
        am_config_path = render_alertmanager(am_dir, am_env)
        am_config = load_yaml(am_config_path)
        for route in [am_config["route"], *am_config["route"].get("routes", [])]:
            route["group_wait"] = "1s"
            route["group_interval"] = "1s"
        am_config_path.write_text(yaml.safe_dump(am_config))
        procs.start("alertmanager", [
            alertmanager_bin, f"--config.file={am_config_path}", f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
        ])
        am_url = f"http://127.0.0.1:{ports['alertmanager']}"
        wait_until(lambda: (procs.check_running("alertmanager"), http("GET", am_url + "/-/ready")[0] == 200)[1],
                   START_TIMEOUT_S, "alertmanager /-/ready")

        # --- Prometheus: the repository's `preflight` scrape job and rules, 1 s intervals.
        (tmp / "metrics_token").write_text(token)
        real = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
        job = next(j for j in real["scrape_configs"] if j["job_name"] == "preflight")
        job["authorization"]["credentials_file"] = str(tmp / "metrics_token")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports['preflight']}"]}]
        job["scrape_interval"] = "1s"
        e2e_rules = tmp / "e2e_rules.yml"
        e2e_rules.write_text(yaml.safe_dump({"groups": [{"name": "e2e", "rules": [{
            "alert": "PreflightE2E",
            "expr": 'preflight_build_info{job="preflight"} == 1',
            "labels": {"severity": "critical"},
            "annotations": {"summary": "end-to-end test alert", "description": "fires at once",
                            "runbook_url": "https://example.invalid/e2e"},
        }]}]}))
        prom_config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{ports['alertmanager']}"]}]}]},
            "rule_files": [str(DEPLOY / "prometheus" / "rules" / "*.yml"), str(e2e_rules)],
            "scrape_configs": [job],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
        procs.start("prometheus", [
            prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        ])
        wait_until(lambda: (procs.check_running("prometheus"), http("GET", ctx["prometheus"] + "/-/ready")[0] == 200)[1],
                   START_TIMEOUT_S, "prometheus /-/ready")

        send_traffic(ctx)
        yield ctx
    finally:
        procs.stop_all()
        webhook.close()


def send_traffic(ctx):
    """Exercise what the dashboards show: health, API reads (cache miss then hit), 4xx, login
    (success, failures, then a burst until the login rate limit answers 429), a backup."""
    base, notes = ctx["base"], ctx["notes"]
    for path in ("/health/live", "/health/ready", "/openapi.json", "/docs", "/no-such-route"):
        http("GET", base + path)
    status, _, body = http("POST", base + "/api/v1/auth/login",
                           {"email": "e2e-admin@example.com", "password": ctx["admin_password"]})
    notes.append(f"login: {status}")
    auth = {}
    if status == 200:
        auth = {"Authorization": "Bearer " + json.loads(body)["access_token"]}
    status, _, body = http("POST", base + "/api/v1/services", {
        "name": "e2e-self", "base_url": base, "environment": "development",
    }, headers=auth)
    notes.append(f"POST /api/v1/services: {status} {body[:200]!r}")
    service_id = json.loads(body).get("id") if status == 201 else None
    if service_id:
        # Attach the built-in template so the readiness gauges have items by state.
        status, _, body = http("GET", base + "/api/v1/checklists", headers=auth)
        checklists = json.loads(body).get("items", []) if status == 200 else []
        if checklists:
            status, _, body = http("POST", f"{base}/api/v1/services/{service_id}/reviews",
                                   {"checklist_id": checklists[0]["id"]}, headers=auth)
            notes.append(f"attach checklist: {status} {body[:200]!r}")
            # Run its automated items now (against preflight itself) for the check-run panels.
            status, _, body = http("POST", f"{base}/api/v1/services/{service_id}/runs", headers=auth)
            notes.append(f"run checks: {status} {body[:200]!r}")
            if status == 202:
                run_url = base + "/api/v1/runs/" + json.loads(body)["id"]
                wait_until(lambda: json.loads(http("GET", run_url, headers=auth)[2]).get("status") == "finished",
                           60, "the on-demand run to finish")
    for _ in range(3):  # the first read misses the readiness cache, the next ones hit it
        http("GET", base + "/api/v1/readiness", headers=auth)
        http("GET", base + "/api/v1/services", headers=auth)
        if service_id:
            http("GET", f"{base}/api/v1/services/{service_id}/readiness", headers=auth)
    http("GET", base + "/api/v1/readiness")  # 401 without a token
    result = subprocess.run([str(ctx["binary"]), "backup", "--output", str(ctx["tmp"] / "backups")],
                            env=ctx["env"], cwd=ctx["tmp"], capture_output=True, text=True, timeout=60)
    notes.append(f"preflight backup: exit {result.returncode} {result.stderr[-300:]!r}")
    limited = False
    for _ in range(40):
        status, headers, _ = http("POST", base + "/api/v1/auth/login",
                                  {"email": "e2e-admin@example.com", "password": "wrong-password"})
        if status == 429:
            limited = True
            break
    notes.append(f"login burst reached 429: {limited}")


def prom_query(ctx, expr: str) -> list:
    url = ctx["prometheus"] + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, _, body = http("GET", url, timeout=10)
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", f"{expr}: {data}"
    return data["data"]["result"]


def test_metrics_require_the_token(stack):
    assert http("GET", stack["base"] + "/metrics")[0] == 401
    status, _, body = http("GET", stack["base"] + "/metrics", headers={"Authorization": f"Bearer {stack['token']}"})
    assert status == 200 and b"preflight_build_info" in body


def test_prometheus_scrapes_preflight_with_the_token(stack):
    wait_until(lambda: prom_query(stack, 'up{job="preflight"} == 1'), 20,
               "up{job=\"preflight\"} == 1 (scrape with the bearer token)")


def test_alert_reaches_the_webhook_through_alertmanager(stack):
    webhook = stack["webhook"]
    wait_until(lambda: webhook.alerts("PreflightE2E"), ALERT_TIMEOUT_S,
               f"PreflightE2E at the webhook; Alertmanager log:\n{stack['procs'].log('alertmanager')}", interval=0.5)
    notification, alert = webhook.alerts("PreflightE2E")[0]
    assert notification["receiver"] == "oncall", "critical alerts route to the oncall receiver"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["job"] == "preflight"
    assert alert["annotations"]["summary"] == "end-to-end test alert"


def test_every_dashboard_query_returns_data(stack):
    # rate() over 1m needs two scrapes after the traffic; later metrics may need a few more.
    queries = promql_queries()
    assert queries
    deadline = time.monotonic() + QUERY_SETTLE_S
    while True:
        empty = [(f, title, expr) for f, title, expr in queries if not prom_query(stack, expr)]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(2)
    detail = "\n".join(f"  {f} / {title}: {expr}" for f, title, expr in empty)
    assert not empty, (
        f"{len(empty)} of {len(queries)} dashboard queries returned no data:\n{detail}\n"
        f"traffic notes: {stack['notes']}"
    )


def test_logs_are_json_lines_for_the_shipper(stack):
    lines = [line for line in (stack["tmp"] / "preflight.log").read_text().splitlines() if line.strip()]
    assert lines
    records = []
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        records.append(record)
        assert "timestamp" in record and "level" in record, line
        assert "message" in record or "message" in record.get("fields", {}), line
    http_lines = [r for r in records if "route" in r or "route" in r.get("fields", {})]
    assert http_lines, "no request log line"
    fields = {**http_lines[-1], **http_lines[-1].get("fields", {})}
    for key in ("request_id", "method", "route", "status", "latency_ms", "target"):
        assert key in fields, f"request log line lacks {key}: {http_lines[-1]}"
    text = "\n".join(lines)
    for secret in (stack["token"], stack["admin_password"]):
        assert secret not in text, "a secret appeared in the logs"
