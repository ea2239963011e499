#!/usr/bin/env bash
# Installs mmdebstrap (Debian's root filesystem builder) if missing: the desktop images' root
# filesystems are built with it, without Docker. Needs root or passwordless sudo.
set -euo pipefail
command -v mmdebstrap >/dev/null && exit 0
echo "installing mmdebstrap (Debian package) to build desktop images"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap; }
if ! install >/tmp/streamspace-apt.log 2>&1; then
  $SUDO apt-get update >>/tmp/streamspace-apt.log 2>&1 || true
  install >>/tmp/streamspace-apt.log 2>&1 || { echo "could not install mmdebstrap (see /tmp/streamspace-apt.log); run: sudo apt-get install -y mmdebstrap" >&2; exit 1; }
fi
