#!/usr/bin/env bash
# Makes a local stand-in for rust:1-bookworm (the Dockerfile's RUST_IMAGE) from the local Debian
# base and this host's Rust toolchain, for `ops/image/build-full.sh --local-bases` where no
# registry can be reached. Prints the image name on stdout.
#
#   rust_image=$(ops/image/make-rust.sh [BASE_IMAGE])     # BASE_IMAGE default: make-base.sh's
#
# The toolchain is the one `rustc` here runs (rustc --print sysroot): bin/, lib/ and libexec/,
# without docs. The host's locally added CA certificates (/usr/local/share/ca-certificates/*.crt)
# go into the builder's trust store, so that cargo reaches crates.io wherever the host does
# (e.g. through a TLS-inspecting proxy); the runtime image never gets them. Cached in
# containers-storage by rustc version, base and those certificates.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${1:-$("$here/make-base.sh")}"
sysroot="$(rustc --print sysroot)"
version="$(rustc --version | awk '{print $2}')"
extra_ca=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_ca[0]}" ] || extra_ca=()
ca_hash="$( (cat "$here/rust.Containerfile" "${extra_ca[@]}") | sha256sum | cut -c1-8)"
name="localhost/preflight-rust:$version-${base##*:}-$ca_hash"
log() { echo "make-rust: $*" >&2; }

if buildah inspect --type image "$name" > /dev/null 2>&1; then
  log "cached: $name"
  echo "$name"
  exit 0
fi

cache="${PREFLIGHT_IMAGE_CACHE:-${HOME:-/root}/.cache/preflight/image}"
mkdir -p "$cache"
context="$(mktemp -d "$cache/rust-context.XXXXXX")"
trap 'rm -rf "$context"' EXIT
mkdir "$context/toolchain" "$context/ca-certificates"
for d in bin lib libexec; do
  [ -d "$sysroot/$d" ] || continue
  # Hard links where the toolchain is on the same filesystem (no copy of ~600 MB), else a copy.
  cp -al "$sysroot/$d" "$context/toolchain/$d" 2> /dev/null || cp -a "$sysroot/$d" "$context/toolchain/$d"
done
[ "${#extra_ca[@]}" -eq 0 ] || cp "${extra_ca[@]}" "$context/ca-certificates/"

start=$(date +%s)
log "rust $version from $sysroot FROM $base"
buildah build --quiet --isolation chroot --format docker \
  --build-arg BASE_IMAGE="$base" \
  --file "$here/rust.Containerfile" \
  --tag "$name" \
  "$context" >&2
log "image: $name in $(( $(date +%s) - start )) s"
echo "$name"
