"""Grafana provisioning and dashboards: valid JSON, datasources that exist, queries that parse."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import DEPLOY, known_metric, load_yaml, metric_names, require_tool, run
from dashboards import DASHBOARDS, load, panels, promql_queries

PROVISIONING = DEPLOY / "grafana" / "provisioning"


def datasource_uids() -> dict[str, str]:
    config = load_yaml(PROVISIONING / "datasources" / "datasources.yml")
    return {ds["uid"]: ds["type"] for ds in config["datasources"]}


def test_datasources_prometheus_and_loki():
    config = load_yaml(PROVISIONING / "datasources" / "datasources.yml")
    by_type = {ds["type"]: ds for ds in config["datasources"]}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    assert by_type["loki"]["url"] == "http://loki:3100"
    assert sum(1 for ds in config["datasources"] if ds.get("isDefault")) == 1


def test_dashboard_provider_path_is_mounted(compose):
    config = load_yaml(PROVISIONING / "dashboards" / "dashboards.yml")
    path = config["providers"][0]["options"]["path"]
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{path}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_expected_dashboards_exist():
    names = {p.name for p in DASHBOARDS}
    assert {"preflight-service.json", "preflight-readiness.json"} <= names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_and_every_panel_has_datasource_and_targets(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"]
    uids = datasource_uids()
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        title = panel["title"]
        ds = panel.get("datasource")
        assert ds and ds.get("uid") in uids, f"{title}: datasource must be a provisioned uid"
        assert uids[ds["uid"]] == ds["type"], title
        assert panel.get("targets"), f"{title}: no targets"
        for target in panel["targets"]:
            tds = target.get("datasource", ds)
            assert tds.get("uid") in uids, f"{title}: target datasource"
            assert target.get("expr", "").strip(), f"{title}: empty query"
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, title


def test_dashboard_uids_are_unique():
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))


def _metrics(path_name: str) -> set[str]:
    return {m for f, _, expr in promql_queries() if f == path_name for m in metric_names(expr)}


def test_service_dashboard_covers_the_service_metrics_and_logs():
    used = _metrics("preflight-service.json")
    for metric in (
        "preflight_http_requests_total",
        "preflight_http_request_duration_seconds_bucket",
        "preflight_db_pool_connections",
        "preflight_db_pool_max_connections",
        "preflight_cache_hits_total",
        "preflight_cache_misses_total",
        "preflight_rate_limit_rejections_total",
        "preflight_backup_last_success_timestamp_seconds",
        "preflight_backup_size_bytes",
    ):
        assert metric in used, metric
    dashboard = load(DASHBOARDS[[p.name for p in DASHBOARDS].index("preflight-service.json")])
    logs = [p for p in panels(dashboard) if p["type"] == "logs"]
    assert logs and logs[0]["datasource"]["type"] == "loki"
    assert '{service="preflight"}' in logs[0]["targets"][0]["expr"]
    quantiles = [e for f, _, e in promql_queries() if f == "preflight-service.json" and "histogram_quantile" in e]
    for q in (r"0\.50?\b", r"0\.99\b"):
        assert any(re.match(rf"histogram_quantile\({q},.*by \(le, route\)", e) for e in quantiles), q


def test_readiness_dashboard_covers_readiness_metrics():
    used = _metrics("preflight-readiness.json")
    for metric in ("preflight_service_readiness_ratio", "preflight_service_ready", "preflight_checklist_items",
                   "preflight_check_runs_total", "preflight_check_run_duration_seconds_bucket",
                   "preflight_scheduler_lag_seconds", "preflight_scheduler_queue_depth",
                   "preflight_check_runs_in_flight", "preflight_checks_due"):
        assert metric in used, metric


def test_dashboards_use_only_metrics_the_binary_exports(exported_metrics):
    for file, title, expr in promql_queries():
        for name in metric_names(expr):
            assert known_metric(name, exported_metrics), f"{file} / {title}: {name} is not exported by preflight"


def test_all_promql_parses(tmp_path):
    """Each query (variables substituted) loaded as a recording rule: promtool parses it."""
    promtool = require_tool("promtool")
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr}
        for i, (_, _, expr) in enumerate(promql_queries())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout


def test_no_unknown_grafana_variables_left():
    for file, title, expr in promql_queries():
        assert not re.search(r"\$\w+", expr), f"{file} / {title}: unknown variable in {expr}"
