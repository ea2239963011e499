#!/usr/bin/env bash
# Fetches the official DynamoDB Local emulator, pinned and checksum-verified, into .cache/.
# It comes inside the npm package amplify-dynamodb-simulator (package/emulator/), so the npm
# registry is the only source needed.
set -euo pipefail
PKG=amplify-dynamodb-simulator
VERSION=2.9.30
TGZ_SHA256=3503ffac19f183407909fecdacf4db51ab1fdad1da7b2f177016670b2d80e4b9
JAR_SHA256=454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7
DEST=${1:-.cache/dynamodb-local}

if [ -f "$DEST/DynamoDBLocal.jar" ] && echo "$JAR_SHA256  $DEST/DynamoDBLocal.jar" | sha256sum -c --status; then
  exit 0
fi
command -v java >/dev/null || { echo "Java 17+ is required for DynamoDB Local (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching DynamoDB Local ($PKG@$VERSION from the npm registry)…" >&2
(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null)
echo "$TGZ_SHA256  $tmp/$PKG-$VERSION.tgz" | sha256sum -c --status || { echo "checksum mismatch for $PKG-$VERSION.tgz" >&2; exit 1; }
tar -xzf "$tmp/$PKG-$VERSION.tgz" -C "$tmp"
echo "$JAR_SHA256  $tmp/package/emulator/DynamoDBLocal.jar" | sha256sum -c --status || { echo "checksum mismatch for DynamoDBLocal.jar" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$tmp/package/emulator" "$DEST"
echo "DynamoDB Local ready in $DEST" >&2
