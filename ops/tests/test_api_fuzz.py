"""API fuzzing: schemathesis against the real binary, authenticated, every operation reached
with ids of resources that exist (issue #12, item 1).

Checks: no server error, and status codes, content types and response bodies as the OpenAPI
document (`/openapi.json`) declares them. Bounded: a fixed number of examples per operation
and a time limit on the whole run, so it takes a few minutes at most. schemathesis comes from
PyPI (ops/requirements.txt); without it the test skips, or fails under CI=true.

    PREFLIGHT_BIN=target/release/preflight python3 -m pytest ops/tests/test_api_fuzz.py -q
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import IN_CI, _free_port, preflight_binary

# Examples per operation and phase, and a limit on the whole run.
MAX_EXAMPLES = int(os.environ.get("PREFLIGHT_FUZZ_EXAMPLES", "12"))
RUN_TIMEOUT_S = int(os.environ.get("PREFLIGHT_FUZZ_TIMEOUT", "420"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


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

    def created(self, path: str, body, content_type: str = "application/json") -> dict:
        status, answer = self.call("POST", path, body, content_type)
        assert status == 201, f"POST {path}: {status} {answer!r}"
        return answer


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
        status, tokens = api.call(
            "POST", "/api/v1/auth/login", {"email": "admin@preflight.local", "password": "preflight-admin"}
        )
        assert status == 200, tokens
        api.token = tokens["access_token"]
        # One of each resource, so operations on an id reach a real one.
        checklist = api.created("/api/v1/checklists", b"# Fuzz\n\n## Section\n\n- [ ] One item\n", "text/markdown")
        service = api.created("/api/v1/services", {"name": "fuzz-target", "base_url": "https://fuzz.example.com"})
        review = api.created(f"/api/v1/services/{service['id']}/reviews", {"checklist_id": checklist["id"]})
        user = api.created(
            "/api/v1/users", {"email": "fuzz-user@example.com", "password": "Fuzz-Password-1234", "role": "viewer"}
        )
        token = api.created("/api/v1/me/tokens", {"name": "fuzz", "scopes": ["read"]})
        item_key = review["items"][0]["key"] if review.get("items") else "section/one-item"
        ids = [
            (r"^/api/v1/checklists/\{id\}", {"path.id": checklist["id"], "path.key": item_key}),
            (r"^/api/v1/services/\{id\}", {"path.id": service["id"]}),
            (r"^/api/v1/reviews/\{id\}", {"path.id": review["id"], "path.key": item_key}),
            # Another user than the caller: fuzzing the caller's own password would log it out.
            (r"^/api/v1/users/\{id\}", {"path.id": user["id"]}),
            (r"^/api/v1/me/tokens/\{id\}", {"path.id": token["id"]}),
        ]
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            "".join(
                f"[[operations]]\ninclude-path-regex = {json.dumps(regex)}\n"
                + "parameters = { "
                + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in params.items())
                + " }\n\n"
                for regex, params in ids
            )
        )
        result = subprocess.run(
            [
                st, "--config-file", str(config), "run", f"{api.base}/openapi.json",
                "--header", f"Authorization: Bearer {api.token}",
                "--checks", CHECKS,
                "--max-examples", str(MAX_EXAMPLES),
                "--phases", "examples,coverage,fuzzing",
                "--workers", "2",
                "--request-timeout", "15",
                "--seed", "12",
                "--no-shrink",
                "--report", "junit", "--report-dir", str(tmp_path / "report"),
            ],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-20000:]
        assert proc.poll() is None, "the service exited during fuzzing:\n" + log_path.read_text()[-5000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
