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

# The `preflight` CLI contract; docs may only use these.
PREFLIGHT_COMMANDS = {
    "serve", "migrate", "doctor", "healthcheck", "backup", "restore", "rotate-encryption-key", "check", "admin",
}

# Metric families the binary exports (contract). Histograms also expose _bucket/_count/_sum.
METRICS = {
    "preflight_http_requests_total",
    "preflight_http_request_duration_seconds",
    "preflight_http_requests_in_flight",
    "preflight_db_pool_connections",
    "preflight_db_pool_max_connections",
    "preflight_cache_hits_total",
    "preflight_cache_misses_total",
    "preflight_rate_limit_rejections_total",
    "preflight_build_info",
    "preflight_service_readiness_ratio",
    "preflight_service_ready",
    "preflight_checklist_items",
    "preflight_check_runs_total",
    "preflight_check_duration_seconds",
    "preflight_backup_last_success_timestamp_seconds",
    "preflight_backup_duration_seconds",
    "preflight_backup_size_bytes",
    "preflight_backup_failures_total",
}
HISTOGRAMS = {"preflight_http_request_duration_seconds", "preflight_check_duration_seconds"}


def known_metric(name: str) -> bool:
    if name in METRICS:
        return True
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
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
