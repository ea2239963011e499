#!/usr/bin/env bash
# Init time of each function's real bootstrap under the Lambda Runtime Interface Emulator (no
# Docker): process start → ready for the first event, as the emulator's "INIT REPORT" gives it.
# Built for this machine's architecture (the emulator runs natively); the AWS build is arm64.
# Prints the median of RUNS cold starts per function. Loopback only; every process is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
BIN=.cache/bin
[ -x $BIN/aws-lambda-rie ] || GOBIN=$PWD/$BIN go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# What Lambda would set; DynamoDB points at a closed loopback port: init must not need it.
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=init AWS_SECRET_ACCESS_KEY=init DYNAMODB_ENDPOINT=http://127.0.0.1:9
export TABLE_NAME=t CONNECTIONS_TABLE_NAME=c AUDIT_TABLE_NAME=a JWT_ISSUER=https://issuer.invalid JWT_AUDIENCE=x \
  JWKS_URL=http://127.0.0.1:9/jwks WEBSOCKET_MANAGEMENT_ENDPOINT=http://127.0.0.1:9 RECORDINGS_BUCKET=b \
  ECS_CLUSTER=arn:aws:ecs:us-east-1:123456789012:cluster/c ECS_SECURITY_GROUP=sg-1 ECS_SUBNETS=subnet-1 \
  ECS_EXECUTION_ROLE_ARN=arn:aws:iam::123456789012:role/e ECS_TASK_ROLE_ARN=arn:aws:iam::123456789012:role/t ECS_LOG_GROUP=l \
  SELF_SIGN_UP_EMAIL_DOMAINS=example.com SESSION_ENV_BUCKET_ARN=arn:aws:s3:::env TICKET_KEYS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:k
port=19100
printf '%-12s %8s %s\n' function "init p50" "(ms, $RUNS cold starts; target ≤ 50)"
for f in ${FUNCTIONS:-$(ls functions)}; do
  CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o "$work/$f/bootstrap" ./functions/$f
  event=$(ls events/$f-*.json 2>/dev/null | head -1 || true); event=${event:-events/meta-health.json}
  times=()
  for _ in $(seq "$RUNS"); do
    port=$((port + 2))
    log="$work/$f.log"
    (cd "$work/$f" && timeout 20 "$OLDPWD/$BIN/aws-lambda-rie" --runtime-interface-emulator-address 127.0.0.1:$port \
      --runtime-api-address 127.0.0.1:$((port + 1)) ./bootstrap >"$log" 2>&1) &
    rie=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
    curl -s -m 15 -o /dev/null -XPOST "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" -d @"$event" || true
    kill $rie 2>/dev/null || true; wait $rie 2>/dev/null || true
    t=$(grep -m1 -o 'INIT REPORT(durationMs: [0-9.]*' "$log" | grep -o '[0-9.]*$' || true)
    if grep -q 'INIT RTDONE(status: error)' "$log"; then echo "$f: init failed:"; grep -v '^\s*$' "$log" | tail -5; exit 1; fi
    [ -n "$t" ] && times+=("$t")
  done
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "n/a")}')
  printf '%-12s %8s\n' "$f" "$med"
done
