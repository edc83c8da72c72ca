"""Dockerfile and .dockerignore, checked statically; test_image.py builds and runs the image."""

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


def stage(name: str) -> list[tuple[str, str]]:
    return next(s for s in stages() if s[0][1].endswith(f"AS {name}"))


def test_multi_stage_build_from_rust_to_debian_slim():
    froms = [rest for op, rest in instructions() if op == "FROM"]
    assert len(froms) >= 3
    assert "ARG RUST_IMAGE=rust:1-bookworm" in DOCKERFILE
    assert "ARG RUNTIME_IMAGE=debian:bookworm-slim" in DOCKERFILE
    assert "${RUNTIME_IMAGE} AS runtime-base" in froms
    # The last stage is the default target: the published image, built from source.
    assert froms[-1] == "runtime-base AS runtime"


def test_runtime_and_prebuilt_targets_share_the_runtime_base():
    runtime, prebuilt = stage("runtime"), stage("runtime-prebuilt")
    assert runtime[0][1] == "runtime-base AS runtime" and prebuilt[0][1] == "runtime-base AS runtime-prebuilt"
    # Nothing but the binary differs between them.
    assert runtime[1:] == [("COPY", "--from=builder /out/preflight /usr/local/bin/preflight")]
    assert prebuilt[1:] == [("COPY", "preflight /usr/local/bin/preflight")]


def test_oci_labels_from_build_arguments():
    base = stage("runtime-base")
    labels = " ".join(rest for op, rest in base if op == "LABEL")
    assert 'org.opencontainers.image.source="https://github.com/preflight-dev/preflight"' in labels
    assert 'org.opencontainers.image.revision="${PREFLIGHT_REVISION}"' in labels
    assert 'org.opencontainers.image.version="${PREFLIGHT_VERSION}"' in labels
    args = [rest for op, rest in base if op == "ARG"]
    assert "PREFLIGHT_REVISION=unknown" in args and "PREFLIGHT_VERSION=unknown" in args
    # Declared after everything that takes time, so a new revision invalidates only metadata.
    ops = [op for op, _ in base]
    assert ops.index("ARG") > max(i for i, op in enumerate(ops) if op == "RUN")


def test_dependencies_are_built_before_the_sources_are_copied():
    deps = next(s for s in stages() if s[0][1].endswith("AS deps"))
    copies = [rest for op, rest in deps if op == "COPY"]
    assert all("--from=planner" in c for c in copies), "the deps stage sees manifests only"
    assert any(op == "RUN" and "cargo build --release --locked -p preflight" in rest for op, rest in deps)


def test_release_build_of_the_preflight_package():
    assert DOCKERFILE.count("cargo build --release --locked -p preflight") == 2


def test_runtime_is_non_root_with_healthcheck_and_contract_env():
    runtime = stage("runtime-base")
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
