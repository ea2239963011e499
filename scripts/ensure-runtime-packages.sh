#!/usr/bin/env bash
# Installs the Debian packages the local session runtime and its browser test use, if missing:
# a virtual display, a VNC server, the seeded templates' main applications, headless Chromium,
# and websockify (only the baseline the streaming gateway is benchmarked against). Needs root or passwordless sudo; with
# --optional it only warns (make run still works: sessions then fail, naming this command).
set -euo pipefail
PACKAGES=(xvfb x11vnc websockify firefox-esr chromium xterm)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages for the local session runtime: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" fonts-dejavu-core; }
if ! install >/tmp/streamspace-apt.log 2>&1; then
  # A fresh machine may have stale package lists.
  $SUDO apt-get update >>/tmp/streamspace-apt.log 2>&1 || true
  if ! install >>/tmp/streamspace-apt.log 2>&1; then
    echo "could not install them (see /tmp/streamspace-apt.log); run: sudo apt-get install -y ${missing[*]}" >&2
    [ "${1:-}" = "--optional" ] && exit 0
    exit 1
  fi
fi
