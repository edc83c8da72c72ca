"""Shared helpers for the ops tests (deployment files, monitoring config, docs).

Tools that come from Debian packages (promtool, amtool, prometheus, prometheus-alertmanager)
are optional on a developer machine: tests needing them skip with a message. With CI=true a
missing tool is a failure, so CI cannot pass by skipping (ops/install-tools.sh installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCS = REPO / "docs"
RUNBOOKS = DOCS / "runbooks"

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Prefix of every runbook_url; the rest of the URL is the path inside the repository.
RUNBOOK_BASE = "https://github.com/preflight-dev/preflight/blob/main/"

PREFLIGHT_BIN = os.environ.get("PREFLIGHT_BIN", "")


def preflight_binary() -> Path:
    """The binary under test (PREFLIGHT_BIN); skip without it, or fail when running in CI."""
    if not PREFLIGHT_BIN:
        message = "PREFLIGHT_BIN is not set (build with `cargo build --release -p preflight`)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    binary = Path(PREFLIGHT_BIN).resolve()
    assert binary.is_file() and os.access(binary, os.X_OK), f"PREFLIGHT_BIN={PREFLIGHT_BIN} is not an executable"
    return binary


@pytest.fixture(scope="session")
def preflight_commands() -> set[str]:
    """The commands the binary has, read from its own `--help` (the CLI contract)."""
    result = run([str(preflight_binary()), "--help"], timeout=30)
    assert result.returncode == 0, result.stdout
    section = result.stdout.split("Commands:", 1)[1].split("\n\n", 1)[0]
    commands = {line.split()[0] for line in section.splitlines() if line.strip()}
    commands.discard("help")
    assert "serve" in commands and "check" in commands, commands
    return commands


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def exported_metrics(tmp_path_factory) -> dict[str, str]:
    """Metric families the binary exports, name -> type, read from its own /metrics.

    The exporter shows a family once it has a value, so the fixture first does what makes every
    family appear: logins (one refused by the login limit), readiness reads (a cache miss, then
    hits), a service with a review (readiness gauges) whose automated item is run on demand
    against the instance itself (check-run metrics) and a backup (backup gauges).
    """
    import json
    import secrets as pysecrets
    import time
    import urllib.error
    import urllib.request

    binary = preflight_binary()
    tmp = tmp_path_factory.mktemp("metrics")
    (tmp / "backups").mkdir()
    port = _free_port()
    token = pysecrets.token_hex(16)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite://{tmp}/p.db?mode=rwc",
        "DATA_DIR": str(tmp),
        "BACKUP_DIR": str(tmp / "backups"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_TOKEN": token,
        "RATE_LIMIT_LOGIN": "2/m",
        "LOG_LEVEL": "warn",
    }
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None, bearer=None, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if call("GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp / "serve.log").read_text()
            time.sleep(0.1)
        login = {"email": "admin@preflight.local", "password": "preflight-admin"}
        status, body = call("POST", "/api/v1/auth/login", login)
        assert status == 200, body
        admin = json.loads(body)["access_token"]
        checklist = b"# Metrics\n\n## Section\n\n- [ ] One item\n- [ ] Health endpoints answer <!-- check: health -->\n"
        status, body = call("POST", "/api/v1/checklists", checklist, admin, "text/markdown")
        assert status == 201, body
        checklist_id = json.loads(body)["id"]
        status, body = call("POST", "/api/v1/services", {"name": "metrics-fixture", "base_url": base, "environment": "production"}, admin)
        assert status == 201, body
        service_id = json.loads(body)["id"]
        status, body = call("POST", f"/api/v1/services/{service_id}/reviews", {"checklist_id": checklist_id}, admin)
        assert status == 201, body
        status, body = call("POST", f"/api/v1/services/{service_id}/runs", None, admin)
        assert status == 202, body
        run_id = json.loads(body)["id"]
        deadline = time.monotonic() + 30
        while json.loads(call("GET", f"/api/v1/runs/{run_id}", bearer=admin)[1])["status"] != "finished":
            assert time.monotonic() < deadline, (tmp / "serve.log").read_text()
            time.sleep(0.2)
        for _ in range(2):
            assert call("GET", "/api/v1/readiness", bearer=admin)[0] == 200
        for _ in range(3):
            call("POST", "/api/v1/auth/login", {"email": "admin@preflight.local", "password": "wrong-password"})
        backup = run([str(binary), "backup"], env=env, timeout=60)
        assert backup.returncode == 0, backup.stdout
        status, body = call("GET", "/metrics", bearer=token)
        assert status == 200, body
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body.decode(), re.M))
    assert "preflight_build_info" in families, families
    return families


def known_metric(name: str, families: dict[str, str]) -> bool:
    """Whether `name` is a sample the binary exports (histograms also as _bucket/_count/_sum)."""
    if name in families:
        return True
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def metric_names(expr: str) -> set[str]:
    """preflight_* metric names used in a PromQL expression (or in a regex matcher)."""
    return set(re.findall(r"\bpreflight_[a-z_]+[a-z]\b", expr))


def require_tool(name: str) -> str:
    """Path of an executable; skip without it, or fail when running in CI."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (run ops/install-tools.sh)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
    pytest.skip(message)


def run(cmd: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Runs a command, returning it; stdout and stderr together in .stdout for messages."""
    return subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, **kw
    )


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_all(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


@pytest.fixture(scope="session")
def compose() -> dict:
    return load_yaml(DEPLOY / "docker-compose.yml")


@pytest.fixture(scope="session")
def alert_rules() -> list[dict]:
    """Every alerting rule in deploy/prometheus/rules/*.yml."""
    rules = []
    for path in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            rules.extend(r for r in group["rules"] if "alert" in r)
    return rules


# Sample values for rendering templates in tests. They are not secrets of any installation.
def sample_alertmanager_env(webhook_url: str = "https://hooks.example.com/alertmanager") -> dict:
    return {
        "ALERT_EMAIL_TO": "oncall@example.com",
        "ALERT_EMAIL_FROM": "alertmanager@example.com",
        "SMTP_SMARTHOST": "smtp.example.com:587",
        "SMTP_USERNAME": "alertmanager@example.com",
        "SMTP_PASSWORD": "test-only-smtp-password",
        "ALERT_WEBHOOK_URL": webhook_url,
    }


def render_alertmanager(out_dir: Path, env: dict) -> Path:
    """Renders deploy/alertmanager/alertmanager.yml with the container's own entrypoint script."""
    result = run(
        ["sh", str(DEPLOY / "alertmanager" / "entrypoint.sh"), "--render-only"],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TEMPLATE": str(DEPLOY / "alertmanager" / "alertmanager.yml"),
            "OUT_DIR": str(out_dir),
            **env,
        },
    )
    assert result.returncode == 0, result.stdout
    return out_dir / "alertmanager.yml"


# Numbers a test measured (durations, sizes), printed in a "measurements" section at the end of
# the run so that they show in CI logs without -s.
MEASUREMENTS: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
