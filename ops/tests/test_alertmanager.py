"""Alertmanager: the template renders from the environment, amtool accepts it, routing works."""

from __future__ import annotations

import os

import pytest

from conftest import DEPLOY, load_yaml, render_alertmanager, require_tool, run, sample_alertmanager_env

TEMPLATE = DEPLOY / "alertmanager" / "alertmanager.yml"
ENTRYPOINT = DEPLOY / "alertmanager" / "entrypoint.sh"


@pytest.fixture
def rendered(tmp_path):
    return render_alertmanager(tmp_path, sample_alertmanager_env())


def test_amtool_check_config(rendered):
    amtool = require_tool("amtool")
    result = run([amtool, "check-config", str(rendered)])
    assert result.returncode == 0, result.stdout
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    "labels, receiver",
    [
        (["severity=critical", "alertname=PreflightInstanceDown"], "oncall"),
        (["severity=warning", "alertname=PreflightHighP99Latency"], "team"),
        (["alertname=SomethingUnlabelled"], "team"),
    ],
)
def test_routing_by_severity(rendered, labels, receiver):
    amtool = require_tool("amtool")
    result = run([amtool, "config", "routes", "test", f"--config.file={rendered}", *labels])
    assert result.returncode == 0, result.stdout
    # amtool may print a warning first; the receiver list is the last line.
    assert result.stdout.strip().splitlines()[-1] == receiver, result.stdout


def test_receivers_have_email_and_webhook(rendered):
    config = load_yaml(rendered)
    env = sample_alertmanager_env()
    for receiver in config["receivers"]:
        assert receiver["email_configs"][0]["to"] == env["ALERT_EMAIL_TO"], receiver["name"]
        assert receiver["webhook_configs"][0]["url"] == env["ALERT_WEBHOOK_URL"], receiver["name"]
        assert receiver["webhook_configs"][0]["send_resolved"] is True
    assert config["global"]["smtp_smarthost"] == env["SMTP_SMARTHOST"]


def test_smtp_password_is_a_file_not_inline(rendered):
    config = load_yaml(rendered)
    assert "smtp_auth_password" not in config["global"]
    password_file = config["global"]["smtp_auth_password_file"]
    assert password_file == str(rendered.parent / "smtp_password")
    assert open(password_file).read() == sample_alertmanager_env()["SMTP_PASSWORD"]
    assert oct(os.stat(password_file).st_mode & 0o777) == "0o600"
    assert sample_alertmanager_env()["SMTP_PASSWORD"] not in rendered.read_text()


def test_warnings_are_inhibited_by_criticals():
    config = load_yaml(TEMPLATE)
    rules = config["inhibit_rules"]
    assert any(
        r["source_matchers"] == ['severity="critical"'] and r["target_matchers"] == ['severity="warning"']
        and "job" in r.get("equal", [])
        for r in rules
    )


def test_values_with_yaml_and_sed_special_characters_survive(tmp_path):
    env = sample_alertmanager_env("https://hooks.example.com/x?a=1&b=2|3")
    env["ALERT_EMAIL_TO"] = "o'neil@example.com, ops@example.com"
    config = load_yaml(render_alertmanager(tmp_path, env))
    assert config["receivers"][0]["webhook_configs"][0]["url"] == "https://hooks.example.com/x?a=1&b=2|3"
    assert config["receivers"][0]["email_configs"][0]["to"] == "o'neil@example.com, ops@example.com"


@pytest.mark.parametrize("missing", ["ALERT_EMAIL_TO", "SMTP_PASSWORD", "ALERT_WEBHOOK_URL"])
def test_entrypoint_refuses_to_start_without_a_receiver_setting(tmp_path, missing):
    env = {k: v for k, v in sample_alertmanager_env().items() if k != missing}
    result = run(
        ["sh", str(ENTRYPOINT), "--render-only"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TEMPLATE": str(TEMPLATE), "OUT_DIR": str(tmp_path), **env},
    )
    assert result.returncode != 0
    assert missing in result.stdout
