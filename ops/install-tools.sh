#!/usr/bin/env bash
# Installs what the ops tests need; safe to run again (does nothing that is already done).
#   Debian packages: promtool (prometheus), amtool + Alertmanager (prometheus-alertmanager);
#     buildah + mmdebstrap for the container image test (ops/tests/test_image.py): mmdebstrap
#     makes the Debian bookworm base from the Debian archive, buildah builds and runs the image
#     without a Docker engine (rootful, --isolation chroot, so no runc/crun is needed).
#   chromium (Debian's) for the web UI tests, driven by Playwright (ops/tests/test_web_ui.py);
#     npm (when missing) to install axe-core for their accessibility pass.
#   Python packages: ops/requirements.txt (Playwright without its browser download).
#   axe-core from npm into ~/.cache/preflight-axe (or $AXE_CORE_DIR).
# CI calls it before `python -m pytest ops/tests`. Needs root (or sudo) for apt-get.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
packages=(prometheus prometheus-alertmanager buildah mmdebstrap uidmap chromium fonts-dejavu-core fonts-noto-color-emoji)
command -v npm > /dev/null || packages+=(npm)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-tools: apt-get install ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages start their daemons where an init system runs them; the tests start
# their own instances on free ports, so the system ones are not needed (and are not started
# in containers without systemd).

PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 python3 -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

axe_dir="${AXE_CORE_DIR:-${HOME:-/tmp}/.cache/preflight-axe}"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  echo "install-tools: npm install axe-core into $axe_dir"
  npm install --silent --no-audit --no-fund --prefix "$axe_dir" axe-core@4.14.1
fi

for tool in promtool amtool prometheus prometheus-alertmanager buildah mmdebstrap chromium; do
  command -v "$tool" > /dev/null || { echo "install-tools: $tool not found after install" >&2; exit 1; }
done
echo "install-tools: ok ($(promtool --version 2>&1 | head -n1 | cut -d' ' -f1-3); $(amtool --version 2>&1 | head -n1 | cut -d' ' -f1-3); $(buildah --version); mmdebstrap $(mmdebstrap --version | awk '{print $2}'))"
