"""API fuzzing: schemathesis against the real binary, authenticated, every operation reached
with valid data (issue #12, item 1).

Checks: no server error, and status codes, content types and response bodies as the OpenAPI
document (`/openapi.json`) declares them. Reach: before the run the test creates the resources
the operations need, and a schemathesis config names them per operation (path ids, and body
fields that refer to other resources or credentials); operations that destroy or spend what
they get (deletes, token refresh, logout, a checklist's new version) get resources of their
own, so that no operation takes away what another one needs. After the run, the HAR report
says what every request got: each documented operation must have had a success status at
least once, or the test fails naming the operations that never had one.

Valid data also comes from the document itself: request examples (a checklist that imports,
a user, a service, ...) that schemathesis sends first, and schemas bounded as the validation
is (routes_tests.rs holds the two together). Body fields that refer to other resources or
secrets draw from config dictionaries part of the time and are fuzzed the rest.

Bounded: a fixed number of examples per operation (about a minute for 100 on two cores) and
a time limit on the whole run. schemathesis comes from PyPI (ops/requirements.txt); without it
the test skips, or fails under CI=true.

    PREFLIGHT_BIN=target/release/preflight python3 -m pytest ops/tests/test_api_fuzz.py -q
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import IN_CI, _free_port, preflight_binary

# Examples per operation and phase, and a limit on the whole run.
MAX_EXAMPLES = int(os.environ.get("PREFLIGHT_FUZZ_EXAMPLES", "100"))
RUN_TIMEOUT_S = int(os.environ.get("PREFLIGHT_FUZZ_TIMEOUT", "420"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
METHODS = ("get", "put", "post", "patch", "delete")

ADMIN = {"email": "admin@preflight.local", "password": "preflight-admin"}
CHECKLIST = "# {name}\n\n## Section\n\n- [ ] One item\n- [ ] Another item\n"
# Runs need an automated item.
AUTOMATED = "# {name}\n\n## Section\n\n- [ ] Health endpoints answer <!-- check: health -->\n"
# How often a body field bound to a dictionary takes one of its (valid) values; the other
# cases keep what schemathesis generates, so the field is still fuzzed.
VALID_SHARE = 0.7
# Parameters of every operation that has them: half of the writes send `If-Match: *`.
GLOBAL_PARAMETERS = {"header.If-Match": {"dictionary": "any_version", "probability": 0.5}}


def _schemathesis() -> str:
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        message = "schemathesis is not installed (pip install -r ops/requirements.txt)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return st


class Api:
    def __init__(self, base: str):
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body=None, content_type: str = "application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def ok(self, method: str, path: str, expected: int, body=None, content_type: str = "application/json"):
        status, answer = self.call(method, path, body, content_type)
        assert status == expected, f"{method} {path}: {status} {answer!r}"
        return answer

    def created(self, path: str, body, content_type: str = "application/json") -> dict:
        return self.ok("POST", path, 201, body, content_type)

    def checklist(self, name: str, text: str = CHECKLIST) -> dict:
        return self.created("/api/v1/checklists", text.format(name=name).encode(), "text/markdown")

    def service(self, name: str, base_url: str = "https://fuzz.example.com") -> dict:
        return self.created("/api/v1/services", {"name": name, "base_url": base_url})

    def review(self, service: dict, checklist: dict) -> dict:
        return self.created(f"/api/v1/services/{service['id']}/reviews", {"checklist_id": checklist["id"]})

    def user(self, email: str) -> dict:
        return self.created("/api/v1/users", {"email": email, "password": "Fuzz-Password-1234", "role": "viewer"})

    def refresh_tokens(self, count: int) -> list[str]:
        """Refresh tokens of `count` logins of their own (not the fuzzing session's)."""
        return [self.ok("POST", "/api/v1/auth/login", 200, ADMIN)["refresh_token"] for _ in range(count)]


def _key(review: dict) -> str:
    """The key of the review's first item, URL-encoded for a path (keys contain `/`)."""
    return urllib.parse.quote(review["items"][0]["key"], safe="")


def _finished_run(api: Api, service: dict) -> tuple[str, str]:
    """Runs the service's checks and waits for them: (run id, id of one check run)."""
    run = api.ok("POST", f"/api/v1/services/{service['id']}/runs", 202)
    deadline = time.monotonic() + 60
    while True:
        view = api.ok("GET", f"/api/v1/runs/{run['id']}", 200)
        if view["status"] == "finished":
            return run["id"], view["items"][0]["run"]["id"]
        assert time.monotonic() < deadline, view
        time.sleep(0.2)


def _operation_config(api: Api) -> tuple[dict[str, dict], dict[str, list]]:
    """Per operation id, the parameters schemathesis must use; and the dictionaries of valid
    values that body fields draw from. Creates every resource they name."""
    shared_list = api.checklist("Fuzz")
    service = api.service("fuzz-target")
    review = api.review(service, shared_list)
    key = _key(review)
    # Runs go to a service of their own that the fuzzed PATCH never changes, and that probes
    # this instance, so its runs finish quickly.
    runs_service = api.service("fuzz-runs", api.base)
    runs_review = api.review(runs_service, api.checklist("Fuzz runs", AUTOMATED))
    runs_key = _key(runs_review)
    run_id, check_run_id = _finished_run(api, runs_service)
    user = api.user("fuzz-user@example.com")
    token = api.created("/api/v1/me/tokens", {"name": "fuzz", "scopes": ["read"]})
    # Consumed by their operation: a delete, or a new version that changes the item keys.
    doomed_list = api.checklist("Fuzz delete")
    replaced_list = api.checklist("Fuzz replace")
    doomed_service = api.service("fuzz-delete")
    doomed_review = api.review(api.service("fuzz-review-delete"), shared_list)
    doomed_user = api.user("fuzz-delete@example.com")
    # A checklist is attached to a service once (then 409): templates the service has none of.
    attachable = [api.checklist(f"Fuzz attach {n}")["id"] for n in range(3)]

    dictionaries = {
        "attachable_checklists": attachable,
        "admin_email": [ADMIN["email"]],
        # A refresh token works once (reuse revokes its session), logout any number of times.
        "refresh_tokens": api.refresh_tokens(8),
        "logout_tokens": api.refresh_tokens(2),
        # `*` matches any current version: a random If-Match is a 412 before any validation.
        "any_version": ["*"],
    }

    def drawn(name: str) -> dict:
        return {"dictionary": name, "probability": VALID_SHARE}

    operations = {
        # The password always, so that the drawn email is enough for a login that succeeds.
        "login": {"body.email": drawn("admin_email"), "body.password": ADMIN["password"]},
        "refresh_session": {"body.refresh_token": drawn("refresh_tokens")},
        "logout": {"body.refresh_token": drawn("logout_tokens")},
        # Revoking is idempotent: the same token can be revoked by every case.
        "revoke_api_token": {"path.id": token["id"]},
        # Another user than the caller: fuzzing the caller's own password would log it out.
        "get_user": {"path.id": user["id"]},
        "update_user": {"path.id": user["id"]},
        "delete_user": {"path.id": doomed_user["id"]},
        "get_checklist": {"path.id": shared_list["id"]},
        "update_checklist": {"path.id": replaced_list["id"]},
        "delete_checklist": {"path.id": doomed_list["id"]},
        "set_checklist_item_check": {"path.id": shared_list["id"], "path.key": key},
        "get_service": {"path.id": service["id"]},
        "update_service": {"path.id": service["id"]},
        "delete_service": {"path.id": doomed_service["id"]},
        "list_service_reviews": {"path.id": service["id"]},
        "attach_checklist": {"path.id": service["id"], "body.checklist_id": drawn("attachable_checklists")},
        "get_review": {"path.id": review["id"]},
        "delete_review": {"path.id": doomed_review["id"]},
        "get_review_item": {"path.id": review["id"], "path.key": key},
        "act_on_review_item": {"path.id": review["id"], "path.key": key},
        "set_review_item_check": {"path.id": review["id"], "path.key": key},
        "get_review_readiness": {"path.id": review["id"]},
        "get_service_readiness": {"path.id": service["id"]},
        "run_service_checks": {"path.id": runs_service["id"]},
        "run_review_item_check": {"path.id": runs_review["id"], "path.key": runs_key},
        "list_service_check_runs": {"path.id": runs_service["id"]},
        "list_review_item_check_runs": {"path.id": runs_review["id"], "path.key": runs_key},
        "get_run": {"path.id": run_id},
        "get_check_run": {"path.id": check_run_id},
    }
    return operations, dictionaries


def _toml(operations: dict[str, dict], dictionaries: dict[str, list]) -> str:
    def value(v) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    text = "".join(f"[dictionaries.{name}]\nvalues = {value(values)}\n\n" for name, values in dictionaries.items())
    text += "[parameters]\n" + "".join(f"{json.dumps(k)} = {value(v)}\n" for k, v in GLOBAL_PARAMETERS.items()) + "\n"
    for operation_id, params in operations.items():
        text += f"[[operations]]\ninclude-operation-id = {json.dumps(operation_id)}\n"
        text += "parameters = { " + ", ".join(f"{json.dumps(k)} = {value(v)}" for k, v in params.items()) + " }\n\n"
    return text


def _documented(doc: dict) -> list[tuple[str, str, set[int]]]:
    """(method, path template, documented success statuses) of every operation."""
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                success = {int(s) for s in op["responses"] if s.isdigit() and 200 <= int(s) < 400}
                ops.append((method.upper(), path, success))
    return ops


def _statuses(har: Path, ops: list[tuple[str, str, set[int]]]) -> dict[tuple[str, str], collections.Counter]:
    """What each operation got, read from the HAR report (every request and its response)."""
    # A path parameter is one segment (item keys are sent URL-encoded).
    patterns = [
        (method, path, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"))
        for method, path, _ in ops
    ]
    seen: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    for entry in json.loads(har.read_text())["log"]["entries"]:
        request = entry["request"]
        path = urllib.parse.urlsplit(request["url"]).path
        for method, template, pattern in patterns:
            if method == request["method"] and pattern.match(path):
                seen[(method, template)][entry["response"]["status"]] += 1
                break
    return seen


def test_fuzzed_api_has_no_server_error_and_matches_its_document(tmp_path):
    st = _schemathesis()
    binary = preflight_binary()
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite://{tmp_path}/fuzz.db?mode=rwc",
        "DATA_DIR": str(tmp_path),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "warn",
        "LOG_FORMAT": "json",
        # Thousands of requests from one address: the limits would answer most of them.
        "RATE_LIMIT_ENABLED": "false",
    }
    log_path = tmp_path / "serve.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    api = Api(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if api.call("GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        api.token = api.ok("POST", "/api/v1/auth/login", 200, ADMIN)["access_token"]
        operations, dictionaries = _operation_config(api)
        doc = api.ok("GET", "/openapi.json", 200)
        ops = _documented(doc)
        ids = {op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS}
        assert set(operations) <= ids, f"configured for operations the document lacks: {set(operations) - ids}"
        config = tmp_path / "schemathesis.toml"
        config.write_text(_toml(operations, dictionaries))
        har = tmp_path / "report" / "requests.har"
        started = time.monotonic()
        result = subprocess.run(
            [
                st, "--config-file", str(config), "run", f"{api.base}/openapi.json",
                "--header", f"Authorization: Bearer {api.token}",
                "--checks", CHECKS,
                "--max-examples", str(MAX_EXAMPLES),
                "--phases", "examples,coverage,fuzzing",
                # One worker: with two, schemathesis 4.32 sometimes runs an operation's whole
                # fuzzing phase with no case (seen for logout next to login), so what an
                # operation is sent would depend on the scheduling.
                "--workers", "1",
                "--request-timeout", "15",
                "--seed", "12",
                "--no-shrink",
                "--report", "junit,har", "--report-dir", str(tmp_path / "report"),
                "--report-har-path", str(har),
            ],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path,
        )
        output = result.stdout + result.stderr
        cases = re.search(r"(\d+) generated", output)
        print(f"schemathesis: {cases.group(1) if cases else '?'} cases in {time.monotonic() - started:.0f} s")
        assert result.returncode == 0, output[-20000:]
        assert proc.poll() is None, "the service exited during fuzzing:\n" + log_path.read_text()[-5000:]

        seen = _statuses(har, ops)
        report = "\n".join(
            f"  {method} {path}: {dict(sorted(seen[(method, path)].items()))}" for method, path, _ in ops
        )
        unreached = [
            f"{method} {path}" for method, path, success in ops if not success & set(seen[(method, path)])
        ]
        assert not unreached, (
            f"never answered with a documented success status: {unreached}\nstatuses per operation:\n{report}"
        )
        print(f"every one of the {len(ops)} operations succeeded at least once:\n{report}")
        # schemathesis's warnings and summary for the CI log.
        print(output[output.find("=== WARNINGS"):] if "=== WARNINGS" in output else output[-3000:])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
