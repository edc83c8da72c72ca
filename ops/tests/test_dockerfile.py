"""Dockerfile and .dockerignore, checked statically (no Docker engine on the test machines)."""

from __future__ import annotations

import re

from conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
IGNORE = (REPO / ".dockerignore").read_text().split()


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result = []
    for op, rest in instructions():
        if op == "FROM":
            result.append([])
        if result:
            result[-1].append((op, rest))
    return result


def test_multi_stage_build_from_rust_to_debian_slim():
    froms = [rest for op, rest in instructions() if op == "FROM"]
    assert len(froms) >= 3
    assert "ARG RUST_IMAGE=rust:1-bookworm" in DOCKERFILE
    assert "ARG RUNTIME_IMAGE=debian:bookworm-slim" in DOCKERFILE
    assert froms[-1].startswith("${RUNTIME_IMAGE}")


def test_dependencies_are_built_before_the_sources_are_copied():
    deps = next(s for s in stages() if s[0][1].endswith("AS deps"))
    copies = [rest for op, rest in deps if op == "COPY"]
    assert all("--from=planner" in c for c in copies), "the deps stage sees manifests only"
    assert any(op == "RUN" and "cargo build --release --locked -p preflight" in rest for op, rest in deps)


def test_release_build_of_the_preflight_package():
    assert DOCKERFILE.count("cargo build --release --locked -p preflight") == 2


def test_runtime_is_non_root_with_healthcheck_and_contract_env():
    runtime = stages()[-1]
    ops = dict((op, rest) for op, rest in runtime)
    assert ops["USER"] == "10001:10001"
    assert ops["HEALTHCHECK"].endswith('CMD ["preflight", "healthcheck"]')
    assert ops["EXPOSE"] == "8000"
    assert ops["CMD"] == '["preflight", "serve"]'
    env = " ".join(rest for op, rest in runtime if op == "ENV")
    for needed in ("HOST=0.0.0.0", "PORT=8000", "DATA_DIR=/data", "LOG_FORMAT=json"):
        assert needed in env
    assert 'VOLUME ["/data"]' in DOCKERFILE
    run = " ".join(rest for op, rest in runtime if op == "RUN")
    assert "ca-certificates" in run and "postgresql-client" in run
    assert "--no-install-recommends" in run and "rm -rf /var/lib/apt/lists" in run
    assert "--uid 10001" in run


def test_no_secrets_in_the_image():
    for op, rest in instructions():
        if op in ("ENV", "ARG"):
            assert not re.search(r"(SECRET|PASSWORD|TOKEN|ENCRYPTION_KEY)", rest), rest


def test_dockerignore_keeps_state_and_secrets_out():
    for pattern in ("target/", "data/", ".env", ".git/"):
        assert pattern in IGNORE, pattern
