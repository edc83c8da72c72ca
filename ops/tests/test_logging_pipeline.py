"""Log pipeline: Alloy config (labels service + level from JSON lines), Loki config, LogQL docs.

No Alloy, Loki or logcli binary is packaged for Debian, so configs are checked structurally
here; the regex stage is exercised with Python's re (the pattern uses only syntax that RE2 and
Python share).
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import DEPLOY, DOCS, load_yaml

ALLOY = (DEPLOY / "alloy" / "config.alloy").read_text()
LOKI = load_yaml(DEPLOY / "loki" / "loki.yml")


def alloy_components() -> set[str]:
    return {f"{m.group(1)}.{m.group(2)}" for m in re.finditer(r'^([a-z_.]+)\s+"([a-z_]+)"\s*\{', ALLOY, re.M)}


def test_alloy_braces_balance_and_references_resolve():
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', re.sub(r"//.*", "", ALLOY))
    assert code.count("{") == code.count("}")
    assert code.count("[") == code.count("]")
    defined = alloy_components()
    for m in re.finditer(r"\b((?:discovery|loki)\.[a-z_.]+?)\.(targets|output|rules|receiver)\b", code):
        assert m.group(1) in defined, f"reference to undefined component {m.group(1)}"


def test_alloy_selects_this_compose_project(compose):
    assert f'"com.docker.compose.project={compose["name"]}"' in ALLOY
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in compose["services"]["alloy"]["volumes"]


def test_alloy_labels_service_and_level():
    assert re.search(
        r'source_labels\s*=\s*\["__meta_docker_container_label_com_docker_compose_service"\]\s*\n\s*target_label\s*=\s*"service"',
        ALLOY,
    )
    assert re.search(r"stage\.labels\s*\{\s*\n\s*values\s*=\s*\{\s*level\s*=", ALLOY)
    # Both shapes of tracing-subscriber JSON are read.
    assert re.search(r'level\s*=\s*"level"', ALLOY)
    assert re.search(r'fields_level\s*=\s*"fields\.level"', ALLOY)
    assert 'url = "http://loki:3100/loki/api/v1/push"' in ALLOY


LEVEL_RE = re.search(r'stage\.regex\s*\{\s*\n\s*expression\s*=\s*"((?:\\.|[^"\\])*)"', ALLOY).group(1)
LEVEL_RE = LEVEL_RE.encode().decode("unicode_escape")


@pytest.mark.parametrize(
    "line, level",
    [
        (json.dumps({"timestamp": "2026-01-01T00:00:00.000001Z", "level": "INFO", "message": "request served",
                     "request_id": "r1", "route": "/health/live", "status": 200, "latency_ms": 0.4,
                     "target": "preflight::http"}), "INFO"),
        (json.dumps({"timestamp": "2026-01-01T00:00:00Z", "level": "ERROR", "fields": {"message": "db down"},
                     "target": "preflight"}), "ERROR"),
        ('{"level":"warn","ts":1767225600.1,"logger":"http","msg":"caddy"}', "warn"),
        ('ts=2026-01-01T00:00:00Z level=debug msg="loki"', "debug"),
    ],
)
def test_level_regex_fallback_matches_common_formats(line, level):
    m = re.search(LEVEL_RE, line)
    assert m and m.group("level_kv") == level


def test_loki_single_binary_with_retention():
    assert LOKI["auth_enabled"] is False
    assert LOKI["server"]["http_listen_port"] == 3100
    schema = LOKI["schema_config"]["configs"][-1]
    assert schema["store"] == "tsdb" and schema["schema"] == "v13"
    assert LOKI["compactor"]["retention_enabled"] is True
    assert LOKI["limits_config"]["retention_period"]
    assert LOKI["common"]["path_prefix"] == "/loki"


def logql_queries() -> list[str]:
    text = (DOCS / "logging.md").read_text()
    queries = []
    for block in re.findall(r"```logql\n(.*?)```", text, re.S):
        queries.extend(q.strip() for q in block.strip().split("\n\n") if q.strip())
    return queries


def test_logging_doc_has_logql_queries():
    assert len(logql_queries()) >= 5


@pytest.mark.parametrize("query", logql_queries())
def test_logql_queries_are_well_formed(query):
    """Structural check only: Debian has no logcli or Loki to parse LogQL."""
    body = re.sub(r"`[^`]*`", "``", re.sub(r'"(?:\\.|[^"\\])*"', '""', query))
    for a, b in ("{}", "()", "[]"):
        assert body.count(a) == body.count(b), f"unbalanced {a}{b}: {query}"
    assert query.count('"') % 2 == 0
    selectors = re.findall(r"\{([^{}]*)\}", body)
    assert selectors, f"no stream selector: {query}"
    for sel in re.findall(r'\{((?:[a-z_]+\s*(?:=~|!=|!~|=)\s*"[^"]*"\s*,?\s*)+)\}', query):
        for label in re.findall(r'([a-z_]+)\s*(?:=~|!=|!~|=)', sel):
            assert label in ("service", "level", "container"), f"{label} is not an indexed label: {query}"
