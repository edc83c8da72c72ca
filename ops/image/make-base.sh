#!/usr/bin/env bash
# Makes a local Debian bookworm base image, the stand-in for debian:bookworm-slim on machines
# that reach the Debian archive but no container registry (CI here: no Docker Hub). Prints the
# image name on stdout; everything else goes to stderr.
#
#   name=$(ops/image/make-base.sh)      # e.g. localhost/preflight-base:bookworm-20250601-3f2a9c1b7d40
#
# How: mmdebstrap --variant=minbase (Essential + apt, as the official images; merged /usr by
# the merged-usr hook, not the usrmerge package, which would pull in perl) with the slim
# images' dpkg excludes (no man pages, docs except copyright, locales) and apt configuration
# (docker-clean: no package caches left by apt-get in a layer), apt sources for
# bookworm, bookworm-updates and bookworm-security, no device nodes, no host resolv.conf or
# hostname; the tarball becomes a one-layer image with `buildah from scratch` + `buildah add`.
#
# Cache: the tarball under $PREFLIGHT_IMAGE_CACHE (default ~/.cache/preflight/image) and the
# image in containers-storage, both keyed by the UTC date and a hash of this script, docker-clean
# and the mirror. The base is rebuilt at most once a day (so security updates are at most a day
# old) and whenever this script changes; other keys' tarballs and images are removed. A lock
# makes concurrent callers wait for one build. SOURCE_DATE_EPOCH is the key's midnight, so the
# tarball is reproducible for a day.
#
# Needs root (mmdebstrap root mode, rootful buildah) and the packages buildah and mmdebstrap
# (ops/install-tools.sh). Mirror: $PREFLIGHT_DEBIAN_MIRROR (default http://deb.debian.org).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PREFLIGHT_IMAGE_CACHE:-${HOME:-/root}/.cache/preflight/image}"
mirror="${PREFLIGHT_DEBIAN_MIRROR:-http://deb.debian.org}"
day="$(date -u +%Y%m%d)"
hash="$( (cat "$here/make-base.sh" "$here/docker-clean"; echo "$mirror") | sha256sum | cut -c1-12)"
key="bookworm-$day-$hash"
repo="localhost/preflight-base"
name="$repo:$key"
tarball="$cache/debian-$key.tar"

log() { echo "make-base: $*" >&2; }
exists() { buildah inspect --type image "$1" > /dev/null 2>&1; }

mkdir -p "$cache"
exec 9> "$cache/base.lock"
flock -w 900 9 || { log "timed out waiting for $cache/base.lock"; exit 1; }

if exists "$name"; then
  log "cached: $name"
  echo "$name"
  exit 0
fi

start=$(date +%s)
if [ ! -s "$tarball" ]; then
  log "mmdebstrap bookworm -> $tarball"
  export SOURCE_DATE_EPOCH
  SOURCE_DATE_EPOCH="$(date -u -d "$day" +%s)"
  partial="$tarball.partial"
  rm -f "$partial"
  # The hooks print even with --quiet: keep it all in a log, shown when mmdebstrap fails.
  # shellcheck disable=SC2016  # "$1" in a hook is the chroot, expanded by mmdebstrap
  mmdebstrap --quiet --variant=minbase --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/linda/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --aptopt='Acquire::Languages "none"' \
    --aptopt='APT::AutoRemove::SuggestsImportant "false"' \
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' \
    --customize-hook="copy-in $here/docker-clean /etc/apt/apt.conf.d" \
    --customize-hook='rm -f "$1"/var/cache/apt/*.bin' \
    bookworm - \
    "deb $mirror/debian bookworm main" \
    "deb $mirror/debian bookworm-updates main" \
    "deb $mirror/debian-security bookworm-security main" \
    2> "$cache/mmdebstrap.log" \
    | mmtarfilter --path-exclude='/dev/*' > "$partial" \
    || { tail -n 40 "$cache/mmdebstrap.log" >&2; log "mmdebstrap failed (log: $cache/mmdebstrap.log)"; exit 1; }
  mv "$partial" "$tarball"
  log "tarball: $(du -h "$tarball" | cut -f1) in $(( $(date +%s) - start )) s"
fi

ctr="$(buildah from --quiet scratch)"
trap 'buildah rm "$ctr" > /dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tarball" / > /dev/null
buildah config \
  --cmd bash \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.title="Debian bookworm minbase, slim (mmdebstrap $day)" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$name" > /dev/null
trap - EXIT
log "image: $name in $(( $(date +%s) - start )) s"

# Other days' bases: their tarballs, and their images once nothing uses them.
find "$cache" -maxdepth 1 -name 'debian-bookworm-*.tar*' ! -name "debian-$key.tar" -delete
for old in $(buildah images --noheading --format '{{.Name}}:{{.Tag}}' | grep "^$repo:" || true); do
  [ "$old" = "$name" ] || buildah rmi "$old" > /dev/null 2>&1 || true
done
echo "$name"
