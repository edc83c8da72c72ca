#!/usr/bin/env bash
# The full multi-stage build of the Dockerfile (planner -> deps -> builder -> runtime): the image
# that is published, compiled inside the build. Opt-in: CI builds `runtime-prebuilt` around the
# binary it has just tested instead (ops/image/build.sh), so the workspace is compiled once.
#
#   ops/image/build-full.sh                 # FROM rust:1-bookworm and debian:bookworm-slim: needs a registry
#   ops/image/build-full.sh --local-bases   # no registry: the runtime base from make-base.sh (mmdebstrap) and
#                                           # a stand-in for rust:1-bookworm made from this host's toolchain
#                                           # (make-rust.sh); crates still come from crates.io
#   ops/image/build-full.sh --tag NAME      # default localhost/preflight:full
#   ops/image/build-full.sh --no-cache      # ignore cached layers (a cold build, for timing)
#   ops/image/build-full.sh --worktree      # build the working tree as it is, not the commit
#   ops/image/build-full.sh --file PATH     # another Dockerfile (default: the context's own)
#
# The build context is `git archive HEAD` (filtered by the .dockerignore in it), so the image holds
# exactly the commit its revision label names, whatever is being edited in the working tree.
# buildah --layers caches each step like `docker build`, so a second build after a source edit
# reuses the deps layer. Cached layers are untagged images: `buildah rmi --prune` removes them.
# Prints the image name on stdout; progress and the time taken on stderr. Needs root (rootful
# buildah). With a Docker engine, `docker build .` does the same (see the Dockerfile's header).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tag="localhost/preflight:full"
local_bases=false
worktree=false
dockerfile=""
cache_args=(--layers)
while [ $# -gt 0 ]; do
  case "$1" in
    --local-bases) local_bases=true; shift ;;
    --tag) tag="$2"; shift 2 ;;
    --no-cache) cache_args=(--layers --no-cache); shift ;;
    --worktree) worktree=true; shift ;;
    --file) dockerfile="$(realpath "$2")"; shift 2 ;;
    *) echo "usage: $0 [--local-bases] [--tag NAME] [--no-cache] [--worktree] [--file PATH]" >&2; exit 2 ;;
  esac
done
log() { echo "build-full: $*" >&2; }

args=()
if $local_bases; then
  t0=$(date +%s)
  runtime_image="$("$here/make-base.sh")"
  rust_image="$("$here/make-rust.sh" "$runtime_image")"
  log "local bases ready in $(( $(date +%s) - t0 )) s: RUNTIME_IMAGE=$runtime_image RUST_IMAGE=$rust_image"
  args+=(--build-arg RUNTIME_IMAGE="$runtime_image" --build-arg RUST_IMAGE="$rust_image")
fi

context="$repo"
if ! $worktree && git -C "$repo" rev-parse --verify -q HEAD > /dev/null; then
  revision="$(git -C "$repo" rev-parse --short HEAD)"
  context="$(mktemp -d)"
  trap 'rm -rf "$context"' EXIT
  git -C "$repo" archive --format=tar "$revision" | tar -x -C "$context"
else
  revision="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  $worktree && revision="$revision-worktree"
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$context/Cargo.toml" | head -n1)"

start=$(date +%s)
log "buildah build (full, target runtime) revision $revision version $version"
buildah build --isolation chroot --format docker --force-rm "${cache_args[@]}" \
  "${args[@]}" \
  --build-arg PREFLIGHT_REVISION="$revision" \
  --build-arg PREFLIGHT_VERSION="$version" \
  --file "${dockerfile:-$context/Dockerfile}" \
  --tag "$tag" \
  "$context" >&2
log "built $tag in $(( $(date +%s) - start )) s"
echo "$tag"
