"""Reading the Grafana dashboards: panels and their PromQL, with Grafana variables replaced.
Shared by test_grafana.py (syntax) and test_e2e_monitoring.py (every query returns data)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import DEPLOY

DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))

# What Grafana would put in place of its variables for a real query.
SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$service": ".*",
    "$route": ".*",
}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict):
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def substitute(expr: str) -> str:
    for var, value in SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    return expr


def promql_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL with variables substituted) for every Prometheus target."""
    out = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                ds = target.get("datasource") or panel.get("datasource") or {}
                if ds.get("type") == "prometheus":
                    out.append((path.name, panel["title"], substitute(target["expr"])))
    return out
