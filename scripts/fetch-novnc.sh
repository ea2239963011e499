#!/usr/bin/env bash
# Fetches the noVNC client the streaming gateway serves (NOVNC_DIR): npm @novnc/novnc, pinned,
# checked against the integrity the npm registry published for that version, into .cache/.
# Prints the folder (the package's core/ and vendor/).
set -euo pipefail
VERSION=1.7.0
INTEGRITY=sha512-ucEJOx4T2avIRCleodk7YobZj5O2Ga2AeLfQ69A/yjG9HHba2+PDgwSkN3FttrmG+70ZGx21sElNFouK13RzyA==
DEST=${1:-.cache/novnc/$VERSION}

if [ -d "$DEST" ] && [ "$(cat "$DEST.integrity" 2>/dev/null)" = "$INTEGRITY" ]; then
  echo "$DEST"; exit 0
fi
command -v openssl >/dev/null || { echo "openssl is needed to check noVNC's integrity (apt-get install openssl)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching noVNC (@novnc/novnc@$VERSION from the npm registry)…" >&2
(cd "$tmp" && npm pack --silent "@novnc/novnc@$VERSION" >/dev/null)
got="sha512-$(openssl dgst -sha512 -binary "$tmp/novnc-novnc-$VERSION.tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "integrity mismatch for @novnc/novnc@$VERSION: got $got" >&2; exit 1; }
tar -xzf "$tmp/novnc-novnc-$VERSION.tgz" -C "$tmp"
rm -rf "$DEST" "$DEST.integrity"
mkdir -p "$(dirname "$DEST")"
mv "$tmp/package" "$DEST"
echo "$INTEGRITY" > "$DEST.integrity"
echo "$DEST"
