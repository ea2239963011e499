#!/usr/bin/env bash
# Runs a command with one shared in-memory DynamoDB Local (DYNAMODB_ENDPOINT exported); tests
# isolate themselves with their own table prefixes. The emulator stops when the command ends.
set -euo pipefail
DIR=${DYNAMODB_LOCAL_DIR:?set DYNAMODB_LOCAL_DIR}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
java -Xmx1g -Djava.library.path="$DIR/DynamoDBLocal_lib" -jar "$DIR/DynamoDBLocal.jar" \
  -port "$PORT" -inMemory -disableTelemetry >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then break; fi
  kill -0 $pid 2>/dev/null || { echo "DynamoDB Local failed to start" >&2; exit 1; }
  sleep 0.1
done
export DYNAMODB_ENDPOINT=http://127.0.0.1:$PORT
"$@"
