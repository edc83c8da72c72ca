"""preflight passes its own checklist: `preflight check --checklist builtin` against preflight.

    cargo build --release -p preflight
    PREFLIGHT_BIN=target/release/preflight python3 -m pytest ops/tests/test_self_check.py -q -s

The test runs preflight the way production does and gates it with the CLI:

  * preflight: `ENVIRONMENT=production`, random SECRET_KEY / ENCRYPTION_KEY / ADMIN_PASSWORD /
    METRICS_TOKEN, ALLOWED_ORIGINS, native TLS with a certificate made here with openssl (a
    test CA and a leaf for localhost and 127.0.0.1), the plain-HTTP redirect listener
    (HTTP_REDIRECT_PORT), SQLite in the test's directory, `preflight migrate up` first (production
    does not migrate at start) and `preflight backup` before checking, so that
    preflight_backup_last_success_timestamp_seconds is fresh.
  * Prometheus (the Debian `prometheus` binary) with deploy/prometheus/prometheus.yml: the
    `preflight` job points at https://localhost:PORT with the test CA (`tls_config.ca_file`) and
    the METRICS_TOKEN in its `credentials_file`; the `prometheus` and `alertmanager` jobs point at
    the test's servers; jobs whose servers do not run here (blackbox, Loki, Alloy) are left out.
    The rule files deploy/prometheus/rules/*.yml are loaded unchanged. Only the intervals are
    shortened (2 s) so that the first scrape and rule evaluation come quickly.
  * Alertmanager (`prometheus-alertmanager`) with deploy/alertmanager/alertmanager.yml rendered
    by its own entrypoint script, as test_e2e_monitoring.py does (webhook to this test, SMTP to a
    closed local port).
  * Grafana and Loki have no binaries on this machine, so the test serves stand-ins that answer
    the requests the probes send in the shapes of the real HTTP APIs:
      - FakeGrafana loads the dashboards Grafana would provision: the provider of
        deploy/grafana/provisioning/dashboards/dashboards.yml (its folder name) over the JSON
        files of deploy/grafana/dashboards/. Like Grafana, every /api route requires a
        credential (here the service-account token, `Authorization: Bearer glsa_...`) and
        answers 401 `{"message": "Unauthorized", ...}` without it; `GET /api/search` matches
        `query` as a case-insensitive substring of the title, filters `type` (dash-db,
        dash-folder), `tag`, `dashboardUIDs` and `limit`, and returns Grafana's hit objects
        (id, uid, title, uri, url, slug, type, tags, isStarred, folderId, folderUid,
        folderTitle, folderUrl, sortMeta); `GET /api/dashboards/uid/{uid}` returns
        `{"dashboard": {...}, "meta": {...}}` with the provisioned dashboard JSON (id, uid and
        version set, as Grafana stores them) and Grafana's meta fields, or 404
        `{"message": "Dashboard not found"}`; `GET /api/health` is open, as in Grafana.
      - FakeLoki answers `/loki/api/v1/query_range` (and the instant `/loki/api/v1/query`
        line count `sum(count_over_time(SELECTOR[RANGE]))`) with preflight's REAL log lines:
        it reads the preflight process's stdout log file at each query and labels every line
        as deploy/alloy/config.alloy would: `service` = the Compose service name (preflight),
        `container` = the Compose container name (preflight-preflight-1), `level` from the
        JSON line's `level` (or `fields.level`) upper-cased (WARNING -> WARN), omitted when
        empty; the entry time is the line's `timestamp` (RFC 3339), else the time it is read.
        Stream selectors with `=`, `!=`, `=~`, `!~` are matched like Loki (regexes anchored;
        at least one matcher that does not match the empty string), `start` (inclusive),
        `end` (exclusive), `limit` and `direction` apply as in Loki, and the answer is
        `{"status": "success", "data": {"resultType": "streams", "result": [{"stream": {...},
        "values": [["<ns>", "<line>"], ...]}], "stats": {}}}`. A query it cannot evaluate is a
        400 with a plain-text message, as Loki answers a parse error.
        The test asserts that config.alloy still sets those labels, so the stand-in cannot
        drift silently from the shipper.

Then `preflight check --checklist builtin --target https://localhost:PORT --config CFG.toml`
must exit 0 with every automated item passed, and with the metrics token removed from the check
config it must exit 1 naming the `/metrics` items. The CLI's text output is printed (-s).

Without PREFLIGHT_BIN the module is skipped (it fails with CI=true); a missing tool fails with
CI=true. Every process and server is started here, every wait has a deadline, and teardown
stops them by pid.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import DEPLOY, IN_CI, REPO, load_yaml, render_alertmanager, require_tool, run, sample_alertmanager_env

PREFLIGHT_BIN = os.environ.get("PREFLIGHT_BIN", "")
if not PREFLIGHT_BIN and not IN_CI:
    pytest.skip("PREFLIGHT_BIN is not set (path to a built preflight binary); self-check test skipped",
                allow_module_level=True)

# Process, webhook and HTTP helpers shared with the end-to-end monitoring test.
from test_e2e_monitoring import Processes, Webhook, free_port, http, wait_until  # noqa: E402

START_TIMEOUT_S = 30
SCRAPE_TIMEOUT_S = 60
CHECK_TIMEOUT_S = 180

SERVICE = "preflight"
COMPOSE_CONTAINER = "preflight-preflight-1"  # project `preflight`, service `preflight`, replica 1
LOG_SELECTOR = '{service="preflight"}'


# --------------------------------------------------------------------------------------------
# Certificates


def make_certificates(directory: Path) -> dict[str, Path]:
    """A test CA and a leaf certificate for localhost / 127.0.0.1 signed by it (90 days)."""
    openssl = require_tool("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_conf = directory / "ca.cnf"
    ca_conf.write_text(
        "[req]\ndistinguished_name = dn\nprompt = no\n"
        "[dn]\nCN = preflight self-check test CA\n"
        "[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
    )
    leaf_ext = directory / "leaf.ext"
    leaf_ext.write_text(
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
        "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid,issuer\n"
    )
    paths = {
        "ca": directory / "ca.pem", "ca_key": directory / "ca.key", "csr": directory / "leaf.csr",
        "cert": directory / "cert.pem", "key": directory / "key.pem",
    }
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (
        [openssl, "req", "-x509", "-new", *ec, "-days", "2", "-config", str(ca_conf), "-extensions", "v3_ca",
         "-keyout", str(paths["ca_key"]), "-out", str(paths["ca"])],
        [openssl, "req", "-new", *ec, "-subj", "/CN=localhost", "-keyout", str(paths["key"]), "-out", str(paths["csr"])],
        [openssl, "x509", "-req", "-in", str(paths["csr"]), "-CA", str(paths["ca"]), "-CAkey", str(paths["ca_key"]),
         "-set_serial", str(secrets.randbits(63)), "-days", "90", "-extfile", str(leaf_ext), "-out", str(paths["cert"])],
    ):
        result = run(cmd, timeout=30)
        assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}"
    return paths


def https(url: str, context: ssl.SSLContext, headers: dict | None = None, timeout: float = 5.0):
    """(status, headers, body) over HTTPS with the test CA, without raising on HTTP errors."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# --------------------------------------------------------------------------------------------
# Stand-ins for Grafana and Loki


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread, closed by close()."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, body, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else (json.dumps(body) if content_type == "application/json"
                                                 else str(body)).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type if content_type != "application/json"
                        else "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def grafana_slug(title: str) -> str:
    """Grafana's slugify for dashboard URLs: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class FakeGrafana(_Server):
    """Grafana's search and dashboard-by-uid API over the repository's provisioned dashboards
    (see the module docstring for what is mirrored)."""

    def __init__(self, token: str):
        provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")["providers"][0]
        folder_title = provider.get("folder") or "General"
        self.folder = {"id": 1, "uid": grafana_slug(folder_title) + "-folder", "title": folder_title}
        self.folder["url"] = f"/dashboards/f/{self.folder['uid']}/{grafana_slug(folder_title)}"
        self.dashboards: dict[str, dict] = {}
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for number, path in enumerate(sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")), start=2):
            dashboard = json.loads(path.read_text())
            uid = dashboard.get("uid") or f"provisioned-{number}"
            dashboard = {**dashboard, "id": number, "uid": uid, "version": dashboard.get("version") or 1}
            slug = grafana_slug(dashboard["title"])
            meta = {
                "type": "db", "canSave": bool(provider.get("allowUiUpdates")), "canEdit": True,
                "canAdmin": False, "canStar": True, "canDelete": not provider.get("disableDeletion", False),
                "slug": slug, "url": f"/d/{uid}/{slug}", "expires": "0001-01-01T00:00:00Z",
                "created": now, "updated": now, "updatedBy": "Anonymous", "createdBy": "Anonymous",
                "version": dashboard["version"], "hasAcl": False, "isFolder": False,
                "folderId": self.folder["id"], "folderUid": self.folder["uid"],
                "folderTitle": self.folder["title"], "folderUrl": self.folder["url"],
                "provisioned": True, "provisionedExternalId": path.name,
                "annotationsPermissions": {"dashboard": {"canAdd": False, "canEdit": False, "canDelete": False},
                                           "organization": {"canAdd": False, "canEdit": False, "canDelete": False}},
                "publicDashboardEnabled": False,
            }
            self.dashboards[uid] = {"dashboard": dashboard, "meta": meta}
        self.requests: list[str] = []
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                url = urllib.parse.urlsplit(self.path)
                grafana.requests.append(url.path)
                if url.path == "/api/health":
                    return _reply(self, 200, {"commit": "fake", "database": "ok", "version": "11.0.0"})
                if not url.path.startswith("/api/"):
                    return _reply(self, 404, b"404 page not found", "text/plain; charset=utf-8")
                if self.headers.get("Authorization") != f"Bearer {token}":
                    return _reply(self, 401, {"extra": None, "message": "Unauthorized",
                                              "messageId": "auth.unauthorized", "statusCode": 401, "traceID": ""})
                query = urllib.parse.parse_qs(url.query)
                if url.path == "/api/search":
                    return _reply(self, 200, grafana.search(query))
                match = re.fullmatch(r"/api/dashboards/uid/([^/]+)", url.path)
                if match:
                    found = grafana.dashboards.get(urllib.parse.unquote(match.group(1)))
                    if found is None:
                        return _reply(self, 404, {"message": "Dashboard not found"})
                    return _reply(self, 200, found)
                return _reply(self, 404, {"message": "Not found"})

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def search(self, query: dict[str, list[str]]) -> list[dict]:
        text = (query.get("query") or [""])[0].lower()
        kinds = set(query.get("type") or ["dash-folder", "dash-db"])
        tags = set(query.get("tag") or [])
        uids = set(query.get("dashboardUIDs") or [])
        limit = int((query.get("limit") or ["1000"])[0])
        hits = []
        if "dash-folder" in kinds and not tags and not uids and text in self.folder["title"].lower():
            hits.append({
                "id": self.folder["id"], "uid": self.folder["uid"], "title": self.folder["title"],
                "uri": f"db/{grafana_slug(self.folder['title'])}", "url": self.folder["url"], "slug": "",
                "type": "dash-folder", "tags": [], "isStarred": False, "sortMeta": 0,
            })
        if "dash-db" in kinds:
            for uid, entry in sorted(self.dashboards.items(), key=lambda kv: kv[1]["dashboard"]["title"].lower()):
                dashboard, meta = entry["dashboard"], entry["meta"]
                if text not in dashboard["title"].lower():
                    continue
                if tags and not tags <= set(dashboard.get("tags") or []):
                    continue
                if uids and uid not in uids:
                    continue
                hits.append({
                    "id": dashboard["id"], "uid": uid, "orgId": 1, "title": dashboard["title"],
                    "uri": f"db/{meta['slug']}", "url": meta["url"], "slug": "", "type": "dash-db",
                    "tags": dashboard.get("tags") or [], "isStarred": False,
                    "folderId": meta["folderId"], "folderUid": meta["folderUid"],
                    "folderTitle": meta["folderTitle"], "folderUrl": meta["folderUrl"], "sortMeta": 0,
                })
        return hits[:limit]


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_selector(text: str) -> list[tuple[str, str, str]]:
    """A LogQL stream selector `{a="x", b=~"y.*"}` as (label, op, value); ValueError otherwise."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"the fake Loki evaluates stream selectors only, not {text!r}")
    inner, matchers, at = text[1:-1].strip(), [], 0
    while at < len(inner):
        m = _MATCHER.match(inner, at)
        if not m or m.end() == at:
            raise ValueError(f"parse error at {inner[at:]!r}")
        matchers.append((m.group(1), m.group(2), json.loads(f'"{m.group(3)}"')))
        at = m.end()

    def matches_empty(op: str, value: str) -> bool:
        return {"=": value == "", "!=": value != "", "=~": bool(re.fullmatch(value, "")),
                "!~": not re.fullmatch(value, "")}[op]

    if not matchers or all(matches_empty(op, value) for _, op, value in matchers):
        raise ValueError("queries require at least one regexp or equality matcher that does not have an "
                         "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, "
                         "but app=~\".+\" will")
    return matchers


def selector_matches(matchers, labels: dict[str, str]) -> bool:
    for label, op, value in matchers:
        have = labels.get(label, "")
        ok = {"=": have == value, "!=": have != value, "=~": bool(re.fullmatch(value, have)),
              "!~": not re.fullmatch(value, have)}[op]
        if not ok:
            return False
    return True


def rfc3339_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time (any fraction length), else None."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text or "")
    if not m:
        return None
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    fraction = (m.group(2) or "").ljust(9, "0")[:9]
    return int(base.timestamp()) * 1_000_000_000 + int(fraction)


def parse_loki_time(text: str | None, default_ns: int) -> int:
    """Loki accepts nanoseconds, (fractional) seconds or RFC 3339."""
    if not text:
        return default_ns
    if re.fullmatch(r"\d+", text):
        return int(text) if len(text) > 12 else int(text) * 1_000_000_000
    if re.fullmatch(r"\d+\.\d+", text):
        return int(float(text) * 1_000_000_000)
    parsed = rfc3339_ns(text)
    if parsed is None:
        raise ValueError(f"could not parse time {text!r}")
    return parsed


class FakeLoki(_Server):
    """Loki's query API over preflight's real stdout, labelled as deploy/alloy would label it
    (see the module docstring)."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.requests: list[str] = []
        loki = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                url = urllib.parse.urlsplit(self.path)
                loki.requests.append(url.path)
                query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
                try:
                    if url.path == "/ready":
                        return _reply(self, 200, b"ready\n", "text/plain; charset=utf-8")
                    if url.path == "/loki/api/v1/query_range":
                        return _reply(self, 200, loki.query_range(query))
                    if url.path == "/loki/api/v1/query":
                        return _reply(self, 200, loki.instant(query))
                except ValueError as e:
                    return _reply(self, 400, f"parse error : {e}\n".encode(), "text/plain; charset=utf-8")
                return _reply(self, 404, b"404 page not found\n", "text/plain; charset=utf-8")

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def entries(self) -> list[tuple[dict[str, str], int, str]]:
        """(labels, time ns, line) for every line preflight has written so far."""
        read_ns = time.time_ns()
        out = []
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        for line in text.splitlines():
            if not line.strip():
                continue
            labels = {"service": SERVICE, "container": COMPOSE_CONTAINER}
            level, ts = "", None
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                fields = record.get("fields") if isinstance(record.get("fields"), dict) else {}
                level = str(record.get("level") or fields.get("level") or "")
                ts = rfc3339_ns(str(record.get("timestamp") or ""))
            if not level:
                m = re.search(r"(?i)(?:level|lvl|severity)[\"=: ]+\"?(trace|debug|info|warn|warning|error|fatal|panic)",
                              line)
                level = m.group(1) if m else ""
            level = "WARN" if level.lower() == "warning" else level.upper()
            if level:
                labels["level"] = level
            out.append((labels, ts if ts is not None else read_ns, line))
        return out

    def query_range(self, query: dict[str, str]) -> dict:
        matchers = parse_selector(query.get("query", ""))
        end = parse_loki_time(query.get("end"), time.time_ns())
        start = parse_loki_time(query.get("start"), end - 3600 * 1_000_000_000)
        limit = int(query.get("limit") or 100)
        backward = (query.get("direction") or "backward").lower() == "backward"
        picked = [e for e in self.entries() if start <= e[1] < end and selector_matches(matchers, e[0])]
        picked.sort(key=lambda e: e[1], reverse=backward)
        picked = picked[:limit]
        streams: dict[tuple, dict] = {}
        for labels, ns, line in picked:
            key = tuple(sorted(labels.items()))
            streams.setdefault(key, {"stream": labels, "values": []})["values"].append([str(ns), line])
        return {"status": "success", "data": {"resultType": "streams", "result": list(streams.values()),
                                              "stats": {}}}

    def instant(self, query: dict[str, str]) -> dict:
        m = re.fullmatch(r"\s*sum\(count_over_time\((\{.*\})\[(\d+)(ms|s|m|h|d)\]\)\)\s*", query.get("query", ""))
        if not m:
            raise ValueError("the fake Loki evaluates sum(count_over_time(SELECTOR[RANGE])) only")
        matchers = parse_selector(m.group(1))
        unit = {"ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}[m.group(3)]
        at = parse_loki_time(query.get("time"), time.time_ns())
        start = at - int(m.group(2)) * unit
        count = sum(1 for labels, ns, _ in self.entries() if start < ns <= at and selector_matches(matchers, labels))
        result = [{"metric": {}, "value": [at / 1e9, str(count)]}] if count else []
        return {"status": "success", "data": {"resultType": "vector", "result": result, "stats": {}}}


# --------------------------------------------------------------------------------------------
# The stack


def check_config(ctx: dict, *, metrics_token: bool = True, url: str | None = None) -> Path:
    """The `--config` TOML of `preflight check` for this stack."""
    target = url or ctx["target"]
    lines = [
        "[target]",
        f'url = "{target}"',
        f'name = "{SERVICE}"',
        f'job = "{SERVICE}"',
        f"log_selector = '{LOG_SELECTOR}'",
        f'plain_http_url = "{ctx["plain_http"]}"',
    ]
    if metrics_token:
        lines += [
            "",
            "[[target.credentials]]",
            'header = "Authorization"',
            'value_env = "METRICS_TOKEN"',
            'prefix = "Bearer "',
            'paths = "/metrics"',
        ]
    lines += [
        "",
        "[prometheus]",
        f'url = "{ctx["prometheus"]}"',
        "",
        "[alertmanager]",
        f'url = "{ctx["alertmanager"]}"',
        "",
        "[loki]",
        f'url = "{ctx["loki"].url}"',
        "",
        "[grafana]",
        f'url = "{ctx["grafana"].url}"',
        "[[grafana.credentials]]",
        'header = "Authorization"',
        'value_env = "GRAFANA_TOKEN"',
        'prefix = "Bearer "',
        "",
        "[tls]",
        f'ca_file = "{ctx["certs"]["ca"].name}"',
        "",
        "[limits]",
        'timeout = "10s"',
        "",
    ]
    name = "check.toml" if metrics_token else "check-without-metrics-token.toml"
    path = ctx["certs"]["ca"].parent / name
    path.write_text("\n".join(lines))
    return path


def run_check(ctx: dict, config: Path, *extra: str, target: str | None = None) -> subprocess.CompletedProcess:
    """Runs the CLI gate and prints its text output (for pasting)."""
    cmd = [str(ctx["binary"]), "check", "--checklist", "builtin", "--target", target or ctx["target"],
           "--config", str(config), *extra]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "METRICS_TOKEN": ctx["token"],
        "GRAFANA_TOKEN": ctx["grafana_token"],
        "NO_COLOR": "1",
    }
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, env=env, cwd=ctx["tmp"])
    print(f"\n$ preflight check --checklist builtin --target {target or ctx['target']} --config {config.name} "
          f"{' '.join(extra)}  (exit {result.returncode}, {time.monotonic() - started:.1f} s)")
    print(result.stdout)
    if result.stderr.strip():
        print("stderr:", result.stderr)
    for secret in (ctx["token"], ctx["grafana_token"], ctx["admin_password"]):
        assert secret not in result.stdout + result.stderr, "a secret appeared in the CLI output"
    return result


def item_lines(output: str) -> list[tuple[str, str, str]]:
    """(status, item text, kind) for every automated item of the text report."""
    out = []
    for line in output.splitlines():
        m = re.match(r"^  (PASS|FAIL|ERROR|PENDING|WAIVED|N/A)\s+(.*?) \[([a-z_]+)\](?: — |$)", line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3)))
    return out


def wait_for_prometheus(ctx: dict, expr: str, what: str):
    url = ctx["prometheus"] + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})

    def has_result():
        status, _, body = http("GET", url, timeout=5)
        data = json.loads(body)
        return status == 200 and data.get("status") == "success" and data["data"]["result"]

    wait_until(has_result, SCRAPE_TIMEOUT_S,
               f"{what} ({expr}); Prometheus log:\n{ctx['procs'].log('prometheus')}", interval=1)


def prometheus_config(ctx: dict, ports: dict, tmp: Path) -> dict:
    """deploy/prometheus/prometheus.yml, pointed at this test's servers."""
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    config["global"]["scrape_interval"] = "2s"
    config["global"]["evaluation_interval"] = "2s"
    config["global"]["scrape_timeout"] = "2s"
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [f"127.0.0.1:{ports['alertmanager']}"]}]}]
    config["rule_files"] = [str(DEPLOY / "prometheus" / rule) for rule in config["rule_files"]]
    here = {
        "preflight": [f"localhost:{ports['preflight']}"],
        "prometheus": [f"127.0.0.1:{ports['prometheus']}"],
        "alertmanager": [f"127.0.0.1:{ports['alertmanager']}"],
    }
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in here:
            continue  # blackbox exporter, Loki and Alloy do not run in this test
        job["static_configs"] = [{"targets": here[job["job_name"]]}]
        if job["job_name"] == "preflight":
            job["scheme"] = "https"
            job["tls_config"] = {"ca_file": str(ctx["certs"]["ca"])}
            job["authorization"]["credentials_file"] = str(tmp / "metrics_token")
        jobs.append(job)
    assert any(j["job_name"] == "preflight" for j in jobs), "the repository's prometheus.yml has a preflight job"
    config["scrape_configs"] = jobs
    return config


def assert_alloy_labels_as_mirrored():
    """FakeLoki labels lines as deploy/alloy/config.alloy does; fail if that config changes."""
    alloy = (DEPLOY / "alloy" / "config.alloy").read_text()
    assert re.search(r'__meta_docker_container_label_com_docker_compose_service"\]\s*\n\s*target_label\s*=\s*"service"',
                     alloy), "config.alloy no longer labels streams with the Compose service as `service`"
    assert re.search(r'target_label\s*=\s*"container"', alloy), "config.alloy no longer sets `container`"
    assert re.search(r"stage\.labels\s*\{\s*values\s*=\s*\{\s*level\s*=", alloy), "config.alloy no longer sets `level`"
    assert 'source            = "ts"' in alloy or re.search(r'source\s*=\s*"ts"', alloy), "timestamp stage changed"
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    assert compose.get("name") == "preflight" and "preflight" in compose["services"], \
        "the Compose project/service names the fake Loki uses changed"


def preflight_env(tmp: Path, ports: dict, certs: dict, token: str, admin_password: str, **overrides) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEY": secrets.token_hex(32),
        "ADMIN_EMAIL": "self-check-admin@example.com",
        "ADMIN_PASSWORD": admin_password,
        "ALLOWED_ORIGINS": "https://preflight.example.com",
        "METRICS_TOKEN": token,
        "TLS_CERT": str(certs["cert"]),
        "TLS_KEY": str(certs["key"]),
        "HTTP_REDIRECT_PORT": str(ports["redirect"]),
        "HOST": "127.0.0.1",
        "PORT": str(ports["preflight"]),
        "DATA_DIR": str(tmp),
        "DATABASE_URL": f"sqlite://{tmp}/preflight.db?mode=rwc",
        "BACKUP_DIR": str(tmp / "backups"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
    }
    env.update(overrides)
    return env


def start_preflight(procs: Processes, name: str, binary: Path, env: dict, base: str, context: ssl.SSLContext):
    """`preflight migrate up` (production does not migrate at start), then `preflight serve`."""
    migrated = run([str(binary), "migrate", "up"], timeout=60, env=env, cwd=procs.tmp)
    assert migrated.returncode == 0, f"preflight migrate up:\n{migrated.stdout}"
    procs.start(name, [str(binary), "serve"], env=env)
    wait_until(lambda: (procs.check_running(name), https(base + "/health/ready", context)[0] == 200)[1],
               START_TIMEOUT_S, f"{name} /health/ready over HTTPS\n{procs.log(name)}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not PREFLIGHT_BIN:  # only reached with CI=true
        pytest.fail("PREFLIGHT_BIN is not set: CI must run the self-check test "
                    "(build with `cargo build --release -p preflight`)", pytrace=False)
    prometheus_bin = require_tool("prometheus")
    alertmanager_bin = require_tool("alertmanager" if shutil.which("alertmanager") else "prometheus-alertmanager")
    binary = Path(PREFLIGHT_BIN).resolve()
    assert binary.is_file() and os.access(binary, os.X_OK), f"PREFLIGHT_BIN={PREFLIGHT_BIN} is not an executable"
    assert_alloy_labels_as_mirrored()

    tmp = tmp_path_factory.mktemp("self-check")
    certs = make_certificates(tmp / "tls")
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    procs = Processes(tmp)
    webhook = Webhook()
    ports = {name: free_port() for name in ("preflight", "redirect", "prometheus", "alertmanager")}
    token = secrets.token_hex(32)
    admin_password = "Self-Check-" + secrets.token_urlsafe(24)
    grafana_token = f"glsa_{secrets.token_urlsafe(24)}_{secrets.token_hex(4)}"
    (tmp / "backups").mkdir()
    env = preflight_env(tmp, ports, certs, token, admin_password)
    grafana = FakeGrafana(grafana_token)
    loki = FakeLoki(tmp / "preflight.log")
    ctx = {
        "tmp": tmp, "procs": procs, "binary": binary, "env": env, "certs": certs, "ssl": context,
        "token": token, "admin_password": admin_password, "grafana_token": grafana_token,
        "target": f"https://localhost:{ports['preflight']}",
        "plain_http": f"http://localhost:{ports['redirect']}",
        "prometheus": f"http://127.0.0.1:{ports['prometheus']}",
        "alertmanager": f"http://127.0.0.1:{ports['alertmanager']}",
        "grafana": grafana, "loki": loki, "ports": ports,
    }
    try:
        # --- preflight, as production runs it; then a backup, as the backup service takes one.
        start_preflight(procs, "preflight", binary, env, ctx["target"], context)
        backup = run([str(binary), "backup", "--output", str(tmp / "backups")], timeout=60, env=env, cwd=tmp)
        assert backup.returncode == 0, f"preflight backup:\n{backup.stdout}"

        # --- Alertmanager: the repository's config rendered by its entrypoint script.
        am_env = sample_alertmanager_env(webhook.url)
        am_env["SMTP_SMARTHOST"] = f"127.0.0.1:{free_port()}"
        am_dir = tmp / "alertmanager"
        am_dir.mkdir()
        am_config = render_alertmanager(am_dir, am_env)
        procs.start("alertmanager", [
            alertmanager_bin, f"--config.file={am_config}", f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
        ])
        wait_until(lambda: (procs.check_running("alertmanager"),
                            http("GET", ctx["alertmanager"] + "/-/ready")[0] == 200)[1],
                   START_TIMEOUT_S, f"alertmanager /-/ready\n{procs.log('alertmanager')}")

        # --- Prometheus: the repository's config and rules, scraping preflight over HTTPS.
        (tmp / "metrics_token").write_text(token)
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(ctx, ports, tmp)))
        procs.start("prometheus", [
            prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        ])
        wait_until(lambda: (procs.check_running("prometheus"), http("GET", ctx["prometheus"] + "/-/ready")[0] == 200)[1],
                   START_TIMEOUT_S, f"prometheus /-/ready\n{procs.log('prometheus')}")
        wait_for_prometheus(ctx, 'up{job="preflight"} == 1', "Prometheus scraping preflight over HTTPS")
        wait_for_prometheus(ctx, "time() - preflight_backup_last_success_timestamp_seconds < 90000",
                            "the fresh backup in Prometheus")
        wait_until(lambda: json.loads(http("GET", ctx["prometheus"] + "/api/v1/rules?type=alert")[2])["data"]["groups"],
                   SCRAPE_TIMEOUT_S, "alerting rules loaded")
        yield ctx
    finally:
        procs.stop_all()
        webhook.close()
        grafana.close()
        loki.close()


def test_preflight_passes_its_own_checklist(stack):
    result = run_check(stack, check_config(stack))
    items = item_lines(result.stdout)
    template = (REPO / "crates" / "domain" / "src" / "template.rs").read_text()
    automated = len(re.findall(r"<!-- check: ", template.split("#[cfg(test)]")[0]))
    assert len(items) == automated, (
        f"{len(items)} automated items in the output, {automated} in the built-in template:\n{result.stdout}"
    )
    not_passed = [f"{status} {text} [{kind}]" for status, text, kind in items if status != "PASS"]
    assert not not_passed, "automated items that did not pass:\n" + "\n".join(not_passed)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    # The stand-ins were really asked (with the token: a refusal would have been an error).
    assert any(p.startswith("/api/") for p in stack["grafana"].requests)
    assert "/loki/api/v1/query_range" in stack["loki"].requests


def test_without_the_metrics_token_the_gate_fails_and_names_the_metrics_items(stack):
    result = run_check(stack, check_config(stack, metrics_token=False))
    assert result.returncode == 1, f"exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    items = item_lines(result.stdout)
    failed = {(text, kind) for status, text, kind in items if status != "PASS"}
    assert ("`/metrics` exposes valid Prometheus metrics", "metrics") in failed, result.stdout
    assert {kind for _, kind in failed} == {"metrics"}, f"only the /metrics items fail: {sorted(failed)}"
    assert re.search(r"FAIL\s+`/metrics` exposes valid Prometheus metrics \[metrics\] — /metrics answered 401",
                     result.stdout), result.stdout


def test_development_with_a_wildcard_origin_is_not_production_ready(stack):
    """ENVIRONMENT=development with ALLOWED_ORIGINS containing `*`: preflight never sends
    `Access-Control-Allow-Origin: *` (wildcard entries are dropped from the allow-list in every
    environment), so the cors items still pass; what makes this instance not ready is the
    missing HSTS (sent in production only), and the gate names the HTTPS item."""
    tmp = stack["tmp"] / "development"
    tmp.mkdir()
    (tmp / "backups").mkdir()
    ports = {"preflight": free_port(), "redirect": free_port()}
    env = preflight_env(tmp, ports, stack["certs"], stack["token"], stack["admin_password"],
                        ENVIRONMENT="development", ALLOWED_ORIGINS="*,https://preflight.example.com")
    procs = Processes(tmp)
    target = f"https://localhost:{ports['preflight']}"
    try:
        start_preflight(procs, "preflight-development", stack["binary"], env, target, stack["ssl"])
        dev = {**stack, "plain_http": f"http://localhost:{ports['redirect']}"}
        config = check_config(dev, url=target)
        result = run_check(dev, config, "--kind", "cors", "--kind", "tls", target=target)
    finally:
        procs.stop_all()
    assert result.returncode == 1, f"exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    items = item_lines(result.stdout)
    by_kind = {}
    for status, text, kind in items:
        by_kind.setdefault(kind, set()).add(status)
    assert by_kind.get("cors") == {"PASS"}, f"the wildcard is never answered: {items}"
    assert by_kind.get("tls") == {"FAIL"}, items
    assert re.search(r"FAIL\s+HTTPS is served with a certificate valid for at least two more weeks \[tls\] — .*"
                     r"no Strict-Transport-Security \(HSTS\) header", result.stdout), result.stdout
