"""Soak: ops/soak.py runs the mixed load (reads, writes, logins, exports) at half the measured
capacity for 60 s against the real binary on SQLite, and its verdict passes: no 5xx, RSS, open
file descriptors, DB connections and p99 flat (issue #12, item 5). The documented run is 30
minutes (docs/reliability.md, "Soak").

    PREFLIGHT_BIN=target/release/preflight python3 -m pytest ops/tests/test_soak.py -q
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import MEASUREMENTS, REPO, preflight_binary, run

SOAK = REPO / "ops" / "soak.py"
DURATION_S = 60
INTERVAL_S = 10


@pytest.mark.soak
def test_a_minute_of_mixed_load_at_half_capacity_is_flat_with_no_server_error(tmp_path):
    binary = preflight_binary()
    report_path = tmp_path / "soak.json"
    result = run(
        [sys.executable, str(SOAK), "--bin", str(binary), "--duration", str(DURATION_S),
         "--interval", str(INTERVAL_S), "--calibrate", "5", "--json", str(report_path)],
        timeout=DURATION_S + 60,
    )
    assert result.returncode == 0, result.stdout[-12000:]
    report = json.loads(report_path.read_text())
    totals = report["totals"]
    assert totals["status_5xx"] == 0 and totals["calibration_5xx"] == 0, totals
    assert totals["transport_errors"] == 0, totals
    for kind in ("read", "write", "login", "export"):
        assert totals["requests"].get(kind, 0) > 0, f"no {kind} requests: {totals['requests']}"
    intervals = report["intervals"]
    assert len(intervals) == DURATION_S // INTERVAL_S, intervals
    assert all(i["rss_mib"] > 0 and i["fds"] > 0 and i["db_connections"] for i in intervals), intervals
    assert report["passed"] and "verdict: PASS" in result.stdout

    first, last = intervals[1], intervals[-1]
    MEASUREMENTS.append(
        f"soak {DURATION_S} s: capacity {report['calibration']['capacity_ops_per_s']} ops/s, "
        f"run at {report['rate_ops_per_s']} ops/s; RSS {first['rss_mib']} -> {last['rss_mib']} MiB, "
        f"fds {first['fds']} -> {last['fds']}, DB connections {first['db_connections']} -> "
        f"{last['db_connections']}, p99 {first['p99_ms']} -> {last['p99_ms']} ms"
    )
