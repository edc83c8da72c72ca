# syntax=docker/dockerfile:1
#
# preflight container image: a release build of the `preflight` binary on Debian slim.
#
#   docker build -t preflight:local \
#     --build-arg PREFLIGHT_REVISION="$(git rev-parse --short HEAD)" \
#     --build-arg PREFLIGHT_VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)" .
#
# Stages:
#   planner           reduces the workspace to its manifests plus stub sources, so that
#   deps              builds (and caches) every dependency; the layer is reused until a Cargo.toml
#                     or Cargo.lock changes, not on every source edit;
#   builder           builds the real binary on top of the cached dependencies;
#   runtime-base      debian:bookworm-slim with only what the binary needs at run time, the
#                     non-root user, the environment contract, HEALTHCHECK and the OCI labels;
#   runtime-prebuilt  runtime-base plus a binary already built on the host, taken from the build
#                     context (`preflight` at its root); for CI, which has just built and tested
#                     that binary and need not compile the workspace again (ops/image/build.sh);
#   runtime           runtime-base plus the binary from `builder`: the default target, the image
#                     that is published.
# A prebuilt binary must come from a glibc no newer than bookworm's (2.36), e.g. a Debian 12 host.
# BuildKit and buildah build only the stages a target needs; the legacy builder (DOCKER_BUILDKIT=0)
# would build runtime-prebuilt too and fail on its COPY.
# Without Docker Hub (CI here), RUNTIME_IMAGE is a local Debian base made by ops/image/make-base.sh.
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS planner
WORKDIR /src
COPY . .
# Keep only what decides the dependency graph: manifests, the lock file, and stub targets in
# the places cargo expects them (explicitly declared [[bin]]/[[test]]/[[bench]] paths must exist
# or the manifest does not load). The output only changes when that set changes, so the
# COPY --from below hits the cache on ordinary source edits.
RUN find crates -type f ! -name Cargo.toml ! -name '*.rs' -delete \
 && find crates -type f -name '*.rs' | while read -r f; do \
      case "$f" in \
        */src/lib.rs) : > "$f" ;; \
        */src/main.rs|*/src/bin/*|*/build.rs|*/tests/*|*/benches/*|*/examples/*) echo 'fn main() {}' > "$f" ;; \
        *) rm -f "$f" ;; \
      esac; \
    done \
 && find crates -type d -empty -delete

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS deps
WORKDIR /src
COPY --from=planner /src/Cargo.toml /src/Cargo.lock ./
COPY --from=planner /src/crates ./crates
# --locked: the image is built from exactly the versions that CI tested.
RUN cargo build --release --locked -p preflight

# ---------------------------------------------------------------------------------------------
FROM deps AS builder
# Embedded in preflight_build_info{revision}; set from CI (`git rev-parse --short HEAD`).
# Declared after the dependency build so that a new revision does not rebuild dependencies.
ARG PREFLIGHT_REVISION=unknown
ENV PREFLIGHT_REVISION=${PREFLIGHT_REVISION}
COPY . .
# COPY keeps the sources' own mtimes, which can be older than the stub build above; touch them
# so cargo rebuilds the workspace crates instead of shipping the stub binary.
RUN find crates -type f -exec touch {} + \
 && cargo build --release --locked -p preflight \
 && install -D -m 0755 target/release/preflight /out/preflight \
 && /out/preflight --help > /dev/null

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime-base
# ca-certificates: HTTPS probes of monitored services.
# postgresql-client: pg_dump/pg_restore for `preflight backup` / `restore` on PostgreSQL. Debian
# bookworm ships client 15; pg_dump refuses newer servers, so the compose stack runs postgres:15.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 preflight \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin preflight \
 && install -d -o 10001 -g 10001 -m 0750 /data /backups

# Containers must listen on all interfaces (the binary's default is 127.0.0.1). Logs are JSON
# lines for Loki. Secrets are never baked in: they come from the environment or *_FILE.
ENV ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    BACKUP_DIR=/backups \
    LOG_FORMAT=json \
    LOG_LEVEL=info

# Directories are created owned by uid 10001 above, so fresh named volumes inherit that owner.
# The process can write there and in /tmp (scratch space of `backup verify` and `restore`;
# Kubernetes mounts an emptyDir there and makes the rest of the filesystem read-only).
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000

# The binary checks itself: no curl/wget in the image. (buildah keeps HEALTHCHECK only with
# --format docker; the OCI image format has no field for it.)
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["preflight", "healthcheck"]

CMD ["preflight", "serve"]

# Declared last, so that a new revision rebuilds nothing above. Set from CI.
ARG RUNTIME_IMAGE
ARG PREFLIGHT_REVISION=unknown
ARG PREFLIGHT_VERSION=unknown
LABEL org.opencontainers.image.title="preflight" \
      org.opencontainers.image.description="Production-readiness checklists made executable" \
      org.opencontainers.image.source="https://github.com/preflight-dev/preflight" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${PREFLIGHT_REVISION}" \
      org.opencontainers.image.version="${PREFLIGHT_VERSION}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

# ---------------------------------------------------------------------------------------------
FROM runtime-base AS runtime-prebuilt
# The build context is a directory holding just the binary, mode 0755 (ops/image/build.sh).
COPY preflight /usr/local/bin/preflight

# ---------------------------------------------------------------------------------------------
FROM runtime-base AS runtime
COPY --from=builder /out/preflight /usr/local/bin/preflight
