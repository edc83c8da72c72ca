#!/usr/bin/env bash
# Builds the runtime image around a binary already built on this host (Dockerfile target
# `runtime-prebuilt`), with buildah and a local Debian base: what CI does, without a Docker
# engine, a registry or a second compile of the workspace.
#
#   cargo build --release -p preflight
#   ops/image/build.sh                                   # -> localhost/preflight:prebuilt
#   ops/image/build.sh --binary PATH --tag NAME --base IMAGE
#
#   --binary  default $PREFLIGHT_BIN, else $CARGO_TARGET_DIR/release/preflight (target/ by default)
#   --tag     default localhost/preflight:prebuilt
#   --base    RUNTIME_IMAGE; default: the image ops/image/make-base.sh prints (made or cached)
#
# The build context is a temporary directory holding only the binary, so nothing else of the
# host (target/, .env, data/) can reach a layer. --format docker keeps the HEALTHCHECK.
# Labels: revision from `git rev-parse --short HEAD`, version from `preflight --version`.
# Prints the image name on stdout; progress and timings on stderr. Needs root (rootful buildah).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
binary="${PREFLIGHT_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/preflight}"
tag="localhost/preflight:prebuilt"
base=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--tag NAME] [--base IMAGE]" >&2; exit 2 ;;
  esac
done
log() { echo "build: $*" >&2; }

[ -x "$binary" ] || { log "$binary is not an executable (cargo build --release -p preflight)"; exit 1; }
[ -n "$base" ] || base="$("$here/make-base.sh")"

revision="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
version="$("$binary" --version | awk '{print $2}')"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
install -m 0755 "$binary" "$context/preflight"

start=$(date +%s)
log "buildah build --target runtime-prebuilt FROM $base (revision $revision, version $version)"
buildah build --quiet --isolation chroot --format docker \
  --target runtime-prebuilt \
  --build-arg RUNTIME_IMAGE="$base" \
  --build-arg PREFLIGHT_REVISION="$revision" \
  --build-arg PREFLIGHT_VERSION="$version" \
  --file "$repo/Dockerfile" \
  --tag "$tag" \
  "$context" >&2
log "built $tag in $(( $(date +%s) - start )) s"
echo "$tag"
