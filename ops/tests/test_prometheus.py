"""Prometheus config and alert rules: promtool checks, unit tests, metadata, runbooks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import DEPLOY, REPO, RUNBOOK_BASE, known_metric, load_yaml, metric_names, require_tool, run

PROM_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM_DIR / "tests").glob("*.yml"))

# The alerts the deployment promises (issue 4); more may be added, none may go missing.
EXPECTED_ALERTS = {
    "PreflightInstanceDown",
    "PreflightHigh5xxRatio",
    "PreflightHighP99Latency",
    "PreflightNotReady",
    "PreflightDbPoolSaturated",
    "PreflightRateLimitRejectionSpike",
    "PreflightBackupTooOld",
    "PreflightBackupFailed",
    "MonitoredServiceReadinessRegressed",
}


def checkable_config(tmp_path: Path) -> Path:
    """prometheus.yml as promtool can check it here: the token file (written by entrypoint.sh in
    the container) is replaced by a temporary one, and rule globs point into the repository."""
    config = load_yaml(PROM_DIR / "prometheus.yml")
    token = tmp_path / "metrics_token"
    token.write_text("test-only-token")
    for job in config["scrape_configs"]:
        auth = job.get("authorization")
        if auth and "credentials_file" in auth:
            auth["credentials_file"] = str(token)
    config["rule_files"] = [str(PROM_DIR / r) for r in config["rule_files"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_promtool_check_config(tmp_path):
    promtool = require_tool("promtool")
    result = run([promtool, "check", "config", str(checkable_config(tmp_path))])
    assert result.returncode == 0, result.stdout
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules():
    promtool = require_tool("promtool")
    result = run([promtool, "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout


def test_promtool_test_rules():
    promtool = require_tool("promtool")
    assert TEST_FILES, "no rule unit tests in deploy/prometheus/tests"
    result = run([promtool, "test", "rules", *map(str, TEST_FILES)], timeout=300)
    assert result.returncode == 0, result.stdout


def test_rule_unit_tests_cover_the_rule_files():
    for path in TEST_FILES:
        doc = load_yaml(path)
        listed = {(path.parent / f).resolve() for f in doc["rule_files"]}
        assert listed == {p.resolve() for p in RULE_FILES}, f"{path.name} must load every rule file"


def test_expected_alerts_are_defined(alert_rules):
    names = [r["alert"] for r in alert_rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert EXPECTED_ALERTS <= set(names), f"missing: {sorted(EXPECTED_ALERTS - set(names))}"


def test_every_alert_has_severity_summary_description_runbook(alert_rules):
    for rule in alert_rules:
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in ("critical", "warning"), f"{name}: severity"
        ann = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert ann.get(key, "").strip(), f"{name}: annotation {key} missing"


def test_every_runbook_url_maps_to_an_existing_runbook(alert_rules):
    for rule in alert_rules:
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE), f"{rule['alert']}: runbook_url must start with {RUNBOOK_BASE}"
        rel = url[len(RUNBOOK_BASE):]
        assert rel == f"docs/runbooks/{rule['alert']}.md", f"{rule['alert']}: runbook named after the alert"
        runbook = REPO / rel
        assert runbook.is_file(), f"{rule['alert']}: {rel} does not exist"
        assert rule["alert"] in runbook.read_text(), f"{rel} does not mention {rule['alert']}"


def test_every_alert_has_firing_and_quiet_unit_tests(alert_rules):
    fires, quiet = set(), set()
    for path in TEST_FILES:
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in alert_rules}
    assert not names - fires, f"no test where it fires: {sorted(names - fires)}"
    assert not names - quiet, f"no test where it stays quiet: {sorted(names - quiet)}"


def test_rules_use_only_metrics_the_binary_exports(alert_rules, exported_metrics):
    for rule in alert_rules:
        for name in metric_names(rule["expr"]):
            assert known_metric(name, exported_metrics), f"{rule['alert']}: {name} is not exported by preflight"


def test_rules_keep_the_job_label_for_inhibition(alert_rules):
    """Alertmanager inhibits warnings under a critical with the same `job`."""
    for rule in alert_rules:
        for m in re.finditer(r"\b(sum|max|min|avg|count)\s+by\s*\(([^)]*)\)", rule["expr"]):
            labels = {label.strip() for label in m.group(2).split(",")}
            assert "job" in labels, f"{rule['alert']}: keep `job` in {m.group(0)}"


def test_scrape_config_contract():
    config = load_yaml(PROM_DIR / "prometheus.yml")
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    job = jobs["preflight"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert "credentials" not in job["authorization"], "the token must come from a file, not the config"
    assert job["authorization"]["credentials_file"].startswith("/")
    assert jobs["preflight-ready"]["params"]["module"] == ["http_2xx"]
    assert jobs["preflight-ready"]["static_configs"][0]["targets"] == ["http://preflight:8000/health/ready"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]
    blackbox = load_yaml(DEPLOY / "blackbox" / "blackbox.yml")
    assert "http_2xx" in blackbox["modules"]


def test_not_ready_alert_uses_the_probe_job(alert_rules):
    rule = next(r for r in alert_rules if r["alert"] == "PreflightNotReady")
    assert 'probe_success{job="preflight-ready"}' in rule["expr"]
