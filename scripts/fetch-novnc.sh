#!/usr/bin/env bash
# Fetches the noVNC browser client the streaming gateway serves, pinned and checksum-verified,
# into .cache/ (npm @novnc/novnc: its ES modules under core/ and vendor/ run as they are), and
# prints that folder.
set -euo pipefail
PKG=@novnc/novnc
VERSION=1.7.0
# sha512 of the tarball as the registry publishes it (dist.integrity), and its SHA-256.
INTEGRITY=sha512-ucEJOx4T2avIRCleodk7YobZj5O2Ga2AeLfQ69A/yjG9HHba2+PDgwSkN3FttrmG+70ZGx21sElNFouK13RzyA==
TGZ_SHA256=32689f18d6abe96bc6530828a6bd0b9ae33bda07c083a6575ed255b5a8f2e903
DEST=${1:-.cache/novnc-$VERSION}

if [ -f "$DEST/core/rfb.js" ] && [ -f "$DEST/.verified" ]; then echo "$DEST"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching the noVNC client ($PKG@$VERSION from the npm registry)…" >&2
(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
echo "$TGZ_SHA256  $tgz" | sha256sum -c --status || { echo "checksum mismatch for $tgz" >&2; exit 1; }
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "integrity mismatch for $tgz" >&2; exit 1; }
tar -xzf "$tgz" -C "$tmp"
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$tmp/package" "$DEST"
touch "$DEST/.verified"
echo "noVNC $VERSION ready in $DEST" >&2
echo "$DEST"
